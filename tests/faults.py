"""Fault injection, shared by tests/test_faults.py and benchmarks/fault_injection.py: `latentswap train` and
`latentswap swap` killed with SIGKILL at random moments (a seeded RNG), and checks that what they leave is whole."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from forked_cli import ForkedRun
from helpers import latentswap

from latentswap_core.io import read_image
from latentswap_core.io.atomic import PARTIAL_MARK

STARTUP_SHARE = 0.25  # trials whose kill delay counts from the launch (it may land in the start-up or the resume)
WRITE_DELAY = 0.03  # seconds: kills aimed at a checkpoint write land this soon after it begins


@dataclass
class KillTrial:
    trial: int
    delay: float  # seconds from the launch (from_launch) or from the first step or frame reported
    from_launch: bool
    reported: int  # train: the last step reported; swap: frames reported written
    saved: int  # train: the step of the checkpoint left behind; swap: final-name frames left behind
    partials: int  # hidden .partial-* files left behind (a kill cannot remove them)

    @property
    def lost(self) -> int:
        return max(0, self.reported - self.saved)


class _Watched:
    """A CLI process whose --progress-json lines are read on a thread: the last step/frame count reported."""

    def __init__(self, args: list[str], key: str, env: dict[str, str] | None = None) -> None:
        self.key, self.last, self.started = key, 0, threading.Event()
        self.process = ForkedRun(args, env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event.get("event") == "progress":
                self.last = event["step"] if self.key == "step" else event["done"]
                if not event.get("kept"):  # a step trained or a frame written, not a frame kept
                    self.started.set()

    def kill_after(self, delay: float, from_launch: bool, timeout: float = 120, writing: Path | None = None,
                   known: frozenset[Path] = frozenset()) -> int:
        """SIGKILL ``delay`` seconds after the launch or the first report, or with ``writing``, after a hidden
        partial file not in ``known`` appears in that folder (a write has begun); returns the last count reported."""
        deadline = time.monotonic() + timeout
        try:
            while not from_launch and not self.started.wait(0.01) and self.process.poll() is None:
                assert time.monotonic() < deadline, f"nothing reported in {timeout} s"
            while writing is not None and set(partial_files(writing)) <= known and self.process.poll() is None:
                assert time.monotonic() < deadline, f"no write began in {timeout} s"
                time.sleep(0.001)
            time.sleep(delay)
        finally:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout)
            self.thread.join(timeout)
        return self.last


def partial_files(folder: Path) -> list[Path]:
    return [path for path in folder.rglob(f".*{PARTIAL_MARK}*") if path.is_file()]


def train_args(facesets: tuple[Path, Path], model_dir: Path, steps: int, save_every: int, resume: bool,
               size: int) -> list[str]:
    return ["train", "--src", str(facesets[0]), "--dst", str(facesets[1]), "-o", str(model_dir),
            "--resolution", str(size), "--steps", str(steps), "--save-every", str(save_every), "--preview-every", "0",
            "--no-augment", "--consent", "REF-FAULTS", "--progress-json", *(["--resume"] if resume else [])]


def check_checkpoint(model_dir: Path) -> int:
    """Parse every file of a model dir's checkpoint on its own, then load it as --resume does; its step."""
    from safetensors import safe_open

    from latentswap_core.train.checkpoint import load_checkpoint

    for name in ("trainer.json", "model/config.json", "model/provenance.json"):
        if (model_dir / name).is_file():
            json.loads((model_dir / name).read_text(encoding="utf-8"))
    for name in ("trainer_state.safetensors", "model/model.safetensors"):
        if (model_dir / name).is_file():
            with safe_open(str(model_dir / name), "pt") as handle:
                for key in handle.keys():
                    handle.get_tensor(key)
    return int(load_checkpoint(model_dir).trainer["step"])


def kill_train_trials(facesets: tuple[Path, Path], model_dir: Path, trials: int, seed: int = 0, save_every: int = 2,
                      max_delay: float = 1.0, size: int = 128, env: dict[str, str] | None = None,
                      in_writes: bool = False,
                      on_trial: Callable[[KillTrial], None] | None = None) -> list[KillTrial]:
    """Start `latentswap train` (with --resume once a checkpoint exists) and SIGKILL it, ``trials`` times; after
    each kill the checkpoint must parse, load, never go back and lose at most ``save_every`` reported steps.
    ``in_writes``: each kill lands 0..``WRITE_DELAY`` s after a checkpoint write has begun (a partial file shows)."""
    from latentswap_core.train.checkpoint import has_checkpoint

    rng, results, saved = random.Random(seed), [], 0
    for trial in range(trials):
        from_launch = not in_writes and rng.random() < STARTUP_SHARE
        delay = rng.uniform(0.0, WRITE_DELAY if in_writes else 4.0 if from_launch else max_delay)
        known = frozenset(partial_files(model_dir)) if model_dir.is_dir() else frozenset()
        run = _Watched(train_args(facesets, model_dir, 10**6, save_every, has_checkpoint(model_dir), size), "step",
                       env)
        reported = run.kill_after(delay, from_launch, writing=model_dir if in_writes else None, known=known)
        step = check_checkpoint(model_dir) if has_checkpoint(model_dir) else 0
        result = KillTrial(trial, delay, from_launch, reported, step, len(partial_files(model_dir)))
        assert step >= saved, f"trial {trial}: the checkpoint went back from step {saved} to {step}"
        assert result.lost <= save_every, f"trial {trial}: step {reported} reported, checkpoint at {step}"
        saved = step
        results.append(result)
        if on_trial:
            on_trial(result)
    return results


def finish_training(facesets: tuple[Path, Path], model_dir: Path, extra_steps: int, save_every: int = 2,
                    size: int = 128, env: dict[str, str] | None = None) -> tuple[int, int]:
    """--resume the killed run for ``extra_steps`` more steps to the end: (step before, step after)."""
    before = check_checkpoint(model_dir)
    done = latentswap(*train_args(facesets, model_dir, before + extra_steps, save_every, True, size), env=env,
                      timeout=300)
    assert done.returncode == 0, done.stderr
    return before, check_checkpoint(model_dir)


def read_frames(folder: Path) -> dict[str, np.ndarray]:
    """Every final-name EXR in ``folder``, read back whole (read_image raises on a truncated file)."""
    return read_frames_of(sorted(folder.glob("[!.]*.exr")))


def read_frames_of(paths: list[Path]) -> dict[str, np.ndarray]:
    frames = {}
    for path in paths:
        image = read_image(path)
        assert image.channels[:4] == ("R", "G", "B", "A") and "lsmask.Y" in image.channels, (path, image.channels)
        assert np.isfinite(image.pixels.astype(np.float32)).all(), path
        frames[path.name] = image.pixels
    return frames


def _read_frames_as_they_appear(output: Path, process: ForkedRun, seen: list[str | Exception]) -> None:
    """While ``process`` runs, read each final-name frame as soon as it shows: a writer that filled files under
    their final names would be caught half-way (read_image raises)."""
    try:
        while process.poll() is None:
            for path in sorted(output.glob("[!.]*.exr")):
                if path.name not in seen:
                    read_frames_of([path])
                    seen.append(path.name)
            time.sleep(0.005)
    except Exception as error:  # handed to the calling thread
        seen.append(error)


def kill_swap_trials(swap_args: list[str], output: Path, trials: int, seed: int = 0, max_delay: float = 1.5,
                     env: dict[str, str] | None = None,
                     on_trial: Callable[[KillTrial], None] | None = None) -> list[KillTrial]:
    """Run `latentswap swap ... --skip-existing` into ``output`` and SIGKILL it, ``trials`` times: after each kill
    every final-name frame reads back whole, and the frames of earlier runs are kept (not rewritten)."""
    rng, results = random.Random(seed), []
    for trial in range(trials):
        from_launch = rng.random() < STARTUP_SHARE
        delay = rng.uniform(0.0, 4.0 if from_launch else max_delay)
        before = {path.name: path.stat().st_mtime_ns for path in output.glob("[!.]*.exr")}
        run = _Watched([*swap_args, "--skip-existing", "--progress-json"], "done", env)
        seen_whole: list[str | Exception] = []
        reader = threading.Thread(target=_read_frames_as_they_appear, args=(output, run.process, seen_whole))
        reader.start()
        reported = run.kill_after(delay, from_launch)
        reader.join()
        errors = [item for item in seen_whole if isinstance(item, Exception)]
        assert not errors, f"trial {trial}: a frame under its final name did not read back whole: {errors[0]}"
        frames = read_frames(output)
        assert set(seen_whole) <= set(frames), f"trial {trial}: a frame read whole vanished"
        after = {path.name: path.stat().st_mtime_ns for path in output.glob("[!.]*.exr")}
        assert all(after.get(name) == stamp for name, stamp in before.items()), f"trial {trial}: a kept frame changed"
        result = KillTrial(trial, delay, from_launch, reported, len(frames), len(partial_files(output)))
        assert result.lost == 0, f"trial {trial}: {reported} frames reported written, {len(frames)} on disk"
        results.append(result)
        if on_trial:
            on_trial(result)
    return results
