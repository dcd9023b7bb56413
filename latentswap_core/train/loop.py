"""The step loop both trainers (swap model, refiner) run: until a step count or a deadline, with the loss history,
previews and checkpoints on their schedules, progress callbacks, and Ctrl-C/SIGTERM finishing the current step."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from latentswap_core.train.distributed import World, any_process

ONE_PROCESS = World()


@dataclass
class StepReport:
    step: int
    total: int | None  # the target step (estimated from the speed so far with --minutes)
    losses: dict[str, float]  # the last read-back's: this step's in eager mode, else up to loss_every steps old
    seconds: float
    preview: Path | None = None


@dataclass
class TrainResult:
    step: int
    interrupted: bool
    model_dir: Path
    history: list[dict[str, Any]] = field(default_factory=list)


class Schedule(Protocol):
    """How long a run trains and how often it previews and saves (a run's frozen options)."""

    @property
    def steps(self) -> int | None: ...

    @property
    def minutes(self) -> float | None: ...

    @property
    def preview_every(self) -> int: ...

    @property
    def save_every(self) -> int: ...


class Steppable(Protocol):
    step: int
    elapsed: float
    history: list[dict[str, Any]]

    def _train_step(self) -> dict[str, float]: ...
    def preview(self) -> Path: ...
    def save(self) -> None: ...


def run_steps(trainer: Steppable, schedule: Schedule, on_step: Callable[[StepReport], bool | None] | None,
              world: World = ONE_PROCESS, read_back: Callable[[], dict[str, float]] | None = None) -> bool:
    """Step ``trainer`` until ``schedule.steps`` or ``schedule.minutes``, or until ``on_step`` returns True (a
    caller with a budget of its own); -> whether Ctrl-C/SIGTERM stopped it.
    In a data-parallel ``world`` every process stops after the same step, and only the first previews and reports.

    A step returns its losses, or nothing where it left them on the device (the static step between read-backs):
    the history gets a row for each step that returned losses, with ``seconds`` the mean over the steps since the
    last row; ``read_back`` (the trainer's: the mean of the losses left on the device since) is called before a
    checkpoint and at the end, so a checkpoint's history is complete. ``StepReport.losses``: the latest losses
    returned (empty before the first)."""
    deadline = time.monotonic() + schedule.minutes * 60 if schedule.minutes else None
    started, taken = time.monotonic(), 0
    latest: dict[str, float] = {}  # the losses of the last step that read them back
    unread, unread_seconds = 0, 0.0  # steps (and their time) since the last history row

    def add_row(losses: dict[str, float]) -> None:
        nonlocal unread, unread_seconds
        trainer.history.append({"step": trainer.step, **{k: round(v, 8) if v == v else "" for k, v in
                                                         losses.items()}, "seconds": round(unread_seconds / unread, 4)})
        unread, unread_seconds = 0, 0.0

    with deferred_interrupt() as interrupted:
        while True:
            done = (schedule.steps is not None and trainer.step >= schedule.steps) or (
                deadline is not None and time.monotonic() >= deadline)
            if any_process(interrupted() or done, world):
                break
            began = time.perf_counter()
            losses = trainer._train_step()
            seconds = time.perf_counter() - began
            trainer.elapsed += seconds
            taken += 1
            unread, unread_seconds = unread + 1, unread_seconds + seconds
            saving = bool(schedule.save_every and trainer.step % schedule.save_every == 0)
            if not losses and saving and read_back is not None:  # the checkpoint's history ends at its step
                losses = read_back()
            if losses:
                add_row(losses)
                latest = losses
            preview = None
            if schedule.preview_every and trainer.step % schedule.preview_every == 0 and world.is_main:
                preview = trainer.preview()
            if saving:
                trainer.save()
            if on_step and world.is_main:
                total = schedule.steps
                if deadline is not None:
                    per_step = (time.monotonic() - started) / taken
                    total = trainer.step + int(max(0.0, deadline - time.monotonic()) / per_step)
                stop_here = bool(on_step(StepReport(trainer.step, total, latest, seconds, preview)))
            else:
                stop_here = False
            if any_process(stop_here, world):
                break
        if unread and read_back is not None and (losses := read_back()):
            add_row(losses)
        return any_process(interrupted(), world)


@contextmanager
def deferred_interrupt() -> Iterator[Callable[[], bool]]:
    """The first Ctrl-C (or SIGTERM, which farms and the Nuke panel's Stop send) only sets a flag: the loop saves
    and stops after the step. A second one stops at once."""
    flag: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handler(signum: int, frame: Any) -> None:
        if flag:
            raise KeyboardInterrupt
        flag.append(True)

    previous = {number: signal.signal(number, handler) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: bool(flag)
    finally:
        for number, handler_before in previous.items():
            signal.signal(number, handler_before)
