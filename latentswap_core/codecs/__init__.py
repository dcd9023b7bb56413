"""Codecs: RGB faces in [0, 1] <-> the latent space the swap model trains in (taef2, sd-vae, pixel)."""

from latentswap_core.codecs.base import Codec, CodecInfo
from latentswap_core.codecs.loader import CODEC_NAMES, load_codec

__all__ = ["CODEC_NAMES", "Codec", "CodecInfo", "load_codec"]
