"""An exponential moving average of a trained network's weights: what a training run delivers (the swap model's
``model/``, the refiner's UNet in ``refiner/``).

With AdamW at the default rate the live weights jitter from step to step: the brightness of held-out
reconstructions moved by up to 8 % of the range between evaluations a few hundred steps apart, their PSNR by 2-3 dB.
The average over the last steps holds the same faces steadily and scores higher (``benchmarks/train_speed.py``
evaluates it). Its decay ramps up as ``(1 + step) / (10 + step)`` to ``decay``, so early in a run it follows the
live weights closely and later it averages over roughly the last tenth of the run (at most ~1 / (1 - decay) steps).
Buffers (the VQ codebook, itself a moving average of the encoder's outputs) are the live model's.
The checkpoint keeps the live weights and the average (``average.{name}``), so ``--resume`` continues both exactly.
"""

from __future__ import annotations

import copy

import torch

PREFIX = "average."  # the averaged weights' names in trainer_state.safetensors


def start_average(model: torch.nn.Module, decay: float,
                  checkpoint: dict[str, torch.Tensor] | None = None) -> WeightAverage | None:
    """The run's average of ``model`` (None with ``decay`` 0: the live weights are delivered), taken from a
    resumed run's checkpoint tensors when they hold it."""
    if not decay:
        return None
    average = WeightAverage(model, decay)
    if checkpoint is not None:
        average.restore(checkpoint)
    return average


class WeightAverage:
    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self._live: list[torch.Tensor] = list(model.parameters())
        self._averaged: list[torch.Tensor] = list(self.model.parameters())
        self._live_buffers = list(model.buffers())
        self._averaged_buffers = list(self.model.buffers())

    @torch.no_grad()
    def update(self, step: int) -> None:
        """Move the average towards the live weights after optimizer step number ``step`` (1 for the first)."""
        decay = min(self.decay, (1 + step) / (10 + step))
        torch._foreach_lerp_(self._averaged, self._live, 1 - decay)
        if self._live_buffers:  # none without VQ
            torch._foreach_copy_(self._averaged_buffers, self._live_buffers)

    @torch.no_grad()
    def update_on_device(self, step: torch.Tensor) -> None:
        """``update`` with the step number as a 0-dim float tensor on the weights' device: nothing is read back
        (the static step, ``static_step.py``). The decay is computed in float32, not in Python's double."""
        decay = ((1 + step) / (10 + step)).clamp(max=self.decay)
        # average * decay + live * (1 - decay): the foreach ops that take a device scalar (those capturable
        # optimizers use); _foreach_lerp_ with a tensor weight reads it back on the CPU
        torch._foreach_mul_(self._averaged, decay)
        torch._foreach_add_(self._averaged, torch._foreach_mul(self._live, 1 - decay))
        if self._live_buffers:
            torch._foreach_copy_(self._averaged_buffers, self._live_buffers)

    def tensors(self) -> dict[str, torch.Tensor]:
        """The averaged parameters, named for the trainer state."""
        return {PREFIX + name: t.detach().cpu().contiguous() for name, t in self.model.named_parameters()}

    @torch.no_grad()
    def restore(self, tensors: dict[str, torch.Tensor]) -> None:
        """Take the averaged parameters of a checkpoint; one saved without them keeps the live weights."""
        for name, parameter in self.model.named_parameters():
            if PREFIX + name in tensors:
                parameter.copy_(tensors[PREFIX + name])
