"""Measuring training steps on the device they run on, for ``train_speed.py``: the FLOPs torch counts, the share of
the step the GPU is busy, peak memory, and an out-of-memory as a table row rather than a crash.

- FLOPs: ``torch.utils.flop_counter.FlopCounterMode`` around whole steps (forward, backward and the optimizer's
  matrix work; ops without a FLOP formula, e.g. elementwise ones and the fused AdamW, count 0). A step that replays
  a captured CUDA graph shows no ops to count: its count is 0, and achieved TFLOP/s is then n/a.
- GPU busy: CUDA events around N consecutive steps give the window's GPU time; ``torch.profiler`` with
  ``ProfilerActivity.CUDA`` over the same window gives every kernel, copy and memset, whose intervals are merged
  (overlap on several streams counts once). busy = merged kernel time / window time. The profiler's own cost
  lengthens the window a little, so the share is a lower bound. n/a on the CPU.
- Peak memory: on a GPU ``torch.cuda.max_memory_allocated`` since the last reset (tensors only, not the caching
  allocator's reserve); on the CPU the process's peak resident set (``ru_maxrss``: run one configuration per
  process for it to be that configuration's).

``measure_steps`` drives any loop that calls ``on_step(report)`` after each step and stops when it returns True
(``Trainer.run``'s contract, ``report.losses`` holding a finite ``"pixel"`` on the steps with the decoded pixel
loss): FLOP-count steps first (they are also the first warm-up), then warm-up steps, a timed window and, on a GPU,
a profiled window.
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

PIXEL, LATENT = "pixel-loss", "latent-only"
KERNEL_ACTIVITIES = {"kernel", "gpu_memcpy", "gpu_memset"}  # what the GPU executes (not annotations)
STATUSES = ("ok", "OOM", "timeout", "failed", "skipped", "not run")


# --- the parts -------------------------------------------------------------------------------------------------
def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of everything ``fn()`` runs (forward and backward), as ``FlopCounterMode`` counts them."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def merged_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    """Length of the union of ``(start, end)`` intervals: time at least one of them ran."""
    total, end = 0.0, -math.inf
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def kernel_intervals(events: Iterable[Any]) -> list[tuple[float, float]]:
    """``(start, end)`` seconds of what the GPU executed among torch.profiler's events (``profile.events()``):
    kernels, copies and memsets; CPU ops and GPU-side annotations are left out."""
    from torch.autograd import DeviceType

    intervals = []
    for event in events:
        if event.device_type != DeviceType.CUDA:
            continue
        kind = getattr(event, "activity_type", None)  # newer torch; older: only annotations to leave out
        if (kind not in KERNEL_ACTIVITIES) if kind else getattr(event, "is_user_annotation", False):
            continue
        intervals.append((event.time_range.start / 1e6, event.time_range.end / 1e6))
    return intervals


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is the device (or, under a memory limit, the host) running out of memory."""
    if isinstance(error, torch.OutOfMemoryError | MemoryError):
        return True
    text = str(error).lower()
    return isinstance(error, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_gb(device: torch.device) -> float:
    """GPU: peak bytes of tensors since ``reset_peak_memory``; CPU: the process's peak resident set (GB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # KiB on Linux


def limit_host_memory(gigabytes: float) -> None:
    """Make host allocations beyond ``gigabytes`` fail in this process (an out-of-memory error, not the machine's
    OOM killer), for configurations too large for a shared CPU machine."""
    limit = int(gigabytes * 1e9)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, resource.getrlimit(resource.RLIMIT_DATA)[1]))


def is_pixel_step(report: Any) -> bool:
    """A Trainer step report that carries the decoded pixel loss (NaN or absent on latent-only steps)."""
    value = report.losses.get("pixel", math.nan)
    return isinstance(value, float) and math.isfinite(value)


# --- one configuration's steps ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepPlan:
    """How many steps of each phase ``measure_steps`` takes, in this order."""

    flop_steps: int = 2  # counted by FlopCounterMode: the Trainer's step 0 has the pixel loss, step 1 not
    warmup: int = 2  # untimed, after the counted ones (cuDNN has tuned both kinds of step by then)
    timed: int = 32  # the timed window: this many steps...
    timed_seconds: float = 5.0  # ...or fewer, once this much time has passed
    profiled: int = 6  # steps under torch.profiler (GPU only; 0: none)

    def __post_init__(self) -> None:
        if self.flop_steps < 1 or self.warmup < 0 or self.timed < 1 or self.profiled < 0 or self.timed_seconds <= 0:
            raise ValueError(f"{self}: flop_steps and timed must be 1 or more, the others 0 or more")


@dataclass
class StepFigures:
    """What ``measure_steps`` measured: the timed window's steps (and how many had the pixel loss), its seconds,
    the FLOPs of a counted step of each kind, and on a GPU the profiled window's busy share."""

    steps: int = 0
    pixel_steps: int = 0
    seconds: float = 0.0
    flops: dict[str, int] = field(default_factory=dict)  # per kind of step (PIXEL, LATENT): one counted step
    busy: float | None = None
    profiled_steps: int = 0
    profiled_step_s: float | None = None  # per step, under the profiler

    @property
    def step_s(self) -> float:
        return self.seconds / self.steps

    @property
    def window_flops(self) -> int | None:
        """FLOPs of the timed window: each step counted as its kind was (None: a kind was never counted, or a
        counted step showed no ops, as a replayed CUDA graph does)."""
        kinds = {PIXEL: self.pixel_steps, LATENT: self.steps - self.pixel_steps}
        if any(count and not self.flops.get(kind) for kind, count in kinds.items()):
            return None
        return sum(count * self.flops[kind] for kind, count in kinds.items() if count)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "step_s": self.step_s, "window_flops": self.window_flops}


def measure_steps(run: Callable[[Callable[[Any], bool]], Any], device: torch.device, plan: StepPlan) -> StepFigures:
    """Run ``run(on_step)`` (e.g. ``trainer.run``) through ``plan``'s phases and return the figures; it stops the
    loop (``on_step`` returns True) after the last phase."""
    from torch.utils.flop_counter import FlopCounterMode

    cuda = device.type == "cuda"
    figures = StepFigures()
    phases = ["flops", "warmup", "timed"] + (["profiled"] if cuda and plan.profiled else [])
    lengths = {"flops": plan.flop_steps, "warmup": plan.warmup, "timed": plan.timed, "profiled": plan.profiled}
    state: dict[str, Any] = {"phase": 0, "done_in_phase": 0, "counted": 0}
    stack = ExitStack()

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(device)

    def stop_profiler() -> None:
        profiler = state.pop("profiler", None)
        if profiler is not None:
            profiler.stop()
            state["profiled"] = profiler

    def begin(phase: str) -> None:
        state["done_in_phase"] = 0
        if phase == "flops":
            state["counter"] = stack.enter_context(FlopCounterMode(display=False))
        elif phase in ("timed", "profiled"):
            sync()
            if phase == "profiled":
                from torch.profiler import ProfilerActivity, profile

                state["profiler"] = profiler = profile(activities=[ProfilerActivity.CUDA])
                profiler.start()
                stack.callback(stop_profiler)  # if the loop fails inside the window
            if cuda:
                state["events"] = [torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)]
                state["events"][0].record()
            state["began"] = time.perf_counter()

    def end(phase: str) -> None:
        if phase == "flops":
            stack.close()
        elif phase in ("timed", "profiled"):
            if cuda:
                state["events"][1].record()
            sync()
            wall = time.perf_counter() - state["began"]
            window = state["events"][0].elapsed_time(state["events"][1]) / 1e3 if cuda else wall
            if phase == "timed":
                figures.seconds = window
            else:
                stop_profiler()
                kernels = merged_seconds(kernel_intervals(state["profiled"].events()))
                figures.busy = kernels / window if window > 0 else None
                figures.profiled_steps = state["done_in_phase"]
                figures.profiled_step_s = window / state["done_in_phase"]

    def on_step(report: Any) -> bool:
        phase = phases[state["phase"]]
        state["done_in_phase"] += 1
        if phase == "flops":
            total = int(state["counter"].get_total_flops())
            figures.flops.setdefault(PIXEL if is_pixel_step(report) else LATENT, total - state["counted"])
            state["counted"] = total
        elif phase == "timed":
            figures.steps += 1
            figures.pixel_steps += is_pixel_step(report)
        finished = state["done_in_phase"] >= lengths[phase] or (
            phase == "timed" and time.perf_counter() - state["began"] >= plan.timed_seconds)
        while finished:
            end(phase)
            state["phase"] += 1
            if state["phase"] == len(phases):
                return True
            phase = phases[state["phase"]]
            begin(phase)
            finished = lengths[phase] == 0  # a phase of no steps (warmup 0) ends at once
        return False

    begin("flops")
    with stack:
        run(on_step)
    if state["phase"] < len(phases):
        raise RuntimeError(f"the training loop stopped in the {phases[state['phase']]} phase, after "
                           f"{state['done_in_phase']} of its steps: give it more steps")
    return figures


# --- the table -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    """One row of the step table."""

    codec: str
    size: int
    preset: str
    batch: int  # faces per identity per step (a step trains 2 x batch faces)

    @property
    def name(self) -> str:
        return f"{self.codec} {self.size} px {self.preset} batch {self.batch}+{self.batch}"


def plan_configs(codecs: Sequence[str], sizes: Sequence[int], presets: Sequence[str], batch: int) -> list[Config]:
    """Every combination, smallest faces first (the large ones are likeliest to run out of memory or time)."""
    return [Config(codec, size, preset, batch) for size in sizes for preset in presets for codec in codecs]


def row_of(config: Config, status: str, detail: str = "", figures: StepFigures | None = None,
           peak_gb: float | None = None, setup_s: float | None = None) -> dict[str, Any]:
    if status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {STATUSES}")
    return {**asdict(config), "status": status, "detail": detail, "peak_gb": peak_gb, "setup_s": setup_s,
            "figures": figures.as_dict() if figures is not None else None}


COLUMNS = (("codec", 6), ("face px", 7), ("preset", 6), ("batch", 5), ("status", 8), ("step ms", 8),
           ("faces/s", 8), ("GFLOP/step", 10), ("TFLOP/s", 8), ("GPU busy", 8), ("peak GB", 7), ("timed", 8),
           ("setup s", 7))


def _cells(row: dict[str, Any]) -> list[str]:
    f = row.get("figures") or {}
    ok = row["status"] == "ok" and f.get("steps")
    step_s = f["seconds"] / f["steps"] if ok else None
    flops = f.get("window_flops") if ok else None

    def number(value: float | None, form: str) -> str:
        return "-" if value is None else format(value, form)

    return [
        row["codec"], str(row["size"]), row["preset"], f"{row['batch']}+{row['batch']}", row["status"],
        number(step_s * 1e3 if step_s else None, ".1f"),
        number(2 * row["batch"] / step_s if step_s else None, ".1f"),
        number(flops / f["steps"] / 1e9 if flops else None, ".1f"),
        number(flops / f["seconds"] / 1e12 if flops and f["seconds"] else None, ".3g"),
        ("n/a" if f.get("busy") is None else f"{f['busy']:.0%}") if ok else "-",
        number(row.get("peak_gb"), ".2f"),
        f"{f['steps']} ({f['pixel_steps']}p)" if ok else "-",
        number(row.get("setup_s"), ".1f"),
    ]


def row_line(row: dict[str, Any]) -> str:
    """One row of the step table, in its columns."""
    return " ".join(f"{cell:>{width}}" for cell, (_, width) in zip(_cells(row), COLUMNS, strict=True))


def table_lines(configs: Sequence[Config], rows: Sequence[dict[str, Any]]) -> list[str]:
    """The step table: one line per planned configuration, in plan order; a configuration without a result row
    reads "not run". Rows that did not finish (OOM, timeout, failed, skipped) say so, with their detail below."""
    by_config = {Config(r["codec"], r["size"], r["preset"], r["batch"]): r for r in rows}
    header = " ".join(f"{name:>{width}}" for name, width in COLUMNS)
    lines = [header, "-" * len(header)]
    notes = []
    for config in configs:
        row = by_config.get(config) or row_of(config, "not run", "no result came back for it")
        lines.append(row_line(row))
        if row["status"] != "ok":
            notes.append(f"  {config.name}: {row['status']}" + (f": {row['detail']}" if row["detail"] else ""))
    return lines + notes
