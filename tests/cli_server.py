"""A fork server for the tests: one process imports the engine once, and every ``latentswap`` run forks from it.

A fresh ``python -m latentswap_core`` spends 2-4 s of the CI's two cores importing torch, OpenCV, OpenImageIO and
the engine, and the suite runs the command a few hundred times. A forked child starts with those modules imported
but unused and runs the same ``__main__`` with its own argv, environment, working folder and standard streams, in
its own session, and exits with the command's code: what a test sees is what a fresh process shows. Tests of
import-time behaviour run a fresh process instead (``helpers.latentswap(..., fresh=True)``).

Protocol, one Unix-socket connection a run: the client sends one JSON line (args, env, cwd, stdout, stderr: the
files the child's streams go to); the server answers the child's pid, then its exit code (-N: killed by signal N).
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import select
import socket
import sys
import traceback

# torch._dynamo: a torch optimizer's first construction imports it, 0.8 s of every `latentswap train`; scipy's
# modules: the engine imports them where face association and Poisson blending run (0.35 s of every track)
PRELOAD = ("numpy", "cv2", "OpenImageIO", "PyOpenColorIO", "torch", "torch._dynamo", "safetensors", "onnx",
           "onnxruntime", "mediapipe", "onnxscript", "scipy.optimize", "scipy.sparse.linalg", "latentswap_core.cli",
           "latentswap_core.swap.swapper", "latentswap_core.train.trainer", "latentswap_core.track",
           "latentswap_core.io")


def serve(socket_path: str) -> None:
    environment_before = dict(os.environ)
    for name in PRELOAD:
        __import__(name)
    # what importing the engine does to the environment (ORT_DISABLE_TELEMETRY), a fresh process does again
    import_time_environment = {key: value for key, value in os.environ.items() if environment_before.get(key) != value}
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(64)
    parent = os.getppid()
    print("ready", flush=True)
    running: dict[int, socket.socket] = {}
    while os.getppid() == parent:  # the test run that started this server is gone: stop
        if select.select([listener], [], [], 0.02)[0]:
            connection, _ = listener.accept()
            request = json.loads(connection.makefile("rb").readline())
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                listener.close()
                for other in running.values():
                    other.close()
                connection.close()
                _run_command(request, import_time_environment)
            connection.sendall(f"{pid}\n".encode())
            running[pid] = connection
        while running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            connection = running.pop(pid)
            connection.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
            connection.close()


def _run_command(request: dict, import_time_environment: dict[str, str]) -> None:
    """The forked child: become ``python -m latentswap_core ARGS`` and exit as it would. Never returns."""
    code = 1
    try:
        os.setsid()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ.update(import_time_environment)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
        sys.argv = ["latentswap", *request["args"]]
        try:
            runpy.run_module("latentswap_core", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exit_request:
            code = _exit_code(exit_request.code)
        except BaseException:
            sys.excepthook(*sys.exc_info())
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
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
