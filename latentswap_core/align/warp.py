"""Warping pixels between the plate and an aligned crop, sub-pixel exact in the +0.5 pixel-centre convention.

OpenCV puts pixel centres on integers, our coordinates at +0.5, so every matrix handed to OpenCV is
``T(-0.5) @ M @ T(+0.5)``. Only the plate region under the crop is warped, and when the warp shrinks
the image it is low-passed first (Gaussian, sigma = (factor - 1) / 2) so crops do not alias.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from latentswap_core.align.transform import (
    check_image_shape,
    check_size,
    crop_matrix,
    invert_affine,
    transform_points,
)
from latentswap_core.errors import AlignmentError
from latentswap_core.geometry import opencv_matrix, to_homogeneous, translation
from latentswap_core.io.image import to_float32

INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}
_SUPPORT_PX = 4  # the widest kernel's reach (lanczos), plus nothing else
_OPENCV_MAX_CHANNELS = 4


def warp_to_aligned(
    plate: np.ndarray, to_aligned: np.ndarray, size: int, interpolation: str = "cubic"
) -> np.ndarray:
    """The ``size`` x ``size`` aligned crop of ``plate`` (float32; integer plates scaled to [0, 1]).

    Outside the plate the edge pixels are repeated, as a face at the frame edge should not show a black bar
    to the model; ``plate_coverage`` tells which part of a crop is real.
    """
    pixels, flat = _as_float_image(plate, "plate")
    flags = _interpolation_flag(interpolation) | cv2.WARP_INVERSE_MAP
    plate_to_crop = crop_matrix(to_aligned, size)
    sigma = antialias_sigma(1.0 / matrix_scale(plate_to_crop))
    x0, y0, x1, y1 = aligned_source_region(to_aligned, size, pixels.shape)
    region = _blur(pixels[y0:y1, x0:x1], sigma, cv2.BORDER_REPLICATE)
    region_to_crop = plate_to_crop @ to_homogeneous(translation(x0, y0))
    crop = _warp(region, invert_affine(region_to_crop), (size, size), flags, cv2.BORDER_REPLICATE)
    return crop[:, :, 0] if flat else crop


def aligned_source_region(to_aligned: np.ndarray, size: int, plate_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the plate pixels ``warp_to_aligned`` reads for this crop (never empty).

    A caller that prepares pixels (a colour conversion) only there, and warps that region with
    ``from_data_window(to_aligned, (x0, y0))``, gets exactly the crop of the whole plate.
    """
    height, width = check_image_shape(plate_shape, "plate shape")
    plate_to_crop = crop_matrix(to_aligned, size)
    margin = math.ceil(3.0 * antialias_sigma(1.0 / matrix_scale(plate_to_crop))) + _SUPPORT_PX + 1
    corners = transform_points(_square_corners(size), invert_affine(plate_to_crop))
    x0, y0, x1, y1 = _region(corners, margin, (height, width))
    # Clamping keeps at least the nearest edge pixel, so a crop entirely off the plate repeats its edge like
    # one partly off it.
    x0, y0 = min(x0, width - 1), min(y0, height - 1)
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


def warp_to_plate(
    crop: np.ndarray, to_aligned: np.ndarray, plate_shape: tuple[int, ...], interpolation: str = "cubic"
) -> np.ndarray:
    """``crop`` put back where it came from in a plate of ``plate_shape`` (H, W[, C]); float32, zeros outside.

    Along the crop's border the result fades to zero as ``plate_coverage`` does: it is premultiplied by it.
    """
    pixels, flat = _as_float_image(crop, "crop")
    if pixels.shape[0] != pixels.shape[1]:
        raise AlignmentError(f"crop of shape {crop.shape} is not square; pass a crop made by warp_to_aligned")
    size = check_size(pixels.shape[0])
    height, width = check_image_shape(plate_shape, "plate shape")
    flags = _interpolation_flag(interpolation) | cv2.WARP_INVERSE_MAP
    plate_to_crop = crop_matrix(to_aligned, size)
    x0, y0, x1, y1 = plate_region(to_aligned, size, plate_shape)
    plate = np.zeros((height, width, pixels.shape[2]), np.float32)
    if x1 > x0 and y1 > y0:
        pixels = _blur(pixels, antialias_sigma(matrix_scale(plate_to_crop)), cv2.BORDER_REFLECT_101)
        region_to_crop = plate_to_crop @ to_homogeneous(translation(x0, y0))
        plate[y0:y1, x0:x1] = _warp(pixels, region_to_crop, (x1 - x0, y1 - y0), flags, cv2.BORDER_CONSTANT)
    return plate[:, :, 0] if flat else plate


def plate_region(to_aligned: np.ndarray, size: int, plate_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the plate pixels ``warp_to_plate`` may make non-zero for a crop of ``size``, clipped to
    the plate (empty when the crop lies off it). Work on a face put back can stay inside this box."""
    height, width = check_image_shape(plate_shape, "plate shape")
    plate_to_crop = crop_matrix(to_aligned, check_size(size))
    margin = math.ceil((_SUPPORT_PX + 1) / matrix_scale(plate_to_crop)) + 1
    corners = transform_points(_square_corners(size), invert_affine(plate_to_crop))
    return _region(corners, margin, (height, width))


def plate_coverage(to_aligned: np.ndarray, size: int, plate_shape: tuple[int, ...]) -> np.ndarray:
    """H x W float32 in [0, 1]: how much of each plate pixel an aligned crop of ``size`` covers (0.5 on its edge)."""
    size = check_size(size)
    ones = np.ones((size, size), np.float32)
    return np.clip(warp_to_plate(ones, to_aligned, plate_shape, interpolation="linear"), 0.0, 1.0)


def _warp(pixels: np.ndarray, matrix: np.ndarray, size_wh: tuple[int, int], flags: int, border: int) -> np.ndarray:
    """OpenCV warp of (H, W, C) ``pixels`` by ``matrix`` (output coordinates to input, +0.5 centres)."""
    groups = []
    for start in range(0, pixels.shape[2], _OPENCV_MAX_CHANNELS):
        group = np.ascontiguousarray(pixels[:, :, start:start + _OPENCV_MAX_CHANNELS])
        warped = cv2.warpAffine(group, opencv_matrix(matrix), size_wh, flags=flags, borderMode=border, borderValue=0)
        groups.append(warped.reshape(size_wh[1], size_wh[0], group.shape[2]))
    return np.concatenate(groups, axis=2) if len(groups) > 1 else groups[0]


def _blur(pixels: np.ndarray, sigma: float, border: int) -> np.ndarray:
    if sigma <= 0.0:
        return pixels
    blurred = cv2.GaussianBlur(pixels, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=border)
    return blurred.reshape(pixels.shape)


def antialias_sigma(shrink_factor: float) -> float:
    """Gaussian sigma (input pixels) before shrinking by ``shrink_factor``; 0 when not shrinking."""
    return max(0.0, (shrink_factor - 1.0) / 2.0)


def matrix_scale(matrix: np.ndarray) -> float:
    """How much an affine enlarges lengths: the square root of its linear part's |determinant|."""
    return math.sqrt(abs(np.linalg.det(matrix[:, :2])))


def _square_corners(size: int) -> np.ndarray:
    return np.array([[0.0, 0.0], [size, 0.0], [size, size], [0.0, size]])


def _region(points: np.ndarray, margin: int, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Whole-pixel box around ``points`` grown by ``margin``, clipped to an image of ``shape`` (may be empty)."""
    height, width = shape
    x0 = int(np.clip(math.floor(points[:, 0].min()) - margin, 0, width))
    y0 = int(np.clip(math.floor(points[:, 1].min()) - margin, 0, height))
    x1 = int(np.clip(math.ceil(points[:, 0].max()) + margin, 0, width))
    y1 = int(np.clip(math.ceil(points[:, 1].max()) + margin, 0, height))
    return x0, y0, x1, y1


def _as_float_image(image: np.ndarray, what: str) -> tuple[np.ndarray, bool]:
    """(H, W, C) float32 view of ``image`` and whether it came as (H, W)."""
    array = np.asarray(image)
    if array.ndim not in (2, 3) or min(array.shape) == 0 or not np.issubdtype(array.dtype, np.number):
        raise AlignmentError(f"{what} of shape {array.shape} and type {array.dtype}: expected pixels as "
                             "height x width [x channels] numbers")
    flat = array.ndim == 2
    pixels = to_float32(array[:, :, np.newaxis] if flat else array)
    return pixels, flat


def _interpolation_flag(interpolation: str) -> int:
    try:
        return INTERPOLATIONS[interpolation]
    except (KeyError, TypeError):
        raise AlignmentError(
            f"unknown interpolation {interpolation!r}; use one of {', '.join(INTERPOLATIONS)}"
        ) from None
