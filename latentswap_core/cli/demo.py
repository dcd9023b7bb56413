"""``latentswap demo``: the whole product on a synthetic shot made from real photos, in a few minutes."""

from __future__ import annotations

import argparse
from pathlib import Path

from latentswap_core.cli.arguments import number, whole


def add_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo", help="run the whole product on a built-in shot: plate, facesets, training, swap, review",
        description="Builds a 1920x1080 EXR plate of one real person moving, extracts facesets of two real people, "
                    "trains a small model on the CPU in TAEF2 latent space, tracks and swaps the shot, and writes "
                    "the EXRs, a contact sheet, a preview movie and the loss plot. Needs the shared material "
                    "(../shared or $LATENTSWAP_SHARED); nothing is downloaded.",
    )
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="a new or empty folder for everything")
    parser.add_argument("--minutes", type=number(high=10**6, above=0), default=4.0, help="training time (default: 4)")
    parser.add_argument("--frames", type=whole(1, 100_000), default=48, help="frames in the shot (default: 48)")
    parser.add_argument("--resolution", type=whole(64, 2048), default=128, help="face size of the model (default: 128)")
    parser.add_argument("--shared", metavar="FOLDER", help="the shared material (default: $LATENTSWAP_SHARED, "
                                                              "else ../shared beside the checkout)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from latentswap_core.demo.run import DemoOptions, default_shared, run_demo
    from latentswap_core.errors import LatentSwapError

    if args.minutes <= 0 or args.frames < 2:
        raise LatentSwapError("--minutes must be above 0 and --frames at least 2")
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    options = DemoOptions(output=output, shared=Path(args.shared) if args.shared else default_shared(),
                          frames=args.frames, resolution=args.resolution, minutes=args.minutes)
    result = run_demo(options, say=lambda line: print(line, flush=True))
    total = sum(result.seconds.values())
    timings = ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in result.seconds.items())
    print(f"\ndone in {total / 60:.1f} minutes ({timings})")
    for line in result.evaluation:
        print(f"  {line}")
    for label, where in (("plate", result.plate), ("swapped EXRs", result.swap), ("model", result.model),
                         ("contact sheet", result.contact_sheet), ("preview movie", result.movie),
                         ("loss plot", result.loss_plot), ("report", result.report)):
        print(f"  {label + ':':<15} {where}")
    return 0
