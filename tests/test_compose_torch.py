"""Mask refinement and pasting as torch ops (blend/compose_torch.py), on the CPU (and a GPU where there is one),
against compose.py's numpy.

Tolerances (max abs difference): refined masks 1e-5 (measured under 1e-6), the pasted comp, face and alpha 1e-4
(measured ~1e-5: the warp's float32 sums). Outside the face's alpha the comp is the plate's, bit for bit.
The plate is the real portrait obama.jpg; the swapped face a real crop of biden.jpg.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import similarity

from latentswap_core.align import warp_to_aligned
from latentswap_core.blend import compose, compose_torch
from latentswap_core.errors import AlignmentError, ImageError
from latentswap_core.io import read_image

SIZE = 256
MASK_TOLERANCE = 1e-5
PASTE_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def photo(shared_dir) -> np.ndarray:
    return read_image(shared_dir / "data" / "faces" / "obama.jpg").rgb_float()


@pytest.fixture(scope="module")
def face(shared_dir) -> np.ndarray:
    biden = read_image(shared_dir / "data" / "faces" / "biden.jpg").rgb_float()
    return warp_to_aligned(biden, similarity((560.0, 330.0), 360.0, 0.0), SIZE)


@pytest.fixture(scope="module")
def to_aligned() -> np.ndarray:
    return similarity((455.0, 470.0), 380.0, 10.0)


@pytest.fixture(scope="module")
def mask() -> np.ndarray:
    """A soft disk with a stripe of 0.3: grey levels for the erosion's min, edges for the blur."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    disk = np.clip(1.2 - np.hypot(yy - 128, xx - 120) / 90, 0.0, 1.0).astype(np.float32)
    disk[40:60, 30:200] = 0.3
    disk[100:180, :12] = 0.8  # at the crop's edge: erosion pulls it off (zeros outside the crop)
    return disk


# (erode, blur) in crop pixels: a fraction of an erosion, dilation with blur, erosions past one disk step with a
# wide (reduced) blur, blur alone (direct and reduced), a dilation that fills the crop
KNOBS = [(3.5, 0.0), (-7.2, 4.0), (12.0, 100.0), (0.0, 30.0), (0.0, 48.0), (23.3, 60.0), (-300.0, 0.0)]


@pytest.mark.parametrize(("erode", "blur"), KNOBS)
def test_erode_and_blur_match_numpy(mask, erode, blur, torch_device):
    expected = compose.refine_mask(mask, erode, blur)
    got = compose_torch.refine_mask(torch.from_numpy(mask).to(torch_device), erode, blur).cpu().numpy()
    assert np.abs(got - expected).max() < MASK_TOLERANCE
    assert got.dtype == np.float32


def test_plate_pixel_knobs_convert_with_the_crops_scale(mask, to_aligned):
    expected = compose.refine_mask(mask, 6.0, 9.0, to_aligned)
    assert np.abs(compose_torch.refine_mask(torch.from_numpy(mask), 6.0, 9.0, to_aligned).numpy()
                  - expected).max() < MASK_TOLERANCE
    assert np.abs(expected - compose.refine_mask(mask, 6.0, 9.0)).max() > 0.1  # the scale matters here


@pytest.mark.parametrize("blend", ["alpha", "poisson"])
@pytest.mark.parametrize("mix", [1.0, 0.4])
def test_the_paste_matches_numpy(photo, face, mask, to_aligned, blend, mix, torch_device):
    plate = np.ascontiguousarray(photo[200:800, 150:800])  # a box of the frame
    box_to_aligned = to_aligned.copy()
    box_to_aligned[:, 2] += box_to_aligned[:, :2] @ np.array([150.0, 200.0])
    expected = compose.paste_face(plate, face, mask, box_to_aligned, blend, mix)
    got = compose_torch.paste_face(*(torch.from_numpy(array).to(torch_device) for array in (plate, face, mask)),
                                   box_to_aligned, blend, mix)
    for name in ("comp", "face_rgba", "alpha"):
        assert np.abs(getattr(got, name).cpu().numpy() - getattr(expected, name)).max() < PASTE_TOLERANCE, name
    assert np.abs(expected.comp - plate).max() > 0.1  # the face is there


def test_outside_the_faces_alpha_the_plate_is_bit_identical(face, mask, to_aligned, torch_device):
    rng = np.random.default_rng(1)
    plate = (rng.standard_normal((900, 800, 4)) * 3.0).astype(np.float32)  # scene-linear, with an alpha
    plate[::7, ::5, :3] = -0.0  # x * 1 + 0 would turn these into +0.0
    plate[3, 4] = [np.nan, np.inf, -np.inf, 1.0]  # allowed away from the face
    before = plate.copy()
    inputs = [torch.from_numpy(array).to(torch_device) for array in (plate, face, mask)]
    result = compose_torch.paste_face(*inputs, to_aligned, "alpha", 0.7)
    bits = plate.view(np.uint32)
    assert np.array_equal(bits, before.view(np.uint32))  # the input is not written to
    comp, alpha = result.comp.cpu().numpy(), result.alpha.cpu().numpy()
    outside = alpha == 0.0
    assert outside.any() and (~outside).any()
    assert np.array_equal(comp.view(np.uint32)[outside], bits[outside])
    assert np.array_equal(comp.view(np.uint32)[:, :, 3], bits[:, :, 3])  # channels after RGB pass through
    assert not result.face_rgba.cpu().numpy()[outside].any()
    none = compose_torch.paste_face(*inputs, to_aligned, "alpha", 0.0)
    assert np.array_equal(none.comp.cpu().numpy().view(np.uint32), bits) and not none.alpha.cpu().numpy().any()


def test_bad_input_raises_what_numpy_raises(face, mask, to_aligned):
    plate = np.zeros((900, 800, 3), np.float32)
    plate[470, 455] = np.nan  # under the face
    with pytest.raises(ImageError, match="x=455, y=470"):
        compose_torch.paste_face(torch.from_numpy(plate), torch.from_numpy(face), torch.from_numpy(mask), to_aligned)
    bad_mask = mask.copy()
    bad_mask[3, 3] = np.inf
    with pytest.raises(AlignmentError, match="NaN or infinite"):
        compose_torch.refine_mask(torch.from_numpy(bad_mask), 2.0, 0.0)
    with pytest.raises(AlignmentError, match="is 128 px but the face crop 256"):
        compose_torch.paste_face(torch.from_numpy(plate), torch.from_numpy(face), torch.from_numpy(mask[:128, :128]),
                                 to_aligned)
