"""``latentswap demo``: the whole product on the embedded default, with the installed package and ../shared only.

A 1920x1080 half-float ACEScg plate of one real person (biden2.jpg) moving, turning and changing scale is
rendered, tracked, and extracted into the dst faceset; photographs of another real person (obama*.jpg) make
the src faceset. A small model trains for a few minutes in TAEF2's latent space, then the shot is swapped into
compositing-ready EXRs, and a contact sheet, a preview movie, the loss plot and an evaluation report are written
beside them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from latentswap_core import color
from latentswap_core.demo import shot as shots
from latentswap_core.errors import LatentSwapError
from latentswap_core.io import Image, atomic_path, read_image, write_image

DST_PHOTO = "biden2"
SRC_PHOTOS = ("obama", "obama2", "obama3")
FIRST_FRAME = 1001
PLATE_SPACE = shots.PLATE_COLORSPACE
CONSENT = "demo: public-domain photographs from ../shared/data/faces"
SHEET_FRAMES = 4
SHEET_TILE = 360  # px per tile of the contact sheet
MOVIE_SIZE = (960, 540)  # each half of the side-by-side preview
MOVIE_FPS = 24


@dataclass(frozen=True)
class DemoOptions:
    output: Path
    shared: Path
    frames: int = 48
    resolution: int = 128
    minutes: float = 4.0
    seed: int = 0


@dataclass
class DemoResult:
    plate: str
    swap: str
    model: Path
    contact_sheet: Path
    movie: Path
    loss_plot: Path
    seconds: dict[str, float]
    report: Path
    evaluation: list[str]


def default_shared() -> Path:
    """$LATENTSWAP_SHARED, else the ``shared`` folder beside this checkout."""
    explicit = os.environ.get("LATENTSWAP_SHARED")
    return Path(explicit) if explicit else Path(__file__).resolve().parents[3] / "shared"


def check_shared(shared: Path) -> None:
    needed = [shared / "models" / "taef2", *(shared / "data" / "faces" / f"{n}.jpg" for n in (DST_PHOTO, *SRC_PHOTOS))]
    missing = [str(path) for path in needed if not path.exists()]
    if missing:
        raise LatentSwapError(f"the demo needs the shared material: {missing[0]} is missing; pass --shared FOLDER "
                              "(the folder holding models/ and data/) or set LATENTSWAP_SHARED")


def run_demo(options: DemoOptions, say: Callable[[str], None] = print) -> DemoResult:
    """Run every stage, ``say``-ing what happens; returns where everything is."""
    from latentswap_core.evaluate import EvalOptions, evaluate_shot, summary_lines, write_report
    from latentswap_core.extract import ExtractOptions, extract_faceset, faceset_from_photos
    from latentswap_core.io import open_source
    from latentswap_core.swap import Swapper
    from latentswap_core.swap.render import RenderOptions, render_shot
    from latentswap_core.track import TrackOptions, track_source, write_track_file
    from latentswap_core.train import Trainer, TrainOptions

    check_shared(options.shared)
    os.environ.setdefault("LATENTSWAP_MODELS", str(options.shared / "models"))
    out = options.output
    if out.exists() and any(out.iterdir()):
        raise LatentSwapError(f"{out} is not empty: give a new folder for the demo")
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = now - clock
        clock = now

    say(f"1/7 plate: {options.frames} frames of {DST_PHOTO}.jpg moving, 1920x1080 half-float {PLATE_SPACE} EXR")
    plate = write_plate(out / "plate", options)
    lap("plate")

    say("2/7 track: faces, 478 landmarks and track ids over the shot")
    source = open_source(plate)
    track = track_source(source, TrackOptions(face_type="whole_face"))
    write_track_file(out / "plate.track.json", track)
    lap("track")

    say(f"3/7 facesets: dst from the plate, src from {', '.join(n + '.jpg' for n in SRC_PHOTOS)}")
    extract = ExtractOptions(size=options.resolution)
    extract_faceset(source, [(entry.frame, entry.faces) for entry in track.frames], out / "facesets" / "dst",
                    extract)
    faceset_from_photos([options.shared / "data" / "faces" / f"{name}.jpg" for name in SRC_PHOTOS],
                        out / "facesets" / "src", extract)
    lap("facesets")

    say(f"4/7 train: {options.minutes:g} minutes at {options.resolution} px in TAEF2 latent space")
    trainer = Trainer(TrainOptions(out / "facesets" / "src", out / "facesets" / "dst", out / "model",
                                   resolution=options.resolution, minutes=options.minutes, consent=CONSENT,
                                   src_name="obama", dst_name="biden", preview_every=100, save_every=200,
                                   augment=True, augment_refresh=200, seed=options.seed))  # 3 src photos
    result = trainer.run()
    say(f"    {result.step} steps, loss {result.history[-1]['loss']:.4f}" if result.history else "    no step")
    lap("train")

    say("5/7 swap: align, swap, colour-match (rct), blend, write EXRs with face, mask and grain layers")
    (out / "swap").mkdir()
    swap = str(out / "swap" / "swap.####.exr")
    render_shot(source, swap, Swapper(out / "model", "cpu"), track, RenderOptions(mask_blur=12.0))
    lap("swap")

    say("6/7 review: contact sheet, preview movie, loss plot")
    sheet = write_contact_sheet(plate, swap, list(source.frames), track, out / "contact_sheet.png")
    movie = write_movie(plate, swap, list(source.frames), out / "preview")
    lap("review")

    say("7/7 evaluate: identity, pose, expression, fidelity and stability of the swap")
    evaluation = evaluate_shot(source, open_source(swap), EvalOptions(target=out / "facesets" / "src",
                                                                      source=out / "facesets" / "dst"),
                               plate_track=track)
    summary = write_report(evaluation, out / "report", {"plate": plate, "swapped": swap, "model": str(out / "model")})
    lap("evaluate")
    return DemoResult(plate, swap, out / "model", sheet, movie, out / "model" / "losses.png", seconds,
                      out / "report" / "index.html", summary_lines(summary))


def write_plate(folder: Path, options: DemoOptions) -> str:
    """The shot as EXRs: display-referred renders converted to ACEScg, half float, as a camera plate would be."""
    folder.mkdir(parents=True)
    photo = shots.load_photo(DST_PHOTO, options.shared)
    poses = [[pose] for pose in shots.moving_poses(options.frames, options.seed)]
    shot = shots.render_shot([photo], poses, shots.drifting_gains(options.frames), noise_sigma=2.0, seed=options.seed)
    return shots.write_exr_plate(shot.frames, folder, FIRST_FRAME)


def _display(pixels: np.ndarray) -> np.ndarray:
    """ACEScg -> sRGB uint8 for review images."""
    return color.to_working_8bit(pixels, PLATE_SPACE)


def _frame_path(pattern: str, frame: int) -> Path:
    return Path(pattern.replace("####", f"{frame:04d}"))


def write_contact_sheet(plate: str, swap: str, frames: list[int], track, path: Path) -> Path:
    """Rows: a few frames; columns: plate, swap and mask, zoomed on the face."""
    picks = [frames[round(i * (len(frames) - 1) / (SHEET_FRAMES - 1))] for i in range(SHEET_FRAMES)]
    rows = []
    for frame in picks:
        swapped = read_image(_frame_path(swap, frame))
        original = read_image(_frame_path(plate, frame)).pixels
        faces = track.faces_at(frame)
        box = _face_box(faces[0].bbox if faces else None, original.shape)
        y0, y1, x0, x1 = box
        mask = (np.clip(swapped.channel("lsmask.Y")[y0:y1, x0:x1], 0, 1) * 255 + 0.5).astype(np.uint8)
        tiles = [_display(original[y0:y1, x0:x1]), _display(swapped.pixels[y0:y1, x0:x1]),
                 np.repeat(mask[:, :, None], 3, axis=2)]
        rows.append(np.concatenate([cv2.resize(t, (SHEET_TILE, SHEET_TILE), interpolation=cv2.INTER_AREA)
                                    for t in tiles], axis=1))
    write_image(path, Image(np.concatenate(rows, axis=0), ("R", "G", "B")), "uint8")
    return path


def _face_box(bbox, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A square around the face (1.6 times its box), inside the frame; the frame's centre without a face."""
    height, width = shape[:2]
    if bbox is None:
        side = min(height, width) // 2
        cx, cy = width / 2, height / 2
    else:
        x0, y0, x1, y1 = bbox
        side = int(1.6 * max(x1 - x0, y1 - y0))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side = min(side, height, width)
    x0 = int(np.clip(cx - side / 2, 0, width - side))
    y0 = int(np.clip(cy - side / 2, 0, height - side))
    return y0, y0 + side, x0, x0 + side


def write_movie(plate: str, swap: str, frames: list[int], stem: Path) -> Path:
    """Plate and swap side by side, as an mp4 (or a gif where OpenCV cannot write mp4)."""
    pictures = []
    for frame in frames:
        halves = [cv2.resize(_display(read_image(_frame_path(p, frame)).pixels), MOVIE_SIZE,
                             interpolation=cv2.INTER_AREA) for p in (plate, swap)]
        pictures.append(np.concatenate(halves, axis=1))
    size = (2 * MOVIE_SIZE[0], MOVIE_SIZE[1])
    path = stem.with_suffix(".mp4")
    try:
        with atomic_path(path) as temporary:
            writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter.fourcc(*"mp4v"), MOVIE_FPS, size)
            if not writer.isOpened():
                raise OSError("OpenCV cannot write mp4 here")
            for picture in pictures:
                writer.write(np.ascontiguousarray(picture[:, :, ::-1]))
            writer.release()
        return path
    except OSError:
        pass
    from PIL import Image as PILImage

    path = stem.with_suffix(".gif")
    small = [PILImage.fromarray(p).resize((size[0] // 2, size[1] // 2)) for p in pictures]
    with atomic_path(path) as temporary:
        small[0].save(temporary, save_all=True, append_images=small[1:], duration=1000 // MOVIE_FPS, loop=0)
    return path
