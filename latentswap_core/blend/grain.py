"""Grain matched to the plate: what the swapped face lacks of the plate's own noise, as a layer the comp adds.

A decoded face is smoother than film or sensor grain. The plate's grain is measured where the face goes (the
face it replaces): per channel, the robust spread (median absolute deviation x 1.4826) of the plate minus its
Gaussian blur (sigma ``HIGH_PASS_SIGMA`` px), under the blend alpha. The same is measured on the swapped face;
the grain to add has the spread the face lacks, ``sqrt(plate^2 - face^2)`` per channel, as fine Gaussian noise
(blurred by ``GRAIN_SIGMA`` px, renormalised) seeded by the frame, so a re-render gives the same grain.
The layer is not premultiplied: the gizmo adds it to the face's colour before the alpha is applied.
"""

from __future__ import annotations

import cv2
import numpy as np

HIGH_PASS_SIGMA = 1.5  # px: what is finer than this is grain (and pores); what is coarser is the picture
GRAIN_SIGMA = 0.6  # px: grain a little softer than single-pixel noise, as scanned and debayered grain is
MIN_PIXELS = 64  # fewer pixels under the face than this: no measure, no grain
MAD_TO_SIGMA = 1.4826  # a Gaussian's standard deviation per median absolute deviation
_SEED_STRIDE = 7919  # frames and face boxes to seeds: different for neighbouring frames and boxes


def grain_spread(rgb: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Per channel (3,), the robust spread of ``rgb``'s fine detail at the pixels ``where`` is true."""
    if int(where.sum()) < MIN_PIXELS:
        return np.zeros(3, np.float32)
    rgb = rgb.astype(np.float32, copy=False)
    detail = rgb - cv2.GaussianBlur(rgb, (0, 0), HIGH_PASS_SIGMA, borderType=cv2.BORDER_REFLECT)
    samples = detail[where]
    deviation = np.median(np.abs(samples - np.median(samples, axis=0)), axis=0)
    return (MAD_TO_SIGMA * deviation).astype(np.float32)


def matched_grain(plate: np.ndarray, face_rgba: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(h x w x 3 grain to add to the face's colour, its spread per channel): the plate's grain under the face
    less what the face has. ``plate`` is the box of the plate (h x w x 3), ``face_rgba`` the faces premultiplied
    with their alpha over the same box."""
    alpha = face_rgba[:, :, 3]
    inside = alpha > 0.5
    face = face_rgba[:, :, :3] / np.maximum(alpha, 1e-6)[:, :, None]
    lacking = np.sqrt(np.maximum(grain_spread(plate, inside) ** 2 - grain_spread(face, inside) ** 2, 0.0))
    height, width = alpha.shape
    if not lacking.any():
        return np.zeros((height, width, 3), np.float32), lacking
    white = np.random.default_rng(seed % 2**32).standard_normal((height, width, 3), dtype=np.float32)
    noise = np.asarray(cv2.GaussianBlur(white, (0, 0), GRAIN_SIGMA, borderType=cv2.BORDER_REFLECT), np.float32)
    scale = lacking / np.maximum(noise.reshape(-1, 3).std(axis=0), 1e-6)
    return (noise * scale).astype(np.float32), lacking


def grain_seed(frame: int, box: tuple[int, int, int, int]) -> int:
    """The frame's grain seed: the same frame and box give the same grain on every render."""
    return (frame * _SEED_STRIDE + box[0] * 31 + box[2]) % 2**32
