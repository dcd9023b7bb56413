"""Codecs: RGB faces in [0, 1] <-> the latent space the swap model trains in (taef2, sd-vae, pixel)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Loaded on first use (PEP 562): the command line imports this package's light modules without torch.
_EXPORTS = {
    "CODEC_NAMES": "latentswap_core.codecs.names",
    "Codec": "latentswap_core.codecs.base",
    "CodecInfo": "latentswap_core.codecs.base",
    "load_codec": "latentswap_core.codecs.loader",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
