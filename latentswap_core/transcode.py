"""Converting frames between file formats, pixel types and colourspaces, frame by frame.

Used to turn movies or photo folders into EXR plates and plates into previews. Frames land
atomically, so an interrupted run is resumed by running it again with ``skip_existing``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentswap_core import color
from latentswap_core.errors import OutputError
from latentswap_core.io import FrameSource, Image, check_not_overwriting, looks_like_sequence, parse_sequence
from latentswap_core.io.image import default_pixel_type, to_float32, write_image


@dataclass(frozen=True)
class TranscodeOptions:
    input_colorspace: str | None = None   # default: by pixel type (ACEScg float, sRGB integer)
    output_colorspace: str | None = None  # default: the input's; no conversion
    pixel_type: str | None = None         # default: the input's where the format stores it
    compression: str | None = None
    skip_existing: bool = False
    ocio_config: str | None = None


def output_paths(source: FrameSource, output: str) -> dict[int, Path]:
    """The file each source frame is written to: a sequence pattern, or one file for one frame. Refused before
    any work: outputs that would overwrite an input, and output folders that do not exist."""
    if looks_like_sequence(output):
        sequence = parse_sequence(output, source.frames)
        targets = {frame: sequence.path(frame) for frame in source.frames}
    elif len(source.frames) != 1:
        raise OutputError(f"{output}: {len(source.frames)} frames need a sequence pattern for the output, "
                          "such as out.####.exr")
    else:
        targets = {source.frames[0]: Path(output)}
    check_not_overwriting(source.input_files(), targets.values())
    for folder in {path.parent for path in targets.values()}:
        if not folder.is_dir():
            raise OutputError(f"{folder}: the output folder does not exist; create it first")
    return targets


def transcode(source: FrameSource, output: str, options: TranscodeOptions,
              on_frame: Callable[[int, Path, bool], None] | None = None) -> list[Path]:
    """Write every frame of ``source`` to ``output``; returns the files written or kept."""
    targets = output_paths(source, output)
    for space in (options.input_colorspace, options.output_colorspace):
        if space:
            color.check_colorspace(space, options.ocio_config)
    written = []
    for frame, target in targets.items():
        skipped = options.skip_existing and target.is_file()
        if not skipped:
            image = source.read(frame)
            # Colour conversion computes in float32; store what the source stored (8-bit movie -> half EXR).
            pixel_type = options.pixel_type or default_pixel_type(target, image.pixel_type)
            write_image(target, _converted(image, options), pixel_type, options.compression)
        written.append(target)
        if on_frame is not None:
            on_frame(frame, target, skipped)
    return written


def _converted(image: Image, options: TranscodeOptions) -> Image:
    if not options.output_colorspace:
        return image
    source_space = options.input_colorspace or color.default_colorspace(image.pixels.dtype)
    if color.check_colorspace(source_space, options.ocio_config) == color.check_colorspace(
            options.output_colorspace, options.ocio_config):
        return image
    pixels = to_float32(image.pixels)
    if pixels.shape[2] < 3:
        pixels = np.concatenate([np.repeat(pixels[:, :, :1], 3, axis=2), pixels[:, :, 1:]], axis=2)
        channels = ("R", "G", "B", *image.channels[1:])
    else:
        channels = image.channels
    converted = color.convert(pixels, source_space, options.output_colorspace, options.ocio_config)
    return Image(converted, channels, image.origin, image.display_window, dict(image.metadata),
                 bits_per_sample=image.bits_per_sample)
