"""``latentswap extract``: a faceset (aligned crops, masks, metadata) from a shot, a movie or photos."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from latentswap_core.cli.arguments import (
    add_colorspace,
    add_face_selection,
    add_frames,
    add_ocio_config,
    add_progress_json,
    defaults_of,
    face_selection,
    options_from,
    track_name,
    whole,
)
from latentswap_core.extract import ExtractOptions
from latentswap_core.progress import Progress

default = defaults_of(ExtractOptions)


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "extract", help="build a faceset of aligned face crops and masks for training",
        description="Track the faces of a sequence, movie or folder of photos (or read a track file) and write "
                    "a faceset folder: aligned crops (16-bit sRGB PNG), masks and faceset.json. Blurred, "
                    "low-confidence and near-duplicate faces, and faces whose landmarks the track marks unreliable "
                    "(profiles, tiny faces, faces filled in between detections), are skipped and listed with the "
                    "reason.",
    )
    parser.add_argument("source", help="plate.####.exr, a movie, an image or a folder of photos")
    parser.add_argument("-o", "--output", required=True, help="the faceset folder to create")
    add_frames(parser)
    parser.add_argument("--size", type=whole(None, None), default=default("size"),
                        help=f"crop size in pixels, 128-1024 in steps of 64 (default: {default('size')})")
    parser.add_argument("--face-type", default=default("face_type"),
                        help=f"face, whole_face or head (default: {default('face_type')})")
    add_face_selection(parser)
    parser.add_argument("--every", type=whole(1, 1_000_000), default=default("every"), metavar="K",
                        help=f"look at every K-th frame only (default: {default('every')})")
    parser.add_argument("--track", metavar="TRACK_JSON", help="use this track file instead of tracking again")
    add_colorspace(parser)
    add_ocio_config(parser)
    add_progress_json(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from latentswap_core.extract import extract_faceset
    from latentswap_core.io import open_source
    from latentswap_core.track import TrackOptions, track_source
    from latentswap_core.track.trackfile import read_track_for

    options = options_from(args, ExtractOptions, faces=face_selection(args))
    source = open_source(args.source, args.frames)
    try:
        if args.track:
            shot = read_track_for(args.track, source)
        else:
            with Progress("track", len(source.frames), json_lines=args.progress_json) as progress:
                shot = track_source(source, TrackOptions(colorspace=args.colorspace, ocio_config=args.ocio_config),
                                    on_frame=lambda frame, found: progress.advance(frame=frame, faces=found))
        wanted = set(source.frames)
        tracked = [(entry.frame, entry.faces) for entry in shot.frames if entry.frame in wanted]
        with Progress("extract", len(tracked), json_lines=args.progress_json) as progress:
            faceset = extract_faceset(source, tracked, args.output, options,
                                      on_frame=lambda frame, kept: progress.advance(frame=frame, kept=kept),
                                      track_name=track_name(args.track, source.description, args.frames))
    finally:
        source.close()
    reasons = Counter(entry["reason"] for entry in faceset.skipped)
    skipped = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items())) or "none"
    summary = (f"wrote {Path(args.output) / 'faceset.json'}: {len(faceset.faces)} faces at {options.size} px "
               f"({options.face_type}); skipped: {skipped}")
    from latentswap_core.faceset_coverage import describe_poses, faceset_poses

    poses = describe_poses(faceset_poses(faceset)) if faceset.faces else None  # yaw/pitch range, yaw histogram
    if args.progress_json:
        from latentswap_core.progress import emit_json

        if poses:  # before the summary, which stays the last event (the result: where the faceset is)
            emit_json("message", text=poses)
        emit_json("message", text=summary)
    else:
        print(summary)
        if poses:
            print(poses)
    return 0
