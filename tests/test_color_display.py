"""The tracker's view of a plate: its RGB in the working space at 8 bits, converted by OCIO straight from the stored
pixel type. It must stay within one code value of the exact conversion, clipped and rounded, whatever the storage."""

from __future__ import annotations

import numpy as np
import pytest

from latentswap_core import color
from latentswap_core.io import Image
from latentswap_core.track import display_rgb
from latentswap_core.track.detect import display_uint8


def exact(image: Image, space: str) -> np.ndarray:
    return display_uint8(color.working_rgb(image, space))


def plate_of(face_photo: np.ndarray, dtype: type, space: str) -> np.ndarray:
    rgb = color.convert(face_photo.astype(np.float32) / 255, color.WORKING_SPACE, space)
    if np.issubdtype(dtype, np.integer):
        return np.round(np.clip(rgb, 0, 1) * np.iinfo(dtype).max).astype(dtype)
    return rgb.astype(dtype)


@pytest.mark.parametrize(("dtype", "space"), [(np.float16, "ACEScg"), (np.float32, "ACEScg"),
                                              (np.uint16, "ACEScct"), (np.uint8, "ACEScct")])
def test_a_plate_converts_to_within_one_code_value_of_the_exact_conversion(face_photo, dtype, space) -> None:
    pixels = plate_of(face_photo, dtype, space)
    if np.issubdtype(dtype, np.floating):  # a bad render's pixels, and values beyond the display range
        pixels[:4, :4] = np.array([np.nan, np.inf, -np.inf, 4.0], dtype)[:, None, None]
    image = Image(pixels, ("R", "G", "B"))
    seen, wanted = display_rgb(image, space), exact(image, space)
    assert seen.shape == wanted.shape and seen.dtype == np.uint8 and seen.flags.c_contiguous
    difference = np.abs(seen.astype(int) - wanted)
    assert difference.max() <= 1 and (difference > 0).mean() < 0.01
    assert np.array_equal(seen[:4, :4], wanted[:4, :4])


def test_further_channels_and_other_layouts_give_the_same_view(face_photo) -> None:
    rgb = plate_of(face_photo, np.float16, "ACEScg")
    alone = display_rgb(Image(rgb, ("R", "G", "B")), "ACEScg")
    depth = np.random.default_rng(0).uniform(0, 100, rgb.shape[:2] + (2,)).astype(np.float16)
    layered = Image(np.concatenate([rgb, depth], axis=2), ("R", "G", "B", "A", "depth.Z"))
    assert np.array_equal(display_rgb(layered, "ACEScg"), alone)
    reordered = Image(np.ascontiguousarray(rgb[:, :, ::-1]), ("B", "G", "R"))
    assert np.abs(display_rgb(reordered, "ACEScg").astype(int) - exact(reordered, "ACEScg")).max() <= 1
    grey = Image(np.ascontiguousarray(rgb[:, :, 1:2]), ("Y",))
    assert np.abs(display_rgb(grey, "ACEScg").astype(int) - exact(grey, "ACEScg")).max() <= 1
    window = Image(rgb[10:-10, 20:-20], ("R", "G", "B"))  # a view into a larger frame
    assert np.abs(display_rgb(window, "ACEScg").astype(int) - alone[10:-10, 20:-20]).max() == 0
