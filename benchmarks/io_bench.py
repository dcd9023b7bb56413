"""EXR sequence throughput: LatentSwap's own I/O against OpenCV's and OpenEXR's EXR codecs, in one run.

Writes N half-float RGBA EXR frames (zip) at 1920x1080 and 4096x2160 with ``write_image``, reads them
back through ``open_source``/``read_image`` (as stored half, and converted to float32), then reads the
same files with ``cv2.imread`` and writes the same frames with ``cv2.imwrite`` as the reference. It
prints frames/s, MB/s (bytes of the files) and ms/frame per pass, best of ``--repeats`` passes, and the
ratio ours/OpenCV (above 1 = ours faster). OpenCV wheels are often built without OpenEXR (5.0.0.93
is); then the script says so, and the OpenEXR Python bindings (Academy Software Foundation's own
reader/writer, pinned in constraints.txt) serve as the reference in the same way.

Frames are plate-like, not noise: a scene-linear gradient (highlights above 1.0), a real photograph
tiled into it and low-amplitude grain. The photo is ``$LATENTSWAP_SHARED/data/faces/obama.jpg``
(default ``<repo>/../shared``). Reads follow the writes, so files come from the page cache: this
measures decode/encode cost, not the disk. ``write_image`` also fsyncs and renames every frame
(atomic writes); ``cv2.imwrite`` does neither. Temporary files go under $TMPDIR and are removed.

Run:  .venv/bin/python benchmarks/io_bench.py [--frames N] [--repeats R] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ["OPENCV_IO_ENABLE_OPENEXR"] = "1"  # must be set before cv2 is imported

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import OpenEXR  # noqa: E402
import OpenImageIO as oiio  # noqa: E402
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from latentswap_core.io import Image, open_source, read_image, write_image  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LATENTSWAP_SHARED", REPO.parent / "shared"))
RESOLUTIONS = {"1920x1080": (1920, 1080, 12), "4096x2160": (4096, 2160, 6)}  # width, height, default frames
CHANNELS = ("R", "G", "B", "A")
CV_WRITE_FLAGS = [cv2.IMWRITE_EXR_TYPE, cv2.IMWRITE_EXR_TYPE_HALF]
if hasattr(cv2, "IMWRITE_EXR_COMPRESSION_ZIP"):
    CV_WRITE_FLAGS += [cv2.IMWRITE_EXR_COMPRESSION, cv2.IMWRITE_EXR_COMPRESSION_ZIP]


def opencv_has_exr() -> bool:
    """True if this cv2 build can write and read back an EXR (pip wheels may be built without OpenEXR)."""
    with tempfile.TemporaryDirectory(prefix="io_bench_probe_") as folder:
        probe = os.path.join(folder, "probe.exr")
        try:
            written = cv2.imwrite(probe, np.ones((8, 8, 4), np.float32), CV_WRITE_FLAGS)
        except cv2.error:
            return False
        return bool(written) and cv2.imread(probe, cv2.IMREAD_UNCHANGED) is not None


def make_frames(width: int, height: int, count: int) -> list[np.ndarray]:
    """``count`` distinct plate-like RGBA float16 frames: gradient sky, tiled photo, grain, soft alpha."""
    photo = read_image(SHARED / "data" / "faces" / "obama.jpg").rgb_float() ** 2.2  # ~sRGB -> linear
    tile_h = height // 2
    tile_w = tile_h * photo.shape[1] // photo.shape[0]
    tile = cv2.resize(photo, (tile_w, tile_h), interpolation=cv2.INTER_AREA)
    tiled = np.tile(tile, (3, width // tile.shape[1] + 2, 1))
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    sky = (0.05 + 3.5 * (1 - y / height) ** 4 * (0.6 + 0.4 * x / width))[..., None]  # up to ~3.5 at the top
    alpha = np.clip(1.5 - np.hypot(x / width - 0.5, y / height - 0.5) * 2.5, 0, 1)[..., None]
    rng = np.random.default_rng(1)
    frames = []
    for index in range(count):
        shift = 7 * index  # a slow pan, so no two frames are byte-identical
        plate = 0.8 * tiled[height // 4:height // 4 + height, shift:shift + width] + 0.5 * sky
        plate = plate + rng.normal(0, 0.004, plate.shape).astype(np.float32)
        frames.append(np.concatenate([plate, alpha], axis=2).astype(np.float16))
    return frames


def best_of(repeats: int, run: Callable[[], None]) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``run``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def check_opencv_read(ours: np.ndarray, theirs: np.ndarray | None, path: Path) -> None:
    """Fail loudly unless OpenCV decoded the same pixels we did (it returns BGRA float32)."""
    if theirs is None:
        raise SystemExit(f"FAIL: cv2.imread returned None for {path}; OpenCV did not read the EXR")
    if theirs.shape != ours.shape or theirs.dtype != np.float32:
        raise SystemExit(f"FAIL: cv2.imread gave {theirs.shape} {theirs.dtype}, "
                         f"expected {ours.shape} float32 for {path}")
    difference = np.abs(theirs[..., [2, 1, 0, 3]] - ours.astype(np.float32)).max()
    if not difference <= 1e-3:
        raise SystemExit(f"FAIL: cv2.imread pixels differ from read_image by up to {difference} in {path}")


def check_openexr_read(ours: np.ndarray, path: Path) -> None:
    theirs = OpenEXR.File(str(path)).channels()["RGBA"].pixels
    if theirs.shape != ours.shape or theirs.tobytes() != ours.tobytes():
        raise SystemExit(f"FAIL: the OpenEXR bindings decoded other pixels than read_image from {path}")


def bench_resolution(name: str, width: int, height: int, frames: int, repeats: int, opencv: bool) -> None:
    pool = make_frames(width, height, min(frames, 4))
    images = [Image(pool[i % len(pool)], CHANNELS) for i in range(frames)]
    bgra = [np.ascontiguousarray(image.pixels[..., [2, 1, 0, 3]].astype(np.float32)) for image in images]
    with tempfile.TemporaryDirectory(prefix="io_bench_") as folder:
        ours = [Path(folder, f"ours.{1001 + i:04d}.exr") for i in range(frames)]
        theirs = [Path(folder, f"cv.{1001 + i:04d}.exr") for i in range(frames)]
        rows = {}  # key -> (label, best seconds, files whose bytes count for MB/s)

        def write_ours() -> None:
            for path, image in zip(ours, images, strict=True):
                write_image(path, image)

        def read_ours(as_float32: bool) -> None:
            for _, image in open_source(os.path.join(folder, "ours.####.exr")):
                if as_float32:
                    image.pixels.astype(np.float32)

        def write_cv() -> None:
            for path, pixels in zip(theirs, bgra, strict=True):
                if not cv2.imwrite(str(path), pixels, CV_WRITE_FLAGS):
                    raise SystemExit(f"FAIL: cv2.imwrite could not write {path}")

        def read_cv() -> None:
            for path in ours:
                if cv2.imread(str(path), cv2.IMREAD_UNCHANGED) is None:
                    raise SystemExit(f"FAIL: cv2.imread could not read {path}")

        def write_openexr() -> None:
            header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
            for path, image in zip(theirs, images, strict=True):
                OpenEXR.File(header, {"RGBA": image.pixels}).write(str(path))

        def read_openexr() -> None:
            for path in ours:
                OpenEXR.File(str(path)).channels()["RGBA"].pixels  # noqa: B018 (decoding is the work)

        def timed(key: str, label: str, run: Callable[[], None], paths: list[Path]) -> None:
            rows[key] = (label, best_of(repeats, run), paths)

        timed("write", "write  latentswap write_image (half)", write_ours, ours)
        timed("read", "read   latentswap read_image -> half", lambda: read_ours(False), ours)
        timed("read32", "read   latentswap read_image -> float32", lambda: read_ours(True), ours)
        if opencv:
            check_opencv_read(images[0].pixels, cv2.imread(str(ours[0]), cv2.IMREAD_UNCHANGED), ours[0])
            timed("cv_write", "write  cv2.imwrite (half, from float32 BGRA)", write_cv, theirs)
            timed("cv_read", "read   cv2.imread -> float32 BGRA", read_cv, ours)
        check_openexr_read(images[0].pixels, ours[0])
        timed("exr_write", "write  OpenEXR bindings (half)", write_openexr, theirs)
        timed("exr_read", "read   OpenEXR bindings -> half", read_openexr, ours)
        print_table(name, frames, repeats, rows)


def print_table(name: str, frames: int, repeats: int, rows: dict[str, tuple[str, float, list[Path]]]) -> None:
    print(f"\n{name}: {frames} frames, best of {repeats} passes (reads come from the page cache)")
    print(f"  {'pass':<46}{'frames/s':>9}{'MB/s':>8}{'ms/frame':>10}{'MB/frame':>10}")
    fps = {}
    for key, (label, seconds, paths) in rows.items():
        megabytes = sum(path.stat().st_size for path in paths) / 1e6
        fps[key] = frames / seconds
        print(f"  {label:<46}{fps[key]:>9.2f}{megabytes / seconds:>8.1f}"
              f"{1000 * seconds / frames:>10.1f}{megabytes / frames:>10.2f}")
    if "cv_read" in fps:
        print(f"  ratio ours/OpenCV (>1 = ours faster): read {fps['read'] / fps['cv_read']:.2f} (half), "
              f"{fps['read32'] / fps['cv_read']:.2f} (float32, like OpenCV); "
              f"write {fps['write'] / fps['cv_write']:.2f}")
    else:
        print("  ratio ours/OpenCV: n/a (this OpenCV build has no EXR support)")
    print(f"  ratio ours/OpenEXR bindings (>1 = ours faster): read {fps['read'] / fps['exr_read']:.2f}, "
          f"write {fps['write'] / fps['exr_write']:.2f} (ours also fsyncs and renames each frame)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, help="frames per resolution (default: 12 at 1080p, 6 at 4K)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes (min 2); best is kept")
    parser.add_argument("--quick", action="store_true", help="tiny run: 2 frames per resolution")
    args = parser.parse_args()
    repeats = max(args.repeats, 2)
    opencv = opencv_has_exr()
    print("LatentSwap EXR I/O benchmark")
    print(f"  frames: half-float {''.join(CHANNELS)}, EXR compression zip (write_image default), scanline")
    print(f"  CPUs: {os.cpu_count()} (usable {len(os.sched_getaffinity(0))}); OpenImageIO threads "
          f"{oiio.get_int_attribute('threads')}, exr_threads {oiio.get_int_attribute('exr_threads')}; "
          f"OpenCV threads {cv2.getNumThreads()}")
    print(f"  OpenImageIO {oiio.__version__}, OpenCV {cv2.__version__}, OpenEXR {OpenEXR.__version__}, "
          f"numpy {np.__version__}, Python {platform.python_version()}")
    print(f"  machine: {cpu_model()}, {platform.platform()}")
    print(f"  temp dir: {tempfile.gettempdir()}; photo: {SHARED / 'data' / 'faces' / 'obama.jpg'}")
    if not opencv:
        print("  OpenCV reference: UNAVAILABLE - this cv2 build cannot read/write EXR (OpenEXR not compiled "
              "in, see cv2.getBuildInformation()); the OpenEXR bindings are the reference")
    for name, (width, height, default_frames) in RESOLUTIONS.items():
        frames = 2 if args.quick else args.frames or default_frames
        bench_resolution(name, width, height, frames, repeats, opencv)


if __name__ == "__main__":
    sys.exit(main())
