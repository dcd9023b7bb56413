"""TAEF2: a tiny pretrained autoencoder approximating the FLUX.2 VAE (RGB [0, 1] -> 32 x R/8 x R/8, raw latents).

The layout follows the model folder's README: plain ``nn.Sequential`` stacks whose indices are the
state-dict keys, so the float16 safetensors files load with ``strict=True`` (as float32).
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from latentswap_core.codecs.base import Codec, sha256_of_files
from latentswap_core.errors import ModelError
from latentswap_core.pretrained_search import find_model

MODEL_NAME = "taef2"
ENCODER_FILE = "taef2_encoder.safetensors"
DECODER_FILE = "taef2_decoder.safetensors"
LATENT_CHANNELS = 32
WIDTH = 64


def _conv(n_in: int, n_out: int, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, stride=stride, padding=1, bias=bias)


class Block(nn.Module):
    """Three 3x3 convs with ReLUs, an identity skip, a ReLU; optionally ``x + pool(x)`` first."""

    def __init__(self, width: int = WIDTH, pool: bool = False) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv(width, width), nn.ReLU(), _conv(width, width), nn.ReLU(), _conv(width, width))
        self.skip = nn.Identity()
        self.fuse = nn.ReLU()
        self.pool = (
            nn.Sequential(
                nn.Conv2d(width, 4 * width, 1, bias=False),
                nn.GroupNorm(4, 4 * width),
                nn.ReLU(),
                nn.Conv2d(4 * width, width, 1, bias=False),
            )
            if pool
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + self.skip(x))


class SoftClamp(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


def build_encoder() -> nn.Sequential:
    return nn.Sequential(
        _conv(3, WIDTH), Block(),
        _conv(WIDTH, WIDTH, stride=2, bias=False), Block(), Block(), Block(),
        _conv(WIDTH, WIDTH, stride=2, bias=False), Block(), Block(), Block(),
        _conv(WIDTH, WIDTH, stride=2, bias=False), Block(pool=True), Block(pool=True), Block(pool=True),
        _conv(WIDTH, LATENT_CHANNELS),
    )  # fmt: skip


def build_decoder() -> nn.Sequential:
    def up() -> nn.Upsample:
        return nn.Upsample(scale_factor=2, mode="nearest")

    return nn.Sequential(
        SoftClamp(), _conv(LATENT_CHANNELS, WIDTH), nn.ReLU(), Block(pool=True), Block(pool=True), Block(pool=True),
        up(), _conv(WIDTH, WIDTH, bias=False), Block(), Block(), Block(),
        up(), _conv(WIDTH, WIDTH, bias=False), Block(), Block(), Block(),
        up(), _conv(WIDTH, WIDTH, bias=False), Block(),
        _conv(WIDTH, 3),
    )  # fmt: skip


class TAEF2Module(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = build_encoder()
        self.decoder = build_decoder()


def load_weights(stack: nn.Module, path: Path) -> None:
    """Load one safetensors file into ``stack`` (strict, float16 -> the stack's dtype) or raise ModelError."""
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelError(
            f"{path} is not a readable safetensors file ({error}); replace it with the original TAEF2 file"
        ) from None
    try:
        stack.load_state_dict({key: value.float() for key, value in state.items()}, strict=True)
    except RuntimeError:
        raise ModelError(
            f"{path} does not match the {MODEL_NAME} architecture (wrong or damaged weights); "
            f"replace it with the original TAEF2 file"
        ) from None


class TAEF2Codec(Codec):
    name = MODEL_NAME
    latent_channels = LATENT_CHANNELS
    downscale = 8
    # The decoder pools three times, so its context is wide. A 256 px window of a real 512 px face decoded on
    # its own differs from the same pixels of the whole decode by a mean 0.014-0.034 with no margin, by
    # 0.006-0.021 with 8 latent px of margin and the region aligned to the pooling grid (8 latent px).
    window_margin = 8
    window_grid = 8
    channels_last = True

    module: TAEF2Module

    def _encode(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.module.encoder(rgb)

    def _decode(self, latent: torch.Tensor) -> torch.Tensor:
        return self.module.decoder(latent)


def load_taef2(folder: Path | None = None) -> TAEF2Codec:
    """TAEF2 from ``folder`` or, by default, the ``taef2`` folder on the model search path."""
    if folder is None:
        folder = find_model(MODEL_NAME, [ENCODER_FILE, DECODER_FILE])
    files = [folder / ENCODER_FILE, folder / DECODER_FILE]
    for path in files:
        if not path.is_file():
            raise ModelError(f"{path} not found; put the TAEF2 weights {ENCODER_FILE} and {DECODER_FILE} in {folder}")
    module = TAEF2Module()
    load_weights(module.encoder, files[0])
    load_weights(module.decoder, files[1])
    return TAEF2Codec(module, sha256_of_files(files), str(folder))
