"""What the refiner trains on, computed once and cached in ``REFINER_DIR/cache``:

- the target faceset's latents (the identity the swaps should show) and each face's identity embedding;
- with a swap model: its reconstructions of those faces, paired with the real ones (the reconstruction loss
  teaches the refiner to restore what the autoencoder loses);
- with ``swaps`` facesets (faces the model will swap, e.g. the plate's): the model's swaps of them, the very
  input the refiner gets at render time (identity loss only: there is no ground truth for a swap);
- latents with known embeddings (target faces, plate faces, decoded swaps) to distil the embedder into the
  differentiable ``LatentIdentityEncoder``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from latentswap_core.codecs.base import Codec
from latentswap_core.io import atomic_path
from latentswap_core.models import SwapModel
from latentswap_core.refine.embedders import Embedder
from latentswap_core.train.latent_cache import FaceLatents, cache_key, load_latents

BATCH = 8


@dataclass
class RefinerData:
    target: FaceLatents
    target_ids: torch.Tensor  # N x D unit embeddings of the target faces
    reconstructions: torch.Tensor | None  # N x C x S x S: the swap model's rendering of the target faces
    swaps: torch.Tensor | None  # M x C x S x S: the swap model's swaps of the plate faces
    swap_sources: torch.Tensor | None  # M x 3 x R x R uint8: the plate faces that were swapped
    encoder_latents: torch.Tensor  # K x C x S x S with known embeddings, for the latent identity encoder
    encoder_ids: torch.Tensor  # K x D


def cached_embeddings(cache: Path, name: str, key: str, faces: torch.Tensor, embedder: Embedder) -> torch.Tensor:
    """Embeddings of ``faces`` (``N x 3 x R x R`` uint8), from ``cache`` when ``key`` and the embedder match."""
    material = json.dumps({"key": key, "embedder": embedder.describe()}, sort_keys=True).encode()
    path = cache / f"ids-{name}-{hashlib.sha256(material).hexdigest()[:16]}.safetensors"
    if path.is_file():
        try:
            return load_file(str(path))["embeddings"]
        except (SafetensorError, OSError, KeyError, ValueError):
            path.unlink(missing_ok=True)
    rows = [torch.from_numpy(embedder.embed(faces[start:start + BATCH].permute(0, 2, 3, 1).numpy()))
            for start in range(0, len(faces), BATCH)]
    embeddings = torch.cat(rows).float().contiguous()
    cache.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        save_file({"embeddings": embeddings}, str(temporary))
    return embeddings


@torch.no_grad()
def render_with_model(model: SwapModel, latents: torch.Tensor, reconstruct: bool) -> torch.Tensor:
    """The model's output identity (``identities[0]``, the one swaps show) applied to ``latents``."""
    identity = model.config.identities[0]
    device = next(model.parameters()).device
    outputs = []
    for start in range(0, len(latents), BATCH):
        batch = latents[start:start + BATCH].to(device)
        out = model.reconstruct(batch, identity) if reconstruct else model.swap(batch, identity)
        outputs.append(out.latent.float().cpu())
    return torch.cat(outputs)


@torch.no_grad()
def decode_to_uint8(codec: Codec, latents: torch.Tensor) -> torch.Tensor:
    faces = [codec.decode(latents[start:start + BATCH].to(codec.device)).float().cpu()
             for start in range(0, len(latents), BATCH)]
    return (torch.cat(faces) * 255).round().to(torch.uint8)


def prepare_data(faceset: Path, swap_facesets: tuple[Path, ...], codec: Codec, resolution: int,
                 model: SwapModel | None, model_id: str, embedder: Embedder, cache: Path) -> RefinerData:
    target = load_latents(faceset, codec, resolution, cache, "target")
    target_key = cache_key(faceset, codec, resolution)
    target_ids = cached_embeddings(cache, "target", target_key, target.faces, embedder)
    encoder_latents, encoder_ids = [target.latents], [target_ids]
    reconstructions = swaps = swap_sources = None
    if model is not None:
        reconstructions = render_with_model(model, target.latents, reconstruct=True)
    if model is not None and swap_facesets:
        swapped, sources = [], []
        for number, folder in enumerate(swap_facesets):
            plate = load_latents(folder, codec, resolution, cache, f"plate{number}")
            plate_key = cache_key(folder, codec, resolution)
            encoder_latents.append(plate.latents)
            encoder_ids.append(cached_embeddings(cache, f"plate{number}", plate_key, plate.faces, embedder))
            rendered = render_with_model(model, plate.latents, reconstruct=False)
            decoded = decode_to_uint8(codec, rendered)
            encoder_latents.append(rendered)
            encoder_ids.append(cached_embeddings(cache, f"swap{number}", f"{plate_key} {model_id}", decoded, embedder))
            swapped.append(rendered)
            sources.append(plate.faces)
        swaps, swap_sources = torch.cat(swapped), torch.cat(sources)
    return RefinerData(target, target_ids, reconstructions, swaps, swap_sources,
                       torch.cat(encoder_latents), torch.cat(encoder_ids))
