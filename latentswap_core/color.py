"""Colour management through OpenColorIO.

Plates live in their own colourspace (scene-linear ACEScg EXRs, sRGB-encoded 8-bit images, ...);
the model sees face crops in one display-referred working space, sRGB in [0, 1]. Conversions are
exact to float precision (OCIO's lossless optimisation), so values the engine does not paint are
never changed by a round trip, and values outside [0, 1] pass through unclamped. Frames that are only looked at
(the tracker's) are converted straight to 8 bits with OCIO's default optimisation (``to_working_8bit``).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import PyOpenColorIO as ocio

from latentswap_core.cpu import usable_cores
from latentswap_core.errors import ColorError
from latentswap_core.io.image import Image, to_float32

BUILTIN_CONFIG = "ocio://studio-config-latest"
WORKING_SPACE = "sRGB - Texture"
DEFAULT_FLOAT_SPACE = "ACEScg"
DEFAULT_INTEGER_SPACE = "sRGB - Texture"


def config_name(explicit: str | None = None) -> str:
    """The config in force: the one given, else ``$OCIO``, else OCIO's built-in studio config."""
    return explicit or os.environ.get("OCIO") or BUILTIN_CONFIG


def load_config(name: str | None = None) -> ocio.Config:
    """The config ``name`` (a file or ocio:// URI), resolved as ``config_name`` does; loaded once."""
    return _load_config(config_name(name))


@lru_cache(maxsize=8)
def _load_config(name: str) -> ocio.Config:
    try:
        return ocio.Config.CreateFromFile(name)
    except (ocio.Exception, ocio.ExceptionMissingFile) as error:  # the second is no subclass of the first
        detail = " ".join(str(error).split())
        raise ColorError(f"cannot load the OCIO config {name} ({detail}); fix $OCIO or pass another config") from None


def default_colorspace(dtype: np.dtype) -> str:
    """ACEScg for float pixels (EXR plates), sRGB for 8/16-bit integer images and movies."""
    return DEFAULT_FLOAT_SPACE if np.issubdtype(dtype, np.floating) else DEFAULT_INTEGER_SPACE


def check_colorspace(name: str, config: str | None = None) -> str:
    """``name`` as the config spells it; ColorError listing close names if it is unknown."""
    cfg = load_config(config)
    canonical = cfg.getCanonicalName(name)
    if not canonical:
        close = difflib.get_close_matches(name, list(cfg.getColorSpaceNames()), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(n) for n in close)}?" if close else ""
        raise ColorError(f"unknown colourspace {name!r} in {config_name(config)}{hint} "
                         "(`latentswap colorspaces` lists them)")
    return canonical


@lru_cache(maxsize=64)
def _cpu_processor(source: str, target: str, config: str, depths: tuple[ocio.BitDepth, ocio.BitDepth] | None = None,
                   optimization: ocio.OptimizationFlags = ocio.OPTIMIZATION_LOSSLESS) -> ocio.CPUProcessor:
    cfg = load_config(config)
    processor = cfg.getProcessor(check_colorspace(source, config), check_colorspace(target, config))
    if depths is None:
        return processor.getOptimizedCPUProcessor(optimization)
    return processor.getOptimizedCPUProcessor(*depths, optimization)


def convert(pixels: np.ndarray, source: str, target: str, config: str | None = None) -> np.ndarray:
    """A float32 copy of ``pixels`` (H x W x 3 or more, unpremultiplied) with RGB moved from
    ``source`` to ``target``; further channels (alpha, layers) are copied unchanged.

    Large images are converted in horizontal bands on several threads (OCIO releases the GIL).
    """
    if pixels.ndim != 3 or pixels.shape[2] < 3:
        raise ColorError(f"colour conversion needs height x width x 3+ pixels, not shape {pixels.shape}")
    result = np.array(pixels, dtype=np.float32, copy=True)
    processor = _cpu_processor(source, target, config_name(config))
    if processor.isNoOp():
        return result

    def convert_band(rows: slice) -> None:
        rgb = np.ascontiguousarray(result[rows, :, :3])
        processor.applyRGB(rgb)
        result[rows, :, :3] = rgb

    _in_bands(convert_band, *result.shape[:2])
    return result


def to_working_8bit(pixels: np.ndarray, plate_space: str, config: str | None = None) -> np.ndarray:
    """The RGB of plate pixels (H x W x 3 or more, R, G and B first) in the working space as 8-bit (H x W x 3), for
    pixels that are only looked at (the tracker's frames, review images), never written: OCIO converts from the
    stored type (8/16-bit, half or float; others as float) straight to 8 bits with its default optimisation, within
    one code value of the exact conversion clipped to [0, 1] and rounded, at a third of its cost (a 1080p half
    frame). Infinite values (fireflies of a bad render) may come out white where the exact conversion's NaN gives
    black."""
    if pixels.ndim != 3 or pixels.shape[2] < 3:
        raise ColorError(f"colour conversion needs height x width x 3+ pixels, not shape {pixels.shape}")
    if pixels.dtype.name not in _BIT_DEPTHS:
        pixels = to_float32(pixels)
    in_depth = _BIT_DEPTHS[pixels.dtype.name]
    processor = _cpu_processor(plate_space, WORKING_SPACE, config_name(config), (in_depth, ocio.BIT_DEPTH_UINT8),
                               ocio.OPTIMIZATION_DEFAULT)
    rgb = np.ascontiguousarray(pixels[:, :, :3])  # OCIO reads packed RGB (a copy only with further channels)
    height, width = rgb.shape[:2]
    result = np.empty((height, width, 3), np.uint8)

    def convert_band(rows: slice) -> None:
        band = rgb[rows]
        processor.apply(ocio.PackedImageDesc(band, width, len(band), 3, in_depth, rgb.itemsize, 3 * rgb.itemsize,
                                             3 * width * rgb.itemsize),
                        ocio.PackedImageDesc(result[rows], width, len(band), 3, ocio.BIT_DEPTH_UINT8, 1, 3, width * 3))

    _in_bands(convert_band, height, width)
    return result


_PIXELS_PER_BAND = 256 * 1024
_BIT_DEPTHS = {"uint8": ocio.BIT_DEPTH_UINT8, "uint16": ocio.BIT_DEPTH_UINT16, "float16": ocio.BIT_DEPTH_F16,
               "float32": ocio.BIT_DEPTH_F32}


def _in_bands(convert_band: Callable[[slice], None], height: int, width: int) -> None:
    """``convert_band`` over horizontal bands of rows, on several threads for large images (OCIO releases the GIL)."""
    bands = min(2 * _workers(), max(1, height * width // _PIXELS_PER_BAND))
    edges = np.linspace(0, height, bands + 1).astype(int)
    slices = [slice(start, stop) for start, stop in zip(edges[:-1], edges[1:], strict=True)]
    if len(slices) == 1:
        convert_band(slices[0])
    else:
        list(_pool().map(convert_band, slices))


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="latentswap-colour")


def _workers() -> int:
    return min(8, usable_cores())


def to_working(pixels: np.ndarray, plate_space: str, config: str | None = None) -> np.ndarray:
    """Plate pixels into the model's working space (display-referred sRGB; not clamped here)."""
    return convert(pixels, plate_space, WORKING_SPACE, config)


def from_working(pixels: np.ndarray, plate_space: str, config: str | None = None) -> np.ndarray:
    """Working-space pixels back into the plate's colourspace."""
    return convert(pixels, WORKING_SPACE, plate_space, config)


def working_rgb(image: Image, plate_space: str | None = None, config: str | None = None) -> np.ndarray:
    """The frame's RGB (grey replicated) in the working space, float32, not clamped.

    ``plate_space`` defaults by pixel type (``default_colorspace``); integers are scaled to [0, 1] first.
    """
    space = plate_space or default_colorspace(image.pixels.dtype)
    return to_working(image.rgb_float(), space, config)


def colorspace_names(config: str | None = None) -> list[str]:
    return list(load_config(config).getColorSpaceNames())
