"""Training step time of the swap model in TAEF2 latent space against pixel space, at 256 and 512 px, in one run.

The same model family (``SwapModelConfig.for_codec``, preset ``small``, layout ``df``, VQ on) is built for the
TAEF2 codec (32 channels at 1/8 resolution) and for the weight-free ``pixel`` codec (pixel-unshuffle into 192
channels at 1/8: plain pixel-space training, the DeepFaceLab-equivalent baseline). Each step is the Trainer's
own ``_train_step`` (a ``Trainer`` set up without facesets: batch 4 src + 4 dst faces, random flips, AdamW at
lr 5e-4): masked latent MSE + mask loss + VQ commitment on every step, and on every ``pixel_loss_every``-th
step (1 in 4) also DSSIM + L1 of ``pixel_loss_samples`` (2) faces per identity decoded through the frozen
codec. Both kinds of step are timed (median of N after warm-up;
N and the warm-ups are printed) and the schedule-averaged mean is
(3 latent-only + 1 pixel-loss) / 4. The ratio pixel/latent compares the mean steps.

Faces are a real photo, ``$LATENTSWAP_SHARED/data/faces/obama.jpg`` (default ``<repo>/../shared``), cropped
square and resized to the face size; the 4 faces of a faceset are it, its mirror and both shifted by a few
pixels; masks are a filled ellipse. Their latents are encoded once, as the latent cache would; the seconds to
encode one face (the first call, once) are printed as the cache cost. Each configuration runs in a fresh
subprocess of this script (``--one codec,px``) so that the peak resident memory (``ru_maxrss``) of one does not
include another's.

Run:  .venv/bin/python benchmarks/train_speed.py [--steps N] [--quick]
      (--quick: 256 px only, 1 warm-up step per kind, 2 timed)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LATENTSWAP_SHARED", REPO.parent / "shared"))
os.environ.setdefault("LATENTSWAP_MODELS", str(SHARED / "models"))  # before latentswap_core looks for TAEF2

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from latentswap_core.codecs import load_codec  # noqa: E402
from latentswap_core.io import read_image  # noqa: E402
from latentswap_core.models import SwapModel, SwapModelConfig  # noqa: E402
from latentswap_core.models.swap_model import parameter_count  # noqa: E402
from latentswap_core.train.latent_cache import FaceLatents  # noqa: E402
from latentswap_core.train.trainer import Trainer, TrainOptions  # noqa: E402

CODECS = ("taef2", "pixel")
BATCH = 4
PRESET, LAYOUT, VQ = "small", "df", True
# (warm-up latent-only, warm-up pixel-loss, timed) steps per face size. On 2 CPU cores a TAEF2 pixel-loss step at
# 512 px (backward through the decoder at full resolution) takes ~10 s, so 512 px times fewer of them.
DEFAULT_STEPS = {256: (2, 2, 5), 512: (2, 1, 3)}
QUICK_STEPS = (1, 1, 2)


def faces(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """4 RGB faces ``4 x 3 x S x S`` in [0, 1] from one photo (as is, mirrored, shifted) and 4 ellipse masks."""
    photo = read_image(SHARED / "data" / "faces" / "obama.jpg").rgb_float()
    side = min(photo.shape[:2])
    top, left = (photo.shape[0] - side) // 2, (photo.shape[1] - side) // 2
    face = np.clip(cv2.resize(photo[top:top + side, left:left + side], (size, size), interpolation=cv2.INTER_AREA),
                   0, 1)
    shift = max(1, size // 64)
    variants = [face, face[:, ::-1], np.roll(face, shift, axis=1), np.roll(face[:, ::-1], -shift, axis=0)]
    mask = np.zeros((size, size), np.float32)
    cv2.ellipse(mask, (size // 2, size // 2), (int(size * 0.36), int(size * 0.46)), 0, 0, 360, 1.0, -1)
    rgb = torch.from_numpy(np.ascontiguousarray(np.stack(variants))).permute(0, 3, 1, 2).contiguous().float()
    return rgb, torch.from_numpy(mask)[None, None].expand(len(variants), 1, size, size).contiguous()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_one(codec_name: str, size: int, warmup: tuple[int, int], steps: int) -> dict:
    """Time the Trainer's own step for one codec and face size; the figures as a dict."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with tempfile.TemporaryDirectory(prefix="train_speed_") as folder:
        options = TrainOptions(src=folder, dst=folder, output=folder, codec=codec_name, resolution=size,
                               preset=PRESET, layout=LAYOUT, vq=VQ, steps=1, batch=BATCH)
    codec = load_codec(codec_name).to(device)
    rgb, mask = faces(size)

    with torch.no_grad():  # the latent cache's cost: one face, encoded once (the first call)
        sync(device)
        began = time.perf_counter()
        codec.encode(rgb[:1]).float()
        sync(device)
        encode_one = time.perf_counter() - began
        latents = codec.encode(rgb).float().cpu()
    data = FaceLatents(
        latents=latents.contiguous(),
        latent_masks=torch.nn.functional.interpolate(mask, size=latents.shape[-2:], mode="area").contiguous(),
        faces=(rgb * 255).round().to(torch.uint8),
        masks=(mask * 255).round().to(torch.uint8),
    )

    # A Trainer without facesets or a model folder: the attributes its __init__ would set, then its own step.
    torch.manual_seed(options.seed)
    trainer = Trainer.__new__(Trainer)
    trainer.options, trainer.device, trainer.codec = options, device, codec
    config = SwapModelConfig.for_codec(codec, size, layout=LAYOUT, preset=PRESET, vq=VQ)
    trainer.model = SwapModel(config).to(device).train()
    trainer.optimizer = torch.optim.AdamW(trainer.model.parameters(), lr=options.lr)
    trainer.sampler = torch.Generator().manual_seed(options.seed)
    trainer.src, trainer.dst = data, data
    trainer.step = 0

    def step(pixel_loss: bool) -> float:
        # _train_step adds the pixel loss when step % pixel_loss_every == 0.
        trainer.step = 0 if pixel_loss else 1
        sync(device)
        began = time.perf_counter()
        losses = trainer._train_step()
        sync(device)
        seconds = time.perf_counter() - began
        if not all(np.isfinite(value) for name, value in losses.items() if name != "pixel" or pixel_loss):
            raise SystemExit(f"FAIL: {codec_name} {size} px step gave non-finite losses {losses}")
        return seconds

    timings = {}
    for (kind, pixel_loss), warm in zip((("latent_only", False), ("pixel_loss", True)), warmup, strict=True):
        for _ in range(warm):
            step(pixel_loss)
        timings[kind] = statistics.median(step(pixel_loss) for _ in range(steps))
    every = options.pixel_loss_every
    mean = ((every - 1) * timings["latent_only"] + timings["pixel_loss"]) / every
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # KiB on Linux
    return {
        "codec": codec_name, "size": size, "latent_shape": list(latents.shape[1:]),
        "params_m": parameter_count(trainer.model) / 1e6, "steps": steps, "warmup": warmup,
        **timings, "mean": mean, "pixel_loss_every": every, "pixel_loss_samples": options.pixel_loss_samples,
        "peak_rss_gb": peak_gb, "encode_one_s": encode_one, "threads": torch.get_num_threads(),
        "device": str(device),
        "cuda_peak_gb": torch.cuda.max_memory_allocated() / 1e9 if device.type == "cuda" else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="timed steps per kind (default 5 at 256, 3 at 512)")
    parser.add_argument("--quick", action="store_true", help="256 px only, 1 warm-up step, 2 timed")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # "codec,px": one configuration, JSON out
    parser.add_argument("--warmup", default="1,1", help=argparse.SUPPRESS)  # latent-only,pixel-loss warm-ups
    args = parser.parse_args()

    if args.one:
        codec_name, size = args.one.split(",")
        warmup = tuple(int(n) for n in args.warmup.split(","))
        print(json.dumps(run_one(codec_name, int(size), warmup, args.steps or DEFAULT_STEPS[int(size)][2])))
        return

    sizes = (256,) if args.quick else (256, 512)
    print(f"CPU: {cpu_model()} | torch threads: {torch.get_num_threads()} | torch {torch.__version__} | "
          f"Python {platform.python_version()} | CUDA: {torch.cuda.is_available()}")
    print(f"batch {BATCH}+{BATCH} (src + dst per step), preset {PRESET}, layout {LAYOUT}, VQ {'on' if VQ else 'off'}, "
          f"AdamW lr {TrainOptions.lr}, pixel loss on {TrainOptions.pixel_loss_samples} faces per identity "
          f"every {TrainOptions.pixel_loss_every} steps")
    print("each configuration in a fresh process; warm-up steps (latent-only,pixel-loss) then the median of N timed "
          "steps of each kind; the pixel-loss steps follow the latent-only ones in the same process")
    print()
    header = (f"{'codec':<6} {'face px':>7} {'latent shape':>13} {'params M':>8} {'warm':>4} {'N':>2} "
              f"{'latent-only s':>13} {'pixel-loss s':>12} {'mean s (1/4)':>12} {'peak RSS GB':>11} "
              f"{'encode 1 face s':>15}")
    print(header)
    print("-" * len(header))
    results: dict[tuple[str, int], dict] = {}
    for size in sizes:
        *warmup, steps = QUICK_STEPS if args.quick else DEFAULT_STEPS[size]
        steps = args.steps or steps
        for codec_name in CODECS:
            command = [sys.executable, __file__, "--one", f"{codec_name},{size}", "--steps", str(steps),
                       "--warmup", ",".join(map(str, warmup))]
            done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
            if done.returncode:
                sys.stderr.write(done.stdout + done.stderr)
                raise SystemExit(f"FAIL: {codec_name} at {size} px exited with {done.returncode}")
            r = results[codec_name, size] = json.loads(done.stdout.strip().splitlines()[-1])
            shape = "x".join(str(n) for n in r["latent_shape"])
            print(f"{codec_name:<6} {size:>7} {shape:>13} {r['params_m']:>8.2f} {','.join(map(str, warmup)):>4} "
                  f"{r['steps']:>2} {r['latent_only']:>13.3f} {r['pixel_loss']:>12.3f} {r['mean']:>12.3f} "
                  f"{r['peak_rss_gb']:>11.2f} {r['encode_one_s']:>15.4f}", flush=True)
    print()
    for size in sizes:
        taef2, pixel = results["taef2", size], results["pixel", size]
        print(f"ratio pixel/latent at {size}: {pixel['mean'] / taef2['mean']:.1f}x (mean step); "
              f"latent-only {pixel['latent_only'] / taef2['latent_only']:.1f}x, "
              f"pixel-loss {pixel['pixel_loss'] / taef2['pixel_loss']:.1f}x")
    print("encode 1 face s: the latent cache's cost, the first encode of one face, paid once per face per codec "
          "and size (pixel: a reshape)")


if __name__ == "__main__":
    main()
