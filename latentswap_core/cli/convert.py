"""``latentswap convert``: frames to another format, pixel type or colourspace (movie -> EXR plates)."""

from __future__ import annotations

import argparse
from pathlib import Path

from latentswap_core.cli.arguments import add_colorspace, add_frames, add_ocio_config, add_progress_json
from latentswap_core.io import PIXEL_TYPES, open_source
from latentswap_core.progress import Progress, emit_json
from latentswap_core.transcode import TranscodeOptions, transcode


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "convert", help="convert frames between formats, pixel types and colourspaces",
        description="Convert a sequence, movie, image or folder into another format, pixel type or "
                    "colourspace. Frames are written atomically; --skip-existing resumes an interrupted run.",
    )
    parser.add_argument("source", help="plate.####.exr, plate.%%04d.exr, an image, a folder or a movie")
    parser.add_argument("-o", "--output", required=True, help="output pattern (out.####.exr) or one file")
    add_frames(parser)
    add_colorspace(parser)
    parser.add_argument("--output-colorspace", metavar="NAME", help="convert to this colourspace (default: none)")
    parser.add_argument("--pixel-type", choices=PIXEL_TYPES,
                        help="stored pixel type (default: the source's, where the output format stores it)")
    parser.add_argument("--compression", help="file compression, e.g. zip, piz, dwaa:45 for EXR")
    parser.add_argument("--skip-existing", action="store_true", help="keep output frames that already exist")
    add_ocio_config(parser)
    add_progress_json(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    options = TranscodeOptions(
        input_colorspace=args.colorspace,
        output_colorspace=args.output_colorspace,
        pixel_type=args.pixel_type,
        compression=args.compression,
        skip_existing=args.skip_existing,
        ocio_config=args.ocio_config,
    )
    source = open_source(args.source, args.frames)
    created: list[Path] = []
    try:
        with Progress("convert", len(source.frames), json_lines=args.progress_json) as progress:
            written = transcode(source, args.output, options,
                                on_frame=lambda frame, path, skipped: progress.advance(frame=frame, skipped=skipped),
                                on_folder_created=created.append)
    finally:
        source.close()
    for folder in created:
        if args.progress_json:
            emit_json("message", text=f"created folder {folder}")
        else:
            print(f"created folder {folder}")
    if not args.progress_json:
        print(f"wrote {len(written)} frames: {args.output}")
    return 0
