"""Peak memory of streaming passes over a 4K, 300-frame half-float EXR plate: it must not grow with the frame count.

The plate: ``--distinct`` frames of a synthetic shot (biden2.jpg's face, about 900 px tall, turning and moving over
a blurred photo background with sensor noise; ``latentswap_core.demo.shot``) rendered at ``--size`` and written
once as half-float ACEScg RGBA EXRs, then hard-linked under all ``--frames`` frame names (plate.1001.exr, ...): a
real 300-frame sequence on disk for the cost of a few frames. Each pass runs the CLI in a fresh subprocess and
reads its peak resident memory (VmHWM of its own address space, as it exits), and the wall time.

Passes over the whole sequence:
- ``latentswap info``: checks every frame's header, reads the first frame;
- ``latentswap convert -o proxy.####.jpg --output-colorspace "sRGB - Texture"``: reads, converts and writes every
  frame (JPEG proxies, removed after);
- ``latentswap track``: reads every frame and finds the face (a small JSON out).
And over a short and a longer range, to show peak memory is flat in the frame count:
- ``latentswap swap --track`` with a tiny model (128 px faces, trained ``--train-steps`` steps here): 4K EXRs with
  comp, face and mask layers out (removed after), for ``--swap-frames`` (default 10 and 40) frames, also printing
  the peak so far (VmHWM) as frames complete;
- the same ``convert`` and ``track`` for the first ``--short`` frames.

Run:  .venv/bin/python benchmarks/memory_4k.py [--frames 300] [--size 4096x2160] [--swap-frames 10,40]
      Needs about (distinct + 1) x 70 MB of disk for the plate and swap outputs (checked with df first).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LATENTSWAP_SHARED", REPO.parent / "shared"))
os.environ.setdefault("LATENTSWAP_MODELS", str(SHARED / "models"))
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests"))  # helpers.latentswap_peak_memory, shared with tests/test_memory.py

from helpers import latentswap_peak_memory  # noqa: E402
from machine import cpu_model  # noqa: E402

FIRST = 1001


def peak_rss(*args: str) -> tuple[float, float, str]:
    """Run the CLI in a subprocess: (peak resident MiB, wall seconds, stdout)."""
    started = time.perf_counter()
    done, peak = latentswap_peak_memory(*args, timeout=3600)
    assert done.returncode == 0, done.stderr[-2000:]
    return peak, time.perf_counter() - started, done.stdout


def peak_by_frame(*args: str) -> tuple[float, float, list[tuple[int, float]]]:
    """Run the CLI with --progress-json: (peak MiB, wall seconds, [(frames done, peak MiB so far)]), the peak so
    far read from /proc/PID/status (VmHWM) at each progress event."""
    started, timeline = time.perf_counter(), []
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "latentswap_core", *args, "--progress-json"],
                                   stdout=subprocess.PIPE, stderr=stderr, text=True)
        status = Path(f"/proc/{process.pid}/status")
        for line in process.stdout:
            if '"progress"' in line:
                try:
                    hwm = re.search(r"VmHWM:\s+(\d+)", status.read_text()).group(1)
                except (OSError, AttributeError):
                    break
                timeline.append((json.loads(line)["done"], int(hwm) / 1024))
        process.wait()
        stderr.seek(0)
        assert process.returncode == 0, stderr.read()[-2000:]
    return (timeline[-1][1] if timeline else float("nan")), time.perf_counter() - started, timeline


def make_plate(folder: Path, size: tuple[int, int], distinct: int, frames: int) -> str:
    from latentswap_core.demo import shot as shots

    photo = shots.load_photo("biden2", SHARED)
    width, height = size
    scale = 3.0 * height / 2160
    poses = [[shots.Pose(angle=4.0 * t, scale=scale, x=width / 2 + 40 * t, y=height / 2)] for t in range(distinct)]
    rendered = folder / "rendered"
    rendered.mkdir(parents=True)
    shots.write_exr_plate(shots.render_shot([photo], poses, noise_sigma=2.0, size=size).frames, rendered, alpha=True)
    plate = folder / "plate"
    plate.mkdir()
    for index in range(frames):
        os.link(rendered / f"plate.{FIRST + index % distinct:04d}.exr", plate / f"plate.{FIRST + index:04d}.exr")
    return str(plate / "plate.####.exr")


def train_tiny_model(folder: Path, steps: int) -> Path:
    from latentswap_core.extract import ExtractOptions, faceset_from_photos
    from latentswap_core.train import Trainer, TrainOptions

    for role, names in (("src", ("obama", "obama2")), ("dst", ("biden2", "biden"))):
        faceset_from_photos([SHARED / "data" / "faces" / f"{name}.jpg" for name in names], folder / role,
                            ExtractOptions(size=128))
    Trainer(TrainOptions(folder / "src", folder / "dst", folder / "model", resolution=128, steps=steps,
                         preview_every=0, augment=False, consent="BENCH")).run()
    return folder / "model"


def frame_range(count: int) -> str:
    return f"{FIRST}-{FIRST + count - 1}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", default="4096x2160")
    parser.add_argument("--distinct", type=int, default=4, help="frames rendered; the rest are hard links")
    parser.add_argument("--short", type=int, default=30, help="frames of the short range (convert, track)")
    parser.add_argument("--swap-frames", default="10,40", help="frame counts of the swap passes")
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--skip", default="", help="passes to leave out: info, convert, track (then only the "
                        "swap frames are tracked)")
    options = parser.parse_args()
    size = tuple(int(side) for side in options.size.split("x"))
    skip = set(filter(None, options.skip.split(",")))
    import torch

    scratch = Path(tempfile.gettempdir())
    free = shutil.disk_usage(scratch).free / 2**30
    frame_mib = size[0] * size[1] * 4 * 2 / 2**20
    print(f"peak memory of streaming passes: {size[0]}x{size[1]} half RGBA EXR plate ({frame_mib:.0f} MiB a frame "
          f"in memory), {options.frames} frames ({options.distinct} rendered, the rest hard links); "
          f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} CPU ({torch.get_num_threads()} threads); "
          f"{free:.0f} GiB free in {scratch}")
    rows = []

    def measure(name: str, count: int, *args: str) -> float:
        rss, seconds, _ = peak_rss(*args)
        rows.append((name, count, rss, seconds))
        print(f"  {name:<34s} {count:4d} frames  peak RSS {rss:7.0f} MiB  {seconds:6.1f} s  "
              f"({seconds / count:.2f} s/frame)", flush=True)
        return rss

    with tempfile.TemporaryDirectory(prefix="latentswap_memory_") as folder:
        root = Path(folder)
        started = time.perf_counter()
        plate = make_plate(root, size, options.distinct, options.frames)
        used = sum(path.stat().st_size for path in (root / "rendered").iterdir()) / 2**20
        print(f"plate written in {time.perf_counter() - started:.0f} s: {used:.0f} MiB on disk for "
              f"{options.frames} frames", flush=True)
        if "info" not in skip:
            measure("info", options.frames, "info", plate)
        track = root / "track.json"
        swap_counts = [int(count) for count in options.swap_frames.split(",") if count]
        if "track" not in skip:
            for count in (options.short, options.frames):
                measure("track", count, "track", plate, "--frames", frame_range(count), "-o", str(track))
        elif swap_counts:
            measure("track", max(swap_counts), "track", plate, "--frames", frame_range(max(swap_counts)), "-o",
                    str(track))
        if swap_counts:
            model = train_tiny_model(root / "model", options.train_steps)
            for count in swap_counts:
                output = root / "swap"
                output.mkdir()
                peak, seconds, timeline = peak_by_frame(
                    "swap", plate, "--frames", frame_range(count), "--model", str(model), "--track", str(track),
                    "-o", str(output / "swap.####.exr"))
                rows.append(("swap", count, peak, seconds))
                marks = sorted({max(1, round(count * share)) for share in (0.1, 0.25, 0.5, 0.75, 1.0)})
                print(f"  {'swap (tiny model, 128 px faces)':<34s} {count:4d} frames  peak RSS {peak:7.0f} MiB  "
                      f"{seconds:6.1f} s  ({seconds / count:.2f} s/frame); peak so far after frame "
                      + ", ".join(f"{done}: {hwm:.0f}" for done, hwm in timeline if done in marks), flush=True)
                shutil.rmtree(output)
        if "convert" not in skip:
            for count in (options.short, options.frames):
                proxies = root / "proxies"
                proxies.mkdir()
                measure("convert to sRGB JPEG proxies", count, "convert", plate, "--frames", frame_range(count), "-o",
                        str(proxies / "proxy.####.jpg"), "--output-colorspace", "sRGB - Texture")
                shutil.rmtree(proxies)
    print("peak RSS by pass (MiB): " + "; ".join(
        f"{name.split(' ')[0]} {', '.join(f'{count} frames {rss:.0f}' for n, count, rss, _ in rows if n == name)}"
        for name in dict.fromkeys(row[0] for row in rows)))


if __name__ == "__main__":
    main()
