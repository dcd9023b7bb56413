"""Swap-model training in TAEF2 latent space against pixel space: step time at 256 and 512 px, memory, latent-cache
cost, and time to the same held-out reconstruction quality at 256 px, in one run.

Both runs are the same model family (``SwapModelConfig.for_codec``, preset ``small``, layout ``df``, VQ on) and the
same Trainer (batch 4 src + 4 dst faces, AdamW at the TrainOptions default lr, the default loss schedule). The
latent model takes TAEF2 latents (32 channels at R/8). The pixel baseline takes the weight-free ``pixel`` codec
(pixel-unshuffle by 2: 12 channels at R/2), so its encoder adds two stride-2 front stages and each decoder two
upscale + residual stages at constant width down to the same bottleneck: a full-resolution pixel-space network
like DeepFaceLab's (whose decoder is wider still at full resolution).

Data: real faces, built as a user would. Short synthetic moving shots (tests/shots.py: a real photo turning,
scaling and travelling across a 1920x1080 plate with lighting drift and sensor noise) are rendered from
obama.jpg (src) and biden2.jpg (dst) and extracted with ``latentswap extract``. Every 4th src frame is held out
of training and extracted into its own faceset: the held-out faces.

1. Step time: for each codec and face size, in a fresh subprocess (so the peak resident memory, ``ru_maxrss``,
   is that configuration's alone), a Trainer is built on the facesets and its own ``_train_step`` is timed for
   both kinds of step: latent-only (masked latent MSE + mask + VQ commitment, and for TAEF2 the decoder-response
   loss) and pixel-loss (every ``pixel_loss_every``-th step: also DSSIM + L1 of ``pixel_loss_samples`` faces per
   identity decoded through the frozen codec). Medians of N after warm-ups (both printed); the schedule-averaged mean is
   ((every - 1) x latent-only + pixel-loss) / every; the ratio pixel/latent compares the means. The latent-cache
   cost is the Trainer's set-up time less its codec + model + optimizer set-up, per face: reading the faceset
   PNGs and encoding them once (for the pixel codec a reshape).
2. Time to quality at 256 px: ``Trainer.run`` for each codec, ``--minutes`` of training for the latent model and
   twice that for the pixel model; every ``--eval-every`` seconds of training the held-out src faces are
   reconstructed as src by the model the run delivers (its weight average, eval mode, no grad) and decoded; PSNR is
   measured inside the face mask (mask-weighted MSE over RGB in [0, 1]), with SSIM of the masked faces and a detail
   ratio (Laplacian energy of the decoded over the real faces: above 1 grain, below 1 blur); at the end, the detail
   ratio of the model's swaps of dst faces, where grain shows first (``--grid PNG`` in a child run writes them). The
   training clock is the sum of the Trainer's step times (evaluation excluded). Printed: the curves, the codec's own
   round trip on the same faces (the latent model's ceiling), the training seconds each model first reaches 16, 17,
   ... dB up to the highest 0.5 dB level both reached (or ``--target-db``), and their ratio (">" where the pixel
   model did not reach it).

The Trainer's augmentation pool (re-encoded moved/recoloured faces, built by a background thread) is off for both
codecs unless ``--augment``: its thread would share the CPU cores with the timed steps.

Run:  .venv/bin/python benchmarks/train_speed.py [--quick] [--minutes M] [--target-db DB] [--data FOLDER] [--batch B]
      [--fp32]
      (--quick: 256 px only, few frames, 1 warm-up + 2 timed steps, 20 s + 40 s of training: a smoke run)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import fields
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LATENTSWAP_SHARED", REPO.parent / "shared"))
os.environ.setdefault("LATENTSWAP_MODELS", str(SHARED / "models"))  # before latentswap_core looks for TAEF2
sys.path.insert(0, str(REPO / "tests"))  # tests/shots.py renders the synthetic shots

import numpy as np  # noqa: E402
import torch  # noqa: E402
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from latentswap_core.codecs import load_codec  # noqa: E402
from latentswap_core.io import Image, write_image  # noqa: E402
from latentswap_core.models import SwapModel, SwapModelConfig  # noqa: E402
from latentswap_core.models.config import PRESETS  # noqa: E402
from latentswap_core.models.swap_model import parameter_count  # noqa: E402
from latentswap_core.train.device_defaults import STEP_MODES, pixel_loss_schedule  # noqa: E402
from latentswap_core.train.latent_cache import load_latents  # noqa: E402
from latentswap_core.train.losses import ssim  # noqa: E402
from latentswap_core.train.precision import bf16_autocast_on, cpu_has_bf16  # noqa: E402
from latentswap_core.train.trainer import StepReport, Trainer, TrainOptions  # noqa: E402

CODECS = ("taef2", "pixel")
# --batch (read early, like --preset): faces per identity per step, both codecs
BATCH = int(sys.argv[sys.argv.index("--batch") + 1]) if "--batch" in sys.argv else 4
LAYOUT, VQ = "df", True
# --preset (read early: child processes get it too): small is the Trainer's default; large has DeepFaceLab's
# default widths (ae_dims 256, e_dims/d_dims 64).
PRESET = sys.argv[sys.argv.index("--preset") + 1] if "--preset" in sys.argv else "small"
HOLD_OUT_EVERY = 4
EXTRACT_SIZE = 512  # the training facesets; the Trainer resizes them for 256 px
# (warm-up latent-only, warm-up pixel-loss, timed per kind) per face size
DEFAULT_STEPS = {256: (2, 1, 5), 512: (1, 1, 7)}  # 3 at 512 px left the pixel step +-10 % between runs
QUICK_STEPS = (1, 1, 2)
# The Trainer's augmentation pool is encoded by a background thread that competes with the timed steps for the
# CPU cores: off (for both codecs) unless --augment.
AUGMENT_OFF = "--augment" not in sys.argv
PASS_ON = [] if AUGMENT_OFF else ["--augment"]
if "--preset" in sys.argv:
    PASS_ON.extend(["--preset", PRESET])
if "--batch" in sys.argv:
    PASS_ON.extend(["--batch", str(BATCH)])


def _schedule_from_argv() -> dict[str, int | bool | str]:
    """--pixel-loss-every K / --pixel-loss-samples N / --no-decoder-response / --fp32 / --step-mode M, read early:
    every child process trains with them too. The step mode is eager unless given (the figures so far are eager's;
    TrainOptions' auto would pick graph on CUDA, whose first steps per kind are warm-up and capture)."""
    schedule: dict[str, int | bool | str] = {"step_mode": "eager"}
    if "--step-mode" in sys.argv:
        schedule["step_mode"] = sys.argv[sys.argv.index("--step-mode") + 1]
        PASS_ON.extend(["--step-mode", str(schedule["step_mode"])])
    for flag, name in (("--no-decoder-response", "decoder_response"), ("--fp32", "cpu_bf16")):
        if flag in sys.argv:
            schedule[name] = False
            PASS_ON.append(flag)
    for flag, name in (("--pixel-loss-every", "pixel_loss_every"), ("--pixel-loss-samples", "pixel_loss_samples")):
        if flag in sys.argv:
            value = sys.argv[sys.argv.index(flag) + 1]
            schedule[name] = int(value)
            PASS_ON.extend([flag, value])
    return schedule


SCHEDULE = _schedule_from_argv()
FRAMES = {"full": (32, 24), "quick": (12, 8)}  # src frames (before the hold-out), dst frames


# --- data ------------------------------------------------------------------------------------------------------
def extract(frames: list[np.ndarray], folder: Path, faceset: Path, size: int) -> int:
    from latentswap_core.faceset import load_faceset

    folder.mkdir(parents=True)
    for number, frame in enumerate(frames, start=1001):
        write_image(folder / f"shot.{number}.png", Image(frame, ("R", "G", "B")))
    done = subprocess.run([sys.executable, "-m", "latentswap_core", "extract", str(folder), "-o", str(faceset),
                           "--size", str(size)], capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        raise SystemExit(f"FAIL: latentswap extract {folder}: {done.stderr.strip()}")
    return len(load_faceset(faceset).faces)


def build_facesets(root: Path, quick: bool) -> dict[str, Path]:
    """src, dst (training) and heldout facesets under ``root`` from synthetic shots of real photos."""
    from shots import drifting_gains, load_photo, moving_poses, render_shot

    src_count, dst_count = FRAMES["quick" if quick else "full"]
    sets = {name: root / name for name in ("src", "dst", "heldout")}
    if all((folder / "faceset.json").is_file() for folder in sets.values()):
        return sets
    shots = {}
    for role, photo, count, seed in (("src", "obama", src_count, 0), ("dst", "biden2", dst_count, 1)):
        poses = [[pose] for pose in moving_poses(count, seed)]
        shots[role] = render_shot([load_photo(photo, SHARED)], poses, drifting_gains(count), 3.0, seed).frames
    src = shots["src"]
    held = [frame for index, frame in enumerate(src) if index % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1]
    train = [frame for index, frame in enumerate(src) if index % HOLD_OUT_EVERY != HOLD_OUT_EVERY - 1]
    counts = {
        "src": extract(train, root / "frames_src", sets["src"], EXTRACT_SIZE),
        "dst": extract(shots["dst"], root / "frames_dst", sets["dst"], EXTRACT_SIZE),
        "heldout": extract(held, root / "frames_heldout", sets["heldout"], 256),
    }
    print(f"facesets: src {counts['src']} faces (obama, {len(train)} frames), dst {counts['dst']} (biden2, "
          f"{len(shots['dst'])} frames), held-out src {counts['heldout']} (every {HOLD_OUT_EVERY}th obama frame), "
          f"extracted at {EXTRACT_SIZE} px (held-out at 256)", flush=True)
    return sets


def trainer_for(sets: dict[str, Path], output: Path, codec: str, size: int, **options) -> Trainer:
    if AUGMENT_OFF and "augment" in {f.name for f in fields(TrainOptions)}:
        options["augment"] = False
    return Trainer(TrainOptions(src=sets["src"], dst=sets["dst"], output=output, codec=codec, resolution=size,
                                preset=PRESET, layout=LAYOUT, vq=VQ, batch=BATCH, steps=10**9, preview_every=0,
                                save_every=0, **{**SCHEDULE, **options}))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# --- 1. step time ----------------------------------------------------------------------------------------------
def run_step_time(sets: dict[str, Path], codec_name: str, size: int, warmup: tuple[int, int], steps: int) -> dict:
    """Time the Trainer's own step for one codec and face size; the figures as a dict."""
    with tempfile.TemporaryDirectory(prefix="train_speed_") as folder:
        began = time.perf_counter()
        trainer = trainer_for(sets, Path(folder) / "model", codec_name, size)
        init_s = time.perf_counter() - began
        began = time.perf_counter()  # the set-up that is not the latent cache, done again to subtract it
        codec = load_codec(codec_name).to(trainer.device)
        config = SwapModelConfig.for_codec(codec, size, layout=LAYOUT, preset=PRESET, vq=VQ)
        model = SwapModel(config).to(trainer.device)
        torch.optim.AdamW(model.parameters(), lr=trainer.options.lr)
        setup_s = time.perf_counter() - began
        gmacs = conv_gmacs_per_face(model, trainer.src.latents[:1].to(trainer.device))
        faces = len(trainer.src) + len(trainer.dst)

        def step(pixel_loss: bool) -> float:
            trainer.step = 0 if pixel_loss else 1  # _train_step adds the pixel loss when step % every == 0
            sync(trainer.device)
            began = time.perf_counter()
            losses = trainer._train_step()
            sync(trainer.device)
            seconds = time.perf_counter() - began
            skipped = {"pixel"} if not pixel_loss else set()  # NaN in the report when not computed
            if trainer.response is None:
                skipped.add("response")
            if not all(math.isfinite(value) for name, value in losses.items() if name not in skipped):
                raise SystemExit(f"FAIL: {codec_name} {size} px step gave non-finite losses {losses}")
            return seconds

        timings = {}
        for (kind, pixel_loss), warm in zip((("latent_only", False), ("pixel_loss", True)), warmup, strict=True):
            for _ in range(warm):
                step(pixel_loss)
            timings[kind] = statistics.median(step(pixel_loss) for _ in range(steps))
    every = trainer.options.pixel_loss_every
    return {
        "codec": codec_name, "size": size, "latent_shape": list(trainer.src.latents.shape[1:]),
        "params_m": parameter_count(trainer.model) / 1e6, "gmacs": gmacs, "steps": steps, "warmup": list(warmup),
        **timings,
        "mean": ((every - 1) * timings["latent_only"] + timings["pixel_loss"]) / every,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,  # KiB on Linux
        "cache_s_per_face": max(0.0, init_s - setup_s) / faces, "faces": faces,
        "cuda_peak_gb": torch.cuda.max_memory_allocated() / 1e9 if trainer.device.type == "cuda" else None,
        "load": os.getloadavg()[0],
    }


def conv_gmacs_per_face(model: SwapModel, latent: torch.Tensor) -> float:
    """Multiply-accumulates (G) of one face's forward through ``model``'s convolutions, reconstructed as src: the
    work a training step repeats about three times per face (forward, backward to inputs and to weights)."""
    macs = []

    def count(module: torch.nn.Conv2d, _inputs, output: torch.Tensor) -> None:
        macs.append(output[0].numel() * module.in_channels // module.groups * math.prod(module.kernel_size))

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        model.eval()  # the VQ codebook is not updated
        with torch.no_grad():
            model.reconstruct(latent, "src")
    finally:
        for hook in hooks:
            hook.remove()
    return sum(macs) / 1e9


# --- 2. time to quality ----------------------------------------------------------------------------------------
def masked_psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    """PSNR (dB) of RGB in [0, 1] inside ``mask`` (mask-weighted MSE over the three channels)."""
    mse = float(((a - b) ** 2 * mask).sum() / (3 * mask.sum()))
    return float("inf") if mse == 0 else -10 * math.log10(mse)


def masked_ssim(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    """SSIM (11 px Gaussian window) of the faces with everything outside ``mask`` set to black."""
    return float(ssim(a * mask, b * mask))


def detail_ratio(decoded: torch.Tensor, real: torch.Tensor, mask: torch.Tensor) -> float:
    """Laplacian energy of the decoded faces over the real faces' inside ``mask``: above 1 the decoded faces carry
    more fine detail than the real ones (grain, streaks), below 1 less (blur)."""
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).expand(3, 1, 3, 3)

    def energy(t: torch.Tensor) -> float:
        return float((torch.nn.functional.conv2d(t, kernel, groups=3) ** 2 * mask[..., 1:-1, 1:-1]).sum())

    return energy(decoded) / energy(real)


def swap_detail_ratio(trainer: Trainer, grid: Path | None, count: int = 8) -> float:
    """The detail ratio of the trained model's swaps of ``count`` dst faces (src's look) against those dst faces:
    grain shows here first, where the src decoder meets dst's codes. ``grid``: also write a PNG of dst | swap."""
    dst = trainer.dst
    faces, masks = dst.faces[:count].float() / 255, dst.masks[:count].float() / 255
    model = trainer.delivered_model
    model.eval()
    with torch.no_grad():
        swapped = trainer.codec.decode(model.swap(dst.latents[:count].to(trainer.device), "src").latent)
    swapped = swapped.float().cpu()
    if grid is not None:
        rows = torch.cat([torch.cat([face, swap], dim=2) for face, swap in zip(faces, swapped, strict=True)], dim=1)
        write_image(grid, Image((rows.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), ("R", "G", "B")))
    return detail_ratio(swapped, faces, masks)


def run_quality(sets: dict[str, Path], codec_name: str, size: int, budget_s: float, eval_every_s: float,
                grid: Path | None = None) -> dict:
    """Train for ``budget_s`` training seconds; the held-out curve (step, training seconds, PSNR dB, SSIM, detail
    ratio)."""
    with tempfile.TemporaryDirectory(prefix="train_quality_") as folder:
        trainer = trainer_for(sets, Path(folder) / "model", codec_name, size)
        held = load_latents(sets["heldout"], trainer.codec, size, Path(folder) / "heldout", "heldout")
        faces, masks = held.faces.float() / 255, held.masks.float() / 255
        latents = held.latents.to(trainer.device)

        def scores(decoded: torch.Tensor) -> tuple[float, float, float]:
            decoded = decoded.float().cpu()
            return (masked_psnr(decoded, faces, masks), masked_ssim(decoded, faces, masks),
                    detail_ratio(decoded, faces, masks))

        with torch.no_grad():
            ceiling = scores(trainer.codec.decode(latents))

        def evaluate() -> tuple[float, float, float]:
            model = trainer.delivered_model  # what the run writes to model/: its weight average
            model.eval()
            try:
                with torch.no_grad():
                    return scores(trainer.codec.decode(model.reconstruct(latents, "src").latent.float()))
            finally:
                trainer.model.train()

        curve = [(0, 0.0, *evaluate())]
        clock = {"train_s": 0.0, "next_eval": eval_every_s}

        def on_step(report: StepReport) -> bool:
            clock["train_s"] += report.seconds
            done = clock["train_s"] >= budget_s
            if clock["train_s"] >= clock["next_eval"] or done:
                clock["next_eval"] += eval_every_s
                curve.append((report.step, clock["train_s"], *evaluate()))
            return done  # True: the Trainer stops after this step

        trainer.run(on_step=on_step)
        swap_detail = swap_detail_ratio(trainer, grid)
    return {"codec": codec_name, "size": size, "curve": curve, "ceiling": ceiling, "train_s": clock["train_s"],
            "swap_detail": swap_detail,
            "heldout_faces": len(held), "steps": curve[-1][0], "load": os.getloadavg()[0]}


def reached(curve: list[list[float]], target_db: float) -> float | None:
    """Training seconds at the first evaluation at or above ``target_db`` (None if never)."""
    return next((seconds for _, seconds, db, *_ in curve if db >= target_db), None)


# --- the run ---------------------------------------------------------------------------------------------------
def child(args: list[str]) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=REPO)
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"FAIL: {' '.join(args)} exited with {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def step_table(sets: dict[str, Path], sizes: tuple[int, ...], quick: bool, steps_override: int | None) -> None:
    header = (f"{'codec':<6} {'face px':>7} {'input shape':>12} {'params M':>8} {'GMAC/face':>9} {'warm':>4} {'N':>2} "
              f"{'latent-only s':>13} {'pixel-loss s':>12} {'mean s':>7} {'peak RSS GB':>11} {'GPU peak GB':>11} "
              f"{'cache s/face':>12} {'load':>4}")
    print(header)
    print("-" * len(header))
    results: dict[tuple[str, int], dict] = {}
    for size in sizes:
        *warmup, steps = QUICK_STEPS if quick else DEFAULT_STEPS[size]
        steps = steps_override or steps
        for codec_name in CODECS:
            r = results[codec_name, size] = child(["--step-time", f"{codec_name},{size}", "--data",
                                                   str(sets["src"].parent), "--steps", str(steps), "--warmup",
                                                   ",".join(map(str, warmup)), *PASS_ON])
            shape = "x".join(str(n) for n in r["latent_shape"])
            gpu_peak = "-" if r["cuda_peak_gb"] is None else f"{r['cuda_peak_gb']:.2f}"
            print(f"{codec_name:<6} {size:>7} {shape:>12} {r['params_m']:>8.2f} {r['gmacs']:>9.3f} "
                  f"{','.join(map(str, warmup)):>4} "
                  f"{r['steps']:>2} {r['latent_only']:>13.3f} {r['pixel_loss']:>12.3f} {r['mean']:>7.3f} "
                  f"{r['peak_rss_gb']:>11.2f} {gpu_peak:>11} {r['cache_s_per_face']:>12.4f} {r['load']:>4.1f}",
                  flush=True)
    print()
    for size in sizes:
        taef2, pixel = results["taef2", size], results["pixel", size]
        print(f"step time at {size} px, pixel/latent: {pixel['mean'] / taef2['mean']:.2f}x (schedule mean: "
              f"{taef2['mean']:.3f} s latent, {pixel['mean']:.3f} s pixel); latent-only steps "
              f"{pixel['latent_only'] / taef2['latent_only']:.2f}x, pixel-loss steps "
              f"{pixel['pixel_loss'] / taef2['pixel_loss']:.2f}x; the models' compute per face "
              f"{pixel['gmacs'] / taef2['gmacs']:.2f}x")
    print("GMAC/face: multiply-accumulates of one face's forward through the swap model's convolutions; where "
          "steps are compute-bound, the step ratio approaches the ratio of these")
    print("load: the 1-minute load average at the end of the configuration (other processes share the cores)")
    print("cache s/face: the Trainer's set-up less codec + model + optimizer set-up, per face of src + dst: reading "
          "the faceset and encoding it once (paid once per face, codec and size)")


def quality_table(sets: dict[str, Path], budgets: dict[str, float], eval_every: float, target_db: float | None) -> None:
    results = {}
    for codec_name in CODECS:
        results[codec_name] = r = child(["--quality", codec_name, "--data", str(sets["src"].parent), "--budget",
                                         str(budgets[codec_name] * 60), "--eval-every", str(eval_every), *PASS_ON])
        points = ", ".join(f"{seconds:.0f}s/{step}:{db:.2f}/{ssim_:.3f}/{detail:.2f}"
                           for step, seconds, db, ssim_, detail in r["curve"])
        db, ssim_, detail = r["ceiling"]
        print(f"{codec_name:<6} {r['steps']} steps in {r['train_s']:.0f} s of training (load avg {r['load']:.1f}), "
              f"codec round trip {db:.2f} dB / SSIM {ssim_:.3f} / detail {detail:.2f} (the ceiling), detail of its "
              f"swaps of dst faces {r['swap_detail']:.2f} | curve (train s/step: dB/SSIM/detail): {points}",
              flush=True)
    taef2, pixel = results["taef2"], results["pixel"]
    best = {name: max(db for _, _, db, *_ in r["curve"]) for name, r in results.items()}
    common = math.floor(min(best.values()) * 2) / 2  # the highest 0.5 dB level both reached
    levels = sorted({*range(16, int(common) + 1), common} | ({target_db} if target_db is not None else set()))
    print(f"best held-out PSNR: taef2 {best['taef2']:.2f} dB, pixel {best['pixel']:.2f} dB (single evaluations are "
          "noisy: +-1-2 dB between neighbours)")
    print(f"{'target dB':>9} {'taef2 s':>8} {'pixel s':>8} {'pixel/latent':>12}")
    for level in levels:
        latent_s, pixel_s = reached(taef2["curve"], level), reached(pixel["curve"], level)
        ratio = ("-" if latent_s is None else f"> {pixel['train_s'] / latent_s:.1f}x" if pixel_s is None
                 else f"{pixel_s / latent_s:.1f}x")
        print(f"{level:>9.1f} {latent_s if latent_s is not None else float('nan'):>8.0f} "
              f"{pixel_s if pixel_s is not None else float('nan'):>8.0f} {ratio:>12}")
    target = target_db if target_db is not None else common
    latent_s, pixel_s = reached(taef2["curve"], target), reached(pixel["curve"], target)
    if latent_s is None:
        print(f"time to {target} dB: the latent model did not reach it: no ratio (lower --target-db)")
    elif pixel_s is None:
        print(f"time to {target} dB, pixel/latent: > {pixel['train_s'] / latent_s:.1f}x "
              "(the pixel model did not reach it within its budget)")
    else:
        print(f"time to {target} dB (the highest level both reached, unless --target-db), pixel/latent: "
              f"{pixel_s / latent_s:.1f}x")

def precision() -> str:
    """How the Trainer computes here (TrainOptions.cpu_bf16 and the device it picks)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if bf16_autocast_on(device, bool(SCHEDULE.get("cpu_bf16", TrainOptions.cpu_bf16))):
        where = "CUDA" if device == "cuda" else "this CPU's native bf16"
        return f"swap model and decoder in bf16 autocast ({where}), weights float32"
    return "float32" + (" (--fp32)" if cpu_has_bf16() else " (no native bf16 on this CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="256 px only, tiny counts: a smoke run")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per kind (default 5 at 256, 7 at 512)")
    parser.add_argument("--minutes", type=float, default=None, help="training budget of the latent model for time "
                        "to quality (default 3; --quick 0.33); the pixel model gets twice as long")
    parser.add_argument("--eval-every", type=float, default=None, help="training seconds between held-out "
                        "evaluations (default 20; --quick 5)")
    parser.add_argument("--target-db", type=float, default=None, help="held-out PSNR to reach (default: the highest "
                        "0.5 dB level both models reached)")
    parser.add_argument("--pixel-loss-every", type=int, default=None, metavar="K",
                        help="both models: pixel-space loss every K steps (default: the Trainer's)")
    parser.add_argument("--pixel-loss-samples", type=int, default=None, metavar="N",
                        help="both models: faces per identity in the pixel-space loss (default: the Trainer's)")
    parser.add_argument("--no-decoder-response", action="store_true",
                        help="both models: no decoder-response loss (TrainOptions.decoder_response off)")
    parser.add_argument("--fp32", action="store_true",
                        help="both models: float32 on a CPU with native bf16 too (TrainOptions.cpu_bf16 off)")
    parser.add_argument("--step-mode", default="eager", choices=STEP_MODES,
                        help="the Trainer's --step-mode for both codecs (default here: eager, the figures so far)")
    parser.add_argument("--data", default=None, help="keep the rendered shots and facesets in this folder (reused)")
    parser.add_argument("--augment", action="store_true", help="keep the Trainer's augmentation pool on")
    parser.add_argument("--skip-steps", action="store_true", help="only the time-to-quality part")
    parser.add_argument("--skip-quality", action="store_true", help="only the step-time part")
    parser.add_argument("--batch", type=int, default=4, help="faces per identity per step, both codecs (default 4)")
    parser.add_argument("--preset", default="small", choices=tuple(PRESETS),
                        help="model width for both codecs (default: small, the Trainer's default)")
    parser.add_argument("--step-time", default=None, help=argparse.SUPPRESS)  # "codec,px": one configuration
    parser.add_argument("--quality", default=None, help=argparse.SUPPRESS)  # codec: one time-to-quality run
    parser.add_argument("--warmup", default="1,1", help=argparse.SUPPRESS)
    parser.add_argument("--budget", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--grid", default=None, help=argparse.SUPPRESS)  # a PNG of dst | swap faces
    args = parser.parse_args()
    minutes = args.minutes if args.minutes is not None else (0.33 if args.quick else 3.0)
    eval_every = args.eval_every if args.eval_every is not None else (5.0 if args.quick else 15.0)

    if args.step_time or args.quality:
        sets = {name: Path(args.data) / name for name in ("src", "dst", "heldout")}
        if args.step_time:
            codec_name, size = args.step_time.split(",")
            warmup = tuple(int(n) for n in args.warmup.split(","))
            result = run_step_time(sets, codec_name, int(size), warmup, args.steps)
        else:
            result = run_quality(sets, args.quality, 256, args.budget, eval_every,
                                 Path(args.grid) if args.grid else None)
        print(json.dumps(result))
        return

    print(f"CPU: {cpu_model()} | torch threads: {torch.get_num_threads()} | torch {torch.__version__} | "
          f"Python {platform.python_version()} | GPU: "
          f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}")
    schedule = pixel_loss_schedule("cuda" if torch.cuda.is_available() else "cpu")  # the device's, unless given
    print(f"batch {BATCH}+{BATCH} (src + dst per step), preset {PRESET}, layout {LAYOUT}, VQ {'on' if VQ else 'off'}, "
          f"AdamW lr {TrainOptions.lr} (both codecs), pixel loss on "
          f"{SCHEDULE.get('pixel_loss_samples', schedule.samples)} faces per identity (at most the batch) every "
          f"{SCHEDULE.get('pixel_loss_every', schedule.every)} steps, step mode {SCHEDULE['step_mode']}, "
          f"augmentation pool {'off' if AUGMENT_OFF else 'on'}, {precision()}")
    with tempfile.TemporaryDirectory(prefix="train_speed_data_") as temporary:
        root = Path(args.data) if args.data else Path(temporary)
        began = time.perf_counter()
        sets = build_facesets(root, args.quick)
        print(f"data ready in {time.perf_counter() - began:.0f} s", flush=True)
        if not args.skip_steps:
            print("\n1. step time: each configuration in a fresh process; warm-up steps (latent-only,pixel-loss), "
                  "then the median of N timed steps of each kind")
            step_table(sets, (256,) if args.quick else (256, 512), args.quick, args.steps)
        if args.skip_quality:
            return
        budgets = {"taef2": minutes, "pixel": 2 * minutes}
        print(f"\n2. time to quality at 256 px: held-out src reconstruction PSNR inside the face mask, evaluated every "
              f"{eval_every:.0f} s of training (evaluation not counted); {budgets['taef2']} min of training for the "
              f"latent model, {budgets['pixel']} min for the pixel model")
        quality_table(sets, budgets, eval_every, args.target_db)


if __name__ == "__main__":
    main()
