"""Merge: mask erode/feather, pasting a face back (alpha and Poisson), the plate untouched outside, bad input.

The plate is the real portrait ../shared/data/faces/obama.jpg where the image matters; the transforms are
similarities built by hand (no face tracking needed): a square of ``side`` plate pixels around a centre,
turned by some degrees, mapped to [0, 1]^2.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from helpers import similarity

from latentswap_core.align import crop_matrix, transform_points, warp_to_aligned
from latentswap_core.blend.compose import paste_face, refine_mask
from latentswap_core.errors import AlignmentError, ImageError, SettingsError
from latentswap_core.io import read_image

SIZE = 256


def disk_mask(radius: float, feather: float = 0.0, size: int = SIZE) -> np.ndarray:
    """Crop mask: 1 inside a centred disk, a linear ramp of ``feather`` px across its edge (0: hard)."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    distance = np.hypot(xx - size / 2, yy - size / 2)
    if feather == 0.0:
        return (distance <= radius).astype(np.float32)
    return np.clip((radius - distance) / feather + 0.5, 0.0, 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def photo(shared_dir) -> np.ndarray:
    return read_image(shared_dir / "data" / "faces" / "obama.jpg").rgb_float()


@pytest.fixture(scope="module")
def to_aligned() -> np.ndarray:
    """The face in obama.jpg (1137 x 910): a 380 px square, turned 10 degrees."""
    return similarity((455.0, 470.0), 380.0, 10.0)


@pytest.mark.parametrize("blend", ["alpha", "poisson"])
def test_outside_alpha_the_plate_is_bit_identical(blend, to_aligned):
    rng = np.random.default_rng(1)
    plate = (rng.standard_normal((700, 900, 4)) * 3.0).astype(np.float32)  # scene-linear: any range, an alpha
    face = rng.standard_normal((SIZE, SIZE, 3)).astype(np.float32) + 5.0
    before = plate.copy()
    result = paste_face(plate, face, disk_mask(90.0, 12.0), to_aligned, blend)
    assert np.array_equal(plate, before)  # the input is not written to

    outside = result.alpha == 0.0
    assert outside.any() and (~outside).any()
    assert np.array_equal(result.comp[outside], plate[outside])
    assert np.array_equal(result.comp[:, :, 3], plate[:, :, 3])  # channels after RGB pass through
    assert result.comp.dtype == np.float32 and result.comp.shape == plate.shape
    assert result.face_rgba.shape == (700, 900, 4) and result.alpha.shape == (700, 900)
    assert np.array_equal(result.face_rgba[:, :, 3], result.alpha)
    assert not result.face_rgba[outside].any()
    y0, y1, x0, x1 = result.region
    rows, cols = np.nonzero(~outside)
    assert (y0, y1, x0, x1) == (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1)
    # face_rgba over the plate is the comp.
    over = plate[:, :, :3] * (1.0 - result.alpha[:, :, np.newaxis]) + result.face_rgba[:, :, :3]
    np.testing.assert_allclose(result.comp[:, :, :3], over, atol=1e-4)


def test_alpha_fades_to_zero_at_the_crop_border(to_aligned):
    plate = np.zeros((1137, 910, 3), np.float32)
    result = paste_face(plate, np.ones((SIZE, SIZE, 3), np.float32), np.ones((SIZE, SIZE), np.float32), to_aligned)
    rows, cols = np.mgrid[0:1137, 0:910]
    centres = np.stack([cols.ravel() + 0.5, rows.ravel() + 0.5], axis=1)
    crop = transform_points(centres, crop_matrix(to_aligned, SIZE)).reshape(1137, 910, 2)
    from_border = np.minimum(crop, SIZE - crop).min(axis=2)  # crop px inside the square (negative outside)
    alpha = result.alpha
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    assert np.all(alpha[from_border > 3.0] > 0.98)
    assert np.all(alpha[from_border < -3.0] == 0.0)
    edge = np.abs(from_border) < 0.1  # a fifth of a plate pixel here; half on the border itself
    assert abs(alpha[edge].mean() - 0.5) < 0.05 and np.abs(alpha[edge] - 0.5).max() < 0.25
    # The plate here is 0 and the face 1: the comp is the alpha.
    np.testing.assert_allclose(result.comp[:, :, 0], alpha, atol=1e-6)


def test_erode_shrinks_and_negative_erode_grows_the_mask():
    mask = disk_mask(60.0)
    areas = [refine_mask(mask, erode, 0.0).sum() for erode in (-30, -10, -2.5, 0, 2.5, 10, 30)]
    assert all(a > b for a, b in zip(areas, areas[1:], strict=False))
    for erode in (-30, -10, 10, 30):  # the edge moves by the radius: the area is that of the moved disk
        assert refine_mask(mask, erode, 0.0).sum() == pytest.approx(math.pi * (60 - erode) ** 2, rel=0.03)
    # Fractions move the edge continuously.
    assert refine_mask(mask, 2.0, 0.0).sum() > refine_mask(mask, 2.5, 0.0).sum() > refine_mask(mask, 3.0, 0.0).sum()
    assert refine_mask(mask, 200.0, 0.0).max() == 0.0
    assert refine_mask(mask, -400.0, 0.0).min() == 1.0


def test_knobs_are_plate_pixels_with_to_aligned(to_aligned):
    scale = SIZE / 380.0  # crop px per plate px
    mask = disk_mask(80.0, 4.0)
    np.testing.assert_allclose(refine_mask(mask, 20.0, 30.0, to_aligned), refine_mask(mask, 20.0 * scale, 30.0 * scale),
                               atol=1e-6)


def test_blur_softens_and_keeps_the_centre(to_aligned):
    mask = disk_mask(90.0)
    for blur in (12.0, 60.0):  # sigma 2 and 10 crop px (the second on a reduced mask)
        soft = refine_mask(mask, 0.0, blur)
        assert soft.dtype == np.float32 and soft.min() >= 0.0 and soft.max() <= 1.0
        intermediate = ((soft > 0.01) & (soft < 0.99)).sum()
        assert intermediate > 4 * ((mask > 0.01) & (mask < 0.99)).sum()
        assert soft[SIZE // 2, SIZE // 2] > 0.999
        assert soft.sum() == pytest.approx(mask.sum(), rel=0.01)  # a blur moves no mass (far from the border)
    wider = refine_mask(mask, 0.0, 120.0)
    assert ((wider > 0.01) & (wider < 0.99)).sum() > ((soft > 0.01) & (soft < 0.99)).sum()
    # Wide blurs run on a reduced mask: the same as a full-size blur.
    direct = cv2.GaussianBlur(mask, (0, 0), sigmaX=20.0, borderType=cv2.BORDER_CONSTANT)
    assert np.abs(wider - direct).max() < 0.01


def test_zero_erode_and_blur_return_the_mask_unchanged():
    mask = disk_mask(70.0, 9.0)
    assert np.array_equal(refine_mask(mask, 0, 0), mask)


def blob(shape: tuple[int, int], centre: tuple[float, float], sigma: float) -> np.ndarray:
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]] + 0.5
    return np.exp(-((cols - centre[0]) ** 2 + (rows - centre[1]) ** 2) / (2 * sigma**2)).astype(np.float32)


def centroid(image: np.ndarray, centre: tuple[float, float], reach: int) -> np.ndarray:
    x0, y0 = int(centre[0]) - reach, int(centre[1]) - reach
    window = image[y0:y0 + 2 * reach, x0:x0 + 2 * reach]
    rows, cols = np.mgrid[0:2 * reach, 0:2 * reach] + 0.5
    return np.array([(window * (cols + x0)).sum(), (window * (rows + y0)).sum()]) / window.sum()


@pytest.mark.parametrize("degrees", [0.0, 17.0, -33.0])
def test_a_crop_pasted_back_lands_within_a_tenth_of_a_pixel(degrees):
    matrix = similarity((455.3, 470.8), 380.0, degrees)
    for spot in ((421.37, 455.81), (500.62, 512.19), (450.05, 399.5)):
        plate = np.repeat(blob((900, 900), spot, 4.0)[:, :, np.newaxis], 3, axis=2)
        crop = warp_to_aligned(plate, matrix, SIZE)
        result = paste_face(np.zeros_like(plate), crop, np.ones((SIZE, SIZE), np.float32), matrix)
        offset = centroid(result.comp[:, :, 1], spot, 20) - centroid(plate[:, :, 1], spot, 20)
        assert np.hypot(*offset) < 0.1, (degrees, spot, offset)


def test_a_photo_crop_pasted_back_matches_the_plate(photo, to_aligned):
    crop = warp_to_aligned(photo, to_aligned, SIZE)
    result = paste_face(photo, crop, np.ones((SIZE, SIZE), np.float32), to_aligned)
    inside = result.alpha > 0.999
    assert inside.sum() > 0.8 * 380**2
    assert np.abs(result.comp[inside] - photo[inside]).mean() < 0.02


def test_poisson_removes_a_colour_offset_that_alpha_keeps(photo, to_aligned):
    offset = np.float32([0.2, -0.1, 0.15])
    face = warp_to_aligned(photo, to_aligned, SIZE) + offset
    mask = refine_mask(disk_mask(100.0), 0.0, 20.0, to_aligned)
    errors = {}
    for blend in ("alpha", "poisson"):
        result = paste_face(photo, face, mask, to_aligned, blend)
        under = result.alpha > 0.0
        errors[blend] = np.abs(result.comp[under] - photo[under]).mean(axis=0)
        assert np.array_equal(result.comp[~under], photo[~under])
    assert np.all(errors["alpha"] > 0.6 * np.abs(offset))
    assert np.all(errors["poisson"] < 0.15 * errors["alpha"]), errors


def test_poisson_keeps_the_face_detail(photo, to_aligned):
    """A flat plate under a textured face: the texture (gradients) comes through, the plate's level around it."""
    face = warp_to_aligned(photo, to_aligned, SIZE)
    plate = np.full_like(photo, 0.3)
    result = paste_face(plate, face, disk_mask(100.0, 10.0), to_aligned, "poisson")
    core = result.alpha > 0.999
    detail = np.abs(np.diff(result.comp[:, :, 1], axis=1))[core[:, 1:] & core[:, :-1]].mean()
    expected = np.abs(np.diff(photo[:, :, 1], axis=1))[core[:, 1:] & core[:, :-1]].mean()
    assert detail == pytest.approx(expected, rel=0.25)


def test_mix_zero_returns_the_plate_and_mix_scales_alpha(photo, to_aligned):
    face, mask = np.ones((SIZE, SIZE, 3), np.float32), disk_mask(90.0, 8.0)
    for blend in ("alpha", "poisson"):
        nothing = paste_face(photo, face, mask, to_aligned, blend, mix=0.0)
        assert np.array_equal(nothing.comp, photo) and not nothing.alpha.any() and nothing.region == (0, 0, 0, 0)
    full = paste_face(photo, face, mask, to_aligned, mix=1.0)
    half = paste_face(photo, face, mask, to_aligned, mix=0.5)
    np.testing.assert_allclose(half.alpha, 0.5 * full.alpha, atol=1e-7)
    np.testing.assert_allclose(half.comp, 0.5 * (photo + full.comp), atol=1e-5)


@pytest.mark.parametrize("blend", ["alpha", "poisson"])
def test_faces_pasted_one_after_another(blend):
    rng = np.random.default_rng(2)
    plate = rng.random((600, 1000, 3), dtype=np.float32)
    left, right = similarity((250.0, 300.0), 300.0, 5.0), similarity((750.0, 300.0), 300.0, -8.0)
    face = np.full((SIZE, SIZE, 3), 0.7, np.float32)
    first = paste_face(plate, face, disk_mask(100.0, 10.0), left, blend)
    second = paste_face(first.comp, face, disk_mask(100.0, 10.0), right, blend)
    untouched = second.alpha == 0.0
    assert np.array_equal(second.comp[untouched], first.comp[untouched])
    neither = untouched & (first.alpha == 0.0)
    assert np.array_equal(second.comp[neither], plate[neither])
    assert (first.alpha > 0.99).any() and (second.alpha > 0.99).any() and not (first.alpha * second.alpha).any()


@pytest.mark.parametrize("blend", ["alpha", "poisson"])
def test_a_face_cut_by_the_frame_edge(blend):
    rng = np.random.default_rng(3)
    plate = rng.random((400, 500, 4), dtype=np.float32)
    matrix = similarity((40.0, 380.0), 300.0, 12.0)  # most of the square lies off the frame
    result = paste_face(plate, np.full((SIZE, SIZE, 3), 2.0, np.float32), disk_mask(110.0, 6.0), matrix, blend)
    y0, y1, x0, x1 = result.region
    assert x0 == 0 and y1 == 400
    outside = result.alpha == 0.0
    assert np.array_equal(result.comp[outside], plate[outside])
    assert np.all(np.isfinite(result.comp))


def test_knob_values_out_of_range_are_settings_errors(photo, to_aligned):
    face, mask = warp_to_aligned(photo, to_aligned, SIZE) * 0.8, disk_mask(100.0)
    with pytest.raises(SettingsError, match="unknown blend 'seamless'"):
        paste_face(photo, face, mask, to_aligned, blend="seamless")
    with pytest.raises(SettingsError, match="erode 500 px is outside -400..400"):
        refine_mask(mask, 500.0, 0.0, to_aligned)
    with pytest.raises(SettingsError, match="blur is nan"):
        refine_mask(mask, 0.0, float("nan"), to_aligned)


@pytest.mark.parametrize(
    ("erode", "blur", "message"),
    [
        (float("nan"), 0.0, "erode is nan; give a finite number"),
        (0.0, float("inf"), "blur is inf; give a finite number"),
        (-401.0, 0.0, "erode -401 px is outside -400..400"),
        (0.0, -1.0, "blur -1 px is outside 0..400"),
        (0.0, 1e6, "blur 1e\\+06 px is outside 0..400"),
        ("3", 0.0, "erode '3' is not a number"),
    ],
)
def test_bad_knobs(erode, blur, message):
    with pytest.raises(SettingsError, match=message):
        refine_mask(disk_mask(50.0), erode, blur)


def test_bad_input(to_aligned):
    plate = np.zeros((500, 600, 3), np.float32)
    face, mask = np.zeros((SIZE, SIZE, 3), np.float32), disk_mask(100.0)
    nan_face = face.copy()
    nan_face[5, 6, 1] = np.nan
    nan_plate = plate.copy()
    nan_plate[470, 455] = np.nan  # under the face
    cases = [
        (ImageError, "plate of shape \\(500, 600\\): expected height x width x channels", (plate[:, :, 0], face, mask)),
        (ImageError, "plate of shape \\(500, 600, 2\\)", (plate[:, :, :2], face, mask)),
        (ImageError, "plate of type uint8: expected float pixels", ((plate * 255).astype(np.uint8), face, mask)),
        (AlignmentError, "face crop of shape \\(256, 200, 3\\) is not square", (plate, face[:, :200], mask)),
        (AlignmentError, "face crop of shape \\(256, 256, 4\\)", (plate, np.zeros((SIZE, SIZE, 4), np.float32), mask)),
        (AlignmentError, "crop size 64 is outside 128-1024 px", (plate, face[:64, :64], mask[:64, :64])),
        (AlignmentError, "mask is 128 px but the face crop 256 px", (plate, face, mask[:128, :128])),
        (AlignmentError, "mask of shape \\(256, 255\\)", (plate, face, mask[:, :255])),
        (AlignmentError, "mask holds NaN", (plate, face, np.full((SIZE, SIZE), np.nan, np.float32))),
        (ImageError, "face crop has 1 NaN or infinite values", (plate, nan_face, mask)),
        (ImageError, "plate has NaN or infinite R, G, B under the face \\(first at x=455, y=470\\)",
         (nan_plate, face, mask)),
    ]
    for error, message, (bad_plate, bad_face, bad_mask) in cases:
        with pytest.raises(error, match=message):
            paste_face(bad_plate, bad_face, bad_mask, to_aligned)
    with pytest.raises(AlignmentError, match="to_aligned of shape \\(3, 3\\)"):
        paste_face(plate, face, mask, np.eye(3))
    with pytest.raises(SettingsError, match="mix 1.5 is outside 0..1"):
        paste_face(plate, face, mask, to_aligned, mix=1.5)
    with pytest.raises(SettingsError, match="unknown blend 'median'"):
        paste_face(plate, face, mask, to_aligned, blend="median")
    # NaN in the plate away from the face is passed through, not an error.
    far = plate.copy()
    far[5, 5] = np.nan
    assert np.isnan(paste_face(far, face, mask, to_aligned).comp[5, 5]).all()
