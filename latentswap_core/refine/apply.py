"""Refining swapped faces at render time: ``Refiner.refine(faces, masks, keys)``.

Each swapped face is encoded by the refiner's codec, noised to ``strength`` of the schedule and denoised
towards the target identity (img2img). For temporal stability:

- the noise is fixed per track (drawn once from ``seed`` and the track id), so a face gets the same noise on
  every frame and the refiner's choices do not jump from frame to frame;
- the detail the refiner adds (refined latent minus swap latent) is blended with the previous frame's detail
  of the same track (``temporal``: the share kept), when that frame was rendered just before (at most
  ``MAX_FRAME_GAP`` frames back). The swap itself carries the motion; only the added detail is smoothed.

Only the masked face region of each crop changes: ``face + mask * (refined - face)``.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import torch

from latentswap_core.codecs.loader import load_recorded_codec
from latentswap_core.errors import ModelError
from latentswap_core.refine.diffusion import refine_latents
from latentswap_core.refine.options import RefinerApplyOptions
from latentswap_core.refine.store import WEIGHTS_FILE, load_refiner, refiner_folder

MAX_FRAME_GAP = 2  # frames: --frames 1001-1100x2 still counts as neighbouring
TRACK_SEED_STRIDE = 1_000_003


class Refiner:
    """Load once, then ``refine`` batches of swapped faces in frame order (it keeps per-track state)."""

    def __init__(self, path: str | os.PathLike[str], options: RefinerApplyOptions | None = None,
                 device: str = "cpu", codec_path: str | os.PathLike[str] | None = None) -> None:
        self.options = options or RefinerApplyOptions()
        self.folder = refiner_folder(path)
        self.device = torch.device(device)
        self.parts = load_refiner(self.folder, self.device)
        self.codec = load_recorded_codec(self.parts.provenance["codec"], str(self.folder), codec_path).to(self.device)
        config = self.parts.config
        self.face_size = config.face_size
        self.mean = torch.tensor(config.latent_mean, device=self.device).view(1, -1, 1, 1)
        self.std = torch.tensor(config.latent_std, device=self.device).view(1, -1, 1, 1)
        self.target = self.parts.target_embedding.to(self.device)
        self.refiner_id = hashlib.sha256((self.folder / WEIGHTS_FILE).read_bytes()).hexdigest()[:16]
        self._noise: dict[int, torch.Tensor] = {}
        self._previous: dict[int, tuple[int, torch.Tensor]] = {}  # track id -> (frame, added detail)

    def check_model(self, face_size: int, codec: dict, face_type: str, model: str) -> None:
        """Refuse a swap model this refiner cannot follow: another codec, face size or crop."""
        mine = self.parts.provenance["codec"]
        if (mine["name"], mine["weights_sha256"]) != (codec["name"], codec["weights_sha256"]):
            raise ModelError(f"the refiner {self.folder} works in the {mine['name']} latent space, the model {model} "
                             f"in {codec['name']} (or other weights): train the refiner with --model {model}")
        if face_size != self.face_size or face_type != self.parts.provenance.get("face_type", face_type):
            raise ModelError(f"the refiner {self.folder} refines {self.face_size} px "
                             f"{self.parts.provenance.get('face_type')} faces, the model {model} makes {face_size} px "
                             f"{face_type} faces: train the refiner with --model {model}")

    def metadata(self) -> dict[str, str]:
        o = self.options
        return {"latentswap/refiner": str(self.folder), "latentswap/refiner_id": self.refiner_id,
                "latentswap/refine": f"strength={o.strength} steps={o.steps} seed={o.seed} temporal={o.temporal} "
                                     f"sampler={o.sampler} guidance={o.guidance}",
                "latentswap/refine_identity": str(self.parts.provenance["target"].get("name", ""))}

    def _track_noise(self, track_id: int) -> torch.Tensor:
        if track_id not in self._noise:
            config = self.parts.config
            generator = torch.Generator().manual_seed(self.options.seed * TRACK_SEED_STRIDE + track_id)
            shape = (config.latent_channels, config.latent_size, config.latent_size)
            self._noise[track_id] = torch.randn(shape, generator=generator).to(self.device)
        return self._noise[track_id]

    @torch.no_grad()
    def refine(self, faces: np.ndarray, masks: np.ndarray, keys: list[tuple[int, int]]) -> np.ndarray:
        """``N x S x S x 3`` swapped faces (float32 sRGB in [0, 1]), their blend masks ``N x S x S`` and
        (track id, frame) of each, in frame order -> the refined faces, same shape."""
        if faces.ndim != 4 or faces.shape[1:] != (self.face_size, self.face_size, 3) or len(keys) != len(faces):
            raise ModelError(f"faces of shape {faces.shape} do not fit the refiner {self.folder}: it refines "
                             f"N x {self.face_size} x {self.face_size} x 3 crops, one (track, frame) each")
        o = self.options
        rgb = torch.from_numpy(np.ascontiguousarray(faces, np.float32)).permute(0, 3, 1, 2).to(self.device)
        start = (self.codec.encode(rgb).float() - self.mean) / self.std
        noise = torch.stack([self._track_noise(track) for track, _ in keys])
        refined = refine_latents(self.parts.net, self.parts.config, start, self.target.expand(len(faces), -1), noise,
                                 o.strength, o.steps, o.sampler, o.guidance)
        detail = smooth_detail(refined - start, keys, self._previous, o.temporal)
        decoded = self.codec.decode((start + detail) * self.std + self.mean).float().clamp(0.0, 1.0)
        result = decoded.permute(0, 2, 3, 1).cpu().numpy()
        weight = np.clip(masks, 0.0, 1.0)[..., None].astype(np.float32)
        return np.ascontiguousarray(faces + weight * (result - faces), np.float32)


def smooth_detail(detail: torch.Tensor, keys: list[tuple[int, int]], previous: dict[int, tuple[int, torch.Tensor]],
                  temporal: float) -> torch.Tensor:
    """Blend each face's added detail with its track's previous one (``temporal``: the share kept) when that was
    at most ``MAX_FRAME_GAP`` frames before; ``previous`` (track id -> (frame, detail)) is updated in place."""
    detail = detail.clone()
    for index, (track, frame) in enumerate(keys):
        before = previous.get(track)
        if temporal and before is not None and 0 < frame - before[0] <= MAX_FRAME_GAP:
            detail[index] = (1.0 - temporal) * detail[index] + temporal * before[1]
        previous[track] = (frame, detail[index].clone())
    return detail
