"""``compose.refine_mask`` and ``compose.paste_face`` as torch ops, for a plate box on the swap's device.

The same knobs, conventions and results as ``compose.py`` (read its docstring) to float rounding: erosion is exact
(the same disks, repeated the same way, as max-pools over the disk's rows), the Gaussian uses OpenCV's kernel and a
wide blur the same reduced mask (its area reduction, zero border and bilinear enlargement folded into one matrix per
axis), the warp back is ``align.warp_torch``'s. Images are H x W x C tensors as in ``compose.py``, on one device.

``paste_face``'s ``blend="poisson"`` solves on the host (``compose.poisson_face``, a sparse factorisation): the box's
warped face goes down and its Poisson colours come back up; the over itself stays on the device.

Every pixel where the face's alpha is 0 is the plate's value, bit for bit, as in ``compose.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from latentswap_core.align.transform import check_matrix
from latentswap_core.align.warp_torch import gaussian_blur, warp_to_plate
from latentswap_core.blend.compose import (
    DIRECT_BLUR_MAX_SIGMA,
    check_blend,
    check_face,
    check_finite_under,
    check_mask,
    check_plate,
    disk,
    erosion_steps,
    poisson_face,
    reduced_blur,
    refined_mask,
)


@dataclass(frozen=True)
class PasteResult:
    """One face pasted into a plate (tensors on the plate's device); ``compose.PasteResult`` without the region."""

    comp: torch.Tensor  # H x W x C, the plate's dtype
    face_rgba: torch.Tensor  # H x W x 4 float32, premultiplied by alpha
    alpha: torch.Tensor  # H x W float32


def refine_mask(mask: torch.Tensor, erode_px: float, blur_px: float,
                to_aligned: np.ndarray | None = None) -> torch.Tensor:
    """``compose.refine_mask`` of an S x S mask tensor: float32 in [0, 1] on its device."""
    return refined_mask(mask, erode_px, blur_px, to_aligned, _checked_mask, _erode, _gaussian)


def paste_face(plate: torch.Tensor, face: torch.Tensor, mask: torch.Tensor, to_aligned: np.ndarray,
               blend: str = "alpha", mix: float = 1.0, origin: tuple[int, int] = (0, 0)) -> PasteResult:
    """``compose.paste_face`` with ``plate`` (H x W x C), ``face`` (S x S x 3) and ``mask`` (S x S) tensors.
    ``blend="poisson"`` solves on the host (the box goes down, the solved face comes back up)."""
    _check_shapes(plate, face)
    face = face.float()
    mask = _checked_mask(mask, face.shape[0])
    to_aligned = check_matrix(to_aligned, "to_aligned")
    mix = check_blend(blend, mix)
    height, width = plate.shape[:2]
    face_rgba = plate.new_zeros((height, width, 4), dtype=torch.float32)
    alpha = plate.new_zeros((height, width), dtype=torch.float32)
    if mix == 0.0:
        return PasteResult(plate.clone(), face_rgba, alpha)

    # Premultiplied resampling, as compose.py: face x mask and mask through the same kernel.
    crop_rgba = torch.cat([face * mask[:, :, None], mask[:, :, None]], dim=2).permute(2, 0, 1)
    warped, (x0, y0, x1, y1) = warp_to_plate(crop_rgba, to_aligned, (height, width))
    if x1 <= x0 or y1 <= y0:
        return PasteResult(plate.clone(), face_rgba, alpha)
    warped = warped.permute(1, 2, 0)
    premultiplied, coverage = warped[:, :, :3], warped[:, :, 3]
    premultiplied = premultiplied / coverage.clamp_min(1.0)[:, :, None]
    coverage = coverage.clamp(0.0, 1.0)
    box_alpha = coverage * mix
    inside = box_alpha > 0.0
    plate_rgb = plate[y0:y1, x0:x1, :3].float()
    if bool((~torch.isfinite(plate_rgb).all(dim=2) & inside).any()):  # the host check names the first pixel
        check_finite_under(plate_rgb.cpu().numpy(), inside.cpu().numpy(), (origin[0] + x0, origin[1] + y0))

    if blend == "poisson":
        plate_host = plate.cpu().numpy()
        face_rgb = torch.as_tensor(poisson_face(plate_host, premultiplied.cpu().numpy(), coverage.cpu().numpy(),
                                                (y0, y1, x0, x1)), device=plate.device)
        box_face = face_rgb * box_alpha[:, :, None]
    else:
        box_face = premultiplied * mix
    box_face = torch.where(inside[:, :, None], box_face, 0.0)
    over = plate_rgb * (1.0 - box_alpha[:, :, None]) + box_face
    comp = plate.clone()
    comp[y0:y1, x0:x1, :3] = torch.where(inside[:, :, None], over.to(plate.dtype), plate[y0:y1, x0:x1, :3])
    face_rgba[y0:y1, x0:x1] = torch.cat([box_face, box_alpha[:, :, None]], dim=2)
    alpha[y0:y1, x0:x1] = box_alpha
    return PasteResult(comp, face_rgba, alpha)


def _erode(mask: torch.Tensor, radius: float) -> torch.Tensor:
    """``compose._erode``: the same disks, zeros outside the crop."""
    kernel_radii, fraction = erosion_steps(radius)
    dilate = radius < 0
    result = mask
    for kernel_radius in kernel_radii:
        result = _disk_extreme(result, kernel_radius, dilate)
    if fraction > 0.0:
        further = _disk_extreme(result, 1, dilate)
        result = (1.0 - fraction) * result + fraction * further
    return result


def _disk_extreme(mask: torch.Tensor, radius: int, dilate: bool) -> torch.Tensor:
    """The max (``dilate``) or min over ``compose.disk(radius)`` around every pixel, zeros outside: per row of the
    disk, a max-pool as wide as that row, shifted by the row's offset."""
    sign = 1.0 if dilate else -1.0
    size_y, size_x = mask.shape
    padded = F.pad(mask[None, None] * sign, (radius, radius, radius, radius), value=0.0)
    rows = disk(radius)
    pooled: dict[int, torch.Tensor] = {}
    result = None
    for dy, row in enumerate(rows):
        half = int(row.sum()) // 2
        if half not in pooled:
            start = radius - half
            pooled[half] = F.max_pool2d(padded, (1, 2 * half + 1), stride=1)[:, :, :, start:start + size_x]
        shifted = pooled[half][0, 0, dy:dy + size_y]
        result = shifted if result is None else torch.maximum(result, shifted)
    assert result is not None
    return result * sign


def _gaussian(mask: torch.Tensor, sigma: float) -> torch.Tensor:
    """``compose._gaussian``: zeros outside; a wide blur through the same reduced mask, as one matrix per axis."""
    if sigma <= DIRECT_BLUR_MAX_SIGMA:
        return gaussian_blur(mask[None], sigma, "constant")[0]
    # in float64: a float32 matmul may run in TF32 on a GPU
    operator = torch.as_tensor(_reduced_blur_operator(mask.shape[0], sigma), device=mask.device)
    return (operator @ mask.double() @ operator.T).float()


def _reduced_blur_operator(size: int, sigma: float) -> np.ndarray:
    """size x size float64: ``compose._gaussian``'s wide blur along one axis (area reduction, Gaussian with zeros
    outside, bilinear enlargement), each step's weights read off OpenCV's own resize of an identity."""
    small_size, _, small_sigma = reduced_blur(size, sigma)
    reduce = cv2.resize(np.eye(size, dtype=np.float32), (small_size, size), interpolation=cv2.INTER_AREA).T
    enlarge = cv2.resize(np.eye(small_size, dtype=np.float32), (size, small_size), interpolation=cv2.INTER_LINEAR).T
    taps = int(round(small_sigma * 8.0 + 1.0)) | 1
    kernel = cv2.getGaussianKernel(taps, small_sigma, cv2.CV_32F).ravel().astype(np.float64)
    offsets = np.arange(small_size)[None, :] - np.arange(small_size)[:, None] + taps // 2
    blur = np.where((offsets >= 0) & (offsets < taps), kernel[np.clip(offsets, 0, taps - 1)], 0.0)
    return enlarge.astype(np.float64) @ blur @ reduce.astype(np.float64)


def _checked_mask(mask: torch.Tensor, size: int | None = None) -> torch.Tensor:
    """The S x S mask as float32 in [0, 1]; a bad one raises ``compose.check_mask``'s error (checked on the host)."""
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    square = mask.ndim == 2 and mask.shape[0] == mask.shape[1] and (size is None or mask.shape[0] == size)
    if not square or mask.is_complex() or mask.dtype == torch.bool or not bool(torch.isfinite(mask).all()):
        check_mask(mask.cpu().numpy(), size)  # raises, naming the problem
    return mask.float().clamp(0.0, 1.0)


def _check_shapes(plate: torch.Tensor, face: torch.Tensor) -> None:
    """``compose``'s plate and face checks, run on the host only where the device sees a problem."""
    plate_ok = plate.ndim == 3 and plate.shape[2] >= 3 and min(plate.shape) > 0
    face_ok = face.ndim == 3 and face.shape[2] == 3 and face.is_floating_point() and bool(torch.isfinite(face).all())
    if not plate_ok:
        check_plate(plate.cpu().numpy())
    if not face_ok:
        check_face(face.cpu().numpy())
    if face.shape[0] != face.shape[1] or not 128 <= face.shape[0] <= 1024:
        check_face(face.cpu().numpy())
