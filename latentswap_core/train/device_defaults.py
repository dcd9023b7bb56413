"""What the swap-model trainer does on each kind of device when the user does not say: the step mode, how often
losses are read back, the batch and the decoded pixel loss's schedule. ``TrainOptions`` and ``latentswap train``
read them from here; nothing else repeats them.

Step modes (``--step-mode``):

- ``eager``: the step as it always ran, every op launched from Python, batches drawn on the host, losses read back
  every step. The CPU's default; the numbers of earlier runs and ``--resume`` of their checkpoints stay exact.
- ``static``: the graph-safe step (``static_step.py``) run eagerly: fixed shapes, every random draw on the training
  device, nothing read back from the device between read-backs. Runs anywhere; the CPU tests exercise it.
- ``graph``: the static step captured in CUDA graphs (``graph_step.py``): one graph per step kind, replayed.
- ``auto``: ``graph`` on CUDA (one process, ``--accumulate 1``), ``eager`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from latentswap_core.errors import ModelError

STEP_MODES = ("auto", "eager", "static", "graph")
DEFAULT_STEP_MODE = "auto"
# losses read back from the device every this many steps (eager reads every step: its history is per step)
LOSS_EVERY = {"eager": 1, "static": 50, "graph": 50}

DEVICE_DEFAULT = -1  # a TrainOptions field left to the device: resolved from the tables here
AUTO_BATCH = 0  # TrainOptions.batch for ``--batch auto``: chosen for the device (below)
CPU_BATCH = 4  # faces per identity per step on a CPU: the batch every CPU figure in docs/training.md used
MAX_AUTO_BATCH = 64  # --batch auto on CUDA: at most this many faces per identity
AUTO_BATCH_HEADROOM = 0.7  # ... and at most this share of the GPU's free memory, as one measured step scales
AUTO_BATCH_PROBE = 2  # the batch whose step's peak memory is measured


@dataclass(frozen=True)
class PixelLossSchedule:
    """The decoded pixel loss's schedule: every ``every``-th step (0: never), on ``samples`` faces per identity
    (at most the batch)."""

    every: int
    samples: int


WHOLE_BATCH = 4096  # pixel_loss_samples: as many as the batch holds (the CLI's --batch limit)
PIXEL_LOSS_SCHEDULES = {
    # 2 CPU cores: with the decoder-response loss every step, every 32nd step on one face per identity trained
    # cleaner faces in the same time than every 4th on two (benchmarks/train_speed.py, docs/training.md)
    "cpu": PixelLossSchedule(every=32, samples=1),
    # a GPU decodes a batch in a few ms: every 4th step on the whole batch. A first guess that awaits a GPU
    # measurement (benchmarks/train_speed.py --device cuda, time to quality), not a measured choice.
    "cuda": PixelLossSchedule(every=4, samples=WHOLE_BATCH),
}


def device_type(device: str) -> str:
    """``cpu``, ``cuda`` (from ``cuda`` or ``cuda:N``) or another torch device type, from a resolved device name."""
    return device.split(":", 1)[0]


def pixel_loss_schedule(device: str) -> PixelLossSchedule:
    """The pixel-loss schedule for a resolved device name; devices without their own take the CPU's."""
    return PIXEL_LOSS_SCHEDULES.get(device_type(device), PIXEL_LOSS_SCHEDULES["cpu"])


def resolve_step_mode(requested: str, device: str, accumulate: int, processes: int) -> str:
    """``requested`` (one of STEP_MODES) as the mode a run uses on ``device``, or a one-line ModelError where it
    cannot: the static step does one batch per identity per optimizer step in one process, and only CUDA has
    graphs."""
    if requested not in STEP_MODES:
        raise ModelError(f"--step-mode {requested!r} is unknown: use one of {', '.join(STEP_MODES)}")
    on_cuda = device_type(device) == "cuda"
    if requested == "auto":
        return "graph" if on_cuda and accumulate == 1 and processes == 1 else "eager"
    if requested == "graph" and not on_cuda:
        raise ModelError(f"--step-mode graph captures the step in CUDA graphs, and the device is {device}: use "
                         "--step-mode static (the same step, run eagerly) or eager")
    if requested != "eager" and accumulate > 1:
        raise ModelError(f"--step-mode {requested} takes one batch per step: use --accumulate 1 or --step-mode eager")
    if requested != "eager" and processes > 1:
        raise ModelError(f"--step-mode {requested} runs in one process, this run has {processes}: use "
                         "--step-mode eager with torchrun")
    return requested


def cpu_batch_or(batch: int, device: str) -> int:
    """``batch``, or for ``AUTO_BATCH`` on a device without a measured choice (not CUDA) the CPU's batch; CUDA's
    auto batch stays ``AUTO_BATCH`` for the trainer to measure (``auto_batch``)."""
    if batch == AUTO_BATCH and device_type(device) != "cuda":
        return CPU_BATCH
    return batch


def auto_batch(probe_step_bytes: int, free_bytes: int) -> int:
    """The batch per identity whose step fits ``AUTO_BATCH_HEADROOM`` of ``free_bytes`` (the GPU's free memory
    with the model and faces loaded), when a step at ``AUTO_BATCH_PROBE`` faces took ``probe_step_bytes`` more than
    was allocated before it (its peak). All of that is taken to grow with the batch (the optimizer's state, made in
    the first step, does not: the estimate errs small). At least 1, at most MAX_AUTO_BATCH."""
    per_face = max(1, probe_step_bytes // AUTO_BATCH_PROBE)
    return max(1, min(MAX_AUTO_BATCH, int(free_bytes * AUTO_BATCH_HEADROOM) // per_face))
