"""Where frames come from: a sequence, one image, a folder of images, or a movie.

``open_source`` looks at what the user named and returns a ``FrameSource``: a list of frame numbers
and a ``read(frame)`` that gives an ``Image``. Missing sequence frames are reported when the source
is opened, before any work starts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import fileseq

from latentswap_core.errors import SequenceError
from latentswap_core.io.image import Image, read_header, read_image
from latentswap_core.io.sequence import ImageSequence, looks_like_sequence, parse_frames, parse_sequence
from latentswap_core.io.video import VIDEO_EXTENSIONS, VideoReader

IMAGE_EXTENSIONS = (".exr", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dpx")


class FrameSource:
    """Frames to read, in order; ``file_of(frame)`` names what an error message should point at.

    ``continuous`` is False for a set of unrelated images (photos), where motion between frames means nothing.
    Opening a sequence reads every frame's header: missing or unreadable frames and mixed resolutions are
    refused then, before any work starts.
    """

    frames: tuple[int, ...]
    description: str
    continuous: bool = True

    def read(self, frame: int) -> Image:
        raise NotImplementedError

    def file_of(self, frame: int) -> Path:
        raise NotImplementedError

    def display_size(self) -> tuple[int, int]:
        """(width, height) of the first frame's display window (sources with files read just the header)."""
        x, y, width, height = self.read(self.frames[0]).display_box
        return width, height

    def input_files(self) -> list[Path]:
        return [self.file_of(frame) for frame in self.frames]

    def __iter__(self) -> Iterator[tuple[int, Image]]:
        for frame in self.frames:
            yield frame, self.read(frame)

    def __len__(self) -> int:
        return len(self.frames)

    def close(self) -> None:
        """Release open files (movies); a no-op for image files."""


class SequenceSource(FrameSource):
    def __init__(self, sequence: ImageSequence):
        sequence.require_complete()
        self.sequence = sequence
        self.frames = sequence.frames
        self.description = sequence.describe()
        # Unreadable headers and mixed resolutions are refused before any work starts (and before any output).
        self.size = self.check_headers()

    def read(self, frame: int) -> Image:
        return read_image(self.sequence.path(frame))

    def file_of(self, frame: int) -> Path:
        return self.sequence.path(frame)

    def display_size(self) -> tuple[int, int]:
        return self.size

    def check_headers(self) -> tuple[int, int]:
        """Open every frame's header (fast) and insist on one resolution; returns (width, height)."""
        sizes: dict[tuple[int, int], int] = {}
        for frame in self.frames:
            spec = read_header(self.sequence.path(frame))
            size = (spec.full_width, spec.full_height)
            if sizes and size not in sizes:
                first_size, first_frame = next(iter(sizes.items()))
                raise SequenceError(
                    f"{self.sequence.path(frame)}: frame {frame} is {size[0]}x{size[1]} but frame {first_frame} is "
                    f"{first_size[0]}x{first_size[1]}; a sequence must keep one resolution"
                )
            sizes.setdefault(size, frame)
        return next(iter(sizes))


class ImageListSource(FrameSource):
    """Single images or a folder of photos: frame N is the N-th file in natural name order."""

    continuous = False

    def __init__(self, files: Sequence[Path], description: str, frames: Sequence[int] | None = None):
        self.files = list(files)
        available = range(1, len(self.files) + 1)
        chosen = tuple(frames) if frames is not None else tuple(available)
        outside = [frame for frame in chosen if frame not in available]
        if outside:
            raise SequenceError(f"{description}: no image number {outside[0]}; it holds {len(self.files)} images "
                                f"(frames 1-{len(self.files)})")
        self.frames = chosen
        self.description = description

    def read(self, frame: int) -> Image:
        return read_image(self.file_of(frame))

    def file_of(self, frame: int) -> Path:
        return self.files[frame - 1]

    def display_size(self) -> tuple[int, int]:
        spec = read_header(self.file_of(self.frames[0]))
        return spec.full_width, spec.full_height


class VideoSource(FrameSource):
    def __init__(self, path: Path, frames: Sequence[int] | None = None):
        self.reader = VideoReader(path)
        self.frames = tuple(frames) if frames is not None else tuple(range(1, self.reader.frame_count + 1))
        self.description = f"{path} ({self.reader.frame_count} frames at {self.reader.fps:g} fps)"
        for frame in self.frames:
            if not 1 <= frame <= self.reader.frame_count:
                raise SequenceError(f"{path}: no frame {frame}; the movie has frames 1-{self.reader.frame_count}")

    def read(self, frame: int) -> Image:
        return Image(self.reader.read(frame), ("R", "G", "B"))

    def display_size(self) -> tuple[int, int]:
        return self.reader.width, self.reader.height

    def file_of(self, frame: int) -> Path:
        return self.reader.path

    def close(self) -> None:
        self.reader.close()


def open_source(name: str | os.PathLike[str], frames: str | Sequence[int] | None = None) -> FrameSource:
    """The frames ``name`` refers to: a sequence pattern, an image, a folder or a movie.

    ``frames`` (``"1001-1100x2"`` or a list) picks frames; for folders, single images and movies
    frames count from 1. Raises SequenceError (missing frames listed) before anything is read.
    """
    text = os.fspath(name)
    chosen = parse_frames(frames) if isinstance(frames, str) else frames
    path = Path(text)
    if path.is_dir():
        return _open_folder(path, chosen)
    if path.is_file():
        if path.suffix.lower() in VIDEO_EXTENSIONS:
            return VideoSource(path, chosen)
        return ImageListSource([path], str(path), chosen)
    if looks_like_sequence(text):
        return SequenceSource(parse_sequence(text, chosen))
    if path.suffix.lower() in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS:
        raise SequenceError(f"{path}: file not found")
    raise SequenceError(f"{text}: no such file, folder or frame sequence (write sequences like plate.####.exr)")


def _open_folder(folder: Path, frames: Sequence[int] | None) -> FrameSource:
    visible = (entry for entry in folder.iterdir() if not entry.name.startswith("."))
    images = sorted((entry for entry in visible if entry.suffix.lower() in IMAGE_EXTENSIONS), key=_natural_key)
    if not images:
        raise SequenceError(f"{folder}: no images in this folder ({', '.join(IMAGE_EXTENSIONS)})")
    sequences = fileseq.findSequencesOnDisk(str(folder), pad_style=fileseq.PAD_STYLE_HASH1)
    numbered = [seq for seq in sequences if seq.frameSet() is not None and seq.extension().lower() in IMAGE_EXTENSIONS]
    # A folder that is exactly one rendered sequence keeps its frame numbers; anything else is a photo set.
    if len(numbered) == 1 and len(numbered[0]) == len(images):
        pattern = str(folder / f"{numbered[0].basename()}{'#' * numbered[0].zfill()}{numbered[0].extension()}")
        return SequenceSource(parse_sequence(pattern, frames))
    return ImageListSource(images, f"{folder} ({len(images)} images)", frames)


def _natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]
