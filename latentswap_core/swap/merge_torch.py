"""The merge stage's steps as torch ops on one device (``merge.py`` says when they run)."""

from __future__ import annotations

import numpy as np
import torch

from latentswap_core.align import warp_torch
from latentswap_core.blend import color_transfer_torch, compose_torch


class TorchOps:
    """``merge.MergeOps`` on tensors of ``device``; images H x W x C, as the host's."""

    def __init__(self, device: str) -> None:
        self.device = torch.device(device)

    def upload(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device)

    def download(self, tensor: torch.Tensor) -> np.ndarray:
        return tensor.cpu().numpy()

    def zeros(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.zeros(shape, device=self.device)

    def aligned_crop(self, working: np.ndarray, region_to_aligned: np.ndarray, size: int) -> np.ndarray:
        region = self.upload(working.astype(np.float32, copy=False)).permute(2, 0, 1)
        return self.download(warp_torch.warp_to_aligned(region, region_to_aligned, size).permute(1, 2, 0))

    transfer_color = staticmethod(color_transfer_torch.transfer_color)
    refine_mask = staticmethod(compose_torch.refine_mask)
    paste_face = staticmethod(compose_torch.paste_face)
