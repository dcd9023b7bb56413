"""Swap-model training in TAEF2 latent space against pixel space, on the device it runs on: per configuration the
step time, faces per second, achieved TFLOP/s, the share of the step the GPU is busy and peak memory; then time to
quality at 512 px. One command, with a time budget per configuration and the run's total printed.

Both codecs train the same model family (``SwapModelConfig.for_codec``, layout ``df``, VQ on) with the same Trainer
(AdamW at the TrainOptions default lr, the Trainer's default loss schedule for the device). The latent model takes
TAEF2 latents (32 channels at R/8). The pixel baseline takes the weight-free ``pixel`` codec (pixel-unshuffle by 2:
12 channels at R/2), so its encoder adds two stride-2 front stages and each decoder two upscale + residual stages
down to the same bottleneck: a full-resolution pixel-space network like DeepFaceLab's. Preset ``dfl`` has
DeepFaceLab SAEHD's widths (ae_dims 256, e_dims 64, decoder 2 x d_dims at full resolution, d_mask_dims 22): what a
user would otherwise train; ``small`` is the Trainer's default.

Data: real faces, built as a user would. Short synthetic moving shots (``latentswap_core.demo.shot``: a real photo
turning, scaling and travelling across a 1920x1080 plate with lighting drift and sensor noise) are rendered from
obama.jpg (src) and biden2.jpg (dst), tracked (``latentswap track``) and extracted with ``latentswap extract
--track`` at 512 px (the Trainer resizes them for 256 and 1024 px: speed does not depend on content). Every 4th src
frame is held out of training: the held-out faces. ``--tracks DIR`` keeps the track files there and reuses them, so a
machine without mediapipe (an offline GPU machine) renders the same shots and extracts them with no face detector.

1. Step table: for each codec x face size (256, 512, 1024) x preset (small, dfl), a Trainer is built on the
   facesets and ``Trainer.run`` is driven through ``gpu_measure.measure_steps``: two steps under
   ``FlopCounterMode`` (the schedule's step 0 has the decoded pixel loss, step 1 not; they are also warm-up), two
   more warm-up steps, then a timed window of up to ``--steps`` steps or ``--timed-seconds`` (CUDA events on a GPU),
   then on a GPU a window of steps under ``torch.profiler`` for the busy share. Figures are the timed window's: step
   time (its mean; "timed" says how many of its steps had the pixel loss), faces per second (2 x batch per step),
   GFLOP per step and achieved TFLOP/s (each window step counted as its kind was), GPU busy (merged kernel time over
   the profiled window's CUDA-event time; n/a on the CPU), peak memory (GPU: tensors allocated during the steps;
   CPU: the process's peak RSS, set-up included). On a GPU one worker process runs every configuration (peak memory
   reset for each); on the CPU each runs in a process of its own (peak RSS is per process) under a host-memory limit
   (``--cpu-memory-gb``). An out-of-memory is a row ("OOM"), as is a configuration over its time budget
   (``--config-timeout``: "timeout") or past the run's (``--budget``: "skipped"); a worker that dies is replaced.
2. Time to quality at 512 px: ``Trainer.run`` for each codec, both for the same ``--minutes`` of training (the sum
   of the Trainer's step times; evaluation excluded), the latent model at ``--quality-latent-preset`` (default
   dfl, the same widths) against the pixel model at dfl. Every ``--eval-every`` training seconds the held-out src
   faces are reconstructed by the model the run delivers (its weight average, eval mode) and decoded: SSIM of the
   masked faces, PSNR inside the mask, and the detail ratio (Laplacian energy of the decoded over the real faces:
   above 1 grain, below 1 blur). At the end of the budget, also the identity distance (dlib's 128-d descriptor,
   ``latentswap_core.identity``: mean euclidean distance of each reconstruction to its real face; below 0.6 dlib
   calls them the same person) and the detail ratio of swaps of dst faces. Printed: the curves, each model's
   figures at the same wall time, and the training seconds each first reached the highest SSIM level (0.01 steps)
   both reached, with their ratio.

Run:  .venv/bin/python benchmarks/train_speed.py [--device cpu|cuda] [--quick] [--budget S] [--minutes M]
      [--sizes 256,512] [--presets small] [--codecs taef2,pixel] [--batch B] [--data DIR] [--tracks DIR] [--json F]
      --device cuda: every row, batch 16 + 16, quality 1 minute per model, within a 340 s budget: under 6 minutes.
      --device cpu: 256 and 512 px, preset small, batch 4 + 4 (the CPU regression figures). --quick: every row with
      tiny budgets (batch 1 + 1, 2 timed steps, 10 s of quality training per model): a smoke run of the table.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LATENTSWAP_SHARED", REPO.parent / "shared"))
os.environ.setdefault("LATENTSWAP_MODELS", str(SHARED / "models"))  # before latentswap_core looks for TAEF2

import numpy as np  # noqa: E402
import torch  # noqa: E402
from gpu_measure import (  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
    Config,
    StepPlan,
    is_out_of_memory,
    limit_host_memory,
    measure_steps,
    peak_memory_gb,
    plan_configs,
    reset_peak_memory,
    row_line,
    row_of,
    table_lines,
)
from machine import cpu_model  # noqa: E402

from latentswap_core.devices import cpu_has_bf16, resolve_device  # noqa: E402
from latentswap_core.io import Image, write_image  # noqa: E402
from latentswap_core.models.config import PRESETS  # noqa: E402
from latentswap_core.train.device_defaults import STEP_MODES, pixel_loss_schedule  # noqa: E402
from latentswap_core.train.latent_cache import load_latents  # noqa: E402
from latentswap_core.train.losses import ssim  # noqa: E402
from latentswap_core.train.precision import bf16_autocast_on  # noqa: E402
from latentswap_core.train.trainer import StepReport, Trainer, TrainOptions  # noqa: E402

CODECS = ("taef2", "pixel")
LAYOUT, VQ = "df", True
HOLD_OUT_EVERY = 4
EXTRACT_SIZE = 512  # every faceset, held-out too; the Trainer resizes them for other face sizes
QUALITY_SIZE = 512
FRAMES = {"full": (32, 24), "quick": (4, 4)}  # src frames (before the hold-out), dst frames
ROW = "ROW "  # a worker's result line


@dataclass(frozen=True)
class Budget:
    """What one run measures and how long each part may take, by device (``budget_for``)."""

    sizes: tuple[int, ...]
    presets: tuple[str, ...]
    batch: int
    plan: StepPlan
    config_timeout_s: float  # one configuration's set-up + steps, after which its worker is stopped
    minutes: float  # quality: training per model
    eval_every_s: float
    cpu_memory_gb: float = 6.0  # host-memory limit of a CPU worker (an allocation beyond it is an OOM row)
    run_s: float | None = None  # the whole run's budget, as --budget (None: none)


def budget_for(device: str, quick: bool) -> Budget:
    if device.startswith("cuda"):  # one H200: ~10 s a configuration, 2 x 70 s of quality: under 6 minutes
        return Budget((256, 512, 1024), ("small", "dfl"), 16, StepPlan(timed=32, timed_seconds=3.0, profiled=6),
                      config_timeout_s=90, minutes=1.0, eval_every_s=6.0, run_s=340)
    if quick:  # two CPU cores: set-up dominates (TAEF2 encodes a 1024 px face in ~5 s)
        return Budget((256, 512, 1024), ("small", "dfl"), 1, StepPlan(warmup=0, timed=2, timed_seconds=30.0),
                      config_timeout_s=150, minutes=10 / 60, eval_every_s=5.0, cpu_memory_gb=4.0)
    return Budget((256, 512), ("small",), 4, StepPlan(warmup=2, timed=7, timed_seconds=60.0),
                  config_timeout_s=900, minutes=3.0, eval_every_s=20.0)


# --- data ------------------------------------------------------------------------------------------------------
def latentswap(*args: object) -> None:
    done = subprocess.run([sys.executable, "-m", "latentswap_core", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO)
    if done.returncode:
        raise SystemExit(f"FAIL: latentswap {' '.join(map(str, args))}: {done.stderr.strip()}")


def extract(frames: list[np.ndarray], folder: Path, faceset: Path, tracks: Path) -> int:
    """Write ``frames`` as PNGs, track them (or take their track file from ``tracks``), extract the faces."""
    from latentswap_core.faceset import load_faceset

    folder.mkdir(parents=True)
    for number, frame in enumerate(frames, start=1001):
        write_image(folder / f"shot.{number}.png", Image(frame, ("R", "G", "B")))
    track = tracks / f"train_speed_{faceset.name}_{len(frames)}.track.json"
    if not track.is_file():  # needs the face detector (mediapipe)
        tracks.mkdir(parents=True, exist_ok=True)
        latentswap("track", folder, "-o", track)
    latentswap("extract", folder, "-o", faceset, "--track", track, "--size", EXTRACT_SIZE)
    return len(load_faceset(faceset).faces)


def build_facesets(root: Path, quick: bool, tracks: Path | None) -> dict[str, Path]:
    """src, dst (training) and heldout facesets under ``root`` from synthetic shots of real photos."""
    from latentswap_core.demo.shot import drifting_gains, load_photo, moving_poses, render_shot

    src_count, dst_count = FRAMES["quick" if quick else "full"]
    sets = {name: root / name for name in ("src", "dst", "heldout")}
    if all((folder / "faceset.json").is_file() for folder in sets.values()):
        return sets
    tracks = tracks or root / "tracks"
    shots = {}
    for role, photo, count, seed in (("src", "obama", src_count, 0), ("dst", "biden2", dst_count, 1)):
        poses = [[pose] for pose in moving_poses(count, seed)]
        shots[role] = render_shot([load_photo(photo, SHARED)], poses, drifting_gains(count), 3.0, seed).frames
    src = shots["src"]
    held = [frame for index, frame in enumerate(src) if index % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1]
    train = [frame for index, frame in enumerate(src) if index % HOLD_OUT_EVERY != HOLD_OUT_EVERY - 1]
    counts = {name: extract(frames, root / f"frames_{name}", sets[name], tracks)
              for name, frames in (("src", train), ("dst", shots["dst"]), ("heldout", held))}
    for name in counts:  # the PNG frames are only the extraction's input
        for png in (root / f"frames_{name}").glob("*.png"):
            png.unlink()
    print(f"facesets: src {counts['src']} faces (obama, {len(train)} frames), dst {counts['dst']} (biden2, "
          f"{len(shots['dst'])} frames), held-out src {counts['heldout']} (every {HOLD_OUT_EVERY}th obama frame), "
          f"extracted at {EXTRACT_SIZE} px", flush=True)
    return sets


def trainer_for(sets: dict[str, Path], output: Path, codec: str, size: int, preset: str, batch: int, device: str,
                schedule: dict[str, Any]) -> Trainer:
    options = dict(schedule)
    if "augment" not in options and "augment" in {f.name for f in fields(TrainOptions)}:
        options["augment"] = False  # its background encoding thread would share the cores with the timed steps
    return Trainer(TrainOptions(src=sets["src"], dst=sets["dst"], output=output, codec=codec, resolution=size,
                                preset=preset, layout=LAYOUT, vq=VQ, batch=batch, steps=10**9, preview_every=0,
                                save_every=0, device=device, **options))


# --- 1. the step table -----------------------------------------------------------------------------------------
def run_config(sets: dict[str, Path], config: Config, device: str, plan: StepPlan,
               schedule: dict[str, Any]) -> dict[str, Any]:
    """One configuration's row: its figures, or the out-of-memory or failure that stopped it."""
    torch_device = torch.device(device)
    began = time.perf_counter()
    row: dict[str, Any] | None = None
    setup_s = None
    with tempfile.TemporaryDirectory(prefix="train_speed_") as folder:
        try:
            trainer = trainer_for(sets, Path(folder) / "model", config.codec, config.size, config.preset,
                                  config.batch, device, schedule)
            setup_s = time.perf_counter() - began
            reset_peak_memory(torch_device)
            figures = measure_steps(trainer.run, torch_device, plan)
            row = row_of(config, "ok", figures=figures, peak_gb=peak_memory_gb(torch_device), setup_s=setup_s)
        except Exception as error:  # noqa: BLE001  (a row says what stopped the configuration)
            status = "OOM" if is_out_of_memory(error) else "failed"
            message = (str(error).strip().splitlines() or [""])[0][:200]
            row = row_of(config, status, f"{type(error).__name__}: {message}", peak_gb=peak_memory_gb(torch_device),
                         setup_s=setup_s)
        finally:
            trainer = None  # noqa: F841  (its tensors go before the next configuration's)
            gc.collect()
            if torch_device.type == "cuda":
                torch.cuda.empty_cache()
    return row


def worker(job: dict[str, Any]) -> None:
    """Run the job's configurations in this process, printing one ROW line per configuration as it finishes."""
    if job["device"] == "cpu":
        limit_host_memory(job["cpu_memory_gb"])
    sets = {name: Path(job["data"]) / name for name in ("src", "dst", "heldout")}
    plan = StepPlan(**job["plan"])
    parent = os.getppid()
    for config in (Config(**c) for c in job["configs"]):
        if os.getppid() != parent:  # the run was stopped (Ctrl-C, a timeout): no orphan goes on with the rest
            return
        print(ROW + json.dumps(run_config(sets, config, job["device"], plan, job["schedule"])), flush=True)


def run_workers(job: dict[str, Any], configs: list[Config], per_worker: int, timeout_s: float, deadline: float,
                on_row: Any) -> list[dict[str, Any]]:
    """Run ``configs`` in worker processes, ``per_worker`` to a process; a configuration that takes over
    ``timeout_s`` is stopped ("timeout") and one whose worker died is "failed"; the others go on in a new worker.
    Past ``deadline`` (time.monotonic) the rest are "skipped"."""
    rows: list[dict[str, Any]] = []
    pending = list(configs)
    while pending:
        if time.monotonic() >= deadline:
            rows += [row_of(c, "skipped", "past the run's --budget") for c in pending]
            break
        chunk = pending[:per_worker]
        with tempfile.TemporaryFile("w+") as errors:
            process = subprocess.Popen(
                [sys.executable, __file__, "--worker", json.dumps({**job, "configs": [asdict(c) for c in chunk]})],
                stdout=subprocess.PIPE, stderr=errors, text=True, cwd=REPO)
            lines: queue.Queue[str | None] = queue.Queue()

            def read(stream: Any = process.stdout, sink: queue.Queue[str | None] = lines) -> None:
                for line in stream:
                    sink.put(line)
                sink.put(None)

            threading.Thread(target=read, daemon=True).start()
            stopped = None
            started = time.monotonic()
            while True:
                limit = min(started + timeout_s, deadline)
                try:
                    line = lines.get(timeout=max(0.0, limit - time.monotonic()))
                except queue.Empty:
                    process.kill()
                    stopped = ("timeout", f"over its {timeout_s:.0f} s budget") if limit < deadline else (
                        "skipped", "stopped at the run's --budget")
                    break
                if line is None:
                    break
                if line.startswith(ROW):
                    rows.append(json.loads(line[len(ROW):]))
                    on_row(rows[-1])
                    pending.pop(0)
                    started = time.monotonic()
            code = process.wait()
            errors.seek(0)
            tail = [line for line in errors.read().strip().splitlines() if line.strip()][-1:]
        if pending and pending[0] in chunk:  # the worker stopped inside this configuration
            status, detail = stopped or ("failed", f"its worker exited with {code}: {tail[0] if tail else ''}")
            rows.append(row_of(pending.pop(0), status, detail))
            on_row(rows[-1])
    return rows


def step_ratio_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Per face size and preset: pixel over latent step time and the GPU busy share."""
    ok = {(r["codec"], r["size"], r["preset"]): r["figures"] for r in rows if r["status"] == "ok"}
    lines = []
    for size, preset in sorted({(size, preset) for _, size, preset in ok}):
        latent, pixel = ok.get(("taef2", size, preset)), ok.get(("pixel", size, preset))
        if latent and pixel:
            lines.append(f"{size} px, preset {preset}: pixel/latent step time {pixel['step_s'] / latent['step_s']:.2f}x"
                         f" ({latent['step_s'] * 1e3:.1f} ms latent, {pixel['step_s'] * 1e3:.1f} ms pixel)")
    return lines


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


def held_out_identity(decoded: torch.Tensor, real: torch.Tensor) -> float | str:
    """Mean dlib descriptor distance of each decoded face to its real face (a reason string where dlib or its
    models are missing)."""
    from latentswap_core.errors import ModelError
    from latentswap_core.identity import DlibIdentity, identity_distance

    identity = DlibIdentity()
    try:
        distances = [identity_distance(*(identity.describe_aligned(t.permute(1, 2, 0).numpy(), detect=False)
                                         for t in pair)) for pair in zip(decoded, real, strict=True)]
    except (ImportError, ModelError) as error:
        return f"n/a ({str(error).splitlines()[0][:80]})"
    return float(np.mean(distances))


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


def run_quality(sets: dict[str, Path], codec_name: str, preset: str, batch: int, device: str, budget_s: float,
                eval_every_s: float, schedule: dict[str, Any], grid: Path | None = None) -> dict[str, Any]:
    """Train for ``budget_s`` training seconds; the held-out curve (step, training seconds, PSNR dB, SSIM, detail
    ratio) and the figures at the end."""
    with tempfile.TemporaryDirectory(prefix="train_quality_") as folder:
        trainer = trainer_for(sets, Path(folder) / "model", codec_name, QUALITY_SIZE, preset, batch, device, schedule)
        held = load_latents(sets["heldout"], trainer.codec, QUALITY_SIZE, Path(folder) / "heldout", "heldout")
        faces, masks = held.faces.float() / 255, held.masks.float() / 255
        latents = held.latents.to(trainer.device)

        def scores(decoded: torch.Tensor) -> tuple[float, float, float]:
            return (masked_psnr(decoded, faces, masks), masked_ssim(decoded, faces, masks),
                    detail_ratio(decoded, faces, masks))

        def reconstruct() -> torch.Tensor:
            model = trainer.delivered_model  # what the run writes to model/: its weight average
            model.eval()
            try:
                with torch.no_grad():
                    return trainer.codec.decode(model.reconstruct(latents, "src").latent.float()).float().cpu()
            finally:
                trainer.model.train()

        with torch.no_grad():
            ceiling = scores(trainer.codec.decode(latents).float().cpu())
        curve = [(0, 0.0, *scores(reconstruct()))]
        clock = {"train_s": 0.0, "next_eval": eval_every_s}

        def on_step(report: StepReport) -> bool:
            clock["train_s"] += report.seconds
            done = clock["train_s"] >= budget_s
            if clock["train_s"] >= clock["next_eval"] or done:
                clock["next_eval"] += eval_every_s
                curve.append((report.step, clock["train_s"], *scores(reconstruct())))
            return done  # True: the Trainer stops after this step

        began = time.perf_counter()
        trainer.run(on_step=on_step)
        wall_s = time.perf_counter() - began
        identity = held_out_identity(reconstruct(), faces)
        swap_detail = swap_detail_ratio(trainer, grid)
    return {"codec": codec_name, "preset": preset, "curve": curve, "ceiling": ceiling, "train_s": clock["train_s"],
            "wall_s": wall_s, "identity": identity, "swap_detail": swap_detail, "heldout_faces": len(held),
            "steps": curve[-1][0]}


def reached(curve: list[list[float]], level: float) -> float | None:
    """Training seconds at the first evaluation with SSIM at or above ``level`` (None if never)."""
    return next((seconds for _, seconds, _, value, _ in curve if value >= level), None)


def quality_lines(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = []
    for name, r in results.items():
        db, ssim_, detail = r["ceiling"]
        points = ", ".join(f"{seconds:.0f}s/{step}:{value:.3f}" for step, seconds, _, value, _ in r["curve"])
        _, seconds, last_db, last_ssim, last_detail = r["curve"][-1]
        identity = r["identity"] if isinstance(r["identity"], str) else f"{r['identity']:.3f}"
        lines.append(f"{name:<6} preset {r['preset']}: {r['steps']} steps in {r['train_s']:.0f} s of training "
                     f"({r['wall_s']:.0f} s wall, evaluations included) | at the end: SSIM {last_ssim:.3f}, "
                     f"PSNR {last_db:.2f} dB, detail {last_detail:.2f}, identity distance {identity}, detail of its "
                     f"swaps of dst {r['swap_detail']:.2f} | codec round trip (the ceiling): SSIM {ssim_:.3f}, "
                     f"{db:.2f} dB, detail {detail:.2f}")
        lines.append(f"       SSIM curve (train s/step:SSIM): {points}")
    if set(results) != set(CODECS):
        return lines
    taef2, pixel = results["taef2"], results["pixel"]
    common = math.floor(min(max(p[3] for p in r["curve"]) for r in results.values()) * 100) / 100
    latent_s, pixel_s = reached(taef2["curve"], common), reached(pixel["curve"], common)
    if latent_s and pixel_s:
        ratio = f"{pixel_s / latent_s:.1f}x"
    else:
        ratio = "n/a (reached at the first evaluation)" if latent_s == 0 or pixel_s == 0 else "n/a"
    lines.append(f"time to held-out SSIM {common:.2f} (the highest 0.01 level both reached): taef2 "
                 f"{latent_s if latent_s is not None else float('nan'):.0f} s, pixel "
                 f"{pixel_s if pixel_s is not None else float('nan'):.0f} s, pixel/latent {ratio}")
    return lines


# --- the run ---------------------------------------------------------------------------------------------------
def child(args: list[str], timeout_s: float) -> dict[str, Any] | str:
    """A child run's JSON result, or why there is none."""
    try:
        done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=REPO,
                              timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"timeout after {timeout_s:.0f} s"
    if done.returncode:
        tail = [line for line in (done.stdout + done.stderr).strip().splitlines() if line.strip()][-1:]
        return f"exited with {done.returncode}: {tail[0] if tail else ''}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def precision(device: str, schedule: dict[str, Any]) -> str:
    """How the Trainer computes here (TrainOptions.cpu_bf16 and the device)."""
    kind = "cuda" if device.startswith("cuda") else "cpu"
    if bf16_autocast_on(torch.device(device), bool(schedule.get("cpu_bf16", TrainOptions.cpu_bf16))):
        where = "CUDA" if kind == "cuda" else "this CPU's native bf16"
        return f"swap model and decoder in bf16 autocast ({where}), weights float32"
    if kind == "cuda":
        return "float32 (no native bf16 on this GPU)"
    return "float32" + (" (--fp32)" if cpu_has_bf16() else " (no native bf16 on this CPU)")


def machine(device: str) -> str:
    gpu = f"{torch.cuda.get_device_name()}, CUDA {torch.version.cuda}" if device.startswith("cuda") else "none"
    return (f"CPU: {cpu_model()} ({os.cpu_count()} cores) | torch threads: {torch.get_num_threads()} | torch "
            f"{torch.__version__} | Python {platform.python_version()} | device: {device} | GPU: {gpu}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument("--quick", action="store_true", help="every row with tiny budgets: a smoke run")
    parser.add_argument("--codecs", default=",".join(CODECS), help="comma-separated (default: taef2,pixel)")
    parser.add_argument("--sizes", default=None, help="face sizes, comma-separated (default: 256,512,1024 on cuda "
                        "and with --quick, else 256,512)")
    parser.add_argument("--presets", "--preset", default=None, help=f"of {', '.join(PRESETS)}, comma-separated "
                        "(default: small,dfl on cuda and with --quick, else small)")
    parser.add_argument("--batch", type=int, default=None, help="faces per identity per step (default: 16 on cuda, "
                        "4 on the CPU, 1 with --quick)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per configuration, at most")
    parser.add_argument("--timed-seconds", type=float, default=None, help="the timed window's length, at most")
    parser.add_argument("--config-timeout", type=float, default=None, help="seconds one configuration may take")
    parser.add_argument("--budget", type=float, default=None, help="seconds for the whole run (default: 340 on "
                        "cuda, none on the CPU): the step table has 60 %% of it (configurations not started by then "
                        "are skipped), the quality runs are shortened to fit the rest")
    parser.add_argument("--minutes", type=float, default=None, help="quality: training minutes per model (default "
                        "1 on cuda, 3 on the CPU, 1/6 with --quick)")
    parser.add_argument("--eval-every", type=float, default=None, help="quality: training seconds between "
                        "held-out evaluations")
    parser.add_argument("--quality-latent-preset", default="dfl", choices=tuple(PRESETS),
                        help="quality: the latent model's preset (the pixel model's is dfl)")
    parser.add_argument("--cpu-memory-gb", type=float, default=None, help="host-memory limit of a CPU worker")
    parser.add_argument("--pixel-loss-every", type=int, default=None, metavar="K",
                        help="both models: pixel-space loss every K steps (default: the Trainer's)")
    parser.add_argument("--pixel-loss-samples", type=int, default=None, metavar="N",
                        help="both models: faces per identity in the pixel-space loss (default: the Trainer's)")
    parser.add_argument("--no-decoder-response", action="store_true", help="both models: no decoder-response loss")
    parser.add_argument("--fp32", action="store_true", help="both models: float32 on a CPU with native bf16 too")
    parser.add_argument("--step-mode", default="eager", choices=STEP_MODES,
                        help="the Trainer's --step-mode for both codecs (default here: eager, the figures so far; "
                        "graph's first steps per kind are warm-up and capture)")
    parser.add_argument("--augment", action="store_true", help="keep the Trainer's augmentation pool on")
    parser.add_argument("--data", default=None, help="keep the facesets in this folder (reused)")
    parser.add_argument("--tracks", default=None, help="keep the shots' track files here, and reuse them (a "
                        "machine without mediapipe then needs no face detector)")
    parser.add_argument("--prepare-only", action="store_true", help="only build the facesets (and track files)")
    parser.add_argument("--skip-steps", action="store_true", help="only the time-to-quality part")
    parser.add_argument("--skip-quality", action="store_true", help="only the step table")
    parser.add_argument("--json", default=None, help="also write every row and result here, as they come")
    parser.add_argument("--grid", default=None, help=argparse.SUPPRESS)  # quality child: a PNG of dst | swap faces
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # a job of step-table configurations
    parser.add_argument("--quality", default=None, help=argparse.SUPPRESS)  # a job of one time-to-quality run
    return parser.parse_args()


def schedule_of(args: argparse.Namespace) -> dict[str, Any]:
    """TrainOptions both models train with, from the command line."""
    schedule: dict[str, Any] = {"step_mode": args.step_mode}
    if args.no_decoder_response:
        schedule["decoder_response"] = False
    if args.fp32:
        schedule["cpu_bf16"] = False
    if args.augment:
        schedule["augment"] = True
    if args.pixel_loss_every is not None:
        schedule["pixel_loss_every"] = args.pixel_loss_every
    if args.pixel_loss_samples is not None:
        schedule["pixel_loss_samples"] = args.pixel_loss_samples
    return schedule


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    if args.quality:
        job = json.loads(args.quality)
        sets = {name: Path(job["data"]) / name for name in ("src", "dst", "heldout")}
        result = run_quality(sets, job["codec"], job["preset"], job["batch"], job["device"], job["budget_s"],
                             job["eval_every_s"], job["schedule"], Path(args.grid) if args.grid else None)
        print(json.dumps(result))
        return

    run_began = time.monotonic()
    device = resolve_device(args.device)
    budget = budget_for(device, args.quick)
    plan = replace(budget.plan, **{k: v for k, v in (("timed", args.steps), ("timed_seconds", args.timed_seconds))
                                   if v is not None})
    budget = replace(budget, plan=plan, batch=args.batch or budget.batch,
                     sizes=tuple(int(s) for s in args.sizes.split(",")) if args.sizes else budget.sizes,
                     presets=tuple(args.presets.split(",")) if args.presets else budget.presets,
                     config_timeout_s=args.config_timeout or budget.config_timeout_s,
                     minutes=args.minutes if args.minutes is not None else budget.minutes,
                     eval_every_s=args.eval_every or budget.eval_every_s,
                     cpu_memory_gb=args.cpu_memory_gb or budget.cpu_memory_gb)
    run_s = args.budget or budget.run_s
    deadline = run_began + run_s if run_s else math.inf
    schedule = schedule_of(args)
    codecs = tuple(args.codecs.split(","))
    record = Path(args.json) if args.json else None
    if record:
        record.write_text("")

    def keep(kind: str, value: Any) -> None:
        if record:
            with record.open("a") as out:
                out.write(json.dumps({"kind": kind, **value}) + "\n")

    print(machine(device))
    device_schedule = pixel_loss_schedule(str(device))
    print(f"layout {LAYOUT}, VQ {'on' if VQ else 'off'}, AdamW lr {TrainOptions.lr}, pixel loss on "
          f"{schedule.get('pixel_loss_samples', device_schedule.samples)} faces per identity (at most the batch) "
          f"every {schedule.get('pixel_loss_every', device_schedule.every)} steps, step mode "
          f"{schedule['step_mode']} (the device's defaults unless "
          f"given), augmentation pool {'on' if schedule.get('augment') else 'off'}, {precision(device, schedule)}")
    with tempfile.TemporaryDirectory(prefix="train_speed_data_") as temporary:
        root = Path(args.data) if args.data else Path(temporary)
        began = time.monotonic()
        sets = build_facesets(root, args.quick, Path(args.tracks) if args.tracks else None)
        data_s = time.monotonic() - began
        print(f"data ready in {data_s:.0f} s", flush=True)
        if args.prepare_only:
            return
        steps_s = 0.0
        if not args.skip_steps:
            began = time.monotonic()
            configs = plan_configs(codecs, budget.sizes, budget.presets, budget.batch)
            print(f"\n1. step table: {len(configs)} configurations, batch {budget.batch}+{budget.batch} faces (src + "
                  f"dst) per step; per configuration {plan.flop_steps} FLOP-counted + {plan.warmup} warm-up steps, "
                  f"then up to {plan.timed} timed steps or {plan.timed_seconds:g} s"
                  + (f", then {plan.profiled} profiled steps" if device.startswith("cuda") else "")
                  + f"; {budget.config_timeout_s:.0f} s at most each"
                  + (f"; host memory limited to {budget.cpu_memory_gb:g} GB per worker" if device == "cpu" else ""),
                  flush=True)
            job = {"data": str(root), "device": device, "plan": asdict(plan), "schedule": schedule,
                   "cpu_memory_gb": budget.cpu_memory_gb}

            def on_row(row: dict[str, Any]) -> None:
                keep("step", row)
                print(f"  {row_line(row)} ({time.monotonic() - began:.0f} s)", flush=True)

            # with a --budget, 40 % of it stays for the quality runs
            steps_deadline = deadline - (0.0 if args.skip_quality else 0.4 * run_s) if run_s else deadline
            rows = run_workers(job, configs, len(configs) if device.startswith("cuda") else 1,
                               budget.config_timeout_s, steps_deadline, on_row)
            print()
            print("\n".join(table_lines(configs, rows)))
            print("\n".join(step_ratio_lines(rows)))
            print("step ms: mean of the timed window (its steps with the decoded pixel loss: 'timed' N (Kp)); GFLOP: "
                  "FlopCounterMode's count of a step of each kind, weighted as in the window; GPU busy: merged kernel "
                  "time over CUDA-event time of the profiled window; peak GB: GPU tensors (cuda) or process RSS (cpu)")
            steps_s = time.monotonic() - began
        quality_s = 0.0
        if not args.skip_quality:
            began = time.monotonic()
            seconds = budget.minutes * 60
            if math.isfinite(deadline):  # each run: its training + ~25 % for set-up and evaluations
                seconds = max(5.0, min(seconds, (deadline - time.monotonic()) / 2 / 1.25))
            presets = {"taef2": args.quality_latent_preset, "pixel": "dfl"}
            print(f"\n2. time to quality at {QUALITY_SIZE} px: {seconds:.0f} s of training for each model, batch "
                  f"{budget.batch}+{budget.batch}; held-out src reconstructions evaluated every "
                  f"{budget.eval_every_s:g} s of training", flush=True)
            results = {}
            for codec_name in CODECS:
                quality_job = {"data": str(root), "codec": codec_name, "preset": presets[codec_name],
                               "batch": budget.batch, "device": device, "budget_s": seconds,
                               "eval_every_s": budget.eval_every_s, "schedule": schedule}
                result = child(["--quality", json.dumps(quality_job)],  # set-up as a configuration's, at most
                               timeout_s=budget.config_timeout_s + seconds * 3)
                if isinstance(result, str):
                    print(f"{codec_name}: no result ({result})", flush=True)
                    keep("quality", {"codec": codec_name, "error": result})
                    continue
                results[codec_name] = result
                keep("quality", result)
                print(f"{codec_name}: {result['steps']} steps in {result['train_s']:.0f} s of training "
                      f"({time.monotonic() - began:.0f} s)", flush=True)
            print("\n".join(quality_lines(results)))
            quality_s = time.monotonic() - began
    total = time.monotonic() - run_began
    print(f"\ntotal {total:.0f} s (data {data_s:.0f} s, step table {steps_s:.0f} s, quality {quality_s:.0f} s)"
          + (f"; budget {run_s:.0f} s" if run_s else ""), flush=True)
    keep("total", {"seconds": total, "data_s": data_s, "steps_s": steps_s, "quality_s": quality_s})


if __name__ == "__main__":
    main()
