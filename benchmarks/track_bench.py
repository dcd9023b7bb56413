"""Tracking throughput on the CPU, per stage, for 1080p and 4K plates.

Makes a synthetic shot (tests/shots.py: two real faces, grace_hopper from matplotlib and the astronaut
from scikit-image, moving, turning and scaling over a blurred photo, with exposure drift and grain),
writes it as half-float ACEScg EXRs (zip) like a VFX plate, then tracks it the way ``latentswap track``
does and times each stage:

  decode     read_image of the EXR + OCIO ACEScg -> sRGB display conversion + uint8 (``display_rgb``)
  detect     face detection: scale-down + full-range BlazeFace on the frame and 3 tiles, re-scoring
  mesh       face-mesh passes per face: 1 detection-framed + 3 refinement + 4 check crops (192x192)
  cuts       camera-cut test on a 32x18 thumbnail per frame
  second     the second detector (dlib's CNN, run by ONNX Runtime: profiles, small faces) on its schedule,
             with marking its faces
  associate  track ids (Hungarian on IoU + landmark distance)
  describe   dlib descriptors of every 3rd reliable face per track (people across cuts)
  fill       short gaps of tracks interpolated
  smooth     RTS smoothing of every track over the shot (fitted noise ratio, rigid + shape)
  align      ``latentswap_core.align.alignment_transform`` per face (the track file's to_aligned)

Frames/s per stage is frames / seconds spent in that stage; "total" is the end-to-end rate. The 4K shot
is the 1080p shot scaled by 2 (faces about 600 px tall instead of 300). Files are read right after they
are written, so they come from the page cache (decode cost, not disk). Temporary files go under $TMPDIR.

``--clip`` tracks the real clip ../shared/data/video/short_hamilton_clip.mp4 instead (or the movie or
sequence given): faces found per frame, reliable landmarks, people, tracks and cuts, with the same stages.

Run:  .venv/bin/python benchmarks/track_bench.py [--frames N] [--resolutions 1080p,4k] [--format exr|png]
      .venv/bin/python benchmarks/track_bench.py --clip [PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from machine import cpu_model  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import shots  # noqa: E402

from latentswap_core import color  # noqa: E402
from latentswap_core.io import Image, open_source, write_image  # noqa: E402
from latentswap_core.track import ShotTrack, ShotTracker, TrackOptions  # noqa: E402
from latentswap_core.track.report import person_summary  # noqa: E402
from latentswap_core.track.tracker import display_rgb  # noqa: E402

RESOLUTIONS = {"1080p": (1920, 1080), "4k": (3840, 2160)}
STAGES = ("decode", "detect", "mesh", "cuts", "second", "associate", "describe", "fill", "smooth", "align")
CLIP = REPO.parent / "shared" / "data" / "video" / "short_hamilton_clip.mp4"


def make_shot(size: tuple[int, int], count: int) -> shots.Shot:
    """Two faces crossing the plate while turning and scaling; poses in 1080p units scaled to ``size``."""
    k = size[0] / 1920
    photos = [shots.load_photo("grace_hopper"), shots.load_photo("astronaut")]
    poses = []
    for t in range(count):
        u = t / max(count - 1, 1)
        first = shots.Pose(angle=15 * np.sin(2 * np.pi * u), scale=k * (1.0 + 0.2 * np.sin(np.pi * u)),
                           x=k * (500 + 700 * u), y=k * 540)
        second = shots.Pose(angle=-10 * np.sin(2 * np.pi * u), scale=k * 0.8, x=k * (1500 - 300 * u), y=k * 400)
        poses.append([first, second])
    return shots.render_shot(photos, poses, shots.drifting_gains(count), noise_sigma=3.0, size=size)


def write_plates(shot: shots.Shot, folder: Path, file_format: str) -> str:
    for t, frame in enumerate(shot.frames):
        if file_format == "exr":
            linear = color.from_working(frame.astype(np.float32) / 255.0, "ACEScg")
            write_image(folder / f"plate.{1001 + t}.exr", Image(linear.astype(np.float16), ("R", "G", "B")))
        else:
            cv2.imwrite(str(folder / f"plate.{1001 + t}.png"), frame[:, :, ::-1])
    return str(folder / f"plate.####.{file_format}")


def run(pattern: str, options: TrackOptions) -> tuple[dict[str, float], int, int, ShotTrack]:
    """Seconds per stage, frames and faces for tracking ``pattern``, and the track."""

    seconds = dict.fromkeys(STAGES, 0.0)
    source = open_source(pattern)
    started = time.perf_counter()
    with ShotTracker(options) as tracker:
        for frame in source.frames:
            begin = time.perf_counter()
            image = source.read(frame)
            rgb = display_rgb(image)
            seconds["decode"] += time.perf_counter() - begin
            tracker.add(frame, rgb, image.data_offset)
        track = tracker.finish(source.description, image.width, image.height)
        faces = sum(len(entry.faces) for entry in track.frames)
        seconds.update(tracker.detector.timings)
        seconds.update(tracker.timings)  # associate, smooth, align
    seconds["total"] = time.perf_counter() - started
    return seconds, len(source.frames), faces, track


def print_stages(seconds: dict[str, float], frames: int) -> None:
    print(f"{'stage':<11}" + "".join(f"{stage:>10}" for stage in (*STAGES, "total")))
    print(f"{'frames/s':<11}" + "".join(f"{frames / max(seconds[stage], 1e-9):>10.1f}"
                                          for stage in (*STAGES, "total")))
    print(f"{'ms/frame':<11}" + "".join(f"{1000 * seconds[stage] / frames:>10.2f}" for stage in (*STAGES, "total")))


def clip_figures(path: str, options: TrackOptions) -> None:
    seconds, frames, faces, track = run(path, options)
    reliable = sum(face.landmarks_reliable for entry in track.frames for face in entry.faces)
    by_detector: dict[str, int] = {}
    for entry in track.frames:
        for face in entry.faces:
            by_detector[face.detector] = by_detector.get(face.detector, 0) + 1
    print(f"{path}: {frames} frames, {faces} faces ({faces / frames:.2f} per frame; {reliable} with reliable "
          f"landmarks), frames without a face: {len(track.frames_without_face)}")
    print(f"faces by detector: {', '.join(f'{name} {count}' for name, count in sorted(by_detector.items()))}")
    print(f"cuts: {track.cuts}; {len(track.people)} people, {len(track.track_ids)} tracks")
    for line in person_summary(track):
        print("  " + line)
    print_stages(seconds, frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=24, help="frames per shot (default 24)")
    parser.add_argument("--resolutions", default="1080p,4k", help="comma-separated: 1080p, 4k (default both)")
    parser.add_argument("--format", choices=("exr", "png"), default="exr", help="plate files (default exr, ACEScg)")
    parser.add_argument("--clip", nargs="?", const=str(CLIP), metavar="PATH",
                        help=f"track a real clip instead (default: {CLIP.name} in ../shared)")
    args = parser.parse_args()
    options = TrackOptions()
    conditions = "default TrackOptions"
    import mediapipe

    print(f"CPU: {cpu_model()}; {os.cpu_count()} logical cores, {len(os.sched_getaffinity(0))} usable; "
          f"cv2 threads {cv2.getNumThreads()}")
    print(f"Python {platform.python_version()}, mediapipe {mediapipe.__version__} (TFLite XNNPACK, CPU), "
          f"OpenCV {cv2.__version__}, NumPy {np.__version__}")
    if args.clip:
        print(conditions)
        clip_figures(args.clip, options)
        return
    print(f"{args.frames} frames per shot, 2 faces per frame, plates as {args.format.upper()}"
          f"{' half float ACEScg (zip)' if args.format == 'exr' else ' 8-bit sRGB'}; {conditions}")
    print()
    for name in args.resolutions.split(","):
        size = RESOLUTIONS[name.strip().lower()]
        shot = make_shot(size, args.frames)
        with tempfile.TemporaryDirectory(prefix="track_bench_") as folder:
            pattern = write_plates(shot, Path(folder), args.format)
            seconds, frames, faces, _ = run(pattern, options)
        print(f"{name} {size[0]}x{size[1]}: {frames} frames, {faces} faces tracked")
        print_stages(seconds, frames)
        print()


if __name__ == "__main__":
    main()
