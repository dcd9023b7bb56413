"""The latent-space swap autoencoder: DeepFaceLab's DF and LIAE layouts with an optional VQ bottleneck.

Both layouts encode a latent ``B x C x S x S`` (from a frozen codec) to a code at ``S / 2^(front_stages + stages)``,
quantise it (``vq=True``), and decode a latent of the same shape plus a face mask. ``front_stages`` is 0 for
TAEF2 (S = face/8) and 2 for the pixel codec (S = face/2), so both reach the same code side for a face size.

- ``df``: shared encoder and inter, one decoder per identity.
  ``reconstruct(z, "src") = decoder_src(inter(vq(encoder(z))))``.
- ``liae``: one encoder, two inters (``inter_AB`` for both identities, ``inter_B`` for the second
  identity only) and one decoder on their concatenation. The first identity ("src") is decoded from
  ``cat(inter_AB(e), inter_AB(e))``, the second ("dst") from ``cat(inter_B(e), inter_AB(e))``.

Which way round a swap goes: ``swap(latent, to_identity)`` renders the face in ``latent`` with
``to_identity``'s look. DeepFaceLab's merge, which puts the SRC face on the DST plate, is
``swap(dst_latent, "src")`` = DF ``decoder_src(inter(encoder(dst)))`` or LIAE
``decoder(cat(inter_AB(e_dst), inter_AB(e_dst)))``. It is the same function as ``reconstruct(dst_latent,
"src")``; the name says the input comes from the other identity.

The mask is a sigmoid in [0, 1] at the latent's resolution (``B x 1 x S x S``, face_size / 8 for
TAEF2, face_size / 2 for the pixel codec): the trainer compares it with the faceset masks downsampled by area
to ``S x S``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from latentswap_core.errors import ModelError
from latentswap_core.models.blocks import Decoder, Encoder, Inter
from latentswap_core.models.config import SwapModelConfig
from latentswap_core.models.vq import VectorQuantizer, VQStats


@dataclass
class SwapOutput:
    """latent: ``B x C x S x S``; mask: ``B x 1 x S x S`` in [0, 1]; commitment_loss: a scalar to add to
    the trainer's loss (zero without VQ); vq_stats: codebook use of this batch (None without VQ); decoder_input: what
    the identity's decoder read (DF: the inter's output; the trainer's true-face discriminator judges it)."""

    latent: torch.Tensor
    mask: torch.Tensor
    commitment_loss: torch.Tensor
    vq_stats: VQStats | None
    decoder_input: torch.Tensor | None = None


class SwapModel(nn.Module):
    def __init__(self, config: SwapModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        front = c.front_stages  # 0 for TAEF2; 2 for the pixel codec at factor 2 (input at face/2)
        self.encoder = Encoder(c.latent_channels, c.encoder_dims, c.stages, c.code_dim, front)
        self.quantizer = (
            VectorQuantizer(c.codebook_size, c.code_dim, c.commitment_weight, c.ema_decay, c.dead_code_updates)
            if c.vq
            else None
        )
        if c.layout == "df":
            self.inter = Inter(c.code_dim, c.inter_dims)
            self.decoders = nn.ModuleDict(
                {
                    name: Decoder(c.inter_dims, c.latent_channels, c.decoder_dims, c.mask_dims, c.stages, front)
                    for name in c.identities
                }
            )
        else:
            self.inter_ab = Inter(c.code_dim, c.inter_dims)
            self.inter_b = Inter(c.code_dim, c.inter_dims)
            self.decoder = Decoder(2 * c.inter_dims, c.latent_channels, c.decoder_dims, c.mask_dims, c.stages, front)

    def bottleneck(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, VQStats | None]:
        """Encoder + VQ: -> (code, commitment loss, stats). Without VQ the code passes unchanged."""
        self._check_latent(latent)
        code = self.encoder(latent)
        if self.quantizer is None:
            return code, code.new_zeros(()), None
        return self.quantizer(code)

    def reconstruct(self, latent: torch.Tensor, identity: str) -> SwapOutput:
        """Decode ``latent`` as ``identity`` (training: a face of that identity reconstructs itself)."""
        self._check_identity(identity)
        code, commitment, stats = self.bottleneck(latent)
        if self.config.layout == "df":
            decoder_input = self.inter(code)
            out_latent, mask_logits = self.decoders[identity](decoder_input)
        else:
            shared = self.inter_ab(code)
            first = shared if identity == self.config.identities[0] else self.inter_b(code)
            decoder_input = torch.cat([first, shared], dim=1)
            out_latent, mask_logits = self.decoder(decoder_input)
        return SwapOutput(out_latent, torch.sigmoid(mask_logits), commitment, stats, decoder_input)

    def swap(self, latent: torch.Tensor, to_identity: str) -> SwapOutput:
        """Render the face in ``latent`` with ``to_identity``'s look: ``swap(dst_latent, "src")`` is the DFL merge."""
        return self.reconstruct(latent, to_identity)

    def forward(self, latent: torch.Tensor, identity: str) -> SwapOutput:
        return self.reconstruct(latent, identity)

    def _check_identity(self, identity: str) -> None:
        if identity not in self.config.identities:
            raise ModelError(f"identity {identity!r} is not in this model: use one of {self.config.identities}")

    def _check_latent(self, latent: torch.Tensor) -> None:
        c = self.config
        expected = (c.latent_channels, c.latent_size, c.latent_size)
        if latent.ndim != 4 or tuple(latent.shape[1:]) != expected:
            raise ModelError(
                f"latent of shape {tuple(latent.shape)} does not fit this model (B x {' x '.join(map(str, expected))}):"
                f" encode {c.face_size} px faces with the codec the model was trained on"
            )


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
