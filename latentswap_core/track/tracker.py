"""Tracking a whole shot: every frame's faces, stable track ids, then smoothing over the shot.

``track_source`` reads a ``FrameSource`` frame by frame, brings each frame into display-referred sRGB
(the models were trained on such photos), finds and marks the faces (``detect``), gives them track
ids (``associate``) and, once the shot is read, smooths each track's landmarks (``smooth``). Frames
without a face are kept, with no faces, and listed by ``ShotTrack.frames_without_face``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from latentswap_core import color
from latentswap_core.align import alignment_transform
from latentswap_core.io import FrameSource, Image
from latentswap_core.track.associate import AssociateOptions, TrackAssigner
from latentswap_core.track.detect import DetectOptions, FaceDetector, display_uint8, landmark_box
from latentswap_core.track.smooth import SmoothOptions, smooth_landmarks
from latentswap_core.track.trackfile import DEFAULT_FACE_TYPE, FrameFaces, ShotTrack, TrackedFace


@dataclass(frozen=True)
class TrackOptions:
    """Settings per stage, plus the plate's colourspace (None: ACEScg for float plates, sRGB for 8/16-bit
    images) and the OCIO config (None: $OCIO, else the built-in studio config)."""

    detect: DetectOptions = field(default_factory=DetectOptions)
    associate: AssociateOptions = field(default_factory=AssociateOptions)
    smooth: SmoothOptions = field(default_factory=SmoothOptions)
    colorspace: str | None = None
    ocio_config: str | None = None
    face_type: str = DEFAULT_FACE_TYPE


def display_rgb(image: Image, colorspace: str | None = None, ocio_config: str | None = None) -> np.ndarray:
    """The frame's RGB as display-referred sRGB uint8 (H x W x 3): integer images in sRGB pass straight
    through; anything else goes through OCIO into the working space and is clipped to [0, 1]."""
    space = colorspace or color.default_colorspace(image.pixels.dtype)
    if np.issubdtype(image.pixels.dtype, np.integer) and color.check_colorspace(
            space, ocio_config) == color.check_colorspace(color.WORKING_SPACE, ocio_config):
        rgb = image.pixels[:, :, :3] if image.channels[:3] == ("R", "G", "B") else image.rgb_float()
        return display_uint8(rgb)
    return display_uint8(color.working_rgb(image, space, ocio_config))


class ShotTracker:
    """Faces of a shot fed frame by frame (``add``), then ``finish``ed into a ShotTrack.

    ``continuous=False`` is for sets of unrelated photos: every face gets its own track id, nothing is
    predicted from one frame to the next and nothing is smoothed. ``timings`` holds seconds spent per
    stage (associate, smooth; the detector's own: detect, mesh) for benchmarks.
    """

    def __init__(self, options: TrackOptions | None = None, detector: FaceDetector | None = None,
                 continuous: bool = True):
        self.options = options or TrackOptions()
        self.continuous = continuous
        self._owns_detector = detector is None
        self.detector = detector or FaceDetector(self.options.detect)
        self.assigner = TrackAssigner(self.options.associate)
        self.frames: list[FrameFaces] = []
        self.timings: dict[str, float] = {"associate": 0.0, "smooth": 0.0, "align": 0.0}

    def __enter__(self) -> ShotTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_detector:
            self.detector.close()

    def add(self, frame: int, rgb: np.ndarray, offset: tuple[float, float] = (0.0, 0.0)) -> FrameFaces:
        """Track the faces of display-referred RGB ``rgb`` (uint8, or float in [0, 1]) as frame ``frame``.
        ``offset``: added to coordinates (data window origin within the display window)."""
        position = len(self.frames)
        shift = np.asarray(offset, dtype=np.float64)
        if not self.continuous:  # unrelated photos: each is its own shot
            self.assigner = TrackAssigner(self.options.associate, first_id=self.assigner.next_id)
        hints = self.assigner.hints(position)
        if shift.any():
            hints = [replace(hint, centre=(hint.centre[0] - shift[0], hint.centre[1] - shift[1])) for hint in hints]
        observations = self.detector.detect(rgb, hints)
        for face in observations:
            face.landmarks = face.landmarks + shift
            face.bbox = landmark_box(face.landmarks)
        started = time.perf_counter()
        ids = self.assigner.assign(position, observations)
        self.timings["associate"] += time.perf_counter() - started
        faces = [TrackedFace(track_id, face.score, face.landmark_confidence, face.bbox, face.landmarks)
                 for track_id, face in sorted(zip(ids, observations, strict=True), key=lambda pair: pair[0])]
        entry = FrameFaces(frame, faces)
        self.frames.append(entry)
        return entry

    def finish(self, source: str, width: int, height: int) -> ShotTrack:
        """The shot so far, each track smoothed (per ``options.smooth``), each face with its ``to_aligned``
        for ``options.face_type`` (from the smoothed landmarks)."""
        started = time.perf_counter()
        smoothing = self.options.smooth if self.continuous else replace(self.options.smooth, enabled=False)
        track = smooth_shot(ShotTrack(source, width, height, self.frames, self.options.face_type), smoothing)
        self.timings["smooth"] += time.perf_counter() - started
        started = time.perf_counter()
        for entry in track.frames:
            for face in entry.faces:
                face.to_aligned = alignment_transform(face.landmarks, track.face_type)
        self.timings["align"] += time.perf_counter() - started
        return track


def smooth_shot(track: ShotTrack, options: SmoothOptions | None = None) -> ShotTrack:
    """A copy of ``track`` with each track's landmarks smoothed over each run of consecutive frames."""
    options = options or SmoothOptions()
    frames = [FrameFaces(entry.frame, [replace(face) for face in entry.faces]) for entry in track.frames]
    result = replace(track, frames=frames)
    if not options.enabled:
        return result
    for track_id in result.track_ids:
        run: list[TrackedFace] = []
        for entry in frames:
            face = next((face for face in entry.faces if face.track_id == track_id), None)
            if face is not None:
                run.append(face)
                continue
            _smooth_run(run, options)
            run = []
        _smooth_run(run, options)
    return result


def _smooth_run(run: list[TrackedFace], options: SmoothOptions) -> None:
    if len(run) < 2:
        return
    landmarks = np.stack([face.landmarks for face in run])
    confidence = np.array([face.landmark_confidence for face in run])
    for face, smoothed in zip(run, smooth_landmarks(landmarks, confidence, options), strict=True):
        face.landmarks = smoothed
        face.bbox = landmark_box(smoothed)


def track_source(source: FrameSource, options: TrackOptions | None = None,
                 on_frame: Callable[[int, int], None] | None = None) -> ShotTrack:
    """Track every frame of ``source``; ``on_frame(frame, faces_found)`` after each frame. A source whose
    ``continuous`` is False (a folder of photos) has its frames tracked independently."""
    options = options or TrackOptions()
    width = height = 0
    with ShotTracker(options, continuous=source.continuous) as tracker:
        for frame in source.frames:
            image = source.read(frame)
            width, height = image.display_window[2:]
            entry = tracker.add(frame, display_rgb(image, options.colorspace, options.ocio_config),
                                image.data_offset)
            if on_frame is not None:
                on_frame(frame, len(entry.faces))
        return tracker.finish(source.description, width, height)
