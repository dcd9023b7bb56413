"""Identity leakage of a short training: does the swap src -> dst show dst's identity, with and without VQ?

Two facesets of real people are extracted by ``latentswap extract`` from ``$LATENTSWAP_SHARED/data/faces``
(default ``<repo>/../shared``): src = obama, obama2, obama3; dst = biden, biden2. One model is trained with
the VQ bottleneck and one without (same seed, steps, learning rate; the Trainer's defaults otherwise). Each
src face is then rendered as dst (``model.swap(src_latents, "dst")``), decoded by the codec, and described by
dlib's 128-d face descriptor (``latentswap_core.identity``, on the aligned crop). The figures are euclidean
distances to the mean descriptor of the dst faceset's faces and of the src faceset's faces (dlib calls two
faces the same person below 0.6). "nearer dst" is the share of swapped faces nearer dst's mean than src's.
The same-person baselines are each faceset's own faces against their own mean; the reconstruction
src -> src column checks that the descriptor tells the two apart on decoded faces at all.

Run:  .venv/bin/python benchmarks/identity_leakage.py [--steps N] [--resolution 128] [--seed S] [--lr LR]
      [--layouts df,liae]
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

import numpy as np  # noqa: E402
import torch  # noqa: E402
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from latentswap_core.devices import resolve_device  # noqa: E402
from latentswap_core.extract import ExtractOptions, faceset_from_photos  # noqa: E402
from latentswap_core.faceset import load_faceset  # noqa: E402
from latentswap_core.identity import DlibIdentity, identity_distance, mean_descriptor  # noqa: E402
from latentswap_core.train import Trainer, TrainOptions  # noqa: E402
from latentswap_core.train.device_defaults import cpu_batch_or  # noqa: E402

PEOPLE = {"src": ("obama", "obama2", "obama3"), "dst": ("biden", "biden2")}


def extract_facesets(root: Path, size: int) -> dict[str, Path]:
    folders = {}
    for role, names in PEOPLE.items():
        folders[role] = root / role
        faceset_from_photos([SHARED / "data" / "faces" / f"{name}.jpg" for name in names], folders[role],
                            ExtractOptions(size=size))
    return folders


def faceset_descriptors(identity: DlibIdentity, folder: Path) -> list[np.ndarray]:
    faceset = load_faceset(folder)
    return [identity.describe_aligned(faceset.face(i)) for i in range(len(faceset.faces))]


def rendered_descriptors(identity: DlibIdentity, trainer: Trainer, to_identity: str) -> list[np.ndarray]:
    """The src faces rendered as ``to_identity`` by the model the run delivers, decoded and described."""
    model = trainer.delivered_model
    model.eval()
    with torch.no_grad():
        rgb = trainer.codec.decode(model.swap(trainer.src.latents.to(trainer.device), to_identity).latent)
    return [identity.describe_aligned(face) for face in rgb.clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()]


def mean_distance(descriptors: list[np.ndarray], reference: np.ndarray) -> float:
    return float(np.mean([identity_distance(d, reference) for d in descriptors]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="training steps per model (default 200)")
    parser.add_argument("--resolution", type=int, default=128, help="face size in px (default 128)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 1e-3)")
    parser.add_argument("--layouts", default=TrainOptions.layout,
                        help=f"comma-separated model layouts, each trained with and without VQ (default "
                             f"{TrainOptions.layout}; e.g. df,liae)")
    args = parser.parse_args()
    layouts = [layout.strip() for layout in args.layouts.split(",") if layout.strip()]

    print(f"CPU: {cpu_model()} | torch threads: {torch.get_num_threads()} | torch {torch.__version__} | "
          f"Python {platform.python_version()} | CUDA: {torch.cuda.is_available()}")
    batch = cpu_batch_or(TrainOptions.batch, resolve_device("auto")) or "auto"  # CUDA: measured at start
    print(f"src {', '.join(PEOPLE['src'])} | dst {', '.join(PEOPLE['dst'])} | {args.resolution} px | "
          f"{args.steps} steps, lr {args.lr}, seed {args.seed}, batch {batch}+{batch}, "
          f"preset {TrainOptions.preset}, layouts {', '.join(layouts)}, codec {TrainOptions.codec}")
    identity = DlibIdentity()
    with tempfile.TemporaryDirectory(prefix="identity_leakage_") as folder:
        root = Path(folder)
        facesets = extract_facesets(root, args.resolution)
        faces = {role: faceset_descriptors(identity, path) for role, path in facesets.items()}
        reference = {role: mean_descriptor(descriptors) for role, descriptors in faces.items()}
        own = {role: mean_distance(faces[role], reference[role]) for role in faces}
        print(f"same-person baselines (each faceset's faces to its own mean): src {own['src']:.3f}, dst "
              f"{own['dst']:.3f}; src faces to dst mean {mean_distance(faces['src'], reference['dst']):.3f}; "
              f"dlib's same-person threshold 0.6")
        print()
        header = (f"{'layout':<6} {'bottleneck':<10} {'train s':>7} {'swap->dst: to dst':>17} {'to src':>6} "
                  f"{'nearer dst':>10} {'rec src->src: to src':>20} {'to dst':>6}")
        print(header)
        print("-" * len(header))
        for layout, vq in ((layout, vq) for layout in layouts for vq in (True, False)):
            began = time.perf_counter()
            trainer = Trainer(TrainOptions(src=facesets["src"], dst=facesets["dst"],
                                           output=root / f"model_{layout}_vq{vq}", resolution=args.resolution,
                                           steps=args.steps, lr=args.lr, preview_every=0,
                                           vq=vq, layout=layout, seed=args.seed))
            trainer.run()
            seconds = time.perf_counter() - began
            swapped = rendered_descriptors(identity, trainer, "dst")
            reconstructed = rendered_descriptors(identity, trainer, "src")
            nearer_dst = np.mean([identity_distance(d, reference["dst"]) < identity_distance(d, reference["src"])
                                  for d in swapped])
            print(f"{layout:<6} {'VQ' if vq else 'none':<10} {seconds:>7.1f} "
                  f"{mean_distance(swapped, reference['dst']):>17.3f} "
                  f"{mean_distance(swapped, reference['src']):>6.3f} {nearer_dst:>10.0%} "
                  f"{mean_distance(reconstructed, reference['src']):>20.3f} "
                  f"{mean_distance(reconstructed, reference['dst']):>6.3f}", flush=True)
    print("train s: the Trainer from construction (latent cache encoding included) to the end of run()")


if __name__ == "__main__":
    main()
