"""2D affine geometry shared by every stage.

Matrices are (2, 3) float64 affines acting on column vectors ``(x, y, 1)``, in continuous pixel
coordinates whose pixel centres sit at +0.5 (docs/alignment.md). No checks here: callers that take
matrices from users validate them first.
"""

from __future__ import annotations

import numpy as np


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) ``points`` mapped by ``matrix``."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    linear_inverse = np.linalg.inv(matrix[:, :2])
    return np.hstack([linear_inverse, -linear_inverse @ matrix[:, 2:]])


def to_homogeneous(matrix: np.ndarray) -> np.ndarray:
    """(3, 3) form of a (2, 3) affine, for composing with ``@``."""
    return np.vstack([matrix, [0.0, 0.0, 1.0]])


def translation(x: float, y: float) -> np.ndarray:
    return np.array([[1.0, 0.0, x], [0.0, 1.0, y]])


def opencv_matrix(matrix: np.ndarray) -> np.ndarray:
    """``matrix`` (+0.5 pixel centres) for OpenCV (integer pixel centres): T(-0.5) @ M @ T(+0.5)."""
    to_integer_centres, to_half_centres = to_homogeneous(translation(-0.5, -0.5)), to_homogeneous(translation(0.5, 0.5))
    return (to_integer_centres @ to_homogeneous(matrix) @ to_half_centres)[:2]


def fit_similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation; no reflection) taking ``source`` to
    ``target``; ValueError when ``source`` collapses to one point.

    Umeyama, "Least-squares estimation of transformation parameters between two point patterns", PAMI 1991.
    """
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_centred, target_centred = source - source_mean, target - target_mean
    source_variance = (source_centred**2).sum() / len(source)
    if source_variance < 1e-12:
        raise ValueError("the points collapse to a single point")
    covariance = target_centred.T @ source_centred / len(source)
    u, singular_values, vt = np.linalg.svd(covariance)
    signs = np.array([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ np.diag(signs) @ vt
    scale = (singular_values * signs).sum() / source_variance
    shift = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, shift[:, np.newaxis]])
