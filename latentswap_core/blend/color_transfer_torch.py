"""``color_transfer.transfer_color`` as torch ops, for crops on the swap's device (``--device cuda``).

The same modes, statistics and conventions as ``color_transfer.py`` (read its docstring), and the same results to
float rounding (the tests hold rct, lct, mkl and idt to 2e-3 on real faces). What is large runs on the device: the
colour-space conversions, the weighted statistics (accumulated in float64) and applying the map to every pixel.
What is small runs on the host, in ``color_transfer.py``'s own code: the 3 x 3 matrix algebra from the statistics
(``moment_map``) and IDT's learning from its samples (``idt_samples``, ``idt_lut``: the same seeded sequence of
samples and rotations), whose LUT is then applied on the device (trilinear, as ``_apply_lut``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from latentswap_core.blend.color_transfer import (
    DEFAULT_EPS,
    EMPTY_MASK_WEIGHT,
    F_FROM_LAB,
    IDT_ITERATIONS,
    LAB_DELTA,
    LAB_FROM_F,
    LINEAR_FROM_XYZ,
    XYZ_FROM_LINEAR,
    check_mode,
    check_shapes,
    idt_lut,
    idt_samples,
    moment_map,
    not_finite,
)


def transfer_color(source: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, mode: str, *,
                   eps: float = DEFAULT_EPS, idt_iterations: int = IDT_ITERATIONS, idt_seed: int = 0) -> torch.Tensor:
    """``source`` (H x W x 3 float tensor in [0, 1]) recoloured so that its colours inside ``mask`` (H x W or
    H x W x 1 weights, clipped to [0, 1]) follow ``target``'s there; a new float32 tensor on their device, clipped
    to [0, 1]. ColorError for an unknown mode, mismatched shapes or NaN/infinite values."""
    check_mode(mode)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    check_shapes(tuple(source.shape), tuple(target.shape), tuple(mask.shape))
    source, target, mask = source.float(), target.float(), mask.float()
    for name, tensor in (("source", source), ("target", target), ("mask", mask)):
        if not bool(torch.isfinite(tensor).all()):
            raise not_finite(name)
    weights = mask.clamp(0.0, 1.0).reshape(-1)
    if mode == "none" or float(weights.sum(dtype=torch.float64)) < EMPTY_MASK_WEIGHT:
        return source.clone()
    if mode == "idt":
        result = _idt(source, target, weights, idt_iterations, idt_seed)
    else:
        lab = mode == "rct"
        space_s, space_t = (srgb_to_lab(source), srgb_to_lab(target)) if lab else (source, target)
        mean_s, cov_s = _weighted_mean_cov(space_s.reshape(-1, 3), weights)
        mean_t, cov_t = _weighted_mean_cov(space_t.reshape(-1, 3), weights)
        result = _transform(space_s, moment_map(mode, mean_s, cov_s, mean_t, cov_t, eps))
        if lab:
            result = lab_to_srgb(result)
    return result.clamp(0.0, 1.0)


def srgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """CIE L*a*b* (D65) of ... x 3 sRGB, as ``color_transfer._srgb_to_lab``."""
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4)
    xyz = _transform(linear, XYZ_FROM_LINEAR)
    f = torch.where(xyz > LAB_DELTA**3, xyz.clamp_min(LAB_DELTA**3) ** (1.0 / 3.0),
                    xyz / (3 * LAB_DELTA**2) + 4.0 / 29.0)
    return _transform(f, LAB_FROM_F)


def lab_to_srgb(lab: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] of ... x 3 L*a*b*, as ``color_transfer._lab_to_srgb``."""
    f = _transform(lab, F_FROM_LAB)
    xyz = torch.where(f > LAB_DELTA, f**3, 3 * LAB_DELTA**2 * (f - 4.0 / 29.0))
    linear = _transform(xyz, LINEAR_FROM_XYZ).clamp(0.0, 1.0)
    return torch.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


def _transform(pixels: torch.Tensor, affine: np.ndarray) -> torch.Tensor:
    """``cv2.transform``: every pixel x (last axis, 3) to ``affine[:, :3] @ x + affine[:, 3]`` (3 x 3 or 3 x 4).
    Multiplied out in float32, not by a matmul, which a GPU may run in TF32."""
    matrix = torch.as_tensor(affine, dtype=pixels.dtype, device=pixels.device)
    result = pixels[..., 0:1] * matrix[:, 0] + pixels[..., 1:2] * matrix[:, 1] + pixels[..., 2:3] * matrix[:, 2]
    return result + matrix[:, 3] if matrix.shape[1] == 4 else result


def _weighted_mean_cov(pixels: torch.Tensor, weights: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean (3,) and covariance (3, 3) of N x 3 ``pixels``, accumulated in float64, brought to the host."""
    weights = weights.double()
    total = weights.sum()
    channels = pixels.T.double()
    mean = channels @ weights / total
    centred = channels - mean[:, None]
    cov = (centred * weights) @ centred.T / total
    return mean.cpu().numpy(), cov.cpu().numpy()


def _idt(source: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, iterations: int,
         seed: int) -> torch.Tensor:
    """IDT learnt on the host from the masked samples, its LUT applied on the device."""
    rng = np.random.default_rng(seed)
    chosen = idt_samples(weights.cpu().numpy(), rng)
    index = torch.as_tensor(chosen, device=source.device)
    samples = source.reshape(-1, 3)[index].cpu().numpy()
    wanted = target.reshape(-1, 3)[index].cpu().numpy()
    lut = torch.as_tensor(idt_lut(samples, wanted, iterations, rng), device=source.device)
    return apply_lut(lut, source)


def apply_lut(lut: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Trilinear lookup of an n x n x n x 3 LUT over [0, 1]^3 (indexed R, G, B) for ... x 3 ``image`` (clipped)."""
    volume = lut.permute(3, 0, 1, 2)[None].float()  # 1 x 3 x R x G x B: grid_sample reads (x, y, z) = (B, G, R)
    where = image.reshape(-1, 3).clamp(0.0, 1.0).flip(-1) * 2.0 - 1.0
    looked = F.grid_sample(volume, where[None, :, None, None, :], mode="bilinear", align_corners=True)
    return looked[0, :, :, 0, 0].T.reshape(image.shape)
