"""The frame a swap writes (swap/layers.py), checked against the layers put together by hand: the plate's own
channels, the comp and the face layers inside the faces' box, the box crossing the rows where the writer's bands
meet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latentswap_core.io import Image, read_image, write_image
from latentswap_core.io.image import BAND_ROWS
from latentswap_core.swap.layers import FACE_CHANNELS, FacesInBox, frame_layers


@pytest.mark.parametrize("pixel_type", ["half", "float"])
@pytest.mark.parametrize("layers", ["all", "comp"])
def test_the_full_frame_layers_are_the_plate_with_the_faces_in_their_box(tmp_path: Path, pixel_type: str,
                                                                         layers: str) -> None:
    rng = np.random.default_rng(3)
    height, width = BAND_ROWS + 90, 48
    plate = Image(rng.random((height, width, 5)).astype(np.float16), ("R", "G", "B", "A", "depth.Z"),
                  origin=(-4, -6), display_window=(0, 0, width - 8, height - 12))
    y0, y1, x0, x1 = BAND_ROWS - 40, BAND_ROWS + 30, 7, 39  # across the first bands' seam
    box = (y1 - y0, x1 - x0)
    faces = FacesInBox((y0, y1, x0, x1), rng.random((*box, 3), np.float32), rng.random((*box, 4), np.float32),
                       rng.random((*box, 3), np.float32), np.array([0.1, 0.2, 0.3]))
    dtype = {"half": np.float16, "float": np.float32}[pixel_type]

    expected = plate.pixels.astype(dtype)
    expected[y0:y1, x0:x1, :3] = faces.comp
    if layers == "all":
        own = np.zeros((height, width, len(FACE_CHANNELS)), dtype)
        own[y0:y1, x0:x1, :4] = faces.face
        own[y0:y1, x0:x1, 4:7] = faces.grain
        own[y0:y1, x0:x1, 7] = faces.face[:, :, 3]
        expected = np.concatenate([expected, own], axis=2)

    write_image(tmp_path / "out.exr", frame_layers(plate, faces, layers, pixel_type, {"latentswap/faces": "1"}))
    result = read_image(tmp_path / "out.exr")
    assert result.channels == ("R", "G", "B", "A", "depth.Z", *(FACE_CHANNELS if layers == "all" else ()))
    assert (result.origin, result.display_window) == (plate.origin, plate.display_window)
    assert result.pixels.dtype == dtype and result.pixels.tobytes() == expected.tobytes()
    assert result.metadata["latentswap/faces"] == "1"


@pytest.mark.parametrize("with_faces", [True, False])
def test_a_grey_integer_plate_without_alpha_gives_grey_rgb_an_opaque_alpha_and_its_faces(tmp_path: Path,
                                                                                        with_faces: bool) -> None:
    rng = np.random.default_rng(5)
    height, width = BAND_ROWS + 20, 16
    plate = Image(rng.integers(0, 65535, (height, width, 1), dtype=np.uint16), ("Y",))
    y0, y1, x0, x1 = BAND_ROWS - 5, BAND_ROWS + 5, 2, 9
    faces = FacesInBox((y0, y1, x0, x1), rng.random((10, 7, 3), np.float32), rng.random((10, 7, 4), np.float32)) \
        if with_faces else None

    grey = (plate.pixels[:, :, 0].astype(np.float32) / 65535).astype(np.float16)
    expected = np.zeros((height, width, 4 + len(FACE_CHANNELS)), np.float16)
    expected[:, :, :3] = grey[:, :, None]
    expected[:, :, 3] = 1.0
    if faces is not None:
        expected[y0:y1, x0:x1, :3] = faces.comp
        expected[y0:y1, x0:x1, 4:8] = faces.face  # no grain measured: its layer stays 0
        expected[y0:y1, x0:x1, 11] = faces.face[:, :, 3]

    write_image(tmp_path / "out.exr", frame_layers(plate, faces, "all", "half", {}))
    result = read_image(tmp_path / "out.exr")
    assert result.channels == ("R", "G", "B", "A", *FACE_CHANNELS)
    assert result.pixels.tobytes() == expected.tobytes()
