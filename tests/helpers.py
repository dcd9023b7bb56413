"""Small helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import subprocess
import sys

TINY_FACESET_SIZE = 128
TINY_PLATE_SIZE = (640, 360)
TINY_PLATE_FACELESS_FRAME = 1002  # tiny_plate's frames are 1001-1004; this one holds no face


def latentswap(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """The CLI in a subprocess, as users and the Nuke plugin run it."""
    return subprocess.run([sys.executable, "-m", "latentswap_core", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


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
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        peak_file = os.path.join(folder, "peak")
        done = subprocess.run([sys.executable, "-c", _PEAK_MEMORY, *args], capture_output=True, text=True,
                              env={**(env if env is not None else os.environ), "LATENTSWAP_PEAK_FILE": peak_file},
                              timeout=timeout)
        peak = int(open(peak_file).read()) / 1024 if os.path.exists(peak_file) else float("nan")
    return done, peak
