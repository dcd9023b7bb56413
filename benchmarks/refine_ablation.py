"""Swap only vs swap + refine, on held-out frames: identity distance to the target, SSIM to the plate face,
flicker and time per frame, in one run.

The shot is the demo's (``latentswap_core.demo``): biden2.jpg moving over a 1920x1080 half-float ACEScg plate,
tracked once. The swap model is trained (``Trainer``, ``--model-minutes``) on src = obama, obama2, obama3.jpg and
dst = the plate faces of the first frames only; the last ``--held-out`` frames are never seen by the model or the
refiner. The refiner (``RefinerTrainer``, ``--refiner-minutes``) learns from the model's reconstructions of the
src faces (paired) and its swaps of the training frames' plate faces (identity loss). The held-out frames are then
rendered (``render_shot``, default RenderOptions but mask blur 12) three ways: swap only; swap + refine with
temporal smoothing off; swap + refine with ``--temporal``, all at ``--strength`` / ``--steps``. Each render is
evaluated by ``evaluate_shot`` against the src faceset (dlib identity distance, SSIM of the face to the plate's,
flicker: the frame-to-frame change of the swapped face beyond the plate's own) and timed (wall time per frame,
and the refiner's stage alone).

Run:  .venv/bin/python benchmarks/refine_ablation.py [--model-minutes 4] [--refiner-minutes 4] [--held-out 16]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LATENTSWAP_SHARED", REPO.parent / "shared"))
os.environ.setdefault("LATENTSWAP_MODELS", str(SHARED / "models"))  # before latentswap_core looks for TAEF2

import torch  # noqa: E402
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from latentswap_core.demo.run import CONSENT, SRC_PHOTOS, DemoOptions, write_plate  # noqa: E402
from latentswap_core.evaluate import EvalOptions, evaluate_shot  # noqa: E402
from latentswap_core.extract import ExtractOptions, extract_faceset, faceset_from_photos  # noqa: E402
from latentswap_core.io import open_source  # noqa: E402
from latentswap_core.refine import Refiner, RefinerApplyOptions, RefinerTrainer, RefinerTrainOptions  # noqa: E402
from latentswap_core.swap import Swapper  # noqa: E402
from latentswap_core.swap.render import RenderOptions, render_shot  # noqa: E402
from latentswap_core.track import TrackOptions, track_source  # noqa: E402
from latentswap_core.train import Trainer, TrainOptions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--held-out", type=int, default=16)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--model-minutes", type=float, default=4.0)
    parser.add_argument("--refiner-minutes", type=float, default=4.0)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--strength", type=float, default=0.3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--temporal", type=float, default=0.5)
    parser.add_argument("--out", type=Path, help="work folder (default: a temporary one)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="refine_ablation_"))
    out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}, {platform.python_version()}")
    print(f"work folder: {out}")

    plate = write_plate(out / "plate", DemoOptions(out, SHARED, frames=args.frames, resolution=args.resolution))
    source = open_source(plate)
    frames = list(source.frames)
    train_frames, held_out = frames[:-args.held_out], frames[-args.held_out:]
    track = track_source(source, TrackOptions(face_type="whole_face"))
    extract = ExtractOptions(size=args.resolution)
    src, dst = out / "facesets" / "src", out / "facesets" / "dst"
    extract_faceset(source, [(e.frame, e.faces) for e in track.frames if e.frame in train_frames], dst, extract)
    faceset_from_photos([SHARED / "data" / "faces" / f"{name}.jpg" for name in SRC_PHOTOS], src, extract)
    print(f"shot: {len(frames)} frames, model and refiner see {train_frames[0]}-{train_frames[-1]}, held out "
          f"{held_out[0]}-{held_out[-1]}; faces at {args.resolution} px")

    began = time.perf_counter()
    model = Trainer(TrainOptions(src, dst, out / "model", resolution=args.resolution, minutes=args.model_minutes,
                                 consent=CONSENT, preview_every=0, save_every=0, augment_refresh=200)).run()
    print(f"swap model: {model.step} steps in {time.perf_counter() - began:.0f} s")
    began = time.perf_counter()
    refiner = RefinerTrainer(RefinerTrainOptions(src, out / "refiner", model=out / "model", swaps=(dst,),
                                                 preset=args.preset, minutes=args.refiner_minutes, preview_every=200,
                                                 save_every=0, consent=CONSENT))
    result = refiner.run()
    print(f"refiner ({args.preset}): {result.step} steps in {time.perf_counter() - began:.0f} s (with setup), "
          f"identity encoder fit {refiner.identity_encoder_fit}")

    held = open_source(plate, held_out)
    variants = {"swap only": None,
                "swap + refine, temporal 0": RefinerApplyOptions(args.strength, args.steps, temporal=0.0),
                f"swap + refine, temporal {args.temporal}": RefinerApplyOptions(args.strength, args.steps,
                                                                                temporal=args.temporal)}
    rows = []
    for number, (name, refine) in enumerate(variants.items()):
        folder = out / f"render{number}"
        folder.mkdir()
        swapper = Swapper(out / "model", "cpu")
        refiner_now = Refiner(out / "refiner", refine) if refine else None
        report = render_shot(held, str(folder / "swap.####.exr"), swapper, track, RenderOptions(mask_blur=12.0),
                             refiner=refiner_now)
        evaluation = evaluate_shot(held, open_source(str(folder / "swap.####.exr")),
                                   EvalOptions(target=src, source=dst), plate_track=track)
        metrics = evaluation.summary["metrics"]
        rows.append((name, metrics["identity_to_target"]["mean"], metrics["identity_to_source"]["mean"],
                     metrics["ssim"]["mean"], metrics["flicker"]["mean"], report.wall_seconds / len(held_out),
                     report.stage_seconds.get("refine", 0.0) / len(held_out)))
    print(f"\nheld-out frames {held_out[0]}-{held_out[-1]} ({len(held_out)}), strength {args.strength}, "
          f"{args.steps} steps ({round(args.steps * args.strength)} run), DDIM")
    print("| variant | identity dist. to target (lower better) | to plate person | SSIM to plate face | flicker | "
          "s/frame | refine s/frame |")
    print("|---|---|---|---|---|---|---|")
    for name, to_target, to_source, ssim, flicker, per_frame, refine_time in rows:
        print(f"| {name} | {to_target:.3f} | {to_source:.3f} | {ssim:.3f} | {flicker:.4f} | {per_frame:.2f} | "
              f"{refine_time:.2f} |")


if __name__ == "__main__":
    main()
