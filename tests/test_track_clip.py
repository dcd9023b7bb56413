"""Tracking real footage: ../shared/data/video/short_hamilton_clip.mp4 (275 frames, 640x360, see its SOURCES.md).

Labelled by looking at every frame (contact sheets of frames 1-275, and frame by frame around each cut):
- frames 1-20: a wide stage shot, the singer standing (face ~40 px) and a pianist at the left (~23 px);
- cut at 21: a profile close-up of a curly-haired man, moving fast (frame 21 motion-blurred), to 82, while
  the camera drifts over the audience behind him;
- cut at 83: the singer with a microphone, facing the camera, hands in front of the face at times, to 211;
- cut at 212: the audience, four or five faces 40-60 px tall, most turned to the stage, to 275.
The singer of 83-211 is the man standing on stage in 1-20 (same suit, same face on the contact sheet), so
his person may hold those frames too, but none of 21-82 or 212-275.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from latentswap_core.align import alignment_transform, warp_to_aligned
from latentswap_core.identity import SAME_PERSON_DISTANCE, DlibIdentity
from latentswap_core.io import open_source
from latentswap_core.track import TrackOptions, display_rgb, track_source

CUTS = [21, 83, 212]
SINGER = (83, 211)
PROFILE = (21, 29)
OTHER_PEOPLE = [(21, 82), (212, 275)]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clip(shared_dir):
    return shared_dir / "data" / "video" / "short_hamilton_clip.mp4"


@pytest.fixture(scope="module")
def clip_track(clip):
    source = open_source(str(clip))
    try:
        return track_source(source, TrackOptions())
    finally:
        source.close()


def test_the_cuts_are_found(clip_track):
    assert clip_track.cuts == CUTS


def test_no_track_spans_a_cut(clip_track):
    shots = clip_track.shot_ranges()
    for track_id in clip_track.track_ids:
        frames = [entry.frame for entry in clip_track.frames if clip_track.face(entry.frame, track_id)]
        assert any(first <= min(frames) and max(frames) <= last for first, last in shots), (track_id, frames)


def test_the_singer_is_one_person_with_no_other_face(clip_track):
    largest = {}
    for entry in clip_track.frames:
        if SINGER[0] <= entry.frame <= SINGER[1] and entry.faces:
            largest[entry.frame] = max(entry.faces, key=lambda face: face.bbox[3] - face.bbox[1])
    assert len(largest) >= 0.95 * (SINGER[1] - SINGER[0] + 1)
    people = {face.person for face in largest.values()}
    assert len(people) == 1, people
    singer = people.pop()
    for first, last in OTHER_PEOPLE:
        assert not [entry.frame for entry in clip_track.frames if first <= entry.frame <= last
                    for face in entry.faces if face.person == singer]


def test_profile_close_up_frames_have_a_face(clip_track):
    for frame in range(PROFILE[0], PROFILE[1] + 1):
        faces = clip_track.faces_at(frame)
        assert faces, frame
        assert all(0.0 <= face.landmark_confidence <= 1.0 for face in faces)
    profiles = [face for frame in range(*PROFILE) for face in clip_track.faces_at(frame)]
    assert not any(face.landmarks_reliable for face in profiles if face.detector == "box")


def test_no_person_holds_two_people(clip_track, clip):
    """Re-described independently: every two tracks joined into one person look like one person to dlib."""
    identity = DlibIdentity()
    source = open_source(str(clip))
    samples: dict[int, list[tuple[int, np.ndarray]]] = {}
    for entry in clip_track.frames[::4]:
        for face in entry.faces:
            if face.landmarks_reliable and face.bbox[3] - face.bbox[1] >= 30:
                samples.setdefault(face.track_id, []).append((entry.frame, face.landmarks))
    descriptors = {}
    try:
        for track_id, faces in samples.items():
            vectors = []
            for frame, landmarks in faces[:6]:
                plate = display_rgb(source.read(frame))
                crop = warp_to_aligned(plate, alignment_transform(landmarks, "whole_face"), 150)
                vectors.append(identity.describe_aligned(crop, detect=False))
            descriptors[track_id] = np.mean(vectors, axis=0)
    finally:
        source.close()
    checked = 0
    for person in clip_track.people:
        tracks = sorted({face.track_id for entry in clip_track.frames for face in entry.faces
                         if face.person == person and face.track_id in descriptors})
        for a, b in combinations(tracks, 2):
            assert np.linalg.norm(descriptors[a] - descriptors[b]) < SAME_PERSON_DISTANCE, (person, a, b)
            checked += 1
    assert checked >= 1  # the singer: the stage shot and the close-up shot at least
