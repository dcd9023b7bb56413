"""The occlusion network: an aligned face crop -> where something is in front of the face (logits, 1 = occluder).

A small U-Net in the spirit of DeepFaceLab's XSeg: per shot, trained from a handful of hand-drawn mattes, so it
must generalise from few frames to the others of the same shot; four stride-2 stages keep the receptive field
large enough to tell a microphone from a beard at 128-256 px. It works at half the crop's side (a stride-2 stem,
bilinear back up at the end): an occluder's edge at 128 px crops is smooth, and the CPU trains it 4x faster.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from latentswap_core.errors import ModelError


@dataclass(frozen=True)
class OcclusionConfig:
    size: int = 128  # px of the aligned crops it sees
    face_type: str = "whole_face"
    width: int = 16  # channels of the first stage (x2 each stage down)
    stages: int = 4

    def __post_init__(self) -> None:
        if self.size < 32 or self.size % 2 ** (self.stages + 1):
            raise ModelError(f"occlusion model size {self.size}: use a multiple of {2 ** (self.stages + 1)}, 32 or "
                             "more")
        if not 4 <= self.width <= 128 or not 2 <= self.stages <= 6:
            raise ModelError(f"occlusion model width {self.width} / stages {self.stages} are out of range")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object], source: str) -> OcclusionConfig:
        try:
            config = cls(**data)  # type: ignore[arg-type]
        except TypeError as error:
            raise ModelError(f"{source}: not an occlusion model config ({error})") from None
        return config


def _block(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels_in, channels_out, 3, padding=1), nn.GroupNorm(4, channels_out),
                         nn.LeakyReLU(0.1), nn.Conv2d(channels_out, channels_out, 3, padding=1),
                         nn.GroupNorm(4, channels_out), nn.LeakyReLU(0.1))


class OcclusionNet(nn.Module):
    """RGB ``B x 3 x S x S`` in [0, 1] -> occluder logits ``B x 1 x S x S``."""

    def __init__(self, config: OcclusionConfig) -> None:
        super().__init__()
        self.config = config
        widths = [config.width * 2**i for i in range(config.stages + 1)]
        self.stem = nn.Conv2d(3, widths[0], 4, stride=2, padding=1)
        self.down = nn.ModuleList([_block(widths[0], widths[0])] + [_block(widths[i], widths[i + 1])
                                                                    for i in range(config.stages)])
        self.up = nn.ModuleList(_block(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(config.stages)))
        self.out = nn.Conv2d(widths[0], 1, 1)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x = self.stem(rgb * 2 - 1)
        skips = []
        for index, block in enumerate(self.down):
            x = block(x if index == 0 else F.avg_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for block in self.up:
            skip = skips.pop()
            x = block(torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False),
                                 skip], dim=1))
        return F.interpolate(self.out(x), size=rgb.shape[-2:], mode="bilinear", align_corners=False)
