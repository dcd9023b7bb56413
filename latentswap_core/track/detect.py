"""Faces and their 478 mesh landmarks in one plate frame (the detect and mark stages).

Detect: mediapipe's full-range face detector runs on a copy of the frame scaled down to
``detect_long_side``, on the whole frame and on overlapping square tiles of it (smaller faces). Frames
from earlier tracking (``hints``) are marked first, so a face the detector misses in one frame is kept.

Mark: the face mesh runs on 192x192 crops cut from the full-resolution plate. The first crop is framed
by the detection; each refinement pass frames the next crop on the previous landmarks (centre, eye-line
angle and RMS radius of the mesh, see ``FaceFrame``). That puts the face upright at one position and
size in the crop whatever its rotation and scale in the plate, and converges in 2-3 passes to a framing
that depends on the face only, not on the detector's box, so landmarks move with the face.

Landmark confidence, in [0, 1]: the mesh model's face-presence score on the final crop times the
agreement of crops, ``1 / (1 + (d / 0.04) ** 4)``, where ``d`` is the RMS distance between the
landmarks from the final crop and from four check crops (shifted by 3% and 2% of the face radius,
turned 3 degrees and scaled by 1.05 against it, in four sign combinations), divided by the face's RMS
radius (about 0.29 of its forehead-to-chin height). Landmarks the image pins down barely move with the
crop: on test shots clear faces give ``d`` of 1.7-3% (confidence 0.75-0.97; an open mouth 4%, 0.5),
half-occluded or badly blurred faces 3.5-24% (0.0-0.6, mostly below 0.4); non-faces a presence near 0.
The five landmark sets are averaged: the model's dependence on the framing cancels to first order and
its noise drops (15% lower error on test shots).

Mediapipe's landmark coordinates are fractions of the crop; ``x * 192`` is taken as a continuous crop
coordinate with pixel centres at +0.5, the convention of our own geometry, which a test checks exact
(a plate and its 90-degree rotation give the same landmarks to 0.05 px). The model itself sits between
conventions: a mirrored crop gives ``x + x_mirrored = 192 - 0.4..0.65`` (0 for centres at +0.5, -1 for
centres at integers), a horizontal bias of about -0.25 crop px (about 0.5 plate px on a 300 px face) that
moves with the face and so cancels in the round trip plate -> aligned crop -> plate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from latentswap_core.geometry import apply_affine, invert_affine
from latentswap_core.track.crop import FaceFrame, cut
from latentswap_core.track.graphs import MESH_INPUT_SIZE, Detection, FaceDetectionGraph, FaceMeshGraph

AGREEMENT_SCALE = 0.04  # landmark disagreement (fraction of the face radius) where agreement is 1/2
# Check crops: the final crop shifted by 3% and 2% of the face radius, turned 3 degrees and scaled by 1.05,
# in four sign combinations, so their first-order effects on the landmarks cancel in the average.
CHECK_MOVES = tuple({"dx": sx * 0.03, "dy": sy * 0.02, "turn": sx * math.radians(3.0), "scale": 1.05 ** sy}
                    for sx, sy in ((1, -1), (-1, 1), (-1, -1), (1, 1)))
SCORE_CROP = (256, 0.08)  # crop side and face fill for re-scoring a face the frame's detections missed
SAME_FACE_OVERLAP = 0.4  # boxes of two detections overlapping this share of the smaller one: one face


@dataclass(frozen=True)
class DetectOptions:
    """Settings of the detect and mark stages.

    ``detect_long_side``: the frame is scaled down to this long side (pixels) for face detection.
    ``detect_tiles``: also detect on overlapping square tiles (short side) of that frame: smaller faces.
    ``min_score``: faces the detector scores lower are dropped. ``min_presence``: the same for the mesh
    model's face-presence score. ``face_fill``: RMS radius of the face in the mesh crop, as a fraction of
    its side. ``refine_passes``: most mesh passes on landmark-framed crops after the first one; they stop
    once the landmarks move less than ``refine_tolerance`` (fraction of the face radius) between passes.
    ``check_pass``: mesh the four check crops (landmark confidence; averaged in). ``max_faces``: most
    faces per frame.
    """

    detect_long_side: int = 1280
    detect_tiles: bool = True
    min_score: float = 0.5
    min_presence: float = 0.5
    face_fill: float = 0.24
    refine_passes: int = 3
    refine_tolerance: float = 0.002
    check_pass: bool = True
    max_faces: int = 8


@dataclass
class FaceObservation:
    """One face in one frame, in plate pixels (continuous, origin top-left, pixel centres at +0.5).

    ``landmarks``: (478, 2) float64 in mediapipe's mesh order. ``score``: the face detector's score.
    ``landmark_confidence``: in [0, 1], see the module notes. ``bbox``: (x0, y0, x1, y1) of the landmarks.
    ``detector``: ``mesh`` (found by mediapipe and marked), ``cnn`` (found by the second detector and marked),
    ``box`` (found by the second detector, which the mesh could not mark: landmarks fitted into its box).
    """

    landmarks: np.ndarray
    score: float
    landmark_confidence: float
    bbox: tuple[float, float, float, float]
    detector: str = "mesh"

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray, score: float, landmark_confidence: float,
                       detector: str = "mesh") -> FaceObservation:
        return cls(landmarks, float(score), float(landmark_confidence), landmark_box(landmarks), detector)


def landmark_box(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    low, high = landmarks.min(axis=0), landmarks.max(axis=0)
    return (float(low[0]), float(low[1]), float(high[0]), float(high[1]))


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def box_overlap(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection of two boxes over the smaller one's area: 1 when one lies inside the other (boxes of one
    face from different detectors differ in size, so IoU understates their overlap)."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))


def display_uint8(rgb: np.ndarray) -> np.ndarray:
    """Display-referred RGB as contiguous uint8: uint8 passes, 16-bit is scaled, floats in [0, 1] are
    scaled and rounded (outside [0, 1] and NaN clip to 0 or 255)."""
    rgb = np.ascontiguousarray(rgb[:, :, :3])
    if rgb.dtype == np.uint8:
        return rgb
    scale = 255.0 / np.iinfo(rgb.dtype).max if np.issubdtype(rgb.dtype, np.integer) else 255.0
    if rgb.dtype not in (np.uint16, np.float32, np.float64):
        rgb = rgb.astype(np.float32)
    # rounds and saturates in one pass; OpenCV takes the tuple as a Scalar, which its stubs leave out
    return cv2.multiply(rgb, (scale, scale, scale, 0.0), dtype=cv2.CV_8U)  # type: ignore[call-overload]


def detection_frame(detection: Detection) -> FaceFrame:
    """A rough face frame from a detection: for the mesh, a frontal face's RMS radius is about 0.3 of the
    detector's box side."""
    x0, y0, x1, y1 = detection.box
    dx = detection.left_eye[0] - detection.right_eye[0]
    dy = detection.left_eye[1] - detection.right_eye[1]
    return FaceFrame(((x0 + x1) / 2, (y0 + y1) / 2), math.atan2(dy, dx), 0.3 * math.sqrt((x1 - x0) * (y1 - y0)))


class FaceDetector:
    """Faces and landmarks per frame. Holds two mediapipe graphs: use as a context manager or ``close()``."""

    def __init__(self, options: DetectOptions | None = None):
        self.options = options or DetectOptions()
        self._detector = FaceDetectionGraph(self.options.min_score)
        self._mesh = FaceMeshGraph()
        self.timings = {"detect": 0.0, "mesh": 0.0}  # seconds spent per stage, for benchmarks

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._detector.close()
        self._mesh.close()

    def detect(self, rgb: np.ndarray, hints: Sequence[FaceFrame] = ()) -> list[FaceObservation]:
        """Faces in a display-referred RGB frame (H x W x 3, uint8 or float in [0, 1]), best score first.

        ``hints``: where faces were expected (a tracker's predictions); each is marked, and kept if the
        mesh and the detector still see a face there.
        """
        plate = display_uint8(rgb)
        observations: list[FaceObservation] = []
        unscored: list[int] = []
        for hint in hints:
            marked = self.mark(plate, hint)
            if marked is not None and not _duplicate(marked[0], observations):
                observations.append(FaceObservation.from_landmarks(marked[0], 0.0, marked[1]))
                unscored.append(len(observations) - 1)
        for detection in self.find_faces(plate):
            overlapping = [face for face in observations if box_iou(face.bbox, detection.box) > 0.3]
            if overlapping:
                for face in overlapping:
                    face.score = max(face.score, detection.score)
                continue
            marked = self.mark(plate, detection_frame(detection))
            if marked is not None and not _duplicate(marked[0], observations):
                observations.append(FaceObservation.from_landmarks(marked[0], detection.score, marked[1]))
        for index in unscored:
            if observations[index].score == 0.0:
                observations[index].score = self.score_face(plate, observations[index].landmarks)
        kept = [face for face in observations if face.score >= self.options.min_score]
        kept.sort(key=lambda face: -face.score)
        return kept[: self.options.max_faces]

    def find_faces(self, plate: np.ndarray) -> list[Detection]:
        """Detections in plate pixels, best first, overlaps merged."""
        started = time.perf_counter()
        height, width = plate.shape[:2]
        k = min(1.0, self.options.detect_long_side / max(width, height))
        small = plate if k == 1.0 else cv2.resize(plate, (round(width * k), round(height * k)),
                                                  interpolation=cv2.INTER_AREA)
        found = [_scaled(detection, 1.0 / k, (0, 0)) for detection in self._detector.run(small)]
        if self.options.detect_tiles:
            for x, y, side in _tiles(small.shape[1], small.shape[0]):
                tile = np.ascontiguousarray(small[y:y + side, x:x + side])
                found += [_scaled(detection, 1.0 / k, (x, y)) for detection in self._detector.run(tile)]
        found.sort(key=lambda detection: -detection.score)
        kept: list[Detection] = []
        for detection in found:
            if all(box_iou(detection.box, other.box) < 0.4 for other in kept):
                kept.append(detection)
        self.timings["detect"] += time.perf_counter() - started
        return kept

    def mark(self, plate: np.ndarray, frame: FaceFrame) -> tuple[np.ndarray, float] | None:
        """Landmarks (plate px) and landmark confidence of the face framed roughly by ``frame``; None when
        the mesh model sees no face there."""
        landmarks, presence = self.mesh_on_crop(plate, frame)
        for _ in range(self.options.refine_passes):
            if presence < self.options.min_presence:
                return None
            framed = FaceFrame.from_landmarks(landmarks)
            previous, (landmarks, presence) = landmarks, self.mesh_on_crop(plate, framed)
            change = float(np.sqrt(((landmarks - previous) ** 2).sum(axis=1).mean())) / framed.radius
            if change < self.options.refine_tolerance:
                break
        if presence < self.options.min_presence:
            return None
        if not self.options.check_pass:
            return landmarks, presence
        final = FaceFrame.from_landmarks(landmarks)
        checks = np.stack([self.mesh_on_crop(plate, final.moved(**move))[0] for move in CHECK_MOVES])
        disagreement = float(np.sqrt(((checks - landmarks) ** 2).sum(axis=2).mean())) / final.radius
        agreement = 1.0 / (1.0 + (disagreement / AGREEMENT_SCALE) ** 4)
        return (landmarks + checks.sum(axis=0)) / (1 + len(checks)), presence * agreement

    def mesh_on_crop(self, plate: np.ndarray, frame: FaceFrame) -> tuple[np.ndarray, float]:
        """Landmarks (plate px) and face-presence score of the mesh on the crop framed by ``frame``."""
        started = time.perf_counter()
        to_crop = frame.crop_transform(MESH_INPUT_SIZE, self.options.face_fill * MESH_INPUT_SIZE)
        landmarks, presence = self._mesh.run(cut(plate, to_crop, MESH_INPUT_SIZE))
        self.timings["mesh"] += time.perf_counter() - started
        return apply_affine(invert_affine(to_crop), landmarks), presence

    def score_face(self, plate: np.ndarray, landmarks: np.ndarray) -> float:
        """The detector's score for the face at ``landmarks``, on a loose crop around it; 0 if not found."""
        started = time.perf_counter()
        size, fill = SCORE_CROP
        frame = FaceFrame.from_landmarks(landmarks)
        to_crop = frame.crop_transform(size, fill * size)
        box = landmark_box(apply_affine(to_crop, landmarks))
        found = [detection.score for detection in self._detector.run(cut(plate, to_crop, size))
                 if box_iou(detection.box, box) > 0.3]
        self.timings["detect"] += time.perf_counter() - started
        return max(found, default=0.0)


def _tiles(width: int, height: int) -> list[tuple[int, int, int]]:
    """Square tiles (x, y, side) of the short side, overlapping by at least a third, along the long side."""
    side = min(width, height)
    along = max(width, height)
    if along <= side * 1.2:
        return []
    count = math.ceil((along - side) / (side * 2 / 3)) + 1
    starts = [round(i * (along - side) / (count - 1)) for i in range(count)]
    return [(start, 0, side) if width >= height else (0, start, side) for start in starts]


def _scaled(detection: Detection, k: float, offset: tuple[int, int]) -> Detection:
    def point(x: float, y: float) -> tuple[float, float]:
        return ((x + offset[0]) * k, (y + offset[1]) * k)

    x0, y0 = point(*detection.box[:2])
    x1, y1 = point(*detection.box[2:])
    return Detection(detection.score, (x0, y0, x1, y1), point(*detection.right_eye), point(*detection.left_eye))


def _duplicate(landmarks: np.ndarray, kept: list[FaceObservation]) -> bool:
    """True if a kept face is the same face: the landmarks nearly coincide."""
    for other in kept:
        radius = FaceFrame.from_landmarks(other.landmarks).radius
        if np.sqrt(((landmarks - other.landmarks) ** 2).sum(axis=1).mean()) < 0.25 * radius:
            return True
    return False
