"""A trained model ready to swap faces: the swap network (codec encoder -> swap model -> codec decoder) and what
the model says about itself (identities, consent, codec and weight hashes) for the output's metadata.

The network direction is DeepFaceLab's merge: the plate's face (dst) goes in, the src identity comes out,
``swap(dst_latent, identities[0])``. ``SwapNetwork`` is one ``nn.Module`` with a tensor in and a tensor out,
so the torch path, the ONNX export and the TorchScript export all run the very same graph.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latentswap_core.codecs.base import Codec
from latentswap_core.errors import ModelError
from latentswap_core.models import SwapModel, load_model
from latentswap_core.models.card import load_model_codec, model_folder, read_card
from latentswap_core.swap.precision import DEFAULT_PRECISION, check_precision
from latentswap_core.swap.projection import DEFAULT_PROJECTIONS


class SwapNetwork(nn.Module):
    """Aligned RGB faces ``B x 3 x S x S`` in [0, 1] -> ``B x 4 x S x S``: the swapped face (RGB, clamped to
    [0, 1]) and its mask (A), both at the face's resolution.

    ``projections``: times the swapped latent is decoded and encoded again before the last decode. The swap
    model's latents lie off the set of latents the codec's encoder makes, and its decoder prints its block grid
    for them; a round trip through the codec pulls them back onto it (measured: docs/training.md, "Swap quality
    on real footage")."""

    def __init__(self, codec: Codec, model: SwapModel, to_identity: str,
                 projections: int = DEFAULT_PROJECTIONS) -> None:
        super().__init__()
        self.codec_module = codec.module
        self.model = model
        self.to_identity = to_identity
        self.projections = projections
        self._encode, self._decode = codec._encode, codec._decode  # the codec's pure tensor functions

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        out = self.model.swap(self._encode(rgb), self.to_identity)
        latent = out.latent
        for _ in range(self.projections):
            latent = self._encode(self._decode(latent).clamp(0.0, 1.0))
        face = self._decode(latent).clamp(0.0, 1.0)
        mask = F.interpolate(out.mask, size=face.shape[-2:], mode="bilinear", align_corners=False)
        return torch.cat([face, mask.clamp(0.0, 1.0)], dim=1)


class Swapper:
    """Load once, then ``swap`` batches of aligned faces (numpy, float32 sRGB in [0, 1]). ``precision``: fp32, or
    bf16 autocast for drafts (``swap/precision.py``)."""

    def __init__(self, model_dir: str | os.PathLike[str], device: str = "cpu",
                 codec_path: str | os.PathLike[str] | None = None,
                 projections: int = DEFAULT_PROJECTIONS, precision: str = DEFAULT_PRECISION) -> None:
        check_precision(precision, "torch", device)
        self.precision = precision
        folder = model_folder(model_dir)
        self.card = read_card(folder)
        self.device = torch.device(device)
        self.codec = load_model_codec(self.card, codec_path).to(self.device)
        self.model = load_model(folder, self.device)
        self.face_size = self.model.config.face_size
        self.projections = projections
        self.network = SwapNetwork(self.codec, self.model, self.model.config.identities[0], projections).eval()

    @torch.no_grad()
    def swap(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``N x S x S x 3`` aligned faces -> (swapped faces ``N x S x S x 3``, masks ``N x S x S``), float32."""
        if faces.ndim != 4 or faces.shape[1:] != (self.face_size, self.face_size, 3):
            raise ModelError(f"faces of shape {faces.shape} do not fit this model: it swaps "
                             f"N x {self.face_size} x {self.face_size} x 3 aligned crops")
        rgb = torch.from_numpy(np.ascontiguousarray(faces, dtype=np.float32)).permute(0, 3, 1, 2).to(self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            out = self.network(rgb).float().cpu().permute(0, 2, 3, 1).numpy()
        return np.ascontiguousarray(out[..., :3]), np.ascontiguousarray(out[..., 3])
