"""Frames in and out: sequences, single images, folders and movies; EXR/PNG/JPEG/TIFF/DPX files."""

from latentswap_core.io.atomic import atomic_path, write_bytes_atomically, write_text_atomically
from latentswap_core.io.image import PIXEL_TYPES, BandedImage, Image, read_header, read_image, to_float32, write_image
from latentswap_core.io.sequence import (
    ImageSequence,
    check_not_overwriting,
    format_frames,
    looks_like_sequence,
    parse_frames,
    parse_sequence,
)
from latentswap_core.io.source import FrameSource, open_source

__all__ = [
    "PIXEL_TYPES",
    "BandedImage",
    "FrameSource",
    "Image",
    "ImageSequence",
    "atomic_path",
    "check_not_overwriting",
    "format_frames",
    "looks_like_sequence",
    "open_source",
    "parse_frames",
    "parse_sequence",
    "read_header",
    "read_image",
    "to_float32",
    "write_bytes_atomically",
    "write_image",
    "write_text_atomically",
]
