"""dlib's ``input_rgb_image_pyramid<pyramid_down<6>>``, the input of its CNN face detector (``mmod.py``), bit for bit.

An image, less a mean colour and divided by 256, is the first level of a pyramid whose levels are each 5/6 of the
one before (rounded down), laid out side by side in one zero-padded tensor (``tiled_pyramid``, from the layout of
dlib's ``compute_tiled_image_pyramid_details``: ``tiled_pyramid_layout``); each level is resampled from the one
before by dlib's bilinear ``resize_image`` on float images, float32 rounding and all (``resample_level``). A box
found in the tensor maps back to the image through its level (``tensor_box_to_image``).

Conventions: images are uint8 RGB, H x W x 3; tensors are (3, rows, cols) float32; boxes are dlib rectangles,
inclusive (``right = left + width - 1``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

# pyramid_down<6>: each level is 5/6 of the one before; a point maps up a level by x * 6/5 + 0.3.
PYRAMID_N = 6
# compute_tiled_image_pyramid_details stops before a level under this many rows.
MIN_LEVEL_HEIGHT = 5


@dataclass(frozen=True)
class Level:
    """One pyramid level's place in the tiled tensor: top-left corner and size, pixels."""

    left: int
    top: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.left + self.width - 1

    @property
    def bottom(self) -> int:
        return self.top + self.height - 1


def tiled_pyramid_layout(rows: int, cols: int, padding: int, outer_padding: int
                         ) -> tuple[tuple[Level, ...], int, int]:
    """dlib's ``compute_tiled_image_pyramid_details`` for ``pyramid_down<6>``: where each level of an image of
    ``rows`` x ``cols`` pixels goes in the tiled tensor, and the tensor's rows and columns. The levels run
    down a first column (the image at top) until the rest fit beside them, then up a second column along the
    right edge, bottom first; a level that would overlap the image is dropped with those after it."""
    if rows * cols == 0:
        return (), 0, 0
    sizes = [(cols, rows)]
    rate = (PYRAMID_N - 1.0) / PYRAMID_N
    while True:
        rows, cols = math.floor(rate * rows), math.floor(rate * cols)
        if rows * cols == 0 or rows < MIN_LEVEL_HEIGHT:
            break
        sizes.append((cols, rows))
    first_width, first_height = sizes[0]
    total_height = sum(height + padding for _, height in sizes) - 2 * padding
    height = 0
    previous_width = 0
    for width, level_height in sizes:
        if width <= first_width - previous_width - padding and (
                (height - first_height) * 2 >= total_height - first_height):
            break
        height += level_height + padding
        previous_width = width
    height -= padding
    tensor_rows, tensor_cols = height + 2 * outer_padding, first_width + 2 * outer_padding

    levels: list[Level] = []
    y = outer_padding
    while y < height + outer_padding and len(levels) < len(sizes):
        width, level_height = sizes[len(levels)]
        levels.append(Level(outer_padding, y, width, level_height))
        y += level_height + padding
    y -= padding
    image = levels[0]
    while len(levels) < len(sizes):
        width, level_height = sizes[len(levels)]
        right, bottom = outer_padding + first_width - 1, y - 1  # its bottom-right corner
        level = Level(right - width + 1, bottom - level_height + 1, width, level_height)
        if (max(level.left, image.left) <= min(level.right, image.right)
                and max(level.top, image.top) <= min(level.bottom, image.bottom)):
            break  # it would overlap the image
        levels.append(level)
        y -= level_height + padding
    return tuple(levels), tensor_rows, tensor_cols


@dataclass(frozen=True)
class ResamplePlan:
    """dlib's bilinear ``resize_image`` of a float image (H, W) to (h, w), precomputed for flat gathers.

    dlib walks the output's rows with y += (H-1)/(h-1) in double; along each row it takes four columns at a time
    (SSE: positions accumulate in float32, truncate to the left neighbour, the four corner weights are float32
    products of the row and column fractions, the blend float32 sums), then finishes the row's last columns in
    double (``x += (W-1)/(w-1)``; float32 column fractions and sums, blended by the double row fraction).
    ``block_columns`` of the w columns are the four-at-a-time ones: ``block_corners`` index them (row-major,
    h * block_columns) in the flattened source, top-left, top-right, bottom-left, bottom-right, and
    ``block_weights`` weigh those corners. The other columns: ``tail_corners``, ``tail_column_fraction``
    (float32) and ``tail_row_fraction`` (double), flattened the same way."""

    rows: int
    cols: int
    block_columns: int
    block_corners: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    block_weights: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    tail_corners: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    tail_column_fraction: np.ndarray
    tail_row_fraction: np.ndarray


def resample_plan(source_rows: int, source_cols: int, rows: int, cols: int) -> ResamplePlan:
    """The ``ResamplePlan`` from (``source_rows``, ``source_cols``) to (``rows``, ``cols``) pixels."""
    y_scale = (source_rows - 1) / max(rows - 1, 1)
    x_scale = (source_cols - 1) / max(cols - 1, 1)
    y = np.add.accumulate(np.concatenate(([-y_scale], np.full(rows, y_scale))))[1:]  # double, as dlib adds
    top = np.floor(y).astype(np.int64)
    bottom = np.minimum(top + 1, source_rows - 1)
    row_fraction = y - top

    # Four lanes, each stepping 4 * x_scale in float32; lane j of step k is column 4k + j. dlib stops before
    # the first step whose last lane's right neighbour is outside the source.
    steps = cols // 4 + 2
    start = -4 * x_scale
    lanes = np.stack([np.add.accumulate(np.concatenate((
        [np.float32(start + j * x_scale)], np.full(steps, np.float32(4 * x_scale), np.float32))))[1:]
        for j in range(4)], axis=1)  # (steps, 4) float32
    lane_left = lanes.astype(np.int32)  # truncation, as _mm_cvttps_epi32
    breaks = np.nonzero(lane_left[:, 3] + 1 >= source_cols)[0]
    block_columns = min(4 * (int(breaks[0]) if breaks.size else steps), cols)
    block_x = lanes.ravel()[:block_columns]
    block_left = lane_left.ravel()[:block_columns].astype(np.int64)
    lr = (block_x - block_left.astype(np.float32)).astype(np.float32)
    inv_lr = np.float32(1) - lr
    tb = row_fraction.astype(np.float32)[:, None]
    inv_tb = (1 - row_fraction).astype(np.float32)[:, None]
    block_weights = ((inv_tb * inv_lr).ravel(), (inv_tb * lr).ravel(), (tb * inv_lr).ravel(), (tb * lr).ravel())

    tail = cols - block_columns
    x = np.add.accumulate(np.concatenate(([-x_scale + block_columns * x_scale], np.full(tail, x_scale))))[1:]
    tail_left = np.floor(x).astype(np.int64)

    def corners(left: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        right = np.minimum(left + 1, source_cols - 1)
        upper, lower = (top * source_cols)[:, None], (bottom * source_cols)[:, None]
        return ((upper + left).ravel().astype(np.int32), (upper + right).ravel().astype(np.int32),
                (lower + left).ravel().astype(np.int32), (lower + right).ravel().astype(np.int32))

    tail_shape = (rows, tail)
    return ResamplePlan(rows, cols, block_columns, corners(block_left), block_weights, corners(tail_left),
                        np.broadcast_to((x - tail_left).astype(np.float32), tail_shape).ravel(),
                        np.broadcast_to(row_fraction[:, None], tail_shape).ravel())


def resample_level(source: np.ndarray, plan: ResamplePlan) -> np.ndarray:
    """``source`` (channels, H, W) float32, contiguous, resized as dlib's ``resize_image`` does, bit for bit."""
    flat = source.reshape(source.shape[0], -1)
    out = np.empty((source.shape[0], plan.rows, plan.cols), np.float32)
    top_left, top_right, bottom_left, bottom_right = plan.block_corners
    w_tl, w_tr, w_bl, w_br = plan.block_weights
    blend = np.take(flat, top_left, axis=1)
    blend *= w_tl
    term = np.take(flat, top_right, axis=1)
    term *= w_tr
    blend += term
    for corner, weight in ((bottom_left, w_bl), (bottom_right, w_br)):
        np.take(flat, corner, axis=1, out=term)
        term *= weight
        blend += term
    out[:, :, :plan.block_columns] = blend.reshape(source.shape[0], plan.rows, plan.block_columns)
    if plan.block_columns < plan.cols:
        tl, tr, bl, br = (np.take(flat, corner, axis=1) for corner in plan.tail_corners)
        lr = plan.tail_column_fraction
        inv_lr = np.float32(1) - lr
        upper = (inv_lr * tl + lr * tr).astype(np.float64)
        lower = (inv_lr * bl + lr * br).astype(np.float64)
        tb = plan.tail_row_fraction
        out[:, :, plan.block_columns:] = ((1 - tb) * upper + tb * lower).reshape(source.shape[0], plan.rows, -1)
    return out


@dataclass(frozen=True)
class PyramidPlan:
    """Everything ``tiled_pyramid`` needs for one image size: the levels' places, the tensor's rows and columns,
    and how each level is resampled from the one before (about 16 MB for 640 x 360)."""

    levels: tuple[Level, ...]
    rows: int
    cols: int
    resamples: tuple[ResamplePlan, ...]


def pyramid_plan(rows: int, cols: int, padding: int, outer_padding: int) -> PyramidPlan:
    """The ``PyramidPlan`` for an image of ``rows`` x ``cols`` pixels."""
    levels, tensor_rows, tensor_cols = tiled_pyramid_layout(rows, cols, padding, outer_padding)
    resamples = tuple(resample_plan(a.height, a.width, b.height, b.width) for a, b in itertools.pairwise(levels))
    return PyramidPlan(levels, tensor_rows, tensor_cols, resamples)


def tiled_pyramid(image: np.ndarray, mean_rgb: tuple[float, float, float], plan: PyramidPlan) -> np.ndarray:
    """dlib's ``input_rgb_image_pyramid::to_tensor`` for a uint8 RGB image (H, W, 3): (3, rows, cols) float32,
    the image's levels, each pixel (value - mean) / 256, in zeros."""
    tensor = np.zeros((3, plan.rows, plan.cols), np.float32)
    if not plan.levels:
        return tensor
    level = (image.transpose(2, 0, 1).astype(np.float32) - np.array(mean_rgb, np.float32)[:, None, None])
    level /= np.float32(256)
    first = plan.levels[0]
    tensor[:, first.top:first.bottom + 1, first.left:first.right + 1] = level
    for place, resample in zip(plan.levels[1:], plan.resamples, strict=True):
        level = resample_level(level, resample)
        tensor[:, place.top:place.bottom + 1, place.left:place.right + 1] = level
    return tensor


def tensor_box_to_image(box: tuple[float, float, float, float], levels: tuple[Level, ...]
                        ) -> tuple[int, int, int, int]:
    """dlib's ``tiled_pyramid_to_image`` then rounding to a rectangle: a box (left, top, right, bottom) in the
    tiled tensor, mapped through the level nearest its centre (rounded to a pixel) to the image, each corner
    up one level at a time as x * 6/5 + 0.3, rounded half up."""
    left, top, right, bottom = box
    cx, cy = math.floor((left + right) / 2 + 0.5), math.floor((top + bottom) / 2 + 0.5)
    best, best_distance = 0, math.inf
    for index, level in enumerate(levels):
        nx = min(max(cx, level.left), level.right)
        ny = min(max(cy, level.top), level.bottom)
        if nx == cx and ny == cy:
            best = index
            break
        distance = math.hypot(nx - cx, ny - cy)
        if distance < best_distance:
            best, best_distance = index, distance
    origin = levels[best]
    corners = [left - origin.left, top - origin.top, right - origin.left, bottom - origin.top]
    ratio = PYRAMID_N / (PYRAMID_N - 1.0)
    for _ in range(best):
        corners = [value * ratio + 0.3 for value in corners]
    rounded = [math.floor(value + 0.5) for value in corners]
    return rounded[0], rounded[1], rounded[2], rounded[3]


__all__ = ["Level", "PyramidPlan", "ResamplePlan", "pyramid_plan", "resample_level", "resample_plan",
           "tensor_box_to_image", "tiled_pyramid", "tiled_pyramid_layout"]
