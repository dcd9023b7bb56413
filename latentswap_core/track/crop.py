"""Square face crops cut out of a plate under a similarity, and the geometry that frames them.

Coordinates are continuous plate pixels with pixel centres at +0.5 (the track file's convention). A
crop transform is a 2x3 matrix from plate pixels to crop pixels; cv2 indexes pixel centres at integers,
so warps go through ``T(-0.5) @ M @ T(+0.5)``. Downscaling crops are low-passed first, so a 4K face
is not aliased into the landmark model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from latentswap_core.geometry import apply_affine, invert_affine, opencv_matrix

# Mediapipe face mesh indices: corners of the subject's right eye (image left) and left eye.
RIGHT_EYE_CORNERS = (33, 133)
LEFT_EYE_CORNERS = (362, 263)
FOREHEAD, CHIN = 10, 152


@dataclass(frozen=True)
class FaceFrame:
    """Where a face is and how it is turned: centre (plate px), in-plane angle (radians, of the line from the
    subject's right eye to the left eye, y down) and size (RMS distance of the mesh points from the centre)."""

    centre: tuple[float, float]
    angle: float
    radius: float

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray) -> FaceFrame:
        """The frame of 478 mesh points; it moves exactly with the points under any similarity."""
        centre = landmarks.mean(axis=0)
        radius = float(np.sqrt(((landmarks - centre) ** 2).sum(axis=1).mean()))
        eyes = landmarks[list(LEFT_EYE_CORNERS)].mean(axis=0) - landmarks[list(RIGHT_EYE_CORNERS)].mean(axis=0)
        return cls((float(centre[0]), float(centre[1])), math.atan2(eyes[1], eyes[0]), radius)

    def moved(self, dx: float = 0.0, dy: float = 0.0, turn: float = 0.0, scale: float = 1.0) -> FaceFrame:
        """This frame shifted by (dx, dy) face radii along its own axes, turned and scaled."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        x = self.centre[0] + self.radius * (dx * c - dy * s)
        y = self.centre[1] + self.radius * (dx * s + dy * c)
        return FaceFrame((x, y), self.angle + turn, self.radius * scale)

    def crop_transform(self, size: int, radius_in_crop: float) -> np.ndarray:
        """2x3 plate px -> crop px putting the face upright in the middle of a ``size`` square crop, its
        radius ``radius_in_crop`` crop pixels."""
        k = radius_in_crop / self.radius
        c, s = k * math.cos(-self.angle), k * math.sin(-self.angle)
        linear = np.array([[c, -s], [s, c]])
        offset = np.array([size / 2.0, size / 2.0]) - linear @ np.asarray(self.centre)
        return np.hstack([linear, offset[:, None]])


def cut(plate: np.ndarray, transform: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` x ``size`` crop of ``plate`` (H x W x C uint8) under ``transform`` (plate px -> crop px).

    Only the plate region under the crop is touched; it is Gaussian-filtered first when the crop shrinks
    it, and pixels beyond the plate edge repeat the edge.
    """
    scale = math.sqrt(abs(np.linalg.det(transform[:, :2])))
    corners = apply_affine(invert_affine(transform), np.array([[0.0, 0.0], [size, 0.0], [0.0, size], [size, size]]))
    margin = 4 + int(math.ceil(2.0 / scale))
    x0, y0 = np.floor(corners.min(axis=0)).astype(int) - margin
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + margin
    height, width = plate.shape[:2]
    region = plate[max(y0, 0):min(y1, height), max(x0, 0):min(x1, width)]
    if region.size == 0:
        return np.zeros((size, size, plate.shape[2]), plate.dtype)
    region = cv2.copyMakeBorder(region, max(-y0, 0), max(y1 - height, 0), max(-x0, 0), max(x1 - width, 0),
                                cv2.BORDER_REPLICATE)
    local = transform.copy()
    local[:, 2] += transform[:, :2] @ np.array([x0, y0], dtype=np.float64)
    factor = int(0.75 / scale)
    if factor >= 2:  # shrink by whole pixel blocks first (box filter; centres map as x / factor)
        height, width = (region.shape[0] // factor) * factor, (region.shape[1] // factor) * factor
        region = cv2.resize(region[:height, :width], (width // factor, height // factor), interpolation=cv2.INTER_AREA)
        local[:, :2] *= factor
        scale *= factor
    if scale < 0.8:
        sigma = 0.5 * math.sqrt(1.0 / scale**2 - 1.0)
        region = cv2.GaussianBlur(region, (0, 0), sigma)
    return cv2.warpAffine(region, opencv_matrix(local), (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
