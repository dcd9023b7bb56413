"""A few frames of a face the mesh followed without confidence, bridged from the frames around them.

A microphone or a hand over the mouth, or a quick blur, drops the Face Mesh's confidence for a few frames
while it still follows the face (its box moves on smoothly). Those faces are ``landmarks_reliable`` False, and
a swap that skipped them would show the plate's own face for those frames: the identity pops back and forth.
A run of at most ``max_gap`` such mesh faces of one track, with a reliable face of that track on both sides, is
bridged: its landmarks (and track transforms) are interpolated in time between those two faces. Faces of the
second detector (profiles, boxes, filled gaps) are never bridged: between two frontal faces they may be a turn
the frontal faces do not show. Tracks never span a cut, so nothing is bridged across one.
"""

from __future__ import annotations

from dataclasses import replace

from latentswap_core.track.detect import landmark_box
from latentswap_core.track.trackfile import ShotTrack, TrackedFace

BRIDGED = "bridged"
DEFAULT_BRIDGE_FRAMES = 4  # at 24-30 fps a sixth of a second: the head moves on about linearly


def bridge_unreliable(track: ShotTrack, max_gap: int = DEFAULT_BRIDGE_FRAMES) -> dict[tuple[int, int], TrackedFace]:
    """The bridged faces of ``track`` by (frame, track id), each with landmarks interpolated by frame number between
    the reliable faces of its track around it (at most ``max_gap`` frames between them), ``detector`` "bridged" and
    ``landmarks_reliable`` True. ``track`` is unchanged."""
    if max_gap < 0:
        raise ValueError(f"a bridge of {max_gap} frames is not allowed: use 0 (none) or more")
    bridged: dict[tuple[int, int], TrackedFace] = {}
    # per track id: its last reliable face (frame, face) and the unreliable mesh faces since, in consecutive entries
    before: dict[int, tuple[int, TrackedFace]] = {}
    runs: dict[int, list[tuple[int, TrackedFace]]] = {}
    for entry in track.frames:
        present = {face.track_id for face in entry.faces}
        for track_id in [track_id for track_id in before if track_id not in present]:
            del before[track_id]  # an entry without the face ends what a bridge may span
        for face in entry.faces:
            run = runs.pop(face.track_id, [])
            if face.landmarks_reliable:
                if face.track_id in before and run and entry.frame - before[face.track_id][0] - 1 <= max_gap:
                    first, start = before[face.track_id]
                    for frame, unsure in run:
                        t = (frame - first) / (entry.frame - first)
                        bridged[frame, face.track_id] = _between(start, face, unsure, t)
                before[face.track_id] = (entry.frame, face)
            elif face.detector == "mesh" and face.track_id in before:
                runs[face.track_id] = [*run, (entry.frame, face)]
            else:  # a second-detector face ends what a bridge may span
                before.pop(face.track_id, None)
    return bridged


def _between(before: TrackedFace, after: TrackedFace, unsure: TrackedFace, t: float) -> TrackedFace:
    landmarks = (1 - t) * before.landmarks + t * after.landmarks
    to_aligned = None
    if before.to_aligned is not None and after.to_aligned is not None:
        to_aligned = (1 - t) * before.to_aligned + t * after.to_aligned
    return replace(unsure, landmarks=landmarks, bbox=landmark_box(landmarks), to_aligned=to_aligned,
                   detector=BRIDGED, landmarks_reliable=True)
