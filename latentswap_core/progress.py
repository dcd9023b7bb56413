"""Progress of long jobs: a tqdm bar for people, or JSON lines on stdout for the Nuke plugin.

JSON events, one object per line: ``{"event": "start", "task", "total"}``, ``{"event": "progress",
"task", "done", "total", "percent", "rate", "eta_s", ...}``, ``{"event": "message", "text"}`` and
``{"event": "end", "task", "status"}``; the command line adds ``{"event": "error", "message"}``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from tqdm import tqdm


def emit_json(event: str, stream: TextIO | None = None, **fields: Any) -> None:
    stream = stream or sys.stdout
    stream.write(json.dumps({"event": event, **fields}, default=str) + "\n")
    stream.flush()


class Progress:
    """Counts units of work (frames, steps) for one task; use as a context manager."""

    def __init__(self, task: str, total: int, json_lines: bool = False, unit: str = "frame"):
        self.task, self.total, self.json_lines = task, total, json_lines
        self.done = 0
        self._started = time.perf_counter()
        self._status = "done"
        self._bar = None if json_lines else tqdm(total=total, desc=task, unit=unit, file=sys.stderr,
                                                 dynamic_ncols=True, disable=None)
        if json_lines:
            emit_json("start", task=task, total=total)

    def advance(self, count: int = 1, **fields: Any) -> None:
        self.done += count
        if self._bar is not None:
            if fields:
                self._bar.set_postfix(fields, refresh=False)
            self._bar.update(count)
            return
        elapsed = time.perf_counter() - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else None
        percent = 100.0 * self.done / self.total if self.total else 100.0
        emit_json("progress", task=self.task, done=self.done, total=self.total, percent=round(percent, 2),
                  rate=round(rate, 4), eta_s=None if eta is None else round(eta, 1), **fields)

    def message(self, text: str) -> None:
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            emit_json("message", task=self.task, text=text)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> None:
        if kind is KeyboardInterrupt:
            self._status = "interrupted"
        elif kind is not None:
            self._status = "failed"
        if self._bar is not None:
            self._bar.close()
        else:
            emit_json("end", task=self.task, status=self._status, done=self.done, total=self.total,
                      seconds=round(time.perf_counter() - self._started, 3))
