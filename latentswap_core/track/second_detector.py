"""The second face detector, for what mediapipe's misses: profiles, three-quarter views and small faces.

dlib's CNN face detector (MMOD, from the ``face_recognition_models`` package, read by path) finds faces turned
up to about 90 degrees of yaw and boxes down to 80 px, where mediapipe's BlazeFace sees only frontal and three-
quarter faces. It costs about 0.9 s per 640 x 360 frame (both scales, one core of an AMD EPYC; about 0.75 s for
the full-size scale, 0.2 s for the half), so it runs on a schedule (each frame after a cut until it finds a
face, then every ``every`` frames) on the frame scaled down to at most ``max_pixels``; the tracker fills the
frames between (``fill.py``).

Its faces are marked by the mesh like any other (``FaceDetector.mark``). Where the mesh does not see a
face (it is built for frontal faces: a profile gives it a presence near 0), the face is still kept, with
the mean face fitted into the detector's box as landmarks and ``landmarks_reliable`` False: found, never
silently dropped, never trusted for alignment.

Where more than one CPU core is usable, the frame's first scale is searched in a helper process while this
process searches the second (and, in ``ShotTracker``, runs mediapipe on the frame first: ``start`` hands the
frame over before the mesh runs, ``PendingFind.result`` collects). dlib's detector runs on one core, so on two
cores the two scales cost about as much as the first alone. The helper (``second_helper``) starts on first use,
loads the model once, answers frames over pipes and ends when its owner calls ``close`` (``ShotTracker`` does,
and a finalizer does when the detector is collected or the interpreter exits); when its pipe closes because this
process died, it ends too. Where it cannot start or fails, the search runs here instead: the answer is the same,
found by the same code on the same pixels, merged in the same order.
"""

from __future__ import annotations

import math
import os
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from latentswap_core.align import TEMPLATE
from latentswap_core.identity.dlib_descriptor import default_models_folder
from latentswap_core.track.detect import SAME_FACE_OVERLAP, box_overlap
from latentswap_core.track.second_helper import Helper, RawDetection, load_net, search, stop

# The net finds faces of about 80 px and up; an image under 32 px holds none it could find, and one under about
# 8 px makes dlib raise from inside its convolution (a C++ message, not an answer).
MIN_INPUT_SIDE = 32
# The mesh's points span about this share of the detector's box side (on the clip's faces: 38-51 px tall
# points in 80-96 px boxes), centred BOX_DROP of the side below the box's centre (0 to -0.18 there).
BOX_TO_LANDMARKS = 0.5
BOX_DROP = -0.08


def usable_cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass(frozen=True)
class SecondDetectorOptions:
    """``enabled``: run it at all. ``every``: frames between runs within a shot (1: every frame).
    ``max_pixels``: the frame is scaled down to at most this many pixels for it (cost grows with them; the
    smallest face found is about 80 px of the scaled frame). ``min_confidence``: dlib's detection score.
    ``helper``: search one scale in a helper process, in parallel (default: where more than one core is
    usable); the faces found are the same either way."""

    enabled: bool = True
    every: int = 6
    max_pixels: int = 640 * 360
    min_confidence: float = 0.3
    helper: bool = field(default_factory=lambda: usable_cores() > 1 and os.name == "posix")


@dataclass(frozen=True)
class BoxDetection:
    """A face box in plate pixels (x0, y0, x1, y1) and the detector's confidence."""

    box: tuple[float, float, float, float]
    confidence: float


# A detection as it crosses the pipe: dlib's rectangle (left, top, right, bottom, in pixels of the image searched)
class PendingFind:
    """A ``SecondDetector.find`` started by ``SecondDetector.start``; ``result`` finishes it."""

    def __init__(self, detector: SecondDetector, scales: list[tuple[float, np.ndarray]], helper: Helper | None):
        self._detector = detector
        self._scales = scales
        self._helper = helper  # searching the first scale; None: all are searched in this process
        self._found: list[BoxDetection] | None = None

    @property
    def sent(self) -> bool:
        """Whether the helper process searches the first scale (else all are searched in this process)."""
        return self._helper is not None

    def result(self) -> list[BoxDetection]:
        """Faces in the frame, best first (see ``SecondDetector.find``)."""
        if self._found is None:
            detector, helper = self._detector, self._helper
            try:
                here = [detector._search_here(image) for _, image in self._scales[1 if helper is not None else 0:]]
            except BaseException:
                detector.close()  # the helper's answer goes with it
                raise
            if helper is not None:
                answer = helper.receive()
                if detector._unfinished is self:
                    detector._unfinished = None
                if answer is None:  # the helper failed (or was closed): searched here, the same answer
                    answer = detector._search_here(self._scales[0][1])
                here.insert(0, answer)
            self._found = detector._kept([(scale, raw) for (scale, _), raws in zip(self._scales, here, strict=True)
                                          for raw in raws])
        return self._found


class SecondDetector:
    """dlib's CNN face detector, loaded on first use (and its helper process, started on first use; ``close``
    ends it, and so does leaving a ``with`` block)."""

    def __init__(self, options: SecondDetectorOptions | None = None, models_folder: str | Path | None = None):
        self.options = options or SecondDetectorOptions()
        self.models_folder = Path(models_folder) if models_folder is not None else default_models_folder()
        self._net: Any = None
        self._helper: Helper | None = None
        self._helper_failed = False
        self._finalizer: Any = None  # weakref.finalize ending the helper
        self._unfinished: PendingFind | None = None  # sent to the helper, its answer not read yet

    def __enter__(self) -> SecondDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Ends the helper process, if one runs (a later ``find`` starts another)."""
        self._unfinished = None  # its answer, if any, goes with the helper; its result() searches here
        if self._finalizer is not None:
            self._finalizer()  # runs stop once and detaches it
            self._finalizer = None
        self._helper = None

    def _load(self) -> Any:
        if self._net is None:
            self._net = load_net(self.models_folder)
        return self._net

    def _search_here(self, image: np.ndarray) -> list[RawDetection]:
        return search(self._load(), image)

    def _started_helper(self) -> Helper | None:
        if self._helper is not None and self._helper.closed:  # it failed and closed itself
            self.close()
            self._helper_failed = True
        if self._helper is None and self.options.helper and not self._helper_failed:
            try:
                self._helper = Helper(self.models_folder)
            except (OSError, RuntimeError, ValueError):  # cannot start one here: search in this process
                self._helper_failed = True
                return None
            self._finalizer = weakref.finalize(self, stop, self._helper.requests, self._helper.answers,
                                               self._helper.process)
        return self._helper

    def start(self, plate: np.ndarray) -> PendingFind:
        """Starts ``find`` on ``plate``: the first scale goes to the helper process (when there is one), to be
        searched while this process does other work; ``result()`` on the answer searches the other and merges.
        One find at a time: a ``start`` first finishes the one before if its ``result()`` was not asked for."""
        height, width = plate.shape[:2]
        k = min(1.0, math.sqrt(self.options.max_pixels / (width * height)))
        scales: list[tuple[float, np.ndarray]] = []
        for scale in (k, k / 2):
            if min(width, height) * scale < MIN_INPUT_SIDE:
                continue
            image = plate if scale == 1.0 else cv2.resize(plate, (round(width * scale), round(height * scale)),
                                                          interpolation=cv2.INTER_AREA)
            scales.append((scale, np.ascontiguousarray(image)))
        if self._unfinished is not None:  # its answer is still in the pipe (its caller raised before collecting)
            self._unfinished.result()
        helper = self._started_helper() if scales else None
        sent = helper is not None and helper.send(scales[0][1])
        pending = PendingFind(self, scales, helper if sent else None)
        self._unfinished = pending if sent else None
        return pending

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
        return self.start(plate).result()

    def _kept(self, raws: list[tuple[float, RawDetection]]) -> list[BoxDetection]:
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
