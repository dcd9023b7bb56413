"""The frame a swap writes: the layers the comp needs, assembled from the plate and the box that holds the faces.

``--layers``:

- ``all``: ``R, G, B, A`` (the comp: the plate's RGB with the faces over it, the plate's alpha or 1), the plate's
  other channels, ``face.R/G/B/A`` (the faces, premultiplied), ``lsmask.Y`` (their blend alpha) and
  ``lsgrain.R/G/B`` (the plate's grain the faces lack, not premultiplied: ``blend/grain.py``), over the plate's
  data window;
- ``comp``: ``R, G, B, A`` and the plate's other channels;
- ``face``: the face, mask and grain channels over the faces' box only: the EXR's data window is that box inside
  the plate's display window (Nuke reads it as black outside), a few hundred pixels instead of the frame. Merged
  over the plate it gives the comp; the gizmo does that merge live (and adds the grain, by its grain knob).

Everything the faces do not reach is the plate's own value, bit for bit. Pixels are ``half`` or ``float``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from latentswap_core.io import BandedImage, Image
from latentswap_core.io.image import to_float32

LAYERS = ("comp", "face", "all")
DEFAULT_LAYERS = "all"
# The blend alpha is also face.A. Earlier renders called it mask.Y, but "mask" is one of Nuke's built-in layers,
# which takes no new channels (Nuke read it as mask_extra.Y).
# In the order an EXR file holds them (sorted by layer), so a frame reads back as it was written.
FACE_CHANNELS = ("face.R", "face.G", "face.B", "face.A", "lsgrain.R", "lsgrain.G", "lsgrain.B", "lsmask.Y")
OWN_CHANNELS = (*FACE_CHANNELS, "mask.Y")  # what a swap writes besides the comp, now and formerly
_DTYPES = {"half": np.float16, "float": np.float32}


@dataclass(frozen=True)
class FacesInBox:
    """A frame's faces blended into ``box`` (y0, y1, x0, x1, half-open, data-window pixels) of its plate."""

    box: tuple[int, int, int, int]
    comp: np.ndarray  # h x w x 3 float32: the plate's RGB there with the faces over it
    face: np.ndarray  # h x w x 4 float32: the faces premultiplied by their alpha, and that alpha
    grain: np.ndarray | None = None  # h x w x 3 float32: the plate's grain the faces lack (None: not measured)
    grain_spread: np.ndarray | None = None  # (3,): that grain's spread per channel, in plate values


def frame_layers(image: Image, faces: FacesInBox | None, layers: str, pixel_type: str,
                 metadata: dict[str, Any]) -> Image | BandedImage:
    """The output frame of ``image`` (the plate) with ``faces`` (None: no face in this frame). The full-frame
    layers are made as they are written, a band of rows at a time: a 4K frame of 12 half channels is 200 MB."""
    dtype = _DTYPES[pixel_type]
    if layers == "face":
        return _face_only(image, faces, dtype, metadata)
    pixels = image.pixels
    rgb = image.rgb_indices()
    channels = image.channels
    # a plate that is itself a swap output: its face layers are replaced, not kept beside the new ones
    others = [i for i, name in enumerate(channels) if i not in rgb and name != "A" and name not in OWN_CHANNELS]
    names = ["R", "G", "B", "A", *(channels[i] for i in others)]
    if layers == "all":
        names += FACE_CHANNELS

    def rows(top: int, bottom: int) -> np.ndarray:
        out = np.zeros((bottom - top, pixels.shape[1], len(names)), dtype)
        band = pixels[top:bottom]
        out[:, :, :3] = _typed(band[:, :, rgb], dtype)
        out[:, :, 3] = _typed(band[:, :, channels.index("A")], dtype) if "A" in channels else 1.0
        if others:
            out[:, :, 4:4 + len(others)] = _typed(band[:, :, others], dtype)
        if faces is not None:
            y0, y1, x0, x1 = faces.box
            first, last = max(y0, top), min(y1, bottom)
            if first < last:
                inside = slice(first - y0, last - y0)
                out[first - top:last - top, x0:x1, :3] = faces.comp[inside]
                if layers == "all":
                    _put_face(out[first - top:last - top, x0:x1, len(names) - len(FACE_CHANNELS):], faces, inside)
        return out

    return BandedImage(pixels.shape[1], pixels.shape[0], tuple(names), dtype, rows, image.origin,
                       image.display_window, metadata)


def _face_only(image: Image, faces: FacesInBox | None, dtype: type, metadata: dict[str, Any]) -> Image:
    """The faces' box as the data window; a frame without a face holds one black pixel at the data origin."""
    if faces is None:
        return Image(np.zeros((1, 1, len(FACE_CHANNELS)), dtype), FACE_CHANNELS, image.origin, image.display_window,
                     metadata)
    y0, y1, x0, x1 = faces.box
    out: np.ndarray = np.zeros((y1 - y0, x1 - x0, len(FACE_CHANNELS)), dtype)
    _put_face(out, faces)
    origin = (image.origin[0] + x0, image.origin[1] + y0)
    return Image(out, FACE_CHANNELS, origin, image.display_window, metadata)


def _put_face(out: np.ndarray, faces: FacesInBox, rows: slice = slice(None)) -> None:
    """The FACE_CHANNELS of the faces' box (its ``rows``) into ``out`` (h x w x len(FACE_CHANNELS)), in that
    order."""
    out[:, :, :4] = faces.face[rows]
    if faces.grain is not None:
        out[:, :, 4:7] = faces.grain[rows]
    out[:, :, 7] = faces.face[rows, :, 3]


def _typed(pixels: np.ndarray, dtype: type) -> np.ndarray:
    """``pixels`` as ``dtype``; integer code values scaled to [0, 1] first (as the EXR writer would)."""
    if pixels.dtype == dtype:
        return pixels
    return to_float32(pixels).astype(dtype) if np.issubdtype(pixels.dtype, np.integer) else pixels.astype(dtype)
