"""The align warps as torch ops (align/warp_torch.py), on the CPU (and a GPU where there is one): the same pixels
as warp.py's OpenCV ones.

Tolerance: max abs difference 1e-4 on [0, 1] images (measured 1e-5 to 4e-5: float32 sums in another order), for
the crop out of the real photo obama.jpg and the face put back, shrinking (anti-aliased) and enlarging, at the
photo's edge (repeated edge pixels) and past it.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from helpers import similarity

from latentswap_core.align import warp, warp_torch
from latentswap_core.errors import AlignmentError
from latentswap_core.io import read_image

TOLERANCE = 1e-4
# (centre, side in plate px, degrees, crop px): a face shrunk into the crop, one enlarged, one off the photo's corner
FRAMINGS = {"shrunk": ((455.0, 470.0), 380.0, 10.0, 256), "enlarged": ((430.0, 420.0), 150.0, -25.0, 512),
            "at_the_edge": ((60.0, 1100.0), 300.0, 33.0, 128)}


@pytest.fixture(scope="module")
def photo(shared_dir) -> np.ndarray:
    return read_image(shared_dir / "data" / "faces" / "obama.jpg").rgb_float()


def chw(image: np.ndarray, device: str = "cpu") -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).to(device)


def hwc(tensor: torch.Tensor) -> np.ndarray:
    return tensor.permute(1, 2, 0).cpu().numpy()


@pytest.mark.parametrize("framing", FRAMINGS)
def test_the_crop_and_the_face_put_back_match_opencv(photo, framing, torch_device):
    centre, side, degrees, size = FRAMINGS[framing]
    to_aligned = similarity(centre, side, degrees)
    crop = warp.warp_to_aligned(photo, to_aligned, size)
    assert np.abs(hwc(warp_torch.warp_to_aligned(chw(photo, torch_device), to_aligned, size)) - crop).max() < TOLERANCE

    face = np.concatenate([crop, np.clip(crop[:, :, :1] * 2.0, 0.0, 1.0)], axis=2)  # 4 channels: RGB and a mask
    back = warp.warp_to_plate(face, to_aligned, photo.shape)
    warped, (x0, y0, x1, y1) = warp_torch.warp_to_plate(chw(face, torch_device), to_aligned, photo.shape)
    assert (x0, y0, x1, y1) == warp.plate_region(to_aligned, size, photo.shape)
    assert np.abs(hwc(warped) - back[y0:y1, x0:x1]).max() < TOLERANCE
    outside = np.ones(photo.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert not back[outside].any()  # the region holds everything warp.py puts back


@pytest.mark.parametrize("border", [("constant", cv2.BORDER_CONSTANT), ("replicate", cv2.BORDER_REPLICATE),
                                    ("reflect101", cv2.BORDER_REFLECT_101)])
@pytest.mark.parametrize("sigma", [0.6, 3.0, 30.0])  # 30: the kernel is wider than the 40 x 50 image
def test_the_gaussian_matches_opencv_at_each_border(photo, border, sigma, torch_device):
    name, opencv_border = border
    image = np.ascontiguousarray(photo[500:540, 400:450])
    expected = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=opencv_border)
    assert np.abs(hwc(warp_torch.gaussian_blur(chw(image, torch_device), sigma, name)) - expected).max() < 1e-5


@pytest.mark.parametrize("interpolation", ["linear", "cubic"])
def test_warp_affine_samples_where_opencv_does(photo, interpolation, torch_device):
    """OpenCV 5 computes source positions in float: a 1/32 pixel grid (OpenCV 4) would miss by up to ~1e-2 here."""
    image = np.ascontiguousarray(photo[300:600, 300:600])
    matrix = np.array([[0.77, -0.23, 40.3], [0.23, 0.77, -12.7]])  # output -> input, OpenCV's pixel centres
    flags = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}[interpolation] | cv2.WARP_INVERSE_MAP
    expected = cv2.warpAffine(image, matrix, (256, 256), flags=flags, borderMode=cv2.BORDER_CONSTANT)
    ours = np.vstack([matrix, [0.0, 0.0, 1.0]])  # to +0.5 centres: T(+0.5) M T(-0.5)
    shift = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    ours = (shift @ ours @ np.linalg.inv(shift))[:2]
    got = hwc(warp_torch.warp_affine(chw(image, torch_device), ours, (256, 256), interpolation, "constant"))
    assert np.abs(got - expected).max() < TOLERANCE


def test_an_unknown_interpolation_or_border_is_an_alignment_error(photo):
    with pytest.raises(AlignmentError, match="interpolation"):
        warp_torch.warp_affine(chw(photo[:8, :8]), np.eye(3)[:2], (4, 4), "lanczos", "constant")
    with pytest.raises(AlignmentError, match="border"):
        warp_torch.gaussian_blur(chw(photo[:8, :8]), 1.0, "wrap")
