"""Reading and writing one image file through OpenImageIO, keeping what a compositor expects kept.

Pixels stay in the file's own type (half stays half, 16-bit stays 16-bit), every channel and layer
(``face.R``, ``lsmask.Y``) and the data/display windows survive, and header metadata is a plain dict.
Writes are atomic: a frame appears whole under its final name or not at all.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import OpenImageIO as oiio

from latentswap_core.errors import ImageError
from latentswap_core.io.atomic import atomic_path

PIXEL_TYPES = ("uint8", "uint10", "uint16", "half", "float")
_DTYPE_TO_PIXEL_TYPE = {"uint8": "uint8", "uint16": "uint16", "float16": "half", "float32": "float"}
_PIXEL_TYPE_TO_DTYPE = {"uint8": np.uint8, "uint10": np.uint16, "uint16": np.uint16, "half": np.float16,
                        "float": np.float32}
# Which pixel types each written format stores; the first is used when the image's own type does not fit.
_FORMAT_PIXEL_TYPES = {
    "openexr": ("half", "float"),
    "png": ("uint16", "uint8"),
    "jpeg": ("uint8",),
    "tiff": ("uint16", "uint8", "half", "float"),
    "dpx": ("uint10", "uint8", "uint16"),
}
# Headers claiming more pixels than the largest cinema camera frame (Blackmagic URSA Cine 17K, 17520 x 8040, about
# 141 million) are refused before anything is allocated: such a header is almost always a corrupt or hostile file
# (a 784 KB PNG declaring a 16K square took 9 GB to convert). Larger formats (dome plates) raise the bound with
# $LATENTSWAP_MAX_IMAGE_PIXELS.
MAX_IMAGE_PIXELS = 17520 * 8040
MAX_IMAGE_PIXELS_VARIABLE = "LATENTSWAP_MAX_IMAGE_PIXELS"
EXR_COMPRESSIONS = ("none", "rle", "zips", "zip", "piz", "pxr24", "b44", "b44a", "dwaa", "dwab")
DEFAULT_COMPRESSION = "zips"  # what Nuke's Write gives an EXR unless told otherwise: "Zip (1 scanline)"
_COMPRESSION_LEVELS = {"zip": (1, 9), "zips": (1, 9), "dwaa": (1, 10000), "dwab": (1, 10000)}
_FORMAT_KEYS = {"compression", "oiio:BitsPerSample", "oiio:ColorSpace", "oiio:subimages", "oiio:RowsPerChunk"}
# Rows a BandedImage makes at a time: a multiple of every EXR compression's block (zip 16, piz and dwaa 32, dwab
# 256 lines), a few MB at 4K even with a dozen channels.
BAND_ROWS = 256


@dataclass
class Image:
    """One frame: ``pixels`` is height x width x channels over the data window."""

    pixels: np.ndarray
    channels: tuple[str, ...]
    origin: tuple[int, int] = (0, 0)
    display_window: tuple[int, int, int, int] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    channel_formats: tuple[str, ...] = ()
    bits_per_sample: int | None = None

    def __post_init__(self) -> None:
        if self.pixels.ndim == 2:
            self.pixels = self.pixels[:, :, np.newaxis]
        if self.pixels.ndim != 3 or self.pixels.shape[2] != len(self.channels):
            raise ImageError(
                f"pixels of shape {self.pixels.shape} do not match the channels {', '.join(self.channels)}"
            )
        self.display_window = self.display_box

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def pixel_type(self) -> str:
        if self.bits_per_sample == 10 and self.pixels.dtype == np.uint16:
            return "uint10"
        try:
            return _DTYPE_TO_PIXEL_TYPE[self.pixels.dtype.name]
        except KeyError:
            raise ImageError(f"pixels of type {self.pixels.dtype} cannot be stored; use uint8, uint16, "
                             "float16 or float32") from None

    @property
    def display_box(self) -> tuple[int, int, int, int]:
        """The display window (x, y, width, height) in plate pixels; without one, the data window is the display."""
        return _display_box(self.origin, self.width, self.height, self.display_window)

    @property
    def data_offset(self) -> tuple[int, int]:
        """Where the data window's first pixel lies in display-window (plate) pixels: EXR overscan or crops."""
        x, y = self.display_box[:2]
        return (self.origin[0] - x, self.origin[1] - y)

    def channel(self, name: str) -> np.ndarray:
        try:
            return self.pixels[:, :, self.channels.index(name)]
        except ValueError:
            raise ImageError(f"no channel {name!r}; the image has {', '.join(self.channels)}") from None

    def rgb_indices(self) -> list[int]:
        """Where R, G and B are; in a grey image (no R, G and B) the first channel stands for all three."""
        if all(c in self.channels for c in "RGB"):
            return [self.channels.index(c) for c in "RGB"]
        return [0, 0, 0]

    def rgb_float(self) -> np.ndarray:
        """R, G, B (grey replicated) as float32; integers scaled to [0, 1]."""
        return to_float32(self.pixels[:, :, self.rgb_indices()])


@dataclass(frozen=True)
class BandedImage:
    """An image to write that is made a band of rows at a time as it is written, so that it is never whole in
    memory (a 4K frame of a dozen half channels is 200 MB). ``rows(y0, y1)`` gives data-window rows ``y0`` to
    ``y1`` (half-open) as (y1 - y0) x width x channels of ``dtype``; the rest is as ``Image``."""

    width: int
    height: int
    channels: tuple[str, ...]
    dtype: type
    rows: Callable[[int, int], np.ndarray]
    origin: tuple[int, int] = (0, 0)
    display_window: tuple[int, int, int, int] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    channel_formats: tuple[str, ...] = ()

    @property
    def pixel_type(self) -> str:
        return _DTYPE_TO_PIXEL_TYPE[np.dtype(self.dtype).name]

    @property
    def display_box(self) -> tuple[int, int, int, int]:
        return _display_box(self.origin, self.width, self.height, self.display_window)


def _display_box(origin: tuple[int, int], width: int, height: int,
                 display_window: tuple[int, int, int, int] | None) -> tuple[int, int, int, int]:
    return (origin[0], origin[1], width, height) if display_window is None else display_window


def to_float32(pixels: np.ndarray) -> np.ndarray:
    """Float32 copy of ``pixels``; integer types map their full range to [0, 1]."""
    if np.issubdtype(pixels.dtype, np.integer):
        return pixels.astype(np.float32) / np.float32(np.iinfo(pixels.dtype).max)
    return pixels.astype(np.float32)


def read_image(path: str | os.PathLike[str]) -> Image:
    """``path`` in its stored type; ImageError naming the file if it is unusable.

    Multi-part EXRs come back as one image holding every part's channels (a channel name used by two
    parts gets its part's name as a prefix); they are written back single-part.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: file not found")
    reader = oiio.ImageInput.open(str(path))
    if reader is None:
        raise ImageError(f"{path}: not a readable image ({_oiio_message(oiio.geterror())}); replace the file")
    try:
        spec = oiio.ImageSpec(reader.spec())
        parts = [_read_part(reader, path, spec)]
        for index in range(1, spec.get_int_attribute("oiio:subimages", 1)):
            reader.seek_subimage(index, 0)
            parts.append(_read_part(reader, path, spec))
    finally:
        reader.close()
    pixels, channels, channel_formats = _merge_parts(parts)
    return Image(
        pixels=pixels,
        channels=channels,
        origin=(spec.x, spec.y),
        display_window=(spec.full_x, spec.full_y, spec.full_width, spec.full_height),
        metadata={attribute.name: attribute.value for attribute in spec.extra_attribs},
        channel_formats=channel_formats,
        bits_per_sample=spec.get_int_attribute("oiio:BitsPerSample", 0) or None,
    )


def _read_part(reader: oiio.ImageInput, path: Path, first: oiio.ImageSpec) -> tuple[oiio.ImageSpec, np.ndarray]:
    spec = oiio.ImageSpec(reader.spec())
    if spec.deep:
        raise ImageError(f"{path}: deep images are not supported; flatten it first")
    if (spec.x, spec.y, spec.width, spec.height) != (first.x, first.y, first.width, first.height):
        raise ImageError(f"{path}: its parts have different data windows; write it as one part (interleaved)")
    check_pixel_count(path, spec)
    with held_c_stderr(reader.format_name() == "png") as held:
        pixels = reader.read_image(reader.current_subimage(), 0, 0, spec.nchannels, oiio.UNKNOWN)
        failed = pixels is None or reader.has_error
    if held and not failed:
        sys.stderr.write(held[0])  # a library's warning about a good read: pass it on
    if failed:
        raise ImageError(
            f"{path}: truncated or corrupt ({_oiio_message(reader.geterror())}); re-render or replace this frame"
        )
    pixels = np.asarray(pixels)
    return spec, pixels[:, :, np.newaxis] if pixels.ndim == 2 else pixels


def _merge_parts(parts: list[tuple[oiio.ImageSpec, np.ndarray]]) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    first_spec, first_pixels = parts[0]
    if len(parts) == 1:
        return first_pixels, tuple(first_spec.channelnames), tuple(str(f) for f in first_spec.channelformats)
    channels: list[str] = []
    formats: list[str] = []
    for index, (spec, _) in enumerate(parts):
        part_name = spec.get_string_attribute("name") or f"part{index}"
        part_formats = [str(f) for f in spec.channelformats] or [str(spec.format)] * spec.nchannels
        for name, fmt in zip(spec.channelnames, part_formats, strict=True):
            channels.append(f"{part_name}.{name}" if name in channels else name)
            formats.append(fmt)
    dtypes = {pixels.dtype for _, pixels in parts}
    merged_dtype = dtypes.pop() if len(dtypes) == 1 else np.float32
    pixels = np.concatenate([p.astype(merged_dtype, copy=False) for _, p in parts], axis=2)
    mixed = len(set(formats)) > 1
    return pixels, tuple(channels), tuple(formats) if mixed else ()


def read_header(path: str | os.PathLike[str]) -> oiio.ImageSpec:
    """The header only (fast): size, channels, type; ImageError naming the file if it is unusable."""
    reader = oiio.ImageInput.open(str(path))
    if reader is None:
        if not Path(path).is_file():
            raise ImageError(f"{path}: file not found")
        raise ImageError(f"{path}: not a readable image ({_oiio_message(oiio.geterror())}); replace the file")
    spec = oiio.ImageSpec(reader.spec())
    reader.close()
    check_pixel_count(path, spec)
    return spec


def reads_back_whole(path: str | os.PathLike[str], display_size: tuple[int, int] | None = None,
                     frame: int | None = None) -> bool:
    """Whether ``path`` is a finished frame worth keeping on a rerun (``--skip-existing``): every pixel reads back
    (a frame cut short by a full disk or a copy does not), its display window is ``display_size`` (width,
    height), and a frame LatentSwap wrote carries ``frame`` as its source frame."""
    try:
        image = read_image(path)
    except ImageError:
        return False
    if display_size is not None and tuple(image.display_box[2:]) != tuple(display_size):
        return False
    stamped = image.metadata.get("latentswap/source_frame")
    return frame is None or stamped is None or str(stamped) == str(frame)


def max_image_pixels() -> int:
    """MAX_IMAGE_PIXELS, or the whole number in $LATENTSWAP_MAX_IMAGE_PIXELS (ImageError if it is not one)."""
    text = os.environ.get(MAX_IMAGE_PIXELS_VARIABLE, "").strip()
    if not text:
        return MAX_IMAGE_PIXELS
    if not (text.isascii() and text.isdigit() and 0 < int(text) < 2**40):
        raise ImageError(f"${MAX_IMAGE_PIXELS_VARIABLE}={text[:40]!r} is not a pixel count; set a whole number such "
                         f"as {20000 * 20000} or unset it")
    return int(text)


def check_pixel_count(path: str | os.PathLike[str], spec: oiio.ImageSpec) -> None:
    """Refuse a header whose data window is empty or larger than max_image_pixels(), before reading pixels."""
    width, height = spec.width, spec.height
    bound = max_image_pixels()
    if width < 1 or height < 1 or width * height > bound:
        raise ImageError(f"{path}: the header claims {width}x{height} pixels, outside what LatentSwap reads "
                         f"(1 to {bound} pixels, the largest camera frame); the file is likely corrupt, replace "
                         f"it (or raise ${MAX_IMAGE_PIXELS_VARIABLE} for a larger format)")


_STDERR_LOCK = threading.Lock()


@contextmanager
def held_c_stderr(hold: bool = True) -> Iterator[list[str]]:
    """Hold what C libraries print on file descriptor 2 meanwhile (libpng prints its errors there besides
    reporting them to OpenImageIO), so a failed read stays the one-line error; yields [text] afterwards.
    The descriptor is the process's: reads that hold it run one at a time, so ``hold`` only where needed."""
    held: list[str] = []
    if not hold:
        yield held
        return
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no descriptor 2 (a daemon): nothing to hold
            yield held
            return
        os.dup2(sink.fileno(), 2)
        try:
            yield held
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", "replace")
            if text:
                held.append(text)


def write_image(
    path: str | os.PathLike[str],
    image: Image | BandedImage,
    pixel_type: str | None = None,
    compression: str | None = None,
) -> None:
    """Write ``image`` atomically; ``pixel_type`` defaults to the image's own where the format stores it. A
    ``BandedImage`` is made and written ``BAND_ROWS`` rows at a time; the file is the same."""
    path = Path(path)
    writer = oiio.ImageOutput.create(str(path))
    if writer is None:
        raise ImageError(f"{path}: cannot write this file type ({_oiio_message(oiio.geterror())}); use .exr, "
                         ".png, .jpg, .tif or .dpx")
    format_name = writer.format_name()
    stored = _FORMAT_PIXEL_TYPES.get(format_name, ("uint8",))
    if pixel_type is None:
        pixel_type = _stored_or_default(image.pixel_type, stored)
    elif pixel_type not in stored:
        raise ImageError(f"{path}: {format_name} cannot store {pixel_type} pixels; choose one of {', '.join(stored)}")
    if compression and format_name == "openexr":
        try:
            check_exr_compression(compression)
        except ImageError as error:
            raise ImageError(f"{path}: {error}") from None
    spec = _spec_for(image, pixel_type, format_name, compression)
    with atomic_path(path) as temporary:
        if not writer.open(str(temporary), spec):
            raise ImageError(f"{path}: cannot write ({_oiio_message(writer.geterror())})")
        try:
            if isinstance(image, BandedImage):
                ok = _write_bands(writer, image)
            else:
                ok = writer.write_image(np.ascontiguousarray(image.pixels))
        except BaseException:
            writer.close()  # the temporary file is removed next, which Windows refuses while it is open
            raise
        ok = writer.close() and ok
        if not ok:
            raise ImageError(f"{path}: writing failed ({_oiio_message(writer.geterror())}); check disk space "
                             "and permissions")


def _write_bands(writer: oiio.ImageOutput, image: BandedImage) -> bool:
    top = writer.spec().y  # the file's first row: TIFF, for one, has no negative data window and starts at 0
    for y0 in range(0, image.height, BAND_ROWS):
        y1 = min(y0 + BAND_ROWS, image.height)
        band = np.ascontiguousarray(image.rows(y0, y1))
        # OpenImageIO reads as many bytes as the rows should hold, whatever the array holds
        if band.shape != (y1 - y0, image.width, len(image.channels)) or band.dtype != image.dtype:
            raise ValueError(f"rows {y0}-{y1} came as {band.shape} {band.dtype}, not "
                             f"{(y1 - y0, image.width, len(image.channels))} {np.dtype(image.dtype)}")
        if not writer.write_scanlines(top + y0, top + y1, 0, band):
            return False
    return True


def check_exr_compression(compression: str) -> str:
    """``compression`` if OpenEXR has it (``zip``, or with a level: ``zip:6``, ``dwaa:45``), else an ImageError."""
    name, colon, level = str(compression).partition(":")
    if name not in EXR_COMPRESSIONS:
        raise ImageError(f"unknown EXR compression {compression!r}; use one of {', '.join(EXR_COMPRESSIONS)} "
                         "(zip, zips, dwaa and dwab take a level: zip:6, dwaa:45)")
    if colon:
        if name not in _COMPRESSION_LEVELS:
            raise ImageError(f"EXR compression {name} takes no level; give {name} alone")
        low, high = _COMPRESSION_LEVELS[name]
        try:
            value = float(level)
        except ValueError:
            value = math.nan
        whole = name.startswith("zip")
        if not (math.isfinite(value) and low <= value <= high and (not whole or value.is_integer())):
            kind = "a whole number" if whole else "a number"
            raise ImageError(f"EXR compression {compression!r}: the level of {name} is {kind} from {low} to {high}")
    return compression


def default_pixel_type(path: str | os.PathLike[str], preferred: str) -> str:
    """``preferred`` if the format of ``path`` stores it, else that format's usual type (EXR: half)."""
    writer = oiio.ImageOutput.create(str(path))
    format_name = writer.format_name() if writer is not None else ""
    return _stored_or_default(preferred, _FORMAT_PIXEL_TYPES.get(format_name, ("uint8",)))


def _stored_or_default(preferred: str, stored: tuple[str, ...]) -> str:
    return preferred if preferred in stored else stored[0]


def _spec_for(image: Image | BandedImage, pixel_type: str, format_name: str, compression: str | None) -> oiio.ImageSpec:
    base_type = "uint16" if pixel_type == "uint10" else pixel_type
    spec = oiio.ImageSpec(image.width, image.height, len(image.channels), base_type)
    spec.channelnames = image.channels
    spec.x, spec.y = image.origin
    spec.full_x, spec.full_y, spec.full_width, spec.full_height = image.display_box
    if "A" in image.channels:
        spec.alpha_channel = image.channels.index("A")
    # Per-channel types (half RGBA beside a float depth) survive when the type is kept as it was read.
    if image.channel_formats and pixel_type == image.pixel_type and format_name == "openexr":
        spec.channelformats = tuple(oiio.TypeDesc(fmt) for fmt in image.channel_formats)
    for name, value in image.metadata.items():
        if name not in _FORMAT_KEYS and not name.startswith(("oiio:", "openexr:", "exr:")):
            _set_attribute(spec, name, value)
    if pixel_type == "uint10":
        spec.attribute("oiio:BitsPerSample", 10)
    if format_name == "openexr":
        spec.attribute("compression", compression or image.metadata.get("compression", "zip"))
    elif compression:
        spec.attribute("compression", compression)
    return spec


def _set_attribute(spec: oiio.ImageSpec, name: str, value: Any) -> None:
    if isinstance(value, bool):
        spec.attribute(name, int(value))
    elif isinstance(value, (str, int, float)):
        spec.attribute(name, value)
    elif isinstance(value, (tuple, list)) and value and all(isinstance(v, (int, float)) for v in value):
        kind = oiio.TypeDesc("int" if all(isinstance(v, int) for v in value) else "float")
        kind.arraylen = len(value)
        spec.attribute(name, kind, tuple(value))


def _oiio_message(message: str) -> str:
    return " ".join(message.split()) or "no detail given"
