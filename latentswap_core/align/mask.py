"""Face masks from the mesh: the convex hull of the face oval, shaped per face type, feathered.

The outline is built from the landmarks alone with distances and directions measured on the face, so
it moves, turns and scales with it: a mask drawn from aligned-crop landmarks and one drawn from plate
landmarks describe the same region. It is drawn from the signed distance to the outline, so its edge is
anti-aliased at any resolution and the feather is a smooth ramp, 0.5 on the outline itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from latentswap_core.align.template import (
    BROW_TOP_INDICES,
    CHIN_INDEX,
    EYE_CONTOURS,
    FACE_OVAL_INDICES,
    FOREHEAD_TOP_INDEX,
    LEFT_EYE_CORNERS,
    OUTER_LIP_INDICES,
    RIGHT_EYE_CORNERS,
    face_type_spec,
)
from latentswap_core.align.transform import (
    check_image_shape,
    check_landmarks,
    check_size,
    crop_matrix,
    transform_points,
)
from latentswap_core.errors import AlignmentError


@dataclass(frozen=True)
class MaskShape:
    """How a face type's outline departs from the face oval; lengths are fractions of the eye-to-chin distance.

    ``brow_margin``: when set, the oval is cut this far above the top of the brows (no forehead).
    ``forehead_raise``: how far the top of the oval (landmark 10) is pushed up, away from the eye line;
    oval points in between move in proportion to their height above the eye line.
    ``widen``: extra width, as a fraction of each point's distance from the face's midline, given to the
    oval from mouth level up (for hair and ears).
    """

    brow_margin: float | None = None
    forehead_raise: float = 0.0
    widen: float = 0.0


MASK_SHAPES = {
    "face": MaskShape(brow_margin=0.02),
    "whole_face": MaskShape(forehead_raise=0.12),
    "head": MaskShape(forehead_raise=0.6, widen=0.2),
}


def mask_outline(landmarks: np.ndarray, face_type: str = "whole_face") -> np.ndarray:
    """(K, 2) convex polygon, in the landmarks' own coordinates, that the mask of ``face_type`` fills."""
    landmarks = check_landmarks(landmarks)
    face_type_spec(face_type)
    shape = MASK_SHAPES[face_type]
    left_eye = landmarks[list(LEFT_EYE_CORNERS)].mean(axis=0)
    right_eye = landmarks[list(RIGHT_EYE_CORNERS)].mean(axis=0)
    eye_centre = (left_eye + right_eye) / 2.0
    across = right_eye - left_eye
    eye_to_chin = float(np.linalg.norm(landmarks[CHIN_INDEX] - eye_centre))
    if np.linalg.norm(across) < 1e-9 or eye_to_chin < 1e-9:
        raise AlignmentError("landmarks put both eyes (or the eyes and chin) on one point; track the frame again")
    across /= np.linalg.norm(across)
    up = np.array([across[1], -across[0]])
    if (landmarks[CHIN_INDEX] - eye_centre) @ up > 0.0:
        up = -up  # a mirrored face: keep "up" pointing away from the chin

    oval = landmarks[list(FACE_OVAL_INDICES)]
    height = (oval - eye_centre) @ up
    points = [oval]
    if shape.brow_margin is not None:
        brows = landmarks[list(BROW_TOP_INDICES)]
        cap = ((brows - eye_centre) @ up).max() + shape.brow_margin * eye_to_chin
        oval = oval - np.maximum(height - cap, 0.0)[:, np.newaxis] * up
        points = [oval, brows]
    if shape.forehead_raise:
        top = max((landmarks[FOREHEAD_TOP_INDEX] - eye_centre) @ up, 1e-6 * eye_to_chin)  # above the eyes
        lift = shape.forehead_raise * eye_to_chin * np.clip(height / top, 0.0, 1.0)
        points[0] = points[0] + lift[:, np.newaxis] * up
    if shape.widen:
        # Full width from the eye line up, none from half the way down to the chin (about mouth level).
        weight = np.clip(height / (0.5 * eye_to_chin) + 1.0, 0.0, 1.0)
        sideways = (oval - eye_centre) @ across
        points[0] = points[0] + (shape.widen * weight * sideways)[:, np.newaxis] * across
    outline = np.concatenate(points)
    hull = cv2.convexHull(outline.astype(np.float32), returnPoints=False)
    return outline[hull[:, 0]]


def face_mask(
    landmarks: np.ndarray, shape: tuple[int, ...], face_type: str = "whole_face", feather_px: float = 0.0
) -> np.ndarray:
    """H x W float32 in [0, 1]: the face of ``face_type`` in the space of ``landmarks`` (plate or crop pixels).

    ``feather_px`` is the width of the soft edge, centred on the outline; 0 gives an anti-aliased hard edge.
    """
    height, width = check_image_shape(shape, "mask shape")
    feather_px = _check_feather(feather_px, "feather_px")
    return _fill_convex(mask_outline(landmarks, face_type), (height, width), max(feather_px, 1.0))


# How far each region is grown around its centre, so that the lids, lashes and lip line are inside.
EYE_GROWTH = 1.6
MOUTH_GROWTH = 1.25


def eyes_mouth_mask(landmarks: np.ndarray, shape: tuple[int, ...], feather_px: float = 0.0) -> np.ndarray:
    """H x W float32 in [0, 1]: both eyes and the mouth, for DeepFaceLab's eyes/mouth priority loss.

    Each region is the convex hull of its mesh contour grown about its centre (EYE_GROWTH, MOUTH_GROWTH).
    """
    landmarks = check_landmarks(landmarks)
    height, width = check_image_shape(shape, "mask shape")
    ramp = max(_check_feather(feather_px, "feather_px"), 1.0)
    mask = np.zeros((height, width), np.float32)
    regions = [(contour, EYE_GROWTH) for contour in EYE_CONTOURS] + [(OUTER_LIP_INDICES, MOUTH_GROWTH)]
    for indices, growth in regions:
        points = landmarks[list(indices)]
        centre = points.mean(axis=0)
        grown = (centre + (points - centre) * growth).astype(np.float32)
        hull = grown[cv2.convexHull(grown, returnPoints=False)[:, 0]]
        np.maximum(mask, _fill_convex(hull.astype(np.float64), (height, width), ramp), out=mask)
    return mask


def aligned_face_mask(
    landmarks: np.ndarray, to_aligned: np.ndarray, size: int, face_type: str = "whole_face", feather: float = 0.0
) -> np.ndarray:
    """``size`` x ``size`` float32 mask of the aligned crop; ``feather`` is a fraction of the crop's side.

    A fraction, not pixels, so that the same settings give the same mask at every crop size.
    """
    size = check_size(size)
    feather = _check_feather(feather, "feather")
    crop_landmarks = transform_points(check_landmarks(landmarks), crop_matrix(to_aligned, size))
    return face_mask(crop_landmarks, (size, size), face_type, feather * size)


def _fill_convex(polygon: np.ndarray, shape: tuple[int, int], ramp_px: float) -> np.ndarray:
    """Smoothstep of the signed distance to convex ``polygon`` over ``ramp_px``, sampled at pixel centres."""
    height, width = shape
    mask = np.zeros(shape, np.float32)
    reach = ramp_px / 2.0 + 1.0
    x0 = max(math.floor(polygon[:, 0].min() - reach), 0)
    y0 = max(math.floor(polygon[:, 1].min() - reach), 0)
    x1 = min(math.ceil(polygon[:, 0].max() + reach), width)
    y1 = min(math.ceil(polygon[:, 1].max() + reach), height)
    if x1 <= x0 or y1 <= y0 or len(polygon) < 3:
        return mask
    # Distances relative to the region's corner keep float32 exact enough on large plates.
    corner = np.array([x0, y0], np.float64)
    vertices = polygon - corner
    xs = (np.arange(x1 - x0, dtype=np.float64) + 0.5).astype(np.float32)[np.newaxis, :]
    ys = (np.arange(y1 - y0, dtype=np.float64) + 0.5).astype(np.float32)[:, np.newaxis]
    edges = np.roll(vertices, -1, axis=0) - vertices
    signed_area = (vertices[:, 0] * np.roll(vertices[:, 1], -1) - np.roll(vertices[:, 0], -1) * vertices[:, 1]).sum()
    # Outward normals: (dy, -dx) when the shoelace sum is positive (clockwise as seen on a y-down image).
    normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1) * (1.0 if signed_area > 0 else -1.0)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True).clip(1e-12)
    offsets = (normals * vertices).sum(axis=1)
    distance = np.full((y1 - y0, x1 - x0), -np.inf, np.float32)
    for (nx, ny), offset in zip(normals.astype(np.float32), offsets.astype(np.float32), strict=True):
        np.maximum(distance, nx * xs + (ny * ys - offset), out=distance)
    t = np.clip(0.5 - distance / np.float32(ramp_px), 0.0, 1.0)
    mask[y0:y1, x0:x1] = t * t * (3.0 - 2.0 * t)
    return mask


def _check_feather(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not value >= 0 or value == math.inf:
        raise AlignmentError(f"{name} {value!r} must be a finite number >= 0")
    return float(value)
