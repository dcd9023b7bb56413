"""``latentswap`` runs forked from the tests' CLI fork server (tests/cli_server.py), as the tests' processes.

- ``run``: a finished run's output and exit code, as ``subprocess.run`` gives them.
- ``ForkedRun``: a run in progress, as ``subprocess.Popen`` holds one (pipes, signals, kill, wait): for tests that
  read its progress while it runs, interrupt it or kill it.
- ``executable()``: a ``latentswap`` executable that forks its run from the server, for code under test that
  starts the CLI itself (the Nuke plugin). Signals it gets reach the run; killed, it takes the run with it.

A forked run starts with the engine imported; a fresh interpreter spends 2-4 s of the CI's two cores importing it.
"""

from __future__ import annotations

import atexit
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO

_STARTUP_ENV = dict(os.environ)  # the server imports the engine under the environment the test run started with
_SERVER: list[_ForkServer] = []
_SERVER_START = threading.Lock()

# The executable of ``executable()``: a shell line that runs this with the tests' Python (quoted: a path may hold
# spaces, which a #! line cannot), the standard library only, so that it starts in milliseconds.
_LAUNCHER = """#!/bin/sh
exec {python} -I {script} "$@"
"""
_FORWARDER = """import json, os, signal, socket, sys

connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
connection.connect({socket_path!r})
request = {{"args": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd()}}
socket.send_fds(connection, [json.dumps(request).encode() + b"\\n"], [0, 1, 2])
answers = connection.makefile("r")
pid = int(answers.readline())


def forward(number, _frame):
    try:
        os.kill(pid, number)
    except ProcessLookupError:  # the run has ended: its code is on its way
        pass


for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
    signal.signal(number, forward)
code = int(answers.readline())
if code < 0:  # killed by a signal: so is this, as the parent of a killed engine sees it
    if -code not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


class _ForkServer:
    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="latentswap-cli-server-")
        self.socket_path = os.path.join(self.folder, "socket")
        self.process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("cli_server.py")),
                                         self.socket_path], stdout=subprocess.PIPE, text=True, env=_STARTUP_ENV)
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "ready", (
            "the tests' CLI fork server did not start")
        forwarder = os.path.join(self.folder, "forward.py")
        with open(forwarder, "w") as script:
            script.write(_FORWARDER.format(socket_path=self.socket_path))
        self.executable = os.path.join(self.folder, "latentswap")
        with open(self.executable, "w") as script:
            script.write(_LAUNCHER.format(python=shlex.quote(sys.executable), script=shlex.quote(forwarder)))
        os.chmod(self.executable, 0o755)
        atexit.register(self.stop)

    def start(self, args: list[str], env: dict[str, str], cwd: str, streams: list[int]) -> tuple[socket.socket, int]:
        """Fork a run with ``streams`` as its stdin, stdout and stderr: the open connection and the run's pid."""
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(self.socket_path)
        request = {"args": args, "env": env, "cwd": cwd}
        socket.send_fds(connection, [json.dumps(request).encode() + b"\n"], streams)
        return connection, int(_read_line(connection))

    def stop(self) -> None:
        """SIGTERM: the server kills the runs still going, then exits."""
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _server() -> _ForkServer:
    with _SERVER_START:
        if not _SERVER:
            _SERVER.append(_ForkServer())
    return _SERVER[0]


def _read_line(connection: socket.socket) -> str:
    """One answer line, read a byte at a time so that nothing after it is taken from the socket."""
    line = b""
    while not line.endswith(b"\n"):
        byte = connection.recv(1)
        if not byte:
            raise ConnectionError("the tests' CLI fork server closed the connection")
        line += byte
    return line.decode()


def executable() -> str:
    """A ``latentswap`` executable whose runs fork from the server."""
    return _server().executable


class ForkedRun:
    """``python -m latentswap_core ARGS`` forked from the server, held as ``subprocess.Popen`` holds a process:
    ``stdout``/``stderr`` are ``subprocess.PIPE`` (text streams on the attribute), ``subprocess.DEVNULL``, a file
    descriptor, or None (this process's)."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None, cwd: str | os.PathLike | None = None,
                 stdout: int | None = None, stderr: int | None = None) -> None:
        self.args = [sys.executable, "-m", "latentswap_core", *args]
        self.returncode: int | None = None
        self.stdout: IO[str] | None = None
        self.stderr: IO[str] | None = None
        self._ended = threading.Event()
        theirs = [os.open(os.devnull, os.O_RDONLY)]
        try:
            for name, choice in (("stdout", stdout), ("stderr", stderr)):
                if choice == subprocess.PIPE:
                    reader, writer = os.pipe()
                    setattr(self, name, open(reader, encoding="utf-8"))
                    theirs.append(writer)
                elif choice == subprocess.DEVNULL:
                    theirs.append(os.open(os.devnull, os.O_WRONLY))
                else:
                    theirs.append(os.dup((1 if name == "stdout" else 2) if choice is None else choice))
            self._connection, self.pid = _server().start(
                args, dict(os.environ if env is None else env), str(cwd or os.getcwd()), theirs)
            threading.Thread(target=self._await_exit_code, daemon=True).start()
        except BaseException:
            for stream in (self.stdout, self.stderr):
                if stream is not None:
                    stream.close()
            raise
        finally:
            for fd in theirs:
                os.close(fd)

    def _await_exit_code(self) -> None:
        """On a thread of its own: the exit code, whenever it comes (poll and wait read it from any thread)."""
        try:
            self.returncode = int(_read_line(self._connection))
        except ConnectionError:  # the server went away: wait() says so
            pass
        finally:
            self._connection.close()
            self._ended.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        if self.returncode is None:
            raise ConnectionError("the tests' CLI fork server closed the connection without an exit code")
        return self.returncode

    def send_signal(self, number: int) -> None:
        """As Popen's: nothing once the run has ended."""
        if self.poll() is None:
            try:
                os.kill(self.pid, number)
            except ProcessLookupError:  # ended since: its exit code is on its way
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to the run's process group (it leads its own session), as the server's own timeout does."""
        if self.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:  # not yet the leader of its group (setsid), or ended since
                self.send_signal(signal.SIGKILL)

    def communicate(self, timeout: float | None = None) -> tuple[str | None, str | None]:
        """The rest of stdout and stderr (read on threads, so that neither pipe fills up), after the run ends."""
        texts: dict[str, str] = {}
        readers = [threading.Thread(target=lambda name=name, stream=stream: texts.__setitem__(name, stream.read()),
                                    daemon=True)
                   for name, stream in (("stdout", self.stdout), ("stderr", self.stderr)) if stream is not None]
        for reader in readers:
            reader.start()
        self.wait(timeout)
        for reader in readers:
            reader.join(timeout)
        for stream in (self.stdout, self.stderr):
            if stream is not None:
                stream.close()
        return texts.get("stdout"), texts.get("stderr")


def run(args: list[str], env: dict[str, str] | None = None, cwd: str | os.PathLike | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """A run to its end: output and exit code; past ``timeout`` s it is killed and ``TimeoutExpired`` raised."""
    with tempfile.TemporaryDirectory(dir=_server().folder) as streams:
        paths = [os.path.join(streams, name) for name in ("stdout", "stderr")]
        files = [os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) for path in paths]
        try:
            forked = ForkedRun(args, env, cwd, stdout=files[0], stderr=files[1])
        finally:
            for fd in files:
                os.close(fd)
        try:
            code = forked.wait(timeout)
        except subprocess.TimeoutExpired:
            forked.kill()
            forked.wait()
            raise subprocess.TimeoutExpired(forked.args, timeout, _read(paths[0]), _read(paths[1])) from None
        return subprocess.CompletedProcess(forked.args, code, _read(paths[0]), _read(paths[1]))


def _read(path: str) -> str:
    return Path(path).read_text() if os.path.exists(path) else ""
