"""A trained model ready to swap faces: the swap network (codec encoder -> swap model -> codec decoder) and what
the model says about itself (identities, consent, codec and weight hashes) for the output's metadata.

The network direction is DeepFaceLab's merge: the plate's face (dst) goes in, the src identity comes out,
``swap(dst_latent, identities[0])``. ``SwapNetwork`` is one ``nn.Module`` with a tensor in and a tensor out,
so the torch path, the ONNX export and the TorchScript export all run the very same graph.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latentswap_core.codecs.base import Codec
from latentswap_core.codecs.loader import CODEC_NAMES, load_recorded_codec
from latentswap_core.errors import ModelError
from latentswap_core.io.json_file import read_json
from latentswap_core.models import SwapModel, load_model
from latentswap_core.models.store import WEIGHTS_FILE
from latentswap_core.swap.projection import DEFAULT_PROJECTIONS

MODEL_FOLDER = "model"
PROVENANCE_FILE = "provenance.json"


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


@dataclass
class ModelCard:
    """Who and what a model is, as recorded when it was trained; written into every swapped frame."""

    folder: Path
    model_id: str  # the first 16 hex digits of the weights' sha256
    weights_sha256: str
    codec: dict[str, Any]
    identities: dict[str, Any]
    consent: str | None
    step: int
    face_size: int
    face_type: str  # how the training crops were framed; the swap must crop plates the same way

    def metadata(self) -> dict[str, str]:
        """Flat string metadata for an EXR header (``latentswap/...`` keys)."""
        src = self.identities.get("src", {}).get("name", "")
        dst = self.identities.get("dst", {}).get("name", "")
        hashes = sorted(self.codec["weights_sha256"].items())
        codec_hashes = ",".join(f"{name}:{digest[:16]}" for name, digest in hashes)
        return {
            "latentswap/model": str(self.folder),
            "latentswap/model_id": self.model_id,
            "latentswap/model_sha256": self.weights_sha256,
            "latentswap/model_step": str(self.step),
            "latentswap/face_type": self.face_type,
            "latentswap/face_size": str(self.face_size),
            "latentswap/codec_downscale": str(self.codec.get("downscale", "")),
            "latentswap/codec": self.codec["name"],
            "latentswap/codec_sha256": codec_hashes,
            "latentswap/identity_src": src,
            "latentswap/identity_dst": dst,
            "latentswap/consent": self.consent or "",
        }


def model_folder(path: str | os.PathLike[str]) -> Path:
    """The folder holding config.json: ``path`` itself or its ``model/`` (a training folder)."""
    path = Path(path).expanduser()
    if (path / MODEL_FOLDER / "config.json").is_file():
        return path / MODEL_FOLDER
    if (path / "config.json").is_file():
        return path
    raise ModelError(f"{path} is not a trained model: give the folder `latentswap train -o` wrote (it holds model/)")


def read_card(folder: Path) -> ModelCard:
    provenance_path = folder / PROVENANCE_FILE
    provenance = read_json(provenance_path, ModelError, "train the model again or restore the file")
    try:
        codec = provenance["codec"]
        identities = provenance.get("identities", {})
        consent = provenance.get("consent")
        step = int(provenance.get("step", 0))
        # Plain JSON data of the expected types, nothing else: strings stay text, whatever they say.
        if not (isinstance(codec, dict) and isinstance(codec["name"], str) and isinstance(codec["weights_sha256"], dict)
                and isinstance(identities, dict) and all(isinstance(v, dict) for v in identities.values())
                and (consent is None or isinstance(consent, str))):
            raise TypeError("a field of the wrong type")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ModelError(f"{provenance_path} is missing or damaged ({type(error).__name__}): train the model again "
                         "or restore the file") from None
    if codec["name"] not in CODEC_NAMES:
        raise ModelError(f"{provenance_path}: the model was trained in codec {codec['name']!r}, which this LatentSwap "
                         f"does not know ({', '.join(CODEC_NAMES)}): use the LatentSwap that trained it")
    config_path, weights_path = folder / "config.json", folder / WEIGHTS_FILE
    try:
        digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    except OSError as error:
        raise ModelError(f"{weights_path} cannot be read ({error.strerror}): keep it beside {config_path}") from None
    config = read_json(config_path, ModelError, "save the model again")
    try:
        face_size = int(config.get("face_size", 0))
    except (OSError, ValueError, TypeError, AttributeError) as error:
        raise ModelError(f"{config_path} is not a readable model config ({type(error).__name__}): save the model "
                         "again") from None
    return ModelCard(folder=folder, model_id=digest[:16], weights_sha256=digest, codec=codec,
                     identities=identities, consent=consent, step=step, face_size=face_size,
                     face_type=str(provenance.get("face_type", "whole_face")))


def load_model_codec(card: ModelCard, codec_path: str | os.PathLike[str] | None = None) -> Codec:
    """The codec the model was trained in, with the very weights it was trained with (checked by hash)."""
    return load_recorded_codec(card.codec, str(card.folder), codec_path)


class Swapper:
    """Load once, then ``swap`` batches of aligned faces (numpy, float32 sRGB in [0, 1])."""

    def __init__(self, model_dir: str | os.PathLike[str], device: str = "cpu",
                 codec_path: str | os.PathLike[str] | None = None,
                 projections: int = DEFAULT_PROJECTIONS) -> None:
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
        out = self.network(rgb).float().cpu().permute(0, 2, 3, 1).numpy()
        return np.ascontiguousarray(out[..., :3]), np.ascontiguousarray(out[..., 3])
