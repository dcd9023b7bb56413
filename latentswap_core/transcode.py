"""Converting frames between file formats, pixel types and colourspaces, frame by frame.

Used to turn movies or photo folders into EXR plates and plates into previews. Frames land
atomically, so an interrupted run is resumed by running it again with ``skip_existing``. A missing
output folder is created (parents too) right before the first frame is written, as Nuke's Write does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import takewhile
from pathlib import Path
from typing import Any

import numpy as np

from latentswap_core import color
from latentswap_core.errors import OutputError
from latentswap_core.io import FrameSource, Image, check_not_overwriting, looks_like_sequence, parse_sequence
from latentswap_core.io.atomic import check_output_file
from latentswap_core.io.image import default_pixel_type, reads_back_whole, to_float32, write_image


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
    any work: outputs that would overwrite an input, and output folders that cannot be created."""
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
        _check_can_create(folder)
    for path in targets.values():
        check_output_file(path)
    return targets


class OutputFolders:
    """The missing folders of an output: created (parents too) by ``create`` right before the first frame is
    written. Used as a context manager, a failure removes those still empty (no frame landed in them)."""

    def __init__(self, targets: Iterable[Path]) -> None:
        self._missing = sorted({path.parent for path in targets if not path.parent.is_dir()})
        self._made: list[Path] = []  # every folder made, parents before children

    def create(self) -> list[Path]:
        """Create the missing output folders; returns those created (none on later calls)."""
        created = []
        for folder in self._missing:
            new = list(takewhile(lambda path: not path.exists(), [folder, *folder.parents]))  # deepest first
            self._made.extend(reversed(new))
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise OutputError(f"{folder}: cannot create the output folder ({error.strerror or error}); "
                                  "choose another output") from None
            if new:
                created.append(folder)
        self._missing = []
        return created

    def remove_unused(self) -> None:
        """Remove the folders ``create`` made that are still empty, deepest first."""
        for folder in reversed(self._made):
            try:
                folder.rmdir()
            except OSError:  # a frame (or another job's) landed in it: keep it
                pass
        self._made = []

    def __enter__(self) -> OutputFolders:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> None:
        if kind is not None:
            self.remove_unused()


def _check_can_create(folder: Path) -> None:
    """Refuse an output folder that is missing and cannot be made: a file in the way, or no permission."""
    if folder.is_dir():
        return
    existing = next((path for path in folder.parents if path.exists()), None)
    if existing is None:
        return  # not even the working folder exists: creating it will say why
    if not existing.is_dir():
        raise OutputError(f"{folder}: cannot create the output folder, {existing} is a file; choose another output")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{folder}: cannot create the output folder, no permission to write in {existing}; "
                          "choose another output")


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
