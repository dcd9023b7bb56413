"""Pixel space as a codec: pixel-unshuffle RGB into 3*f*f channels at 1/f resolution (exact, weight-free).

Training on these "latents" is plain pixel-space training, the DeepFaceLab-equivalent baseline. The default
f = 2 (12 channels at R/2) is a lossless space-to-depth in the role of DeepFaceLab's first stride-2 conv: the
swap model then adds two stride-2 front stages (and two upscales per decoder) to reach the same bottleneck as
for TAEF2's R/8 latents, so it is a full-resolution pixel-space network of the same family.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from latentswap_core.codecs.base import Codec
from latentswap_core.errors import ModelError

DEFAULT_FACTOR = 2


class _Anchor(nn.Module):
    """Holds an empty buffer so the weight-free codec still has a device and a dtype."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("anchor", torch.zeros(0), persistent=False)


class PixelCodec(Codec):
    name = "pixel"
    window_margin = 0  # pixel shuffle is exact and local: a window of the latent decodes to exactly its pixels

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
