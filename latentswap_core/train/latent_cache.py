"""Faceset latents computed once per codec and resolution, cached as safetensors in ``MODEL_DIR/cache``.

A cache file holds, for every face of one faceset: the latent (``N x C x S x S``), the face mask, the
eyes/mouth mask and the keep matte (1 - the holdout matte: what the losses may look at) at latent resolution
(area-downsampled, ``N x 1 x S x S``), and the crop and the three masks at the training resolution as 8-bit
(``N x 3 x R x R``, ``N x 1 x R x R``) for the pixel losses and previews.
Its key is a hash of the faceset's folder and index, the codec's weights, the resolution and the holdout mattes
(their files' names, sizes and times): change any of them and the latents are recomputed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from latentswap_core.align import eyes_mouth_mask, warp_to_aligned
from latentswap_core.faceset import INDEX_FILE, load_faceset
from latentswap_core.io import atomic_path
from latentswap_core.io.matte import MatteSequence

CACHE_VERSION = 3
ENCODE_BATCH = 8


@dataclass
class FaceLatents:
    latents: torch.Tensor  # N x C x S x S float32
    latent_masks: torch.Tensor  # N x 1 x S x S float32 in [0, 1]
    latent_priority: torch.Tensor  # N x 1 x S x S float32 in [0, 1]: eyes and mouth
    faces: torch.Tensor  # N x 3 x R x R uint8 sRGB
    masks: torch.Tensor  # N x 1 x R x R uint8
    priority: torch.Tensor  # N x 1 x R x R uint8
    latent_keep: torch.Tensor  # N x 1 x S x S float32 in [0, 1]: 0 where a holdout matte covers the face
    keep: torch.Tensor  # N x 1 x R x R uint8

    def __len__(self) -> int:
        return int(self.latents.shape[0])

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in vars(self).values())

    def to(self, device: torch.device) -> FaceLatents:
        return FaceLatents(**{name: t.to(device) for name, t in vars(self).items()})

    def pin_memory(self) -> FaceLatents:
        """A copy in page-locked host memory, which the GPU reads without staging."""
        return FaceLatents(**{name: t.pin_memory() for name, t in vars(self).items()})


def cache_key(faceset_folder: Path, codec, resolution: int, holdout: MatteSequence | None = None) -> str:
    info = codec.describe()
    index = (faceset_folder / INDEX_FILE).read_bytes()
    mattes = None
    if holdout is not None:
        stats = [(frame, holdout.path(frame).stat()) for frame in holdout.frames]
        mattes = [holdout.pattern, [(frame, stat.st_size, stat.st_mtime_ns) for frame, stat in stats]]
    material = {
        "holdout": mattes,
        "version": CACHE_VERSION,
        "faceset": str(faceset_folder.resolve()),
        "index_sha256": hashlib.sha256(index).hexdigest(),
        "codec": [info["name"], info["latent_channels"], info["downscale"], info["weights_sha256"]],
        "resolution": resolution,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def load_latents(faceset_folder: str | Path, codec, resolution: int, cache_folder: Path, role: str,
                 holdout: MatteSequence | None = None) -> FaceLatents:
    """The faceset's latents from ``cache_folder/{role}-{key}.safetensors``, computing and writing them if absent.
    ``holdout``: mattes over the faceset's plate of what no loss may learn (a microphone, hands), warped into each
    face's crop as that face was cut out."""
    faceset_folder = Path(faceset_folder)
    faceset = load_faceset(faceset_folder)  # refuses a missing, malformed or empty faceset
    key = cache_key(faceset_folder, codec, resolution, holdout)
    path = cache_folder / f"{role}-{key[:16]}.safetensors"
    if path.is_file():
        try:
            return FaceLatents(**load_file(str(path)))
        except (SafetensorError, OSError, TypeError, ValueError):
            path.unlink(missing_ok=True)  # a damaged cache is only a cache: compute it again
    for stale in cache_folder.glob(f"{role}-*.safetensors"):
        stale.unlink(missing_ok=True)
    faces, masks, priorities, keeps = [], [], [], []
    for index, entry in enumerate(faceset.faces):
        face, mask = faceset.face(index), faceset.mask(index)
        if face.shape[0] != resolution:
            face = cv2.resize(face, (resolution, resolution), interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask, (resolution, resolution), interpolation=cv2.INTER_AREA)
        faces.append(np.clip(face, 0, 1))
        masks.append(np.clip(mask, 0, 1))
        crop_landmarks = np.asarray(entry.landmarks, np.float64) * resolution
        priorities.append(eyes_mouth_mask(crop_landmarks, (resolution, resolution), feather_px=resolution / 64))
        keeps.append(_keep_matte(holdout, entry.frame, entry.to_aligned, resolution))
    rgb = torch.from_numpy(np.stack(faces)).permute(0, 3, 1, 2).contiguous()
    mask_full = torch.from_numpy(np.stack(masks))[:, None].contiguous()
    priority_full = torch.from_numpy(np.stack(priorities))[:, None].contiguous()
    keep_full = torch.from_numpy(np.stack(keeps))[:, None].contiguous()
    latents = []
    with torch.no_grad():
        for start in range(0, rgb.shape[0], ENCODE_BATCH):
            latents.append(codec.encode(rgb[start:start + ENCODE_BATCH]).float().cpu())
    latent = torch.cat(latents)
    result = FaceLatents(
        latents=latent.contiguous(),
        latent_masks=F.interpolate(mask_full, size=latent.shape[-2:], mode="area").contiguous(),
        latent_priority=F.interpolate(priority_full, size=latent.shape[-2:], mode="area").contiguous(),
        faces=(rgb * 255).round().to(torch.uint8),
        masks=(mask_full * 255).round().to(torch.uint8),
        priority=(priority_full * 255).round().to(torch.uint8),
        latent_keep=F.interpolate(keep_full, size=latent.shape[-2:], mode="area").contiguous(),
        keep=(keep_full * 255).round().to(torch.uint8),
    )
    cache_folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        save_file(vars(result), str(temporary), metadata={"key": key, "faceset": str(faceset_folder.resolve())})
    return result


def _keep_matte(holdout: MatteSequence | None, frame: int, to_aligned: list[list[float]],
                resolution: int) -> np.ndarray:
    """1 - the holdout matte of ``frame`` in the face's crop (all ones without a matte for that frame)."""
    matte = None if holdout is None else holdout.at(frame)
    if matte is None:
        return np.ones((resolution, resolution), np.float32)
    crop = warp_to_aligned(matte, np.asarray(to_aligned, np.float64), resolution, interpolation="linear")
    return np.clip(1.0 - crop, 0.0, 1.0).astype(np.float32)
