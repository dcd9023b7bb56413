"""Faceset guidance: how many faces a faceset holds, which head poses they show, and how much of another
faceset's poses they cover.

Poses come from each face's stored landmarks (``FacesetEntry.landmarks``, normalised aligned coordinates: times the
faceset's size they are pixels of its crop) by ``align.pose.head_pose`` with the crop as the frame: yaw and pitch in
degrees, image oriented (yaw +: the face turned to the image's right; pitch +: the chin down). Roll is left out:
alignment turns every face upright. Measured on the aligned crop, a pose is what the model sees, free of where the
face sat in the original frame.

Coverage: a dst face is covered when some src face is within ``POSE_TOLERANCE_DEGREES`` of it in yaw and in pitch.
A swap model learns a pose from src faces near it; at a dst pose no src face shows, the swap is a guess (blurred,
the codec's grid, the dst's identity showing through). Histograms count faces in ``POSE_BIN_DEGREES`` bins from
-90 to +90 degrees.

Training warns (``training_warnings``) when the src faceset has fewer than ``MIN_SRC_FACES`` faces (DeepFaceLab's
guidance: hundreds to thousands covering the dst's poses), when it covers less than ``MIN_COVERAGE`` of the dst
faces, and when a faceset's crops are smaller than the training resolution (every face upsampled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from latentswap_core.align.pose import head_pose
from latentswap_core.faceset import Faceset

POSE_BIN_DEGREES = 15  # histogram bin width
POSE_LIMIT_DEGREES = 90  # histograms span -90..+90; angles beyond count in the outer bins
POSE_TOLERANCE_DEGREES = 10.0  # a dst face is covered by a src face within this many degrees in yaw and in pitch
MIN_SRC_FACES = 100  # fewer src faces than this: a warning (DeepFaceLab's guidance: hundreds to thousands)
MIN_COVERAGE = 0.8  # src faces covering less than this fraction of the dst faces: a warning
PERCENTILES = (5, 95)  # the pose range reported: from the 5th to the 95th percentile, so a stray face does not count
HISTOGRAM_EDGES = np.arange(-POSE_LIMIT_DEGREES, POSE_LIMIT_DEGREES + 1, POSE_BIN_DEGREES)


@dataclass(frozen=True)
class FacesetPoses:
    """Yaw and pitch in degrees of a faceset's faces, one entry per face solvePnP found a pose for (all of them in
    practice), with the number of faces in the faceset and its crop size in pixels."""

    yaw: np.ndarray
    pitch: np.ndarray
    faces: int
    size: int

    def as_json(self) -> dict[str, Any]:
        return {"faces": self.faces, "size": self.size, "posed": int(len(self.yaw)),
                "yaw_range": _rounded(pose_range(self.yaw)), "pitch_range": _rounded(pose_range(self.pitch)),
                "yaw_histogram": pose_histogram(self.yaw).tolist(),
                "pitch_histogram": pose_histogram(self.pitch).tolist()}


@dataclass(frozen=True)
class Coverage:
    """How much of the dst faceset's poses the src faceset covers (see the module's docstring)."""

    fraction: float  # of the dst faces with a pose, those covered; 1.0 when dst has none
    covered: np.ndarray  # bool per dst face (in FacesetPoses order)
    tolerance: float  # degrees
    uncovered_yaw: tuple[float, float] | None  # yaw range (min, max) of the uncovered dst faces; None: all covered
    uncovered_pitch: tuple[float, float] | None

    @property
    def uncovered(self) -> int:
        return int(np.count_nonzero(~self.covered))

    def as_json(self) -> dict[str, Any]:
        return {"fraction": round(self.fraction, 4), "tolerance_degrees": self.tolerance,
                "dst_faces": int(len(self.covered)), "uncovered_faces": self.uncovered,
                "uncovered_yaw": _rounded(self.uncovered_yaw), "uncovered_pitch": _rounded(self.uncovered_pitch)}


def faceset_poses(faceset: Faceset) -> FacesetPoses:
    """The yaw and pitch of every face of ``faceset`` from its stored landmarks (about 0.5 ms a face)."""
    frame = (faceset.size, faceset.size)
    yaw, pitch = [], []
    for entry in faceset.faces:
        try:
            angles = head_pose(np.asarray(entry.landmarks, np.float64) * faceset.size, frame)
        except ValueError:  # solvePnP found no pose: the face counts, its pose does not
            continue
        yaw.append(angles[0])
        pitch.append(angles[1])
    return FacesetPoses(np.array(yaw, np.float64), np.array(pitch, np.float64), len(faceset.faces), faceset.size)


def pose_histogram(angles: np.ndarray) -> np.ndarray:
    """Faces per ``POSE_BIN_DEGREES`` bin of ``HISTOGRAM_EDGES`` (angles beyond +-90 in the outer bins)."""
    clipped = np.clip(np.asarray(angles, np.float64), -POSE_LIMIT_DEGREES, POSE_LIMIT_DEGREES)
    return np.histogram(clipped, HISTOGRAM_EDGES)[0]


def pose_range(angles: np.ndarray) -> tuple[float, float] | None:
    """The 5th and 95th percentiles of ``angles`` in degrees; None without any."""
    if len(angles) == 0:
        return None
    low, high = np.percentile(angles, PERCENTILES)
    return float(low), float(high)


def coverage(src: FacesetPoses, dst: FacesetPoses, tolerance: float = POSE_TOLERANCE_DEGREES) -> Coverage:
    """Which dst faces have a src face within ``tolerance`` degrees in yaw and in pitch, and the range of the rest."""
    covered = np.zeros(len(dst.yaw), bool)
    chunk = max(1, 4_000_000 // max(1, len(src.yaw)))  # dst faces compared at once: a few MB of booleans
    for start in range(0, len(dst.yaw) if len(src.yaw) else 0, chunk):
        near_yaw = np.abs(dst.yaw[start:start + chunk, None] - src.yaw[None, :]) <= tolerance
        near_pitch = np.abs(dst.pitch[start:start + chunk, None] - src.pitch[None, :]) <= tolerance
        covered[start:start + chunk] = (near_yaw & near_pitch).any(axis=1)
    fraction = float(covered.mean()) if len(covered) else 1.0
    missing = ~covered
    if not missing.any():
        return Coverage(fraction, covered, tolerance, None, None)
    return Coverage(fraction, covered, tolerance, (float(dst.yaw[missing].min()), float(dst.yaw[missing].max())),
                    (float(dst.pitch[missing].min()), float(dst.pitch[missing].max())))


def describe_poses(poses: FacesetPoses) -> str:
    """One line: the yaw and pitch range (5th-95th percentile) and the yaw histogram's non-empty span."""
    yaw, pitch = pose_range(poses.yaw), pose_range(poses.pitch)
    if yaw is None or pitch is None:
        return "poses: none measured"
    counts = pose_histogram(poses.yaw)
    filled = np.flatnonzero(counts)
    bins = ", ".join(f"[{HISTOGRAM_EDGES[i]:+d},{HISTOGRAM_EDGES[i + 1]:+d}) {counts[i]}"
                     for i in range(filled[0], filled[-1] + 1))
    return (f"poses: yaw {_span(yaw)} deg, pitch {_span(pitch)} deg ({PERCENTILES[0]}th-{PERCENTILES[1]}th "
            f"percentile); faces per {POSE_BIN_DEGREES} deg of yaw: {bins}")


def describe_coverage(covered: Coverage) -> str:
    """One line: the share of dst faces the src faces cover, and the uncovered range."""
    line = (f"src poses cover {percent(covered.fraction)} of the {len(covered.covered)} dst faces (a src face within "
            f"{covered.tolerance:g} deg of yaw and pitch)")
    if covered.uncovered_yaw and covered.uncovered_pitch:
        line += (f"; uncovered: {covered.uncovered} faces at yaw {_span(covered.uncovered_yaw)} deg, "
                 f"pitch {_span(covered.uncovered_pitch)} deg")
    return line


def training_warnings(src: FacesetPoses, dst: FacesetPoses, resolution: int,
                      covered: Coverage | None = None) -> list[str]:
    """One-line warnings for training ``src`` onto ``dst`` at ``resolution`` px: too few src faces, too little of
    the dst's poses covered, crops smaller than the resolution. Empty when all is well."""
    covered = covered if covered is not None else coverage(src, dst)
    warnings = []
    if src.faces < MIN_SRC_FACES:
        warnings.append(f"the src faceset has {src.faces} faces for {dst.faces} dst faces: fewer than {MIN_SRC_FACES} "
                        "train an unusable swap (DeepFaceLab's guidance: hundreds to thousands of src faces "
                        "covering the dst's poses)")
    if covered.fraction < MIN_COVERAGE:
        where = ""
        if covered.uncovered_yaw and covered.uncovered_pitch:
            where = f" (yaw {_span(covered.uncovered_yaw)} deg, pitch {_span(covered.uncovered_pitch)} deg)"
        warnings.append(f"src faces cover {percent(covered.fraction)} of the dst poses (below "
                        f"{percent(MIN_COVERAGE)}): {covered.uncovered} of {len(covered.covered)} dst faces have no "
                        f"src face within {covered.tolerance:g} deg of yaw and pitch{where}; add src faces at "
                        "those poses")
    for role, poses in (("src", src), ("dst", dst)):
        if poses.size < resolution:
            warnings.append(f"{role} faceset crops are {poses.size} px, training at {resolution} px upsamples them "
                            f"{round(resolution / poses.size, 2):g}x: extract at --size {resolution}")
    return warnings


def percent(fraction: float) -> str:
    """``fraction`` as a whole percentage, rounded down (so 79.9 % does not read as 80 %)."""
    return f"{math.floor(fraction * 100 + 1e-9):d}%"


def _span(bounds: tuple[float, float]) -> str:
    return f"{bounds[0]:+.0f}..{bounds[1]:+.0f}"


def _rounded(bounds: tuple[float, float] | None) -> list[float] | None:
    return None if bounds is None else [round(bounds[0], 1), round(bounds[1], 1)]
