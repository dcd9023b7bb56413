"""Tracking a whole shot: every frame's faces, stable track ids and people, then smoothing over the shot.

``track_source`` reads a ``FrameSource`` frame by frame, brings each frame into display-referred sRGB
(the models were trained on such photos), finds camera cuts (``cuts``), finds and marks the faces
(``detect``, and on a schedule ``second_detector`` for profiles and small faces), gives them track ids
that never span a cut (``associate``) and describes a sample of them (``people``). Once the shot is
read, short gaps in tracks are filled (``fill``), each track's landmarks are smoothed (``smooth``) and
tracks are joined into people. Frames without a face are kept, with no faces, and listed by
``ShotTrack.frames_without_face``.
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
from latentswap_core.track.crop import FaceFrame, cut
from latentswap_core.track.cuts import CutDetector, CutOptions
from latentswap_core.track.detect import (
    SAME_FACE_OVERLAP,
    DetectOptions,
    FaceDetector,
    FaceObservation,
    box_overlap,
    display_uint8,
    landmark_box,
)
from latentswap_core.track.fill import FillOptions, fill_gaps
from latentswap_core.track.people import PeopleCollector, PeopleOptions, assign_people
from latentswap_core.track.second_detector import (
    BoxDetection,
    SecondDetector,
    SecondDetectorOptions,
    landmarks_in_box,
)
from latentswap_core.track.smooth import SmoothOptions, smooth_landmarks
from latentswap_core.track.trackfile import DEFAULT_FACE_TYPE, FrameFaces, ShotTrack, TrackedFace

# Landmarks are trusted (``TrackedFace.landmarks_reliable``) from this landmark confidence up; the same floor
# as a faceset's (``ExtractOptions.min_landmark_confidence``).
RELIABLE_CONFIDENCE = 0.3


@dataclass(frozen=True)
class TrackOptions:
    """Settings per stage, plus the plate's colourspace (None: ACEScg for float plates, sRGB for 8/16-bit
    images) and the OCIO config (None: $OCIO, else the built-in studio config)."""

    detect: DetectOptions = field(default_factory=DetectOptions)
    second: SecondDetectorOptions = field(default_factory=SecondDetectorOptions)
    cuts: CutOptions = field(default_factory=CutOptions)
    associate: AssociateOptions = field(default_factory=AssociateOptions)
    fill: FillOptions = field(default_factory=FillOptions)
    smooth: SmoothOptions = field(default_factory=SmoothOptions)
    people: PeopleOptions = field(default_factory=PeopleOptions)
    colorspace: str | None = None
    ocio_config: str | None = None
    face_type: str = DEFAULT_FACE_TYPE


def display_rgb(image: Image, colorspace: str | None = None, ocio_config: str | None = None) -> np.ndarray:
    """The frame's RGB as display-referred sRGB uint8 (H x W x 3): integer images in sRGB pass straight
    through; anything else goes through OCIO into the working space, clipped to [0, 1] (``color.to_working_8bit``:
    within one code value of the exact conversion for finite values)."""
    space = colorspace or color.default_colorspace(image.pixels.dtype)
    rgb = image.pixels if image.channels[:3] == ("R", "G", "B") else image.rgb_float()
    if np.issubdtype(image.pixels.dtype, np.integer) and color.check_colorspace(
            space, ocio_config) == color.check_colorspace(color.WORKING_SPACE, ocio_config):
        return display_uint8(rgb[:, :, :3])
    return color.to_working_8bit(rgb, space, ocio_config)


class ShotTracker:
    """Faces of a shot fed frame by frame (``add``), then ``finish``ed into a ShotTrack.

    ``continuous=False`` is for sets of unrelated photos: every face gets its own track id, nothing is
    predicted from one frame to the next, filled or smoothed, and every photo is its own cut. ``timings``
    holds seconds spent per stage (cuts, second, associate, describe, fill, smooth, align; the detector's
    own: detect, mesh) for benchmarks. ``thumbnails``: per track, its clearest face as a 96 px crop (frame,
    crop), for reports.
    """

    def __init__(self, options: TrackOptions | None = None, detector: FaceDetector | None = None,
                 continuous: bool = True):
        self.options = options or TrackOptions()
        self.continuous = continuous
        self._owns_detector = detector is None
        self.detector = detector or FaceDetector(self.options.detect)
        self.assigner = TrackAssigner(self.options.associate)
        self.second = SecondDetector(self.options.second)
        self.cuts = CutDetector(self.options.cuts)
        self.people = PeopleCollector(self.options.people)
        self.frames: list[FrameFaces] = []
        self.cut_frames: list[int] = []
        self._shot_start = 0
        self._second_found: int | None = None  # position of the shot's first second-detector run that found a face
        self.thumbnails: dict[int, tuple[float, int, np.ndarray]] = {}
        self.timings: dict[str, float] = dict.fromkeys(
            ("cuts", "second", "associate", "describe", "fill", "smooth", "align"), 0.0)

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
        plate = display_uint8(rgb)
        started = time.perf_counter()
        new_shot = not self.continuous or self.cuts.is_cut(plate)
        self.timings["cuts"] += time.perf_counter() - started
        if new_shot:  # tracks never span a cut; unrelated photos are each their own shot
            if self.continuous:
                self.cut_frames.append(frame)
            self._shot_start = position
            self._second_found = None
            self.assigner = TrackAssigner(self.options.associate, first_id=self.assigner.next_id)
        hints = self.assigner.hints(position)
        if shift.any():
            hints = [replace(hint, centre=(hint.centre[0] - shift[0], hint.centre[1] - shift[1])) for hint in hints]
        since = None if self._second_found is None else position - self._second_found
        second_due = self.second.due(position - self._shot_start, since)
        observations = self.detector.detect(plate, hints)
        if second_due:
            started = time.perf_counter()
            added, found_any = self._second_faces(plate, observations, self.second.find(plate))
            observations += added
            if found_any and self._second_found is None:
                self._second_found = position
            self.timings["second"] += time.perf_counter() - started
        for face in observations:
            face.landmarks = face.landmarks + shift
            face.bbox = landmark_box(face.landmarks)
        started = time.perf_counter()
        ids = self.assigner.assign(position, observations)
        self.timings["associate"] += time.perf_counter() - started
        faces = [TrackedFace(track_id, face.score, face.landmark_confidence, face.bbox, face.landmarks,
                             detector=face.detector,
                             landmarks_reliable=face.detector != "box"
                             and face.landmark_confidence >= RELIABLE_CONFIDENCE)
                 for track_id, face in sorted(zip(ids, observations, strict=True), key=lambda pair: pair[0])]
        started = time.perf_counter()
        self.people.add(plate, [_unshifted(face, shift) for face in faces])
        self.timings["describe"] += time.perf_counter() - started
        self._keep_thumbnails(frame, plate, faces, shift)
        entry = FrameFaces(frame, faces)
        self.frames.append(entry)
        return entry

    def _second_faces(self, plate: np.ndarray, found: list[FaceObservation],
                      detections: list[BoxDetection]) -> tuple[list[FaceObservation], bool]:
        """Faces of the second detector's ``detections`` that ``found`` does not hold, marked by the mesh where
        it can, and whether it found any face at all."""
        added: list[FaceObservation] = []
        for detection in detections:
            x0, y0, x1, y1 = detection.box
            if any(box_overlap(face.bbox, detection.box) > SAME_FACE_OVERLAP for face in found + added):
                continue
            side = ((x1 - x0) * (y1 - y0)) ** 0.5
            score = min(detection.confidence, 1.0)
            marked = self.detector.mark(plate, FaceFrame(((x0 + x1) / 2, (y0 + y1) / 2), 0.0, 0.3 * side))
            if marked is not None:
                added.append(FaceObservation.from_landmarks(marked[0], score, marked[1], detector="cnn"))
            else:
                added.append(FaceObservation.from_landmarks(landmarks_in_box(detection.box), score, 0.0,
                                                            detector="box"))
        return added, bool(detections)

    def _keep_thumbnails(self, frame: int, plate: np.ndarray, faces: list[TrackedFace], shift: np.ndarray) -> None:
        for face in faces:
            quality = (face.bbox[3] - face.bbox[1]) * (0.1 + face.landmark_confidence)
            if face.track_id in self.thumbnails and self.thumbnails[face.track_id][0] >= quality:
                continue
            framing = FaceFrame.from_landmarks(face.landmarks - shift)
            framing = replace(framing, angle=0.0)
            crop = cut(plate, framing.crop_transform(THUMBNAIL_SIZE, 0.22 * THUMBNAIL_SIZE), THUMBNAIL_SIZE)
            self.thumbnails[face.track_id] = (quality, frame, crop)

    def finish(self, source: str, width: int, height: int) -> ShotTrack:
        """The shot so far: the second detector's gaps filled, each track smoothed (per ``options.smooth``),
        tracks joined into people, each face with its ``to_aligned`` for ``options.face_type`` (from the
        smoothed landmarks). The tracker's own frames are left as they were."""
        frames = [FrameFaces(entry.frame, list(entry.faces)) for entry in self.frames]
        shot = ShotTrack(source, width, height, frames, self.options.face_type, list(self.cut_frames))
        if self.continuous:
            started = time.perf_counter()
            fill_gaps(shot, self.options.fill)
            self.timings["fill"] += time.perf_counter() - started
        started = time.perf_counter()
        smoothing = self.options.smooth if self.continuous else replace(self.options.smooth, enabled=False)
        track = smooth_shot(shot, smoothing)
        self.timings["smooth"] += time.perf_counter() - started
        assign_people(track, self.people.descriptors, self.options.people)
        started = time.perf_counter()
        for entry in track.frames:
            for face in entry.faces:
                face.to_aligned = alignment_transform(face.landmarks, track.face_type)
        self.timings["align"] += time.perf_counter() - started
        return track


THUMBNAIL_SIZE = 96


def _unshifted(face: TrackedFace, shift: np.ndarray) -> TrackedFace:
    """``face`` in the coordinates of the frame's pixels (without the data window offset)."""
    if not shift.any():
        return face
    return replace(face, landmarks=face.landmarks - shift, bbox=landmark_box(face.landmarks - shift))


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
                 on_frame: Callable[[int, int], None] | None = None,
                 thumbnails: dict[int, tuple[float, int, np.ndarray]] | None = None) -> ShotTrack:
    """Track every frame of ``source``; ``on_frame(frame, faces_found)`` after each frame. A source whose
    ``continuous`` is False (a folder of photos) has its frames tracked independently. ``thumbnails``, when
    given, receives ``ShotTracker.thumbnails`` (for ``report.contact_sheet``)."""
    options = options or TrackOptions()
    width = height = 0
    with ShotTracker(options, continuous=source.continuous) as tracker:
        for frame in source.frames:
            image = source.read(frame)
            width, height = image.display_box[2:]
            entry = tracker.add(frame, display_rgb(image, options.colorspace, options.ocio_config),
                                image.data_offset)
            if on_frame is not None:
                on_frame(frame, len(entry.faces))
        if thumbnails is not None:
            thumbnails.update(tracker.thumbnails)
        return tracker.finish(source.description, width, height)
