"""OpenColorIO conversions: lossless round trips, unclamped float values, $OCIO, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import PyOpenColorIO as ocio
import pytest

from latentswap_core import color
from latentswap_core.errors import ColorError


@pytest.fixture
def acescg_plate(face_photo: np.ndarray) -> np.ndarray:
    """A real photo brought into scene-linear ACEScg, as a plate would arrive, with an alpha channel."""
    srgb = face_photo.astype(np.float32) / 255.0
    alpha = np.linspace(0, 1, srgb.shape[0] * srgb.shape[1], dtype=np.float32).reshape(*srgb.shape[:2], 1)
    return color.from_working(np.concatenate([srgb, alpha], axis=-1), "ACEScg")


def test_plate_to_working_space_and_back_is_lossless(acescg_plate: np.ndarray, face_photo: np.ndarray) -> None:
    working = color.to_working(acescg_plate, "ACEScg")
    assert np.abs(working[..., :3] - face_photo / 255.0).max() < 1e-5
    back = color.from_working(working, "ACEScg")
    assert np.abs(back - acescg_plate).max() < 1e-5
    assert np.array_equal(back[..., 3], acescg_plate[..., 3]), "alpha must pass untouched"


# OCIO's ACEScg (AP1, D60) to linear Rec.709 (D65) matrix, Bradford-adapted, as the ACES configs write it
AP1_TO_REC709 = np.array([[1.70505, -0.62179, -0.08326], [-0.13026, 1.14080, -0.01055], [-0.02400, -0.12897, 1.15297]])


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(np.maximum(linear, 0), 1 / 2.4) - 0.055)


def test_the_working_space_is_srgb_encoded_rec709_at_known_anchors() -> None:
    """Anchors computed without OCIO: a wrong working space (ACEScg itself, linear sRGB, Rec.709 video) fails."""
    grey = color.to_working(np.full((1, 1, 3), 0.18, np.float32), "ACEScg")
    assert np.allclose(grey, 0.4614, atol=2e-3)  # 18 % grey, sRGB-encoded
    orange = np.array([0.30, 0.12, 0.03])
    working = color.to_working(orange.astype(np.float32).reshape(1, 1, 3), "ACEScg").reshape(3)
    assert np.allclose(working, srgb_encode(AP1_TO_REC709 @ orange), atol=2e-3), working


def test_values_outside_zero_one_are_not_clamped(acescg_plate: np.ndarray) -> None:
    hot = acescg_plate.copy()
    hot[:50, :, :3] *= 40.0          # specular highlights far above 1
    hot[50:60, :, :3] = -0.02        # negative lobes from a grain or lens pass
    working = color.to_working(hot, "ACEScg")
    assert working[:50].max() > 1.5 and working[50:60, :, :3].min() < 0
    back = color.from_working(working, "ACEScg")
    assert np.allclose(back, hot, rtol=1e-5, atol=1e-6)


def test_integer_images_default_to_srgb_and_float_to_acescg() -> None:
    assert color.default_colorspace(np.dtype(np.uint8)) == "sRGB - Texture"
    assert color.default_colorspace(np.dtype(np.uint16)) == "sRGB - Texture"
    assert color.default_colorspace(np.dtype(np.float16)) == "ACEScg"


def test_unknown_colourspace_suggests_names() -> None:
    with pytest.raises(ColorError, match=r"unknown colourspace 'ACEScgg' .*did you mean 'ACEScg'"):
        color.to_working(np.zeros((2, 2, 3), np.float32), "ACEScgg")
    with pytest.raises(ColorError, match=r"needs height x width x 3\+ pixels, not shape \(2, 2\)"):
        color.to_working(np.zeros((2, 2), np.float32), "ACEScg")


def test_ocio_environment_variable_is_respected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = ocio.Config.CreateFromFile(color.BUILTIN_CONFIG)
    studio_space = ocio.ColorSpace(name="Studio Plate Gamma 2")
    studio_space.setTransform(ocio.ExponentTransform([2.0, 2.0, 2.0, 1.0]), ocio.COLORSPACE_DIR_TO_REFERENCE)
    config.addColorSpace(studio_space)
    config_file = tmp_path / "studio.ocio"
    config_file.write_text(config.serialize())

    with pytest.raises(ColorError, match="unknown colourspace 'Studio Plate Gamma 2'"):
        color.check_colorspace("Studio Plate Gamma 2")
    monkeypatch.setenv("OCIO", str(config_file))
    assert color.config_name() == str(config_file)
    assert "Studio Plate Gamma 2" in color.colorspace_names()
    pixels = np.full((2, 2, 3), 0.5, np.float32)
    # 0.5 in the studio space is 0.25 in ACES2065-1 (the config's reference).
    assert np.allclose(color.convert(pixels, "Studio Plate Gamma 2", "ACES2065-1"), 0.25, atol=1e-6)


def test_broken_config_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "broken.ocio"
    broken.write_text("ocio_profile_version: 2\nroles: [this is not valid\n")
    monkeypatch.setenv("OCIO", str(broken))
    with pytest.raises(ColorError, match=r"cannot load the OCIO config .*broken.ocio .*fix \$OCIO"):
        color.load_config()
    monkeypatch.setenv("OCIO", str(tmp_path / "missing.ocio"))
    with pytest.raises(ColorError, match=r"cannot load the OCIO config .*missing.ocio .*does not exist"):
        color.load_config()
