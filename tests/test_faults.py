"""Fault injection: training and swaps killed with SIGKILL at random moments, checkpoints cut between any two of
their writes, and two swaps writing one folder at once. What is left must be whole, and a rerun must finish the job.

benchmarks/fault_injection.py runs the same kills many more times and prints the figures."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from faults import check_checkpoint, finish_training, kill_swap_trials, kill_train_trials, partial_files, read_frames
from forked_cli import ForkedRun
from helpers import TINY_FACESET_SIZE, latentswap

from latentswap_core.train import checkpoint as checkpoints

SAVE_EVERY = 2
SWAP_FRAMES = 24


class Killed(BaseException):
    """What the process sees when the kill lands: nothing after it runs."""


def test_a_checkpoint_cut_between_any_two_writes_loads_whole(tiny_model: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    old = checkpoints.load_checkpoint(tiny_model)
    old_step = int(old.trainer["step"])
    model, tensors = old.model, dict(old.tensors)
    parameter = next(name for name, t in model.state_dict().items() if t.is_floating_point())
    original = model.state_dict()[parameter].clone()
    with torch.no_grad():
        model.state_dict()[parameter].add_(1.0)  # the newer checkpoint's weights differ from the saved ones
    newer = {**old.trainer, "step": old_step + 1}
    newer.pop("schema")
    rename, outcomes = os.replace, {}
    # save_checkpoint renames 5 files: cut before the first, ..., after the last; over a checkpoint and as the
    # first checkpoint of a run (nothing saved before it)
    for first, cut in [(first, cut) for first in (False, True) for cut in range(6)]:
        folder = tmp_path / f"cut{cut}{'first' if first else ''}"
        if first:
            folder.mkdir()
        else:
            shutil.copytree(tiny_model, folder)
        renames = []

        def cut_rename(source, target, cut=cut, renames=renames) -> None:
            if len(renames) == cut:
                raise Killed
            renames.append(Path(target).name)
            rename(source, target)

        monkeypatch.setattr(os, "replace", cut_rename)
        try:
            checkpoints.save_checkpoint(folder, model, tensors, newer)
        except Killed:
            pass
        finally:
            monkeypatch.setattr(os, "replace", rename)
        if first and cut == 0:
            assert not checkpoints.has_checkpoint(folder)  # a fresh `latentswap train` starts over
            continue
        loaded = checkpoints.load_checkpoint(folder)  # what --resume loads
        step = int(loaded.trainer["step"])
        assert step in (old_step, old_step + 1), (cut, renames)
        expected = original if step == old_step else model.state_dict()[parameter]
        assert torch.equal(loaded.model.state_dict()[parameter], expected), (cut, renames)
        outcomes[first, cut] = step
    assert outcomes[False, 0] == old_step and outcomes[False, 5] == old_step + 1
    assert set(outcomes.values()) == {old_step, old_step + 1}
    assert all(step == old_step + 1 for (first, _), step in outcomes.items() if first)


def test_a_state_saved_before_it_held_the_weights_still_resumes(tiny_model: Path, tmp_path: Path) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    folder = shutil.copytree(tiny_model, tmp_path / "model")
    state = folder / checkpoints.STATE_FILE
    with safe_open(str(state), "pt") as handle:
        metadata = {key: value for key, value in handle.metadata().items() if key != "trainer"}
        tensors = {key: handle.get_tensor(key) for key in handle.keys()
                   if not key.startswith(checkpoints.WEIGHTS_PREFIX)}
    save_file(tensors, str(state), metadata=metadata)
    loaded = checkpoints.load_checkpoint(folder)
    assert int(loaded.trainer["step"]) == check_checkpoint(tiny_model)
    assert not any(key.startswith(checkpoints.WEIGHTS_PREFIX) for key in loaded.tensors)


@pytest.mark.slow
def test_training_killed_at_random_moments_resumes(tiny_facesets, shared_models, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    trials = kill_train_trials(tiny_facesets, model_dir, trials=2, seed=1, save_every=SAVE_EVERY,
                               size=TINY_FACESET_SIZE)
    trials += kill_train_trials(tiny_facesets, model_dir, trials=2, seed=2, save_every=SAVE_EVERY,
                                size=TINY_FACESET_SIZE, in_writes=True)  # inside checkpoint writes
    assert max(trial.lost for trial in trials) <= SAVE_EVERY
    before, after = finish_training(tiny_facesets, model_dir, 3, SAVE_EVERY, TINY_FACESET_SIZE)
    assert after == before + 3
    with open(model_dir / "losses.csv", newline="") as table:
        assert [int(row["step"]) for row in csv.DictReader(table)] == list(range(1, after + 1))


@pytest.fixture(scope="module")
def shot(tiny_model: Path, shared_dir: Path, tmp_path_factory) -> tuple[list[str], Path]:
    """A 24-frame 640x360 plate, its track, the swap arguments (less -o) and an uninterrupted render."""
    from latentswap_core.demo import shot as shots

    root = tmp_path_factory.mktemp("fault_shot")
    photo = shots.load_photo("biden2", shared_dir)
    poses = [[shots.Pose(angle=1.5 * t, scale=0.55, x=290.0 + 3 * t, y=180.0)] for t in range(SWAP_FRAMES)]
    (root / "plate").mkdir()
    plate = shots.write_exr_plate(shots.render_shot([photo], poses, noise_sigma=2.0, size=(640, 360)).frames,
                                  root / "plate", alpha=True)
    environment = {**os.environ, "LATENTSWAP_MODELS": str(shared_dir / "models")}
    done = latentswap("track", plate, "-o", str(root / "track.json"), env=environment, timeout=300)
    assert done.returncode == 0, done.stderr
    args = ["swap", plate, "--model", str(tiny_model), "--track", str(root / "track.json")]
    (root / "reference").mkdir()
    done = latentswap(*args, "-o", str(root / "reference" / "swap.####.exr"), env=environment, timeout=300)
    assert done.returncode == 0, done.stderr
    return args, root / "reference"


@pytest.mark.slow
def test_a_killed_swap_leaves_whole_frames_and_skip_existing_finishes_it(shot, shared_models, tmp_path: Path) -> None:
    args, reference = shot
    output = tmp_path / "swap"
    output.mkdir()
    arguments = [*args, "-o", str(output / "swap.####.exr")]
    trials = kill_swap_trials(arguments, output, trials=3, seed=2, max_delay=1.5)
    assert any(0 < trial.saved < SWAP_FRAMES for trial in trials), trials  # some kill landed mid-sequence
    kept = len(read_frames(output))
    done = latentswap(*arguments, "--skip-existing", timeout=300)
    assert done.returncode == 0, done.stderr
    assert (f"kept {kept} existing frames" in done.stdout) == (kept > 0), done.stdout
    frames, expected = read_frames(output), read_frames(reference)
    assert sorted(frames) == sorted(expected) and len(frames) == SWAP_FRAMES
    for name, pixels in expected.items():
        assert np.array_equal(frames[name], pixels), name


@pytest.mark.slow
def test_skip_existing_renders_a_lone_missing_frame_as_the_whole_render_did(shot, shared_models,
                                                                            tmp_path: Path) -> None:
    args, reference = shot
    output = tmp_path / "swap"
    shutil.copytree(reference, output)
    (output / "swap.1005.exr").unlink()  # the rerun swaps it alone; the first render, in a batch of four
    done = latentswap(*args, "-o", str(output / "swap.####.exr"), "--skip-existing", timeout=300)
    assert done.returncode == 0, done.stderr
    assert np.array_equal(read_frames(output)["swap.1005.exr"], read_frames(reference)["swap.1005.exr"])


@pytest.mark.slow
def test_two_swaps_into_one_folder_at_once_write_whole_frames(shot, shared_models, tmp_path: Path) -> None:
    args, reference = shot
    output = tmp_path / "swap"
    output.mkdir()
    command = [*args, "-o", str(output / "swap.####.exr"), "--workers", "3", "--frames", "1001-1012"]
    runs = [ForkedRun(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    for run in runs:
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr
    frames = read_frames(output)
    expected = {name: pixels for name, pixels in read_frames(reference).items() if int(name.split(".")[1]) <= 1012}
    assert sorted(frames) == sorted(expected) and len(frames) == 12 and not partial_files(output)
    for name, pixels in expected.items():
        assert np.array_equal(frames[name], pixels), name
