"""Numbered image sequences in the notations VFX pipelines use.

``plate.####.exr`` and ``plate.@@@@.exr`` (Nuke: one character per digit), ``plate.%04d.exr``
(printf), ``plate.$F4.exr`` (Houdini) and ``plate.1001-1100#.exr`` (fileseq/RV, where a range is
written in: ``#`` stands for four digits, ``@`` for one). Frame ranges use fileseq's syntax:
``1001-1100``, ``1001-1100x2``, ``1001,1005,1010-1020``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import reduce
from pathlib import Path
from typing import SupportsInt

import fileseq

from latentswap_core.errors import OutputError, SequenceError


def parse_frames(text: str) -> tuple[int, ...]:
    """Frames of a range such as ``1001-1100``, ``1001-1100x2`` or ``1,5,10-20``: ascending, each once, however the
    range is written (``1010,1001`` or ``1100-1001`` too), as every command reads and tracks frames forward."""
    try:
        frames = fileseq.FrameSet(text.strip())
    except (fileseq.ParseException, ValueError):
        # fileseq's message quotes its multi-line regex: not for users, and it would break the one-line error.
        raise SequenceError(
            f"cannot read the frame range {text!r}; write it like 1001-1100, 1001-1100x2 or 1001,1005"
        ) from None
    if not len(frames):
        raise SequenceError(f"the frame range {text!r} holds no frames")
    return forward(frames)


def forward(frames: Iterable[SupportsInt]) -> tuple[int, ...]:
    """``frames`` ascending, each once: the order every command reads and tracks frames in."""
    return tuple(sorted({int(frame) for frame in frames}))


def format_frames(frames: Iterable[int]) -> str:
    """The shortest range text for ``frames``: ``1001-1005,1010-1012``."""
    return fileseq.FrameSet(sorted(set(frames))).frange


@dataclass(frozen=True)
class ImageSequence:
    """Files ``directory / f"{basename}{frame:0{padding}d}{extension}"`` for each frame in ``frames``."""

    directory: Path
    basename: str
    extension: str
    padding: int
    frames: tuple[int, ...]

    @property
    def pattern(self) -> str:
        """The sequence in Nuke's notation, e.g. ``/shots/sh010/plate.####.exr``."""
        return str(self.directory / f"{self.basename}{'#' * self.padding}{self.extension}")

    def path(self, frame: int) -> Path:
        return self.directory / f"{self.basename}{str(frame).zfill(self.padding)}{self.extension}"

    def paths(self) -> list[Path]:
        return [self.path(frame) for frame in self.frames]

    def with_frames(self, frames: Sequence[int]) -> ImageSequence:
        return replace(self, frames=tuple(frames))

    def missing_frames(self) -> list[int]:
        return [frame for frame in self.frames if not self.path(frame).is_file()]

    def require_complete(self) -> None:
        """Raise a SequenceError naming every missing frame, before any work starts."""
        missing = self.missing_frames()
        if missing:
            raise SequenceError(
                f"{self.pattern}: {len(missing)} of {len(self.frames)} frames missing in "
                f"{format_frames(self.frames)}: {format_frames(missing)}; "
                "render or restore them, or choose other frames with --frames"
            )

    def describe(self) -> str:
        return f"{self.pattern} ({format_frames(self.frames)})" if self.frames else self.pattern


def looks_like_sequence(text: str) -> bool:
    """Whether ``text`` holds a frame-number placeholder (#, @, %0Nd, $FN)."""
    return _parse_pattern(text) is not None


def parse_sequence(text: str | os.PathLike[str], frames: str | Sequence[int] | None = None) -> ImageSequence:
    """The sequence a pattern names, with its frames.

    Frames come from ``frames`` if given, else from a range written into the pattern, else from the
    files on disk (then any gaps between the first and last frame count as missing frames).
    Existence is not checked here: call ``require_complete`` on inputs.
    """
    text = os.fspath(text)
    parsed = _parse_pattern(text)
    if parsed is None:
        raise SequenceError(
            f"{text}: not a frame sequence pattern; name frames like plate.####.exr, plate.%04d.exr "
            "or plate.1001-1100#.exr"
        )
    sequence, embedded = parsed
    if frames is not None:
        chosen = parse_frames(frames) if isinstance(frames, str) else tuple(int(f) for f in frames)
        return sequence.with_frames(chosen)
    if embedded:
        return sequence.with_frames(embedded)
    return sequence.with_frames(_frames_on_disk(sequence))


_PLACEHOLDER = re.compile(r"[#@]|%0?\d*d|\$F\d*")


def _parse_pattern(text: str) -> tuple[ImageSequence, tuple[int, ...]] | None:
    # A file name with a frame number but no placeholder (plate.1001.exr) is one image, not a sequence.
    if not _PLACEHOLDER.search(os.path.basename(text)):
        return None
    # A written-in range means fileseq's notation (# = 4 digits); otherwise Nuke's (# = 1 digit).
    try:
        parsed = fileseq.FileSequence(text, pad_style=fileseq.PAD_STYLE_HASH1)
        if parsed.frameSet() is not None:
            parsed = fileseq.FileSequence(text, pad_style=fileseq.PAD_STYLE_HASH4)
    except (fileseq.ParseException, ValueError):
        return None
    if not parsed.padding():
        return None
    directory = Path(parsed.dirname() or ".")
    embedded = forward(parsed.frameSet() or ())
    sequence = ImageSequence(directory, parsed.basename(), parsed.extension(), parsed.zfill(), ())
    return sequence, embedded


def _frames_on_disk(sequence: ImageSequence) -> tuple[int, ...]:
    if not sequence.directory.is_dir():
        raise SequenceError(f"{sequence.pattern}: the folder {sequence.directory} does not exist")
    number = re.compile(re.escape(sequence.basename) + r"(-?\d+)" + re.escape(sequence.extension) + r"\Z")
    found = []
    for entry in os.scandir(sequence.directory):
        match = number.match(entry.name)
        # Only names this pattern would write itself: plate.0042.exr, not plate.42.exr or plate.00042.exr.
        if match and str(int(match.group(1))).zfill(sequence.padding) == match.group(1):
            found.append(int(match.group(1)))
    if not found:
        raise SequenceError(f"{sequence.pattern}: no frames found; check the path and the number of # (digits)")
    found.sort()
    step = reduce(math.gcd, (b - a for a, b in zip(found, found[1:], strict=False)), 0) or 1
    return tuple(range(found[0], found[-1] + 1, step))


def check_not_overwriting(inputs: Iterable[Path], outputs: Iterable[Path]) -> None:
    """Refuse output paths that are input files (also through links or other spellings)."""
    input_files = {os.path.realpath(path) for path in inputs}
    for path in outputs:
        if os.path.realpath(path) in input_files:
            raise OutputError(f"{path}: the output would overwrite the input; choose another output name or folder")
