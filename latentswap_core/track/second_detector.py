"""The second face detector, for what mediapipe's misses: profiles, three-quarter views and small faces.

dlib's CNN face detector (MMOD, from the ``face_recognition_models`` package, read by path) finds faces turned
up to about 90 degrees of yaw and boxes down to 80 px, where mediapipe's BlazeFace sees only frontal and three-
quarter faces. It runs without dlib (``mmod.py``: the same answers, about 20 times faster than dlib's CPU build):
about 0.1 s for a 640 x 360 frame on one core of an AMD EPYC and 0.03 s for its half size. It runs on a schedule
(each frame after a cut until it finds a face, then every ``every`` frames) on the frame scaled down to at most
``max_pixels``; the tracker fills the frames between (``fill.py``).

Its faces are marked by the mesh like any other (``FaceDetector.mark``). Where the mesh does not see a
face (it is built for frontal faces: a profile gives it a presence near 0), the face is still kept, with
the mean face fitted into the detector's box as landmarks and ``landmarks_reliable`` False: found, never
silently dropped, never trusted for alignment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from latentswap_core.align import TEMPLATE
from latentswap_core.cpu import cpu_threads
from latentswap_core.identity.dlib_descriptor import DETECTOR_MODEL, default_models_folder, model_file
from latentswap_core.track.detect import SAME_FACE_OVERLAP, box_overlap
from latentswap_core.track.mmod import Detection, MmodDetector

# The net finds faces of about 80 px and up; an image under 32 px holds none it could find.
MIN_INPUT_SIDE = 32
# The mesh's points span about this share of the detector's box side (on the clip's faces: 38-51 px tall
# points in 80-96 px boxes), centred BOX_DROP of the side below the box's centre (0 to -0.18 there).
BOX_TO_LANDMARKS = 0.5
BOX_DROP = -0.08


@dataclass(frozen=True)
class SecondDetectorOptions:
    """``enabled``: run it at all. ``every``: frames between runs within a shot (1: every frame).
    ``max_pixels``: the frame is scaled down to at most this many pixels for it (cost grows with them; the
    smallest face found is about 80 px of the scaled frame). ``min_confidence``: dlib's detection score."""

    enabled: bool = True
    every: int = 6
    max_pixels: int = 640 * 360
    min_confidence: float = 0.3


@dataclass(frozen=True)
class BoxDetection:
    """A face box in plate pixels (x0, y0, x1, y1) and the detector's confidence."""

    box: tuple[float, float, float, float]
    confidence: float


class SecondDetector:
    """dlib's CNN face detector (``mmod.MmodDetector``), loaded on first use."""

    def __init__(self, options: SecondDetectorOptions | None = None, models_folder: str | Path | None = None):
        self.options = options or SecondDetectorOptions()
        self.models_folder = Path(models_folder) if models_folder is not None else default_models_folder()
        self._net: MmodDetector | None = None

    def _load(self) -> MmodDetector:
        if self._net is None:
            self._net = MmodDetector(model_file(self.models_folder, DETECTOR_MODEL), cpu_threads())
        return self._net

    def due(self, position_in_shot: int, since_found: int | None) -> bool:
        """Whether to run on the frame ``position_in_shot`` frames after the shot's first, ``since_found``
        frames after the shot's first run that found a face (None: none has yet). A new shot is searched
        frame by frame until a face is found (for at most ``every`` frames), then every ``every`` frames."""
        every = max(self.options.every, 1)
        if not self.options.enabled:
            return False
        if since_found is None:
            return position_in_shot < every or position_in_shot % every == 0
        return since_found % every == 0

    def find(self, plate: np.ndarray) -> list[BoxDetection]:
        """Faces in an sRGB uint8 frame, best first. Runs at two scales: the frame scaled to ``max_pixels``, and
        half that, where large, blurred faces (a close-up in motion) score far higher."""
        height, width = plate.shape[:2]
        k = min(1.0, math.sqrt(self.options.max_pixels / (width * height)))
        found: list[tuple[float, Detection]] = []
        for scale in (k, k / 2):
            if min(width, height) * scale < MIN_INPUT_SIDE:
                continue
            image = plate if scale == 1.0 else cv2.resize(plate, (round(width * scale), round(height * scale)),
                                                          interpolation=cv2.INTER_AREA)
            found += [(scale, raw) for raw in self._load()(np.ascontiguousarray(image))]
        return self._kept(found)

    def _kept(self, raws: list[tuple[float, Detection]]) -> list[BoxDetection]:
        """The detections (each with the scale of the image it was found in, in search order) in plate pixels,
        best first, without those below ``min_confidence`` or overlapping a better one."""
        found = [BoxDetection((left / scale, top / scale, (right + 1) / scale, (bottom + 1) / scale), confidence)
                 for scale, (left, top, right, bottom, confidence) in raws]
        kept: list[BoxDetection] = []
        for detection in sorted(found, key=lambda detection: -detection.confidence):
            if detection.confidence >= self.options.min_confidence and all(
                    box_overlap(detection.box, other.box) <= SAME_FACE_OVERLAP for other in kept):
                kept.append(detection)
        return kept


def landmarks_in_box(box: tuple[float, float, float, float]) -> np.ndarray:
    """The mean face's 478 landmarks (the alignment template) fitted into a detector box: a stand-in for a
    face the mesh cannot mark, good enough to frame its crop, not to align it."""
    x0, y0, x1, y1 = box
    side = math.sqrt((x1 - x0) * (y1 - y0))
    low, high = TEMPLATE.min(axis=0), TEMPLATE.max(axis=0)
    scale = BOX_TO_LANDMARKS * side / float(high[1] - low[1])
    centre = (low + high) / 2.0
    target = np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0 + BOX_DROP * side])
    return (TEMPLATE - centre) * scale + target
