"""``latentswap swap`` throughput: frames/s end to end at 1920x1080 and 3840x2160, models at 256 and 512 px, the
torch and onnx backends, the time per stage, and the model's own time per face, in one run.

Plates: synthetic shots of one real face (``latentswap_core.demo.shot``: biden2.jpg turning, scaling and travelling
over a background, sensor noise), written as half-float ACEScg RGB EXRs the way ``latentswap demo`` writes its
plate. The face is the same share of the frame at both sizes (300 px tall at 1080p, 600 px at 4K). Each plate is
tracked once (``track_source``, whole_face, with the aligned transforms a ``latentswap track`` file holds) before
any timing.

Models: throwaway models trained by the real Trainer for 2 steps on facesets made with ``latentswap extract`` from
../shared/data/faces (src obama*.jpg, dst biden*.jpg; extracted once at 512 px, resized by the Trainer for 256).
Speed does not depend on what a model has learnt. The onnx backend exports ``model/swap.onnx`` on its first open;
that export is timed and printed apart and excluded from everything else, as is the loading of every model.

1. End to end: ``render_shot`` (the engine of ``latentswap swap``) with the default RenderOptions (batch 4 faces
   per model call, 2 blend/write workers, rct colour transfer, landmark mask) and each of ``--layers`` (``face``:
   the faces' box only, what the Nuke gizmo asks for; ``all``: full-frame comp + face layers; ``comp``) writing to
   a temporary folder. Peak memory is the process's resident set, sampled every 5 ms during the render (it
   includes the loaded models), and on a GPU torch's peak allocation. The
   wall time is ``RenderReport.wall_seconds`` (reading, aligning, swapping, blending and writing every frame);
   frames/s = frames / wall. Backends alternate within each repeat, so load from other processes hits both
   alike; medians of ``--repeats`` (every swapper has already run in part 2, so no render is a cold start;
   the plate's files are in the page cache from tracking). The stages
   (``stage_seconds``: read, align, swap, blend, write) are seconds per frame, summed over threads: reading runs
   ahead on its own thread and blending + writing on the workers while the model swaps the next batch, so the
   stages overlap and their sum can exceed the wall time. onnx/torch is the ratio of frames/s (above 1: onnx
   faster).
2. Model only (measured before part 1): ``swapper.swap`` on a batch of ``batch`` aligned crops (uniform noise of
   the model's face size: the networks' cost does not depend on content), per face; median (and fastest) of
   ``--model-repeats`` calls after 1 warm-up, the swappers alternating. "share" is that median over the
   end-to-end wall time per frame (one face per frame): how much of a frame is the model.

3. ``--blend numpy,torch``: where the merge stage runs (swap/merge.py; ``RenderOptions.blend_device``): numpy on the
   host, or torch ops on ``--device`` (on the CPU: the torch ops run here). Default: what ``latentswap swap`` does on
   that device (torch on cuda, numpy on the CPU). Each is a row of its own, alternating within each repeat.

``--backends torch-bf16``: the torch backend with ``swap --precision bf16`` (a CUDA GPU, or a CPU that computes bf16
natively), a row of its own beside torch's.

``--tracks DIR`` keeps the track files of the photos and plates there and reuses them (the plates are rendered the
same way on every run), so a machine without mediapipe, such as an offline GPU machine, needs no face detector:
``--prepare-only`` with the same ``--frames`` and ``--plates`` writes them (tools/gpu_session.sh --prepare).

Run:  .venv/bin/python benchmarks/swap_speed.py [--quick] [--frames N] [--repeats R] [--device cpu|cuda]
                                                [--layers face,all] [--plates 1920x1080,3840x2160]
                                                [--backends torch,onnx,torch-bf16] [--blend numpy,torch]
                                                [--tracks DIR [--prepare-only]]
      (--quick: 1920x1080, 256 px, 4 frames, 1 repeat: a smoke run)
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LATENTSWAP_SHARED", REPO.parent / "shared"))
os.environ.setdefault("LATENTSWAP_MODELS", str(SHARED / "models"))  # before latentswap_core looks for TAEF2

import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402
import torch  # noqa: E402
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

from latentswap_core.demo import shot as shots  # noqa: E402
from latentswap_core.devices import resolve_device  # noqa: E402
from latentswap_core.extract import ExtractOptions, faceset_from_photos, track_photos  # noqa: E402
from latentswap_core.io import open_source  # noqa: E402
from latentswap_core.swap.backends import open_swapper  # noqa: E402
from latentswap_core.swap.layers import LAYERS  # noqa: E402
from latentswap_core.swap.merge import HOST, choose_blend_device  # noqa: E402
from latentswap_core.swap.render import RenderOptions, render_shot  # noqa: E402
from latentswap_core.track import TrackOptions, track_source  # noqa: E402
from latentswap_core.track.trackfile import read_track_file, read_track_for, write_track_file  # noqa: E402
from latentswap_core.train import Trainer, TrainOptions  # noqa: E402

PLATES = {"1920x1080": ((1920, 1080), 1.0), "3840x2160": ((3840, 2160), 2.0)}  # size, face scale (1: 300 px)
FACE_SIZES = (256, 512)
# what runs the model: a backend of ``open_swapper``, and the precision it computes in (``swap --precision``)
RUNNERS = {"torch": ("torch", "fp32"), "onnx": ("onnx", "fp32"), "torch-bf16": ("torch", "bf16")}
BACKENDS = tuple(RUNNERS)
STAGES = ("read", "align", "swap", "blend", "write")
EXTRACT_SIZE = 512
PLATE_SPACE = shots.PLATE_COLORSPACE
OPTIONS = RenderOptions()  # what `latentswap swap` does by default
PHOTOS = {"src": ("obama", "obama2", "obama3"), "dst": ("biden", "biden2")}


def write_plate(folder: Path, size: tuple[int, int], scale: float, frames: int) -> str:
    """One face moving across a ``size`` plate, as half-float ACEScg EXRs (like ``latentswap demo``'s plate)."""
    folder.mkdir(parents=True)
    width, height = size
    photo = shots.load_photo("biden2", SHARED)
    poses = []
    for t in range(frames):
        u = t / max(frames - 1, 1)
        poses.append([shots.Pose(angle=15.0 * np.sin(2 * np.pi * u), scale=scale * (1.0 + 0.1 * np.sin(np.pi * u)),
                                 x=width * (0.35 + 0.3 * u), y=height * (0.5 + 0.05 * np.sin(2 * np.pi * u)))])
    shot = shots.render_shot([photo], poses, size=size, noise_sigma=2.0)
    return shots.write_exr_plate(shot.frames, folder)


def track_plate(pattern: str, track_file: Path):
    """The shot's track with each face's aligned transform, as ``latentswap track`` writes it; kept in
    ``track_file`` and read from there when it exists (the plates are rendered the same way every time)."""
    if track_file.is_file():
        track = read_track_for(track_file, open_source(pattern))
    else:  # needs the face detector (mediapipe)
        track = track_source(open_source(pattern), TrackOptions(face_type="whole_face"))
        track_file.parent.mkdir(parents=True, exist_ok=True)
        write_track_file(track_file, track)
    found = sum(len(entry.faces) for entry in track.frames)
    if found != len(track.frames):
        raise SystemExit(f"FAIL: tracking {pattern} found {found} faces in {len(track.frames)} frames, not one each")
    return track


def make_facesets(root: Path, tracks: Path) -> dict[str, Path]:
    """src and dst facesets from the photos, their faces found by the tracker or read from ``tracks``."""
    sets = {}
    options = ExtractOptions(size=EXTRACT_SIZE)
    for name, photos in PHOTOS.items():
        sets[name] = root / f"faceset_{name}"
        files = [SHARED / "data" / "faces" / f"{photo}.jpg" for photo in photos]
        track_file = tracks / f"swap_speed_{name}_photos.track.json"
        if not track_file.is_file():  # needs the face detector (mediapipe)
            track_file.parent.mkdir(parents=True, exist_ok=True)
            write_track_file(track_file, track_photos(files, options))
        faceset_from_photos(files, sets[name], options, read_track_file(track_file))
    return sets


def train_model(sets: dict[str, Path], folder: Path, face_size: int, device: str) -> Path:
    """A 2-step model: its speed is that of a trained one."""
    Trainer(TrainOptions(sets["src"], sets["dst"], folder, resolution=face_size, steps=2, preview_every=0,
                         augment=False, device=device, consent="benchmark: throwaway model")).run()
    return folder


def open_timed(model: Path, runner: str, device: str):
    began = time.perf_counter()
    backend, precision = RUNNERS[runner]
    swapper = open_swapper(model, backend, device, precision=precision)
    return swapper, time.perf_counter() - began


def model_seconds_per_face(swappers: dict, repeats: int) -> dict[tuple[int, str], list[float]]:
    """Seconds per face of ``swapper.swap`` on a batch of crops, ``repeats`` times each; the swappers alternate."""
    batches = {key: np.random.default_rng(0).uniform(0, 1, (OPTIONS.batch, key[0], key[0], 3)).astype(np.float32)
               for key in swappers}
    for key, swapper in swappers.items():
        swapper.swap(batches[key])  # warm-up (also warms the swapper for the renders)
    times: dict[tuple[int, str], list[float]] = {key: [] for key in swappers}
    for _ in range(repeats):
        for key, swapper in swappers.items():
            began = time.perf_counter()
            swapper.swap(batches[key])
            times[key].append((time.perf_counter() - began) / OPTIONS.batch)
    return times


class PeakMemory:
    """The process's peak resident set (bytes) while the block runs, sampled every 5 ms from /proc (Linux)."""

    def __enter__(self) -> PeakMemory:
        self.peak = self._resident()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._resident())

    @staticmethod
    def _resident() -> int:
        try:
            with open("/proc/self/statm") as statm:
                return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            return 0


def render_once(pattern: str, swapper, track, scratch: Path, layers: str, device: str,
                blend_device: str) -> tuple[float, dict[str, float], int, int]:
    """One ``render_shot`` into a fresh temporary folder: (wall seconds, stage seconds, peak resident bytes,
    peak GPU bytes)."""
    out = Path(tempfile.mkdtemp(prefix="swap_", dir=scratch))
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    try:
        with PeakMemory() as memory:
            report = render_shot(open_source(pattern), str(out / "swap.####.exr"), swapper, track,
                                 replace(OPTIONS, layers=layers, blend_device=blend_device))
        gpu = torch.cuda.max_memory_allocated() if cuda else 0
        return report.wall_seconds, dict(report.stage_seconds), memory.peak, gpu
    finally:
        shutil.rmtree(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1920x1080, 256 px, 4 frames, 1 repeat: a smoke run")
    parser.add_argument("--frames", type=int, default=None, help="frames per plate (default 8; --quick 4)")
    parser.add_argument("--repeats", type=int, default=None, help="timed renders per configuration (default 3; "
                        "--quick 1)")
    parser.add_argument("--model-repeats", type=int, default=5, help="timed model calls per configuration")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (onnx then uses its CUDA/TensorRT providers)")
    parser.add_argument("--layers", default="face,all", help=f"comma-separated, of {', '.join(LAYERS)} "
                        "(default: face,all)")
    parser.add_argument("--plates", default=None, help=f"comma-separated, of {', '.join(PLATES)} (default: both; "
                        "--quick: 1920x1080)")
    parser.add_argument("--backends", default="torch,onnx", help="comma-separated, of torch, onnx, torch-bf16 "
                        "(torch with --precision bf16) (default: torch,onnx)")
    parser.add_argument("--blend", default="auto", help="comma-separated, of numpy, torch (torch ops on --device) "
                        "(default: auto, what latentswap swap does: torch on cuda, numpy on the CPU)")
    parser.add_argument("--tracks", default=None, help="keep the photos' and plates' track files here and reuse "
                        "them: a machine without mediapipe then needs no face detector (default: a temporary folder)")
    parser.add_argument("--prepare-only", action="store_true", help="only write the track files (with --tracks)")
    args = parser.parse_args()
    layer_modes = [mode for mode in args.layers.split(",") if mode]
    backends = [name for name in args.backends.split(",") if name]
    if not layer_modes or any(mode not in LAYERS for mode in layer_modes):
        parser.error(f"--layers {args.layers!r}: give some of {', '.join(LAYERS)}")
    if not backends or any(name not in BACKENDS for name in backends):
        parser.error(f"--backends {args.backends!r}: give some of {', '.join(BACKENDS)}")
    frames = args.frames or (4 if args.quick else 8)
    repeats = args.repeats or (1 if args.quick else 3)
    plate_names = args.plates.split(",") if args.plates else (["1920x1080"] if args.quick else list(PLATES))
    if any(name not in PLATES for name in plate_names):
        parser.error(f"--plates {args.plates!r}: give some of {', '.join(PLATES)}")
    plates = {name: PLATES[name] for name in plate_names}
    face_sizes = (256,) if args.quick else FACE_SIZES
    device = resolve_device(args.device)
    blend_devices = {choose_blend_device(name, device): name for name in args.blend.split(",") if name}
    blend_devices = {key: HOST if key == HOST else "torch" for key in blend_devices}  # device name -> label

    print(f"CPU: {cpu_model()} ({os.cpu_count()} cores) | load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
          f" | torch threads: {torch.get_num_threads()} | torch {torch.__version__} | onnxruntime "
          f"{onnxruntime.__version__} | Python {platform.python_version()} | device: {device}"
          + (f" ({torch.cuda.get_device_name()})" if device.startswith("cuda") else ""))
    print(f"{frames} frames per plate, one face, half-float {PLATE_SPACE} EXR in and out; RenderOptions defaults: "
          f"batch {OPTIONS.batch} faces per model call, {OPTIONS.workers} blend/write workers, colour transfer "
          f"{OPTIONS.color_transfer}, mask {OPTIONS.mask}; merge on {', '.join(blend_devices.values())}; median of "
          f"{repeats} renders", flush=True)

    with tempfile.TemporaryDirectory(prefix="swap_speed_") as temporary:
        root = Path(temporary)
        began = time.perf_counter()
        tracks = Path(args.tracks) if args.tracks else root / "tracks"
        sets = make_facesets(root, tracks)
        if args.prepare_only:
            for plate_name, (size, scale) in plates.items():
                pattern = write_plate(root / f"plate_{plate_name}", size, scale, frames)
                track_plate(pattern, tracks / f"swap_speed_{plate_name}_{frames}.track.json")
            print(f"track files in {tracks}: {', '.join(sorted(p.name for p in tracks.glob('*.json')))}")
            return
        models = {size: train_model(sets, root / f"model_{size}", size, device) for size in face_sizes}
        print(f"facesets + {len(models)} throwaway models: {time.perf_counter() - began:.0f} s", flush=True)
        swappers, loads = {}, {}
        for size, model in models.items():
            for backend in backends:
                swappers[size, backend], first = open_timed(model, backend, device)
                if backend == "onnx":  # the first open exported swap.onnx; a second one only loads
                    swappers[size, backend], loads[size, backend] = open_timed(model, backend, device)
                    print(f"  {size} px onnx: export {first - loads[size, backend]:.1f} s (excluded), load "
                          f"{loads[size, backend]:.2f} s, providers {', '.join(swappers[size, backend].providers)}")
                else:
                    loads[size, backend] = first
                    print(f"  {size} px torch: load {first:.2f} s")
        model_times = model_seconds_per_face(swappers, args.model_repeats)
        model_only = {key: statistics.median(times) for key, times in model_times.items()}

        results = {}
        for plate_name, (size, scale) in plates.items():
            began = time.perf_counter()
            pattern = write_plate(root / f"plate_{plate_name}", size, scale, frames)
            track = track_plate(pattern, tracks / f"swap_speed_{plate_name}_{frames}.track.json")
            print(f"plate {plate_name}: rendered + tracked in {time.perf_counter() - began:.0f} s (excluded)",
                  flush=True)
            for face_size in face_sizes:
                for layers in layer_modes:
                    kinds = [(backend, blend) for backend in backends for blend in blend_devices]
                    runs: dict[tuple[str, str], list[tuple[float, dict[str, float], int, int]]] = {
                        kind: [] for kind in kinds}
                    for _ in range(repeats):
                        for backend, blend in kinds:
                            runs[backend, blend].append(render_once(pattern, swappers[face_size, backend], track,
                                                                    root, layers, device, blend))
                    for backend, blend in kinds:
                        done = runs[backend, blend]
                        wall = statistics.median(run[0] for run in done)
                        stages = {s: statistics.median(run[1].get(s, 0.0) for run in done) for s in STAGES}
                        peak = max(run[2] for run in done)
                        gpu = max(run[3] for run in done)
                        results[plate_name, face_size, backend, layers, blend_devices[blend]] = (
                            wall, stages, [run[0] for run in done], peak, gpu)
                        print(f"  {plate_name} {face_size} px {backend} --layers {layers} --blend {blend}: "
                              f"{frames / wall:.2f} frames/s, peak {peak / 1e9:.2f} GB (GPU {gpu / 1e9:.2f} GB)",
                              flush=True)
            shutil.rmtree(root / f"plate_{plate_name}")

    print()
    print("End to end (render_shot wall time; stages in s/frame, summed over threads, overlapping)")
    header = (f"{'plate':<10} {'model':>5} {'backend':<10} {'layers':<6} {'merge':<6} {'frames/s':>8} {'s/frame':>8} "
              + " ".join(f"{s:>6}" for s in STAGES) + f" {'sum':>6} {'onnx/torch':>10} {'peak GB':>7} "
              f"{'GPU GB':>6}  walls (s)")
    print(header)
    print("-" * len(header))
    for (plate_name, face_size, backend, layers, merge), (wall, stages, walls, peak, gpu) in results.items():
        per_frame = {s: stages[s] / frames for s in STAGES}
        ratio = ""
        if backend == "onnx" and (plate_name, face_size, "torch", layers, merge) in results:
            ratio = f"{results[plate_name, face_size, 'torch', layers, merge][0] / wall:.2f}"
        print(f"{plate_name:<10} {face_size:>5} {backend:<10} {layers:<6} {merge:<6} {frames / wall:>8.2f} "
              f"{wall / frames:>8.3f} "
              + " ".join(f"{per_frame[s]:>6.3f}" for s in STAGES) + f" {sum(per_frame.values()):>6.3f} "
              f"{ratio:>10} {peak / 1e9:>7.2f} {gpu / 1e9:>6.2f}  {' '.join(f'{w:.2f}' for w in walls)}")

    print()
    last_layers, first_merge = layer_modes[-1], next(iter(blend_devices.values()))
    print(f"Model only (swapper.swap on {OPTIONS.batch} aligned crops, per face: median and fastest of "
          f"{args.model_repeats}) "
          f"and its share of the end-to-end time per frame (1 face per frame, --layers {last_layers}, merge on "
          f"{first_merge})")
    header = f"{'model':>5} {'backend':<10} {'ms/face':>8} {'fastest':>8} {'load s':>7}  " + "  ".join(
        f"{'share ' + name:>16}" for name in plates)
    print(header)
    print("-" * len(header))
    for (face_size, backend), seconds in model_only.items():
        walls = {name: results[name, face_size, backend, last_layers, first_merge][0] for name in plates}
        shares = "  ".join(f"{seconds / (walls[name] / frames):>16.0%}" for name in plates)
        fastest = min(model_times[face_size, backend])
        print(f"{face_size:>5} {backend:<10} {seconds * 1000:>8.1f} {fastest * 1000:>8.1f} "
              f"{loads[face_size, backend]:>7.2f}  {shares}")
    for size in face_sizes:
        if (size, "onnx") in model_only and (size, "torch") in model_only:
            print(f"onnx/torch model-only speed at {size} px: "
                  f"{model_only[size, 'torch'] / model_only[size, 'onnx']:.2f}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
