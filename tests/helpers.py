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
