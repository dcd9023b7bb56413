"""The occlusion model's occluder weighting, seed by seed, at a fixed step budget.

    python benchmarks/occlusion_weight.py --weights 1,3 --seeds 0,1,2,3,4 --steps 1464

On the real clip (``../shared/data/video``) it trains ``train_occlusion`` on the five drawn frames the tests train
on (99, 131, 147, 171, 195) once for each occluder weight (``OCCLUDER_WEIGHT`` in the cross-entropy, 1 = unweighted)
and seed. It judges each model on the aligned crops of the held-out drawn frames 139, 163, 187 and 203, each cut by
its own landmarks, 163's included although the track does not trust them. The results are two figures: the
occluder pixels in the face that the model leaves to the plate (``occluder_kept``, pooled over the four frames)
and the rest of the face it leaves to the swap (``face_covered``, pooled over 139, 187 and 203, as
``real_quality.py`` judges the model). A fixed step count keeps the runs comparable on a busy machine; one thread
a run (``OMP_NUM_THREADS=1``) lets two run side by side. Figures: docs/training.md, "Occluders". Writes
``benchmarks/out/occlusion_weight.jsonl``, a line a run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from arguments import seed_list
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("LATENTSWAP_SHARED", REPO.parent / "shared"))
CLIP = SHARED / "data" / "video" / "short_hamilton_clip.mp4"
sys.path.insert(0, str(REPO / "tests"))  # tests/drawn_occluders.py: the drawn frames, shared with the test
JUDGED, TRUSTED = (139, 163, 187, 203), (139, 187, 203)


def positive_numbers(text: str) -> list[float]:
    try:
        values = [float(value) for value in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give weights above 0, e.g. 1,3")
    return values


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=positive_numbers, default=[1.0, 3.0])
    parser.add_argument("--seeds", type=seed_list, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1464)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "occlusion_weight.jsonl"))
    args = parser.parse_args()
    if args.steps < 1:
        sys.exit(f"--steps {args.steps}: give 1 or more")
    if not CLIP.is_file():
        sys.exit(f"{CLIP}: the real clip is missing (../shared beside the repository)")

    from drawn_occluders import DRAWN, HELD_OUT, TRAIN, track_the_singer

    from latentswap_core.align import aligned_face_mask, alignment_transform
    from latentswap_core.evaluate.metrics import occlusion_coverage
    from latentswap_core.face_selection import FaceSelection
    from latentswap_core.io import open_source
    from latentswap_core.io.matte import MatteSequence
    from latentswap_core.swap.occlusion import OcclusionMasker
    from latentswap_core.train import occlusion_trainer
    from latentswap_core.train.occlusion_trainer import OcclusionOptions, labelled_crops, train_occlusion

    plate = open_source(str(CLIP), list(TRAIN + HELD_OUT))  # 115 is left out: its landmarks are useless
    try:
        track = track_the_singer(plate)
        for entry in track.frames:
            for face in entry.faces:
                face.landmarks_reliable = face.landmarks_reliable or entry.frame in JUDGED  # judge 163 too
        selection = OcclusionOptions(output=Path("unused"), steps=1, faces=FaceSelection(people=(0,)))
        with tempfile.TemporaryDirectory() as folder:
            for frame in TRAIN:
                name = f"occluder.{frame:04d}.png"
                (Path(folder) / name).write_bytes((DRAWN / name).read_bytes())
            drawn = labelled_crops(plate, track, MatteSequence(Path(folder) / "occluder.####.png"), selection)
        every = labelled_crops(plate, track, MatteSequence(DRAWN / "occluder.####.png"), selection)
    finally:
        plate.close()
    judged = [index for index, frame in enumerate(every.frames) if frame in JUDGED]
    regions = {}
    for index in judged:
        face = next(face for face in track.faces_at(every.frames[index]) if face.person == 0)
        regions[index] = aligned_face_mask(face.landmarks, alignment_transform(face.landmarks, "whole_face"),
                                           every.crops.shape[-1], "whole_face")

    def pooled(frames: tuple[int, ...], alphas: dict[int, np.ndarray]) -> dict[str, float | None]:
        chosen = [index for index in judged if every.frames[index] in frames]
        return occlusion_coverage(*(np.concatenate([arrays[index].ravel() for index in chosen])
                                    for arrays in (alphas, regions, mattes)))

    mattes = {index: every.mattes[index, 0].numpy() for index in judged}
    machine = f"{cpu_model()}, {os.environ.get('OMP_NUM_THREADS', 'all')} threads"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for weight in args.weights:
        for seed in args.seeds:
            occlusion_trainer.OCCLUDER_WEIGHT = weight
            with tempfile.TemporaryDirectory() as folder:
                started = time.monotonic()
                options = OcclusionOptions(output=Path(folder) / "occlusion", steps=args.steps, seed=seed,
                                           faces=FaceSelection(people=(0,)), device="cpu")  # rows name the CPU
                train_occlusion(drawn, options)
                seconds = time.monotonic() - started
                masker = OcclusionMasker(options.output)
                alphas = {index: 1.0 - masker.occluders(every.crops[index].permute(1, 2, 0).numpy()[None])[0]
                          for index in judged}

            per_frame = {every.frames[i]: occlusion_coverage(alphas[i], regions[i], mattes[i])[
                "occluder_kept"] for i in judged}
            row = {"weight": weight, "seed": seed, "steps": args.steps, "seconds": round(seconds),
                   "occluder_kept": pooled(JUDGED, alphas)["occluder_kept"],
                   "face_covered": pooled(TRUSTED, alphas)["face_covered"],
                   "kept_per_frame": per_frame, "machine": machine}
            print(json.dumps(row), flush=True)
            with out.open("a") as lines:
                lines.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
