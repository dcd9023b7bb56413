"""The align warps of ``warp.py`` as torch ops, for pixels already on the swap's device (``--device cuda``).

The same pixels as ``warp.warp_to_aligned`` and ``warp.warp_to_plate`` to float rounding (the tests hold them to
1e-4 on [0, 1] images), by the same rules: the same regions, the same anti-alias Gaussian (OpenCV's kernel, its
border modes), and OpenCV 5's ``warpAffine``: source coordinates computed in floating point (OpenCV 4 put them on
a 1/32 pixel grid; 5 does not), Keys' cubic with a = -0.75 over the 4 x 4 neighbours, bilinear over 2 x 2, and
outside the image either the edge pixel repeated (``replicate``) or zero (``constant``), tap by tap.

Images are ``C x H x W`` float32 tensors; matrices the (2, 3) float64 affines of ``transform.py`` (+0.5 pixel
centres). Coordinates are computed in float64 on the device, so a 4K plate keeps its sub-pixel positions.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from latentswap_core.align.transform import check_image_shape, crop_matrix, invert_affine
from latentswap_core.align.warp import aligned_source_region, antialias_sigma, matrix_scale, plate_region
from latentswap_core.errors import AlignmentError
from latentswap_core.geometry import opencv_matrix, to_homogeneous, translation

BORDERS = ("constant", "replicate", "reflect101")  # OpenCV's BORDER_CONSTANT (0), _REPLICATE, _REFLECT_101
_KEYS_A = -0.75  # OpenCV's cubic


def warp_to_aligned(region: torch.Tensor, region_to_aligned: np.ndarray, size: int) -> torch.Tensor:
    """The ``size`` x ``size`` aligned crop (C x S x S) of ``region`` (C x H x W, the plate or a part of it that
    ``warp.aligned_source_region`` covers, with the matrix from that part's pixels); edge pixels repeated outside."""
    plate_to_crop = crop_matrix(region_to_aligned, size)
    sigma = antialias_sigma(1.0 / matrix_scale(plate_to_crop))
    x0, y0, x1, y1 = aligned_source_region(region_to_aligned, size, tuple(region.shape[1:]))
    blurred = gaussian_blur(region[:, y0:y1, x0:x1], sigma, "replicate")
    region_to_crop = plate_to_crop @ to_homogeneous(translation(x0, y0))
    return warp_affine(blurred, invert_affine(region_to_crop), (size, size), "cubic", "replicate")


def warp_to_plate(crop: torch.Tensor, to_aligned: np.ndarray,
                  plate_shape: tuple[int, ...]) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """``crop`` (C x S x S) put back into a plate of ``plate_shape`` (H, W): (the warped ``warp.plate_region``,
    C x (y1 - y0) x (x1 - x0), and that region (x0, y0, x1, y1)). The plate outside the region would be zeros."""
    height, width = check_image_shape(plate_shape, "plate shape")
    size = crop.shape[-1]
    plate_to_crop = crop_matrix(to_aligned, size)
    x0, y0, x1, y1 = plate_region(to_aligned, size, (height, width))
    if x1 <= x0 or y1 <= y0:
        return crop.new_zeros((crop.shape[0], max(y1 - y0, 0), max(x1 - x0, 0))), (x0, y0, x1, y1)
    blurred = gaussian_blur(crop, antialias_sigma(matrix_scale(plate_to_crop)), "reflect101")
    region_to_crop = plate_to_crop @ to_homogeneous(translation(x0, y0))
    return warp_affine(blurred, region_to_crop, (y1 - y0, x1 - x0), "cubic", "constant"), (x0, y0, x1, y1)


def warp_affine(image: torch.Tensor, output_to_input: np.ndarray, output_hw: tuple[int, int],
                interpolation: str, border: str) -> torch.Tensor:
    """``image`` (C x H x W) resampled at ``output_to_input`` of every output pixel: OpenCV's ``warpAffine`` with
    ``WARP_INVERSE_MAP``; ``interpolation`` "linear" or "cubic", ``border`` "constant" or "replicate"."""
    taps = {"linear": (_linear_weights, 0), "cubic": (_cubic_weights, -1)}
    if interpolation not in taps:
        raise AlignmentError(f"unknown interpolation {interpolation!r} on the device; use linear or cubic")
    weights_of, first = taps[interpolation]
    matrix = torch.as_tensor(opencv_matrix(np.asarray(output_to_input, np.float64)), dtype=torch.float64,
                             device=image.device)
    height, width = output_hw
    rows = torch.arange(height, dtype=torch.float64, device=image.device)[:, None]
    cols = torch.arange(width, dtype=torch.float64, device=image.device)[None, :]
    x = matrix[0, 0] * cols + matrix[0, 1] * rows + matrix[0, 2]
    y = matrix[1, 0] * cols + matrix[1, 1] * rows + matrix[1, 2]
    x_floor, y_floor = torch.floor(x), torch.floor(y)
    weights_x = weights_of((x - x_floor).float())
    weights_y = weights_of((y - y_floor).float())
    x_base, y_base = x_floor.long() + first, y_floor.long() + first
    channels, in_height, in_width = image.shape
    flat = image.reshape(channels, -1)
    columns = [_border_index(x_base + j, in_width, border) for j in range(len(weights_x))]
    column_weights = [weight if inside is None else weight * inside
                      for weight, (_, inside) in zip(weights_x, columns, strict=True)]
    result: torch.Tensor | None = None
    for i, weight_y in enumerate(weights_y):
        source_rows, rows_inside = _border_index(y_base + i, in_height, border)
        row_starts = source_rows * in_width
        line: torch.Tensor | None = None
        for (source_cols, _), weight_x in zip(columns, column_weights, strict=True):
            taken = flat.index_select(1, (row_starts + source_cols).reshape(-1)).reshape(channels, height, width)
            line = taken * weight_x if line is None else line.addcmul_(taken, weight_x)
        assert line is not None
        row_weight = weight_y if rows_inside is None else weight_y * rows_inside
        result = line * row_weight if result is None else result.addcmul_(line, row_weight)
    assert result is not None
    return result


def gaussian_blur(image: torch.Tensor, sigma: float, border: str) -> torch.Tensor:
    """OpenCV's ``GaussianBlur(image, (0, 0), sigma)`` of a float image (C x H x W): its kernel (``getGaussianKernel``
    of ``round(8 sigma + 1) | 1`` taps) along rows, then columns, with ``border`` outside. ``sigma`` <= 0: ``image``."""
    if sigma <= 0.0:
        return image
    taps = int(round(sigma * 8.0 + 1.0)) | 1
    kernel = torch.as_tensor(cv2.getGaussianKernel(taps, sigma, cv2.CV_32F).ravel(), device=image.device)
    return filter_separable(image, kernel, border)


def filter_separable(image: torch.Tensor, kernel: torch.Tensor, border: str) -> torch.Tensor:
    """``image`` (C x H x W) correlated with the odd-length 1-D ``kernel`` along rows and along columns.

    Summed tap by tap in float32, not by a convolution: cuDNN would run that in TF32 on a GPU (10-bit mantissa)."""
    radius = kernel.numel() // 2
    weights = kernel.to(image.dtype)
    result = image
    for axis in (2, 1):
        length = result.shape[axis]
        positions = torch.arange(-radius, length + radius, device=image.device)
        index, inside = _border_index(positions, length, border)
        padded = result.index_select(axis, index)
        if inside is not None:
            padded = padded * (inside[None, None, :] if axis == 2 else inside[None, :, None])
        result = sum((weights[tap] * padded.narrow(axis, tap, length) for tap in range(kernel.numel())),
                     torch.zeros_like(result))
    return result


def _border_index(positions: torch.Tensor, length: int,
                  border: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Indices into an axis of ``length`` for ``positions`` that may lie outside it, and for "constant" the float
    mask of the positions inside (the others read index 0 and are to be multiplied by 0)."""
    if border == "replicate":
        return positions.clamp(0, length - 1), None
    if border == "reflect101":
        if length == 1:
            return torch.zeros_like(positions), None
        period = 2 * (length - 1)
        folded = torch.remainder(positions, period)
        return torch.where(folded >= length, period - folded, folded), None
    if border == "constant":
        inside = (positions >= 0) & (positions < length)
        return torch.where(inside, positions, 0), inside.float()
    raise AlignmentError(f"unknown border {border!r}; use one of {', '.join(BORDERS)}")


def _linear_weights(fraction: torch.Tensor) -> list[torch.Tensor]:
    return [1.0 - fraction, fraction]


def _cubic_weights(fraction: torch.Tensor) -> list[torch.Tensor]:
    """OpenCV's ``interpolateCubic``: the weights of the pixels at -1, 0, 1, 2 from the floor."""
    a, x = _KEYS_A, fraction
    w0 = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a
    w1 = ((a + 2) * x - (a + 3)) * x * x + 1
    w2 = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1
    return [w0, w1, w2, 1.0 - w0 - w1 - w2]

