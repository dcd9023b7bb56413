"""A corpus of bad inputs for the ``latentswap`` command line: ``python tools/bad_inputs.py OUT_DIR``.

Writes broken and awkward files under OUT_DIR (truncated, garbage and empty images, a 100000 x 100000 header
without pixels, 1- and 2-channel images, NaN/Inf pixels, black and white frames, faces at the border and tiny
faces, sequences with a missing frame or mixed resolutions, malformed track files, tampered model folders,
unicode, spaces and shell metacharacters in paths) and prints one line per case: the command to run and what
it should do. ``OUT_DIR/cases.json`` holds the same for machines; tests/test_bad_inputs.py runs it.

Each case expects exit 0 (a documented, sensible result) or exit 2 (one line ``latentswap: error: ...`` naming
the file or frame, no file under the output's final name). ``--model MODEL_DIR`` (a folder ``latentswap
train -o`` wrote) adds swap and export cases on tampered copies of it, ``--faceset FACESET`` the train and
eval cases; those commands need ``$LATENTSWAP_MODELS`` to point at the codec weights (../shared/models).
Faces come from ../shared/data/faces (or ``$LATENTSWAP_SHARED/data/faces``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import struct
import sys
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SHARED = Path(os.environ.get("LATENTSWAP_SHARED", REPO.parent / "shared")).resolve()
INJECTION = "__import__('os').system('touch PWNED')"
METACHARACTERS = "a;touch PWNED $(touch PWNED) `touch PWNED` |&"
PLATE_SIZE = (320, 240)  # width, height of the generated plates: small, so tracking is quick


@dataclass(frozen=True)
class Case:
    """One command and what it should do.

    ``expect``: 0 (works) or 2 (refused with one line). ``mentions``: text the error line must hold (the
    file or frame at fault). ``output``: the folder/file the command writes; on exit 2 nothing may be there
    (a folder: it holds nothing), on exit 0 it must exist. Sequence outputs are written frame by frame, each
    whole: frames finished before a failure are kept (``--skip-existing`` resumes), the failed one is not.
    No hidden ``.name.partial-*`` file may be left anywhere. ``forbidden``: files that must never appear.
    """

    name: str
    args: tuple[str, ...]
    expect: int
    mentions: tuple[str, ...] = ()
    output: str | None = None
    note: str = ""
    slow: bool = False  # imports torch or runs a model: a few seconds more
    forbidden: tuple[str, ...] = field(default=())  # files that must never appear (shell injection)

    def command_line(self) -> str:
        return "latentswap " + " ".join(shlex.quote(arg) for arg in self.args)


# -- image files --------------------------------------------------------------------------------------------

def _face_rgb(name: str = "biden2", size: tuple[int, int] = PLATE_SIZE, scale: float = 0.7,
              shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """A real photo as float32 sRGB in [0, 1], fitted into ``size`` at ``scale`` and moved by ``shift``
    (fractions of the frame); the rest of the frame is mid grey."""
    import cv2

    from latentswap_core.io import read_image

    photo = read_image(SHARED / "data" / "faces" / f"{name}.jpg").rgb_float()
    width, height = size
    factor = scale * min(width / photo.shape[1], height / photo.shape[0])
    resized = cv2.resize(photo, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    x = int(round((width - resized.shape[1]) / 2 + shift[0] * width))
    y = int(round((height - resized.shape[0]) / 2 + shift[1] * height))
    frame = np.full((height, width, 3), 0.5, np.float32)
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + resized.shape[1], width), min(y + resized.shape[0], height)
    frame[y0:y1, x0:x1] = resized[y0 - y:y1 - y, x0 - x:x1 - x]
    return frame


def _write_plate_frame(path: Path, srgb: np.ndarray, pixel_type: str = "half") -> None:
    """``srgb`` (H x W x 3, float32) as an ACEScg EXR (half or float) with alpha, or as an 8-bit sRGB image."""
    from latentswap_core import color
    from latentswap_core.io import Image, write_image

    if path.suffix == ".exr":
        linear = color.convert(np.ascontiguousarray(srgb, np.float32), color.WORKING_SPACE, color.DEFAULT_FLOAT_SPACE)
        rgba = np.concatenate([linear, np.ones_like(linear[:, :, :1])], axis=2)
        dtype = np.float16 if pixel_type == "half" else np.float32
        write_image(path, Image(rgba.astype(dtype), ("R", "G", "B", "A")))
    else:
        write_image(path, Image((np.clip(srgb, 0, 1) * 255 + 0.5).astype(np.uint8), ("R", "G", "B")))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_png(path: Path, width: int = 100_000, height: int = 100_000) -> None:
    """A valid PNG header claiming ``width`` x ``height`` RGB, with a few bytes of pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
                     + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b""))


def huge_exr(path: Path, side: int = 100_000) -> None:
    """An EXR whose data and display windows claim ``side`` x ``side`` pixels; the file holds 8 x 8."""
    from latentswap_core.io import Image, write_image

    write_image(path, Image(np.zeros((8, 8, 3), np.float16), ("R", "G", "B")), compression="none")
    data = bytearray(path.read_bytes())
    for name in (b"dataWindow\0box2i\0", b"displayWindow\0box2i\0"):
        at = data.index(name) + len(name) + 4  # after the attribute's size field
        data[at:at + 16] = struct.pack("<iiii", 0, 0, side - 1, side - 1)
    path.write_bytes(bytes(data))


def _write_movie(path: Path, srgb: np.ndarray, frames: int = 6) -> None:
    """A short MPEG-4 movie of ``srgb`` drifting right (its index sits at the end: cut short, it cannot open)."""
    import cv2

    bgr = cv2.cvtColor((np.clip(srgb, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 24, (bgr.shape[1], bgr.shape[0]))
    for frame in range(frames):
        writer.write(np.roll(bgr, 3 * frame, axis=1))
    writer.release()


def _truncated_copy(source: Path, target: Path, keep: float = 0.5) -> None:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])


def _garbage(path: Path, size: int = 4096, seed: int = 7) -> None:
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())


# -- the corpus -----------------------------------------------------------------------------------------------

def make_corpus(folder: str | os.PathLike[str], model_dir: str | os.PathLike[str] | None = None,
                faceset: str | os.PathLike[str] | None = None) -> list[Case]:
    """Write the bad inputs under ``folder`` and return the cases that use them.

    ``model_dir``: a trained model folder (``latentswap train -o``); tampered copies of it add swap, export
    and train cases. ``faceset``: a good faceset folder, for train cases that need one good side.
    """
    from latentswap_core.io import Image, write_image

    root = Path(folder).resolve()
    inputs, outputs = root / "in", root / "out"
    inputs.mkdir(parents=True, exist_ok=True)
    outputs.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def out(name: str) -> Path:
        """A fresh, empty folder for one case's output."""
        path = outputs / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def add(name: str, args: list[str | Path], expect: int, mentions: tuple[str | Path, ...] = (),
            output: Path | None = None, note: str = "", slow: bool = False,
            forbidden: tuple[Path, ...] = ()) -> None:
        cases.append(Case(name, tuple(str(arg) for arg in args), expect, tuple(str(m) for m in mentions),
                          str(output) if output is not None else None, note, slow,
                          tuple(str(path) for path in forbidden)))

    # A good plate frame (EXR, PNG, JPEG) to damage.
    good = inputs / "good"
    good.mkdir(exist_ok=True)
    face = _face_rgb()
    for ext in ("exr", "png", "jpg"):
        _write_plate_frame(good / f"face.{ext}", face)

    # Truncated, garbage and empty files: every reader refuses them naming the file.
    broken = inputs / "broken"
    broken.mkdir(exist_ok=True)
    for ext in ("exr", "png", "jpg"):
        _truncated_copy(good / f"face.{ext}", broken / f"truncated.{ext}")
        _garbage(broken / f"garbage.{ext}")
        (broken / f"empty.{ext}").write_bytes(b"")
        for kind in ("truncated", "garbage", "empty"):
            path = broken / f"{kind}.{ext}"
            add(f"{kind}_{ext}_info", ["info", path], 2, (path,), note=f"a {kind} .{ext} is refused")
        target = out(f"truncated_{ext}_convert")
        add(f"truncated_{ext}_convert", ["convert", broken / f"truncated.{ext}", "-o", target / "frame.exr"], 2,
            (broken / f"truncated.{ext}",), target)

    # Movies: cut short, garbage or empty; refused naming the file (FFmpeg's own log lines held back).
    movie = good / "face.mp4"
    _write_movie(movie, face)
    target = out("movie_track")
    add("movie_track", ["track", movie, "-o", target / "t.track.json"], 0, output=target / "t.track.json")
    _truncated_copy(movie, broken / "truncated.mp4")
    _garbage(broken / "garbage.mov")
    (broken / "empty.mp4").write_bytes(b"")
    for name in ("truncated.mp4", "garbage.mov", "empty.mp4"):
        path = broken / name
        add(f"{name.replace('.', '_')}_info", ["info", path], 2, (path,))
    target = out("truncated_mp4_extract")
    add("truncated_mp4_extract", ["extract", broken / "truncated.mp4", "-o", target / "faceset"], 2,
        (broken / "truncated.mp4",), target)

    # A sequence whose second frame is truncated: refused naming that frame's file, no frame written.
    seq = inputs / "truncated_seq"
    seq.mkdir(exist_ok=True)
    shutil.copy(good / "face.exr", seq / "plate.1001.exr")
    _truncated_copy(good / "face.exr", seq / "plate.1002.exr", keep=0.3)
    target = out("truncated_frame_convert")
    add("truncated_frame_convert", ["convert", seq / "plate.####.exr", "-o", target / "c.####.exr"], 2,
        (seq / "plate.1002.exr",), target / "c.1002.exr",
        "frame 1001 is finished and kept (whole, as --skip-existing resumes); 1002 is not written")
    target = out("truncated_frame_track")
    add("truncated_frame_track", ["track", seq / "plate.####.exr", "-o", target / "t.track.json"], 2,
        (seq / "plate.1002.exr",), target)

    # Headers claiming 100000 x 100000 pixels: refused before any memory is allocated.
    huge_40k = inputs / "huge_40k.exr"  # 9.6 GB of half RGB: under OpenImageIO's own limit, refused by ours
    huge_exr(huge_40k, side=40_000)
    add("huge_exr_40k_info", ["info", huge_40k], 2, (huge_40k,), note="refused from the header, nothing allocated")
    for ext, make in (("png", huge_png), ("exr", huge_exr)):
        path = inputs / f"huge.{ext}"
        make(path)
        add(f"huge_{ext}_info", ["info", path], 2, (path,), note="refused from the header, nothing allocated")
        target = out(f"huge_{ext}_convert")
        add(f"huge_{ext}_convert", ["convert", path, "-o", target / "frame.png"], 2, (path,), target)
    target = out("huge_exr_track")
    add("huge_exr_track", ["track", path, "-o", target / "t.track.json"], 2, (path,), target)

    # 1- and 2-channel images: grey is read as R = G = B; they work.
    grey = face.mean(axis=2)
    path = inputs / "grey_y.exr"
    write_image(path, Image(grey[:, :, None].astype(np.float16), ("Y",)))
    add("one_channel_exr_info", ["info", path], 0)
    target = out("one_channel_exr_convert")
    add("one_channel_exr_convert", ["convert", path, "-o", target / "grey.png", "--output-colorspace",
                                    "sRGB - Texture"], 0, output=target / "grey.png")
    target = out("one_channel_exr_track")
    add("one_channel_exr_track", ["track", path, "-o", target / "t.track.json", "--colorspace",
                                  "sRGB - Texture"], 0, output=target / "t.track.json",
        note="a grey plate is tracked like a colour one")
    path = inputs / "grey_alpha.png"
    grey_alpha = np.stack([grey, np.ones_like(grey)], axis=2)
    write_image(path, Image((grey_alpha * 255).astype(np.uint8), ("Y", "A")))
    add("two_channel_png_info", ["info", path], 0)
    target = out("two_channel_png_extract")
    add("two_channel_png_extract", ["extract", path, "-o", target / "faceset", "--size", "128"], 0,
        output=target / "faceset")

    # NaN and Inf pixels (a float plate from a bad render): tracked and converted without a crash.
    from latentswap_core import color

    linear = color.convert(face, color.WORKING_SPACE, color.DEFAULT_FLOAT_SPACE)
    bad = np.concatenate([linear, np.ones_like(linear[:, :, :1])], axis=2)
    bad[10:40, 10:40] = np.nan
    bad[50:60, :, 0] = np.inf
    bad[70:80, :, 1] = -np.inf
    bad[100:104, 150:170] = np.nan  # in the face
    nan_seq = inputs / "nan_inf"
    nan_seq.mkdir(exist_ok=True)
    for frame in (1001, 1002):
        write_image(nan_seq / f"plate.{frame}.exr", Image(bad.astype(np.float32), ("R", "G", "B", "A")))
    pattern = nan_seq / "plate.####.exr"
    add("nan_inf_info", ["info", pattern], 0)
    target = out("nan_inf_convert")
    add("nan_inf_convert", ["convert", pattern, "-o", target / "c.####.png", "--output-colorspace",
                            "sRGB - Texture"], 0, output=target / "c.1002.png",
        note="NaN becomes 0, Inf clips, in an 8/16-bit output")
    target = out("nan_inf_track")
    add("nan_inf_track", ["track", pattern, "-o", target / "t.track.json"], 0, output=target / "t.track.json")

    # All-black and all-white frames: no face, which is not an error for track; extract finds no faces.
    flat = inputs / "flat"
    flat.mkdir(exist_ok=True)
    for frame, value in ((1001, 0.0), (1002, 1.0), (1003, 0.0)):
        rgba = np.full((PLATE_SIZE[1], PLATE_SIZE[0], 4), value, np.float16)
        rgba[:, :, 3] = 1
        write_image(flat / f"plate.{frame}.exr", Image(rgba, ("R", "G", "B", "A")))
    pattern = flat / "plate.####.exr"
    target = out("black_white_track")
    add("black_white_track", ["track", pattern, "-o", target / "t.track.json"], 0, output=target / "t.track.json",
        note="frames without a face are listed, not an error")
    target = out("black_white_extract")
    add("black_white_extract", ["extract", pattern, "-o", target / "faceset", "--size", "128"], 2,
        (pattern.parent,), target, note="no face at all: refused, no empty faceset left behind")

    # A face cut by the frame's edge and a tiny face.
    edge = inputs / "edge"
    edge.mkdir(exist_ok=True)
    for ext in ("exr",):
        _write_plate_frame(edge / f"border.1001.{ext}", _face_rgb(scale=0.9, shift=(0.42, -0.1)))
        _write_plate_frame(edge / f"tiny.1001.{ext}", _face_rgb(scale=0.12, shift=(0.2, 0.2)))
    for kind in ("border", "tiny"):
        pattern = edge / f"{kind}.####.exr"
        target = out(f"{kind}_face_track")
        add(f"{kind}_face_track", ["track", pattern, "-o", target / "t.track.json"], 0,
            output=target / "t.track.json", note="found, or listed as a frame without a face")

    # A sequence with a missing frame and one with mixed resolutions.
    gaps = inputs / "gaps"
    gaps.mkdir(exist_ok=True)
    for frame in (1001, 1002, 1004):
        shutil.copy(good / "face.exr", gaps / f"plate.{frame}.exr")
    pattern = gaps / "plate.####.exr"
    add("missing_frame_info", ["info", pattern], 2, ("1003",))
    target = out("missing_frame_convert")
    add("missing_frame_convert", ["convert", pattern, "-o", target / "c.####.exr"], 2, ("1003",), target)
    target = out("missing_frame_track")
    add("missing_frame_track", ["track", pattern, "-o", target / "t.track.json"], 2, ("1003",), target)
    add("missing_frame_explicit_info", ["info", pattern, "--frames", "1001-1002"], 0,
        note="--frames around the gap works")
    mixed = inputs / "mixed"
    mixed.mkdir(exist_ok=True)
    _write_plate_frame(mixed / "plate.1001.exr", face)
    _write_plate_frame(mixed / "plate.1002.exr", _face_rgb(size=(PLATE_SIZE[0] + 16, PLATE_SIZE[1])))
    pattern = mixed / "plate.####.exr"
    bad_frame = mixed / "plate.1002.exr"
    add("mixed_resolution_info", ["info", pattern], 2, (bad_frame,))
    target = out("mixed_resolution_convert")
    add("mixed_resolution_convert", ["convert", pattern, "-o", target / "c.####.exr"], 2, (bad_frame,), target)
    target = out("mixed_resolution_track")
    add("mixed_resolution_track", ["track", pattern, "-o", target / "t.track.json"], 2, (bad_frame,), target)

    # Malformed track files (used by extract --track and swap --track).
    plate1 = inputs / "plate1"
    plate1.mkdir(exist_ok=True)
    _write_plate_frame(plate1 / "plate.1001.exr", face)
    plate = plate1 / "plate.####.exr"
    tracks = inputs / "tracks"
    tracks.mkdir(exist_ok=True)
    valid = {"version": 1, "source": str(plate), "width": PLATE_SIZE[0], "height": PLATE_SIZE[1],
             "face_type": "whole_face", "frames": [{"frame": 1001, "faces": []}]}
    bad_tracks = {
        "truncated": json.dumps(valid)[:40],
        "wrong_version": json.dumps({**valid, "version": 99}),
        "wrong_types": json.dumps({**valid, "width": "320", "frames": {"1001": []}}),
        "wrong_face": json.dumps({**valid, "frames": [{"frame": 1001, "faces": [
            {"track_id": 0, "score": 2, "landmark_confidence": 1, "bbox": [0, 0, 1],
             "landmarks": [[0, 0]], "to_aligned": "x"}]}]}),
        "singular": json.dumps({**valid, "frames": [{"frame": 1001, "faces": [
            {"track_id": 0, "score": 0.9, "landmark_confidence": 0.9, "bbox": [100, 60, 200, 180],
             "landmarks": [[150.0 + i % 40, 100.0 + i // 40] for i in range(478)],
             "to_aligned": [[0, 0, 0], [0, 0, 0]]}]}]}),
        "other_size": json.dumps({**valid, "width": 1920, "height": 1080}),
        "not_utf8": b"\xff\xfe{garbage".decode("latin-1"),
        "empty": "",
        "list": "[1, 2, 3]",
    }
    for kind, text in bad_tracks.items():
        path = tracks / f"{kind}.track.json"
        path.write_bytes(text.encode("latin-1") if kind == "not_utf8" else text.encode("utf-8"))
        target = out(f"track_{kind}_extract")
        add(f"track_{kind}_extract", ["extract", plate, "-o", target / "faceset", "--size", "128", "--track", path],
            2, (path,), target)

    # Unicode, spaces and shell metacharacters in paths: plain paths, they work.
    for kind, name in (("unicode", "plate dir ü 日本 é"), ("metachar", METACHARACTERS)):
        folder = inputs / name
        folder.mkdir(exist_ok=True)
        _write_plate_frame(folder / "pläte 01.1001.exr", face)
        _write_plate_frame(folder / "pläte 01.1002.exr", face)
        pattern = folder / "pläte 01.####.exr"
        forbidden = (Path.cwd() / "PWNED", root / "PWNED", inputs / "PWNED", folder / "PWNED")
        add(f"{kind}_path_info", ["info", pattern], 0, forbidden=forbidden)
        target = out(f"{kind}_path_convert") / name
        target.mkdir(exist_ok=True)
        add(f"{kind}_path_convert", ["convert", pattern, "-o", target / "ünï cöde.####.png"], 0,
            output=target / "ünï cöde.1002.png", forbidden=forbidden)
        target = out(f"{kind}_path_track") / name
        target.mkdir(exist_ok=True)
        add(f"{kind}_path_track", ["track", pattern, "-o", target / "t ü.track.json"], 0,
            output=target / "t ü.track.json", forbidden=forbidden)
        missing = folder / "nicht da ü.####.exr"
        add(f"{kind}_path_missing_info", ["info", missing], 2, (missing.name,), forbidden=forbidden)

    # Frames and numbers a user can mistype.
    add("bad_frame_range_info", ["info", plate, "--frames", "1001-abc"], 2, ("1001-abc",))
    add("frame_outside_info", ["info", plate, "--frames", "2000"], 2, ("2000",))
    target = out("output_folder_missing_convert")
    add("output_folder_missing_convert", ["convert", plate, "-o", target / "new" / "c.####.exr"], 0,
        output=target / "new", note="a missing output folder is created, as Nuke's Write does")
    target = out("output_below_a_file_convert")
    (target / "file").write_text("not a folder")
    add("output_below_a_file_convert", ["convert", plate, "-o", target / "file" / "v1" / "c.####.exr"], 2,
        (target / "file",), target / "file" / "v1")
    add("output_is_input_convert", ["convert", plate, "-o", plate], 2, (plate1 / "plate.1001.exr",))
    target = out("bad_compression_convert")
    add("bad_compression_convert", ["convert", plate, "-o", target / "c.####.exr", "--compression", "bogus"], 2,
        ("bogus",), target, note="an unknown EXR compression is refused, not silently replaced")
    target = out("output_is_folder_track")
    add("output_is_folder_track", ["track", plate, "-o", target], 2, (target,), target)

    _hostile_cases(plate, inputs, out, add)
    if model_dir is not None:
        _model_cases(Path(model_dir), plate, inputs, out, add, faceset)
    return cases


def _hostile_cases(plate: Path, inputs: Path, out, add) -> None:
    """Round two: special files as inputs and outputs, hostile JSON, names the file system refuses, numbers that
    are not numbers. None of them may replace a special file, read forever, hang or end in exit 70."""
    hostile = inputs / "hostile"
    hostile.mkdir(exist_ok=True)
    fifo = hostile / "pipe.json"
    if hasattr(os, "mkfifo") and not fifo.exists():
        os.mkfifo(fifo)
        add("fifo_output_track", ["track", plate, "-o", fifo], 2, (fifo,),
            note="an existing pipe (or device) as -o is refused, never replaced by a regular file")
        target = out("fifo_track_extract")
        add("fifo_track_extract", ["extract", plate, "-o", target / "set", "--track", fifo], 2, (fifo,),
            target / "set", note="a pipe as --track is refused, not read until it hangs")
    if Path("/dev/zero").exists():
        target = out("dev_zero_track_extract")
        add("dev_zero_track_extract", ["extract", plate, "-o", target / "set", "--track", "/dev/zero"], 2,
            ("/dev/zero",), target / "set", note="a device as --track is refused, not read until memory runs out")
    deep = hostile / "deep.track.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    target = out("deep_json_track_extract")
    add("deep_json_track_extract", ["extract", plate, "-o", target / "set", "--track", deep], 2, (deep,),
        target / "set", note="JSON nested 200,000 deep is refused in one line")
    folder_track = hostile / "folder.track.json"
    folder_track.mkdir(exist_ok=True)
    target = out("folder_track_extract")
    add("folder_track_extract", ["extract", plate, "-o", target / "set", "--track", folder_track], 2,
        (folder_track,), target / "set")
    loop = hostile / "loop.track.json"
    if not loop.is_symlink():
        loop.symlink_to(loop)
    target = out("symlink_loop_track_extract")
    add("symlink_loop_track_extract", ["extract", plate, "-o", target / "set", "--track", loop], 2, (loop,),
        target / "set")
    target = out("long_name_track")
    long_name = "n" * 300 + ".track.json"
    add("long_name_track", ["track", plate, "-o", target / long_name], 2, ("nnnn",), target,
        note="a name over 255 bytes is refused before the tracking work (its folder stays empty)")
    target = out("file_as_output_folder_extract")
    (target / "a_file").write_text("not a folder")
    add("file_as_output_folder_extract", ["extract", plate, "-o", target / "a_file"], 2, (target / "a_file",))
    for option, value in (("--lr", "inf"), ("--lr", "nan"), ("--minutes", "nan"), ("--pixel-loss-samples", "0"),
                          ("--batch", "100000000")):
        add(f"train_{option[2:]}_{value}", ["train", "--src", inputs, "--dst", inputs, "-o", out("train_number") / "m",
                                           "--steps", "2", option, value], 2, (option, value),
            note="NaN, infinity and absurd sizes are refused at the command line")
    for option, value in (("--mix", "nan"), ("--mask-blur", "inf"), ("--compression", "zip:abc"),
                          ("--workers", "0")):
        add(f"swap_{option[2:]}_{value}", ["swap", plate, "--model", inputs, "-o", out("swap_number") / "s.####.exr",
                                          option, value], 2, (option, value))
    add("export_opset_99", ["export", inputs, "-o", out("export_opset") / "m.onnx", "--opset", "99"], 2,
        ("--opset", "99"), note="an opset the exporter cannot write: one line, not a graph dump")


def _model_cases(model_dir: Path, plate: Path, inputs: Path, out, add,
                 faceset: str | os.PathLike[str] | None) -> None:
    """Tampered copies of a trained model for swap, export and train, added through ``add``."""
    from latentswap_core.models.card import model_folder

    source = model_folder(model_dir)
    models = inputs / "models"
    models.mkdir(exist_ok=True)

    def copy(name: str) -> Path:
        folder = models / name
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns("*.onnx", "cache"))
        return folder

    def edit_json(path: Path, change) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        change(data)
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")

    def swap(name: str, folder: Path, mentions: tuple, expect: int = 2, note: str = "") -> None:
        target = out(f"{name}_swap")
        add(f"{name}_swap", ["swap", plate, "--model", folder, "-o", target / "s.####.exr", "--device", "cpu"],
            expect, mentions, target, note, slow=True)

    def export(name: str, folder: Path, mentions: tuple) -> None:
        target = out(f"{name}_export")
        add(f"{name}_export", ["export", folder, "--format", "onnx", "-o", target / "m.onnx"], 2, mentions,
            target, slow=True)

    empty = models / "not_a_model"
    empty.mkdir(exist_ok=True)
    (empty / "notes.txt").write_text("not a model\n")
    swap("model_wrong_folder", empty, (empty,))

    folder = copy("config_version")
    edit_json(folder / "config.json", lambda data: data.update(version=99))
    swap("model_config_version", folder, (folder / "config.json",))

    folder = copy("config_truncated")
    _truncated_copy(folder / "config.json", folder / "config.json", keep=0.4)
    swap("model_config_truncated", folder, (folder / "config.json",))

    folder = copy("config_injection")
    edit_json(folder / "config.json", lambda data: data.update(preset=INJECTION))
    swap("model_config_injection", folder, (folder / "config.json",), note="a string is data, never code")

    folder = copy("config_wrong_shape")
    edit_json(folder / "config.json", lambda data: data.update(preset="medium", encoder_dims=48, inter_dims=192,
                                                               decoder_dims=48, mask_dims=16))
    swap("model_other_weights", folder, (folder / "model.safetensors",),
         note="weights of another model size than its config")

    folder = copy("weights_truncated")
    _truncated_copy(folder / "model.safetensors", folder / "model.safetensors", keep=0.5)
    swap("model_weights_truncated", folder, (folder / "model.safetensors",))
    export("model_weights_truncated", folder, (folder / "model.safetensors",))

    folder = copy("codec_unknown")
    edit_json(folder / "provenance.json", lambda data: data["codec"].update(name="nosuchcodec"))
    swap("model_codec_unknown", folder, (folder / "provenance.json", "nosuchcodec"))

    folder = copy("codec_other_weights")
    edit_json(folder / "provenance.json",
              lambda data: data["codec"].update(weights_sha256={k: "0" * 64 for k in data["codec"]["weights_sha256"]}))
    swap("model_codec_other_weights", folder, (folder,))

    codec_folder = models / "codec_garbage"  # --codec-path to TAEF2 files that are not safetensors
    codec_folder.mkdir(exist_ok=True)
    for name in ("taef2_encoder.safetensors", "taef2_decoder.safetensors"):
        _garbage(codec_folder / name)
    target = out("codec_garbage_swap")
    add("codec_garbage_swap", ["swap", plate, "--model", source, "-o", target / "s.####.exr", "--device", "cpu",
                               "--codec-path", codec_folder], 2, (codec_folder / "taef2_encoder.safetensors",),
        target, slow=True)

    folder = copy("provenance_damaged")
    (folder / "provenance.json").write_text("[1, 2", encoding="utf-8")
    swap("model_provenance_damaged", folder, (folder / "provenance.json",))

    folder = copy("provenance_wrong_types")
    (folder / "provenance.json").write_text(json.dumps({"codec": {"name": "taef2", "weights_sha256": {}},
                                                        "identities": [1], "step": "many"}), encoding="utf-8")
    swap("model_provenance_wrong_types", folder, (folder / "provenance.json",))

    # Strings in a model's metadata are text: a consent or a name holding Python code is copied, never run.
    folder = copy("provenance_injection")
    edit_json(folder / "provenance.json", lambda data: (data.update(consent=INJECTION), [
        identity.update(name=INJECTION) for identity in data.get("identities", {}).values()]))
    forbidden = (Path.cwd() / "PWNED", folder / "PWNED", inputs / "PWNED")
    target = out("model_provenance_injection_swap")
    add("model_provenance_injection_swap", ["swap", plate, "--model", folder, "-o", target / "s.####.exr",
                                            "--device", "cpu"], 0, output=target / "s.1001.exr", slow=True,
        forbidden=forbidden, note="the consent text lands in the EXR header as text")

    # Awkward plates through the whole swap: NaN/Inf pixels, frames without a face, a malformed track file.
    target = out("nan_inf_swap")
    add("nan_inf_swap", ["swap", inputs / "nan_inf" / "plate.####.exr", "--model", source, "-o",
                         target / "s.####.exr", "--device", "cpu"], 2, ("plate.1001.exr",), target / "s.1001.exr",
        "NaN under the face is refused (compose: fix the plate there)", slow=True)
    target = out("black_white_swap")
    add("black_white_swap", ["swap", inputs / "flat" / "plate.####.exr", "--model", source, "-o",
                             target / "s.####.exr", "--device", "cpu"], 0, output=target / "s.1003.exr",
        slow=True, note="frames without a face are copied unchanged and listed")
    bad_track = inputs / "tracks" / "wrong_version.track.json"
    target = out("track_wrong_version_swap")
    add("track_wrong_version_swap", ["swap", plate, "--model", source, "-o", target / "s.####.exr", "--track",
                                     bad_track], 2, (bad_track,), target, slow=True)
    other_size = inputs / "tracks" / "other_size.track.json"
    target = out("track_other_size_swap")
    add("track_other_size_swap", ["swap", plate, "--model", source, "-o", target / "s.####.exr", "--track",
                                  other_size], 2, (other_size,), target, slow=True)
    target = out("missing_frame_swap")
    add("missing_frame_swap", ["swap", inputs / "gaps" / "plate.####.exr", "--model", source, "-o",
                               target / "s.####.exr"], 2, ("1003",), target, slow=True)

    # A training folder from another trainer version: --resume refuses it naming trainer.json.
    trainer_json = Path(model_dir) / "trainer.json"
    if trainer_json.is_file() and faceset is not None:
        run = models / "resume_other_version"
        if run.exists():
            shutil.rmtree(run)
        shutil.copytree(model_dir, run, ignore=shutil.ignore_patterns("*.onnx", "cache", "previews"))
        edit_json(run / "trainer.json", lambda data: data.update(schema=99))
        add("train_resume_other_version", ["train", "--src", faceset, "--dst", faceset, "-o", run, "--steps", "5",
                                           "--resume", "--device", "cpu", "--consent", "test"], 2,
            (run / "trainer.json",), slow=True)
    if faceset is not None:
        empty_faceset = inputs / "empty_faceset"
        empty_faceset.mkdir(exist_ok=True)
        target = out("train_empty_faceset")
        add("train_empty_faceset", ["train", "--src", empty_faceset, "--dst", faceset, "-o", target / "model",
                                    "--steps", "2", "--device", "cpu", "--consent", "test"], 2,
            (empty_faceset,), target, slow=True)
        target = out("train_codec_without_weights")
        add("train_codec_without_weights", ["train", "--src", faceset, "--dst", faceset, "-o", target / "model",
                                            "--steps", "2", "--codec", "sd-vae", "--device", "cpu"], 2, ("sd-vae",),
            target, slow=True)
        broken_faceset = inputs / "broken_faceset"
        if broken_faceset.exists():
            shutil.rmtree(broken_faceset)
        shutil.copytree(faceset, broken_faceset)
        (broken_faceset / "faceset.json").write_text('{"version": 1, "faces": [', encoding="utf-8")
        target = out("train_broken_faceset")
        add("train_broken_faceset", ["train", "--src", broken_faceset, "--dst", faceset, "-o", target / "model",
                                     "--steps", "2", "--device", "cpu", "--consent", "test"], 2,
            (broken_faceset / "faceset.json",), target, slow=True)
        target = out("eval_other_size")
        add("eval_other_size", ["eval", "--plate", inputs / "plate1" / "plate.####.exr", "--swapped",
                                inputs / "eval_other_size" / "s.####.exr", "--target", faceset, "-o",
                                target / "report"], 2, (inputs / "eval_other_size" / "s.1001.exr",), target)
        target = out("eval_track_other_size")
        other_size = inputs / "tracks" / "other_size.track.json"
        add("eval_track_other_size", ["eval", "--plate", inputs / "plate1" / "plate.####.exr", "--swapped",
                                      inputs / "plate1" / "plate.####.exr", "--target", faceset, "--track",
                                      other_size, "-o", target / "report"], 2, (other_size,), target)
        (inputs / "eval_other_size").mkdir(exist_ok=True)
        shutil.copy(inputs / "mixed" / "plate.1002.exr", inputs / "eval_other_size" / "s.1001.exr")
        target = out("eval_missing_frame")
        add("eval_missing_frame", ["eval", "--plate", inputs / "gaps" / "plate.####.exr", "--swapped", plate,
                                   "--target", faceset, "-o", target / "report"], 2, ("1003",), target, slow=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", metavar="OUT_DIR", help="folder for the bad inputs and cases.json")
    parser.add_argument("--model", metavar="DIR", help="a trained model folder: adds tampered-model cases")
    parser.add_argument("--faceset", metavar="DIR", help="a good faceset folder: adds train and eval cases")
    args = parser.parse_args(argv)
    cases = make_corpus(args.output, args.model, args.faceset)
    (Path(args.output) / "cases.json").write_text(json.dumps([asdict(case) for case in cases], indent=2,
                                                             ensure_ascii=False) + "\n", encoding="utf-8")
    for case in cases:
        print(f"[exit {case.expect}] {case.name}: {case.command_line()}")
    print(f"{len(cases)} cases; written to {Path(args.output) / 'cases.json'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
