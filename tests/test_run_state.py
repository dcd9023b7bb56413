"""What both trainers save to resume exactly (train/run_state.py): random states, CUDA's too, put back as saved; the
loss history continued from losses.csv and trainer.json's tail; the run's length checked the same way."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from latentswap_core.errors import ModelError
from latentswap_core.train.options import check_run_length
from latentswap_core.train.report import write_loss_history
from latentswap_core.train.run_state import (
    CUDA_RNG,
    SAMPLER_RNG,
    TORCH_RNG,
    random_states,
    restore_random_states,
    restore_run,
    run_tensors,
)

CUDA = torch.device("cuda")  # a device object only: CUDA's generator is faked below


@pytest.fixture
def fake_cuda_generator(monkeypatch: pytest.MonkeyPatch) -> list[torch.Tensor]:
    """torch.cuda's get/set_rng_state on a machine without CUDA: get gives a marker, set records what it got."""
    restored: list[torch.Tensor] = []
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda: torch.arange(16, dtype=torch.uint8))
    monkeypatch.setattr(torch.cuda, "set_rng_state", restored.append)
    return restored


def test_torch_s_and_the_sampler_s_states_come_back_as_saved() -> None:
    sampler = torch.Generator().manual_seed(7)
    saved = random_states(sampler, torch.device("cpu"))
    assert set(saved) == {TORCH_RNG, SAMPLER_RNG}  # no CUDA state from a CPU run
    drawn = torch.rand(4), torch.rand(4, generator=sampler)
    restore_random_states(saved, sampler, torch.device("cpu"))
    again = torch.rand(4), torch.rand(4, generator=sampler)
    assert torch.equal(drawn[0], again[0]) and torch.equal(drawn[1], again[1])


def test_a_cuda_run_saves_and_restores_cuda_s_state(fake_cuda_generator: list[torch.Tensor]) -> None:
    sampler = torch.Generator()
    saved = random_states(sampler, CUDA)
    assert torch.equal(saved[CUDA_RNG], torch.arange(16, dtype=torch.uint8))
    restore_random_states(saved, sampler, CUDA)
    assert len(fake_cuda_generator) == 1 and torch.equal(fake_cuda_generator[0], saved[CUDA_RNG])
    restore_random_states(saved, sampler, torch.device("cpu"))  # resumed on the CPU: CUDA is left alone
    old = {name: t for name, t in saved.items() if name != CUDA_RNG}  # a checkpoint from before CUDA's state
    restore_random_states(old, sampler, CUDA)
    assert len(fake_cuda_generator) == 1


def test_restore_run_continues_the_optimizer_the_step_and_the_loss_history(tmp_path: Path) -> None:
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.AdamW([weight], lr=0.1)
    weight.sum().backward()
    optimizer.step()
    sampler = torch.Generator().manual_seed(3)
    tensors, optimizer_json = run_tensors(optimizer, sampler, torch.device("cpu"))
    rows = [{"step": step, "loss": 1.0 / step, "seconds": 0.1} for step in range(1, 6)]
    write_loss_history(tmp_path / "losses.csv", rows[:3], ("step", "loss", "seconds"))  # lags: killed mid-save
    trainer = {"step": 5, "elapsed_s": 1.5, "optimizer": optimizer_json, "loss_tail": rows[2:]}

    fresh = torch.optim.AdamW([torch.nn.Parameter(torch.ones(3))], lr=0.1)
    resumed_sampler = torch.Generator()
    step, elapsed, history = restore_run(tmp_path, trainer, tensors, fresh, 0.05, resumed_sampler,
                                         torch.device("cpu"))
    assert (step, elapsed) == (5, 1.5)
    assert [row["step"] for row in history] == [1, 2, 3, 4, 5]
    assert torch.equal(resumed_sampler.get_state(), sampler.get_state())
    assert fresh.param_groups[0]["lr"] == 0.05
    state = next(iter(fresh.state.values()))
    assert torch.equal(state["exp_avg"], optimizer.state[weight]["exp_avg"])


@pytest.mark.parametrize(("steps", "minutes", "message"), [
    (None, None, "give either --steps N or --minutes M"),
    (10, 1.0, "give either --steps N or --minutes M"),
    (0, None, "must be more than 0"),
    (None, -1.0, "must be more than 0"),
    (None, math.nan, "must be more than 0"),
    (None, math.inf, "finite number of minutes"),
])
def test_a_run_s_length_is_checked_the_same_for_both_trainers(steps, minutes, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        check_run_length(steps, minutes)
    check_run_length(10, None)
    check_run_length(None, 0.5)
