"""The second detector's schedule filled in: a track's gaps between its frames, interpolated.

The second detector (profiles, small faces) runs only every few frames, and the Face Mesh cannot follow
most of what it finds, so its faces come and go with its schedule. A track seen on both sides of a gap of
at most ``max_gap`` frames, where one side is a second-detector face (``cnn`` or ``box``), is filled in
(``detector`` "filled") unless another face is there. Filled landmarks are guesses: never
``landmarks_reliable``. Gaps between two Face Mesh faces are not filled: the tracker already looked for
the face at its predicted place there and the mesh did not see it (a face that left, or is covered).
Tracks never span a cut, so nothing is filled across one.
"""

from __future__ import annotations

from dataclasses import dataclass

from latentswap_core.track.detect import SAME_FACE_OVERLAP, box_overlap, landmark_box
from latentswap_core.track.trackfile import ShotTrack, TrackedFace

FILLED = "filled"


SECOND_DETECTOR = ("cnn", "box")


@dataclass(frozen=True)
class FillOptions:
    max_gap: int = 8


def fill_gaps(track: ShotTrack, options: FillOptions | None = None) -> int:
    """Fill the short gaps of every track of ``track`` in place; the number of faces added."""
    options = options or FillOptions()
    added = 0
    last_seen: dict[int, tuple[int, TrackedFace]] = {}
    for position, entry in enumerate(track.frames):
        for face in list(entry.faces):
            previous = last_seen.get(face.track_id)
            last_seen[face.track_id] = (position, face)
            if previous is None or not 1 < position - previous[0] <= options.max_gap + 1:
                continue
            start, before = previous
            if before.detector not in SECOND_DETECTOR and face.detector not in SECOND_DETECTOR:
                continue
            gap = position - start - 1
            for step in range(1, gap + 1):
                t = step / (gap + 1)
                landmarks = (1 - t) * before.landmarks + t * face.landmarks
                box = landmark_box(landmarks)
                held = track.frames[start + step].faces
                if any(box_overlap(box, other.bbox) > SAME_FACE_OVERLAP for other in held):
                    continue  # another track holds the face there
                track.frames[start + step].faces.append(TrackedFace(
                    face.track_id, min(before.score, face.score),
                    min(before.landmark_confidence, face.landmark_confidence), box, landmarks,
                    person=face.person, detector=FILLED, landmarks_reliable=False))
                added += 1
    for entry in track.frames:
        entry.faces.sort(key=lambda face: face.track_id)
    return added
