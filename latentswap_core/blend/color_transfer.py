"""Colour transfer for the merge step: recolour the swapped face to the plate's face (DeepFaceLab's modes).

Both images are aligned crops of the same size in the model's working space (display-referred sRGB
in [0, 1], float32, height x width x 3); the face mask (height x width, weights in [0, 1]) says
where colour statistics are measured. The transform found there is applied to every pixel of the
source: the caller masks the result later.

Modes:
- ``none``: the source, copied.
- ``rct``: Reinhard et al.: per-channel mean and standard deviation matched in CIE L*a*b* (sRGB, D65).
- ``lct``: linear colour transfer: mean and full 3 x 3 covariance matched in RGB through symmetric
  matrix square roots (eigen decomposition), ``C_t^1/2 C_s^-1/2``.
- ``mkl``: Monge-Kantorovich linear: the optimal transport map between the two Gaussians,
  ``C_s^-1/2 (C_s^1/2 C_t C_s^1/2)^1/2 C_s^-1/2``; matches the same statistics as ``lct`` while
  moving colours the least.
- ``idt``: iterative distribution transfer (Pitie et al.): random 3-D rotations, each followed by
  1-D histogram matching along the rotated axes; matches the whole distribution, not only its
  first two moments. It learns from the pixels whose weight is at least half the mask's peak
  (at most ``IDT_MAX_SAMPLES`` of them), carries the learnt map on a 3-D LUT over [0, 1]^3 and
  applies that LUT to every pixel trilinearly (source values outside [0, 1] are clipped first).
  The rotations and the sampling come from a fixed seed, so the result is deterministic.

Covariances (and the L*a*b* variances, scaled by 100^2) are regularised by ``eps`` times the identity, so flat
regions stay finite. An empty mask (total weight ~0) has no statistics: the source is returned
unchanged (a copy). The result is clipped to [0, 1], the range of the display-referred working
space; a transform can overshoot it where the source has colours the mask did not see.
"""

from __future__ import annotations

import cv2
import numpy as np

from latentswap_core.errors import ColorError

MODES = ("none", "rct", "lct", "mkl", "idt")

DEFAULT_EPS = 1e-5
"""Regularisation of covariances, in squared [0, 1] units (a standard deviation of ~0.003, under one 8-bit level)."""

IDT_ITERATIONS = 20
IDT_BINS = 256
IDT_MAX_SAMPLES = 32768
"""IDT learns its map from at most this many masked pixels."""
IDT_LUT_SIZE = 33
"""IDT carries its map on a 33^3 grid over [0, 1]^3."""

EMPTY_MASK_WEIGHT = 1e-6  # a mask weighing less has no statistics: the source is kept
_LAB_SCALE = 100.0  # L* runs 0..100 where RGB runs 0..1


def transfer_color(
    source: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray,
    mode: str,
    *,
    eps: float = DEFAULT_EPS,
    idt_iterations: int = IDT_ITERATIONS,
    idt_seed: int = 0,
) -> np.ndarray:
    """``source`` recoloured so that its colours inside ``mask`` follow ``target``'s there.

    ``source`` and ``target`` are H x W x 3 float images in [0, 1]; ``mask`` is H x W (or H x W x 1)
    weights, clipped to [0, 1]. Returns a new float32 H x W x 3 array clipped to [0, 1].
    Raises ColorError for an unknown mode, mismatched shapes or NaN/infinite values.
    """
    check_mode(mode)
    source, target, weights = _checked(source, target, mask)
    if mode == "none" or weights.sum(dtype=np.float64) < EMPTY_MASK_WEIGHT:
        return source.copy()
    if mode == "idt":
        result = _idt(source, target, weights, iterations=idt_iterations, seed=idt_seed)
    else:
        result = _moment_transfer(mode, source, target, weights, eps)
    return np.clip(result, 0.0, 1.0, out=result)


def _checked(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    source = np.ascontiguousarray(source, dtype=np.float32)
    target = np.ascontiguousarray(target, dtype=np.float32)
    mask = np.asarray(mask, dtype=np.float32)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    check_shapes(source.shape, target.shape, mask.shape)
    for name, array in (("source", source), ("target", target), ("mask", mask)):
        if not np.isfinite(array).all():
            raise not_finite(name)
    return source, target, np.clip(mask, 0.0, 1.0).reshape(-1)


def check_mode(mode: object) -> None:
    """ColorError unless ``mode`` is one of MODES."""
    if mode not in MODES:
        raise ColorError(f"unknown colour transfer mode {mode!r}; use one of {', '.join(MODES)}")


def check_shapes(source: tuple[int, ...], target: tuple[int, ...], mask: tuple[int, ...]) -> None:
    """ColorError unless source and target are H x W x 3 alike and the mask H x W."""
    if len(source) != 3 or source[2] != 3 or tuple(target) != tuple(source) or tuple(mask) != tuple(source[:2]):
        raise ColorError(
            f"colour transfer needs source and target of the same H x W x 3 shape and an H x W mask; "
            f"got source {tuple(source)}, target {tuple(target)}, mask {tuple(mask)}"
        )


def not_finite(name: str) -> ColorError:
    return ColorError(f"colour transfer {name} contains NaN or infinite values; clean the image first")


def _weighted_mean_cov(pixels: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean (3,) and covariance (3, 3) of N x 3 ``pixels``, accumulated in float64."""
    total = weights.sum(dtype=np.float64)
    channels = pixels.T.astype(np.float64)
    mean = channels @ weights / total
    centred = channels - mean[:, None]
    cov = (centred * weights) @ centred.T / total
    return mean, cov


def _sqrt_and_inverse_sqrt(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric square root of a (regularised, positive definite) covariance, and its inverse."""
    values, vectors = np.linalg.eigh(cov)
    root = np.sqrt(np.maximum(values, np.finfo(np.float64).tiny))
    return (vectors * root) @ vectors.T, (vectors / root) @ vectors.T


def moment_map(mode: str, mean_s: np.ndarray, cov_s: np.ndarray, mean_t: np.ndarray, cov_t: np.ndarray,
               eps: float) -> np.ndarray:
    """The 3 x 4 float32 affine of a moment transfer (``rct``, ``lct``, ``mkl``) from the source's and target's
    weighted means (3,) and covariances (3, 3) in its space (L*a*b* for ``rct``, RGB else): a pixel x goes to
    ``A[:, :3] @ x + A[:, 3]``."""
    if mode == "rct":
        gain = np.sqrt((np.diag(cov_t) + eps * _LAB_SCALE**2) / (np.diag(cov_s) + eps * _LAB_SCALE**2))
        return _affine(np.diag(gain), mean_s, mean_t)
    cov_s, cov_t = cov_s + eps * np.eye(3), cov_t + eps * np.eye(3)
    if mode == "lct":
        _, inv_root_s = _sqrt_and_inverse_sqrt(cov_s)
        root_t, _ = _sqrt_and_inverse_sqrt(cov_t)
        return _affine(root_t @ inv_root_s, mean_s, mean_t)
    root_s, inv_root_s = _sqrt_and_inverse_sqrt(cov_s)
    middle, _ = _sqrt_and_inverse_sqrt(root_s @ cov_t @ root_s)
    return _affine(inv_root_s @ middle @ inv_root_s, mean_s, mean_t)


def _affine(matrix: np.ndarray, mean_from: np.ndarray, mean_to: np.ndarray) -> np.ndarray:
    """``matrix @ (x - mean_from) + mean_to`` as a 3 x 4 float32 affine."""
    return np.hstack([matrix, (mean_to - matrix @ mean_from)[:, None]]).astype(np.float32)


def _moment_transfer(mode: str, source: np.ndarray, target: np.ndarray, weights: np.ndarray,
                     eps: float) -> np.ndarray:
    lab = mode == "rct"
    space_s, space_t = (_srgb_to_lab(source), _srgb_to_lab(target)) if lab else (source, target)
    mean_s, cov_s = _weighted_mean_cov(space_s.reshape(-1, 3), weights)
    mean_t, cov_t = _weighted_mean_cov(space_t.reshape(-1, 3), weights)
    result = cv2.transform(space_s, moment_map(mode, mean_s, cov_s, mean_t, cov_t, eps))
    return _lab_to_srgb(result) if lab else result


# CIE L*a*b* of sRGB (IEC 61966-2-1 transfer, D65 white), computed exactly: OpenCV's float conversion
# approximates the transfer curve (round trips are off by up to ~0.005). The 3 x 4 matrices act as cv2.transform's.
_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])  # fmt: skip
_D65 = _RGB_TO_XYZ.sum(axis=1)
LAB_DELTA = 6.0 / 29.0
XYZ_FROM_LINEAR = (_RGB_TO_XYZ / _D65[:, None]).astype(np.float32)  # white-relative XYZ
LINEAR_FROM_XYZ = (np.linalg.inv(_RGB_TO_XYZ) * _D65).astype(np.float32)
LAB_FROM_F = np.array([[0.0, 116.0, 0.0, -16.0], [500.0, -500.0, 0.0, 0.0], [0.0, 200.0, -200.0, 0.0]], np.float32)
F_FROM_LAB = np.array([[1 / 116, 1 / 500, 0.0, 16 / 116], [1 / 116, 0.0, 0.0, 16 / 116],
                       [1 / 116, 0.0, -1 / 200, 16 / 116]]).astype(np.float32)


def _srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((np.maximum(rgb, 0.04045) + 0.055) / 1.055) ** 2.4)
    xyz = cv2.transform(linear.astype(np.float32), XYZ_FROM_LINEAR)
    f = np.where(xyz > LAB_DELTA**3, np.cbrt(xyz), xyz / (3 * LAB_DELTA**2) + 4.0 / 29.0).astype(np.float32)
    return cv2.transform(f, LAB_FROM_F)


def _lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    f = cv2.transform(lab, F_FROM_LAB)
    xyz = np.where(f > LAB_DELTA, f**3, 3 * LAB_DELTA**2 * (f - 4.0 / 29.0)).astype(np.float32)
    linear = cv2.transform(xyz, LINEAR_FROM_XYZ)
    np.clip(linear, 0.0, 1.0, out=linear)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055).astype(np.float32)


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3 x 3 rotation (QR of a Gaussian matrix, signs fixed, determinant +1)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _matching_curve(source_values: np.ndarray, target_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots (x, y) of the monotone 1-D map sending the source's histogram onto the target's."""
    low = float(min(source_values.min(), target_values.min()))
    high = max(float(max(source_values.max(), target_values.max())), low + 1e-6)
    edges = np.linspace(low, high, IDT_BINS + 1)
    cdfs = []
    for values in (source_values, target_values):
        counts, _ = np.histogram(values, bins=IDT_BINS, range=(low, high))
        cdf = np.concatenate([[0.0], np.cumsum(counts + 1e-3)])  # the floor keeps the CDF strictly increasing
        cdfs.append(cdf / cdf[-1])
    return edges, np.interp(cdfs[0], cdfs[1], edges)


def _apply_curve(values: np.ndarray, knots_x: np.ndarray, knots_y: np.ndarray) -> np.ndarray:
    """The curve at ``values``, continued with slope 1 beyond its knots (colours the samples never reached)."""
    mapped = np.interp(values, knots_x, knots_y)
    mapped += np.minimum(values - knots_x[0], 0.0) + np.maximum(values - knots_x[-1], 0.0)
    return mapped


def _idt(source: np.ndarray, target: np.ndarray, weights: np.ndarray, *, iterations: int, seed: int) -> np.ndarray:
    """Pitie's IDT learnt on masked samples, carried by a 3-D LUT that is then applied to every pixel."""
    rng = np.random.default_rng(seed)
    chosen = idt_samples(weights, rng)
    lut = idt_lut(source.reshape(-1, 3)[chosen], target.reshape(-1, 3)[chosen], iterations, rng)
    return _apply_lut(lut, source)


def idt_samples(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of the pixels IDT learns from (flat ``weights`` at least half their peak; at most IDT_MAX_SAMPLES,
    drawn from ``rng``), ascending."""
    chosen = np.flatnonzero(weights >= 0.5 * weights.max())
    if chosen.size > IDT_MAX_SAMPLES:
        chosen = np.sort(rng.choice(chosen, IDT_MAX_SAMPLES, replace=False))
    return chosen


def idt_lut(samples: np.ndarray, wanted: np.ndarray, iterations: int, rng: np.random.Generator) -> np.ndarray:
    """The IDT map learnt from N x 3 ``samples`` towards ``wanted``, on an IDT_LUT_SIZE^3 x 3 grid over [0, 1]^3
    (indexed R, G, B); the rotations come from ``rng``, after ``idt_samples`` drew from it."""
    axis = np.linspace(0.0, 1.0, IDT_LUT_SIZE, dtype=np.float32)
    grid: np.ndarray = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
    for _ in range(iterations):
        rotation = _random_rotation(rng).astype(np.float32)
        samples_r, wanted_r, grid_r = samples @ rotation.T, wanted @ rotation.T, grid @ rotation.T
        for channel in range(3):
            knots_x, knots_y = _matching_curve(samples_r[:, channel], wanted_r[:, channel])
            samples_r[:, channel] = _apply_curve(samples_r[:, channel], knots_x, knots_y)
            grid_r[:, channel] = _apply_curve(grid_r[:, channel], knots_x, knots_y)
        samples, grid = samples_r @ rotation, grid_r @ rotation
    return grid.reshape(IDT_LUT_SIZE, IDT_LUT_SIZE, IDT_LUT_SIZE, 3)


def _apply_lut(lut: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Trilinear lookup of an n x n x n x 3 LUT over [0, 1]^3 (indexed R, G, B); inputs clipped to [0, 1]."""
    size = lut.shape[0]
    position = np.clip(image.reshape(-1, 3), 0.0, 1.0) * np.float32(size - 1)
    base = np.minimum(position.astype(np.int32), size - 2)
    fraction = position - base
    flat = lut.reshape(-1, 3).astype(np.float32)
    index = (base[:, 0] * size + base[:, 1]) * size + base[:, 2]
    result = np.zeros_like(position)
    for corner in range(8):
        steps = (corner >> 2, (corner >> 1) & 1, corner & 1)
        weight = np.ones(len(position), dtype=np.float32)
        for channel, step in enumerate(steps):
            weight *= fraction[:, channel] if step else 1.0 - fraction[:, channel]
        result += flat[index + (steps[0] * size + steps[1]) * size + steps[2]] * weight[:, None]
    return result.reshape(image.shape)
