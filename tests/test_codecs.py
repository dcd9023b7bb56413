"""Codecs: TAEF2 on a real face, the pixel baseline, a tiny random SD VAE, descriptions and errors."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from latentswap_core.codecs import CODEC_NAMES, Codec, load_codec
from latentswap_core.errors import ModelError

FACE_BOX = (slice(20, 460), slice(270, 710))  # rows, columns of the face in obama.jpg (1137 x 910)


def face_tensor(face_photo: np.ndarray, size: int) -> torch.Tensor:
    crop = cv2.resize(face_photo[FACE_BOX], (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255.0


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1.0 / ((a - b) ** 2).mean()))


@pytest.fixture
def taef2(shared_models: Path) -> Codec:
    return load_codec("taef2")


# --- taef2 ------------------------------------------------------------------------------------------------


def test_taef2_round_trip_of_a_real_face(taef2: Codec, face_photo: np.ndarray) -> None:
    rgb = face_tensor(face_photo, 256)
    with torch.no_grad():
        latent = taef2.encode(rgb)
        decoded = taef2.decode(latent)
        from_zero = taef2.decode(torch.zeros_like(latent))
    assert latent.shape == (1, 32, 32, 32) == (1, *taef2.latent_shape(256))
    assert decoded.shape == rgb.shape and decoded.dtype == torch.float32
    assert 0.0 <= decoded.min() and decoded.max() <= 1.0
    assert psnr(decoded, rgb) > 27.0
    assert psnr(from_zero, rgb) < 18.0  # the latent carries the face
    with torch.no_grad():  # the decoder's soft clamp keeps wild latents (e.g. an untrained model's) bounded
        assert taef2.decode(1000 * torch.randn_like(latent), clamp=False).abs().max() < 10.0


def test_taef2_weights_are_what_makes_it_work(taef2: Codec, face_photo: np.ndarray) -> None:
    from latentswap_core.codecs.taef2 import TAEF2Module

    torch.manual_seed(0)
    untrained = TAEF2Module().eval()
    rgb = face_tensor(face_photo, 128)
    with torch.no_grad():
        untrained_psnr = psnr(untrained.decoder(untrained.encoder(rgb)).clamp(0, 1), rgb)
        loaded_psnr = psnr(taef2.decode(taef2.encode(rgb)), rgb)
    assert loaded_psnr > 24.0
    assert untrained_psnr < loaded_psnr - 10.0


def test_gradients_reach_the_latent_not_the_frozen_decoder(taef2: Codec, face_photo: np.ndarray) -> None:
    rgb = face_tensor(face_photo, 64)
    with torch.no_grad():
        latent = taef2.encode(rgb)
    latent = (latent + 0.1 * torch.randn_like(latent)).requires_grad_(True)
    loss = torch.nn.functional.mse_loss(taef2.decode(latent, clamp=False), rgb)
    loss.backward()
    assert latent.grad is not None and latent.grad.abs().sum() > 0
    parameters = list(taef2.module.parameters())
    assert parameters and all(not p.requires_grad and p.grad is None for p in parameters)
    assert not taef2.module.training


def test_taef2_describe_records_the_weights_hashes(taef2: Codec, shared_models: Path) -> None:
    folder = shared_models / "taef2"
    expected = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in ("taef2_decoder.safetensors", "taef2_encoder.safetensors")
    }
    info = taef2.describe()
    assert info == {
        "name": "taef2",
        "latent_channels": 32,
        "downscale": 8,
        "weights_sha256": expected,
        "source": str(folder),
    }
    assert list(info["weights_sha256"]) == sorted(expected)


# --- pixel ------------------------------------------------------------------------------------------------


def test_pixel_codec_round_trip_is_exact(face_photo: np.ndarray) -> None:
    codec = load_codec("pixel")  # default factor 2: a lossless space-to-depth, 12 channels at R/2
    rgb = face_tensor(face_photo, 256)
    latent = codec.encode(rgb)
    assert latent.shape == (1, 12, 128, 128) and codec.latent_shape(256) == (12, 128, 128)
    assert torch.equal(codec.decode(latent), rgb)
    assert torch.equal(latent[0, :, 0, 0].reshape(3, 2, 2), rgb[0, :, :2, :2])  # one 2x2 block per latent pixel
    assert codec.describe() == {
        "name": "pixel",
        "latent_channels": 12,
        "downscale": 2,
        "weights_sha256": {},
        "source": "",
    }
    assert load_codec("pixel", pixel_factor=4).latent_shape(256) == (48, 64, 64)
    assert codec.window_margin == 0  # a latent window decodes alone to exactly its pixels
    assert torch.equal(codec.decode(latent[..., 5:37, 9:41]), rgb[..., 10:74, 18:82])
    coarse = load_codec("pixel", pixel_factor=8)
    assert coarse.latent_shape(256) == (192, 32, 32) and torch.equal(coarse.decode(coarse.encode(rgb)), rgb)


# --- sd-vae -----------------------------------------------------------------------------------------------


def tiny_vae(folder: Path, seed: int, **config: float):
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(32, 64),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=64,
        **config,
    )
    vae.save_pretrained(folder, safe_serialization=True)
    return vae.eval()


def test_sd_vae_from_a_diffusers_folder(tmp_path: Path, face_photo: np.ndarray) -> None:
    reference = tiny_vae(tmp_path / "vae", seed=1, scaling_factor=0.5, shift_factor=0.1)
    codec = load_codec("sd-vae", path=tmp_path / "vae")
    rgb = face_tensor(face_photo, 64)
    with torch.no_grad():
        latent = codec.encode(rgb)
        decoded = codec.decode(latent, clamp=False)
        mean = reference.encode(rgb * 2 - 1).latent_dist.mean
        expected_image = (reference.decode(mean).sample + 1) / 2
    assert codec.latent_shape(64) == (4, 32, 32) and latent.shape == (1, 4, 32, 32)
    torch.testing.assert_close(latent, (mean - 0.1) * 0.5)
    torch.testing.assert_close(decoded, expected_image, rtol=1e-4, atol=1e-4)
    assert decoded.shape == rgb.shape
    info = codec.describe()
    assert info["name"] == "sd-vae" and info["downscale"] == 2 and info["latent_channels"] == 4
    assert list(info["weights_sha256"]) == ["config.json", "diffusion_pytorch_model.safetensors"]

    tiny_vae(tmp_path / "vae", seed=2, scaling_factor=0.5, shift_factor=0.1)
    weights_file = "diffusion_pytorch_model.safetensors"
    other_weights = load_codec("sd-vae", path=tmp_path / "vae").describe()["weights_sha256"]
    assert other_weights[weights_file] != info["weights_sha256"][weights_file]
    tiny_vae(tmp_path / "vae", seed=2, scaling_factor=0.25, shift_factor=0.1)  # same weights, other scaling
    rescaled = load_codec("sd-vae", path=tmp_path / "vae").describe()["weights_sha256"]
    assert rescaled[weights_file] == other_weights[weights_file]
    assert rescaled["config.json"] != other_weights["config.json"]


def test_sd_vae_path_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="needs path="):
        load_codec("sd-vae")
    with pytest.raises(ModelError, match="does not exist"):
        load_codec("sd-vae", path=tmp_path / "nowhere")
    single = tmp_path / "vae.safetensors"
    single.write_bytes(b"x")
    with pytest.raises(ModelError, match="single-file VAEs are not supported"):
        load_codec("sd-vae", path=single)
    with pytest.raises(ModelError, match="config.json is missing"):
        load_codec("sd-vae", path=tmp_path)
    (tmp_path / "config.json").write_text('{"_class_name": "UNet2DModel"}')
    with pytest.raises(ModelError, match="not an AutoencoderKL"):
        load_codec("sd-vae", path=tmp_path)


# --- errors -----------------------------------------------------------------------------------------------


def one_line(error: pytest.ExceptionInfo[ModelError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_unknown_codec_name() -> None:
    with pytest.raises(ModelError) as error:
        load_codec("vqgan")
    assert "'vqgan'" in one_line(error) and all(name in one_line(error) for name in CODEC_NAMES)


def test_missing_weights_name_the_search_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from latentswap_core import pretrained_search

    monkeypatch.setenv("LATENTSWAP_MODELS", str(tmp_path))
    monkeypatch.setenv("LATENTSWAP_CACHE", str(tmp_path / "cache"))  # nor a taef2 in the user's own cache
    monkeypatch.setattr(pretrained_search, "BUNDLED_DIR", tmp_path / "no bundle")  # an install that lost its weights
    with pytest.raises(ModelError) as error:
        load_codec("taef2")
    assert str(tmp_path) in one_line(error) and "taef2" in one_line(error)
    assert str(tmp_path / "no bundle") in one_line(error)


def test_corrupt_weights_name_the_file(tmp_path: Path, shared_models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "taef2"
    shutil.copytree(shared_models / "taef2", copy)
    monkeypatch.setenv("LATENTSWAP_MODELS", str(tmp_path))
    (copy / "taef2_encoder.safetensors").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ModelError) as error:
        load_codec("taef2")
    assert str(copy / "taef2_encoder.safetensors") in one_line(error)


def test_mismatched_weights_name_the_file(tmp_path: Path, shared_models: Path) -> None:
    from safetensors.torch import load_file, save_file

    copy = tmp_path / "taef2"
    shutil.copytree(shared_models / "taef2", copy)
    state = load_file(copy / "taef2_decoder.safetensors")
    state["19.weight"] = state["19.weight"][:1]  # a one-channel output: not TAEF2
    save_file(state, copy / "taef2_decoder.safetensors")
    with pytest.raises(ModelError) as error:
        load_codec("taef2", path=copy)
    assert "taef2_decoder.safetensors does not match the taef2 architecture" in one_line(error)


def test_face_size_must_fit_the_downscale(taef2: Codec) -> None:
    with pytest.raises(ModelError) as error:
        taef2.latent_shape(100)
    assert "face size 100" in one_line(error) and "96 or 104" in one_line(error)
    with pytest.raises(ModelError, match="face size 100"):
        taef2.encode(torch.zeros(1, 3, 100, 100))
    with pytest.raises(ModelError, match="B x 32 x h x w"):
        taef2.decode(torch.zeros(1, 4, 8, 8))
