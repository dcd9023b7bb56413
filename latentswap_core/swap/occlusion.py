"""The swap's occlusion masks: an occlusion model (``latentswap train-mask``) run on the swap's aligned crops, so
that the blend leaves what is in front of the face (microphone, hands) as the plate shows it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from latentswap_core.errors import ModelError
from latentswap_core.models.occlusion_store import WEIGHTS_FILE, load_occlusion_model


class OcclusionMasker:
    def __init__(self, folder: str | os.PathLike[str], device: str = "cpu") -> None:
        self.folder = folder
        self.device = torch.device(device)
        self.model = load_occlusion_model(folder, self.device)
        # which occlusion model masked a render, for its header: the weights' hash (the folder may move)
        self.model_id = hashlib.sha256((Path(folder) / WEIGHTS_FILE).read_bytes()).hexdigest()[:16]

    @property
    def face_type(self) -> str:
        return self.model.config.face_type

    def check_face_type(self, face_type: str) -> None:
        if face_type != self.face_type:
            raise ModelError(f"the occlusion model {self.folder} was trained on {self.face_type} crops but the swap "
                             f"model crops {face_type}: train the occlusion model with --face-type {face_type}")

    @torch.no_grad()
    def occluders(self, crops: np.ndarray) -> np.ndarray:
        """``N x S x S x 3`` aligned crops in [0, 1] -> ``N x S x S`` occluder probability (1: in front)."""
        rgb = torch.from_numpy(np.ascontiguousarray(crops, np.float32)).permute(0, 3, 1, 2).to(self.device)
        side, size = rgb.shape[-1], self.model.config.size
        if side != size:
            rgb = F.interpolate(rgb, size=(size, size), mode="area" if side > size else "bilinear",
                                align_corners=None if side > size else False)
        probability = torch.sigmoid(self.model(rgb))
        if side != size:
            probability = F.interpolate(probability, size=(side, side), mode="bilinear", align_corners=False)
        return probability[:, 0].clamp(0, 1).cpu().numpy()
