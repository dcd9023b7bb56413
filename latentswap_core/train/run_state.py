"""What a training run saves beside its networks so that ``--resume`` continues it exactly, the same for both
trainers (swap model, refiner): the step and the time spent, the optimizer's state, the random states and the loss
history.

In ``trainer_state.safetensors`` (``checkpoint.py``): ``optimizer.{param}.{name}``, ``rng.torch`` (torch's global
generator: initialisation, VQ restarts, dropout), ``rng.sampler`` (the run's own generator, which draws the batches)
and ``rng.cuda`` (CUDA's generator, from runs on CUDA; a checkpoint without it leaves CUDA's generator as it is).
In ``trainer.json``: ``step``, ``elapsed_s``, ``options``, ``fingerprint``, the trainer's own records, ``optimizer``
(its scalars and parameter groups) and ``loss_tail``. ``losses.csv`` holds the whole history and ``losses.png``
plots it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from latentswap_core.errors import ModelError
from latentswap_core.train.checkpoint import optimizer_tensors, restore_optimizer
from latentswap_core.train.loop import Steppable
from latentswap_core.train.report import LOSS_FIELDS, plot_losses, read_loss_history, write_loss_history

LOSS_TAIL = 50  # trainer.json's last rows of the loss history: losses.csv lags after a kill mid-checkpoint
LOSSES_FILE = "losses.csv"
LOSSES_PLOT = "losses.png"
TORCH_RNG, SAMPLER_RNG, CUDA_RNG = "rng.torch", "rng.sampler", "rng.cuda"


def new_run_folder(output: Path, holds_run: bool, what: str) -> None:
    """Create ``output`` for a new run, or refuse one that already holds ``what`` (``--resume`` continues it)."""
    if holds_run:
        raise ModelError(f"{output} already holds {what}: add --resume to continue it, or choose a new -o folder")
    output.mkdir(parents=True, exist_ok=True)


def random_states(sampler: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    """torch's global RNG state, the batch sampler's and, on CUDA, CUDA's, named for the trainer state."""
    states = {TORCH_RNG: torch.get_rng_state(), SAMPLER_RNG: sampler.get_state()}
    if device.type == "cuda":
        states[CUDA_RNG] = torch.cuda.get_rng_state()
    return states


def restore_random_states(tensors: dict[str, torch.Tensor], sampler: torch.Generator | None,
                          device: torch.device) -> None:
    """Put back what ``random_states`` saved; ``sampler`` None leaves the sampler to the caller (the other
    processes of a data-parallel run reseed theirs), and CUDA's state is restored on CUDA when it was saved."""
    torch.set_rng_state(tensors[TORCH_RNG])
    if sampler is not None:
        sampler.set_state(tensors[SAMPLER_RNG])
    if CUDA_RNG in tensors and device.type == "cuda":
        torch.cuda.set_rng_state(tensors[CUDA_RNG])


def run_tensors(optimizer: torch.optim.Optimizer, sampler: torch.Generator,
                device: torch.device) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The optimizer's state tensors and the random states (for the trainer state), and the optimizer's scalars and
    parameter groups (for trainer.json's ``optimizer``)."""
    tensors, optimizer_json = optimizer_tensors(optimizer)
    tensors.update(random_states(sampler, device))
    return tensors, optimizer_json


def run_record(run: Steppable, options: dict[str, Any], fingerprint: dict[str, Any], optimizer_json: dict[str, Any],
               own: dict[str, Any]) -> dict[str, Any]:
    """trainer.json's contents: the run's step, time, options and fingerprint, the trainer's ``own`` records, the
    optimizer's scalars and the tail of the loss history."""
    return {"step": run.step, "elapsed_s": round(run.elapsed, 3), "options": options, "fingerprint": fingerprint,
            **own, "optimizer": optimizer_json, "loss_tail": run.history[-LOSS_TAIL:]}


def restore_run(output: Path, trainer: dict[str, Any], tensors: dict[str, torch.Tensor],
                optimizer: torch.optim.Optimizer, lr: float, sampler: torch.Generator | None,
                device: torch.device) -> tuple[int, float, list[dict[str, Any]]]:
    """Put a checkpoint's optimizer and random states back (see ``restore_random_states`` for ``sampler``);
    -> its step, seconds spent and loss history (losses.csv up to the step, then trainer.json's newer rows)."""
    restore_optimizer(optimizer, tensors, trainer["optimizer"], lr)
    restore_random_states(tensors, sampler, device)
    step, elapsed = int(trainer["step"]), float(trainer["elapsed_s"])
    history = read_loss_history(output / LOSSES_FILE, step)
    last = history[-1]["step"] if history else 0  # losses.csv lags after a kill mid-checkpoint
    history += [row for row in trainer.get("loss_tail", []) if row["step"] > last]
    return step, elapsed, history


def write_losses(output: Path, history: list[dict[str, Any]], fields: tuple[str, ...] = LOSS_FIELDS,
                 curves: tuple[str, ...] | None = None) -> None:
    """``losses.csv`` (the columns ``fields``) and, once there are rows, ``losses.png`` (``curves``; default: the
    plot's own)."""
    write_loss_history(output / LOSSES_FILE, history, fields)
    if history:
        if curves is None:
            plot_losses(output / LOSSES_PLOT, history)
        else:
            plot_losses(output / LOSSES_PLOT, history, curves)
