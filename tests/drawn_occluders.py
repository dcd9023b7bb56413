"""The real clip's hand-drawn occluder mattes (tests/data/hamilton_occluders), shared by tests/test_occlusion.py and
benchmarks/occlusion_weight.py: which frames train and which judge, and the track that names the singer."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latentswap_core.io import FrameSource
from latentswap_core.track import TrackOptions, track_source
from latentswap_core.track.trackfile import ShotTrack

DRAWN = Path(__file__).parent / "data" / "hamilton_occluders"
TRAIN, HELD_OUT = (99, 131, 147, 171, 195), (115, 139, 163, 187, 203)


def track_the_singer(plate: FrameSource) -> ShotTrack:
    """The plate's track (open it on ``TRAIN + HELD_OUT``, in that order: the track of a few far-apart frames
    depends on it), with the singer, the largest face of every one of these frames, as person 0 and the others -1."""
    track = track_source(plate, TrackOptions())
    for entry in track.frames:
        singer = max(entry.faces, key=lambda face: float(np.ptp(face.landmarks, axis=0).max()))
        for face in entry.faces:
            face.person = 0 if face is singer else -1
    return track
