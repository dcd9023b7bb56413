"""The delivered weights: a moving average of the live ones, saved as model/, resumed exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import TINY_FACESET_SIZE, latentswap
from safetensors.torch import load_file

from latentswap_core.models import SwapModel, SwapModelConfig, load_model
from latentswap_core.train import Trainer, TrainOptions
from latentswap_core.train.weight_average import WeightAverage


@pytest.mark.parametrize("vq", [True, False], ids=["vq", "no_vq"])
def test_the_average_follows_early_steps_closely_and_later_ones_slowly(vq: bool) -> None:
    model = SwapModel(SwapModelConfig(latent_channels=8, face_size=128, latent_size=16, vq=vq))
    average = WeightAverage(model, decay=0.999)
    weight, averaged = model.inter.conv1.weight, average.model.inter.conv1.weight
    start = averaged.clone()
    with torch.no_grad():
        weight.add_(1.0)
    average.update(step=1)  # decay (1 + 1) / (10 + 1): 9/11 of the way to the live weights
    assert torch.allclose(averaged, start + 9 / 11, atol=1e-6)
    at_step_1 = averaged.clone()
    with torch.no_grad():
        weight.add_(1.0)
    average.update(step=10_000)  # the ramp has reached 0.999
    assert torch.allclose(averaged, at_step_1 + 0.001 * (weight - at_step_1), atol=1e-6)
    assert not averaged.requires_grad and not average.model.training
    if vq:  # the codebook is the live model's
        with torch.no_grad():
            model.quantizer.codebook.add_(1.0)
        average.update(step=10_001)
        assert torch.equal(average.model.quantizer.codebook, model.quantizer.codebook)


def test_model_dir_holds_the_average_and_a_resumed_run_averages_on_exactly(tiny_facesets, shared_models,
                                                                           tmp_path: Path) -> None:
    def options(output: Path, **overrides) -> TrainOptions:
        settings = dict(resolution=TINY_FACESET_SIZE, steps=8, preview_every=0, pixel_loss_every=3, seed=5,
                        average_decay=0.5)
        return TrainOptions(*tiny_facesets, output, **{**settings, **overrides})

    Trainer(options(tmp_path / "straight")).run()
    Trainer(options(tmp_path / "split", steps=4)).run()
    Trainer(options(tmp_path / "split", resume=True)).run()

    straight = load_model(tmp_path / "straight" / "model").state_dict()
    resumed = load_model(tmp_path / "split" / "model").state_dict()
    for name, tensor in straight.items():
        assert torch.allclose(tensor, resumed[name], atol=1e-6), name
    live = load_file(str(tmp_path / "straight" / "trainer_state.safetensors"))
    name = "inter.conv1.weight"
    assert torch.equal(live["average." + name], straight[name])
    assert (live["model." + name] - straight[name]).abs().max() > 1e-4  # the average is not the live weights


def test_average_decay_0_delivers_the_live_weights(tiny_facesets, shared_models, tmp_path: Path) -> None:
    output = tmp_path / "model"
    done = latentswap("train", "--src", str(tiny_facesets[0]), "--dst", str(tiny_facesets[1]), "-o", str(output),
                      "--resolution", str(TINY_FACESET_SIZE), "--steps", "3", "--average-decay", "0")
    assert done.returncode == 0, done.stderr
    state = load_file(str(output / "trainer_state.safetensors"))
    assert not any(name.startswith("average.") for name in state)
    delivered = load_model(output / "model").state_dict()
    assert torch.equal(delivered["inter.conv1.weight"], state["model.inter.conv1.weight"])


@pytest.mark.parametrize("command", ["train", "train-refiner"])
@pytest.mark.parametrize("decay", ["1", "-0.1"])
def test_a_decay_outside_0_to_1_is_refused_in_one_line(tiny_facesets, tmp_path: Path, decay: str,
                                                       command: str) -> None:
    inputs = ["--src", str(tiny_facesets[0]), "--dst", str(tiny_facesets[1])] if command == "train" else \
        ["--faceset", str(tiny_facesets[0])]
    done = latentswap(command, *inputs, "-o", str(tmp_path / "model"), "--steps", "1", "--average-decay", decay)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and f"--average-decay {float(decay)} is not allowed" in done.stderr
    assert not (tmp_path / "model").exists()
