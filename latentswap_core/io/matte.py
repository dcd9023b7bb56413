"""Mattes per frame: a sequence of single-channel pictures over the plate (Nuke roto rendered out, hand-painted
PNGs, an occlusion model's output), read as one alpha in [0, 1] over the plate's display window.

A matte's value is its alpha channel when it has one (EXR ``A``, PNG with transparency), else its first channel
(a grey or RGB picture: white = 1). Frames the sequence does not hold have no matte (nothing held out there):
roto is often drawn only where the occluder is. The mattes of a shot share the plate's display size.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from latentswap_core.errors import SequenceError
from latentswap_core.io.image import read_image, to_float32
from latentswap_core.io.sequence import _frames_on_disk, parse_sequence


class MatteSequence:
    """The mattes of ``pattern`` (``holdout.####.png``); ``at(frame, size)`` -> H x W float32, or None."""

    def __init__(self, pattern: str | os.PathLike[str]) -> None:
        self.pattern = os.fspath(pattern)
        self.sequence = parse_sequence(self.pattern, frames=())
        present = [frame for frame in _frames_on_disk(self.sequence) if self.sequence.path(frame).is_file()]
        if not present:
            raise SequenceError(f"{self.pattern}: no matte frames found; check the path and the number of #")
        self.frames = tuple(present)

    def path(self, frame: int) -> Path:
        return self.sequence.path(frame)

    def at(self, frame: int, size: tuple[int, int] | None = None) -> np.ndarray | None:
        """The matte of ``frame`` over its display window, which must be ``size`` (the plate's width, height) when
        given; None where the sequence has no file for that frame."""
        if frame not in self.frames:
            return None
        path = self.path(frame)
        image = read_image(path)
        index = image.channels.index("A") if "A" in image.channels else 0
        values = np.clip(to_float32(image.pixels[:, :, index]), 0.0, 1.0)
        x0, y0, width, height = image.display_window or (0, 0, image.width, image.height)
        if size is not None and (width, height) != tuple(size):
            raise SequenceError(f"{path}: the matte is {width}x{height} but the plate is {size[0]}x{size[1]}; "
                                "render the matte at the plate's resolution")
        return placed(values, (height, width), (image.origin[0] - x0, image.origin[1] - y0))

    def describe(self) -> str:
        from latentswap_core.io.sequence import format_frames

        return f"{self.sequence.pattern} ({format_frames(self.frames)})"


def placed(values: np.ndarray, shape: tuple[int, int], offset: tuple[int, int]) -> np.ndarray:
    """A ``shape`` (height, width) float32 array, zero but where ``values`` lands with its first pixel at
    ``offset`` (x, y; negative: partly outside). Takes a data window into its display window and back."""
    out = np.zeros(shape, np.float32)
    left, top = offset
    rows = slice(max(top, 0), min(top + values.shape[0], shape[0]))
    columns = slice(max(left, 0), min(left + values.shape[1], shape[1]))
    if rows.start < rows.stop and columns.start < columns.stop:
        out[rows, columns] = values[rows.start - top:rows.stop - top, columns.start - left:columns.stop - left]
    return out
