"""``latentswap track``: faces, landmarks and track ids over a shot, written as a track file (JSON)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from latentswap_core.cli.arguments import (
    add_colorspace,
    add_frames,
    add_ocio_config,
    add_progress_json,
    engine_default,
    whole,
)
from latentswap_core.errors import OutputError
from latentswap_core.progress import Progress
from latentswap_core.track.second_detector import SecondDetectorOptions
from latentswap_core.track.smooth import SmoothOptions
from latentswap_core.track.tracker import TrackOptions


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "track", help="find faces and their landmarks in every frame and write a track file",
        description="Detect faces, mark their 478 face-mesh landmarks, give each face a track id that holds over "
                    "the shot, smooth the landmarks over time and write a track file (docs/track_file.md). Frames "
                    "without a face are listed at the end; they are not an error.",
    )
    parser.add_argument("source", help="plate.####.exr, plate.%%04d.exr, an image, a folder or a movie")
    parser.add_argument("-o", "--output", required=True, help="the track file to write, e.g. sh010.track.json")
    add_frames(parser)
    parser.add_argument("--no-smooth", action="store_true", help="keep each frame's landmarks as detected")
    strength = engine_default(SmoothOptions, "strength")
    parser.add_argument("--smooth-strength", type=_positive, default=strength, metavar="S",
                        help="time window of the smoothing against the one fitted to each track "
                             f"(default: {strength:g}; 2 smooths about twice as long)")
    parser.add_argument("--report", metavar="PNG",
                        help="also write a contact sheet: one thumbnail per person per camera shot, to pick the "
                             "person to replace (e.g. sh010.people.png)")
    every = engine_default(SecondDetectorOptions, "every")
    parser.add_argument("--second-detector-every", type=whole(0, 1_000_000), default=every, metavar="K",
                        help="run the second face detector (profiles, small faces; ~0.15 s a frame) every K frames "
                             f"of a shot, 0 never (default: {every})")
    face_type = engine_default(TrackOptions, "face_type")
    parser.add_argument("--face-type", default=face_type, metavar="TYPE",
                        help=f"aligned crop framing for to_aligned: face, whole_face or head (default: {face_type})")
    add_colorspace(parser)
    add_ocio_config(parser)
    add_progress_json(parser)
    parser.set_defaults(run=run)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number above 0 (--no-smooth turns smoothing off)")
    return value


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from latentswap_core import color
    from latentswap_core.align import face_type_spec
    from latentswap_core.io import Image, check_not_overwriting, format_frames, open_source, write_image
    from latentswap_core.io.atomic import check_output_file
    from latentswap_core.track import track_source, write_track_file
    from latentswap_core.track.report import contact_sheet, person_summary

    face_type_spec(args.face_type)
    output = Path(args.output)
    if not output.parent.is_dir():
        raise OutputError(f"{output}: the folder {output.parent} does not exist; create it or choose another output")
    if output.is_dir():
        raise OutputError(f"{output}: is a folder; give the track file's name, e.g. {output / 'shot.track.json'}")
    check_output_file(output)
    if not os.access(output.parent, os.W_OK | os.X_OK):  # checked before the tracking, not after it
        raise OutputError(f"{output}: the folder {output.parent} is not writable; choose another output")
    if args.colorspace:
        color.check_colorspace(args.colorspace, args.ocio_config)
    report_path = Path(args.report) if args.report else None
    if report_path is not None and (report_path.suffix.lower() != ".png" or not report_path.parent.is_dir()):
        raise OutputError(f"{report_path}: --report needs a .png file in an existing folder")
    if args.second_detector_every < 0:
        raise OutputError(f"--second-detector-every {args.second_detector_every}: give 0 (never) or more")
    second = SecondDetectorOptions(enabled=args.second_detector_every > 0, every=max(args.second_detector_every, 1))
    options = TrackOptions(smooth=SmoothOptions(enabled=not args.no_smooth, strength=args.smooth_strength),
                           second=second, colorspace=args.colorspace, ocio_config=args.ocio_config,
                           face_type=args.face_type)
    source = open_source(args.source, args.frames)
    try:
        check_not_overwriting(source.input_files(), [output, *([report_path] if report_path else [])])
        with Progress("track", len(source.frames), json_lines=args.progress_json) as progress:
            thumbnails: dict = {}
            shot = track_source(source, options,
                                on_frame=lambda frame, found: progress.advance(frame=frame, faces=found),
                                thumbnails=thumbnails)
            write_track_file(output, shot)
            missing = shot.frames_without_face
            report = [f"wrote {output}: {len(shot.frames)} frames, {len(shot.people)} people, "
                      f"{len(shot.track_ids)} face tracks",
                      f"cuts: {', '.join(map(str, shot.cuts))} ({len(shot.cuts) + 1} camera shots)" if shot.cuts
                      else "cuts: none found (one camera shot)",
                      *person_summary(shot)]
            if missing:
                report.append(f"no face in {len(missing)} of {len(shot.frames)} frames: {format_frames(missing)}")
            if report_path is not None:
                sheet = contact_sheet(shot, thumbnails)
                write_image(report_path, Image(sheet.astype(np.float32) / 255.0, ("R", "G", "B")), "uint8")
                report.append(f"wrote {report_path}: one face per person per camera shot")
            if args.progress_json:
                for line in report:
                    progress.message(line)
    finally:
        source.close()
    if not args.progress_json:
        print("\n".join(report))
    return 0
