"""The demo's shot trained again with each layout and seed, for a fixed number of steps: which layout swaps it best?

Takes a finished ``latentswap demo -o DIR`` (its plate, track and facesets), trains one model per layout and seed
with the demo's settings (128 px, augmentation on) for ``--steps`` steps, swaps the shot and evaluates it as the
demo's steps 5 and 7 do, and prints a row per run and the mean of each layout, with the spread between seeds.
A fixed step count (not the demo's minutes) keeps runs comparable when the machine is busy.

Run:  .venv/bin/python benchmarks/demo_layouts.py DEMO_DIR [--layouts df,liae] [--seeds 0,1,2] [--steps 3000]
      [--true-face-power P] [-o OUT]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LATENTSWAP_SHARED", REPO.parent / "shared"))
os.environ.setdefault("LATENTSWAP_MODELS", str(SHARED / "models"))  # before latentswap_core looks for TAEF2

from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from latentswap_core.demo.run import CONSENT  # noqa: E402
from latentswap_core.evaluate import EvalOptions, evaluate_shot, write_report  # noqa: E402
from latentswap_core.io import open_source  # noqa: E402
from latentswap_core.swap.render import RenderOptions, render_shot  # noqa: E402
from latentswap_core.swap.swapper import Swapper  # noqa: E402
from latentswap_core.track import read_track_file  # noqa: E402
from latentswap_core.train import Trainer, TrainOptions  # noqa: E402

FIGURES = (("identity_to_target", "to target"), ("identity_to_source", "to plate's"), ("pose_error", "pose deg"),
           ("ssim", "SSIM"), ("grid_ratio", "grid"), ("detail_ratio", "detail"))


def run(demo: Path, out: Path, layout: str, seed: int, steps: int, true_face_power: float = 0.0) -> dict[str, float]:
    """One model trained, the shot swapped and evaluated: the summary's means, and the training seconds."""
    folder = out / f"{layout}_{seed}"
    began = time.perf_counter()
    Trainer(TrainOptions(demo / "facesets" / "src", demo / "facesets" / "dst", folder / "model", resolution=128,
                         steps=steps, consent=CONSENT, src_name="obama", dst_name="biden", preview_every=0,
                         save_every=1000, augment=True, augment_refresh=200, seed=seed, layout=layout,
                         true_face_power=true_face_power)).run()
    seconds = time.perf_counter() - began
    plate, track = open_source(str(demo / "plate" / "plate.####.exr")), read_track_file(demo / "plate.track.json")
    swap = str(folder / "swap" / "swap.####.exr")
    (folder / "swap").mkdir(parents=True)
    render_shot(plate, swap, Swapper(folder / "model", "cpu"), track, RenderOptions(mask_blur=12.0))
    evaluation = evaluate_shot(plate, open_source(swap), EvalOptions(target=demo / "facesets" / "src",
                                                                     source=demo / "facesets" / "dst"),
                               plate_track=track)
    summary = write_report(evaluation, folder / "report", {"plate": str(demo), "swapped": swap,
                                                             "model": str(folder / "model")})
    means = {key: (summary["metrics"].get(key) or {}).get("mean") for key, _ in FIGURES}  # None: no face to measure
    return {key: float("nan") if value is None else value for key, value in means.items()} | {"train s": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("demo", type=Path, help="a finished `latentswap demo -o DIR`")
    parser.add_argument("--layouts", default="df,liae")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--true-face-power", type=float, default=0.0, help="train --true-face-power (DF only)")
    parser.add_argument("-o", "--output", type=Path, help="where the runs go (default: a temporary folder)")
    args = parser.parse_args()
    out = args.output or Path(tempfile.mkdtemp(prefix="demo_layouts-"))
    print(f"{cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}; {args.steps} steps; "
          f"true-face power {args.true_face_power:g}; {out}")
    header = ["layout", "seed", *(name for _, name in FIGURES), "train s"]
    print(" | ".join(header))
    rows: dict[str, list[dict[str, float]]] = {}
    for layout in args.layouts.split(","):
        for seed in (int(text) for text in args.seeds.split(",")):
            row = run(args.demo, out, layout, seed, args.steps, args.true_face_power)
            rows.setdefault(layout, []).append(row)
            print(" | ".join([layout, str(seed), *(f"{value:.3f}" for value in row.values())]), flush=True)
    for layout, runs in rows.items():
        cells = [f"{statistics.mean(r[key] for r in runs):.3f} ({min(r[key] for r in runs):.3f}-"
                 f"{max(r[key] for r in runs):.3f})" for key in runs[0]]
        print(" | ".join([layout, "mean (range)", *cells]))


if __name__ == "__main__":
    main()
