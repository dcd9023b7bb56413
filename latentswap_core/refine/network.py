"""The refiner's networks: an identity-conditioned UNet that denoises codec latents, and a small identity
encoder on codec latents, distilled from the identity embedder, through which the identity loss is differentiable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import UNet2DModel
from torch import nn

from latentswap_core.refine.config import RefinerConfig


class RefinerUNet(nn.Module):
    """``diffusers.UNet2DModel`` whose class embedding is the target identity, projected to the time embedding's
    width and added to it: every ResNet block is scaled and shifted by (time, identity). An all-zero identity is
    the unconditional case (training drops the identity now and then, for classifier-free guidance)."""

    def __init__(self, config: RefinerConfig) -> None:
        super().__init__()
        widths = config.widths
        embedding = widths[0] * 4
        self.unet = UNet2DModel(
            sample_size=config.latent_size,
            in_channels=config.latent_channels,
            out_channels=config.latent_channels,
            block_out_channels=widths,
            layers_per_block=config.layers_per_block,
            down_block_types=("DownBlock2D",) + ("AttnDownBlock2D",) * (len(widths) - 1),
            up_block_types=("AttnUpBlock2D",) * (len(widths) - 1) + ("UpBlock2D",),
            norm_num_groups=min(32, widths[0] // 4),
            attention_head_dim=min(64, widths[-1]),
            class_embed_type="identity",
            resnet_time_scale_shift="scale_shift",
        )
        self.identity_projection = nn.Sequential(
            nn.Linear(config.identity_dim, embedding), nn.SiLU(), nn.Linear(embedding, embedding))

    def forward(self, noisy: torch.Tensor, timesteps: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        """Noisy normalised latents ``B x C x S x S``, timesteps ``B``, identities ``B x D`` -> the prediction
        (noise or v, as configured)."""
        return self.unet(noisy, timesteps, class_labels=self.identity_projection(identity)).sample


class LatentIdentityEncoder(nn.Module):
    """Normalised codec latents ``B x C x S x S`` -> unit identity vectors ``B x D`` in the embedder's space.

    The identity embedder (dlib's ResNet, or an ArcFace ONNX model) is not differentiable from torch; this
    encoder is trained to reproduce its embeddings of the faceset's faces, so that the refiner can be pushed
    towards the target identity by gradient."""

    def __init__(self, latent_channels: int, identity_dim: int, width: int = 64) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(latent_channels, width, 3, padding=1), nn.SiLU(),
            nn.Conv2d(width, width * 2, 4, stride=2, padding=1), nn.GroupNorm(8, width * 2), nn.SiLU(),
            nn.Conv2d(width * 2, width * 2, 3, padding=1), nn.SiLU(),
            nn.AdaptiveAvgPool2d(4),
        )
        self.head = nn.Linear(width * 2 * 16, identity_dim)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.features(latents).flatten(1)), dim=1)


def cosine_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``1 - cos`` per row of two ``B x D`` batches."""
    return 1.0 - F.cosine_similarity(a, b, dim=1)
