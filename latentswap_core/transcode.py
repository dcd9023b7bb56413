"""Converting frames between file formats, pixel types and colourspaces, frame by frame.

Used to turn movies or photo folders into EXR plates and plates into previews. Frames land
atomically, so an interrupted run is resumed by running it again with ``skip_existing``. A missing
output folder is created (parents too) right before the first frame is written, as Nuke's Write does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentswap_core import color
from latentswap_core.io import FrameSource, Image
from latentswap_core.io.image import default_pixel_type, reads_back_whole, to_float32, write_image
from latentswap_core.io.output_files import OutputFolders, output_paths


@dataclass(frozen=True)
class TranscodeOptions:
    input_colorspace: str | None = None   # default: by pixel type (ACEScg float, sRGB integer)
    output_colorspace: str | None = None  # default: the input's; no conversion
    pixel_type: str | None = None         # default: the input's where the format stores it
    compression: str | None = None
    skip_existing: bool = False
    ocio_config: str | None = None


def transcode(source: FrameSource, output: str, options: TranscodeOptions,
              on_frame: Callable[[int, Path, bool], None] | None = None,
              on_folder_created: Callable[[Path], None] | None = None) -> list[Path]:
    """Write every frame of ``source`` to ``output``; returns the files written or kept. A missing output folder
    is created before the first frame is written (``on_folder_created(folder)``), and removed again if the job
    fails before a frame landed in it."""
    targets = output_paths(source, output)
    for space in (options.input_colorspace, options.output_colorspace):
        if space:
            color.check_colorspace(space, options.ocio_config)
    written = []
    size = source.display_size() if options.skip_existing else None
    with OutputFolders(targets.values()) as folders:
        for frame, target in targets.items():
            # a frame cut short (a full disk, a killed copy) is written again, not kept
            skipped = options.skip_existing and target.is_file() and reads_back_whole(target, size)
            if not skipped:
                image = source.read(frame)
                # Colour conversion computes in float32; store what the source stored (8-bit movie -> half EXR).
                pixel_type = options.pixel_type or default_pixel_type(target, image.pixel_type)
                converted = _converted(image, options)
                for folder in folders.create():
                    if on_folder_created is not None:
                        on_folder_created(folder)
                write_image(target, converted, pixel_type, options.compression)
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
