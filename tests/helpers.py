"""Small helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import forked_cli
import numpy as np

TINY_FACESET_SIZE = 128
TINY_PLATE_SIZE = (640, 360)
TINY_PLATE_FACELESS_FRAME = 1002  # tiny_plate's frames are 1001-1004; this one holds no face


def similarity(centre: tuple[float, float], side: float, degrees: float) -> np.ndarray:
    """(2, 3) plate pixels -> [0, 1]^2 for a square of ``side`` px centred on ``centre``, turned by ``degrees``."""
    cos, sin = math.cos(math.radians(degrees)) / side, math.sin(math.radians(degrees)) / side
    linear = np.array([[cos, sin], [-sin, cos]])
    return np.hstack([linear, (np.array([0.5, 0.5]) - linear @ np.asarray(centre))[:, np.newaxis]])


def latentswap(*args: str, env: dict[str, str] | None = None, timeout: float = 120, fresh: bool = False,
               cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """The CLI in a process of its own, as users and the Nuke plugin run it.

    The process is forked from a server that has imported the engine (tests/forked_cli.py), which saves the
    suite the seconds of importing torch each run; ``fresh=True`` starts a new interpreter, for tests of what
    happens at import time.
    """
    if fresh:
        return subprocess.run([sys.executable, "-m", "latentswap_core", *args], capture_output=True, text=True,
                              env=env, cwd=cwd, timeout=timeout)
    return forked_cli.run(list(args), env, cwd, timeout)


def installed_latentswap(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The installed command (the console script) in a fresh interpreter: what its start-up prints shows too."""
    return subprocess.run([str(Path(sys.executable).with_name("latentswap")), *args], capture_output=True, text=True,
                          timeout=timeout)


# Peak resident memory of the CLI's own address space (VmHWM), written as it exits. ``ru_maxrss`` from wait4 would
# not do: Linux carries the parent's high-water mark into a child across fork and exec.
_PEAK_MEMORY = """
import atexit, os, re, runpy, sys

def _peak():
    with open("/proc/self/status") as status, open(os.environ["LATENTSWAP_PEAK_FILE"], "w") as out:
        out.write(re.search(r"VmHWM:\\s+(\\d+)", status.read()).group(1))

atexit.register(_peak)
sys.argv[0] = "latentswap"
runpy.run_module("latentswap_core", run_name="__main__")
"""


def latentswap_peak_memory(*args: str, env: dict[str, str] | None = None,
                           timeout: float = 600) -> tuple[subprocess.CompletedProcess, float]:
    """The CLI in a subprocess, as ``latentswap()``, and its peak resident memory in MiB (Linux)."""
    with tempfile.TemporaryDirectory() as folder:
        peak_file = os.path.join(folder, "peak")
        done = subprocess.run([sys.executable, "-c", _PEAK_MEMORY, *args], capture_output=True, text=True,
                              env={**(env if env is not None else os.environ), "LATENTSWAP_PEAK_FILE": peak_file},
                              timeout=timeout)
        peak = int(open(peak_file).read()) / 1024 if os.path.exists(peak_file) else float("nan")
    return done, peak
