"""Data-parallel training over the processes ``torchrun`` starts: one per GPU (NCCL), or per CPU slot (gloo).

Every process holds a full replica, draws its own batches and computes its gradients; ``average_gradients``
all-reduces them into one flat buffer before each optimizer step, so the replicas stay identical without
DistributedDataParallel's one-forward-per-backward rule (a step here runs one forward per identity). The VQ
codebook's EMA statistics are buffers, not parameters: ``average_buffers`` averages them after each step.
Without ``WORLD_SIZE`` in the environment (a plain ``latentswap train``) everything here is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from latentswap_core.devices import resolve_device


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: str = "cpu"  # where the collectives' small tensors live (NCCL needs them on the GPU)

    @property
    def is_main(self) -> bool:
        """The process that writes checkpoints, previews and progress."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1


def join_world(device_request: str) -> tuple[World, torch.device]:
    """The process group ``torchrun`` describes in the environment, and this process's device.

    ``device_request`` is the trainer's ``--device`` (auto, cpu, cuda): with CUDA each process takes the GPU
    of its local rank and NCCL; otherwise the CPU and gloo.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    device_name = resolve_device(device_request)
    if size <= 1:
        return World(), torch.device(device_name)
    use_cuda = device_name.startswith("cuda")
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    world = World(rank, size, local_rank, str(device))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return world, device


def leave_world() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_module(module: nn.Module, world: World) -> None:
    """Rank 0's parameters and buffers everywhere (a start from identical weights, whatever each process loaded)."""
    if world.active:
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)


def average_gradients(parameters: list[nn.Parameter], world: World) -> None:
    """Every replica's gradients replaced by their mean across processes, in one all-reduce."""
    if not world.active:
        return
    grads = []
    for parameter in parameters:
        if parameter.grad is None:  # a part no loss reached on this process: it still takes part in the mean
            parameter.grad = torch.zeros_like(parameter)
        grads.append(parameter.grad)
    flat = torch.cat([grad.reshape(-1) for grad in grads])
    dist.all_reduce(flat)
    flat /= world.size
    offset = 0
    for grad in grads:
        count = grad.numel()
        grad.copy_(flat[offset:offset + count].view_as(grad))
        offset += count


def average_buffers(module: nn.Module, world: World) -> None:
    """Floating-point buffers (the VQ codebook and its EMA statistics) averaged across processes; the others
    (counters, flags) taken from rank 0."""
    if not world.active:
        return
    for buffer in module.buffers():
        if buffer.is_floating_point():
            dist.all_reduce(buffer.data)
            buffer.data /= world.size
        else:
            dist.broadcast(buffer.data, src=0)


def average_values(values: dict[str, float], world: World) -> dict[str, float]:
    """The mean of each number across processes (loss figures for the history every process keeps)."""
    if not world.active:
        return values
    names = sorted(values)
    tensor = torch.tensor([values[name] for name in names], dtype=torch.float64, device=world.device)
    dist.all_reduce(tensor)
    return {name: float(value) / world.size for name, value in zip(names, tensor.tolist(), strict=True)}


def any_process(flag: bool, world: World) -> bool:
    """True on every process when it is true on one (Ctrl-C, a deadline): all stop after the same step."""
    if not world.active:
        return flag
    tensor = torch.tensor([1 if flag else 0], device=world.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def barrier(world: World) -> None:
    if world.active:
        dist.barrier()


def replicas_differ(module: nn.Module, world: World) -> float:
    """The largest difference of any parameter between processes (0 while they are in step)."""
    if not world.active:
        return 0.0
    flat = torch.cat([parameter.detach().reshape(-1).float() for parameter in module.parameters()])
    high, low = flat.clone(), flat.clone()
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    return float((high - low).max())
