"""Building blocks of the swap model: encoder, inter (bottleneck side) and decoder with its mask branch.

An input finer than face/8 (the pixel codec) adds ``front`` stages: stride-2 convs at the front of the encoder and
upscale + residual stages at the end of each decoder, all at constant width (``dims``), so that the code has the
same side and the same core layers as for a TAEF2 latent of the same face ("same family"; DeepFaceLab keeps its
decoder wider, d_dims * 2, at full resolution).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _act(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _act(x + self.conv2(_act(self.conv1(x))))


class Upscale(nn.Module):
    """conv to 4x channels + pixel shuffle: twice the side, as in DeepFaceLab's upscale."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels * 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _act(F.pixel_shuffle(self.conv(x), 2))


class Encoder(nn.Module):
    """Latent ``C x S x S`` -> code ``code_dim x S/2^(front + stages)``: a stem, ``front`` stride-2 3x3 convs at
    constant width e, then stride-2 3x3 convs at e x {2, 4, 8}."""

    def __init__(self, latent_channels: int, dims: int, stages: int, code_dim: int, front: int = 0) -> None:
        super().__init__()
        widths = [dims * 2**i for i in range(stages + 1)]
        self.stem = nn.Conv2d(latent_channels, widths[0], 3, padding=1)
        self.front_downs = nn.ModuleList(nn.Conv2d(dims, dims, 3, stride=2, padding=1) for _ in range(front))
        self.downs = nn.ModuleList(nn.Conv2d(widths[i], widths[i + 1], 3, stride=2, padding=1) for i in range(stages))
        self.to_code = nn.Conv2d(widths[-1], code_dim, 1)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        x = _act(self.stem(latent))
        for down in [*self.front_downs, *self.downs]:
            x = _act(down(x))
        return self.to_code(x)


class Inter(nn.Module):
    """Code -> decoder input at the bottleneck's side (convolutional, so it serves every resolution)."""

    def __init__(self, code_dim: int, dims: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(code_dim, dims, 3, padding=1)
        self.conv2 = nn.Conv2d(dims, dims, 3, padding=1)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return _act(self.conv2(_act(self.conv1(code))))


class Decoder(nn.Module):
    """Bottleneck features -> (latent ``C x S x S``, mask logits ``1 x S x S``).

    The main branch: per stage an upscale + a residual block at d x {4, 2, 1}, then ``front`` more at d, then a
    1x1 conv to the latent (no activation: latents are unbounded). The mask branch is the same shape at
    ``mask_dims`` (upscales only).
    """

    def __init__(
        self, in_channels: int, latent_channels: int, dims: int, mask_dims: int, stages: int, front: int = 0
    ) -> None:
        super().__init__()
        widths = [dims * 2 ** (stages - 1 - i) for i in range(stages)]
        mask_widths = [mask_dims * 2 ** (stages - 1 - i) for i in range(stages)]
        self.ups = nn.ModuleList()
        self.residuals = nn.ModuleList()
        previous = in_channels
        for width in widths:
            self.ups.append(Upscale(previous, width))
            self.residuals.append(Residual(width))
            previous = width
        self.front_ups = nn.ModuleList(Upscale(previous, previous) for _ in range(front))
        self.front_residuals = nn.ModuleList(Residual(previous) for _ in range(front))
        self.to_latent = nn.Conv2d(previous, latent_channels, 1)
        self.mask_ups = nn.ModuleList()
        previous = in_channels
        for width in mask_widths:
            self.mask_ups.append(Upscale(previous, width))
            previous = width
        self.front_mask_ups = nn.ModuleList(Upscale(previous, previous) for _ in range(front))
        self.to_mask = nn.Conv2d(previous, 1, 1)
        # Start every mask at sigmoid(0) = 0.5: default init started it near 0 or 1 (mask loss 0.46, not 0.25).
        nn.init.zeros_(self.to_mask.weight)
        if self.to_mask.bias is not None:  # always, with Conv2d's default bias=True
            nn.init.zeros_(self.to_mask.bias)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = features
        ups, residuals = [*self.ups, *self.front_ups], [*self.residuals, *self.front_residuals]
        for up, residual in zip(ups, residuals, strict=True):
            x = residual(up(x))
        m = features
        for up in [*self.mask_ups, *self.front_mask_ups]:
            m = up(m)
        return self.to_latent(x), self.to_mask(m)
