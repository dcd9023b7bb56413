"""Putting a swapped face back into the plate: mask refinement, alpha ("over") and Poisson (seamless) blending.

The merge stage, compositing first. Per face it takes the plate frame (float H x W x C, C >= 3, any range:
scene-linear or display), the swapped crop (S x S x 3, already in the plate's colour space), the crop's
mask (S x S in [0, 1]) and ``to_aligned`` (plate pixels -> [0, 1]^2, docs/alignment.md), and returns:

- ``comp``: the plate with the face over it. Every pixel where ``alpha`` is 0 is the plate's, bit for bit;
  channels after R, G, B (alpha, depth, ...) are the plate's everywhere.
- ``face_rgba``: the face in plate space premultiplied by ``alpha``, as an EXR layer ``face.R/G/B/A``;
  ``face_rgba`` over the plate gives ``comp`` (up to float rounding).
- ``alpha``: warped mask x crop coverage x mix; ``region``: the (y0, y1, x0, x1) box of ``alpha > 0``.

Several faces in one frame: paste them one after another, each onto the previous ``comp``.

Knob units: ``refine_mask``'s ``erode_px`` and ``blur_px`` are plate pixels, converted to crop pixels with the crop's
scale, so a setting looks the same at every crop size. ``erode_px`` moves the mask's edge inwards by that
many pixels (negative: outwards); ``blur_px`` is the width of the feathered edge (a Gaussian of sigma
``blur_px / 6``, so the edge goes from 0 to 1 over about ``blur_px``). Ranges follow DeepFaceLab's merger:
-400..400 and 0..400.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import cv2
import numpy as np

from latentswap_core.align.transform import check_matrix, check_size
from latentswap_core.align.warp import warp_to_plate
from latentswap_core.errors import AlignmentError, ImageError, SettingsError

BLENDS = ("alpha", "poisson")
MAX_ERODE_PX = 400.0
MAX_BLUR_PX = 400.0
ERODE_STEP_PX = 5  # large erosions repeat erosions by a disk this wide: a sum of disks is a disk (within 2 %)
DIRECT_BLUR_MAX_SIGMA = 8.0  # wider blurs run on a reduced mask (a wide Gaussian has no fine detail)
_POISSON_INSIDE = 0.5  # the Poisson region: alpha (before mix) above this
_GUIDANCE_MIN_ALPHA = 0.25  # the face's colour is trusted (face = premultiplied / alpha) above this alpha
Mask = TypeVar("Mask", bound=Any)  # an S x S mask: a numpy array here, a tensor in compose_torch


@dataclass(frozen=True)
class PasteResult:
    """One face pasted into a plate; see the module docstring."""

    comp: np.ndarray  # H x W x C, the plate's dtype
    face_rgba: np.ndarray  # H x W x 4 float32, premultiplied by alpha
    alpha: np.ndarray  # H x W float32
    region: tuple[int, int, int, int]  # y0, y1, x0, x1 (half-open) around alpha > 0; (0, 0, 0, 0) when empty


def refine_mask(
    mask: np.ndarray, erode_px: float, blur_px: float, to_aligned: np.ndarray | None = None
) -> np.ndarray:
    """``mask`` (S x S in [0, 1]) eroded by ``erode_px`` (negative dilates) then feathered over ``blur_px``.

    With ``to_aligned`` the numbers are plate pixels (converted with the crop's scale); without it, crop pixels.
    Outside the crop counts as 0, so eroding also pulls the mask off the crop's border, as DeepFaceLab does.
    Float32 in [0, 1]; 0 and 0 return the mask unchanged (as float32).
    """
    return refined_mask(mask, erode_px, blur_px, to_aligned, check_mask, _erode, _gaussian)


def refined_mask(mask: Mask, erode_px: float, blur_px: float, to_aligned: np.ndarray | None,
                 check: Callable[[Mask], Mask], erode: Callable[[Mask, float], Mask],
                 blur: Callable[[Mask, float], Mask]) -> Mask:
    """``refine_mask``'s steps on any kind of array (numpy's here, torch's in ``compose_torch``): ``check`` gives the
    mask as float32 in [0, 1] (or raises), ``erode`` and ``blur`` take crop pixels and a sigma."""
    erode_px, blur_px = check_knobs(erode_px, blur_px)
    mask = check(mask)
    if erode_px == 0.0 and blur_px == 0.0:
        return mask
    radius, sigma = refinement_in_crop(erode_px, blur_px, mask.shape[0], to_aligned)
    refined = erode(mask, radius) if radius != 0.0 else mask
    if sigma > 0.0:
        refined = blur(refined, sigma)
    return refined.clip(0.0, 1.0)


def refinement_in_crop(erode_px: float, blur_px: float, size: int,
                       to_aligned: np.ndarray | None) -> tuple[float, float]:
    """(erosion radius, blur sigma) in crop pixels of a ``size`` crop for checked knobs (see ``refine_mask``)."""
    crop_px_per_unit = 1.0 if to_aligned is None else crop_px_per_plate_px(to_aligned, size)
    # Beyond 1.5 crop sides erosion empties the mask and dilation fills it: cap the work there.
    radius = float(np.clip(erode_px * crop_px_per_unit, -1.5 * size, 1.5 * size))
    return radius, blur_px * crop_px_per_unit / 6.0


def paste_face(
    plate: np.ndarray,
    face: np.ndarray,
    mask: np.ndarray,
    to_aligned: np.ndarray,
    blend: str = "alpha",
    mix: float = 1.0,
    origin: tuple[int, int] = (0, 0),
) -> PasteResult:
    """``face`` (S x S x 3) put back into ``plate`` through ``mask`` (S x S) and ``to_aligned``; see the module.

    ``plate`` may be a box cut from a frame (``to_aligned`` then maps the box's pixels): a box holding the face's
    ``align.plate_region`` grown by one pixel (or reaching the frame's edge) gives the frame's result there.
    ``origin`` (x, y) is where the box lies in the frame, for error messages.

    ``blend="alpha"``: face over plate with the warped mask. ``"poisson"``: inside the mask's core
    (alpha > 0.5 before mix) the face's gradients are kept and its colour follows the plate on the core's
    edge (float Poisson solve, the plate as the boundary), then that result goes over the plate with the
    same alpha as in "alpha" mode.
    """
    plate = check_plate(plate)
    face = check_face(face)
    mask = check_mask(mask, face.shape[0])
    to_aligned = check_matrix(to_aligned, "to_aligned")
    mix = check_blend(blend, mix)
    height, width = plate.shape[:2]
    comp = plate.copy()
    face_rgba = np.zeros((height, width, 4), np.float32)
    alpha = np.zeros((height, width), np.float32)
    if mix == 0.0:
        return PasteResult(comp, face_rgba, alpha, (0, 0, 0, 0))

    # Premultiplied resampling: face x mask and mask go through the same kernel, so edges stay consistent.
    crop_rgba = np.concatenate([face * mask[:, :, np.newaxis], mask[:, :, np.newaxis]], axis=2)
    warped = warp_to_plate(crop_rgba, to_aligned, (height, width, 4))
    region = nonzero_box(warped[:, :, 3] > 0.0)
    if region is None:
        return PasteResult(comp, face_rgba, alpha, (0, 0, 0, 0))
    y0, y1, x0, x1 = region
    box = (slice(y0, y1), slice(x0, x1))
    premultiplied, coverage = warped[box][:, :, :3], warped[box][:, :, 3]
    # Cubic rings past 1 (and below 0) next to hard edges; clipping alpha, scale the face with it so that
    # face = premultiplied / alpha is unchanged.
    premultiplied = premultiplied / np.maximum(coverage, 1.0)[:, :, np.newaxis]
    coverage = np.clip(coverage, 0.0, 1.0)
    box_alpha = coverage * np.float32(mix)
    inside = box_alpha > 0.0
    plate_rgb = plate[box][:, :, :3].astype(np.float32)
    check_finite_under(plate_rgb, inside, (origin[0] + x0, origin[1] + y0))

    if blend == "poisson":
        face_rgb = poisson_face(plate, premultiplied, coverage, region)
        box_face = face_rgb * box_alpha[:, :, np.newaxis]
    else:
        box_face = premultiplied * np.float32(mix)
    box_face[~inside] = 0.0
    over = plate_rgb * (1.0 - box_alpha[:, :, np.newaxis]) + box_face
    comp_rgb = comp[box][:, :, :3]  # a view: writes go into comp
    comp_rgb[inside] = over[inside].astype(comp.dtype)
    face_rgba[box] = np.concatenate([box_face, box_alpha[:, :, np.newaxis]], axis=2)
    alpha[box] = box_alpha
    return PasteResult(comp, face_rgba, alpha, nonzero_box(alpha > 0.0) or (0, 0, 0, 0))


def poisson_face(
    plate: np.ndarray, premultiplied: np.ndarray, coverage: np.ndarray, box: tuple[int, int, int, int]
) -> np.ndarray:
    """The face (unpremultiplied, box-sized) whose core follows the plate's colour at its edge; plate outside.

    Unknowns are the core pixels (coverage > 0.5). The equation at each: sum over its in-plate neighbours q of
    (u_p - u_q) = sum of the face's (f_p - f_q), with u_q the plate's value for q outside the core (Dirichlet)
    and no term for neighbours off the plate (Neumann: a face cut by the frame edge keeps its colour there).
    """
    import scipy.sparse  # here, not at the top: 0.2 s of every command's start, for --blend poisson only
    import scipy.sparse.linalg

    y0, y1, x0, x1 = box
    height, width = plate.shape[:2]
    trusted = coverage > _GUIDANCE_MIN_ALPHA
    face = np.zeros(premultiplied.shape, np.float64)
    face[trusted] = premultiplied[trusted] / coverage[trusted][:, np.newaxis]
    core = coverage > _POISSON_INSIDE
    result = plate[y0:y1, x0:x1, :3].astype(np.float64)
    core_box = nonzero_box(core)
    if core_box is None:
        return result.astype(np.float32)
    # The equations live on the core's box grown by one pixel (the Dirichlet ring), clipped to the plate; in
    # the region box's coordinates it may reach one pixel past the region box.
    cy0, cy1, cx0, cx1 = core_box
    gy0, gy1 = max(y0 + cy0 - 1, 0) - y0, min(y0 + cy1 + 1, height) - y0
    gx0, gx1 = max(x0 + cx0 - 1, 0) - x0, min(x0 + cx1 + 1, width) - x0
    work = (slice(gy0, gy1), slice(gx0, gx1))
    core_w, trusted_w, face_w = _window(core, work), _window(trusted, work), _window(face, work)
    plate_w = plate[y0 + gy0:y0 + gy1, x0 + gx0:x0 + gx1, :3].astype(np.float64)

    index = np.full(core_w.shape, -1, np.int64)
    count = int(core_w.sum())
    index[core_w] = np.arange(count)
    diagonal, rhs = np.zeros(count), np.zeros((count, 3))
    rows, cols = [], []
    dirichlet = 0
    height_w, width_w = core_w.shape
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        at_p = (slice(max(-dy, 0), height_w - max(dy, 0)), slice(max(-dx, 0), width_w - max(dx, 0)))
        at_q = (slice(max(dy, 0), height_w - max(-dy, 0)), slice(max(dx, 0), width_w - max(-dx, 0)))
        p_core = core_w[at_p]  # pixels whose neighbour (dy, dx) is on the plate; those off it add nothing
        p_index = index[at_p][p_core]
        diagonal[p_index] += 1.0
        guided = (trusted_w[at_p] & trusted_w[at_q])[p_core]
        rhs[p_index] += (face_w[at_p] - face_w[at_q])[p_core] * guided[:, np.newaxis]
        q_core = core_w[at_q][p_core]
        rows.append(p_index[q_core])
        cols.append(index[at_q][p_core][q_core])
        rhs[p_index[~q_core]] += plate_w[at_q][p_core][~q_core]
        dirichlet += int((~q_core).sum())
    if dirichlet == 0:  # the core covers the whole plate: no edge to match, keep the face
        result[core] = face[core]
        return result.astype(np.float32)
    rows_all, cols_all = np.concatenate(rows), np.concatenate(cols)
    diagonal_index = np.arange(count)
    matrix = scipy.sparse.csc_matrix(
        (np.concatenate([diagonal, -np.ones(rows_all.size)]),
         (np.concatenate([diagonal_index, rows_all]), np.concatenate([diagonal_index, cols_all]))),
        shape=(count, count),
    )
    # Unknowns are numbered in row-major order of the core, in the window and in the region box alike.
    # The matrix is symmetric positive definite: a symmetric fill-reducing order halves the factorisation time.
    factors = scipy.sparse.linalg.splu(matrix, permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
    result[core] = factors.solve(rhs)
    return result.astype(np.float32)


def _window(array: np.ndarray, window: tuple[slice, slice]) -> np.ndarray:
    """``array[window]`` where ``window`` may reach one pixel past ``array``'s edges (zeros / False there)."""
    (r0, r1), (c0, c1) = (window[0].start, window[0].stop), (window[1].start, window[1].stop)
    out = np.zeros((r1 - r0, c1 - c0, *array.shape[2:]), array.dtype)
    ar0, ar1, ac0, ac1 = max(r0, 0), min(r1, array.shape[0]), max(c0, 0), min(c1, array.shape[1])
    out[ar0 - r0:ar1 - r0, ac0 - c0:ac1 - c0] = array[ar0:ar1, ac0:ac1]
    return out


def _erode(mask: np.ndarray, radius: float) -> np.ndarray:
    """Grey-scale erosion (``radius`` > 0) or dilation (< 0) by a disk, linear between whole radii."""
    operation = cv2.erode if radius > 0 else cv2.dilate
    kernel_radii, fraction = erosion_steps(radius)
    result = mask
    for kernel_radius in kernel_radii:
        result = operation(result, disk(kernel_radius), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    if fraction > 0.0:
        further = operation(result, disk(1), borderType=cv2.BORDER_CONSTANT, borderValue=0)
        result = (1.0 - fraction) * result + fraction * further
    return result.astype(np.float32)


def erosion_steps(radius: float) -> tuple[list[int], float]:
    """An erosion by ``radius`` as erosions by disks of these whole radii, then this fraction of one more by 1."""
    whole, fraction = divmod(abs(radius), 1.0)
    steps, rest = divmod(int(whole), ERODE_STEP_PX)
    return [ERODE_STEP_PX] * steps + ([rest] if rest else []), fraction


def disk(radius: int) -> np.ndarray:
    """Digital disk whose convex hull is closest to round: at radius 5 its half-width is 4.92-5.10, mean 5.02."""
    offsets = np.arange(-radius, radius + 1)
    inside = offsets[:, np.newaxis] ** 2 + offsets[np.newaxis, :] ** 2 <= radius * radius + radius // 2
    return inside.astype(np.uint8)


def _gaussian(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with zeros outside; wide blurs run on a reduced copy."""
    if sigma <= DIRECT_BLUR_MAX_SIGMA:
        return cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_CONSTANT)
    size = mask.shape[0]
    small_size, pad, small_sigma = reduced_blur(size, sigma)
    small = cv2.resize(mask, (small_size, small_size), interpolation=cv2.INTER_AREA)
    small = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=small_sigma, sigmaY=small_sigma, borderType=cv2.BORDER_CONSTANT)
    return cv2.resize(small[pad:-pad, pad:-pad], (size, size), interpolation=cv2.INTER_LINEAR)


def reduced_blur(size: int, sigma: float) -> tuple[int, int, float]:
    """A blur wider than DIRECT_BLUR_MAX_SIGMA of a ``size`` mask: (the reduced side, its zero border, the sigma
    there)."""
    factor = sigma / DIRECT_BLUR_MAX_SIGMA
    small_size = max(2, round(size / factor))
    return small_size, math.ceil(3.0 * DIRECT_BLUR_MAX_SIGMA), sigma * small_size / size


def crop_px_per_plate_px(to_aligned: np.ndarray, size: int) -> float:
    matrix = check_matrix(to_aligned, "to_aligned")
    return size * math.sqrt(abs(np.linalg.det(matrix[:, :2])))


def nonzero_box(where: np.ndarray) -> tuple[int, int, int, int] | None:
    """Rows y0..y1 and columns x0..x1 (half-open) bounding the True pixels of ``where`` (H x W); None if none."""
    rows, cols = np.flatnonzero(where.any(axis=1)), np.flatnonzero(where.any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def check_knobs(erode_px: object, blur_px: object) -> tuple[float, float]:
    erode = _finite_number(erode_px, "erode")
    blur = _finite_number(blur_px, "blur")
    if abs(erode) > MAX_ERODE_PX:
        raise SettingsError(f"erode {erode:g} px is outside -{MAX_ERODE_PX:g}..{MAX_ERODE_PX:g}; "
                             "negative values grow the mask, positive shrink it")
    if not 0.0 <= blur <= MAX_BLUR_PX:
        raise SettingsError(f"blur {blur:g} px is outside 0..{MAX_BLUR_PX:g}; it is the feathered edge's width")
    return erode, blur


def check_blend(blend: object, mix: object) -> float:
    if blend not in BLENDS:
        raise SettingsError(f"unknown blend {blend!r}; use one of {', '.join(BLENDS)}")
    value = _finite_number(mix, "mix")
    if not 0.0 <= value <= 1.0:
        raise SettingsError(f"mix {value:g} is outside 0..1 (0 keeps the plate, 1 the full face)")
    return value


def _finite_number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SettingsError(f"{what} {value!r} is not a number")
    if not math.isfinite(float(value)):
        raise SettingsError(f"{what} is {value}; give a finite number")
    return float(value)


def check_plate(plate: np.ndarray) -> np.ndarray:
    array = np.asarray(plate)
    if array.ndim != 3 or array.shape[2] < 3 or min(array.shape) == 0:
        raise ImageError(f"plate of shape {array.shape}: expected height x width x channels with at least R, G, B")
    if not np.issubdtype(array.dtype, np.floating):
        raise ImageError(f"plate of type {array.dtype}: expected float pixels; convert with io.to_float32 first")
    return array


def check_face(face: np.ndarray) -> np.ndarray:
    array = np.asarray(face)
    if array.ndim != 3 or array.shape[2] != 3 or not np.issubdtype(array.dtype, np.floating):
        raise AlignmentError(f"face crop of shape {array.shape} and type {array.dtype}: expected S x S x 3 floats "
                             "(R, G, B in the plate's colour space)")
    if array.shape[0] != array.shape[1]:
        raise AlignmentError(f"face crop of shape {array.shape} is not square; pass the aligned crop the model made")
    check_size(array.shape[0])
    bad = int((~np.isfinite(array)).sum())
    if bad:
        raise ImageError(f"face crop has {bad} NaN or infinite values; check the model's output")
    return array.astype(np.float32, copy=False)


def check_mask(mask: np.ndarray, size: int | None = None) -> np.ndarray:
    array = np.asarray(mask)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number) or array.shape[0] != array.shape[1]:
        raise AlignmentError(f"mask of shape {array.shape} and type {array.dtype}: expected a square S x S crop mask")
    if size is not None and array.shape[0] != size:
        raise AlignmentError(f"mask is {array.shape[0]} px but the face crop {size} px; pass the mask of this crop")
    if not np.isfinite(array).all():
        raise AlignmentError("mask holds NaN or infinite values; check the model's predicted mask")
    return np.clip(array.astype(np.float32), 0.0, 1.0)


def check_finite_under(plate_rgb: np.ndarray, inside: np.ndarray, origin: tuple[int, int]) -> None:
    bad = ~np.isfinite(plate_rgb).all(axis=2) & inside
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ImageError(f"plate has NaN or infinite R, G, B under the face (first at x={origin[0] + col}, "
                         f"y={origin[1] + row}); fix the plate there before pasting")
