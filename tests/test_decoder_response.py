"""The decoder-response loss: a linear model of TAEF2's decoder, fitted on real faces, predicts what a latent
error does to the pixels; the Trainer adds it every step for learned codecs only."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from helpers import TINY_FACESET_SIZE

from latentswap_core.codecs import load_codec
from latentswap_core.train import Trainer, TrainOptions
from latentswap_core.train.decoder_response import PROBE_LEVEL, fit_decoder_response, fit_digest


@pytest.fixture(scope="module")
def codec_and_latents(shared_dir: Path):
    """TAEF2 and the latents of 256 px crops of three real portraits."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENTSWAP_MODELS", str(shared_dir / "models"))
        codec = load_codec("taef2")
    crops = []
    for name in ("obama", "biden", "obama2"):
        from latentswap_core.io import read_image

        photo = read_image(shared_dir / "data" / "faces" / f"{name}.jpg").pixels
        side = min(photo.shape[:2])
        crops.append(cv2.resize(photo[:side, :side], (256, 256), interpolation=cv2.INTER_AREA))
    rgb = torch.from_numpy(np.stack(crops).astype(np.float32) / 255).permute(0, 3, 1, 2)
    with torch.no_grad():
        return codec, codec.encode(rgb)


@pytest.mark.slow
def test_the_fitted_response_predicts_the_decoders_pixel_change(codec_and_latents) -> None:
    codec, latents = codec_and_latents
    response, explained = fit_decoder_response(codec, latents[:2], seed=0)
    z = latents[2:]  # a face the fit never saw
    generator = torch.Generator().manual_seed(7)
    scale = latents.std(dim=(0, 2, 3))[None, :, None, None] * PROBE_LEVEL
    white = torch.randn(z.shape, generator=generator) * scale
    smooth = torch.nn.functional.interpolate(torch.randn(1, 32, 8, 8, generator=generator), size=z.shape[-2:],
                                             mode="bilinear", align_corners=False) * scale
    # The decoder is far from linear (ReLUs): a linear response explains a share of the change, not all of it. On
    # this new face ~0.43 for white errors and ~0.62 for smooth ones with 3 x 3 kernels (1 x 1: 0.27 and 0.29).
    shares = {}
    for name, error, least in (("white", white, 0.33), ("smooth", smooth, 0.5)):
        with torch.no_grad():
            actual = codec.decode(z + error, clamp=False) - codec.decode(z, clamp=False)
            predicted = response(error)
        assert predicted.shape == actual.shape == (1, 3, 256, 256)
        shares[name] = 1 - float(((predicted - actual) ** 2).sum() / ((actual - actual.mean()) ** 2).sum())
        assert shares[name] > least, f"the response explains only {shares[name]:.2f} of a {name} error's effect"
        if name == "white":  # one gain per latent channel, even fitted to this very change, explains ~0.21
            assert 1 - channel_gain_unexplained(error, actual) < 0.7 * shares[name]
    assert 0.33 < explained <= 1.0
    assert float(response(torch.zeros_like(z)).abs().max()) == 0.0


def channel_gain_unexplained(error: torch.Tensor, actual: torch.Tensor) -> float:
    """Unexplained share of ``actual`` by the best fit of each pixel to the nearest-upsampled latent error."""
    upsampled = torch.nn.functional.interpolate(error, scale_factor=8, mode="nearest")[0].flatten(1).T.double()
    targets = actual[0].flatten(1).T.double()
    solution = torch.linalg.lstsq(upsampled, targets).solution
    return float(((upsampled @ solution - targets) ** 2).sum() / ((targets - targets.mean(0)) ** 2).sum())


def test_the_trainer_adds_the_response_loss_for_learned_codecs_only(tiny_facesets, shared_models,
                                                                    tmp_path: Path) -> None:
    def history(codec: str, **options):
        settings = dict(resolution=TINY_FACESET_SIZE, steps=2, preview_every=0, pixel_loss_every=0, codec=codec)
        trainer = Trainer(TrainOptions(*tiny_facesets, tmp_path / f"{codec}-{len(options)}", **settings, **options))
        return trainer, trainer.run().history

    trainer, rows = history("taef2")
    assert trainer.response_fit > 0.33
    assert all(math.isfinite(row["response"]) and row["response"] > 0 for row in rows)
    assert all(abs(row["loss"] - row["latent"] - row["mask"] - row["commitment"] - row["response"]) < 1e-5
               for row in rows)
    trainer, rows = history("taef2", decoder_response=False)
    assert trainer.response is None and all(row["response"] == "" for row in rows)
    trainer, rows = history("pixel")
    assert trainer.response is None and all(row["response"] == "" for row in rows)


def test_the_fit_digest_follows_everything_the_fit_answers_from() -> None:
    """A resumed run reuses the saved fit only when its digest matches: one latent value, the seed or the codec's
    weights changed must change it."""
    from types import SimpleNamespace

    codec = SimpleNamespace(weights_sha256={"decoder": "a" * 64})
    latents = torch.randn(3, 32, 16, 16, generator=torch.Generator().manual_seed(0))
    digest = fit_digest(codec, latents, 0)
    assert fit_digest(codec, latents.clone(), 0) == digest
    changed = latents.clone()
    changed[2, 31, 15, 15] += 1e-3
    assert fit_digest(codec, changed, 0) != digest
    assert fit_digest(codec, latents, 1) != digest
    assert fit_digest(SimpleNamespace(weights_sha256={"decoder": "b" * 64}), latents, 0) != digest
