"""Image files through OpenImageIO: bit-exact EXR round trips, layers, windows, metadata, integer
formats, and one-line errors for corrupt files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latentswap_core.errors import ImageError
from latentswap_core.io import Image, read_image, write_image

COMP_CHANNELS = ("R", "G", "B", "A", "face.R", "face.G", "face.B", "face.A", "lsmask.Y")


def plate_like(face_photo: np.ndarray, dtype: type, channels: int) -> np.ndarray:
    """A real photo as scene-linear values, with over-range highlights, negatives, NaN-free."""
    rgb = (face_photo[:96, :128].astype(np.float32) / 255.0) ** 2.2 * 4.0 - 0.05
    rng = np.random.default_rng(7)
    stack = [rgb[..., i % 3] * (1 + 0.1 * i) + rng.normal(0, 0.01, rgb.shape[:2]) for i in range(channels)]
    return np.stack(stack, axis=-1).astype(dtype)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_exr_round_trip_is_bit_exact_with_layers_and_metadata(tmp_path: Path, face_photo, dtype) -> None:
    pixels = plate_like(face_photo, dtype, len(COMP_CHANNELS))
    assert pixels.max() > 1.0 and pixels.min() < 0.0
    metadata = {"latentswap/model": "sh010_v003", "latentswap/frame": 1001, "latentswap/mix": 0.75}
    image = Image(pixels, COMP_CHANNELS, origin=(40, 30), display_window=(0, 0, 1920, 1080), metadata=metadata)
    write_image(tmp_path / "comp.1001.exr", image)
    back = read_image(tmp_path / "comp.1001.exr")
    assert back.channels == COMP_CHANNELS
    assert same_bits(back.pixels, pixels)
    assert back.origin == (40, 30) and back.display_window == (0, 0, 1920, 1080)
    assert back.metadata["latentswap/model"] == "sh010_v003"
    assert back.metadata["latentswap/frame"] == 1001
    assert back.metadata["latentswap/mix"] == pytest.approx(0.75)
    # And again through a second write: nothing drifts.
    write_image(tmp_path / "again.exr", back)
    assert same_bits(read_image(tmp_path / "again.exr").pixels, pixels)


def test_mixed_channel_types_survive(tmp_path: Path, face_photo) -> None:
    half = plate_like(face_photo, np.float16, 4)
    depth = np.linspace(1.0, 1000.0, half.shape[0] * half.shape[1], dtype=np.float32).reshape(half.shape[:2])
    pixels = np.concatenate([half.astype(np.float32), depth[..., None]], axis=-1)
    image = Image(pixels, ("R", "G", "B", "A", "Z"), channel_formats=("half",) * 4 + ("float",))
    write_image(tmp_path / "deep_z.exr", image)
    back = read_image(tmp_path / "deep_z.exr")
    assert back.channel_formats == ("half", "half", "half", "half", "float")
    assert np.array_equal(back.channel("Z"), depth)
    assert np.array_equal(back.pixels[..., :4].astype(np.float16), half)


def test_multi_part_exr_keeps_every_part(tmp_path: Path, face_photo) -> None:
    import OpenImageIO as oiio

    beauty = plate_like(face_photo, np.float16, 4)
    diffuse = plate_like(face_photo, np.float32, 3) * 0.5
    specs = []
    for name, pixels, kind in (("rgba", beauty, "half"), ("diffuse", diffuse, "float")):
        spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], pixels.shape[2], kind)
        spec.channelnames = ("R", "G", "B", "A")[: pixels.shape[2]]
        spec.attribute("name", name)
        specs.append(spec)
    writer = oiio.ImageOutput.create(str(tmp_path / "parts.exr"))
    assert writer.open(str(tmp_path / "parts.exr"), tuple(specs))
    writer.write_image(beauty)
    writer.open(str(tmp_path / "parts.exr"), specs[1], "AppendSubimage")
    writer.write_image(diffuse)
    writer.close()

    image = read_image(tmp_path / "parts.exr")
    assert image.channels == ("R", "G", "B", "A", "diffuse.R", "diffuse.G", "diffuse.B")
    assert same_bits(image.pixels[..., :4].astype(np.float16), beauty)
    assert same_bits(image.pixels[..., 4:], diffuse)
    write_image(tmp_path / "single.exr", image)
    again = read_image(tmp_path / "single.exr")
    assert again.channel_formats == ("half",) * 4 + ("float",) * 3
    assert same_bits(again.pixels, image.pixels)


@pytest.mark.parametrize(("name", "dtype", "pixel_type"), [
    ("photo.png", np.uint8, None), ("photo16.png", np.uint16, None), ("photo.tif", np.uint16, None),
    ("photo8.tif", np.uint8, None), ("scan.dpx", np.uint16, "uint10"),
])
def test_integer_formats_keep_their_values(tmp_path: Path, face_photo, name, dtype, pixel_type) -> None:
    pixels = face_photo[:64, :80].astype(dtype)
    if pixel_type == "uint10":  # 10-bit code values held full-range in uint16, as OpenImageIO reads them
        ten_bit = pixels * 4 + 3
        pixels = (ten_bit << 6) | (ten_bit >> 4)
    elif dtype == np.uint16:
        pixels = pixels * 257
    write_image(tmp_path / name, Image(pixels, ("R", "G", "B")), pixel_type=pixel_type)
    back = read_image(tmp_path / name)
    assert back.pixels.dtype == dtype
    assert back.pixel_type == (pixel_type or back.pixel_type)
    assert np.array_equal(back.pixels, pixels)


def test_jpeg_is_close_and_float_becomes_8_bit(tmp_path: Path, face_photo) -> None:
    photo = face_photo[:64, :80]
    write_image(tmp_path / "photo.jpg", Image(photo.astype(np.float32) / 255.0, ("R", "G", "B")))
    back = read_image(tmp_path / "photo.jpg")
    assert back.pixels.dtype == np.uint8
    assert np.abs(back.pixels.astype(float) - photo).mean() < 4


def test_format_that_cannot_store_the_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match=r"x.jpg: jpeg cannot store half pixels; choose one of uint8"):
        write_image(tmp_path / "x.jpg", Image(np.zeros((4, 4, 3), np.float16), ("R", "G", "B")), "half")
    assert not any(tmp_path.iterdir())


def test_corrupt_truncated_and_missing_files_name_the_file(tmp_path: Path, face_photo) -> None:
    write_image(tmp_path / "good.exr", Image(plate_like(face_photo, np.float16, 4), ("R", "G", "B", "A")))
    data = (tmp_path / "good.exr").read_bytes()
    (tmp_path / "truncated.exr").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.exr").write_bytes(b"not an image at all" * 40)
    (tmp_path / "empty.png").write_bytes(b"")

    cases = {
        "truncated.exr": r"truncated.exr: truncated or corrupt \(.+\); re-render or replace this frame",
        "garbage.exr": r"garbage.exr: not a readable image \(.+\); replace the file",
        "empty.png": r"empty.png: not a readable image",
        "absent.exr": r"absent.exr: file not found",
    }
    for name, pattern in cases.items():
        with pytest.raises(ImageError, match=pattern) as error:
            read_image(tmp_path / name)
        assert "\n" not in str(error.value)


@pytest.mark.parametrize(("dtype", "ext"), [(np.float16, "exr"), (np.float32, "exr"), (np.float32, "tif")])
def test_a_banded_image_writes_the_same_file_as_the_whole_image_a_band_at_a_time(tmp_path: Path, face_photo,
                                                                                  dtype, ext: str) -> None:
    from latentswap_core.io import BandedImage
    from latentswap_core.io.image import BAND_ROWS

    photo = np.concatenate([face_photo] * 3, axis=0)  # taller than two bands, not a whole number of them
    pixels = np.stack([photo[..., i % 3].astype(np.float32) / 255.0 * (1 + i) for i in range(5)], axis=-1)
    pixels = pixels.astype(dtype)
    assert pixels.shape[0] % BAND_ROWS and pixels.shape[0] > 2 * BAND_ROWS
    channels = ("R", "G", "B", "A", "depth.Z")
    framing = {"origin": (-7, -13), "display_window": (0, 0, pixels.shape[1] - 20, pixels.shape[0] - 30),
               "metadata": {"latentswap/model_id": "0123456789abcdef", "compression": "zips"}}
    whole = Image(pixels, channels, **framing)
    asked: list[tuple[int, int]] = []

    def rows(top: int, bottom: int) -> np.ndarray:
        asked.append((top, bottom))
        return pixels[top:bottom]

    write_image(tmp_path / f"whole.{ext}", whole)
    write_image(tmp_path / f"banded.{ext}", BandedImage(pixels.shape[1], pixels.shape[0], channels, dtype, rows,
                                                        **framing))
    assert asked[0][0] == 0 and asked[-1][1] == pixels.shape[0]
    assert all(bottom - top <= BAND_ROWS and top == before for (top, bottom), (_, before)
               in zip(asked[1:], asked, strict=False))
    a, b = read_image(tmp_path / f"whole.{ext}"), read_image(tmp_path / f"banded.{ext}")
    assert same_bits(a.pixels, b.pixels) and same_bits(b.pixels, pixels)
    assert (a.channels, a.origin, a.display_window) == (b.channels, b.origin, b.display_window)
    if ext == "exr":  # TIFF keeps no negative data window
        assert (b.origin, b.display_window) == (framing["origin"], framing["display_window"])
    unstamped = {"DateTime", "oiio:SourcePath"}
    assert {k: v for k, v in a.metadata.items() if k not in unstamped} == \
        {k: v for k, v in b.metadata.items() if k not in unstamped}
