"""Colour transfer for the merge step, on real faces: each mode moves the masked statistics to the plate's."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.color import rgb2lab

from latentswap_core.blend import MODES, transfer_color
from latentswap_core.errors import ColorError
from latentswap_core.io import read_image

SIZE = 256
# Square crops around each face (x0, y0, side) in the full photographs.
CROPS = {"obama": (319, 80, 340), "biden": (380, 150, 360)}
TRANSFORMING = [mode for mode in MODES if mode != "none"]


def _face(shared_dir: Path, name: str) -> np.ndarray:
    x0, y0, side = CROPS[name]
    rgb = read_image(shared_dir / "data" / "faces" / f"{name}.jpg").rgb_float()[y0 : y0 + side, x0 : x0 + side]
    return cv2.resize(rgb, (SIZE, SIZE), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def obama(shared_dir: Path) -> np.ndarray:
    return _face(shared_dir, "obama")


@pytest.fixture(scope="module")
def biden(shared_dir: Path) -> np.ndarray:
    return _face(shared_dir, "biden")


@pytest.fixture(scope="module")
def mask() -> np.ndarray:
    """A soft elliptical face mask: 1 in the middle of the face, 0 well outside it."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    radius = np.hypot((xx - SIZE / 2) / (0.36 * SIZE), (yy - SIZE / 2) / (0.45 * SIZE))
    return np.clip((1.0 - radius) * 4.0, 0.0, 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def graded(obama: np.ndarray) -> np.ndarray:
    """Obama's face with a strong grade: channel mix, gain and offset (a cool, flat, green-shifted look)."""
    mix = np.array([[0.70, 0.15, 0.05], [0.10, 0.80, 0.15], [0.05, 0.20, 0.85]], dtype=np.float32)
    return np.clip(obama @ mix.T * 0.8 + np.array([0.02, 0.10, 0.12], dtype=np.float32), 0.0, 1.0)


def _stats(image: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pixels = image.reshape(-1, 3).astype(np.float64)
    w = weights.reshape(-1).astype(np.float64)
    return np.average(pixels, axis=0, weights=w), np.cov(pixels.T, aweights=w, bias=True)


def _lab_stats(image: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, cov = _stats(rgb2lab(image).astype(np.float32), weights)
    return mean, np.sqrt(np.diag(cov))


def _wasserstein_per_channel(a: np.ndarray, b: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """1-D Wasserstein-1 distance of each channel between two images, over the same pixels (equal counts)."""
    return np.abs(np.sort(a[inside], axis=0) - np.sort(b[inside], axis=0)).mean(axis=0)


def test_none_returns_an_identical_copy(biden: np.ndarray, obama: np.ndarray, mask: np.ndarray) -> None:
    result = transfer_color(biden, obama, mask, "none")
    assert result is not biden and np.array_equal(result, biden)
    result[0, 0] = 0.5
    assert not np.array_equal(result, biden), "must be a copy, not a view"


@pytest.mark.parametrize("mode", ["lct", "mkl"])
def test_linear_modes_match_masked_mean_and_covariance(
    mode: str, biden: np.ndarray, graded: np.ndarray, mask: np.ndarray
) -> None:
    mean_t, cov_t = _stats(graded, mask)
    mean_before, cov_before = _stats(biden, mask)
    mean_after, cov_after = _stats(transfer_color(biden, graded, mask, mode), mask)
    assert np.abs(mean_after - mean_t).max() < 0.005
    assert np.linalg.norm(cov_after - cov_t) < 0.05 * np.linalg.norm(cov_t)
    assert np.linalg.norm(mean_after - mean_t) * 10 < np.linalg.norm(mean_before - mean_t)
    assert np.linalg.norm(cov_after - cov_t) * 5 < np.linalg.norm(cov_before - cov_t)


def test_mkl_moves_colours_no_more_than_lct(biden: np.ndarray, graded: np.ndarray, mask: np.ndarray) -> None:
    """Both match the same Gaussian; MKL is the optimal-transport map, so its mean squared move is the least."""
    moved = {
        mode: np.average(((transfer_color(biden, graded, mask, mode) - biden) ** 2).sum(-1), weights=mask)
        for mode in ("lct", "mkl")
    }
    assert moved["mkl"] <= moved["lct"] * 1.001


def test_rct_matches_lab_mean_and_std_per_channel(biden: np.ndarray, graded: np.ndarray, mask: np.ndarray) -> None:
    mean_t, std_t = _lab_stats(graded, mask)
    mean_before, std_before = _lab_stats(biden, mask)
    mean_after, std_after = _lab_stats(transfer_color(biden, graded, mask, "rct"), mask)
    assert np.abs(mean_after - mean_t).max() < 0.5, (mean_after, mean_t)
    # Exact before the final clip to [0, 1]; the ~1% of face pixels pushed out of gamut cost a few percent.
    assert np.abs(std_after / std_t - 1.0).max() < 0.08, (std_after, std_t)
    assert np.abs(mean_after - mean_t).max() * 10 < np.abs(mean_before - mean_t).max()
    assert np.abs(std_after - std_t).max() * 3 < np.abs(std_before - std_t).max()


def test_idt_brings_each_channel_histogram_closer(biden: np.ndarray, graded: np.ndarray, mask: np.ndarray) -> None:
    inside = mask >= 0.5
    before = _wasserstein_per_channel(biden, graded, inside)
    after = _wasserstein_per_channel(transfer_color(biden, graded, mask, "idt"), graded, inside)
    assert np.all(after < 0.2 * before), (before, after)
    assert after.max() < 0.01


@pytest.mark.parametrize("mode", MODES)
def test_transferring_a_face_to_itself_changes_nothing(mode: str, obama: np.ndarray, mask: np.ndarray) -> None:
    assert np.abs(transfer_color(obama, obama, mask, mode) - obama).max() < 2e-3


@pytest.mark.parametrize("mode", TRANSFORMING)
def test_output_is_deterministic(mode: str, biden: np.ndarray, graded: np.ndarray, mask: np.ndarray) -> None:
    assert np.array_equal(transfer_color(biden, graded, mask, mode), transfer_color(biden, graded, mask, mode))


@pytest.mark.parametrize("mode", TRANSFORMING)
def test_only_the_masked_region_of_the_target_counts(
    mode: str, biden: np.ndarray, obama: np.ndarray, mask: np.ndarray
) -> None:
    red_around = obama.copy()
    red_around[mask == 0] = (1.0, 0.0, 0.0)
    plain = transfer_color(biden, obama, mask, mode)
    assert np.abs(transfer_color(biden, red_around, mask, mode) - plain).max() < 1e-4
    # The same red target measured everywhere does turn the face red: the mask is what keeps it out.
    everywhere = transfer_color(biden, red_around, np.ones_like(mask), mode)
    redness = [np.average(image[..., 0] - image[..., 1:].mean(-1), weights=mask) for image in (plain, everywhere)]
    assert redness[1] > redness[0] + 0.05, redness


@pytest.mark.parametrize("mode", ["rct", "lct", "mkl", "idt"])
def test_pixels_outside_the_mask_are_transformed_too(
    mode: str, biden: np.ndarray, graded: np.ndarray, mask: np.ndarray
) -> None:
    outside = mask == 0
    result = transfer_color(biden, graded, mask, mode)
    assert np.abs(result[outside] - biden[outside]).mean() > 0.02


@pytest.mark.parametrize("mode", MODES)
def test_dtype_shape_and_range_are_kept_and_inputs_untouched(
    mode: str, biden: np.ndarray, graded: np.ndarray, mask: np.ndarray
) -> None:
    source, target = biden.copy(), graded.copy()
    result = transfer_color(source.astype(np.float64), target, mask[..., None], mode)
    assert result.dtype == np.float32 and result.shape == biden.shape
    assert result.min() >= 0.0 and result.max() <= 1.0
    assert np.array_equal(source, biden) and np.array_equal(target, graded)


def test_unknown_mode_names_the_modes(biden: np.ndarray, obama: np.ndarray, mask: np.ndarray) -> None:
    message = "unknown colour transfer mode 'sot'; use one of none, rct, lct, mkl, idt"
    with pytest.raises(ColorError, match=f"^{re.escape(message)}$"):
        transfer_color(biden, obama, mask, "sot")


def test_nan_and_shape_mismatch_are_errors(biden: np.ndarray, obama: np.ndarray, mask: np.ndarray) -> None:
    poisoned = obama.copy()
    poisoned[10, 10, 1] = np.nan
    with pytest.raises(ColorError, match="target contains NaN"):
        transfer_color(biden, poisoned, mask, "lct")
    with pytest.raises(ColorError, match=r"got source \(256, 256, 3\), target \(128, 128, 3\)"):
        transfer_color(biden, obama[:128, :128], mask, "rct")
    with pytest.raises(ColorError, match="mask"):
        transfer_color(biden, obama, mask[:100], "mkl")


@pytest.mark.parametrize("mode", MODES)
def test_empty_mask_returns_the_source(mode: str, biden: np.ndarray, obama: np.ndarray) -> None:
    assert np.array_equal(transfer_color(biden, obama, np.zeros((SIZE, SIZE), np.float32), mode), biden)


@pytest.mark.parametrize("mode", TRANSFORMING)
def test_flat_source_stays_finite(mode: str, obama: np.ndarray, mask: np.ndarray) -> None:
    flat = np.full_like(obama, 0.4)
    result = transfer_color(flat, obama, mask, mode)
    assert np.isfinite(result).all()
    if mode in ("lct", "mkl"):
        target_mean, _ = _stats(obama, mask)
        assert np.abs(result - target_mean).max() < 1e-4, "a flat face takes the plate's mean colour"
