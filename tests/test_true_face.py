"""``--true-face-power`` (train/true_face.py): one loss term trains the discriminator on the codes and the model
against the discriminator, each with its own part; it reaches the model, the checkpoint keeps the discriminator,
``--resume`` continues exactly in the eager and the static step, and settings it cannot serve are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import TINY_FACESET_SIZE
from safetensors.torch import load_file

from latentswap_core.errors import ModelError
from latentswap_core.train import Trainer, TrainOptions
from latentswap_core.train.true_face import TENSOR_PREFIX, TrueFace

POWER = 0.1


def options(facesets, output: Path, **overrides) -> TrainOptions:
    settings = dict(resolution=TINY_FACESET_SIZE, steps=6, lr=5e-4, preview_every=0, pixel_loss_every=2, seed=3,
                    device="cpu", true_face_power=POWER)
    settings.update(overrides)
    return TrainOptions(facesets[0], facesets[1], output, **settings)


def test_one_term_trains_the_discriminator_on_the_codes_and_the_codes_against_the_discriminator() -> None:
    torch.manual_seed(0)
    true_face = TrueFace(code_channels=16, code_size=4, power=POWER)
    src = torch.randn(3, 16, 4, 4, requires_grad=True)
    dst = torch.randn(3, 16, 4, 4, requires_grad=True)
    true_face.loss(src, dst).backward()
    weights = list(true_face.discriminator.parameters())
    combined = [w.grad.clone() for w in weights], src.grad.clone(), dst.grad

    true_face.zero_grad()
    real, fake = true_face.discriminator(dst), true_face.discriminator(src)
    discriminator_loss = 0.5 * (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                                + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
    expected_weights = torch.autograd.grad(discriminator_loss, weights)
    fooled = true_face.discriminator(src)
    (expected_src,) = torch.autograd.grad(POWER * F.binary_cross_entropy_with_logits(fooled, torch.ones_like(fooled)),
                                          src)
    for got, expected in zip(combined[0], expected_weights, strict=True):
        assert torch.allclose(got, expected, atol=1e-7)  # the discriminator learns from its own loss only
    assert torch.allclose(combined[1], expected_src, atol=1e-7)  # the src codes, from the model's term only
    assert combined[2] is None or not combined[2].any()  # the dst codes are the discriminator's "real" side only


@pytest.mark.parametrize("step_mode", ["eager", "static"])
def test_the_term_reaches_the_model_is_kept_in_the_checkpoint_and_resumes_exactly(tiny_facesets, shared_models,
                                                                                  tmp_path: Path, step_mode) -> None:
    settings = dict(step_mode=step_mode, **({"loss_every": 1} if step_mode == "static" else {}))
    straight = Trainer(options(tiny_facesets, tmp_path / "straight", **settings)).run().history
    stronger = Trainer(options(tiny_facesets, tmp_path / "stronger", true_face_power=1.0, **settings)).run().history
    first = Trainer(options(tiny_facesets, tmp_path / "split", steps=3, **settings))
    fresh = {name: value.clone() for name, value in first.true_face.discriminator.state_dict().items()}
    first.run()
    resumed = Trainer(options(tiny_facesets, tmp_path / "split", resume=True, **settings)).run().history
    assert [row["step"] for row in resumed] == list(range(1, 7))
    for a, b in zip(straight[3:], resumed[3:], strict=True):
        assert abs(a["loss"] - b["loss"]) <= 1e-6, (a, b)
    assert abs(straight[-1]["latent"] - stronger[-1]["latent"]) > 1e-7  # the power reaches the model
    state = load_file(str(tmp_path / "split" / "trainer_state.safetensors"))
    kept = {key[len(TENSOR_PREFIX):]: value for key, value in state.items() if key.startswith(TENSOR_PREFIX)}
    assert kept.keys() == fresh.keys() and any(not torch.equal(kept[k], fresh[k]) for k in kept)  # it trained
    record = json.loads((tmp_path / "split" / "trainer.json").read_text())
    assert record["options"]["true_face_power"] == POWER and record["fingerprint"]["true face power"] == POWER


def test_what_true_face_cannot_serve_is_refused_in_one_line(tiny_facesets, shared_models, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"--true-face-power 1.5 is not allowed: use 0 \(off\) to 1"):
        options(tiny_facesets, tmp_path / "a", true_face_power=1.5)
    with pytest.raises(ModelError, match="--true-face-power needs --layout df"):
        options(tiny_facesets, tmp_path / "b", layout="liae")
    Trainer(options(tiny_facesets, tmp_path / "model", steps=1, true_face_power=0.0)).run()
    fingerprint = json.loads((tmp_path / "model" / "trainer.json").read_text())["fingerprint"]
    assert "true face power" not in fingerprint  # off: the fingerprint of runs from before the option
    with pytest.raises(ModelError, match="trained without true face power, not with 0.1"):  # turned on in a resume
        Trainer(options(tiny_facesets, tmp_path / "model", steps=2, resume=True))
    Trainer(options(tiny_facesets, tmp_path / "with", steps=1)).run()
    with pytest.raises(ModelError, match="trained with true face power 0.1, this run without it"):  # turned off
        Trainer(options(tiny_facesets, tmp_path / "with", steps=2, resume=True, true_face_power=0.0))
