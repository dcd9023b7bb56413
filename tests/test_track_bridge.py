"""Bridging: a short run of faces the mesh followed without confidence takes landmarks interpolated from the
reliable faces of its track on both sides, and nothing else is bridged."""

from __future__ import annotations

import numpy as np
import pytest

from latentswap_core.track.bridge import BRIDGED, bridge_unreliable
from latentswap_core.track.trackfile import FrameFaces, ShotTrack, TrackedFace

POINTS = np.array([[0.0, 0.0], [10.0, 0.0], [5.0, 12.0]])


def face(frame: int, track_id: int = 0, reliable: bool = True, detector: str = "mesh") -> TrackedFace:
    """A face moving 3 px right and 1 px down a frame, rotating a little (its transform moves too)."""
    landmarks = POINTS + [100.0 + 3 * frame + 200 * track_id, 50.0 + frame]
    angle = 0.01 * frame
    to_aligned = np.array([[np.cos(angle), -np.sin(angle), 0.1 * frame], [np.sin(angle), np.cos(angle), 0.0]])
    return TrackedFace(track_id, 0.9, 0.8 if reliable else 0.2, (0.0, 0.0, 1.0, 1.0), landmarks, to_aligned,
                       person=track_id, detector=detector, landmarks_reliable=reliable)


def shot(rows: dict[int, list[TrackedFace]]) -> ShotTrack:
    return ShotTrack("plate.####.exr", 640, 360, [FrameFaces(frame, faces) for frame, faces in sorted(rows.items())])


def test_a_short_run_is_interpolated_between_the_reliable_faces_around_it() -> None:
    rows = {frame: [face(frame, reliable=frame not in (3, 4, 5))] for frame in range(1, 8)}
    unsure = {frame: rows[frame][0] for frame in (3, 4, 5)}
    for frame in unsure:  # what the mesh marked there: pulled off by an occluder
        unsure[frame].landmarks = unsure[frame].landmarks + [0.0, 9.0]
    bridged = bridge_unreliable(shot(rows), max_gap=3)
    assert sorted(bridged) == [(3, 0), (4, 0), (5, 0)]
    for frame in (3, 4, 5):
        t = (frame - 2) / 4
        expected = face(frame)
        got = bridged[frame, 0]
        assert got.detector == BRIDGED and got.landmarks_reliable and got.person == 0
        np.testing.assert_allclose(got.landmarks, expected.landmarks, atol=1e-9)  # linear motion: exact
        np.testing.assert_allclose(got.to_aligned, (1 - t) * face(2).to_aligned + t * face(6).to_aligned)
        assert got.bbox == (expected.landmarks[:, 0].min(), expected.landmarks[:, 1].min(),
                            expected.landmarks[:, 0].max(), expected.landmarks[:, 1].max())
        assert not unsure[frame].landmarks_reliable and unsure[frame].detector == "mesh"  # the track is unchanged


def test_frames_the_track_does_not_hold_count_by_frame_number() -> None:
    rows = {1: [face(1)], 4: [face(4, reliable=False)], 7: [face(7)]}  # tracked on every third frame
    bridged = bridge_unreliable(shot(rows), max_gap=5)
    np.testing.assert_allclose(bridged[4, 0].landmarks, face(4).landmarks, atol=1e-9)
    assert bridge_unreliable(shot(rows), max_gap=4) == {}  # 5 frames lie between 1 and 7


@pytest.mark.parametrize("case", ["too long", "no reliable face after", "no reliable face before", "a profile box",
                                  "a frame without the face", "bridging off"])
def test_what_is_not_bridged(case: str) -> None:
    rows = {frame: [face(frame, reliable=frame not in (3, 4))] for frame in range(1, 7)}
    max_gap = 2
    if case == "too long":
        max_gap = 1
    elif case == "no reliable face after":
        for frame in (5, 6):
            rows[frame] = [face(frame, reliable=False)]
    elif case == "no reliable face before":
        for frame in (1, 2):
            rows[frame] = [face(frame, reliable=False)]
    elif case == "a profile box":
        rows[4] = [face(4, reliable=False, detector="box")]
    elif case == "a frame without the face":
        rows[4] = []
    elif case == "bridging off":
        max_gap = 0
    bridged = bridge_unreliable(shot(rows), max_gap=max_gap)
    assert not [key for key in bridged if key[0] in (3, 4)], case


def test_each_track_is_bridged_from_its_own_faces() -> None:
    rows = {frame: [face(frame, 0, reliable=frame != 3), face(frame, 1, reliable=frame not in (2, 3, 4, 5))]
            for frame in range(1, 7)}
    bridged = bridge_unreliable(shot(rows), max_gap=3)
    assert sorted(bridged) == [(3, 0)]  # track 1's run of 4 is too long
    np.testing.assert_allclose(bridged[3, 0].landmarks, face(3, 0).landmarks, atol=1e-9)
