"""Fault injection at scale: `latentswap train` and `latentswap swap` killed with SIGKILL at random moments.

1. Training: real 128 px facesets (obama.jpg + obama2.jpg onto biden2.jpg + biden.jpg, as the tests' tiny
   facesets), a small-preset DF model in TAEF2 latents, checkpoints every ``--save-every`` steps. ``--train-trials``
   times a `latentswap train` (``--resume`` once a checkpoint exists) is killed ``delay`` seconds after its first
   reported step (uniform in 0..``--max-delay``), or, in a quarter of the trials, after its launch (0..4 s: the
   kill may land in the start-up or the resume). After each kill every file of the checkpoint is parsed on its own
   (JSON, safetensors) and the checkpoint is loaded as --resume does; its step must never go back, and the steps
   lost (last step reported minus the checkpoint's step) must be at most one checkpoint interval. A kill that
   leaves a hidden ``.partial-*`` file landed inside a checkpoint write. Then ``--write-trials`` kills are aimed
   at the writes: each lands 0..30 ms after a new hidden partial file appears in the model dir (polled every ms).
   At the end the run is resumed to completion and losses.csv must hold every step once.
2. Swap: a 48-frame 640x360 half-float plate (biden2.jpg moving), tracked once; ``--swap-trials`` times a
   `latentswap swap --skip-existing` into one folder is killed at a random moment. After each kill every
   final-name frame must read back whole, and frames of earlier runs must be untouched; a last rerun finishes
   the sequence, which must equal an uninterrupted render bit for bit.
3. Two swaps of the shot into one folder at the same time: every frame whole and equal to the render.

The killed runs of 1 and 2 fork from the tests' CLI server (tests/forked_cli.py) with the engine already imported,
so a kill timed from the launch lands in the run's own start-up (reading the facesets or the checkpoint), not in
Python's imports.

Run:  .venv/bin/python benchmarks/fault_injection.py [--train-trials 24] [--write-trials 12] [--swap-trials 10]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LATENTSWAP_SHARED", REPO.parent / "shared"))
os.environ.setdefault("LATENTSWAP_MODELS", str(SHARED / "models"))
sys.path.insert(0, str(REPO / "tests"))  # tests/faults.py: the kills and the checks, shared with the tests
sys.path.insert(0, str(REPO / "benchmarks"))

import numpy as np  # noqa: E402
from faults import (  # noqa: E402
    WRITE_DELAY,
    finish_training,
    kill_swap_trials,
    kill_train_trials,
    partial_files,
    read_frames,
)
from machine import cpu_model  # noqa: E402

SIZE = 128
FRAMES = 48


def make_facesets(root: Path) -> tuple[Path, Path]:
    from latentswap_core.extract import ExtractOptions, faceset_from_photos

    for role, names in (("src", ("obama", "obama2")), ("dst", ("biden2", "biden"))):
        faceset_from_photos([SHARED / "data" / "faces" / f"{name}.jpg" for name in names], root / role,
                            ExtractOptions(size=SIZE))
    return root / "src", root / "dst"


def latentswap(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "latentswap_core", *args], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return done


def train_faults(root: Path, facesets: tuple[Path, Path], trials: int, write_trials: int, seed: int,
                 save_every: int, max_delay: float) -> Path:
    print(f"\n1. train: {trials} SIGKILLs at random moments, then {write_trials} aimed inside checkpoint writes; "
          f"--save-every {save_every}, --resolution {SIZE}")
    model_dir, partials, started, results = root / "model", [0], time.perf_counter(), []

    def show(trial) -> None:
        mid_write = trial.partials > partials[-1]
        partials.append(trial.partials)
        moment = "launch" if trial.from_launch else "a write began" if aimed else "step 1"
        print(f"  trial {len(partials) - 2:2d}: killed {trial.delay:5.3f} s after {moment:13s}"
              f"  reported step {trial.reported:4d}  checkpoint step "
              f"{trial.saved:4d}  lost {trial.lost}{'  (inside a checkpoint write)' if mid_write else ''}")

    print(f"  random: {max_delay} s at most after the first step reported, or (a quarter) 4 s after the launch")
    aimed = False
    results += kill_train_trials(facesets, model_dir, trials, seed, save_every, max_delay, SIZE, on_trial=show)
    print(f"  aimed: {WRITE_DELAY} s at most after a hidden partial file appears in the model dir")
    aimed = True
    results += kill_train_trials(facesets, model_dir, write_trials, seed + 1, save_every, max_delay, SIZE,
                                 in_writes=True, on_trial=show)
    before, after = finish_training(facesets, model_dir, 3, save_every, SIZE)
    with open(model_dir / "losses.csv", newline="") as table:
        logged = [int(row["step"]) for row in csv.DictReader(table)]
    assert logged == list(range(1, after + 1)), logged
    writes = sum(1 for a, b in zip(partials, partials[1:], strict=False) if b > a)
    print(f"  {len(results)} kills, {len(results)} checkpoints parsed and loaded, none corrupt, none went back; steps "
          f"lost: max {max(t.lost for t in results)}, mean {sum(t.lost for t in results) / len(results):.2f} (limit "
          f"{save_every}); {writes} kills landed inside a checkpoint write (left a partial file); "
          f"{len(partial_files(model_dir))} hidden partial files left; --resume from step {before} finished at step "
          f"{after}, losses.csv holds steps 1-{after} once each; {time.perf_counter() - started:.0f} s")
    return model_dir


def make_shot(root: Path, model_dir: Path) -> tuple[list[str], Path]:
    from latentswap_core.demo import shot as shots

    photo = shots.load_photo("biden2", SHARED)
    poses = [[shots.Pose(angle=1.0 * t, scale=0.55, x=270.0 + 2 * t, y=180.0)] for t in range(FRAMES)]
    (root / "plate").mkdir()
    plate = shots.write_exr_plate(shots.render_shot([photo], poses, noise_sigma=2.0, size=(640, 360)).frames,
                                  root / "plate", alpha=True)
    latentswap("track", plate, "-o", str(root / "track.json"))
    args = ["swap", plate, "--model", str(model_dir), "--track", str(root / "track.json")]
    (root / "reference").mkdir()
    latentswap(*args, "-o", str(root / "reference" / "swap.####.exr"))
    return args, root / "reference"


def same_frames(output: Path, reference: Path) -> int:
    frames, expected = read_frames(output), read_frames(reference)
    assert sorted(frames) == sorted(expected), (len(frames), len(expected))
    for name, pixels in expected.items():
        assert np.array_equal(frames[name], pixels), name
    return len(frames)


def swap_faults(root: Path, args: list[str], reference: Path, trials: int, seed: int) -> None:
    print(f"\n2. swap --skip-existing: {trials} SIGKILLs of a {FRAMES}-frame 640x360 half-float plate render")
    output = root / "killed"
    output.mkdir()
    arguments = [*args, "-o", str(output / "swap.####.exr")]
    checked = [0]

    def show(trial) -> None:
        checked[0] += trial.saved
        moment = "launch" if trial.from_launch else "frame 1"
        print(f"  trial {trial.trial:2d}: killed {trial.delay:4.2f} s after {moment:7s}"
              f"  frames reported {trial.reported:3d}  on disk, read back "
              f"whole {trial.saved:3d}  hidden partial files {trial.partials}")

    kill_swap_trials(arguments, output, trials, seed, on_trial=show)
    kept = len(read_frames(output))
    latentswap(*arguments, "--skip-existing")
    print(f"  {checked[0]} frame files read back whole after the kills; the rerun kept {kept} and finished the "
          f"rest; {same_frames(output, reference)} frames equal the uninterrupted render bit for bit")


def concurrent_swaps(root: Path, args: list[str], reference: Path) -> None:
    output = root / "together"
    output.mkdir()
    command = [sys.executable, "-m", "latentswap_core", *args, "-o", str(output / "swap.####.exr"), "--workers", "3"]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    codes = [run.wait(600) for run in runs]
    assert codes == [0, 0], [run.stderr.read() for run in runs]
    print(f"\n3. two swaps into one folder at once: both exit 0; {same_frames(output, reference)} frames whole and "
          f"equal to the uninterrupted render; {len(partial_files(output))} partial files left")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-trials", type=int, default=24)
    parser.add_argument("--write-trials", type=int, default=12, help="train kills aimed inside checkpoint writes")
    parser.add_argument("--swap-trials", type=int, default=10)
    parser.add_argument("--save-every", type=int, default=2)
    parser.add_argument("--max-delay", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    import torch

    print(f"fault injection: {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), CPU, seed {options.seed}")
    with tempfile.TemporaryDirectory(prefix="latentswap_faults_") as folder:
        root = Path(folder)
        facesets = make_facesets(root / "facesets")
        model_dir = train_faults(root, facesets, options.train_trials, options.write_trials, options.seed,
                                 options.save_every, options.max_delay)
        args, reference = make_shot(root, model_dir)
        swap_faults(root, args, reference, options.swap_trials, options.seed)
        concurrent_swaps(root, args, reference)


if __name__ == "__main__":
    main()
