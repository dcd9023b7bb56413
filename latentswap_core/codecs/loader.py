"""``load_codec(name)``: the one place a codec name becomes a codec."""

from __future__ import annotations

import os
from pathlib import Path

from latentswap_core.codecs.base import Codec
from latentswap_core.codecs.names import CODEC_NAMES
from latentswap_core.errors import ModelError


def load_codec(name: str, path: str | os.PathLike[str] | None = None, pixel_factor: int | None = None) -> Codec:
    """A frozen codec on the CPU in float32.

    ``taef2``: weights from ``path`` (a folder) or the model search path. ``sd-vae``: ``path`` to a diffusers
    VAE folder (required). ``pixel``: weight-free, ``pixel_factor`` (default 2) is its downscale.
    """
    if name == "taef2":
        from latentswap_core.codecs.taef2 import load_taef2

        return load_taef2(Path(path).expanduser() if path is not None else None)
    if name == "sd-vae":
        from latentswap_core.codecs.sd_vae import load_sd_vae

        return load_sd_vae(path)
    if name == "pixel":
        from latentswap_core.codecs.pixel import DEFAULT_FACTOR, PixelCodec

        return PixelCodec(pixel_factor or DEFAULT_FACTOR)
    raise ModelError(f"unknown codec {name!r}; choose one of: {', '.join(CODEC_NAMES)}")


def load_recorded_codec(info: dict, trained: str, path: str | os.PathLike[str] | None = None) -> Codec:
    """The codec a model or refiner recorded (``info``: the codec's ``describe()``), with the very weights it was
    trained with, checked by hash; ``trained`` names the folder in the error. ``path`` overrides where to look."""
    name = info["name"]
    if name == "pixel":
        codec = load_codec("pixel", pixel_factor=int(info["downscale"]))
    else:
        codec = load_codec(name, path if path is not None else (info.get("source") if name == "sd-vae" else None))
    if codec.describe()["weights_sha256"] != info["weights_sha256"]:
        raise ModelError(f"the {name} codec weights found in {codec.source or 'the model search path'} differ from "
                         f"those {trained} was trained with: give the original with --codec-path")
    return codec
