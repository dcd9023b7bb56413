"""The latent-space swap model: shapes, the VQ bottleneck, learning, and the save/load round trip."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from latentswap_core.errors import ModelError
from latentswap_core.models import (
    SwapModel,
    SwapModelConfig,
    VectorQuantizer,
    load_model,
    perplexity,
    save_model,
)


def tiny_config(**options) -> SwapModelConfig:
    base = dict(
        latent_channels=8,
        face_size=128,
        latent_size=16,
        encoder_dims=8,
        inter_dims=16,
        decoder_dims=8,
        codebook_size=16,
        code_dim=8,
    )
    base.update(options)
    return SwapModelConfig(**base)


@pytest.mark.parametrize("channels", [32, 192])  # TAEF2 and the pixel codec at 256 px
@pytest.mark.parametrize("layout", ["df", "liae"])
@pytest.mark.parametrize("vq", [True, False])
def test_output_shapes_and_mask_range(channels, layout, vq):
    torch.manual_seed(0)
    config = SwapModelConfig(latent_channels=channels, face_size=256, latent_size=32, layout=layout, vq=vq)
    model = SwapModel(config)
    latent = torch.randn(2, channels, 32, 32)
    for identity in ("src", "dst"):
        out = model.reconstruct(latent, identity)
        assert out.latent.shape == latent.shape
        assert out.mask.shape == (2, 1, 32, 32)
        assert 0.0 <= float(out.mask.detach().min()) and float(out.mask.detach().max()) <= 1.0
        assert out.commitment_loss.ndim == 0
        assert (out.vq_stats is not None) == vq
        if not vq:
            assert float(out.commitment_loss) == 0.0
    model.eval()  # swap(dst, "src") is DFL's merge: the same function as reconstructing as "src"
    assert torch.equal(model.swap(latent, "src").latent, model.reconstruct(latent, "src").latent)


def test_identities_give_different_outputs_and_unknown_identity_is_refused():
    torch.manual_seed(0)
    for layout in ("df", "liae"):
        model = SwapModel(tiny_config(layout=layout)).eval()
        latent = torch.randn(2, 8, 16, 16)
        assert not torch.allclose(model.reconstruct(latent, "src").latent, model.reconstruct(latent, "dst").latent)
        with pytest.raises(ModelError, match="'bob'"):
            model.swap(latent, "bob")
    with pytest.raises(ModelError, match="does not fit"):
        model.reconstruct(torch.randn(2, 4, 16, 16), "src")


def test_straight_through_gradient_reaches_the_encoder():
    torch.manual_seed(0)
    model = SwapModel(tiny_config()).train()
    latent = torch.randn(4, 8, 16, 16)
    out = model.reconstruct(latent, "src")
    torch.nn.functional.mse_loss(out.latent, latent).backward()  # reconstruction loss only, no commitment term
    grads = [p.grad for p in model.encoder.parameters()]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_ema_moves_the_codebook_in_training_only():
    torch.manual_seed(0)
    vq = VectorQuantizer(codebook_size=8, code_dim=4)
    z = torch.randn(4, 4, 4, 4)
    vq.train()
    vq(z)  # first batch initialises the codebook
    before = vq.codebook.clone()
    vq(z + 0.5)
    assert not torch.allclose(vq.codebook, before)
    vq.eval()
    frozen = {name: buffer.clone() for name, buffer in vq.named_buffers()}
    first, _, _ = vq(z + 1.0)
    second, _, _ = vq(z + 1.0)
    assert torch.equal(first, second)
    for name, buffer in vq.named_buffers():
        assert torch.equal(buffer, frozen[name]), name


def test_dead_codes_are_restarted_from_encoder_outputs():
    torch.manual_seed(0)
    vq = VectorQuantizer(codebook_size=16, code_dim=4, dead_code_updates=5).train()
    vq.initialised.fill_(True)
    with torch.no_grad():
        vq.codebook.copy_(torch.randn(16, 4) * 10)
        vq.codebook[0] = 0.0
        vq.ema_sum.copy_(vq.codebook)
    near_zero = lambda: 0.01 * torch.randn(2, 4, 4, 4)  # noqa: E731 - every input is nearest code 0
    vq(near_zero())
    assert float(vq.last_stats.usage) == 1 / 16
    restarted = 0
    for _ in range(5):
        vq(near_zero())
        restarted += int(vq.last_stats.restarted)
    assert restarted == 15  # every unused code was re-initialised...
    assert float(vq.codebook[1:].abs().max()) < 0.2  # ...from the (near-zero) encoder outputs
    vq(0.05 * torch.randn(8, 4, 4, 4))
    assert float(vq.last_stats.usage) > 0.5  # and now they are used again


def test_under_bf16_autocast_vq_still_picks_the_nearest_code():
    torch.manual_seed(0)
    quantizer = VectorQuantizer(512, 64).eval()
    quantizer.codebook.copy_(torch.randn(512, 64) * 3 + 5)  # codes away from 0: bf16 distances lose their digits
    z = torch.randn(4, 64, 8, 8) * 3 + 5
    flat = z.permute(0, 2, 3, 1).reshape(-1, 64)
    nearest = quantizer.nearest(flat)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert (quantizer.nearest(flat) != nearest).any()  # what bf16 distances would have picked
        quantised, _, _ = quantizer(z)
    picked = quantised.permute(0, 2, 3, 1).reshape(-1, 64)
    assert torch.allclose(picked, quantizer.codebook[nearest], atol=1e-3)


def test_perplexity_uniform_and_single_code():
    assert perplexity(torch.arange(16).repeat(4), 16) == pytest.approx(16.0, rel=1e-5)
    assert perplexity(torch.full((64,), 3), 16) == pytest.approx(1.0)
    vq = VectorQuantizer(codebook_size=4, code_dim=2).eval()
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]]))
    uniform = vq.codebook.repeat(2, 1).t().reshape(1, 2, 2, 4)  # 8 vectors, two per code
    _, _, stats = vq(uniform)
    assert float(stats.perplexity) == pytest.approx(4.0, rel=1e-5) and float(stats.usage) == 1.0
    _, _, stats = vq(torch.zeros(1, 2, 2, 4))
    assert float(stats.perplexity) == pytest.approx(1.0) and float(stats.usage) == 0.25


@pytest.mark.parametrize("layout", ["df", "liae"])
def test_tiny_model_overfits_one_batch(layout):
    torch.manual_seed(0)
    model = SwapModel(tiny_config(layout=layout, vq=False, encoder_dims=16, inter_dims=32, decoder_dims=16)).train()
    latent = torch.randn(4, 8, 16, 16)
    mask = (torch.rand(4, 1, 16, 16) > 0.5).float()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(100):
        out = model.reconstruct(latent, "src")
        loss = torch.nn.functional.mse_loss(out.latent, latent) + torch.nn.functional.mse_loss(out.mask, mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 5


def test_vq_model_learns_with_commitment_loss():
    torch.manual_seed(0)
    model = SwapModel(tiny_config(encoder_dims=16, inter_dims=32, decoder_dims=16)).train()
    latent = torch.randn(4, 8, 16, 16)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(100):
        out = model.reconstruct(latent, "dst")
        loss = torch.nn.functional.mse_loss(out.latent, latent) + out.commitment_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 2


@pytest.mark.parametrize("layout", ["df", "liae"])
def test_save_load_round_trip(tmp_path, layout):
    torch.manual_seed(0)
    model = SwapModel(tiny_config(layout=layout)).train()
    for _ in range(3):
        model.reconstruct(torch.randn(2, 8, 16, 16), "src")  # move the EMA buffers away from their start
    model.eval()
    save_model(model, tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["config.json", "model.safetensors"]
    loaded = load_model(tmp_path / "model")
    assert loaded.config == model.config
    for name, buffer in model.named_buffers():
        assert torch.equal(buffer, dict(loaded.named_buffers())[name]), name
    latent = torch.randn(2, 8, 16, 16)
    for identity in ("src", "dst"):
        a, b = model.swap(latent, identity), loaded.swap(latent, identity)
        assert torch.equal(a.latent, b.latent) and torch.equal(a.mask, b.mask)


def test_load_refuses_bad_folders(tmp_path):
    model = SwapModel(tiny_config())
    folder = save_model(model, tmp_path / "model")
    config_path, weights_path = folder / "config.json", folder / "model.safetensors"

    other = tiny_config(decoder_dims=12).to_dict()
    good = config_path.read_text()
    config_path.write_text(json.dumps(other))
    with pytest.raises(ModelError, match="model.safetensors does not match"):
        load_model(folder)

    config_path.write_text(json.dumps({**json.loads(good), "version": 99}))
    with pytest.raises(ModelError, match="config.json is swap model config version 99"):
        load_model(folder)
    config_path.write_text(good)

    data = weights_path.read_bytes()
    weights_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="model.safetensors is not a readable safetensors") as caught:
        load_model(folder)
    assert "\n" not in str(caught.value)

    weights_path.unlink()
    with pytest.raises(ModelError, match="model.safetensors is missing"):
        load_model(folder)


@pytest.mark.parametrize("face_size", [64, 96, 200, 1088, 2048])
def test_face_size_out_of_range_is_refused(face_size):
    with pytest.raises(ModelError, match=f"face size {face_size} px") as caught:
        SwapModelConfig(latent_channels=32, face_size=face_size, latent_size=face_size // 8)
    assert "\n" not in str(caught.value)


def test_presets_scale_and_config_round_trips():
    sizes = []
    for preset in ("small", "medium", "large"):
        config = SwapModelConfig(latent_channels=32, face_size=256, latent_size=32, preset=preset)
        assert SwapModelConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
        sizes.append(sum(p.numel() for p in SwapModel(config).parameters()))
    assert sizes == sorted(sizes)
    assert SwapModelConfig(latent_channels=32, face_size=128, latent_size=16).stages == 2
    assert SwapModelConfig(latent_channels=32, face_size=1024, latent_size=128).stages == 3


def test_a_config_with_values_of_the_wrong_type_is_refused(tmp_path) -> None:
    import json

    from latentswap_core.errors import ModelError
    from latentswap_core.models import SwapModel, SwapModelConfig, load_model, save_model

    config = SwapModelConfig(latent_channels=32, face_size=256, latent_size=32, preset="small")
    save_model(SwapModel(config), tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    data["encoder_dims"] = "wide"
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match=r"config.json holds values no model can be built from"):
        load_model(tmp_path)


# --- the pixel codec's input (face/2): front stages down to the same bottleneck -------------------------------


@pytest.mark.parametrize("face_size", [128, 256])
@pytest.mark.parametrize("layout", ["df", "liae"])
def test_pixel_codec_model_reaches_the_taef2_bottleneck(face_size, layout):
    from latentswap_core.codecs import load_codec
    from latentswap_core.models.swap_model import parameter_count

    torch.manual_seed(0)
    pixel = SwapModelConfig.for_codec(load_codec("pixel"), face_size, layout=layout)
    latent = SwapModelConfig(latent_channels=32, face_size=face_size, latent_size=face_size // 8, layout=layout)
    assert (pixel.latent_channels, pixel.latent_size, pixel.front_stages) == (12, face_size // 2, 2)
    assert latent.front_stages == 0 and pixel.stages == latent.stages
    pixel_model, latent_model = SwapModel(pixel), SwapModel(latent)
    rgb_latent = torch.randn(2, 12, face_size // 2, face_size // 2)
    code = pixel_model.encoder(rgb_latent)
    assert code.shape == latent_model.encoder(torch.randn(2, 32, face_size // 8, face_size // 8)).shape
    assert code.shape[-1] == face_size // 8 // 2**latent.stages
    for identity in ("src", "dst"):
        out = pixel_model.reconstruct(rgb_latent, identity)
        assert out.latent.shape == rgb_latent.shape
        assert out.mask.shape == (2, 1, face_size // 2, face_size // 2)
    assert parameter_count(pixel_model) > parameter_count(latent_model)


def test_front_stages_follow_the_input_side_and_odd_sides_are_refused():
    for factor, front in ((8, 0), (4, 1), (2, 2), (1, 3)):
        config = SwapModelConfig(latent_channels=3 * factor**2, face_size=256, latent_size=256 // factor)
        assert config.front_stages == front and config.stages == 3
        out = SwapModel(config).eval().reconstruct(torch.randn(1, 3 * factor**2, 256 // factor, 256 // factor), "src")
        assert out.latent.shape[-1] == 256 // factor
    with pytest.raises(ModelError, match="latent side 64 does not fit a 192 px face") as caught:
        SwapModelConfig(latent_channels=27, face_size=192, latent_size=64)  # downscale 3: not face/8 x 2^k
    assert "\n" not in str(caught.value)


def test_old_config_dicts_still_load_and_store_no_new_field(tmp_path):
    old = {  # a config.json as written before front stages existed (TAEF2 and the old factor-8 pixel codec)
        "latent_channels": 192, "face_size": 256, "latent_size": 32, "layout": "df", "preset": "small",
        "encoder_dims": 32, "inter_dims": 128, "decoder_dims": 32, "mask_dims": 10, "stages": 3, "vq": True,
        "codebook_size": 512, "code_dim": 64, "commitment_weight": 0.25, "ema_decay": 0.99,
        "dead_code_updates": 50, "identities": ["src", "dst"], "version": 1,
    }
    config = SwapModelConfig.from_dict(old)
    assert config.front_stages == 0 and config.to_dict() == old
    model = SwapModel(config)
    assert not any("front" in name for name in model.state_dict())  # same weights layout as before
    save_model(model, tmp_path / "model")
    assert load_model(tmp_path / "model").config == config
    pixel = SwapModelConfig(latent_channels=12, face_size=128, latent_size=64)
    assert "front_stages" not in pixel.to_dict() and SwapModelConfig.from_dict(pixel.to_dict()) == pixel


def test_a_seeded_codebook_starts_from_torch_randn_s_draws():
    """A seeded run starts from the same codebook whatever builds it (training runs reproduce across versions)."""
    torch.manual_seed(7)
    expected = torch.randn(512, 16)
    torch.manual_seed(7)
    quantizer = VectorQuantizer(codebook_size=512, code_dim=16)
    assert torch.equal(quantizer.codebook, expected) and torch.equal(quantizer.ema_sum, expected)
    with torch.device("meta"):
        assert VectorQuantizer(codebook_size=512, code_dim=16).codebook.is_meta


def test_loading_a_model_loads_none_of_torch_s_symbolic_machinery(tiny_model):
    """A swap, an export and each farm chunk load the model: its shapes-only skeleton must not pull in torch's
    Python decompositions and sympy (0.3 s at every load)."""
    check = ("import sys, torch\nfrom latentswap_core.models import load_model\n"
             f"load_model({str(tiny_model / 'model')!r})\n"
             "print(sorted(m for m in ('sympy', 'mpmath') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
