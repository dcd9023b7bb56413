"""Faceset extraction: tracked faces -> aligned crops and masks, keeping only faces worth training on.

Faces are left out, and listed in the faceset's ``skipped`` with the reason, when the track marks their
landmarks as untrustworthy (``unreliable_landmarks``: profiles, tiny faces, faces filled in between
detections), when the detector is unsure (``low_confidence``), when the crop is much softer than the
shot's typical face (``blurred``: sharpness below ``blur_ratio`` x the median, or below an absolute
floor), or when it nearly repeats the last kept face of its track (``duplicate``: mean difference of
32 x 32 grey thumbnails).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import TYPE_CHECKING, Protocol

import numpy as np

from latentswap_core import color
from latentswap_core.align import (
    FACE_TYPES,
    aligned_face_mask,
    alignment_transform,
    from_data_window,
    transform_points,
    warp_to_aligned,
)
from latentswap_core.errors import FacesetError
from latentswap_core.face_selection import FaceSelection
from latentswap_core.faceset import Faceset, FacesetWriter, sharpness, thumbnail
from latentswap_core.io import FrameSource

if TYPE_CHECKING:
    from latentswap_core.track import ShotTrack


class TrackedFace(Protocol):
    track_id: int
    person: int
    landmarks_reliable: bool
    score: float
    landmark_confidence: float
    bbox: tuple[float, float, float, float]
    landmarks: np.ndarray


@dataclass(frozen=True)
class ExtractOptions:
    size: int = 256
    face_type: str = "whole_face"
    faces: FaceSelection = FaceSelection()     # by track id or person; default: every face
    every: int = 1                             # every K-th frame of the source
    min_score: float = 0.5
    min_landmark_confidence: float = 0.3
    blur_ratio: float = 0.2
    min_sharpness: float = 3.0
    duplicate_difference: float = 0.004
    mask_feather: float = 0.02                 # fraction of the crop's side
    colorspace: str | None = None
    ocio_config: str | None = None

    def __post_init__(self) -> None:
        if not (128 <= self.size <= 1024 and self.size % 64 == 0):
            raise FacesetError(f"face size {self.size} is not supported; use 128 to 1024 in steps of 64")
        if self.face_type not in FACE_TYPES:
            raise FacesetError(f"unknown face type {self.face_type!r}; use one of {', '.join(FACE_TYPES)}")
        if self.every < 1:
            raise FacesetError(f"--every {self.every}: take every 1st, 2nd, ... frame (1 or more)")


def extract_faceset(
    source: FrameSource,
    tracked: Iterable[tuple[int, Sequence[TrackedFace]]],
    output: str | os.PathLike[str],
    options: ExtractOptions,
    on_frame: Callable[[int, int], None] | None = None,
    track_name: str | None = None,
) -> Faceset:
    """Write the faceset of ``source`` at ``output`` from its tracked faces (frame, faces) in shot order.

    ``on_frame(frame, kept_so_far)`` is called after each frame looked at. A track id or person that
    ``options.faces`` asks for but no face of ``tracked`` carries is refused before anything is written;
    ``track_name`` names the track in that message (default: the faces tracked in the source).
    """
    tracked = list(tracked)
    options.faces.check((face for _, faces in tracked for face in faces),
                        track_name or f"the faces tracked in {source.description}")
    output = Path(output)
    if (output / "faceset.json").exists() or (output / "faces").is_dir() and any((output / "faces").iterdir()):
        raise FacesetError(f"{output}: a faceset is already there; choose a new folder or delete it first")
    existed = output.is_dir()
    fresh = not output.exists() or (existed and not any(output.iterdir()))
    try:
        return _extract(source, tracked, output, options, on_frame)
    except BaseException:
        if fresh:  # a faceset cut short must not look like a finished one (train would take it): remove it
            shutil.rmtree(output, ignore_errors=True)
            if existed:
                output.mkdir()
        raise


def _extract(source: FrameSource, tracked: Iterable[tuple[int, Sequence[TrackedFace]]], output: Path,
             options: ExtractOptions, on_frame: Callable[[int, int], None] | None) -> Faceset:
    writer = FacesetWriter(output, options.size, options.face_type, source.description)
    last_thumbnail: dict[int, np.ndarray] = {}
    try:
        for index, (frame, faces) in enumerate(tracked):
            chosen = [face for face in faces if options.faces.matches(face)]
            if index % options.every == 0 and chosen:
                image = source.read(frame)
                rgb = color.working_rgb(image, options.colorspace, options.ocio_config)
                for face in chosen:
                    _add_face(writer, rgb, image.data_offset, frame, str(source.file_of(frame)), face, options,
                              last_thumbnail)
            if on_frame is not None:
                on_frame(frame, len(writer.faceset.faces))
    finally:
        _drop_blurred(writer.faceset, options)
        faceset = writer.close()
    if not faceset.faces:
        reasons = sorted({entry["reason"] for entry in faceset.skipped}) or ["no face found"]
        raise FacesetError(f"{source.description}: no face was kept ({', '.join(reasons)}), so no faceset was "
                           f"written to {output}; check the footage, --track-id or --person and the frame range")
    return faceset


def track_photos(photos: Sequence[str | os.PathLike[str]], options: ExtractOptions) -> ShotTrack:
    """The faces of each photo (each tracked on its own), as ``faceset_from_photos`` takes them."""
    from latentswap_core.track import TrackOptions, track_source

    return track_source(_photo_source(photos), TrackOptions(colorspace=options.colorspace,
                                                            ocio_config=options.ocio_config))


def _photo_source(photos: Sequence[str | os.PathLike[str]]) -> FrameSource:
    from latentswap_core.io.source import ImageListSource

    return ImageListSource([Path(photo) for photo in photos], f"{len(photos)} photos")


def faceset_from_photos(photos: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str],
                        options: ExtractOptions, track: ShotTrack | None = None) -> Faceset:
    """A faceset of one person from portraits: the largest face of each photo. ``track``: the photos' faces as
    ``track_photos`` found them (kept in a track file, say, on a machine without the face detector); default:
    tracked now."""
    source = _photo_source(photos)
    track = track if track is not None else track_photos(photos, options)

    def largest(faces: Sequence[TrackedFace]) -> list[TrackedFace]:
        areas = [(face.bbox[2] - face.bbox[0]) * (face.bbox[3] - face.bbox[1]) for face in faces]
        return [faces[int(np.argmax(areas))]] if faces else []

    return extract_faceset(source, [(entry.frame, largest(entry.faces)) for entry in track.frames], output, options)


def _add_face(writer: FacesetWriter, rgb: np.ndarray, data_offset: tuple[int, int], frame: int, source_file: str,
              face: TrackedFace, options: ExtractOptions, last_thumbnail: dict[int, np.ndarray]) -> None:
    if not face.landmarks_reliable:  # an aligned crop from guessed landmarks would teach the model a wrong face
        writer.skip(frame, face.track_id, "unreliable_landmarks")
        return
    if face.score < options.min_score or face.landmark_confidence < options.min_landmark_confidence:
        writer.skip(frame, face.track_id, "low_confidence", score=round(float(face.score), 3),
                    landmark_confidence=round(float(face.landmark_confidence), 3))
        return
    to_aligned = alignment_transform(face.landmarks, options.face_type)
    # Landmarks are plate (display-window) pixels; the pixels held start at the data window's corner.
    data_to_aligned = from_data_window(to_aligned, data_offset)
    crop = np.clip(warp_to_aligned(rgb, data_to_aligned, options.size), 0.0, 1.0)
    mask = aligned_face_mask(face.landmarks, to_aligned, options.size, options.face_type, options.mask_feather)
    small = thumbnail(crop)
    previous = last_thumbnail.get(face.track_id)
    if previous is not None and float(np.abs(small - previous).mean()) < options.duplicate_difference:
        writer.skip(frame, face.track_id, "duplicate")
        return
    last_thumbnail[face.track_id] = small
    writer.add(
        crop, mask,
        frame=frame, source_file=source_file, track_id=int(face.track_id),
        to_aligned=to_aligned.tolist(),
        landmarks=np.round(transform_points(face.landmarks, to_aligned), 6).tolist(),
        score=round(float(face.score), 4), landmark_confidence=round(float(face.landmark_confidence), 4),
        sharpness=round(sharpness(crop, mask), 3),
    )


def _drop_blurred(faceset: Faceset, options: ExtractOptions) -> None:
    """Remove faces much softer than the faceset's median (motion blur, defocus) once all are known."""
    if not faceset.faces:
        return
    threshold = max(options.min_sharpness, options.blur_ratio * median(entry.sharpness for entry in faceset.faces))
    kept = []
    for entry in faceset.faces:
        if entry.sharpness >= threshold:
            kept.append(entry)
            continue
        for name in (entry.file, entry.mask):
            (faceset.folder / name).unlink(missing_ok=True)
        faceset.skipped.append({"frame": entry.frame, "track_id": entry.track_id, "reason": "blurred",
                                "sharpness": entry.sharpness, "threshold": round(threshold, 3)})
    faceset.faces = kept
