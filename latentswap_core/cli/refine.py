"""``latentswap train-refiner``: an identity-conditioned latent diffusion refiner for a swap model, resumable."""

from __future__ import annotations

import argparse
import sys

from latentswap_core.cli.arguments import (
    MAX_BATCH,
    add_training_length,
    add_training_run,
    defaults_of,
    number,
    options_from,
    whole,
)
from latentswap_core.cli.train import CONSENT_WARNING, run_with_progress
from latentswap_core.codecs.names import CODEC_NAMES
from latentswap_core.refine.config import PREDICTIONS, PRESETS
from latentswap_core.refine.options import RefinerTrainOptions

default = defaults_of(RefinerTrainOptions)


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train-refiner", help="train a diffusion refiner that adds detail to a model's swaps",
        description="Train a denoising diffusion model in the codec's latent space, conditioned on the target "
                    "identity's embedding, that refines swaps (latentswap swap --refine). With --model it learns "
                    "to restore what that model loses (its reconstructions of the faceset's faces, paired with the "
                    "real ones); with --swaps also from the model's swaps of those faces. Checkpoints, previews, "
                    "losses.csv and losses.png are written to REFINER_DIR; Ctrl-C saves; --resume continues.",
    )
    parser.add_argument("--faceset", required=True, metavar="FACESET",
                        help="faceset of the identity the swaps show (the swap model's --src)")
    parser.add_argument("-o", "--output", required=True, metavar="REFINER_DIR", help="the refiner folder to write")
    parser.add_argument("--model", metavar="MODEL_DIR",
                        help="the swap model to refine (its codec and face size are used; recommended)")
    parser.add_argument("--swaps", nargs="+", default=(), metavar="FACESET",
                        help="facesets of the faces the model will swap (e.g. the plate's --dst faceset)")
    parser.add_argument("--codec", default=default("codec"), choices=CODEC_NAMES,
                        help=f"latent space without --model (default: {default('codec')})")
    parser.add_argument("--codec-path", metavar="P", help="codec weights folder (sd-vae: required)")
    parser.add_argument("--resolution", type=whole(64, 2048), metavar="PX",
                        help="face size without --model (default: the faceset's)")
    parser.add_argument("--preset", default=default("preset"), choices=tuple(PRESETS),
                        help=f"UNet width: {', '.join(PRESETS)} (default: {default('preset')})")
    parser.add_argument("--prediction", default=default("prediction"), choices=PREDICTIONS,
                        help=f"what the UNet predicts (default: {default('prediction')})")
    add_training_length(parser)
    parser.add_argument("--batch", type=whole(1, MAX_BATCH), default=default("batch"), metavar="B",
                        help=f"latents per group per step (default: {default('batch')})")
    parser.add_argument("--lr", type=number(high=1.0, above=0), default=default("lr"),
                        help=f"AdamW learning rate (default: {default('lr'):g})")
    parser.add_argument("--average-decay", type=number(), default=default("average_decay"), metavar="D",
                        help="refiner/ holds a moving average of the UNet's weights with this decay, steadier than "
                             f"the last step's (default: {default('average_decay')}; 0: the last step's weights)")
    parser.add_argument("--max-strength", type=number(), default=default("max_strength"), metavar="S",
                        help="highest noise level (0..1 of the schedule) the reconstruction and swap groups train; "
                             "keep it above the --refine-strength you render with (default: "
                             f"{default('max_strength')})")
    parser.add_argument("--identity-weight", type=number(0, 1e6), default=default("identity_weight"), metavar="W",
                        help=f"weight of the identity loss (default: {default('identity_weight')})")
    parser.add_argument("--reconstruction-weight", type=number(0, 1e6), default=default("reconstruction_weight"),
                        metavar="W", help="weight of the reconstruction loss with --model (default: "
                        f"{default('reconstruction_weight'):g})")
    parser.add_argument("--identity-steps", type=whole(0), default=default("identity_steps"), metavar="N",
                        help="steps fitting the latent identity encoder before training (default: "
                             f"{default('identity_steps')})")
    parser.add_argument("--arcface", metavar="ONNX", help="an ArcFace .onnx model for the identity embedding "
                                                          "(default: dlib's offline 128-d descriptor)")
    parser.add_argument("--consent", metavar="TEXT", help="who agreed to this face being used (a reference)")
    parser.add_argument("--name", metavar="NAME", help="name of the target identity (default: the faceset's folder)")
    add_training_run(parser, "REFINER_DIR")
    parser.set_defaults(run=run)


def refiner_options(args: argparse.Namespace) -> RefinerTrainOptions:
    return options_from(args, RefinerTrainOptions, swaps=tuple(args.swaps), target_name=args.name)


def run(args: argparse.Namespace) -> int:
    from latentswap_core.refine import RefinerTrainer

    trainer = RefinerTrainer(refiner_options(args))
    if not args.consent:
        print(CONSENT_WARNING, file=sys.stderr)
    return run_with_progress("train-refiner", lambda on_step, say: trainer.run(on_step, on_message=say),
                             trainer.step, args, "refiner")
