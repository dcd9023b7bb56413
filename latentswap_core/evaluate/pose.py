"""Head pose and expression from the 478 mesh landmarks of one face.

Pose: ``head_pose``, ``head_rotation`` and ``rotation_angles`` live in ``align/pose.py`` (facesets and training
use them too) and are re-exported here; conventions there. ``rotation_difference`` compares two head rotations.

Expression: the result's landmarks are fitted onto the plate's by a similarity (on the stable landmarks, so
pose and scale are removed), then the mean distance over the mouth, eye and brow landmarks is divided by the
plate face's inter-ocular distance.
"""

from __future__ import annotations

import math

import numpy as np

from latentswap_core.align import STABLE_INDICES, transform_points, umeyama
from latentswap_core.align.pose import CANONICAL_MODEL, MESH_POINTS, head_pose, head_rotation, rotation_angles
from latentswap_core.align.template import (
    BROW_TOP_INDICES,
    EYE_CONTOURS,
    LEFT_EYE_CORNERS,
    OUTER_LIP_INDICES,
    RIGHT_EYE_CORNERS,
)

__all__ = [
    "CANONICAL_MODEL",
    "EXPRESSION_INDICES",
    "MESH_POINTS",
    "expression_difference",
    "head_pose",
    "head_rotation",
    "inter_ocular",
    "landmark_jitter",
    "rotation_angles",
    "rotation_difference",
]

EXPRESSION_INDICES = tuple(sorted(set(OUTER_LIP_INDICES) | set(EYE_CONTOURS[0]) | set(EYE_CONTOURS[1])
                                  | set(BROW_TOP_INDICES)))


def rotation_difference(a: np.ndarray, b: np.ndarray) -> float:
    """The angle in degrees of the rotation taking head rotation ``a`` to ``b`` (0 for the same pose)."""
    relative = np.asarray(a, np.float64).T @ np.asarray(b, np.float64)
    cosine = float(np.clip((np.trace(relative) - 1.0) / 2.0, -1.0, 1.0))
    return math.degrees(math.acos(cosine))


def inter_ocular(landmarks: np.ndarray) -> float:
    """Distance in pixels between the centres of the two eyes (the mean of each eye's corners)."""
    left = landmarks[list(LEFT_EYE_CORNERS)].mean(axis=0)
    right = landmarks[list(RIGHT_EYE_CORNERS)].mean(axis=0)
    return float(np.linalg.norm(right - left))


def expression_difference(plate: np.ndarray, result: np.ndarray) -> float:
    """Mean distance of the mouth, eye and brow landmarks after a similarity fit of ``result`` onto ``plate`` (on
    the stable landmarks), in units of the plate's inter-ocular distance: 0 for the same expression."""
    plate = np.asarray(plate, np.float64)
    result = np.asarray(result, np.float64)
    stable = list(STABLE_INDICES)
    fitted = transform_points(result, umeyama(result[stable], plate[stable]))
    indices = list(EXPRESSION_INDICES)
    distance = np.linalg.norm(fitted[indices] - plate[indices], axis=1).mean()
    return float(distance / max(inter_ocular(plate), 1e-6))


def landmark_jitter(landmarks: list[np.ndarray | None]) -> list[float | None]:
    """Per frame, the mean length of the landmarks' second difference over neighbouring frames, in units of the
    inter-ocular distance; None at the ends and where a neighbour has no face. Motion at constant speed gives 0."""
    jitter: list[float | None] = [None] * len(landmarks)
    for t in range(1, len(landmarks) - 1):
        before, now, after = landmarks[t - 1], landmarks[t], landmarks[t + 1]
        if before is None or now is None or after is None:
            continue
        second = np.asarray(after, np.float64) - 2.0 * np.asarray(now, np.float64) + np.asarray(before, np.float64)
        jitter[t] = float(np.linalg.norm(second, axis=1).mean() / max(inter_ocular(now), 1e-6))
    return jitter
