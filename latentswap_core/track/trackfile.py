"""A shot's tracked faces (``ShotTrack``) and the track file that stores them (JSON, docs/track_file.md).

Coordinates are plate pixels: origin at the top-left of the display window, x right, y down, pixel
centres at +0.5. Files are written atomically, and reading checks the whole file, so a malformed one
fails at once with a one-line ``TrackFileError`` naming the file and the place.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from latentswap_core.errors import TrackFileError
from latentswap_core.io import write_text_atomically
from latentswap_core.io.json_file import read_json

if TYPE_CHECKING:
    from latentswap_core.io import FrameSource

VERSION = 2
READABLE_VERSIONS = (1, 2)
LANDMARK_COUNT = 478
DEFAULT_FACE_TYPE = "whole_face"
# What found a face: mediapipe's detector (or the track's prediction) marked by the mesh; the second
# detector marked by the mesh; the second detector with landmarks fitted into its box (the mesh saw no
# face); landmarks interpolated between two frames of the track.
DETECTORS = ("mesh", "cnn", "box", "filled")


@dataclass
class TrackedFace:
    """One face in one frame. ``to_aligned``: 2x3 from plate pixels to the aligned crop's [0, 1]^2, filled
    in by the align stage (None until then).

    ``track_id``: the unbroken run of this face within one cut. ``person``: one id for one human over the
    whole shot, across cuts and gaps (-1 until people are assigned). ``detector``: what found the face
    (see ``DETECTORS``). ``landmarks_reliable``: False when the landmarks are not measured by the mesh
    with confidence (profiles, tiny or blurred faces, boxes filled in between detections): such faces
    are kept and reported, never trusted for swapping or training.
    """

    track_id: int
    score: float
    landmark_confidence: float
    bbox: tuple[float, float, float, float]
    landmarks: np.ndarray
    to_aligned: np.ndarray | None = None
    person: int = -1
    detector: str = "mesh"
    landmarks_reliable: bool = True


@dataclass
class FrameFaces:
    frame: int
    faces: list[TrackedFace] = field(default_factory=list)


@dataclass
class ShotTrack:
    """Every frame of a shot, in order, with its faces (``faces == []``: no face in that frame).
    ``cuts``: frames where a new camera shot starts (the first frame is not listed)."""

    source: str
    width: int
    height: int
    frames: list[FrameFaces]
    face_type: str = DEFAULT_FACE_TYPE
    cuts: list[int] = field(default_factory=list)

    @property
    def frames_without_face(self) -> list[int]:
        return [entry.frame for entry in self.frames if not entry.faces]

    @property
    def track_ids(self) -> list[int]:
        return sorted({face.track_id for entry in self.frames for face in entry.faces})

    @property
    def people(self) -> list[int]:
        return sorted({face.person for entry in self.frames for face in entry.faces})

    def shot_ranges(self) -> list[tuple[int, int]]:
        """(first, last) frame of each camera shot between the cuts."""
        numbers = [entry.frame for entry in self.frames]
        if not numbers:
            return []
        starts = [numbers[0], *(cut for cut in self.cuts if numbers[0] < cut <= numbers[-1])]
        ends = [max(number for number in numbers if number < start) for start in starts[1:]] + [numbers[-1]]
        return list(zip(starts, ends, strict=True))

    def faces_at(self, frame: int) -> list[TrackedFace]:
        """The faces of ``frame``; none for a frame the track does not hold."""
        return next((entry.faces for entry in self.frames if entry.frame == frame), [])

    def face(self, frame: int, track_id: int) -> TrackedFace | None:
        return next((face for face in self.faces_at(frame) if face.track_id == track_id), None)


def to_json(track: ShotTrack) -> dict[str, Any]:
    """The track file's object; every face needs ``to_aligned``."""
    frames = []
    for entry in track.frames:
        faces = []
        for face in entry.faces:
            if face.to_aligned is None:
                raise ValueError(f"frame {entry.frame}, track {face.track_id}: no to_aligned; run the align stage "
                                 "before writing a track file")
            faces.append({
                "track_id": int(face.track_id),
                "person": int(face.person if face.person >= 0 else face.track_id),  # unassigned: its own
                "detector": face.detector,
                "landmarks_reliable": bool(face.landmarks_reliable),
                "score": round(float(face.score), 4),
                "landmark_confidence": round(float(face.landmark_confidence), 4),
                "bbox": [round(float(value), 3) for value in face.bbox],
                "landmarks": np.round(np.asarray(face.landmarks, dtype=np.float64), 3).tolist(),
                "to_aligned": [[float(f"{value:.9g}") for value in row] for row in np.asarray(face.to_aligned)],
            })
        frames.append({"frame": int(entry.frame), "faces": faces})
    return {"version": VERSION, "source": track.source, "width": int(track.width), "height": int(track.height),
            "face_type": track.face_type, "cuts": [int(frame) for frame in track.cuts], "frames": frames}


def write_track_file(path: str | os.PathLike[str], track: ShotTrack) -> None:
    """Write ``track`` to ``path`` atomically (one face per line, landmarks on it)."""
    document = to_json(track)
    frames = document.pop("frames")
    head = json.dumps(document)[:-1]
    lines = []
    for entry in frames:
        faces = ",\n".join("      " + json.dumps(face, separators=(",", ":")) for face in entry["faces"])
        body = f"[\n{faces}\n    ]" if faces else "[]"
        lines.append(f'    {{"frame": {entry["frame"]}, "faces": {body}}}')
    write_text_atomically(path, head + ', "frames": [\n' + ",\n".join(lines) + "\n]}\n")


def read_track_file(path: str | os.PathLike[str]) -> ShotTrack:
    """The ShotTrack in ``path``; TrackFileError (one line: file, place, fix) if it is not a valid track file."""
    path = Path(path)
    document = read_json(path, TrackFileError, "write it with `latentswap track`")
    return from_json(document, str(path))


def from_json(document: Any, name: str = "track file") -> ShotTrack:
    check = _Checker(name)
    check.that(isinstance(document, dict), "", "is not a JSON object")
    version = document.get("version")
    check.that(_is_int(version) and version in READABLE_VERSIONS, "version",
               f"is {version!r} but this LatentSwap reads versions {', '.join(map(str, READABLE_VERSIONS))}",
               fix="track the shot again with `latentswap track`")
    for key, kind in (("source", str), ("width", int), ("height", int), ("face_type", str), ("frames", list)):
        check.that(isinstance(document.get(key), kind) and not isinstance(document.get(key), bool), key,
                   f"is missing or not {'a string' if kind is str else 'an integer' if kind is int else 'a list'}")
    frames = []
    for index, entry in enumerate(document["frames"]):
        where = f"frames[{index}]"
        check.that(isinstance(entry, dict) and _is_int(entry.get("frame")) and isinstance(entry.get("faces"), list),
                   where, 'needs "frame" (integer) and "faces" (list)')
        frames.append(FrameFaces(entry["frame"], [_face(check, f"{where} (frame {entry['frame']}).faces[{number}]",
                                                        face, version) for number, face in enumerate(entry["faces"])]))
        ids = [face.track_id for face in frames[-1].faces]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        check.that(not twice, f"{where} (frame {entry['frame']})",
                   f"holds track id {twice[0] if twice else ''} more than once; one face per track per frame")
    numbers = [entry.frame for entry in frames]
    check.that(numbers == sorted(set(numbers)), "frames", "are not in increasing order without repeats")
    cuts = document.get("cuts", []) if version >= 2 else []
    check.that(isinstance(cuts, list) and all(_is_int(cut) for cut in cuts) and cuts == sorted(set(cuts)), "cuts",
               "is not a list of frame numbers in increasing order")
    return ShotTrack(document["source"], document["width"], document["height"], frames, document["face_type"],
                     list(cuts))


def read_track_for(path: str | os.PathLike[str], plate: FrameSource) -> ShotTrack:
    """The track file at ``path`` for ``plate``: refused when it was made on plates of another resolution (its
    coordinates would put the faces in the wrong place)."""
    track = read_track_file(path)
    width, height = plate.display_size()
    if (track.width, track.height) != (width, height):
        raise TrackFileError(f"{path}: made on {track.width}x{track.height} plates but {plate.description} is "
                             f"{width}x{height}; use the track file of this plate or track it again with "
                             "`latentswap track`")
    return track


def _face(check: _Checker, where: str, face: Any, version: int) -> TrackedFace:
    check.that(isinstance(face, dict), where, "is not an object")
    keys: tuple[str, ...] = ("track_id", "score", "landmark_confidence", "bbox", "landmarks", "to_aligned")
    if version >= 2:
        keys += ("person", "detector", "landmarks_reliable")
    for key in keys:
        check.that(key in face, where, f'has no "{key}"')
    check.that(_is_int(face["track_id"]) and face["track_id"] >= 0, f"{where}.track_id", "is not a whole number >= 0")
    for key in ("score", "landmark_confidence"):
        check.that(_is_number(face[key]) and 0.0 <= face[key] <= 1.0, f"{where}.{key}", "is not a number in [0, 1]")
    bbox = _array(check, f"{where}.bbox", face["bbox"], (4,))
    landmarks = _array(check, f"{where}.landmarks", face["landmarks"], (LANDMARK_COUNT, 2))
    to_aligned = _array(check, f"{where}.to_aligned", face["to_aligned"], (2, 3))
    check.that(1e-12 < abs(float(np.linalg.det(to_aligned[:, :2]))) < 1e12, f"{where}.to_aligned",
               "is singular or out of scale: it must map the face's plate pixels onto the aligned crop [0, 1]^2")
    if version >= 2:
        check.that(_is_int(face["person"]) and face["person"] >= 0, f"{where}.person", "is not a whole number >= 0")
        check.that(face["detector"] in DETECTORS, f"{where}.detector", f"is not one of {', '.join(DETECTORS)}")
        check.that(isinstance(face["landmarks_reliable"], bool), f"{where}.landmarks_reliable", "is not true or false")
        person, detector, reliable = face["person"], face["detector"], face["landmarks_reliable"]
    else:  # version 1: positions only; each track its own person, landmarks trusted as they were then
        person, detector, reliable = face["track_id"], "mesh", True
    return TrackedFace(face["track_id"], float(face["score"]), float(face["landmark_confidence"]),
                       (float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3])), landmarks, to_aligned,
                       person, detector, reliable)


def _array(check: _Checker, where: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.shape != shape:
        check.fail(where, f"is not {' x '.join(map(str, shape))} numbers")
    check.that(bool(np.isfinite(array).all()), where, "holds a value that is not a finite number")
    return array


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


_REWRITE = "fix the file or write it again with `latentswap track`"


class _Checker:
    def __init__(self, name: str):
        self.name = name

    def that(self, condition: bool, where: str, problem: str, fix: str = _REWRITE) -> None:
        if not condition:
            self.fail(where, problem, fix)

    def fail(self, where: str, problem: str, fix: str = _REWRITE) -> NoReturn:
        place = f" {where}" if where else ""
        raise TrackFileError(f"{self.name}:{place} {problem}; {fix}")
