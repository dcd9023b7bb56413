"""Swap quality on real footage, in one table: a self-reconstruction with a ground truth, and cross-identity swaps.

The clip is ../shared/data/video/short_hamilton_clip.mp4 (see its SOURCES.md): the singer faces the camera at
frames 83-211, with a microphone and hands in front of his mouth at times.

  self   src = the singer's faces at frames 79-145, dst = his faces at 146-211; the model swaps 146-211 back to
         him, so the plate is the ground truth for poses the model never saw as src (face SSIM, PSNR, grid, detail).
  cross  the singer onto photos of another person (../shared/data/faces/obama*.jpg), and that person onto the
         singer's frames 146-211: identity distance to the target, pose error, grid, detail.

Every run goes through the ``latentswap`` command line as a user would (track, extract, train --minutes, swap,
eval) with fixed budgets, and its ``eval`` figures go into one table (markdown, and JSON beside it). The codec grid
figure is ``eval``'s ``grid_ratio``: the swapped face's spectral power at the codec's 8-px period over the plate
face's own (``latentswap_core.evaluate.metrics.grid_energy``; 1: no grid added). Detail is ``detail_ratio``: the
swap's mean Laplacian in the face over the plate's (1: as sharp, below 1: blurred). Each case also writes a contact
sheet: plate | swap | 4x difference, for eight frames spread over the swapped range.

``--variants`` trains the self and cross cases once per training recipe (``VARIANTS``: extra ``train`` arguments)
at the same budget; ``--refine DIR`` adds the self case swapped again through a refiner. ``--references`` adds the
self case swapped with references in place of the model's face (reference_swap.py): the plate face itself (what the
pipeline costs), its codec round trip (what the codec costs) and the model's dst decoder on the faces it trained on
(the model reconstructing what it saw, where the swap renders poses its src decoder never saw).

On a machine without the face detector (mediapipe) or dlib, such as an offline GPU machine: ``--tracks DIR`` reuses
the clip's track file kept there by an earlier run, and ``--train-only`` trains the models and stops; the same
command without ``--train-only``, with the same ``--work`` holding those models, then swaps and evaluates them
elsewhere (the "trained_on" column names the device that trained each model). tools/gpu_session.sh does this.

Run:  .venv/bin/python benchmarks/real_quality.py --quick              (CPU, 128 px, 4 minutes per model)
      .venv/bin/python benchmarks/real_quality.py --device cuda        (256 and 512 px, 5 minutes per model)
      .venv/bin/python benchmarks/real_quality.py --quick --cases self --variants default,pixel8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from arguments import seed_list
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LATENTSWAP_SHARED", REPO.parent / "shared"))
CLIP = SHARED / "data" / "video" / "short_hamilton_clip.mp4"
PHOTOS = sorted((SHARED / "data" / "faces").glob("obama*.jpg"))
SRC_FRAMES, DST_FRAMES = "79-145", "146-211"
SINGER_SHOT = (83, 211)
# hand-drawn mattes of the microphone and hands (tests/data/hamilton_occluders/polygons.json says how)
OCCLUDERS = REPO / "tests" / "data" / "hamilton_occluders"
OCCLUSION_TRAIN, OCCLUSION_TEST = (99, 131, 147, 171, 195), (115, 139, 163, 187, 203)
TRAINED_ON = "benchmark_trained_on.txt"  # in a model folder: the device that trained it

# Training recipes compared on the self case: extra `latentswap train` arguments (documented in docs/training.md)
VARIANTS: dict[str, list[str]] = {
    "default": [],
    "pixel8": ["--pixel-loss-every", "8"],
    "pixel4x2": ["--pixel-loss-every", "4", "--pixel-loss-samples", "2"],
    "no-response": ["--no-decoder-response"],
    "augment": ["--augment"],
    "medium": ["--preset", "medium"],
    "liae": ["--layout", "liae"],
    "no-vq": ["--no-vq"],
    "liae-no-vq": ["--layout", "liae", "--no-vq"],
    "true-face": ["--true-face-power", "0.1"],
    "true-face-seed1": ["--true-face-power", "0.1", "--seed", "1"],
    "seed1": ["--seed", "1"],
    "true-face-0.03": ["--true-face-power", "0.03"],
}


def latentswap(*args: object, log: Path, runner: list[str] | None = None) -> None:
    """``latentswap ARGS`` (``runner``: another front for the same arguments, e.g. reference_swap.py MODE), its
    output appended to ``log``."""
    command = [sys.executable, *(runner or ["-m", "latentswap_core"]), *map(str, args)]
    with log.open("a") as out:
        out.write("$ " + " ".join(command[1:] if runner else command[2:]) + "\n")
        out.flush()
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        sys.exit(f"latentswap {args[0]} failed (exit {done.returncode}); see {log}")


def occlusion_trained(model: Path) -> dict[str, Any]:
    """What an occlusion model folder says it was trained on ({} when it holds none)."""
    from latentswap_core.models.occlusion_store import CONFIG_FILE

    card = model / CONFIG_FILE
    return dict(json.loads(card.read_text())["trained"]) if card.is_file() else {}


def singer(track_file: Path) -> int:
    """The person with the most faces in the singer's shot."""
    document = json.loads(track_file.read_text())
    counts: dict[int, int] = {}
    for entry in document["frames"]:
        if SINGER_SHOT[0] <= entry["frame"] <= SINGER_SHOT[1]:
            for face in entry["faces"]:
                counts[face["person"]] = counts.get(face["person"], 0) + 1
    return max(counts, key=lambda person: counts[person])


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return f"{torch.cuda.get_device_name()} ({device})"
    return f"{cpu_model()} (cpu)"


def trained_on(model: Path) -> str:
    """The device the model was trained on, as this benchmark noted it (a model may be trained on a GPU machine and
    swapped and evaluated on another, with ``--train-only`` there)."""
    note = model / TRAINED_ON
    return note.read_text().strip() if note.is_file() else "n/a"


def train_steps(model: Path) -> int:
    state = model / "trainer.json"
    return int(json.loads(state.read_text())["step"]) if state.is_file() else -1


def contact_sheet(plate: str, swapped: str, track_file: Path, frames: list[int], path: Path, size: int = 160) -> None:
    """plate | swap | 4x |difference| of the face, one row per frame."""
    from latentswap_core import color
    from latentswap_core.align import alignment_transform, from_data_window, warp_to_aligned
    from latentswap_core.io import open_source
    from latentswap_core.track.trackfile import read_track_file

    track = read_track_file(track_file)
    rows = []
    plate_source, swapped_source = open_source(plate), open_source(swapped)
    space = color.default_colorspace(plate_source.read(plate_source.frames[0]).pixels.dtype)  # the swap's too
    try:
        for frame in frames:
            faces = [face for face in track.faces_at(frame) if face.landmarks_reliable]
            if not faces or frame not in swapped_source.frames:
                continue
            face = max(faces, key=lambda f: np.ptp(f.landmarks, axis=0).max())
            crops = []
            for source in (plate_source, swapped_source):
                image = source.read(frame)
                rgb = np.clip(color.working_rgb(image, space, None), 0, 1).astype(np.float32)
                to_aligned = from_data_window(alignment_transform(face.landmarks, "whole_face"), image.data_offset)
                crops.append(warp_to_aligned(rgb, to_aligned, size))
            crops = [np.clip(crop, 0, 1) for crop in crops]  # cubic warps overshoot
            difference = np.clip(np.abs(crops[1] - crops[0]) * 4, 0, 1)
            row = (np.concatenate([crops[0], crops[1], difference], axis=1) * 255 + 0.5).astype(np.uint8)
            cv2.putText(row, str(frame), (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1)
            rows.append(row)
    finally:
        plate_source.close()
        swapped_source.close()
    if rows:
        sheet = np.concatenate(rows, axis=0)
        cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


def figures(report: Path) -> dict[str, float | None]:
    metrics = json.loads((report / "summary.json").read_text())["metrics"]

    def mean(key: str) -> float | None:
        value = metrics.get(key, {}).get("mean")
        return None if value is None else round(float(value), 4)

    return {key: mean(key) for key in ("ssim", "psnr", "pose_error", "flicker", "identity_to_target", "grid_ratio",
                                       "grid_plate", "detail_ratio")}


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = Path(args.work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.log = self.work / "commands.log"
        self.rows: list[dict[str, object]] = []
        self.occlusion_rows: list[dict[str, object]] = []

    def prepare(self, resolution: int, photos_too: bool) -> dict[str, Path]:
        w = self.work
        track = w / "track.json"
        kept = Path(self.args.tracks) / "real_quality_clip.track.json" if self.args.tracks else None
        if not track.is_file() and kept is not None and kept.is_file():
            shutil.copyfile(kept, track)
        if not track.is_file():  # needs the face detector (mediapipe)
            latentswap("track", CLIP, "-o", track, log=self.log)
        if kept is not None and not kept.is_file():
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(track, kept)
        person = singer(track)
        sets = {"track": track, "person": Path(str(person))}
        for name, frames in (("singer_a", SRC_FRAMES), ("singer_b", DST_FRAMES)):
            folder = w / f"{name}_{resolution}"
            if not (folder / "faceset.json").is_file():
                latentswap("extract", CLIP, "-o", folder, "--track", track, "--person", person, "--frames", frames,
                           "--size", resolution, log=self.log)
            sets[name] = folder
        if not photos_too:
            return sets
        photos = w / "photos"
        if not photos.is_dir():  # one size for all (eval compares a sequence): each fitted into 960x1200, padded
            photos.mkdir()
            for index, path in enumerate(PHOTOS, 1):
                image = cv2.imread(str(path))
                scale = min(960 / image.shape[1], 1200 / image.shape[0])
                image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                canvas = np.zeros((1200, 960, 3), np.uint8)
                top, left = (1200 - image.shape[0]) // 2, (960 - image.shape[1]) // 2
                canvas[top:top + image.shape[0], left:left + image.shape[1]] = image
                cv2.imwrite(str(photos / f"photo.{index:04d}.png"), canvas)
        sets["photos"] = photos
        folder = w / f"photos_{resolution}"
        if not (folder / "faceset.json").is_file():
            latentswap("extract", photos, "-o", folder, "--size", resolution, log=self.log)
        sets["photos_set"] = folder
        return sets

    def run_case(self, case: str, variant: str, resolution: int, minutes: float, src: Path, dst: Path, plate: Path,
                 frames: str | None, target: list[object], track: Path | None, person: str | None,
                 refine: str | None = None) -> None:
        name = f"{case}-{variant}-{resolution}" + ("-refined" if refine else "")
        model = self.work / f"model-{case}-{variant}-{resolution}"
        if not (model / "model").is_dir():
            latentswap("train", "--src", src, "--dst", dst, "-o", model, "--minutes", minutes, "--resolution",
                       resolution, "--device", self.args.device, "--preview-every", 0, "--save-every", 0,
                       *VARIANTS[variant], log=self.log)
            (model / TRAINED_ON).write_text(device_name(self.args.device) + "\n")
        if self.args.train_only:  # the rest (swap, eval: the face detector, dlib) runs where they are installed
            row = {"case": case, "variant": variant, "px": resolution, "minutes": minutes, "steps": train_steps(model),
                   "trained_on": trained_on(model), "model": str(model)}
            self.rows.append(row)
            print(json.dumps(row), flush=True)
            return
        self.judge(name, case, variant, resolution, minutes, model, plate, frames, target, track, person,
                   [] if refine is None else ["--refine", refine], refined=bool(refine))

    def run_references(self, resolution: int, minutes: float, track: Path, person: str, target: list[object],
                       variant: str) -> None:
        """The self case's swap with its face replaced by each of reference_swap.py's references (the plate face,
        its codec round trip, the dst decoder's reconstruction), through the same swap options, eval and sheet."""
        model = self.work / f"model-self-{variant}-{resolution}"
        for mode in ("plate", "codec", "dst"):
            self.judge(f"self-reference-{mode}-{resolution}", "self", f"reference: {mode}", resolution, minutes,
                       model, CLIP, DST_FRAMES, target, track, person, [],
                       runner=[str(REPO / "benchmarks" / "reference_swap.py"), mode])

    def judge(self, name: str, case: str, variant: str, resolution: int, minutes: float, model: Path, plate: Path,
              frames: str | None, target: list[object], track: Path | None, person: str | None,
              extra: list[object], refined: bool = False, runner: list[str] | None = None) -> None:
        """Swap ``plate`` with ``model`` (``runner``: the front the swap runs through), evaluate it, draw its sheet
        and add its row."""
        out = self.work / name
        pattern = str(out / "swap.####.exr")
        picks = [] if frames is None else ["--frames", frames]
        faces = [] if person is None else ["--track", track, "--person", person]
        began = time.perf_counter()
        latentswap("swap", plate, "--model", model, "-o", pattern, *picks, *faces, "--device", self.args.device,
                   *extra, log=self.log, runner=runner)
        swap_seconds = time.perf_counter() - began
        report = self.work / f"{name}-eval"
        latentswap("eval", "--plate", plate, "--swapped", pattern, *target, *picks, *faces, "-o", report,
                   log=self.log)
        sheet_track = track if track is not None else self.work / f"{name}-plate-track.json"
        if track is None:
            latentswap("track", plate, "-o", sheet_track, log=self.log)
        numbers = sorted(int(p.name.split(".")[1]) for p in out.glob("swap.*.exr"))
        chosen = [numbers[i] for i in np.unique(np.linspace(0, len(numbers) - 1, min(8, len(numbers))).astype(int))]
        contact_sheet(str(plate), pattern, sheet_track, chosen, self.work / f"{name}-sheet.png")
        row = {"case": case, "variant": variant, "px": resolution, "minutes": minutes, "steps": train_steps(model),
               "trained_on": trained_on(model), "refined": refined, "swap_s": round(swap_seconds, 1),
               **figures(report)}
        self.rows.append(row)
        print(json.dumps(row), flush=True)

    def run_occlusion(self, resolution: int, minutes: float, track: Path, person: str, seeds: list[int]) -> None:
        """Occlusion models from the mattes of five frames (one a seed), judged on five other drawn frames: of the
        drawn occluder's pixels inside the face region, the share left as the plate (``occluder_kept``), and of the
        face's other pixels the share the swap covers (``face_covered``), pooled over the frames. The figures rest
        on a few hundred occluder pixels, so one seed is not a measurement: the rows come a seed each."""
        from latentswap_core.align import aligned_face_mask, alignment_transform, face_mask
        from latentswap_core.evaluate.metrics import occlusion_coverage
        from latentswap_core.face_selection import FaceSelection
        from latentswap_core.io import open_source, read_image
        from latentswap_core.io.matte import MatteSequence
        from latentswap_core.swap.occlusion import OcclusionMasker
        from latentswap_core.track.trackfile import read_track_file
        from latentswap_core.train.occlusion_trainer import OcclusionOptions, labelled_crops

        mattes = self.work / "occluders"
        mattes.mkdir(exist_ok=True)
        for frame in OCCLUSION_TRAIN:
            name = f"occluder.{frame:04d}.png"
            if not (mattes / name).exists():
                (mattes / name).symlink_to(OCCLUDERS / name)
        truth = MatteSequence(OCCLUDERS / "occluder.####.png")
        shot = read_track_file(track)
        frames = ",".join(map(str, OCCLUSION_TEST))

        def add(variant: str, seed: int | None, judged: list[int], alphas: list[np.ndarray],
                regions: list[np.ndarray], occluders: list[np.ndarray], steps: int | None = None) -> None:
            pooled = occlusion_coverage(*(np.concatenate([a.ravel() for a in arrays])
                                          for arrays in (alphas, regions, occluders)))
            row = {"case": "occlusion", "variant": variant, "seed": seed, "px": resolution, "minutes": minutes,
                   "steps": steps, "frames": ",".join(map(str, judged)),
                   **{key: None if value is None else round(value, 4) for key, value in pooled.items()}}
            self.occlusion_rows.append(row)
            print(json.dumps(row), flush=True)

        selection = OcclusionOptions(output=self.work / "unused", steps=1, faces=FaceSelection(people=(int(person),)))
        plate = open_source(str(CLIP), list(OCCLUSION_TEST))
        try:
            held = labelled_crops(plate, shot, MatteSequence(OCCLUDERS / "occluder.####.png"), selection)
        finally:
            plate.close()

        def judge_swap(mask: str, seed: int | None, extra: list[object], steps: int | None = None) -> None:
            """The swap's blend alpha in the plate, on the frames it swapped (faces with reliable landmarks)."""
            out = self.work / (f"occlusion-{mask}-{resolution}" + ("" if not seed else f"-seed{seed}"))
            latentswap("swap", CLIP, "--model", self.work / f"model-self-default-{resolution}", "-o",
                       out / "swap.####.exr", "--frames", frames, "--track", track, "--person", person, "--mask",
                       mask, *extra, "--device", self.args.device, log=self.log)
            judged, alphas, regions, occluders = [], [], [], []
            for frame in OCCLUSION_TEST:
                drawn = truth.at(frame)
                if drawn is None:
                    sys.exit(f"{OCCLUDERS}: no drawn occluder matte for frame {frame}")
                image = read_image(out / f"swap.{frame:04d}.exr")
                if not image.channel("lsmask.Y").any():
                    continue  # not swapped: the track marks the face's landmarks unreliable
                face = next(f for f in shot.faces_at(frame) if f.person == int(person))
                judged.append(frame)
                alphas.append(image.channel("lsmask.Y").astype(np.float32))
                regions.append(face_mask(face.landmarks, (image.height, image.width), "whole_face"))
                occluders.append(drawn)
            add(f"swap --mask {mask}", seed, judged, alphas, regions, occluders, steps)

        judge_swap("landmarks", None, [])
        for seed in seeds:
            model = self.work / (f"occlusion-model-{resolution}" + ("" if not seed else f"-seed{seed}"))
            if occlusion_trained(model).get("seed") != seed:  # none yet, or one from before models kept their seed
                shutil.rmtree(model, ignore_errors=True)
                latentswap("train-mask", CLIP, "--mattes", mattes / "occluder.####.png", "--track", track,
                           "--person", person, "-o", model, "--minutes", minutes, "--seed", seed, "--device",
                           self.args.device, log=self.log)
            # the model itself, on the held-out frames' crops (every one, whatever the track says of its landmarks)
            masker = OcclusionMasker(model)
            alphas, regions, occluders = [], [], []
            for crop, matte, frame in zip(held.crops, held.mattes, held.frames, strict=True):
                face = next(f for f in shot.faces_at(frame) if f.person == int(person))
                to_aligned = alignment_transform(face.landmarks, "whole_face")
                regions.append(aligned_face_mask(face.landmarks, to_aligned, crop.shape[-1], "whole_face"))
                alphas.append(1.0 - masker.occluders(crop.permute(1, 2, 0).numpy()[None])[0])
                occluders.append(matte[0].numpy())
            steps = occlusion_trained(model)["steps"]
            add("occlusion model, aligned crops", seed, held.frames, alphas, regions, occluders, steps)
            judge_swap("occlusion", seed, ["--occlusion-model", model], steps)

    def occlusion_table(self) -> str:
        columns = ("variant", "seed", "px", "minutes", "steps", "frames", "occluder_kept", "face_covered")
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join("n/a" if row.get(key) is None else str(row[key]) for key in columns) + " |"
                  for row in self.occlusion_rows]
        return "\n".join(lines)

    def table(self) -> str:
        columns = ("case", "variant", "px", "minutes", "steps", "trained_on", "refined", "ssim", "psnr",
                   "pose_error", "flicker", "identity_to_target", "grid_ratio", "detail_ratio", "swap_s")
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for row in self.rows:
            cells = []
            for key in columns:
                value = row.get(key)
                cells.append("n/a" if value is None else f"{value:.3f}" if isinstance(value, float) and key not in (
                    "minutes", "swap_s") else str(value))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="CPU, 128 px, 4 minutes a model (2 for cross cases)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--resolutions", help="face sizes (default: 128 quick, 256,512 on cuda)")
    parser.add_argument("--minutes", type=float, help="training budget of the self case (default: 4 quick, 5 cuda)")
    parser.add_argument("--cross-minutes", type=float, help="training budget of each cross case (default: 2 quick)")
    parser.add_argument("--cases", default="self,cross,occlusion", help="any of self, cross, occlusion")
    parser.add_argument("--mask-minutes", type=float, default=3.0, help="training budget of the occlusion model")
    parser.add_argument("--mask-seeds", type=seed_list, default=[0, 1, 2],
                        help="train and judge one occlusion model a seed (default: 0,1,2)")
    parser.add_argument("--variants", default="default",
                        help=f"training recipes for the self and cross cases: {', '.join(VARIANTS)}")
    parser.add_argument("--refine", metavar="REFINER_DIR", help="also swap the self case through this refiner")
    parser.add_argument("--refine-minutes", type=float,
                        help="train a refiner for the self case's first variant this long, and swap through it")
    parser.add_argument("--references", action="store_true",
                        help="also swap the self case with the plate face, its codec round trip and the dst "
                             "decoder's reconstruction in place of the swapped face (reference_swap.py): what the "
                             "pipeline and the codec cost the figures, apart from the model")
    parser.add_argument("--work", default=str(REPO / "benchmarks" / "out" / "real_quality"))
    parser.add_argument("--tracks", help="keep the clip's track file here and reuse it (a machine without mediapipe "
                        "then needs no face detector)")
    parser.add_argument("--train-only", action="store_true", help="train the cases' models and stop: swap and eval "
                        "later, with the same --work, where the face detector and dlib are installed")
    args = parser.parse_args()
    if not CLIP.is_file():
        sys.exit(f"{CLIP}: the real clip is missing (../shared beside the repository)")
    resolutions = [int(r) for r in (args.resolutions or ("128" if args.device == "cpu" else "256,512")).split(",")]
    minutes = args.minutes or (4.0 if args.device == "cpu" else 5.0)
    cross_minutes = args.cross_minutes or (2.0 if args.quick else minutes)
    unknown = set(args.variants.split(",")) - set(VARIANTS)
    if unknown:
        sys.exit(f"unknown variants {', '.join(sorted(unknown))}: use {', '.join(VARIANTS)}")
    if args.train_only and ({"occlusion"} & set(args.cases.split(",")) or args.refine or args.refine_minutes
                            or args.references):
        sys.exit("--train-only trains the self and cross cases' models: leave out the occlusion case, the refiner "
                 "and the references")
    bench = Bench(args)
    machine = f"{platform.machine()} {cpu_model()}, {args.device}"
    print(f"machine: {machine}", flush=True)
    cases = args.cases.split(",")
    for resolution in resolutions:
        sets = bench.prepare(resolution, "cross" in cases)
        track, person = sets["track"], str(sets["person"])
        if "self" in cases:
            for variant in args.variants.split(","):
                bench.run_case("self", variant, resolution, minutes, sets["singer_a"], sets["singer_b"], CLIP,
                               DST_FRAMES, ["--target", sets["singer_a"]], track, person)
            refiner = args.refine
            first = args.variants.split(",")[0]
            if args.refine_minutes and not refiner:
                refiner = str(bench.work / f"refiner-{first}-{resolution}")
                if not (Path(refiner) / "refiner").exists() and not (Path(refiner) / "trainer.json").exists():
                    latentswap("train-refiner", "--faceset", sets["singer_a"], "--model",
                               bench.work / f"model-self-{first}-{resolution}", "--swaps", sets["singer_b"], "-o",
                               refiner, "--minutes", args.refine_minutes, "--device", args.device,
                               "--preview-every", 0, log=bench.log)
            if refiner:
                bench.run_case("self", first, resolution, minutes, sets["singer_a"], sets["singer_b"], CLIP,
                               DST_FRAMES, ["--target", sets["singer_a"]], track, person, refine=refiner)
            if args.references:
                bench.run_references(resolution, minutes, track, person, ["--target", sets["singer_a"]], first)
        if "cross" in cases:
            # the singer onto the photos, then the photographed person onto the singer
            for variant in args.variants.split(","):
                bench.run_case("singer-onto-photos", variant, resolution, cross_minutes, sets["singer_a"],
                               sets["photos_set"], sets["photos"], None, ["--target", sets["singer_a"]], None, None)
                bench.run_case("photos-onto-singer", variant, resolution, cross_minutes, sets["photos_set"],
                               sets["singer_b"], CLIP, DST_FRAMES, ["--target", sets["photos_set"]], track, person)
        if "occlusion" in cases:  # needs the self case's default model
            if "self" not in cases and not (bench.work / f"model-self-default-{resolution}" / "model").is_dir():
                sys.exit("the occlusion case swaps with the self case's default model: add --cases self")
            bench.run_occlusion(resolution, args.mask_minutes, track, person, args.mask_seeds)
    table = bench.table() + ("\n\nOcclusion (five drawn frames to train, five others to judge):\n\n" +
                             bench.occlusion_table() if bench.occlusion_rows else "")
    print(f"\nmachine: {machine}\n{table}")
    (bench.work / "table.md").write_text(f"machine: {machine}\n\n{table}\n")
    (bench.work / "table.json").write_text(json.dumps({"machine": machine, "rows": bench.rows,
                                                       "occlusion": bench.occlusion_rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
