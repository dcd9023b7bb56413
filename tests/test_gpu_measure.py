"""benchmarks/gpu_measure.py, the measuring behind ``train_speed.py``'s step table, checked on the CPU: FLOPs of a
known step against the arithmetic, the phases driven through a Trainer-like loop, the merged kernel time of
overlapping intervals, an out-of-memory recognised as one, and a table with a line for every planned row."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import gpu_measure  # noqa: E402
from gpu_measure import (  # noqa: E402
    LATENT,
    PIXEL,
    Config,
    StepFigures,
    StepPlan,
    count_flops,
    is_out_of_memory,
    measure_steps,
    merged_seconds,
    plan_configs,
    row_of,
    table_lines,
)

CPU = torch.device("cpu")


def test_flops_of_a_linear_and_a_conv_step_match_the_arithmetic() -> None:
    linear, conv = nn.Linear(8, 4, bias=False), nn.Conv2d(3, 5, 3, bias=False)
    vector, image = torch.randn(3, 8, requires_grad=True), torch.randn(1, 3, 8, 8, requires_grad=True)

    def step() -> None:
        linear(vector).sum().backward()
        conv(image).sum().backward()

    # forward 2 x M x K x N; backward the same again for the input's gradient and for the weight's
    linear_flops = 3 * (2 * 3 * 8 * 4)
    conv_flops = 3 * (2 * (5 * 6 * 6) * (3 * 3 * 3))  # 2 x output elements x input channels x kernel area, x3
    assert count_flops(step) == linear_flops + conv_flops == 576 + 29160


class FakeTrainer:
    """Trainer.run's contract: call on_step(report) after each step until it returns True. Pixel-loss steps (every
    ``every``-th from step 0, as the Trainer schedules them) run an extra 16 x 16 x 16 matrix product."""

    def __init__(self, every: int) -> None:
        self.every, self.step = every, 0
        self.layer = nn.Linear(8, 8, bias=False)

    def run(self, on_step) -> None:
        while True:
            pixel = self.step % self.every == 0
            self.layer(torch.randn(4, 8)).sum().backward()  # forward + weight gradient: 2 x (2 x 4 x 8 x 8) = 1024
            if pixel:
                torch.randn(16, 16) @ torch.randn(16, 16)  # 2 x 16^3 = 8192
            self.step += 1
            report = SimpleNamespace(losses={"pixel": 0.5 if pixel else math.nan}, seconds=0.0)
            if on_step(report):
                return


def test_measure_steps_counts_each_kind_of_step_and_weights_the_window_by_its_kinds() -> None:
    trainer = FakeTrainer(every=4)
    figures = measure_steps(trainer.run, CPU, StepPlan(flop_steps=2, warmup=1, timed=8, timed_seconds=60))
    assert figures.flops == {PIXEL: 1024 + 8192, LATENT: 1024}
    assert trainer.step == 2 + 1 + 8  # stopped after the last phase; on the CPU no profiled phase
    assert (figures.steps, figures.pixel_steps) == (8, 2)  # steps 3..10: 4 and 8 have the pixel loss
    assert figures.window_flops == 8 * 1024 + 2 * 8192
    assert figures.busy is None and figures.seconds > 0


def test_a_window_with_a_kind_that_was_never_counted_has_no_flops() -> None:
    figures = StepFigures(steps=4, pixel_steps=1, seconds=1.0, flops={LATENT: 10})
    assert figures.window_flops is None
    assert StepFigures(steps=4, pixel_steps=0, seconds=1.0, flops={LATENT: 10}).window_flops == 40
    # a replayed CUDA graph shows FlopCounterMode no ops: no TFLOP/s rather than 0
    assert StepFigures(steps=4, pixel_steps=0, seconds=1.0, flops={LATENT: 0}).window_flops is None


def test_a_loop_that_stops_before_the_plan_is_done_is_an_error() -> None:
    def short_run(on_step) -> None:
        for _ in range(3):
            if on_step(SimpleNamespace(losses={}, seconds=0.0)):
                return

    with pytest.raises(RuntimeError, match="timed phase"):
        measure_steps(short_run, CPU, StepPlan(flop_steps=1, warmup=1, timed=5))


def test_kernel_time_merges_overlapping_kernels_and_leaves_out_annotations() -> None:
    assert merged_seconds([(0.0, 1.0), (0.5, 2.0), (3.0, 4.0), (3.2, 3.5)]) == pytest.approx(3.0)
    cuda, cpu = torch.autograd.DeviceType.CUDA, torch.autograd.DeviceType.CPU

    def event(start_us: float, end_us: float, device: object, kind: str | None) -> SimpleNamespace:
        return SimpleNamespace(device_type=device, activity_type=kind,
                               time_range=SimpleNamespace(start=start_us, end=end_us))

    events = [event(0, 1e6, cuda, "kernel"), event(5e5, 2e6, cuda, "gpu_memcpy"),
              event(0, 9e6, cuda, "gpu_user_annotation"), event(0, 9e6, cpu, "cpu_op")]
    assert merged_seconds(gpu_measure.kernel_intervals(events)) == pytest.approx(2.0)


def test_out_of_memory_errors_are_recognised_and_others_are_not() -> None:
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))


def test_the_table_has_a_line_for_every_planned_row_and_says_which_ran_out_of_memory() -> None:
    configs = plan_configs(("taef2", "pixel"), (256, 512, 1024), ("small", "dfl"), 16)
    assert len(configs) == 12 and configs[0].size == 256 and configs[-1].size == 1024
    ok = StepFigures(steps=10, pixel_steps=1, seconds=0.5, flops={PIXEL: 3 * 10**11, LATENT: 10**11})
    rows = [row_of(c, "ok", figures=ok, peak_gb=1.5, setup_s=2.0) for c in configs[:10]]
    oom = Config("pixel", 1024, "dfl", 16)
    rows.append(row_of(oom, "OOM", "OutOfMemoryError: CUDA out of memory", peak_gb=70.0))
    lines = table_lines(configs, rows)
    body = lines[2:2 + len(configs)]
    assert len(body) == len(configs)
    first = body[0].split()
    # 50 ms a step; 32 faces / 0.05 s; (9 x 1e11 + 3e11) / 10 steps = 120 GFLOP; 1.2e12 / 0.5 s = 2.4 TFLOP/s
    assert first[:4] == ["taef2", "256", "small", "16+16"] and first[4:9] == ["ok", "50.0", "640.0", "120.0", "2.4"]
    assert first[9] == "n/a"  # busy: no GPU
    assert body[-1].split()[:5] == ["pixel", "1024", "dfl", "16+16", "OOM"]
    assert body[-2].split()[:6] == ["taef2", "1024", "dfl", "16+16", "not", "run"]
    assert any("pixel 1024 px dfl" in line and "OOM" in line and "CUDA out of memory" in line for line in lines)
    with pytest.raises(ValueError):
        row_of(oom, "crashed")


def test_the_gpu_path_times_with_cuda_events_and_takes_the_busy_share_from_the_profiled_window(monkeypatch) -> None:
    """No GPU here: CUDA events and torch.profiler are faked, the control flow is the real one."""

    class FakeEvent:
        def __init__(self, enable_timing: bool) -> None:
            assert enable_timing

        def record(self) -> None:
            self.at = len(calls)
            calls.append("record")

        def elapsed_time(self, other: FakeEvent) -> float:
            return 4000.0  # ms

    class FakeProfiler:
        def __init__(self, activities: list) -> None:
            assert activities == [torch.profiler.ProfilerActivity.CUDA]

        def start(self) -> None:
            calls.append("profiler start")

        def stop(self) -> None:
            calls.append("profiler stop")

        def events(self) -> list:
            kernel = SimpleNamespace(device_type=torch.autograd.DeviceType.CUDA, activity_type="kernel",
                                     time_range=SimpleNamespace(start=0.0, end=1e6))
            copy = SimpleNamespace(device_type=torch.autograd.DeviceType.CUDA, activity_type="gpu_memcpy",
                                   time_range=SimpleNamespace(start=2e6, end=3e6))
            return [kernel, copy]

    calls: list[str] = []
    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append("sync"))
    monkeypatch.setattr(torch.profiler, "profile", FakeProfiler)
    trainer = FakeTrainer(every=32)
    figures = measure_steps(trainer.run, torch.device("cuda"), StepPlan(flop_steps=2, warmup=0, timed=3, profiled=2))
    assert trainer.step == 2 + 3 + 2
    assert figures.seconds == 4.0 and figures.steps == 3  # the window's CUDA-event time, not the host's clock
    assert figures.busy == pytest.approx(2.0 / 4.0) and figures.profiled_steps == 2
    assert calls.count("profiler start") == calls.count("profiler stop") == 1
    assert calls.index("profiler start") < calls.index("profiler stop")
