"""``latentswap swap``: a plate sequence in, compositing-ready EXRs with the swapped faces out."""

from __future__ import annotations

import argparse
import sys

from latentswap_core.blend.color_transfer import MODES as COLOR_TRANSFER_MODES
from latentswap_core.blend.compose import BLENDS
from latentswap_core.cli.arguments import (
    MAX_BATCH,
    MAX_SEED,
    add_colorspace,
    add_face_selection,
    add_frames,
    add_ocio_config,
    add_progress_json,
    defaults_of,
    exr_compression,
    face_selection,
    number,
    options_from,
    track_name,
    whole,
)
from latentswap_core.errors import SettingsError
from latentswap_core.face_selection import FaceSelection
from latentswap_core.io.image import EXR_COMPRESSIONS
from latentswap_core.progress import Progress, emit_json
from latentswap_core.refine.config import SAMPLERS
from latentswap_core.refine.options import RefinerApplyOptions
from latentswap_core.swap.layers import LAYERS
from latentswap_core.swap.merge import BLEND_DEVICE_CHOICES
from latentswap_core.swap.precision import DEFAULT_PRECISION, PRECISIONS
from latentswap_core.swap.projection import DEFAULT_PROJECTIONS
from latentswap_core.swap.render import MASK_SOURCES, RenderOptions

default = defaults_of(RenderOptions)


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "swap", help="swap the faces of a plate with a trained model and write EXRs for the comp",
        description="Per frame: the tracked faces are aligned, swapped by the model, colour-matched to the plate, "
                    "feathered and blended back, sub-pixel exact. Each output EXR holds the comp (R, G, B, A), the "
                    "swapped faces premultiplied (face.R/G/B/A) and the blend alpha (lsmask.Y), in the plate's "
                    "colourspace and resolution; pixels the blend does not reach are the plate's own. Faces whose "
                    "landmarks the track marks unreliable (profiles, tiny or occluded faces) are not swapped, except "
                    "for short runs bridged from the frames around them (--bridge).",
    )
    parser.add_argument("source", help="the plate: plate.####.exr, plate.%%04d.exr, an image, a folder or a movie")
    parser.add_argument("--model", required=True, metavar="MODEL_DIR", help="a model folder from `latentswap train`")
    parser.add_argument("-o", "--output", required=True, metavar="OUT_SEQ",
                        help="output EXRs, e.g. swap/sh010.####.exr")
    add_frames(parser)
    parser.add_argument("--track", metavar="TRACK_JSON",
                        help="faces from `latentswap track` (or the Nuke gizmo); default: track the plate now")
    add_face_selection(parser)
    # Before --track-id: "all" or track ids such as 0,2. Saved Nuke scripts and farm jobs still pass it.
    parser.add_argument("--faces", metavar="IDS", help=argparse.SUPPRESS)
    add_colorspace(parser)
    parser.add_argument("--color-transfer", default=default("color_transfer"), metavar="MODE",
                        choices=COLOR_TRANSFER_MODES,
                        help="match the swapped face's colour to the plate's face: none, rct, lct, mkl or idt "
                             f"(default: {default('color_transfer')})")
    parser.add_argument("--mask", default=default("mask"), choices=MASK_SOURCES,
                        help="blend mask: the plate face's landmark hull, the model's predicted mask, their "
                             "product, or the hull minus what --occlusion-model finds in front of the face "
                             f"(default: {default('mask')})")
    parser.add_argument("--occlusion-model", metavar="MASK_DIR",
                        help="an occlusion model from `latentswap train-mask` (with --mask occlusion)")
    parser.add_argument("--holdout", metavar="MATTE_SEQ",
                        help="mattes of what stays in front of the face (microphone, hands): e.g. roto rendered "
                             "out as holdout.####.png (alpha, else the first channel; frames without a file hold "
                             "nothing out); the plate is kept there")
    parser.add_argument("--mask-erode", type=number(), default=default("mask_erode"), metavar="PX",
                        help="shrink the face mask by PX plate pixels (negative grows it; default: "
                             f"{default('mask_erode'):g})")
    parser.add_argument("--mask-blur", type=number(), default=default("mask_blur"), metavar="PX",
                        help=f"feather the mask edge over PX plate pixels (default: {default('mask_blur'):g})")
    parser.add_argument("--blend", default=default("blend"), metavar="MODE", choices=BLENDS,
                        help=f"alpha or poisson (default: {default('blend')}); poisson solves on the CPU, also with "
                             "--device cuda")
    parser.add_argument("--mix", type=number(), default=default("mix"),
                        help=f"strength of the swap, 0..1 (default: {default('mix'):g})")
    parser.add_argument("--bridge", type=whole(0, None), default=default("bridge"), metavar="N",
                        help="swap a run of at most N frames where the track followed a face without confidence (a "
                        "microphone or hand over the mouth) on landmarks interpolated from the frames around it, "
                        f"instead of leaving the plate's face there (default: {default('bridge')}; 0: never)")
    parser.add_argument("--backend", default="torch", choices=("torch", "onnx"),
                        help="run the model with torch or onnxruntime (exported once to MODEL_DIR/swap.onnx)")
    parser.add_argument("--device", default="auto",
                        help="cpu, cuda or auto (default: auto); on cuda the align warp, colour transfer, mask "
                             "refinement and blend run on the GPU too")
    # Where the warps and the blend run: auto (torch on cuda, numpy on the CPU), numpy, or torch on --device (torch on
    # the CPU is how the tests check the GPU's code on a machine without one).
    parser.add_argument("--blend-device", default="auto", choices=BLEND_DEVICE_CHOICES, help=argparse.SUPPRESS)
    parser.add_argument("--codec-path", metavar="P", help="the codec's weights, if not where training found them")
    parser.add_argument("--codec-projection", type=whole(None, None), default=DEFAULT_PROJECTIONS, metavar="N",
                        help="decode and re-encode the swapped latent N times before the last decode: pulls it "
                             "back onto the codec's latents, which removes the codec's block grid (default: "
                             f"{DEFAULT_PROJECTIONS})")
    parser.add_argument("--precision", default=DEFAULT_PRECISION, choices=PRECISIONS,
                        help="what the swap network computes in: fp32 for finals, or bf16 for drafts (about twice as "
                             "fast, where the GPU or the CPU computes bf16 natively; faces differ by about one 8-bit "
                             f"level) (default: {DEFAULT_PRECISION})")
    parser.add_argument("--batch", type=whole(1, MAX_BATCH), default=default("batch"), metavar="N",
                        help=f"faces per model call (default: {default('batch')})")
    parser.add_argument("--workers", type=whole(1, 256), default=default("workers"), metavar="N",
                        help=f"threads blending and writing (default: {default('workers')})")
    parser.add_argument("--skip-existing", action="store_true", help="keep output frames that already exist")
    parser.add_argument("--layers", default=default("layers"), choices=LAYERS,
                        help="what each EXR holds: comp (R, G, B, A and the plate's other channels), face "
                             "(face.R/G/B/A and lsmask.Y over the faces' box only: the data window; Nuke merges it "
                             f"over the plate) or all (both, full frame) (default: {default('layers')})")
    parser.add_argument("--compression", default=default("compression"), type=exr_compression, metavar="C",
                        help=f"EXR compression: {', '.join(EXR_COMPRESSIONS)}; zip, zips, dwaa, dwab take a level "
                             f"(zip:6, dwaa:45) (default: {default('compression')}, as Nuke's Write)")
    refine = parser.add_argument_group("refinement (a refiner from `latentswap train-refiner`)")
    refine.add_argument("--refine", metavar="REFINER_DIR", help="refine each swapped face with this refiner")
    refining = defaults_of(RefinerApplyOptions)

    refine.add_argument("--refine-strength", type=number(), default=refining("strength"), metavar="S",
                        help="how much of the diffusion is re-run from the swap: 0 keeps it, 1 ignores it "
                             f"(default: {refining('strength')})")
    refine.add_argument("--refine-steps", type=whole(1, 10_000), default=refining("steps"), metavar="N",
                        help=f"sampler steps for the whole schedule; strength x N are run (default: "
                             f"{refining('steps')})")
    refine.add_argument("--refine-seed", type=whole(0, MAX_SEED), default=refining("seed"), metavar="N",
                        help=f"noise seed; each track keeps its noise on every frame (default: {refining('seed')})")
    refine.add_argument("--refine-temporal", type=number(), default=refining("temporal"), metavar="T",
                        help="share of the previous frame's added detail kept, against flicker (default: "
                             f"{refining('temporal')})")
    refine.add_argument("--refine-sampler", default=refining("sampler"), choices=SAMPLERS,
                        help=f"deterministic sampler (default: {refining('sampler')})")
    refine.add_argument("--refine-guidance", type=number(0, 100), default=refining("guidance"), metavar="G",
                        help="classifier-free guidance on the identity; above 1 doubles the cost (default: "
                             f"{refining('guidance'):g})")
    add_ocio_config(parser)
    add_progress_json(parser)
    parser.set_defaults(run=run)


def parse_face_ids(text: str) -> tuple[int, ...] | None:
    """The deprecated ``--faces`` value: "all" (None) or track ids such as 0 or 0,2."""
    if text.strip().lower() == "all":
        return None
    try:
        ids = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        ids = ()
    if not ids or any(i < 0 for i in ids):
        raise SettingsError(f"--faces {text!r} is not 'all' or a list of track ids such as 0 or 0,2; use "
                            "--track-id N (repeat for several)")
    return ids


def swap_selection(args: argparse.Namespace) -> FaceSelection:
    """``--track-id``/``--person``, with the old ``--faces IDS`` read as more track ids."""
    old = parse_face_ids(args.faces) if args.faces is not None else None
    if old:
        args = argparse.Namespace(**{**vars(args), "track_ids": [*(args.track_ids or ()), *old]})
    return face_selection(args)


def render_options(args: argparse.Namespace) -> RenderOptions:
    """The render settings the command line asks for, checked."""
    from latentswap_core.devices import resolve_device
    from latentswap_core.io.matte import MatteSequence
    from latentswap_core.swap.merge import choose_blend_device
    from latentswap_core.swap.occlusion import OcclusionMasker

    device = resolve_device(args.device)
    return options_from(
        args, RenderOptions, faces=swap_selection(args), blend_device=choose_blend_device(args.blend_device, device),
        holdout=MatteSequence(args.holdout) if args.holdout else None,
        occlusion=OcclusionMasker(args.occlusion_model, device) if args.occlusion_model else None)


def refine_options(args: argparse.Namespace) -> RefinerApplyOptions:
    """The --refine-* arguments as the refiner's options."""
    return options_from(args, RefinerApplyOptions, prefix="refine_")


def run(args: argparse.Namespace) -> int:
    from latentswap_core import color
    from latentswap_core.devices import resolve_device
    from latentswap_core.io import format_frames, open_source
    from latentswap_core.swap.backends import open_swapper
    from latentswap_core.swap.render import render_shot, swapper_card
    from latentswap_core.track import TrackOptions, track_source
    from latentswap_core.track.trackfile import read_track_for

    options = render_options(args)
    if args.refine:  # the refiner loads diffusers (2-3 s of a swap's start on 2 cores): only when asked for
        from latentswap_core.refine import Refiner

    if args.colorspace:
        color.check_colorspace(args.colorspace, args.ocio_config)
    source = open_source(args.source, args.frames)
    try:
        track = read_track_for(args.track, source) if args.track else None
        swapper = open_swapper(args.model, args.backend, args.device, args.codec_path, args.codec_projection,
                               args.precision)
        refiner = Refiner(args.refine, refine_options(args), resolve_device(args.device), args.codec_path) \
            if args.refine else None
        json_lines = args.progress_json
        if track is None:
            track_options = TrackOptions(colorspace=args.colorspace, ocio_config=args.ocio_config,
                                         face_type=swapper_card(swapper).face_type)
            with Progress("track", len(source.frames), json_lines=json_lines) as progress:
                track = track_source(source, track_options,
                                     on_frame=lambda frame, found: progress.advance(frame=frame, faces=found))
        with Progress("swap", len(source.frames), json_lines=json_lines) as progress:
            report = render_shot(source, args.output, swapper, track, options,
                                 on_frame=lambda frame, faces, kept: progress.advance(frame=frame, faces=faces,
                                                                                      kept=kept),
                                 refiner=refiner, track_name=track_name(args.track, source.description))
    finally:
        source.close()
    lines = [f"created folder {folder}" for folder in report.created_folders]
    lines.append(f"wrote {len(report.written)} frames to {args.output} ({report.faces_swapped} faces swapped, "
                 f"{report.wall_seconds:.1f} s)")
    if report.off_plate_faces:
        lines.append(f"{report.off_plate_faces} faces lie wholly outside the plate in the track: not swapped")
    if report.replaced_layers:
        lines.append(f"the plate held a swap's own layers ({', '.join(sorted(report.replaced_layers))}): replaced by "
                     "this swap's")
    if report.stale_partials:
        lines.append(f"removed {len(report.stale_partials)} stale partial file(s) of killed renders")
    if report.kept:
        lines.append(f"kept {len(report.kept)} existing frames: {format_frames(report.kept)}")
    if report.without_face:
        lines.append(f"no face to swap in {len(report.without_face)} frames, copied unchanged: "
                     f"{format_frames(report.without_face)}")
    if report.bridged_faces:
        lines.append(f"{report.bridged_faces} faces the track followed without confidence swapped on landmarks "
                     f"bridged from the frames around them: frames {format_frames(report.bridged_frames)}")
    if report.unreliable_faces:
        lines.append(f"{report.unreliable_faces} faces with unreliable landmarks not swapped (profiles, tiny or "
                     f"occluded faces): frames {format_frames(report.unreliable_frames)}")
    for line in lines:
        if args.progress_json:
            emit_json("message", text=line)
        else:
            print(line, file=sys.stdout)
    return 0
