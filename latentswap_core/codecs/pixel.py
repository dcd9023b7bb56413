"""Pixel space as a codec: pixel-unshuffle RGB into 3*f*f channels at 1/f resolution (exact, weight-free).

Training on these "latents" is plain pixel-space training, the DeepFaceLab-equivalent baseline.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from latentswap_core.codecs.base import Codec
from latentswap_core.errors import ModelError

DEFAULT_FACTOR = 8


class _Anchor(nn.Module):
    """Holds an empty buffer so the weight-free codec still has a device and a dtype."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("anchor", torch.zeros(0), persistent=False)


class PixelCodec(Codec):
    name = "pixel"

    def __init__(self, factor: int = DEFAULT_FACTOR) -> None:
        if factor < 1:
            raise ModelError(f"pixel codec factor must be 1 or more, got {factor}")
        super().__init__(_Anchor())
        self.downscale = factor
        self.latent_channels = 3 * factor * factor

    def _encode(self, rgb: torch.Tensor) -> torch.Tensor:
        return F.pixel_unshuffle(rgb, self.downscale)

    def _decode(self, latent: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(latent, self.downscale)
