"""Temporal smoothing of a face's landmarks over a whole shot: offline, zero-lag, fitted to each track.

Shots are processed offline, so each coordinate gets a Rauch-Tung-Striebel smoother (a forward Kalman
filter with a constant-acceleration model, then a backward pass): it uses the frames after a frame as much
as those before, so constant motion comes through without lag, where a causal filter (One-Euro) trails.

A face's landmarks are split into rigid motion and shape before smoothing: per frame, the similarity
that best maps the segment's mean shape onto the landmarks (its effect is carried by two virtual points,
one face radius either side of the centre) and the residual shape in the face's own frame. Each part's
ratio of process to measurement noise is fitted by maximum likelihood, so a still face is smoothed
hard while a fast head move keeps its motion, and expression changes keep theirs. ``strength`` scales
the fitted time window: 2 smooths about twice as long, 0.5 half as long. Frames are weighted by their
landmark confidence (low confidence: trusted less). Each run of consecutive frames is smoothed on its
own: a gap (missing face, cut) is never bridged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentswap_core.geometry import apply_affine, fit_similarity, invert_affine

PROCESS_RATIOS = np.logspace(-9.0, 3.0, 49)  # candidate process/measurement noise ratios
MIN_FRAMES = 4  # shorter runs are passed through unsmoothed


@dataclass(frozen=True)
class SmoothOptions:
    """``enabled``: smooth at all. ``strength``: multiplies the fitted time window (1 = as fitted)."""

    enabled: bool = True
    strength: float = 1.0


def smooth_landmarks(landmarks: np.ndarray, confidence: np.ndarray | None = None,
                     options: SmoothOptions | None = None) -> np.ndarray:
    """Smoothed copy of one face's landmarks over consecutive frames, (T, N, 2) plate px."""
    options = options or SmoothOptions()
    landmarks = np.asarray(landmarks, dtype=np.float64)
    count = landmarks.shape[0]
    if not options.enabled or count < MIN_FRAMES:
        return landmarks.copy()
    weights = np.ones(count) if confidence is None else np.clip(np.asarray(confidence, dtype=np.float64), 0.05, 1.0)
    reference = _mean_shape(landmarks)
    similarities = np.stack([fit_similarity(reference, frame) for frame in landmarks])
    centre = reference.mean(axis=0)
    radius = float(np.sqrt(((reference - centre) ** 2).sum(axis=1).mean()))
    anchors = np.array([centre - (radius, 0.0), centre + (radius, 0.0)])
    rigid = np.stack([apply_affine(matrix, anchors) for matrix in similarities]).reshape(count, -1)
    shape = np.stack([apply_affine(invert_affine(matrix), frame) - reference
                      for matrix, frame in zip(similarities, landmarks, strict=True)])
    smooth_rigid = smooth_series(rigid, weights, options.strength).reshape(count, 2, 2)
    smooth_shape = smooth_series(shape.reshape(count, -1), weights, options.strength).reshape(shape.shape)
    result = np.empty_like(landmarks)
    for t in range(count):
        matrix = fit_similarity(anchors, smooth_rigid[t])  # two points fix a similarity
        result[t] = apply_affine(matrix, reference + smooth_shape[t])
    return result


def smooth_series(values: np.ndarray, weights: np.ndarray | None = None, strength: float = 1.0) -> np.ndarray:
    """Each column of ``values`` (T, D) smoothed by a constant-acceleration RTS smoother whose noise ratio
    is fitted by maximum likelihood over all columns together, then divided by ``strength ** 6`` (the
    smoother's time window grows as the ratio's -1/6 power)."""
    values = np.asarray(values, dtype=np.float64)
    count = values.shape[0]
    if count < MIN_FRAMES:
        return values.copy()
    weights = np.ones(count) if weights is None else np.asarray(weights, dtype=np.float64)
    measurement = 1.0 / weights
    ratio = max(PROCESS_RATIOS, key=lambda candidate: _log_likelihood(values, measurement, candidate))
    return _rts(values, measurement, ratio / strength**6)


# Constant-acceleration model over one frame: position, velocity, acceleration; white jerk noise.
_F = np.array([[1.0, 1.0, 0.5], [0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
_G = np.array([1.0 / 6.0, 0.5, 1.0])
_Q = np.outer(_G, _G)


def _forward(values: np.ndarray, measurement: np.ndarray, ratio: float):
    """Kalman filter for all columns at once (they share one covariance): returns the filtered and predicted
    means (T, S, D), covariances (T, S, S), innovations (T, D) and innovation variances (T,)."""
    count, width = values.shape
    states = _F.shape[0]
    means = np.empty((count, states, width))
    predicted_means = np.empty((count, states, width))
    covariances = np.empty((count, states, states))
    predicted_covariances = np.empty((count, states, states))
    innovations = np.zeros((count, width))
    variances = np.ones(count)
    mean = np.vstack([values[0][None], np.zeros((states - 1, width))])
    covariance = np.diag([measurement[0]] + [1e8] * (states - 1))
    q = ratio * _Q
    for t in range(count):
        if t > 0:
            mean = _F @ mean
            covariance = _F @ covariance @ _F.T + q
        predicted_means[t], predicted_covariances[t] = mean, covariance
        if t > 0:
            variance = covariance[0, 0] + measurement[t]
            gain = covariance[:, 0] / variance
            residual = values[t] - mean[0]
            mean = mean + gain[:, None] * residual[None, :]
            covariance = covariance - np.outer(gain, gain) * variance
            innovations[t], variances[t] = residual, variance
        means[t], covariances[t] = mean, covariance
    return means, predicted_means, covariances, predicted_covariances, innovations, variances


def _log_likelihood(values: np.ndarray, measurement: np.ndarray, ratio: float) -> float:
    """Gaussian log-likelihood of the data under ``ratio``, with the noise scale fitted (concentrated out);
    the first three innovations (diffuse start) are left out."""
    *_, innovations, variances = _forward(values, measurement, ratio)
    innovations, variances = innovations[3:], variances[3:]
    scale = float(np.mean(innovations**2 / variances[:, None]))
    return -0.5 * innovations.size * np.log(max(scale, 1e-300)) - 0.5 * values.shape[1] * float(np.log(variances).sum())


def _rts(values: np.ndarray, measurement: np.ndarray, ratio: float) -> np.ndarray:
    means, predicted_means, covariances, predicted_covariances, _, _ = _forward(values, measurement, ratio)
    smoothed = means[-1].copy()
    result = np.empty_like(values)
    result[-1] = smoothed[0]
    for t in range(values.shape[0] - 2, -1, -1):
        gain = covariances[t] @ _F.T @ np.linalg.inv(predicted_covariances[t + 1])
        smoothed = means[t] + gain @ (smoothed - predicted_means[t + 1])
        result[t] = smoothed[0]
    return result


def _mean_shape(landmarks: np.ndarray) -> np.ndarray:
    """The run's mean shape in the first frame's position: every frame aligned onto the first, averaged."""
    first = landmarks[0]
    aligned = [apply_affine(fit_similarity(frame, first), frame) for frame in landmarks]
    mean = np.mean(aligned, axis=0)
    return apply_affine(fit_similarity(mean, first), mean)
