"""Codecs: RGB faces in [0, 1] <-> the latent space the swap model trains in (taef2, sd-vae, pixel)."""

from importlib import import_module
from types import ModuleType

from latentswap_core.lazy import lazy_exports


def _base() -> ModuleType:
    return import_module("latentswap_core.codecs.base")


def _loader() -> ModuleType:
    return import_module("latentswap_core.codecs.loader")


def _names() -> ModuleType:
    return import_module("latentswap_core.codecs.names")


# loaded on first use: the command line imports this package's light modules without torch
__getattr__, __all__ = lazy_exports(__name__, {
    "CODEC_NAMES": _names,
    "Codec": _base,
    "CodecInfo": _base,
    "load_codec": _loader,
})
