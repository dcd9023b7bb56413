"""Similarity transforms between plate pixels, normalised aligned coordinates and aligned-crop pixels.

Conventions (docs/alignment.md): plate pixels have the origin at the top-left corner of the image,
x right, y down, and pixel (row i, column j) covers [j, j+1) x [i, i+1), its centre at (j+0.5, i+0.5).
Normalised aligned coordinates put the face type's square on [0, 1]^2; crop pixels are those times the
crop size, with the same +0.5 centres. Every matrix here is a (2, 3) float64 affine acting on
column vectors ``(x, y, 1)``.
"""

from __future__ import annotations

import numbers

import numpy as np

from latentswap_core import geometry
from latentswap_core.align.template import (
    LANDMARK_COUNT,
    MESH_LANDMARK_COUNT,
    STABLE_INDICES,
    TEMPLATE,
    face_type_spec,
)
from latentswap_core.errors import AlignmentError
from latentswap_core.geometry import to_homogeneous

MIN_CROP_SIZE = 128
MAX_CROP_SIZE = 1024


def check_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """``landmarks`` as (N, 2) float64 (N = 478, or 468 without irises); AlignmentError otherwise."""
    array = np.asarray(landmarks)
    if array.ndim != 2 or array.shape[0] not in (LANDMARK_COUNT, MESH_LANDMARK_COUNT) or array.shape[1] != 2:
        raise AlignmentError(
            f"landmarks of shape {array.shape}: expected mediapipe Face Mesh points as a ({LANDMARK_COUNT}, 2) "
            "array of plate pixels (x, y); pass the tracker's landmarks unchanged"
        )
    if not np.issubdtype(array.dtype, np.number):
        raise AlignmentError(f"landmarks of type {array.dtype}: expected numbers (x, y in plate pixels)")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
        raise AlignmentError(
            f"landmarks {', '.join(map(str, bad[:5]))}{' ...' if bad.size > 5 else ''} are NaN or infinite; "
            "track the frame again or drop it"
        )
    return array


def check_size(size: object) -> int:
    """The aligned crop's side in pixels: a whole number from 128 to 1024."""
    if isinstance(size, bool) or not isinstance(size, numbers.Integral):
        raise AlignmentError(f"crop size {size!r} is not a whole number of pixels; use an int from "
                             f"{MIN_CROP_SIZE} to {MAX_CROP_SIZE}")
    pixels = int(size)
    if not MIN_CROP_SIZE <= pixels <= MAX_CROP_SIZE:
        raise AlignmentError(f"crop size {size} is outside {MIN_CROP_SIZE}-{MAX_CROP_SIZE} px; pick a size in "
                             "that range (e.g. 256 or 512)")
    return pixels


def check_image_shape(shape: tuple[int, ...], what: str = "shape") -> tuple[int, int]:
    """(height, width) from an image shape (H, W[, C])."""
    try:
        height, width = (int(n) for n in tuple(shape)[:2])
    except (TypeError, ValueError):
        raise AlignmentError(f"{what} {shape!r}: expected (height, width)") from None
    if height < 1 or width < 1:
        raise AlignmentError(f"{what} {shape!r}: height and width must be positive")
    return height, width


def check_matrix(matrix: np.ndarray, what: str = "transform") -> np.ndarray:
    """``matrix`` as an invertible (2, 3) float64 affine."""
    array = np.asarray(matrix, dtype=np.float64) if _is_numeric(matrix) else None
    if array is None or array.shape != (2, 3):
        shape = getattr(matrix, "shape", type(matrix).__name__)
        raise AlignmentError(f"{what} of shape {shape}: expected a (2, 3) affine matrix from alignment_transform")
    if not np.isfinite(array).all():
        raise AlignmentError(f"{what} holds NaN or infinite values; recompute it from finite landmarks")
    if abs(np.linalg.det(array[:, :2])) < 1e-12:
        raise AlignmentError(f"{what} is singular (scale 0); recompute it from landmarks that span a face")
    return array


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """The (2, 3) inverse of a (2, 3) affine."""
    return geometry.invert_affine(check_matrix(matrix))


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, 2) ``points`` mapped by the (2, 3) ``matrix``."""
    array = np.asarray(points, dtype=np.float64) if _is_numeric(points) else None
    if array is None or array.ndim != 2 or array.shape[1] != 2:
        shape = getattr(points, "shape", type(points).__name__)
        raise AlignmentError(f"points of shape {shape}: expected an (N, 2) array of x, y")
    return geometry.apply_affine(check_matrix(matrix), array)


def umeyama(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation; no reflection) taking ``source`` to ``target``.

    See ``geometry.fit_similarity``; AlignmentError when the landmarks collapse to a point.
    """
    try:
        return geometry.fit_similarity(source, target)
    except ValueError:
        raise AlignmentError("landmarks collapse to a single point; track the frame again or drop it") from None


def alignment_transform(landmarks: np.ndarray, face_type: str = "whole_face") -> np.ndarray:
    """(2, 3) matrix from plate pixels to normalised aligned coordinates ([0, 1]^2 is the face type's square).

    The similarity best fitting the stable landmarks (template.STABLE_INDICES) to the canonical face.
    """
    landmarks = check_landmarks(landmarks)
    normalise = face_type_spec(face_type).normalise()
    stable = list(STABLE_INDICES)
    to_template = umeyama(landmarks[stable], TEMPLATE[stable])
    return (normalise @ to_homogeneous(to_template))[:2]


def from_data_window(to_aligned: np.ndarray, data_offset: tuple[int, int]) -> np.ndarray:
    """``to_aligned`` (from display-window pixels, where landmarks live) for pixels held from the data window's
    corner, ``data_offset`` = (data x - display x, data y - display y) as ``Image.data_offset`` gives it."""
    matrix = check_matrix(to_aligned, "to_aligned").copy()
    matrix[:, 2] += matrix[:, :2] @ np.asarray(data_offset, dtype=np.float64)
    return matrix


def crop_matrix(to_aligned: np.ndarray, size: int) -> np.ndarray:
    """(2, 3) matrix from plate pixels to the pixels of a ``size`` x ``size`` aligned crop."""
    size = check_size(size)
    return check_matrix(to_aligned, "to_aligned") * float(size)


def _is_numeric(value: object) -> bool:
    try:
        return np.issubdtype(np.asarray(value).dtype, np.number)
    except (TypeError, ValueError):
        return False
