"""Finding the ``latentswap`` command line and running engine jobs with JSON progress (stdlib only).

The Nuke side never imports the engine: it runs ``[cli..., command, args..., "--progress-json"]`` as a
subprocess (an argument list, never a shell), reads the JSON events the CLI prints on stdout
(``start``, ``progress``, ``message``, ``end``, ``error``; latentswap_core/progress.py) and stops a job
with SIGTERM, which the CLI unwinds like Ctrl-C (exit 130, no partial files). Nothing here imports
``nuke``, so it runs and is tested in any Python 3.7+.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading

from nuke_plugin import cache

SETTINGS_PATH = os.path.join("~", ".latentswap", "nuke.json")
CANCELLED_EXIT_CODE = 130
_PYTHON_NAME = re.compile(r"^python[0-9.]*w?(\.exe)?$", re.IGNORECASE)
_STDERR_PREFIX = "latentswap: error: "
_KEPT_STDERR_LINES = 200
_KEPT_LOG_LINES = 1000
# Set by Nuke for its own Python; a child Python (the engine's venv) must not inherit them.
_NUKE_PYTHON_VARIABLES = ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONEXECUTABLE")
IDENTITY_TIMEOUT = 20.0  # seconds for ``latentswap --version`` (it loads no command module: about 0.3 s)


class EngineError(Exception):
    """The engine could not be found or a job failed; the message is one line for the user."""


class EngineCancelled(EngineError):
    """The job was stopped with cancel() before it finished."""


# --- finding the engine --------------------------------------------------------------------------------------

def default_plugin_root():
    """The plugin folder (the repository root, parent of nuke_plugin/)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_engine(knob_value=None, environ=None, settings_path=None, plugin_root=None):
    """The command prefix that runs the engine: ``[exe]`` or ``[python, "-m", "latentswap_core"]``.

    Looked for in order: ``knob_value`` (the gizmo's ``engine`` knob: the latentswap executable or a Python
    with latentswap_core), ``$LATENTSWAP_CLI``, ``$LATENTSWAP_PYTHON``, the settings file
    (``~/.latentswap/nuke.json``: ``{"engine": PATH}``), ``<plugin root>/.venv/bin/latentswap``. A place
    that is set but names no file is an error naming that place (not silently skipped); nothing found at
    all is an EngineError saying what to set.
    """
    environ = os.environ if environ is None else environ
    settings_path = os.path.expanduser(settings_path or SETTINGS_PATH)
    plugin_root = plugin_root or default_plugin_root()

    if knob_value and str(knob_value).strip():
        return _prefix(_existing(knob_value, "the LatentSwap node's engine knob"))
    if environ.get("LATENTSWAP_CLI", "").strip():
        return [_existing(environ["LATENTSWAP_CLI"], "$LATENTSWAP_CLI")]
    if environ.get("LATENTSWAP_PYTHON", "").strip():
        return [_existing(environ["LATENTSWAP_PYTHON"], "$LATENTSWAP_PYTHON"), "-m", "latentswap_core"]
    from_settings = _settings_engine(settings_path)
    if from_settings:
        return _prefix(_existing(from_settings, f"{settings_path} (\"engine\")"))
    for relative in (("bin", "latentswap"), ("Scripts", "latentswap.exe")):
        candidate = os.path.join(plugin_root, ".venv", *relative)
        if os.path.isfile(candidate):
            return [candidate]
    raise EngineError(
        "the latentswap engine was not found: set the node's engine knob, $LATENTSWAP_CLI (the latentswap "
        f"executable), $LATENTSWAP_PYTHON (a Python with latentswap_core) or {settings_path} "
        f"({{\"engine\": PATH}}), or run `make install` in {plugin_root}")


def _settings_engine(settings_path):
    if not os.path.isfile(settings_path):
        return None
    try:
        with open(settings_path, encoding="utf-8") as stream:
            settings = json.load(stream)
    except (OSError, ValueError) as error:
        raise EngineError(f"{settings_path}: not a readable JSON settings file ({_one_line(str(error))}); "
                          f"write it as {{\"engine\": PATH}}") from None
    engine = settings.get("engine") if isinstance(settings, dict) else None
    if engine is not None and not isinstance(engine, str):
        raise EngineError(f"{settings_path}: \"engine\" is not a path string; write it as {{\"engine\": PATH}}")
    return engine.strip() if engine else None


def _existing(path, where):
    path = os.path.expanduser(str(path).strip())
    if not os.path.isfile(path):
        raise EngineError(f"{where} is {path} but no such file exists; point it at the latentswap executable or at a "
                          "Python that has latentswap_core")
    return path


def _prefix(path):
    if _PYTHON_NAME.match(os.path.basename(path)):
        return [path, "-m", "latentswap_core"]
    return [path]


def engine_identity(prefix, ask_again=False):
    """What the engine run by ``prefix`` says it is, or "" where it does not run or answer so: ``latentswap
    --version``, "latentswap 0.1.0 (engine 3f1c09a2b4d5e6f7)", the digest being of its installed files.

    The answer, or its absence, is kept for the engine file as it stands (``cache.file_stamp``: a reinstall
    rewrites the ``latentswap`` executable, and the next call asks again), so the status line, updated on every knob
    change, never waits on a broken engine twice; ``ask_again`` asks anyway (Precompute does: an editable install or a
    ``python -m latentswap_core`` engine changes without its executable changing, and a failure may have passed)."""
    key = (tuple(prefix), tuple(tuple(cache.file_stamp(part) or ()) for part in prefix))
    if ask_again or key not in _IDENTITIES:
        if len(_IDENTITIES) >= _KEPT_IDENTITIES:
            _IDENTITIES.clear()
        _IDENTITIES[key] = _ask_identity(prefix)
    return _IDENTITIES[key]


_IDENTITIES: dict[tuple[tuple[str, ...], tuple[tuple[int, ...], ...]], str] = {}  # (prefix, stamps) -> identity
_KEPT_IDENTITIES = 32


def _ask_identity(prefix):
    try:
        answer = subprocess.run(list(prefix) + ["--version"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=child_environment(), timeout=IDENTITY_TIMEOUT,
                                creationflags=windows_creation_flags())
    except (OSError, subprocess.SubprocessError):
        return ""
    lines = answer.stdout.decode("utf-8", "replace").strip().splitlines()
    if answer.returncode != 0 or not lines or not lines[0].startswith("latentswap "):
        return ""
    return lines[0].strip()


# --- running a job -------------------------------------------------------------------------------------------

def windows_creation_flags(platform=None):
    """Popen's creationflags: on Windows a process group of its own (so that CTRL_BREAK_EVENT reaches the engine
    alone, not Nuke) and no console window; 0 elsewhere."""
    if (platform or sys.platform) != "win32":
        return 0
    return getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200) | getattr(subprocess, "CREATE_NO_WINDOW", 0x8000000)


def stop_signal(platform=None):
    """The signal that asks the engine to stop cleanly: SIGTERM, or CTRL_BREAK_EVENT on Windows."""
    if (platform or sys.platform) == "win32":
        return getattr(signal, "CTRL_BREAK_EVENT", 1)
    return signal.SIGTERM


class EngineJob:
    """One run of the engine: ``command_prefix + args + ["--progress-json"]``.

    ``on_event(dict)`` is called for each JSON event **from a reader thread** (hand it to the GUI thread
    yourself). ``events`` holds them in order; stdout lines that are not JSON go to ``log``, stderr lines
    to ``stderr_lines`` (the last few hundred). ``wait()`` returns 0 or raises EngineError with the engine's
    one-line message (EngineCancelled after cancel()). ``env``: the engine's environment, used as given
    (default: child_environment(), Nuke's without its PYTHONHOME/PYTHONPATH).
    """

    def __init__(self, command_prefix, args, on_event=None, cwd=None, env=None):
        self.command = list(command_prefix) + [str(arg) for arg in args]
        if "--progress-json" not in self.command:
            self.command.append("--progress-json")
        self.on_event = on_event
        self.cwd = cwd
        self.env = env
        self.events = []
        self.log = []
        self.stderr_lines = []
        self.cancelled = False
        self.returncode = None
        self._error_event = None
        self._process = None
        self._threads = []
        self._lock = threading.Lock()

    # state ---------------------------------------------------------------------------------------------------
    @property
    def running(self):
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self):
        return None if self._process is None else self._process.pid

    @property
    def error_message(self):
        """The last ``error`` event's message, else the last non-empty stderr line (or None)."""
        if self._error_event is not None:
            return _one_line(str(self._error_event.get("message", "")))
        with self._lock:
            lines = list(self.stderr_lines)
        for line in reversed(lines):
            if line.strip():
                text = line.strip()
                return text[len(_STDERR_PREFIX):] if text.startswith(_STDERR_PREFIX) else text
        return None

    def command_line(self):
        """The command as one line a user can paste into a terminal (for logs and messages)."""
        return " ".join(_quote(part) for part in self.command)

    # running -------------------------------------------------------------------------------------------------
    def start(self):
        if self._process is not None:
            raise RuntimeError("this EngineJob was already started")
        try:
            self._process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=self.cwd, env=self.env if self.env is not None else child_environment(), shell=False,
                creationflags=windows_creation_flags())
        except OSError as error:
            raise EngineError(f"cannot run {self.command[0]} ({_one_line(str(error))}); check the engine knob, "
                              "$LATENTSWAP_CLI or $LATENTSWAP_PYTHON") from None
        self._threads = [threading.Thread(target=self._read_stdout, name="latentswap-stdout", daemon=True),
                         threading.Thread(target=self._read_stderr, name="latentswap-stderr", daemon=True)]
        for thread in self._threads:
            thread.start()
        return self

    def wait(self, timeout=None):
        """Wait for the job; return its exit code (0), or raise EngineError / EngineCancelled.

        ``timeout`` (seconds) raises subprocess.TimeoutExpired if the job is still running then.
        """
        if self._process is None:
            raise RuntimeError("start() the EngineJob before wait()")
        code = self._process.wait(timeout)
        for thread in self._threads:
            thread.join(10.0)  # output of a child's own children could hold the pipes open: do not hang
        self.returncode = code
        if code == 0:
            return 0
        if self.cancelled:
            raise EngineCancelled("cancelled: {}".format(self.error_message or "the job was stopped"))
        message = self.error_message or f"the engine stopped with exit code {code} and no message"
        raise EngineError(message)

    def cancel(self, kill_after=30.0):
        """Ask the job to stop: the CLI unwinds like Ctrl-C (saves a training run, removes partial files).
        Returns at once. SIGTERM on Linux and macOS; on Windows, where terminate() would kill the process on the
        spot, CTRL_BREAK_EVENT to the engine's own process group.

        If it is still running ``kill_after`` seconds later it is killed (None: never).
        """
        self.cancelled = True
        process = self._process
        if process is None or process.poll() is not None:
            return
        try:
            process.send_signal(stop_signal())
        except OSError:  # it ended in between
            return
        if kill_after is not None:
            timer = threading.Timer(float(kill_after), self._kill_if_running)
            timer.daemon = True
            timer.start()

    def _kill_if_running(self):
        process = self._process
        if process is not None and process.poll() is None:
            try:
                process.kill()
            except OSError:
                pass

    # readers -------------------------------------------------------------------------------------------------
    def _read_stdout(self):
        stream = self._process.stdout if self._process is not None else None
        if stream is None:
            return
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            event = parse_event(line)
            if event is None:
                if line.strip():
                    with self._lock:
                        self.log.append(line)
                        del self.log[:-_KEPT_LOG_LINES]
                continue
            with self._lock:
                self.events.append(event)
                if event.get("event") == "error":
                    self._error_event = event
            if self.on_event is not None:
                try:
                    self.on_event(event)
                except Exception as error:  # a broken callback must not stop reading (the pipe would fill)
                    with self._lock:
                        self.log.append(f"on_event failed: {type(error).__name__}: {error}")
        stream.close()

    def _read_stderr(self):
        stream = self._process.stderr if self._process is not None else None
        if stream is None:
            return
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self._lock:
                self.stderr_lines.append(line)
                del self.stderr_lines[:-_KEPT_STDERR_LINES]
        stream.close()


def parse_event(line):
    """The JSON event on one stdout line (a dict with "event"), or None for any other line."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get("event"), str):
        return value
    return None


def child_environment(environ=None):
    """The environment for the engine: Nuke's, without the variables that point a Python at Nuke's own."""
    environ = dict(os.environ if environ is None else environ)
    for name in _NUKE_PYTHON_VARIABLES:
        environ.pop(name, None)
    environ["PYTHONUNBUFFERED"] = "1"
    environ.setdefault("PYTHONIOENCODING", "utf-8")
    return environ


def _one_line(text):
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _quote(part):
    if sys.platform == "win32":
        return subprocess.list2cmdline([part])
    import shlex

    return shlex.quote(part)
