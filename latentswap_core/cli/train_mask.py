"""``latentswap train-mask``: a per-shot occlusion model from a few hand-drawn mattes, for ``swap --mask occlusion``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from latentswap_core.align import FACE_TYPES
from latentswap_core.cli.arguments import (
    MAX_BATCH,
    MAX_SEED,
    add_colorspace,
    add_face_selection,
    add_ocio_config,
    add_progress_json,
    add_training_length,
    defaults_of,
    face_selection,
    options_from,
    track_name,
    whole,
)
from latentswap_core.progress import Progress, emit_json
from latentswap_core.train.options import OcclusionOptions

default = defaults_of(OcclusionOptions)


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train-mask", help="train an occlusion model from a few mattes of what is in front of the face",
        description="Learn, from mattes drawn on a handful of the shot's frames (a microphone, hands, hair in "
                    "front of the face: white = occluder), where something covers the face on every frame. "
                    "`latentswap swap --mask occlusion --occlusion-model MASK_DIR` then keeps the plate there. "
                    "Mattes: PNG/EXR/TIFF numbered as the plate's frames (alpha, else the first channel), e.g. "
                    "Nuke roto rendered out; draw frames that differ (poses, hands, light), five or more.",
    )
    parser.add_argument("plate", help="the shot: plate.####.exr or a movie")
    parser.add_argument("--mattes", required=True, metavar="MATTE_SEQ", help="the drawn mattes, e.g. occ.####.png")
    parser.add_argument("--track", required=True, metavar="TRACK_JSON", help="the shot's track file")
    add_face_selection(parser)
    parser.add_argument("-o", "--output", required=True, metavar="MASK_DIR", help="folder for the occlusion model")
    parser.add_argument("--size", type=whole(None, None), default=default("size"),
                        help=f"crop size the model sees (default: {default('size')})")
    parser.add_argument("--face-type", default=default("face_type"), choices=FACE_TYPES,
                        help=f"how faces are framed; the swap model's (default: {default('face_type')})")
    add_training_length(parser, resumable=False)
    parser.add_argument("--batch", type=whole(1, MAX_BATCH), default=default("batch"), metavar="B",
                        help=f"crops per step (default: {default('batch')})")
    parser.add_argument("--seed", type=whole(0, MAX_SEED), default=default("seed"))
    parser.add_argument("--device", default=default("device"), help=f"cpu, cuda or auto (default: {default('device')})")
    add_colorspace(parser)
    add_ocio_config(parser)
    add_progress_json(parser)
    parser.set_defaults(run=run)


def mask_options(args: argparse.Namespace) -> OcclusionOptions:
    return options_from(args, OcclusionOptions, output=Path(args.output), faces=face_selection(args))


def run(args: argparse.Namespace) -> int:
    from latentswap_core.io import open_source
    from latentswap_core.io.matte import MatteSequence
    from latentswap_core.track.trackfile import read_track_for
    from latentswap_core.train.occlusion_trainer import labelled_crops, train_occlusion

    options = mask_options(args)
    mattes = MatteSequence(args.mattes)
    plate = open_source(args.plate)
    try:
        track = read_track_for(args.track, plate)
        options.faces.check((face for entry in track.frames for face in entry.faces),
                            track_name(args.track, plate.description))
        data = labelled_crops(plate, track, mattes, options)
    finally:
        plate.close()
    covered = float(data.mattes.mean())
    say(f"{len(data.crops)} faces from {len(set(data.frames))} matte frames; occluders cover {covered:.0%} of "
        "their crops", args.progress_json)
    total = args.steps or 1
    with Progress("train-mask", total, json_lines=args.progress_json, unit="step") as progress:

        def report(step: int, estimated: int | None, loss: float) -> None:
            if estimated is not None:
                progress.total = estimated
            progress.advance(count=step - progress.done, step=step, loss=round(loss, 5))

        steps, loss = train_occlusion(data, options, {"plate": str(args.plate), "mattes": mattes.describe()}, report)
    say(f"trained {steps} steps (loss {loss:.4f}): occlusion model in {args.output}; use it with "
        f"`latentswap swap ... --mask occlusion --occlusion-model {args.output}`", args.progress_json)
    return 0


def say(text: str, progress_json: bool) -> None:
    if progress_json:
        emit_json("message", text=text)
    else:
        print(text, file=sys.stdout)
