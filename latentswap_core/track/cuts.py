"""Camera cuts: the frames where a new shot starts, found from the frames themselves, as they stream in.

Each frame is reduced to a 32 x 18 colour thumbnail (area average, so grain and compression noise cancel).
The change of a frame is the mean absolute difference of its thumbnail from the previous one, in [0, 1].
A frame starts a new shot when its change is at least ``min_change`` and at least ``ratio`` times the
median change of the ``window`` frames before it: a cut is a jump against the shot's own motion.

On the real clip (tests/track/test_clip.py) cuts change 0.10-0.11 against medians of 0.002-0.016, and
the fastest camera move (a profile close-up panned by hand) 0.04-0.05 against medians around 0.02.
Flashes and whip pans can read as cuts; a dissolve is not found.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

THUMBNAIL = (32, 18)


@dataclass(frozen=True)
class CutOptions:
    """``min_change``: least thumbnail difference (mean absolute, 0-1) of a cut. ``ratio``: least multiple of
    the median change over the ``window`` frames before. ``enabled``: False treats the shot as one take."""

    min_change: float = 0.06
    ratio: float = 4.0
    window: int = 10
    enabled: bool = True


class CutDetector:
    """Feed ``is_cut`` every frame in shot order; it says whether that frame starts a new shot."""

    def __init__(self, options: CutOptions | None = None):
        self.options = options or CutOptions()
        self._previous: np.ndarray | None = None
        self._changes: deque[float] = deque(maxlen=self.options.window)

    def is_cut(self, rgb: np.ndarray) -> bool:
        """True when ``rgb`` (H x W x 3, uint8) starts a new shot; never for the first frame."""
        thumbnail = cv2.resize(rgb, THUMBNAIL, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        previous, self._previous = self._previous, thumbnail
        if previous is None or not self.options.enabled:
            return False
        change = float(np.abs(thumbnail - previous).mean())
        usual = float(np.median(self._changes)) if self._changes else 0.0
        cut = change >= self.options.min_change and change >= self.options.ratio * usual
        if cut:
            self._changes.clear()  # the new shot's motion is measured afresh
        else:
            self._changes.append(change)
        return cut
