"""What the Trainer's augmentation costs per training step, against augmenting in pixel space every step.

The Trainer encodes each faceset through the frozen TAEF2 codec once (the latent cache). Augmentation keeps that
saving in two ways (latentswap_core/train/augment.py): DeepFaceLab's random warp applied to the model's input
latents (``random_latent_warp``, no codec call), and per identity an ``AugmentedPool`` of ``augment_pool`` moved and
recoloured faces re-encoded on a background thread, a new generation every ``augment_refresh`` steps, of which
``augment_share`` of each batch is drawn. The naive alternative augments the batch's faces in pixel space and
encodes them at every step.

Data: real photos (obama.jpg, obama2.jpg, obama3.jpg as src; biden.jpg, biden2.jpg as dst) extracted into facesets
with ``latentswap extract --size SIZE``, as a user would. Every configuration is a real ``Trainer`` (preset small,
layout df, VQ on, batch 4 + 4, pixel loss every 4th step on 2 faces per identity) whose own ``_train_step`` is
timed; ``trainer.step`` is set before each timed step to choose its kind (the pixel loss is added when
``step % pixel_loss_every == 0``).

a. none: ``augment=False``. Median latent-only step, median pixel-loss step, schedule mean
   ((every - 1) x latent-only + pixel-loss) / every.
b. pool + warp: ``augment=True`` with the default pool (16 faces, refresh 100, share 0.5). The same medians for
   steps that do not wait for a generation (the pools' generations 0 and 1 are finished before timing, and the
   steps stay inside generation 0, so no background thread runs while they are timed). One generation's cost is
   timed on the main thread with nothing else running (``make_generation``, both identities' pools); amortised
   mean = schedule mean + generation / refresh.
   The background thread competes with the steps for the same CPU cores, so the estimate is checked: blocks of
   consecutive steps of a Trainer with a short refresh (default 10, a generation every 10 steps) are timed
   against the same number of steps without augmentation (same step numbers, so the same pixel-loss schedule).
   Each augmented block starts with its first generation ready and ends after the generation it prefetched has
   finished (that wait is counted, so each block pays for blocks / refresh generations); the overhead measured
   is printed beside the one the amortised estimate predicts. The pools' own ``encode_seconds / generated``
   during these blocks (encoded while competing with the steps) is printed too.
c. naive: per step, the batch's 4 + 4 faces (random picks from each faceset) moved and recoloured with
   ``augment_faces`` and encoded with the codec (no grad), one call per identity, timed alone; naive mean step =
   (a)'s schedule mean + that time.
d. ``random_latent_warp`` alone on a batch of 4 latents: time per call (mean over a burst of calls).

Also printed: the latent cache's one-off cost per face (``load_latents`` into a fresh cache folder: reading the
faceset PNGs and encoding them), and the ratios naive / pool (amortised) and pool (amortised) / none.
Measurements of the different configurations are interleaved round by round (other work shares the machine):
medians over rounds. Torch uses its default thread count (printed).

Run:  .venv/bin/python benchmarks/augment_cost.py [--quick] [--size PX] [--rounds N] [--block N] [--blocks N]
      (default: about 8 minutes on 2 CPU cores; --quick: about 1-2 minutes, a smoke run)
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
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

import torch  # noqa: E402
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from latentswap_core.train.augment import augment_faces, random_latent_warp  # noqa: E402
from latentswap_core.train.latent_cache import FaceLatents, load_latents  # noqa: E402
from latentswap_core.train.trainer import Trainer, TrainOptions  # noqa: E402

PHOTOS = {"src": ("obama.jpg", "obama2.jpg", "obama3.jpg"), "dst": ("biden.jpg", "biden2.jpg")}
PRESET, LAYOUT, VQ, BATCH, PIXEL_EVERY = "small", "df", True, 4, 4
WARP_BURST = 50  # random_latent_warp calls per timed burst
# (rounds of interleaved step timings, consecutive steps per wall-time block, blocks per configuration)
DEFAULT_COUNTS, QUICK_COUNTS = (5, 40, 2), (2, 20, 1)


# --- data ------------------------------------------------------------------------------------------------------
def build_facesets(root: Path, size: int) -> dict[str, Path]:
    """src and dst facesets under ``root``, extracted from the shared photos with the CLI."""
    sets = {}
    for role, names in PHOTOS.items():
        photos = root / f"photos_{role}"
        photos.mkdir(parents=True)
        for name in names:
            shutil.copy(SHARED / "data" / "faces" / name, photos / name)
        sets[role] = root / role
        done = subprocess.run([sys.executable, "-m", "latentswap_core", "extract", str(photos), "-o", str(sets[role]),
                               "--size", str(size)], capture_output=True, text=True, cwd=REPO)
        if done.returncode:
            raise SystemExit(f"FAIL: latentswap extract {photos}: {done.stderr.strip()}")
    return sets


def make_trainer(sets: dict[str, Path], output: Path, size: int, **augment) -> Trainer:
    return Trainer(TrainOptions(src=sets["src"], dst=sets["dst"], output=output, resolution=size, preset=PRESET,
                                layout=LAYOUT, vq=VQ, batch=BATCH, steps=10**9, preview_every=0, save_every=0,
                                pixel_loss_every=PIXEL_EVERY, **augment))


# --- timing helpers --------------------------------------------------------------------------------------------
def timed_step(trainer: Trainer, step: int | None = None) -> float:
    """One ``_train_step`` (at ``step`` when given), in seconds; fails on non-finite losses."""
    if step is not None:
        trainer.step = step
    pixel_step = trainer.step % PIXEL_EVERY == 0
    began = time.perf_counter()
    losses = trainer._train_step()
    seconds = time.perf_counter() - began
    if not all(math.isfinite(value) for name, value in losses.items() if name != "pixel" or pixel_step):
        raise SystemExit(f"FAIL: step {trainer.step - 1} gave non-finite losses {losses}")
    return seconds


def drain(trainer: Trainer) -> float:
    """Wait for every generation the trainer's pools have started; the seconds waited."""
    began = time.perf_counter()
    for pool in trainer._pools.values():
        for future in list(pool._pending.values()):
            future.result()
    return time.perf_counter() - began


def naive_encode(trainer: Trainer, generator: torch.Generator) -> float:
    """Seconds to move/recolour a batch of faces per identity in pixel space and encode them, as a naive step would."""
    began = time.perf_counter()
    with torch.no_grad():
        for data in (trainer.src, trainer.dst):
            picks = torch.randint(len(data), (BATCH,), generator=generator)
            rgb = data.faces[picks].float() / 255
            masks = torch.cat([data.masks[picks], data.priority[picks]], dim=1).float() / 255
            rgb, _ = augment_faces(rgb, masks, generator, trainer.augment_settings)
            trainer.codec.encode(rgb.to(trainer.device)).float().cpu()
    return time.perf_counter() - began


def warp_call(latents: FaceLatents, generator: torch.Generator, amplitude: float) -> float:
    """Mean seconds per ``random_latent_warp`` call on a batch of ``BATCH`` latents (a burst of calls)."""
    batch = latents.latents[torch.randint(len(latents), (BATCH,), generator=generator)]
    began = time.perf_counter()
    for _ in range(WARP_BURST):
        random_latent_warp(batch, generator, amplitude)
    return (time.perf_counter() - began) / WARP_BURST


def cache_cost(trainer: Trainer, sets: dict[str, Path], size: int, folder: Path) -> float:
    """Seconds per face to build the latent cache of both facesets from scratch (read PNGs + encode once)."""
    if folder.exists():
        shutil.rmtree(folder)
    began = time.perf_counter()
    faces = sum(len(load_latents(sets[role], trainer.codec, size, folder, role)) for role in ("src", "dst"))
    return (time.perf_counter() - began) / faces


def median(values: list[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


# --- the run ---------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds and short blocks: a smoke run (1-2 min)")
    parser.add_argument("--size", type=int, default=256, help="face size in pixels (extract and train; default 256)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds of step timings (default 5)")
    parser.add_argument("--block", type=int, default=None, help="consecutive steps per wall-time block (default 40)")
    parser.add_argument("--blocks", type=int, default=None, help="wall-time blocks per configuration (default 2)")
    parser.add_argument("--short-refresh", type=int, default=10, help="augment_refresh of the wall-time check")
    args = parser.parse_args()
    counts = QUICK_COUNTS if args.quick else DEFAULT_COUNTS
    rounds = args.rounds or counts[0]
    block = args.block or counts[1]
    blocks = args.blocks or counts[2]
    defaults = {field.name: field.default for field in fields(TrainOptions)}  # options validate a run's length
    refresh, pool_size, share = defaults["augment_refresh"], defaults["augment_pool"], defaults["augment_share"]

    print(f"CPU: {cpu_model()} ({os.cpu_count()} cores) | torch threads: {torch.get_num_threads()} | torch "
          f"{torch.__version__} | Python {platform.python_version()} | load average {os.getloadavg()[0]:.1f}")
    print(f"{args.size} px faces, TAEF2 codec, preset {PRESET}, layout {LAYOUT}, VQ {'on' if VQ else 'off'}, batch "
          f"{BATCH}+{BATCH}, pixel loss every {PIXEL_EVERY} steps on {defaults.pixel_loss_samples} faces per identity; "
          f"pool {pool_size} faces per identity, refresh {refresh}, share {share}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="augment_cost_") as temporary:
        root = Path(temporary)
        sets = build_facesets(root / "data", args.size)
        none = make_trainer(sets, root / "none", args.size, augment=False)
        pool = make_trainer(sets, root / "pool", args.size, augment=True)
        fast = make_trainer(sets, root / "fast", args.size, augment=True, augment_refresh=args.short_refresh)
        try:
            print(f"facesets: src {len(none.src)} faces, dst {len(none.dst)} faces; latent "
                  f"{tuple(none.src.latents.shape[1:])}; set-up {time.perf_counter() - started:.0f} s", flush=True)
            report(run_all(none, pool, fast, sets, args.size, root, rounds, block, blocks, args.short_refresh),
                   refresh, args.short_refresh, block)
        finally:
            for trainer in (none, pool, fast):
                trainer.close()
    print(f"total {time.perf_counter() - started:.0f} s")


def run_all(none: Trainer, pool: Trainer, fast: Trainer, sets: dict[str, Path], size: int, root: Path,
            rounds: int, block: int, blocks: int, short_refresh: int) -> dict:
    generator = torch.Generator().manual_seed(0)
    amplitude = pool.augment_settings.warp
    # warm-up: both kinds of step for each trainer; the pools' generations 0 and 1 are then made and finished
    for trainer in (none, pool, fast):
        timed_step(trainer, 0)
        timed_step(trainer, 1)
        drain(trainer)
    naive_encode(none, generator)
    warp_call(none.src, generator, amplitude)

    results: dict[str, list[float]] = {key: [] for key in ("none_latent", "none_pixel", "pool_latent", "pool_pixel",
                                                           "naive", "warp", "generation", "cache")}
    pools = list(pool._pools.values())
    measurements = [
        ("none_latent", lambda: timed_step(none, 1)),
        ("none_pixel", lambda: timed_step(none, PIXEL_EVERY)),
        # inside generation 0 of the default refresh, with generations 0 and 1 finished: no waiting, no thread
        ("pool_latent", lambda: timed_step(pool, 1)),
        ("pool_pixel", lambda: timed_step(pool, PIXEL_EVERY)),
        ("naive", lambda: naive_encode(none, generator)),
        ("warp", lambda: warp_call(none.src, generator, amplitude)),
        ("generation", lambda: sum(timed_generation(each, 1000 + len(results["generation"])) for each in pools)),
        ("cache", lambda: cache_cost(none, sets, size, root / "cache_check")),
    ]
    print(f"step timings: {rounds} interleaved rounds", flush=True)
    for number in range(rounds):
        shift = number % len(measurements)  # rotate the order so no configuration always follows the same one
        for key, measure in measurements[shift:] + measurements[:shift]:
            results[key].append(measure())
            if pool._pools and any(not f.done() for p in pool._pools.values() for f in p._pending.values()):
                raise SystemExit("FAIL: the default-refresh pool started a generation during the timed steps")

    # wall time of consecutive steps: a generation every short_refresh steps in the background, against none
    walls: dict[str, list[float]] = {"none": [], "fast": [], "fast_drain": []}
    fast.step = short_refresh  # a generation boundary; generation 1 is ready (drained in the warm-up)
    background = [(p.encode_seconds, p.generated) for p in fast._pools.values()]
    print(f"wall time: {blocks} block(s) of {block} consecutive steps per configuration", flush=True)
    for number in range(blocks):
        order = (("none", none), ("fast", fast)) if number % 2 == 0 else (("fast", fast), ("none", none))
        start_step = fast.step
        for name, trainer in order:
            trainer.step = start_step
            began = time.perf_counter()
            for _ in range(block):
                timed_step(trainer)
            walls[name].append(time.perf_counter() - began)
            if name == "fast":
                walls["fast_drain"].append(walls["fast"][-1] + drain(fast))
        # the next block starts at a generation boundary whose generation is ready
        fast.step = -(-fast.step // short_refresh) * short_refresh
        drain(fast)
    contended = [(p.encode_seconds - seconds, p.generated - made)
                 for p, (seconds, made) in zip(fast._pools.values(), background, strict=True)]
    return {"results": results, "walls": walls, "contended": contended}


def timed_generation(pool, generation: int) -> float:
    """Seconds to make one generation of ``pool`` on the calling thread (nothing else running)."""
    began = time.perf_counter()
    pool.make_generation(generation)
    return time.perf_counter() - began


def report(figures: dict, refresh: int, short_refresh: int, block: int) -> None:
    r = {key: median(values) for key, values in figures["results"].items()}
    every = PIXEL_EVERY

    def schedule(latent: float, pixel: float) -> float:
        return ((every - 1) * latent + pixel) / every

    none_mean = schedule(r["none_latent"], r["none_pixel"])
    pool_mean = schedule(r["pool_latent"], r["pool_pixel"])
    pool_amortised = pool_mean + r["generation"] / refresh
    naive_mean = none_mean + r["naive"]
    rounds = len(figures["results"]["none_latent"])
    print(f"\nmedians of {rounds} rounds (generation: both identities' pools, made on the main thread alone)")
    print(f"{'configuration':<34}{'latent-only':>12}{'pixel-loss':>12}{'sched. mean':>12}{'extra/step':>12}"
          f"{'mean step':>12}")
    print(f"{'a. none':<34}{ms(r['none_latent']):>12}{ms(r['none_pixel']):>12}{ms(none_mean):>12}{'-':>12}"
          f"{ms(none_mean):>12}")
    print(f"{f'b. pool + warp (refresh {refresh})':<34}{ms(r['pool_latent']):>12}{ms(r['pool_pixel']):>12}"
          f"{ms(pool_mean):>12}{ms(r['generation'] / refresh):>12}{ms(pool_amortised):>12}")
    print(f"{'c. naive (augment + encode 4+4)':<34}{'':>12}{'':>12}{ms(none_mean):>12}{ms(r['naive']):>12}"
          f"{ms(naive_mean):>12}")
    print(f"d. random_latent_warp, batch of {BATCH} latents: {r['warp'] * 1e6:.0f} us per call "
          f"(x2 identities per step: {2 * r['warp'] / none_mean:.2%} of a mean step)")
    print(f"one pool generation (src + dst pools): {ms(r['generation']).strip()}; naive encode of 4+4 faces per "
          f"step: {ms(r['naive']).strip()}")
    print(f"latent cache, one-off: {ms(r['cache']).strip()} per face (read the faceset PNGs + encode once)")
    print(f"ratios: naive / pool (amortised) {naive_mean / pool_amortised:.2f}x; pool (amortised) / none "
          f"{pool_amortised / none_mean:.3f}x; pool (no generation) / none {pool_mean / none_mean:.3f}x")

    walls = figures["walls"]
    none_wall, fast_wall, drained = (median(walls[key]) for key in ("none", "fast", "fast_drain"))
    generations = block / short_refresh
    predicted = (pool_mean - none_mean) * block + generations * r["generation"]
    contended = figures["contended"]
    made = min(count for _, count in contended)
    per_generation = sum(seconds / count for seconds, count in contended if count) if made else float("nan")
    print(f"\nwall time of {block} consecutive steps (median of {len(walls['none'])} block(s)), the pool making a "
          f"generation every {short_refresh} steps on its background thread, sharing the {os.cpu_count()} cores:")
    print(f"  none {none_wall:.1f} s; pool + warp {fast_wall:.1f} s, {drained:.1f} s with the last prefetched "
          f"generation finished")
    print(f"  measured overhead: {fast_wall - none_wall:+.1f} s ({(fast_wall / none_wall - 1):+.1%}); with the "
          f"finish: {drained - none_wall:+.1f} s ({(drained / none_wall - 1):+.1%}); predicted from the amortised "
          f"estimate ({generations:g} generations): {predicted:+.1f} s ({predicted / none_wall:+.1%})")
    print(f"  one generation encoded in the background while steps ran (encode_seconds / generated, src + dst): "
          f"{ms(per_generation).strip()} (alone: {ms(r['generation']).strip()})")


if __name__ == "__main__":
    main()
