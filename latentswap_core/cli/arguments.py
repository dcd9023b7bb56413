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


def add_training_length(parser: argparse.ArgumentParser) -> None:
    length = parser.add_mutually_exclusive_group(required=True)
    length.add_argument("--steps", type=int, metavar="N", help="train until step N (counting resumed steps)")
    length.add_argument("--minutes", type=float, metavar="M", help="train for M minutes")


def add_training_run(parser: argparse.ArgumentParser, folder: str) -> None:
    """How a training run is kept and reported: resume, checkpoints, previews, seed, device, progress."""
    parser.add_argument("--resume", action="store_true", help=f"continue the run saved in {folder}")
    parser.add_argument("--save-every", type=int, default=500, metavar="N", help="checkpoint every N steps")
    parser.add_argument("--preview-every", type=int, default=100, metavar="K", help="preview grid every K steps")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default: auto)")
    add_progress_json(parser)
