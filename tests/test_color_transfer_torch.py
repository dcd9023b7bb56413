"""Colour transfer as torch ops (blend/color_transfer_torch.py), on the CPU (and a GPU where there is one), against
color_transfer.py's numpy.

Tolerance: max abs difference 2e-3 in the working space ([0, 1] display sRGB); measured under 1e-6 for rct, lct,
mkl and idt (idt's samples and rotations come from the same seeded sequence). Real faces: obama.jpg's, recoloured
to biden.jpg's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import similarity

from latentswap_core.align import warp_to_aligned
from latentswap_core.blend import color_transfer_torch
from latentswap_core.blend.color_transfer import MODES, transfer_color
from latentswap_core.errors import ColorError
from latentswap_core.io import read_image

SIZE = 256
TOLERANCE = 2e-3
# (photo, face centre, side): the face in each photo
FACES = {"obama": ((489.0, 250.0), 340.0), "biden": ((560.0, 330.0), 360.0)}


def _face(shared_dir, name: str) -> np.ndarray:
    centre, side = FACES[name]
    photo = read_image(shared_dir / "data" / "faces" / f"{name}.jpg").rgb_float()
    return np.clip(warp_to_aligned(photo, similarity(centre, side, 0.0), SIZE), 0.0, 1.0)


@pytest.fixture(scope="module")
def faces(shared_dir) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source, target, mask): obama's face, biden's, a soft ellipse over the face."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    radius = np.hypot((xx - SIZE / 2) / (0.36 * SIZE), (yy - SIZE / 2) / (0.45 * SIZE))
    return _face(shared_dir, "obama"), _face(shared_dir, "biden"), np.clip((1.0 - radius) * 4.0, 0.0, 1.0)


def on_torch(mode: str, source: np.ndarray, target: np.ndarray, mask: np.ndarray, device: str = "cpu",
             **options) -> np.ndarray:
    tensors = [torch.from_numpy(array.astype(np.float32)).to(device) for array in (source, target, mask)]
    return color_transfer_torch.transfer_color(*tensors, mode, **options).cpu().numpy()


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_matches_numpy(faces, mode, torch_device):
    source, target, mask = faces
    expected = transfer_color(source, target, mask, mode)
    got = on_torch(mode, source, target, mask, torch_device)
    assert got.dtype == np.float32 and got.shape == source.shape
    assert np.abs(got - expected).max() < TOLERANCE
    if mode != "none":
        assert np.abs(expected - source).max() > 0.2  # a real recolouring, not a copy


def test_idt_follows_its_seed(faces):
    source, target, mask = faces
    other_seed = on_torch("idt", source, target, mask, idt_seed=1)
    assert np.abs(other_seed - transfer_color(source, target, mask, "idt", idt_seed=0)).max() > TOLERANCE
    assert np.abs(other_seed - transfer_color(source, target, mask, "idt", idt_seed=1)).max() < TOLERANCE


def test_an_empty_mask_keeps_the_source_and_bad_input_is_a_colour_error(faces):
    source, target, mask = faces
    assert np.array_equal(on_torch("rct", source, target, np.zeros_like(mask)), source)
    with pytest.raises(ColorError, match="unknown colour transfer mode"):
        on_torch("hist", source, target, mask)
    with pytest.raises(ColorError, match="same H x W x 3 shape"):
        on_torch("rct", source, target[:128], mask)
    bad = target.copy()
    bad[5, 5, 1] = np.nan
    with pytest.raises(ColorError, match="target contains NaN"):
        on_torch("lct", source, bad, mask)
