"""Grain matched to the plate (blend/grain.py): the swapped face gets the plate's grain it lacks, no more."""

from __future__ import annotations

import numpy as np
import pytest

from latentswap_core.blend.grain import grain_seed, grain_spread, matched_grain

SPREAD = np.array([0.01, 0.02, 0.03], np.float32)  # a plate's grain, per channel (R finer than B, as film)


def smooth_picture(size: int = 200) -> np.ndarray:
    """A soft gradient: no fine detail of its own."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    return np.stack([0.3 + 0.2 * x, 0.25 + 0.1 * y, 0.2 + 0.1 * x * y], axis=2)


def face_over(picture: np.ndarray) -> np.ndarray:
    """A disc of ``picture`` premultiplied by its alpha (1 inside, 0 outside)."""
    size = picture.shape[0]
    y, x = np.mgrid[0:size, 0:size]
    alpha = ((x - size / 2) ** 2 + (y - size / 2) ** 2 < (0.4 * size) ** 2).astype(np.float32)
    return np.concatenate([picture * alpha[:, :, None], alpha[:, :, None]], axis=2)


def test_a_smooth_face_on_a_grainy_plate_gets_the_plates_grain() -> None:
    rng = np.random.default_rng(1)
    plate = smooth_picture() + rng.normal(0, 1, (200, 200, 3)).astype(np.float32) * SPREAD
    face = face_over(smooth_picture() * 1.1)
    grain, spread = matched_grain(plate, face, grain_seed(1001, (0, 200, 0, 200)))
    # the measure reads fine detail only: the plate's white noise loses a little to the high-pass itself
    assert spread == pytest.approx(SPREAD * 0.88, rel=0.1)
    inside = face[:, :, 3] > 0.5
    assert grain[inside].std(axis=0) == pytest.approx(spread, rel=0.1)
    assert np.abs(grain[inside].mean(axis=0)).max() < 0.003  # grain, not a colour shift
    # added to the face, its fine detail matches the plate's
    assert grain_spread(face[:, :, :3] + grain, inside) == pytest.approx(grain_spread(plate, inside), rel=0.15)


def test_a_face_as_grainy_as_the_plate_gets_none_and_a_clean_plate_gives_none() -> None:
    rng = np.random.default_rng(2)
    plate = smooth_picture() + rng.normal(0, 1, (200, 200, 3)).astype(np.float32) * SPREAD
    grainy_face = face_over(smooth_picture() + rng.normal(0, 1, (200, 200, 3)).astype(np.float32) * SPREAD)
    grain, spread = matched_grain(plate, grainy_face, 7)
    assert spread.max() < 0.25 * SPREAD.min() and np.abs(grain).max() < 0.02
    grain, spread = matched_grain(smooth_picture(), face_over(smooth_picture()), 7)
    assert not spread.any() and not grain.any()


def test_the_same_frame_gets_the_same_grain_and_the_next_frame_other_grain() -> None:
    plate = smooth_picture() + np.random.default_rng(3).normal(0, 0.02, (200, 200, 3)).astype(np.float32)
    face = face_over(smooth_picture())
    box = (100, 300, 50, 250)
    first, _ = matched_grain(plate, face, grain_seed(1001, box))
    again, _ = matched_grain(plate, face, grain_seed(1001, box))
    other, _ = matched_grain(plate, face, grain_seed(1002, box))
    assert np.array_equal(first, again) and np.corrcoef(first.ravel(), other.ravel())[0, 1] < 0.05
