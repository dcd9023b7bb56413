"""``latentswap train``: a swap model from two facesets, in a codec's latent space, resumable."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from latentswap_core.cli.arguments import (
    MAX_BATCH,
    add_training_length,
    add_training_run,
    defaults_of,
    number,
    options_from,
    whole,
)
from latentswap_core.codecs.names import CODEC_NAMES
from latentswap_core.models.config import LAYOUTS, PRESETS
from latentswap_core.progress import Progress, emit_json
from latentswap_core.train.device_defaults import (
    AUTO_BATCH,
    CPU_BATCH,
    LOSS_EVERY,
    PIXEL_LOSS_SCHEDULES,
    STEP_MODES,
    WHOLE_BATCH,
)
from latentswap_core.train.options import MAX_TRUE_FACE_POWER, TrainOptions

if TYPE_CHECKING:
    from latentswap_core.train import StepReport, TrainResult

CONSENT_WARNING = "latentswap: warning: no --consent given: record who agreed to this face being used"
WARNING_PREFIX = "latentswap: warning: "


default = defaults_of(TrainOptions)


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train", help="train a swap model on a src and a dst faceset",
        description="Train a swap model (src look onto dst performance) in a codec's latent space. Latents are "
                    "computed once and cached in MODEL_DIR/cache; checkpoints, previews, losses.csv and "
                    "losses.png are written to MODEL_DIR, with the facesets' pose coverage (pose_coverage.png, "
                    "faceset_report.json). Ctrl-C saves and stops; --resume continues exactly.",
    )
    parser.add_argument("--src", required=True, metavar="FACESET", help="faceset of the face to put in")
    parser.add_argument("--dst", required=True, metavar="FACESET", help="faceset of the face to replace")
    parser.add_argument("-o", "--output", required=True, metavar="MODEL_DIR", help="the model folder to write")
    parser.add_argument("--codec", default=default("codec"), choices=CODEC_NAMES,
                        help=f"latent space (default: {default('codec')})")
    parser.add_argument("--codec-path", metavar="P", help="codec weights folder (sd-vae: required)")
    parser.add_argument("--resolution", type=whole(64, 2048), default=default("resolution"),
                        help=f"face size in pixels (default: {default('resolution')})")
    parser.add_argument("--preset", default=default("preset"), choices=tuple(PRESETS),
                        help="model width: small, medium, large, or dfl (DeepFaceLab SAEHD's widths) "
                             f"(default: {default('preset')})")
    parser.add_argument("--layout", default=default("layout"), choices=LAYOUTS,
                        help=f"model layout (default: {default('layout')})")
    parser.add_argument("--no-vq", dest="vq", action="store_false", help="no vector quantiser in the bottleneck")
    add_training_length(parser)
    parser.add_argument("--batch", type=whole_or_auto(whole(1, MAX_BATCH)), default=default("batch"), metavar="B",
                        help="faces per identity per step, or auto: the CPU's "
                             f"{CPU_BATCH}, on CUDA as many as its free memory holds (default: auto)")
    parser.add_argument("--lr", type=number(high=1.0, above=0), default=default("lr"),
                        help=f"AdamW learning rate (default: {default('lr'):g})")
    parser.add_argument("--accumulate", type=whole(1, MAX_BATCH), default=default("accumulate"), metavar="N",
                        help=f"batches per optimizer step (default: {default('accumulate')})")
    parser.add_argument("--average-decay", type=number(), default=default("average_decay"), metavar="D",
                        help="model/ holds a moving average of the weights with this decay, steadier than the last "
                        f"step's (default: {default('average_decay')}; 0: the last step's weights)")
    parser.add_argument("--pixel-loss-every", type=whole(0), default=default("pixel_loss_every"), metavar="K",
                        help="pixel DSSIM + L1 through the codec decoder on steps 1, K+1, 2K+1, ...; 0 never "
                             f"(default: the device's, {schedules('every')})")
    parser.add_argument("--pixel-loss-samples", type=whole(1, MAX_BATCH), default=default("pixel_loss_samples"),
                        metavar="N",
                        help=f"faces per identity decoded for the pixel loss (default: the device's, "
                             f"{schedules('samples')})")
    parser.add_argument("--pixel-loss-crop", type=whole(16, 4096), default=default("pixel_loss_crop"), metavar="PX",
                        help="a random PX window of larger faces for the pixel and response losses (default: "
                             f"{default('pixel_loss_crop')})")
    parser.add_argument("--no-decoder-response", dest="decoder_response", action="store_false",
                        help="no decoder-response loss (every step: the pixel effect of the latent error through a "
                             "linear model of the codec's decoder, fitted at start-up)")
    parser.add_argument("--eyes-mouth-priority", type=number(0, 1000), default=default("eyes_mouth_priority"),
                        metavar="W", help="extra loss weight on the eyes and mouth, from the mesh landmarks (1: "
                        f"twice; default: {default('eyes_mouth_priority'):g})")
    parser.add_argument("--true-face-power", type=number(0, MAX_TRUE_FACE_POWER), default=default("true_face_power"),
                        metavar="P", help="DeepFaceLab's true-face power (--layout df): a discriminator makes the src "
                        "faces' codes pass for the dst faces', so the src decoder trains on codes like those it "
                        "swaps; 0.1 measured; it can let the plate's person into the swap: judge it with eval "
                        "(docs/training.md; default: "
                        f"{default('true_face_power'):g}, off)")
    parser.add_argument("--augment", dest="augment", action="store_true",
                        help="random warp of the model's input and a pool of moved and recoloured faces encoded in "
                             "the background: for a src of a few photos; on real footage it blurred the swap and "
                             "printed the codec grid at the same time budget (docs/training.md)")
    parser.add_argument("--no-augment", dest="augment", action="store_false", help=argparse.SUPPRESS)  # old scripts
    parser.add_argument("--augment-pool", type=whole(1, 100_000), default=default("augment_pool"), metavar="N",
                        help=f"augmented faces per identity in each pool generation (default: "
                             f"{default('augment_pool')})")
    parser.add_argument("--augment-refresh", type=whole(1), default=default("augment_refresh"), metavar="K",
                        help=f"steps between pool generations (default: {default('augment_refresh')})")
    parser.add_argument("--consent", metavar="TEXT", help="who agreed to these faces being used (a reference)")
    parser.add_argument("--src-name", metavar="NAME", help="name of the src identity (default: its folder name)")
    parser.add_argument("--dst-name", metavar="NAME", help="name of the dst identity (default: its folder name)")
    parser.add_argument("--dst-holdout", metavar="MATTE_SEQ",
                        help="mattes over the dst plate of what stays in front of the face (microphone, hands; "
                             "e.g. roto rendered out as holdout.####.png, alpha or else the first channel): no loss "
                             "looks there, so the model does not learn it; frames without a file hold nothing out")
    parser.add_argument("--src-holdout", metavar="MATTE_SEQ", help="the same over the src plate")
    parser.add_argument("--step-mode", default=default("step_mode"), choices=STEP_MODES,
                        help="eager: ops launched from Python, losses read every step; static: the graph-safe step "
                             "(random draws on the device, losses read every --loss-every steps); graph: the static "
                             "step captured in CUDA graphs (CUDA only); auto: graph on CUDA, else eager "
                             f"(default: {default('step_mode')})")
    parser.add_argument("--loss-every", type=whole(1), default=default("loss_every"), metavar="N",
                        help="read the losses back every N steps; losses.csv gets their mean (default: "
                             f"{', '.join(f'{mode} {every}' for mode, every in LOSS_EVERY.items())})")
    add_training_run(parser, "MODEL_DIR")
    parser.set_defaults(run=run, augment=default("augment"))


def schedules(field: str) -> str:
    """The per-device pixel-loss defaults for the help text (``device_defaults.PIXEL_LOSS_SCHEDULES``)."""
    def shown(value: int) -> str:
        return "the whole batch" if field == "samples" and value == WHOLE_BATCH else str(value)
    return ", ".join(f"{device} {shown(getattr(schedule, field))}" for device, schedule in PIXEL_LOSS_SCHEDULES.items())


def whole_or_auto(parse: Callable[[str], int]) -> Callable[[str], int]:
    """An argparse type: ``auto`` (AUTO_BATCH) or what ``parse`` accepts."""
    def parse_or_auto(text: str) -> int:
        return AUTO_BATCH if text == "auto" else parse(text)
    return parse_or_auto


def run(args: argparse.Namespace) -> int:
    from latentswap_core.train.distributed import leave_world

    try:
        return train(args)
    finally:
        leave_world()  # under torchrun: the process group of a data-parallel run


def train(args: argparse.Namespace) -> int:
    from latentswap_core.train import Trainer

    options = options_from(args, TrainOptions)
    # the faceset report comes once the run is accepted, before the latents are encoded (the first process only)
    trainer = Trainer(options, on_faceset_report=lambda report: say_faceset_report(
        report.lines(), list(report.warnings), args.progress_json))
    if not trainer.world.is_main:  # a data-parallel process besides the first: it trains, the first reports
        return 130 if trainer.run().interrupted else 0
    if not args.consent:
        print(CONSENT_WARNING, file=sys.stderr)
    return run_with_progress("train", lambda on_step, say: trainer.run(on_step), trainer.step, args, "model")


def say_faceset_report(lines: list[str], warnings: list[str], progress_json: bool) -> None:
    """The faceset report and its warnings: on stderr (warnings prefixed like CONSENT_WARNING), or as JSON
    ``message`` events (warnings with ``"level": "warning"``)."""
    for line in lines:
        if progress_json:
            emit_json("message", text=line)
        else:
            print(f"latentswap: {line}", file=sys.stderr)
    for warning in warnings:
        if progress_json:
            emit_json("message", text=f"warning: {warning}", level="warning")
        else:
            print(WARNING_PREFIX + warning, file=sys.stderr)


def run_with_progress(task: str, run: Callable[[Callable[[StepReport], None], Callable[[str], None]], TrainResult],
                      first: int, args: argparse.Namespace, made: str) -> int:
    """``run(on_step, say)`` under a tqdm bar (JSON events with --progress-json) counting this run's steps from
    ``first``; then where the result (``made``, a folder of the run's) is, or how to resume. 130: interrupted."""
    total = max(0, args.steps - first) if args.steps is not None else 1
    with Progress(task, total, json_lines=args.progress_json, unit="step") as progress:

        def on_step(report: StepReport) -> None:
            if report.total is not None:  # with --minutes: re-estimated from the speed so far
                progress.total = report.total - first
            fields: dict[str, Any] = {"step": report.step}
            if "loss" in report.losses:  # the last read-back's (none yet before the first, with --loss-every)
                fields["loss"] = round(report.losses["loss"], 5)
            perplexity = report.losses.get("perplexity", float("nan"))
            if perplexity == perplexity:  # not NaN: the swap model's VQ is on
                fields["perplexity"] = round(perplexity, 2)
            if report.preview:
                fields["preview"] = str(report.preview)
            progress.advance(**fields)

        result = run(on_step, progress.message)
    message = (f"interrupted at step {result.step}; --resume continues" if result.interrupted
               else f"trained to step {result.step}: {made} in {result.model_dir / made}")
    if args.progress_json:
        emit_json("message", text=message)
    else:
        print(message, file=sys.stderr if result.interrupted else sys.stdout)
    return 130 if result.interrupted else 0
