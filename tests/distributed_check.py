"""Run by tests/test_distributed.py under ``torchrun --nproc_per_node 2``: the collectives of a data-parallel step."""

from __future__ import annotations

import torch
from torch import nn

from latentswap_core.train.distributed import (
    any_process,
    average_buffers,
    average_gradients,
    average_values,
    broadcast_module,
    join_world,
    leave_world,
    replicas_differ,
)


def main() -> None:
    world, device = join_world("cpu")
    assert world.active and world.size == 2 and device.type == "cpu"
    torch.manual_seed(world.rank)  # deliberately different weights on each process
    model = nn.Linear(3, 2)
    model.register_buffer("ema", torch.full((2,), float(world.rank)))
    model.register_buffer("count", torch.tensor(10 + world.rank))
    assert replicas_differ(model, world) > 0
    broadcast_module(model, world)
    assert replicas_differ(model, world) == 0

    parameters = list(model.parameters())
    parameters[0].grad = torch.full_like(parameters[0], float(world.rank + 1))  # 1 on rank 0, 2 on rank 1
    parameters[1].grad = None  # a part no loss reached on this process
    average_gradients(parameters, world)
    assert torch.equal(parameters[0].grad, torch.full_like(parameters[0], 1.5))
    assert torch.equal(parameters[1].grad, torch.zeros_like(parameters[1]))

    model.ema.fill_(float(world.rank))
    model.count.fill_(10 + world.rank)
    average_buffers(model, world)
    assert torch.equal(model.ema, torch.full((2,), 0.5)) and int(model.count) == 10

    assert average_values({"loss": float(world.rank)}, world) == {"loss": 0.5}
    assert any_process(world.rank == 1, world) is True and any_process(False, world) is False
    leave_world()
    print(f"rank {world.rank} ok", flush=True)


if __name__ == "__main__":
    main()
