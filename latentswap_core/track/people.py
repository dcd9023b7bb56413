"""People, not positions: one ``person`` id for one human over a whole shot, through cuts, gaps and occlusions.

A track (``track_id``) is an unbroken run of one face within one cut, linked by position. Tracks become
people by what the faces look like: dlib's 128-d face descriptor (``latentswap_core.identity``) of a
sample of each track's faces with reliable landmarks, at least ``min_face_px`` tall, cut as aligned
crops from the plate while it streams past (``PeopleCollector.add``). Then (``assign_people``) tracks are
joined, closest first, by the distance of the groups' mean descriptors (the mean over all their described
faces), while it stays under ``same_person`` and no frame holds a face of both: one person is never in two
places at once. First, a track that starts where another of the same camera shot ended a few frames before joins it
(``continuation_gap``). A group with no usable descriptor (profiles, tiny faces) stays a person of its own.

dlib's own threshold for one person is 0.6 on single faces; means of several faces are steadier, so the
default joins below 0.5. On the real clip (tests/track/test_clip.py) the singer's tracks lie 0.2-0.35
apart, different people 0.6 and more.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from latentswap_core.align import alignment_transform, warp_to_aligned
from latentswap_core.identity import DlibIdentity
from latentswap_core.track.detect import SAME_FACE_OVERLAP, box_overlap
from latentswap_core.track.trackfile import ShotTrack, TrackedFace

DESCRIPTOR_CROP = 150  # px, dlib's own face chip size


@dataclass(frozen=True)
class PeopleOptions:
    """``same_person``: largest mean-descriptor distance joined into one person. ``continuation_gap``: a track
    that starts within this many frames after another ended, in the same camera shot, where the other's
    last box overlaps its first, continues it (the same face, lost and found again by the tracker, often
    by the other detector). ``min_face_px``: least
    landmark-box height of a described face. ``sample_every``: describe every K-th face of a track.
    ``enabled``: False gives each track its own person."""

    same_person: float = 0.5
    continuation_gap: int = 12
    min_face_px: float = 30.0
    sample_every: int = 3
    enabled: bool = True


class PeopleCollector:
    """Descriptors of tracked faces, gathered frame by frame while the plate is read."""

    def __init__(self, options: PeopleOptions | None = None, identity: DlibIdentity | None = None):
        self.options = options or PeopleOptions()
        self.identity = identity or DlibIdentity()
        self.descriptors: dict[int, list[np.ndarray]] = defaultdict(list)
        self._seen: dict[int, int] = defaultdict(int)

    def add(self, plate: np.ndarray, faces: list[TrackedFace]) -> None:
        """Describe a sample of ``faces`` (plate pixels) of the sRGB uint8 frame ``plate``."""
        if not self.options.enabled:
            return
        for face in faces:
            height = face.bbox[3] - face.bbox[1]
            if not face.landmarks_reliable or height < self.options.min_face_px:
                continue
            seen = self._seen[face.track_id]
            self._seen[face.track_id] += 1
            if seen % max(self.options.sample_every, 1):
                continue
            crop = warp_to_aligned(plate, alignment_transform(face.landmarks, "whole_face"), DESCRIPTOR_CROP)
            self.descriptors[face.track_id].append(self.identity.describe_aligned(crop, detect=False))


def assign_people(track: ShotTrack, descriptors: dict[int, list[np.ndarray]],
                  options: PeopleOptions | None = None) -> None:
    """Set ``person`` on every face of ``track`` (in place); people are numbered by first appearance."""
    options = options or PeopleOptions()
    groups: list[set[int]] = [{track_id} for track_id in track.track_ids]
    if options.enabled:
        together = _tracks_sharing_frames(track)
        groups = _join_continuations(track, groups, together, options.continuation_gap)
        means = {track_id: (np.mean(np.stack(vectors), axis=0), len(vectors))
                 for track_id, vectors in descriptors.items() if vectors}
        groups = _join(groups, means, together, options.same_person)
    person_of_track: dict[int, int] = {}
    for entry in track.frames:
        for face in entry.faces:
            if face.track_id not in person_of_track:
                group = next(group for group in groups if face.track_id in group)
                number = len(set(person_of_track.values()))
                for member in group:
                    person_of_track[member] = number
            face.person = person_of_track[face.track_id]


def _join(groups: list[set[int]], means: dict[int, tuple[np.ndarray, int]], together: set[frozenset[int]],
          limit: float) -> list[set[int]]:
    def centre(group: set[int]) -> np.ndarray | None:
        members = [means[track_id] for track_id in group if track_id in means]
        if not members:
            return None
        weights = np.array([count for _, count in members], dtype=np.float64)
        return np.average(np.stack([mean for mean, _ in members]), axis=0, weights=weights)

    def conflict(a: set[int], b: set[int]) -> bool:
        return any(frozenset((x, y)) in together for x in a for y in b)

    groups = [set(group) for group in groups]
    while True:
        best: tuple[float, int, int] | None = None
        centres = [centre(group) for group in groups]
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                centre_i, centre_j = centres[i], centres[j]
                if centre_i is None or centre_j is None:
                    continue
                distance = float(np.linalg.norm(centre_i - centre_j))
                if distance < limit and (best is None or distance < best[0]) and not conflict(groups[i], groups[j]):
                    best = (distance, i, j)
        if best is None:
            return groups
        _, i, j = best
        groups[i] |= groups.pop(j)


def _join_continuations(track: ShotTrack, groups: list[set[int]], together: set[frozenset[int]],
                        gap: int) -> list[set[int]]:
    first: dict[int, tuple[int, tuple[float, float, float, float]]] = {}
    last: dict[int, tuple[int, tuple[float, float, float, float]]] = {}
    for position, entry in enumerate(track.frames):
        for face in entry.faces:
            first.setdefault(face.track_id, (position, face.bbox))
            last[face.track_id] = (position, face.bbox)
    frames = [entry.frame for entry in track.frames]
    for ended, (end, end_box) in sorted(last.items(), key=lambda item: item[1][0]):
        for started, (start, start_box) in first.items():
            if not 0 < start - end <= gap + 1 or any(frames[end] < cut <= frames[start] for cut in track.cuts):
                continue
            a = next(group for group in groups if ended in group)
            b = next(group for group in groups if started in group)
            if a is b or box_overlap(end_box, start_box) <= SAME_FACE_OVERLAP:
                continue
            if any(frozenset((x, y)) in together for x in a for y in b):
                continue
            groups.remove(b)
            a |= b
    return groups


def _tracks_sharing_frames(track: ShotTrack) -> set[frozenset[int]]:
    pairs: set[frozenset[int]] = set()
    for entry in track.frames:
        ids = [face.track_id for face in entry.faces]
        pairs.update(frozenset((a, b)) for index, a in enumerate(ids) for b in ids[index + 1:] if a != b)
    return pairs
