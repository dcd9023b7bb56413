"""Cuts, filled gaps and people on small made-up shots (the real clip is in test_track_clip.py)."""

from __future__ import annotations

import cv2
import numpy as np
from track_shots import shot_with_gap

from latentswap_core.track.cuts import CutDetector, CutOptions
from latentswap_core.track.fill import FillOptions, fill_gaps
from latentswap_core.track.people import assign_people
from latentswap_core.track.trackfile import FrameFaces, ShotTrack, TrackedFace


def test_a_cut_is_a_jump_against_the_shots_own_motion():
    rng = np.random.default_rng(0)
    first, second = (cv2.resize(rng.integers(0, 255, (3, 4, 3), dtype=np.uint8), (160, 90),
                                interpolation=cv2.INTER_CUBIC) for _ in range(2))
    detector = CutDetector()
    cuts = []
    for position in range(30):
        base = first if position < 17 else second
        moving = np.roll(base, position, axis=1)  # a slow pan: changes every frame, never a cut
        if detector.is_cut(moving):
            cuts.append(position)
    assert cuts == [17]
    assert not any(CutDetector(CutOptions(enabled=False)).is_cut(image) for image in (first, second, first))


def test_the_second_detectors_gaps_are_filled_never_trusted():
    track = shot_with_gap()  # track 0 in 1001-1012 but 1007
    assert fill_gaps(track) == 0  # between two Face Mesh faces: the mesh looked there and saw none
    track.face(1006, 0).detector = "box"
    assert fill_gaps(track) == 1
    filled = track.face(1007, 0)
    assert filled.detector == "filled" and not filled.landmarks_reliable
    expected = (track.face(1006, 0).landmarks + track.face(1008, 0).landmarks) / 2
    assert np.allclose(filled.landmarks, expected)
    track = shot_with_gap()
    track.face(1006, 0).detector = "cnn"
    assert fill_gaps(track, FillOptions(max_gap=0)) == 0


def _face(track_id: int, x: float) -> TrackedFace:
    landmarks = np.array([[x, 100.0], [x + 50.0, 150.0]])
    return TrackedFace(track_id, 0.9, 0.8, (x, 100.0, x + 50.0, 150.0), landmarks)


def test_people_join_across_cuts_by_descriptor_but_never_two_faces_of_one_frame():
    # Shot 1 (frames 1-3): tracks 0 and 1 side by side. Shot 2 (4-6): track 2. Shot 3 (7-9): track 3 and 4.
    frames = [FrameFaces(frame, [_face(0, 100), _face(1, 300)]) for frame in (1, 2, 3)]
    frames += [FrameFaces(frame, [_face(2, 200)]) for frame in (4, 5, 6)]
    frames += [FrameFaces(frame, [_face(3, 100), _face(4, 300)]) for frame in (7, 8, 9)]
    track = ShotTrack("shot", 640, 360, frames, cuts=[4, 7])
    a, b = np.zeros(128), np.zeros(128)
    b[0] = 1.0
    close = a.copy()
    close[1] = 0.3
    # 0, 2 and 3 look alike; 1 and 4 look alike; 0 and 1 share frames, so they could never be one person anyway.
    descriptors = {0: [a], 1: [b], 2: [close], 3: [a, close], 4: [b]}
    assign_people(track, descriptors)
    person = {face.track_id: face.person for entry in track.frames for face in entry.faces}
    assert person[0] == person[2] == person[3] != person[1] == person[4]
    assert person[0] == 0 and person[1] == 1  # numbered by first appearance
    # A look-alike in the same frames stays apart: make track 1 look like 0.
    assign_people(track, {**descriptors, 1: [a]})
    person = {face.track_id: face.person for entry in track.frames for face in entry.faces}
    assert person[0] != person[1]


def test_a_track_lost_and_found_again_in_the_same_shot_is_one_person():
    frames = [FrameFaces(1, [_face(0, 100)]), FrameFaces(2, []), FrameFaces(3, [_face(1, 104)]),
              FrameFaces(4, [_face(2, 400)])]
    track = ShotTrack("shot", 640, 360, frames)
    assign_people(track, {})
    person = {face.track_id: face.person for entry in track.frames for face in entry.faces}
    assert person[0] == person[1] != person[2]
    track.cuts = [3]  # not across a cut
    assign_people(track, {})
    person = {face.track_id: face.person for entry in track.frames for face in entry.faces}
    assert person[0] != person[1]
