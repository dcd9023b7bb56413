"""Running an engine job from Nuke: in the GUI on a worker thread with a progress bar, in a terminal directly.

GUI (``nuke.GUI``): a worker thread runs ``engine.EngineJob``; its progress goes into a ``nuke.ProgressTask``
through ``nuke.executeInMainThread`` (the only way a worker thread may touch Nuke), the task's Cancel button
is polled and stops the engine (``job.cancel()``), and an error becomes a ``nuke.message`` with the engine's
one-line message. Terminal (``nuke -t``, ``nuke -x``, farms): the job runs in the calling thread, progress
lines go to stderr and an error is raised as ``JobError`` (a RuntimeError) carrying the same one line.
"""

from __future__ import annotations

import sys
import threading
import time

import nuke

from nuke_plugin import engine

POLL_SECONDS = 0.2


class JobError(RuntimeError):
    """An engine job failed (or was cancelled); the message is the engine's one line for the user."""


def describe(event):
    """One line of text for a progress event, or None for events that say nothing to a user."""
    kind = event.get("event")
    task = event.get("task") or "latentswap"
    if kind == "progress":
        line = "{}: {}/{}".format(task, event.get("done", 0), event.get("total", "?"))
        if event.get("eta_s") is not None:
            line += " ({:.0f} s left)".format(float(event["eta_s"]))
        return line
    if kind == "message":
        return "{}: {}".format(task, event.get("text", ""))
    if kind == "start":
        return f"{task}: started"
    if kind == "end":
        return "{}: {}".format(task, event.get("status", "done"))
    if kind == "error":
        return "error: {}".format(event.get("message", ""))
    return None


def percent(event):
    """The progress of a ``progress`` event as an int 0-100, or None."""
    if event.get("event") != "progress":
        return None
    if event.get("percent") is not None:
        return max(0, min(100, int(float(event["percent"]))))
    total = event.get("total") or 0
    return max(0, min(100, int(100 * float(event.get("done", 0)) / total))) if total else None


class Job:
    """One engine job started by ``run_job``; ``wait()`` blocks until it (and its callbacks) ended."""

    def __init__(self, prefix, args, title, on_done=None, on_event=None, on_error=None):
        self.title = title
        self.on_done = on_done
        self.on_event = on_event
        self.on_error = on_error
        self.engine_job = engine.EngineJob(prefix, args, on_event=self._event)
        self.error = None  # the one-line message of a failure, once finished
        self.cancelled = False
        self.cancel_requested = False  # set by cancel(), which may come before the engine started
        self.finished = threading.Event()
        self.thread = None
        self._task = None

    # events, from the engine's reader thread
    def _event(self, event):
        if self.on_event is not None:
            if nuke.GUI:
                nuke.executeInMainThread(self.on_event, (event,))
            else:
                self.on_event(event)
        text = describe(event)
        if not nuke.GUI:
            if text:
                sys.stderr.write(f"{self.title}: {text}\n")
                sys.stderr.flush()
            return
        if self._task is not None:
            value = percent(event)
            if text:
                nuke.executeInMainThread(self._task.setMessage, (text,))
            if value is not None:
                nuke.executeInMainThread(self._task.setProgress, (value,))

    # terminal mode
    def run_here(self):
        self.engine_job.start()
        try:
            self.engine_job.wait()
        except engine.EngineError as error:
            self.error = str(error)
            self.cancelled = isinstance(error, engine.EngineCancelled)
            sys.stderr.write(f"{self.title}: error: {self.error}\n")
            raise JobError(f"{self.title}: {self.error}") from None
        except BaseException:
            self.engine_job.cancel()
            raise
        finally:
            self.finished.set()
        if self.on_done is not None:
            self.on_done()
        return self

    # GUI mode
    def start_thread(self):
        self.thread = threading.Thread(target=self._work, name="latentswap-job", daemon=True)
        self.thread.start()
        return self

    def _work(self):
        try:
            self._task = nuke.ProgressTask(self.title)
            if self.cancel_requested:
                raise engine.EngineCancelled("cancelled before the engine started")
            self.engine_job.start()
            while self.engine_job.running:
                if (self.cancel_requested or self._task.isCancelled()) and not self.engine_job.cancelled:
                    self.engine_job.cancel()
                time.sleep(POLL_SECONDS)
            self.engine_job.wait()
        except engine.EngineError as error:
            self.error = str(error)
            self.cancelled = isinstance(error, engine.EngineCancelled)
        except Exception as error:  # a bug here must still reach the user, not die with the thread
            self.error = f"{type(error).__name__}: {error}"
        self._task = None  # closes the progress bar
        # finished is set by the last main-thread call, so that wait() returns after the callbacks have run
        if self.error is None and self.on_done is not None:
            nuke.executeInMainThread(self._call_done)
        elif self.error is not None and not self.cancelled:
            nuke.executeInMainThread(self._report, (self.error,))
        else:
            self.finished.set()

    def _call_done(self):
        try:
            self.on_done()
        except Exception as error:
            self._report(f"{type(error).__name__}: {error}")
        finally:
            self.finished.set()

    def _report(self, message):
        try:
            if self.on_error is not None:
                self.on_error(message)
            nuke.message(f"{self.title} failed:\n{message}")
        finally:
            self.finished.set()

    def cancel(self):
        """Stop the job (from Nuke's main thread): the worker passes it on to the engine."""
        self.cancel_requested = True
        if self.thread is None:
            self.engine_job.cancel()

    def wait(self, timeout=None):
        """Block until the job and its on_done/on_error callbacks have run; False on failure. In the GUI the
        callbacks run in Nuke's main thread: waiting there for a job that is still running would hang Nuke."""
        self.finished.wait(timeout)
        if self.thread is not None:
            self.thread.join(timeout)
        return self.error is None


def run_job(prefix, args, title, on_done=None, on_event=None, on_error=None):
    """Run ``prefix + args`` (an engine command) as a job; see the module's docstring for GUI vs terminal.

    ``prefix``: ``engine.find_engine(...)``'s command. ``on_done()`` runs after a success (in Nuke's main
    thread in the GUI); ``on_event(event)`` sees every JSON event; ``on_error(message)`` a GUI failure.
    Returns the ``Job`` (already finished in terminal mode, where a failure raises JobError instead).
    """
    job = Job(prefix, args, title, on_done=on_done, on_event=on_event, on_error=on_error)
    if nuke.GUI:
        return job.start_thread()
    return job.run_here()
