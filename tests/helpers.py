"""Small helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import atexit
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

TINY_FACESET_SIZE = 128
TINY_PLATE_SIZE = (640, 360)
TINY_PLATE_FACELESS_FRAME = 1002  # tiny_plate's frames are 1001-1004; this one holds no face


def similarity(centre: tuple[float, float], side: float, degrees: float) -> np.ndarray:
    """(2, 3) plate pixels -> [0, 1]^2 for a square of ``side`` px centred on ``centre``, turned by ``degrees``."""
    cos, sin = math.cos(math.radians(degrees)) / side, math.sin(math.radians(degrees)) / side
    linear = np.array([[cos, sin], [-sin, cos]])
    return np.hstack([linear, (np.array([0.5, 0.5]) - linear @ np.asarray(centre))[:, np.newaxis]])


def latentswap(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
               fresh: bool = False) -> subprocess.CompletedProcess:
    """The CLI in a process of its own, as users and the Nuke plugin run it.

    The process is forked from a server that has imported the engine (tests/cli_server.py), which saves the
    suite the seconds of importing torch each run; ``fresh=True`` starts a new interpreter, for tests of what
    happens at import time.
    """
    command = [sys.executable, "-m", "latentswap_core", *args]
    if fresh:
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    return _fork_server().run(command, list(args), dict(os.environ if env is None else env), timeout)


class _ForkServer:
    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="latentswap-cli-server-")
        self.socket_path = os.path.join(self.folder, "socket")
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("cli_server.py")),
                                         self.socket_path], stdout=subprocess.PIPE, text=True, env=_STARTUP_ENV)
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "ready", (
            "the tests' CLI fork server did not start")
        atexit.register(self.stop)

    def run(self, command: list[str], args: list[str], env: dict[str, str],
            timeout: float) -> subprocess.CompletedProcess:
        with tempfile.TemporaryDirectory(dir=self.folder) as streams:
            stdout, stderr = os.path.join(streams, "stdout"), os.path.join(streams, "stderr")
            request = {"args": args, "env": env, "cwd": os.getcwd(), "stdout": stdout, "stderr": stderr}
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.connect(self.socket_path)
                connection.sendall(json.dumps(request).encode() + b"\n")
                answers = connection.makefile("r")
                pid = int(answers.readline())
                connection.settimeout(timeout)
                try:
                    code = int(answers.readline())
                except TimeoutError:
                    os.killpg(pid, signal.SIGKILL)
                    connection.settimeout(None)
                    connection.makefile("r").readline()  # the exit code of the kill (a timed-out reader is spent)
                    raise subprocess.TimeoutExpired(command, timeout, _read(stdout), _read(stderr)) from None
            return subprocess.CompletedProcess(command, code, _read(stdout), _read(stderr))

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _read(path: str) -> str:
    return Path(path).read_text() if os.path.exists(path) else ""


_STARTUP_ENV = dict(os.environ)  # the server imports the engine under the environment the test run started with
_SERVER: list[_ForkServer] = []
_SERVER_START = threading.Lock()


def _fork_server() -> _ForkServer:
    with _SERVER_START:
        if not _SERVER:
            _SERVER.append(_ForkServer())
    return _SERVER[0]


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
