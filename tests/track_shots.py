"""Small hand-made tracks the track tests share (fixtures live in conftest.py; helpers here)."""

from __future__ import annotations

import numpy as np

from latentswap_core.track import FrameFaces, ShotTrack, TrackedFace


def square_face(x: float, y: float, size: float = 100.0) -> np.ndarray:
    grid = np.stack(np.meshgrid(np.linspace(-0.5, 0.5, 22), np.linspace(-0.5, 0.5, 22)), -1).reshape(-1, 2)[:478]
    return grid * size + (x, y)



def shot_with_gap() -> ShotTrack:
    rng = np.random.default_rng(5)
    base = square_face(400, 300)
    frames = []
    for t in range(12):
        faces = []
        if t != 6:
            landmarks = base + (10.0 * t, 0.0) + rng.normal(0, 0.4, base.shape)
            faces.append(TrackedFace(0, 0.9, 0.8, (0, 0, 1, 1), landmarks, np.array([[0.01, 0, -3], [0, 0.01, -2]])))
        frames.append(FrameFaces(1001 + t, faces))
    return ShotTrack("plate.####.exr (1001-1012)", 1920, 1080, frames)
