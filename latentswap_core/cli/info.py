"""``latentswap info``: what a sequence, image, folder or movie holds, and whether it is complete."""

from __future__ import annotations

import argparse
import json
from typing import Any

from latentswap_core import color
from latentswap_core.cli.arguments import add_frames
from latentswap_core.io import format_frames, open_source


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "info", help="describe a frame sequence, image, folder or movie and check it is complete",
        description="Describe frames (size, channels, pixel type, default colourspace, metadata) after "
                    "checking that none is missing and that every frame header is readable.",
    )
    parser.add_argument("source", help="plate.####.exr, plate.%%04d.exr, an image, a folder or a movie")
    add_frames(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object for machines")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    source = open_source(args.source, args.frames)  # a sequence's headers are checked as it opens
    try:
        first = source.read(source.frames[0])
    finally:
        source.close()
    x, y, width, height = first.display_box
    summary: dict[str, Any] = {
        "source": source.description,
        "frames": format_frames(source.frames),
        "frame_count": len(source.frames),
        "width": width,
        "height": height,
        "data_window": [first.origin[0], first.origin[1], first.width, first.height],
        "channels": list(first.channels),
        "pixel_type": first.pixel_type,
        "default_colorspace": color.default_colorspace(first.pixels.dtype),
        "metadata": first.metadata,
    }
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
        return 0
    for key, value in summary.items():
        if key == "metadata":
            print("metadata:")
            for name, item in sorted(value.items()):
                print(f"  {name}: {item}")
        else:
            print(f"{key}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
    return 0
