"""Stale partial files (a killed writer's ``.NAME.partial-PID-TOKEN.EXT``): ``latentswap clean`` and the sweep at
the start of a swap remove those untouched for a day whose writer is gone, and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import latentswap

from latentswap_core.io.atomic import partial_path
from latentswap_core.io.stale_partials import remove_stale_partials, stale_partials

DAY = 24 * 3600


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def partial(folder: Path, name: str, pid: int, age: float) -> Path:
    path = folder / f".{Path(name).stem}.partial-{pid}-0123456789abcdef{Path(name).suffix}"
    path.write_bytes(b"half a frame")
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def test_only_old_partials_of_dead_writers_are_stale(tmp_path: Path) -> None:
    dead = dead_pid()
    stale = partial(tmp_path, "swap.1001.exr", dead, 2 * DAY)
    recent = partial(tmp_path, "swap.1002.exr", dead, 60)  # a writer on another machine may still be at it
    alive = partial(tmp_path, "swap.1003.exr", os.getpid(), 2 * DAY)
    finished = tmp_path / "swap.1004.exr"
    finished.write_bytes(b"a whole frame")
    os.utime(finished, (time.time() - 3 * DAY, time.time() - 3 * DAY))
    lookalike = tmp_path / ".notes.partial-draft.txt"
    lookalike.write_text("not ours")
    os.utime(lookalike, (time.time() - 3 * DAY, time.time() - 3 * DAY))
    assert partial_path(tmp_path / "swap.1001.exr").name.startswith(".swap.1001.partial-")  # the names we match
    assert stale_partials(tmp_path) == [stale]
    assert remove_stale_partials(tmp_path) == [stale]
    assert not stale.exists() and recent.exists() and alive.exists() and finished.exists() and lookalike.exists()


@pytest.mark.parametrize("pid", [0, 2**63, 10**30])
def test_a_pid_no_writer_could_have_is_a_dead_writer(tmp_path: Path, pid: int) -> None:
    """0 would signal our own process group; a PID past the OS's range overflows: both are dead, not alive."""
    stale = partial(tmp_path, "swap.1001.exr", pid, 2 * DAY)
    assert stale_partials(tmp_path) == [stale]


def test_clean_walks_subfolders_and_a_dry_run_removes_nothing(tmp_path: Path) -> None:
    nested = tmp_path / "sh010" / "model"
    nested.mkdir(parents=True)
    stale = partial(nested, "weights.safetensors", dead_pid(), 2 * DAY)
    done = latentswap("clean", str(tmp_path), "--dry-run")
    assert done.returncode == 0 and str(stale) in done.stdout and stale.exists()
    assert "would remove 1 stale partial file(s)" in done.stdout
    done = latentswap("clean", str(tmp_path))
    assert done.returncode == 0 and not stale.exists() and "removed 1 stale partial file(s)" in done.stdout
    refused = latentswap("clean", str(tmp_path / "missing"))
    assert refused.returncode == 2 and refused.stderr == f"latentswap: error: {tmp_path / 'missing'}: not a folder; " \
                                                         "give the output folder to clean\n"


def test_a_swap_sweeps_its_output_folder_first(tiny_model: Path, tiny_plate: Path, shared_models,
                                               tmp_path: Path) -> None:
    stale = partial(tmp_path, "swap.1001.exr", dead_pid(), 2 * DAY)
    done = latentswap("swap", str(tiny_plate), "--model", str(tiny_model), "-o", str(tmp_path / "swap.####.exr"),
                      "--frames", "1001", timeout=300)
    assert done.returncode == 0, done.stderr
    assert not stale.exists() and "removed 1 stale partial file(s) of killed renders" in done.stdout
