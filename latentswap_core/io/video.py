"""Movie files (mp4, mov, ...) read frame by frame with OpenCV; read-only, for building facesets."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from latentswap_core.errors import SequenceError
from latentswap_core.io.image import held_c_stderr

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mxf")


class VideoReader:
    """Frames numbered from 1, as Nuke's Read node numbers a movie, returned as RGB uint8."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise SequenceError(f"{self.path}: file not found")
        with held_c_stderr() as held:  # FFmpeg logs "moov atom not found" and the like on stderr
            self._capture = cv2.VideoCapture(str(self.path))
        opened = self._capture.isOpened()
        if held and opened:
            sys.stderr.write(held[0])
        if not opened:
            raise SequenceError(f"{self.path}: cannot open this movie; convert it to an image sequence first")
        self.frame_count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.fps = float(self._capture.get(cv2.CAP_PROP_FPS))
        self.width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if self.frame_count <= 0:
            raise SequenceError(f"{self.path}: the movie holds no frames")
        self._next = 1

    def read(self, frame: int) -> np.ndarray:
        if not 1 <= frame <= self.frame_count:
            raise SequenceError(f"{self.path}: no frame {frame}; the movie has frames 1-{self.frame_count}")
        if frame != self._next:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, frame - 1)
        ok, bgr = self._capture.read()
        if not ok:
            raise SequenceError(f"{self.path}: frame {frame} cannot be decoded; the file may be truncated")
        self._next = frame + 1
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self._capture.release()
