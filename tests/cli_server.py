"""A fork server for the tests: one process imports the engine once, and every ``latentswap`` run forks from it.

A fresh ``python -m latentswap_core`` spends 2-4 s of the CI's two cores importing torch, OpenCV, OpenImageIO and
the engine, and the suite runs the command a few hundred times. A forked child starts with those modules imported
but unused and runs the same ``__main__`` with its own argv, environment, working folder and standard streams, in
its own session, and exits with the command's code: what a test sees is what a fresh process shows. Tests of
import-time behaviour run a fresh process instead (``helpers.latentswap(..., fresh=True)``).

Protocol, one Unix-socket connection a run: the client sends one JSON line (args, env, cwd) with three file
descriptors attached (SCM_RIGHTS), which become the child's stdin, stdout and stderr: files, pipes or the client's
own streams. The server answers the child's pid, then its exit code (-N: killed by signal N). A client that goes
away first (killed, say) takes the run with it: the child's process group is killed, as a parent's death would end
a command it ran in its own terminal.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import runpy
import select
import signal
import socket
import sys
import threading
import traceback

# What the runs import, so that no child imports it again (a module's import is its compiled code too where the
# environment writes no bytecode: PYTHONDONTWRITEBYTECODE): torch._dynamo, which a torch optimizer's first
# construction imports (0.8 s of every `latentswap train`); scipy's modules, where face association and Poisson
# blending run (0.35 s of every track); the command modules (the parser imports every one: 50 ms of every run);
# and what swaps (the backends, the occlusion model, dlib's identity) and evaluations import.
PRELOAD = ("numpy", "cv2", "OpenImageIO", "PyOpenColorIO", "torch", "torch._dynamo", "safetensors", "onnx",
           "onnxruntime", "mediapipe", "onnxscript", "scipy.optimize", "scipy.sparse.linalg", "dlib",
           "matplotlib.backends.backend_agg", "skimage.metrics", "latentswap_core.cli",
           "latentswap_core.swap.swapper", "latentswap_core.swap.backends", "latentswap_core.swap.occlusion",
           "latentswap_core.codecs.taef2", "latentswap_core.train.trainer", "latentswap_core.track",
           "latentswap_core.track.report", "latentswap_core.evaluate.run", "latentswap_core.io")


def serve(socket_path: str) -> None:
    environment_before = dict(os.environ)
    for name in PRELOAD:
        __import__(name)
    from latentswap_core.cli import _commands

    _commands()  # the command modules
    # what importing the engine does to the environment (ORT_DISABLE_TELEMETRY), a fresh process does again
    import_time_environment = {key: value for key, value in os.environ.items() if environment_before.get(key) != value}
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(64)
    parent = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C of the test run: the runs end with the server, below
    print("ready", flush=True)
    running: dict[int, socket.socket] = {}
    abandoned: set[socket.socket] = set()
    children_ended, wake = os.pipe()  # SIGCHLD wakes the loop: a run's end is answered at once
    os.set_blocking(wake, False)
    signal.set_wakeup_fd(wake)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # helpers stop the server so: the finally ends the runs
    try:
        while os.getppid() == parent:  # the test run that started this server is gone: stop
            waiting = [listener, children_ended, *(set(running.values()) - abandoned)]
            for ready in select.select(waiting, [], [], 1.0)[0]:
                if ready is listener:
                    _start(listener, running, abandoned, import_time_environment, (children_ended, wake))
                elif ready is children_ended:
                    os.read(children_ended, 4096)
                elif not _still_there(ready):  # the client went away before its run ended: so does the run
                    abandoned.add(ready)
                    _kill(next(pid for pid, other in running.items() if other is ready))
            while running:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                connection = running.pop(pid)
                abandoned.discard(connection)
                with contextlib.suppress(OSError):
                    connection.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
                connection.close()
    finally:
        for pid in running:
            _kill(pid)


def _kill(pid: int) -> None:
    """SIGKILL to a run's process group, or to the run alone if it has not made its group yet (setsid)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _still_there(connection: socket.socket) -> bool:
    try:
        return bool(connection.recv(1))
    except OSError:
        return False


def _start(listener: socket.socket, running: dict[int, socket.socket], abandoned: set[socket.socket],
           import_time_environment: dict[str, str], wakeup: tuple[int, int]) -> None:
    """Accept a request and fork its run. A client gone before its run started (or a garbled request) ends it, not
    the server."""
    connection, _ = listener.accept()
    streams: list[int] = []
    try:
        data, streams, _, _ = socket.recv_fds(connection, 1 << 16, 3)
        while not data.endswith(b"\n"):
            more = connection.recv(1 << 16)
            if not more:
                break
            data += more
        request = json.loads(data)
        if len(streams) != 3:
            raise ValueError(f"{len(streams)} streams passed, not 3")
    except (OSError, ValueError):
        for stream in streams:
            os.close(stream)
        connection.close()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    held = {signal.SIGTERM, signal.SIGINT}  # until the child has a fresh interpreter's handlers
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    pid = os.fork()
    if pid == 0:
        signal.set_wakeup_fd(-1)
        for number, handler in ((signal.SIGCHLD, signal.SIG_DFL), (signal.SIGTERM, signal.SIG_DFL),
                                (signal.SIGINT, signal.default_int_handler)):
            signal.signal(number, handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
        for fd in wakeup:
            os.close(fd)
        listener.close()
        for other in running.values():
            other.close()
        connection.close()
        _run_command(request, streams, import_time_environment)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
    for stream in streams:
        os.close(stream)
    running[pid] = connection
    try:
        connection.sendall(f"{pid}\n".encode())
    except OSError:
        abandoned.add(connection)
        _kill(pid)


def _run_command(request: dict, streams: list[int], import_time_environment: dict[str, str]) -> None:
    """The forked child: become ``python -m latentswap_core ARGS`` and exit as it would. Never returns."""
    code = 1
    try:
        for fd, stream in enumerate(streams):  # first: what fails below is reported to the client
            os.dup2(stream, fd)
            os.close(stream)
        os.setsid()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ.update(import_time_environment)
        sys.argv = ["latentswap", *request["args"]]
        interrupted = False
        try:
            runpy.run_module("latentswap_core", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exit_request:
            code = _exit_code(exit_request.code)
        except BaseException as error:
            interrupted = isinstance(error, KeyboardInterrupt)
            sys.excepthook(*sys.exc_info())
        threading._shutdown()  # type: ignore[attr-defined]  # as the interpreter's exit: non-daemon threads end
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        if interrupted:  # the interpreter dies of SIGINT on an uncaught KeyboardInterrupt
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


def _exit_code(code: object) -> int:
    """The interpreter's rule for ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    serve(sys.argv[1])
