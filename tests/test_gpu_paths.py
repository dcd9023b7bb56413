"""What the Trainer does differently on a GPU, checked on the CPU: optimizer state resumed into channels-last
parameters and a fused AdamW, and decoded pixel-loss windows of one shape wherever they fall."""

from __future__ import annotations

import json

import torch
from safetensors.torch import load, save
from torch import nn

from latentswap_core.train.checkpoint import optimizer_tensors, restore_optimizer


def _train(model: nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor, steps: int) -> None:
    for _ in range(steps):
        optimizer.zero_grad()
        model(inputs).square().mean().backward()
        optimizer.step()


def test_a_saved_optimizer_resumes_into_channels_last_parameters_and_a_fused_adamw() -> None:
    torch.manual_seed(0)

    def net() -> nn.Module:
        return nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(8, 4, 3, padding=1))

    inputs = torch.randn(2, 4, 8, 8)
    first = net()
    first_optimizer = torch.optim.AdamW(first.parameters(), lr=1e-2)  # as a CPU run saves it: contiguous, unfused
    _train(first, first_optimizer, inputs, 3)
    tensors, saved = optimizer_tensors(first_optimizer)
    tensors, saved = load(save(tensors)), json.loads(json.dumps(saved))  # through the checkpoint's two files

    resumed = net()
    resumed.load_state_dict(first.state_dict())
    resumed.to(memory_format=torch.channels_last)
    resumed_optimizer = torch.optim.AdamW(resumed.parameters(), lr=1e-2, fused=True)
    restore_optimizer(resumed_optimizer, tensors, saved, lr=1e-2)

    assert resumed_optimizer.param_groups[0]["fused"] is True  # the checkpoint's "unfused" did not come back
    weight = resumed[0].weight
    assert not weight.is_contiguous() and weight.is_contiguous(memory_format=torch.channels_last)
    state = resumed_optimizer.state[weight]
    assert state["exp_avg"].stride() == state["exp_avg_sq"].stride() == weight.stride()
    _train(first, first_optimizer, inputs, 2)
    _train(resumed, resumed_optimizer, inputs, 2)
    for a, b in zip(first.parameters(), resumed.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), "the resumed run left the uninterrupted one's path"


def test_decoded_windows_have_one_shape_wherever_they_fall(shared_models) -> None:
    from latentswap_core.codecs import load_codec
    from latentswap_core.train.trainer import decode_window

    codec = load_codec("taef2")
    shapes = []
    decode = codec.decode
    codec.decode = lambda latent, clamp=True: shapes.append(tuple(latent.shape)) or decode(latent, clamp=clamp)
    latent = torch.randn(1, codec.latent_channels, 64, 64)
    with torch.no_grad():
        for start in (0, 3, 17, 29, 32):  # at both edges, on and off the codec's window grid
            window = slice(start, start + 32)
            assert decode_window(codec, latent, window, window).shape == (1, 3, 256, 256)
    assert len(set(shapes)) == 1, f"decoded regions of several shapes: {sorted(set(shapes))}"
    assert shapes[0][-1] < 64  # still a window with its margin, not the whole latent
