"""``latentswap eval``: measure a swapped sequence against its plate and write an HTML report with summary.json."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from latentswap_core.cli.arguments import (
    add_colorspace,
    add_face_selection,
    add_frames,
    add_ocio_config,
    add_progress_json,
    face_selection,
    track_name,
    whole,
)
from latentswap_core.progress import Progress, emit_json


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "eval", help="measure a swap against its plate (identity, pose, expression, fidelity, flicker) and report",
        description="Per frame: identity distance of the swapped face to the target and source identities, head "
                    "pose and expression kept from the plate, SSIM/PSNR in the face, pixels changed outside it, "
                    "flicker and landmark jitter; written as REPORT_DIR/index.html and REPORT_DIR/summary.json. "
                    "Target: the identity the swap should show (the model's src); source: the plate's own (dst).",
    )
    parser.add_argument("--plate", required=True, metavar="SEQ", help="the plate the swap was made from")
    parser.add_argument("--swapped", required=True, metavar="SEQ", help="the swap's output, e.g. swap/sh010.####.exr")
    parser.add_argument("--target", required=True, metavar="FACESET|TRACK_JSON",
                        help="the identity the swap shows: a faceset, or a track file with --target-person")
    parser.add_argument("--target-person", type=whole(0, None), metavar="P",
                        help="with a track file as --target: its person P is the identity the swap shows")
    parser.add_argument("--target-plate", metavar="SEQ",
                        help="the frames that track file was made from (default: --plate)")
    parser.add_argument("--source", metavar="FACESET",
                        help="faceset of the plate's own identity (default: each frame's plate face)")
    parser.add_argument("--track", metavar="TRACK_JSON", help="the plate's track file (default: track the plate now)")
    add_face_selection(parser, default="the first track; in a frame with several selected faces, the lowest "
                                       "track id is evaluated")
    add_frames(parser)
    parser.add_argument("-o", "--output", required=True, metavar="REPORT_DIR", help="folder for the report")
    parser.add_argument("--arcface", metavar="ONNX", help="an ArcFace ONNX file: adds cosine similarity to the target")
    parser.add_argument("--fid-weights", metavar="ONNX", help="a feature network (e.g. Inception) as ONNX: adds FID")
    parser.add_argument("--lpips-weights", metavar="ONNX", help="an LPIPS network as ONNX (two inputs): adds LPIPS")
    add_colorspace(parser)
    add_ocio_config(parser)
    add_progress_json(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from latentswap_core.evaluate import EvalOptions, evaluate_shot, summary_lines, write_report
    from latentswap_core.evaluate.report import check_report_folder
    from latentswap_core.evaluate.run import check_frames
    from latentswap_core.io import format_frames, open_source
    from latentswap_core.track.trackfile import read_track_for

    check_report_folder(args.output)
    target_person, target_plate = _target_person(args)
    options = EvalOptions(
        target=None if target_person else Path(args.target), target_person=target_person,
        source=Path(args.source) if args.source else None, faces=face_selection(args),
        colorspace=args.colorspace, ocio_config=args.ocio_config,
        arcface=_path(args.arcface), fid_weights=_path(args.fid_weights), lpips_weights=_path(args.lpips_weights),
    )
    plate = open_source(args.plate, args.frames)
    try:
        swapped = open_source(args.swapped, args.frames)
        try:
            check_frames(plate, swapped)
            plate_track = read_track_for(args.track, plate) if args.track else None
            bars: dict[str, Progress] = {}

            def advance(stage: str, frame: int) -> None:
                if stage not in bars:
                    for bar in bars.values():
                        bar.__exit__(None, None, None)
                    bars.clear()
                    bars[stage] = Progress(stage, len(plate.frames), json_lines=args.progress_json)
                bars[stage].advance(frame=frame)

            try:
                evaluation = evaluate_shot(plate, swapped, options, plate_track, on_frame=advance,
                                           track_name=track_name(args.track, plate.description))
            finally:
                for bar in bars.values():
                    bar.__exit__(*sys.exc_info())
            inputs = {"plate": args.plate, "swapped": args.swapped, "target": args.target,
                      "target_person": args.target_person, "source": args.source,
                      "track": args.track, "frames": format_frames(list(plate.frames))}
            document = write_report(evaluation, args.output, inputs)
        finally:
            swapped.close()
    finally:
        plate.close()
        if target_plate is not None:
            target_plate.close()
    lines = [f"wrote {Path(args.output) / 'index.html'} and summary.json ({len(evaluation.frames)} frames)",
             *summary_lines(document), *evaluation.messages]
    for line in lines:
        if args.progress_json:
            emit_json("message", text=line)
        else:
            print(line, file=sys.stdout)
    return 0


def _target_person(args: argparse.Namespace):
    """``--target TRACK_JSON --target-person P``: that person and the frames of ``--target-plate`` (default: the
    plate); (None, None) for a faceset as ``--target``."""
    from latentswap_core.errors import SettingsError
    from latentswap_core.evaluate.run import PersonFaces
    from latentswap_core.io import open_source
    from latentswap_core.track.trackfile import read_track_for

    is_track = Path(args.target).is_file() and Path(args.target).suffix.lower() == ".json"
    if args.target_person is None:
        if is_track:
            raise SettingsError(f"--target {args.target} is a track file: add --target-person P to say whose face "
                                "the swap should show (`latentswap track` lists the people)")
        if args.target_plate:
            raise SettingsError("--target-plate goes with --target TRACK_JSON --target-person P")
        return None, None
    if not is_track:
        raise SettingsError(f"--target-person needs a track file as --target, not {args.target}")
    plate = open_source(args.target_plate or args.plate)
    try:
        track = read_track_for(args.target, plate)
    except BaseException:
        plate.close()
        raise
    return PersonFaces(track, plate, args.target_person, args.target), plate


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None

