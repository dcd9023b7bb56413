"""Options shared by several commands, so they read the same everywhere."""

from __future__ import annotations

import argparse


def add_frames(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", metavar="RANGE",
                        help="frames to use, e.g. 1001-1100 or 1001-1100x2 (default: all found)")


def add_progress_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress-json", action="store_true",
                        help="report progress as JSON lines on stdout (for the Nuke plugin and farms)")


def add_ocio_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ocio-config", metavar="CONFIG",
                        help="OpenColorIO config file or ocio:// name (default: $OCIO, else the built-in "
                             "studio config)")


def add_colorspace(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--colorspace", metavar="NAME",
                        help="the source's colourspace (default: ACEScg for float, sRGB - Texture for 8/16-bit)")
