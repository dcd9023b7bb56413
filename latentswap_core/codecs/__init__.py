"""Codecs: RGB faces in [0, 1] <-> the latent space the swap model trains in (taef2, sd-vae, pixel)."""

from latentswap_core.lazy import lazy_exports

# loaded on first use: the command line imports this package's light modules without torch
__getattr__, __all__ = lazy_exports(__name__, {
    "CODEC_NAMES": "latentswap_core.codecs.names",
    "Codec": "latentswap_core.codecs.base",
    "CodecInfo": "latentswap_core.codecs.base",
    "load_codec": "latentswap_core.codecs.loader",
})
