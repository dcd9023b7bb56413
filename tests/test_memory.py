"""Streaming passes hold a few frames at a time: peak memory does not grow with the frame count.

benchmarks/memory_4k.py measures the same on a 4K 300-frame plate."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import latentswap_peak_memory

SIZE = (960, 540)
FRAMES = 48
FRAME_MIB = SIZE[0] * SIZE[1] * 4 * 4 / 2**20  # one RGBA frame as float32, as conversion computes it


@pytest.fixture(scope="module")
def long_plate(shared_dir: Path, tmp_path_factory) -> str:
    """48 frames of half RGBA: two rendered, hard-linked under every frame name."""
    from latentswap_core.demo import shot as shots

    root = tmp_path_factory.mktemp("long_plate")
    photo = shots.load_photo("biden2", shared_dir)
    poses = [[shots.Pose(angle=5.0 * t, scale=0.8, x=480.0, y=270.0)] for t in range(2)]
    (root / "rendered").mkdir()
    shots.write_exr_plate(shots.render_shot([photo], poses, size=SIZE).frames, root / "rendered", alpha=True)
    (root / "plate").mkdir()
    for index in range(FRAMES):
        os.link(root / "rendered" / f"plate.{1001 + index % 2}.exr", root / "plate" / f"plate.{1001 + index}.exr")
    return str(root / "plate" / "plate.####.exr")


@pytest.mark.slow
def test_converting_more_frames_takes_no_more_memory(long_plate: str, tmp_path: Path) -> None:
    peaks = {}
    for count in (8, FRAMES):
        output = tmp_path / str(count)
        output.mkdir()
        done, peaks[count] = latentswap_peak_memory("convert", long_plate, "--frames", f"1001-{1000 + count}", "-o",
                                                    str(output / "proxy.####.jpg"), "--output-colorspace",
                                                    "sRGB - Texture")
        assert done.returncode == 0, done.stderr
        assert len(list(output.glob("proxy.*.jpg"))) == count
    assert peaks[FRAMES] - peaks[8] < 2 * FRAME_MIB, peaks  # a frame kept per frame would add 40 x 8 MiB


def test_a_swap_of_large_frames_holds_a_few_of_them_between_reading_and_writing(
        tiny_model: Path, tiny_plate: Path, shared_models: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames as large as the budget for held plates (as 4K frames nearly are): the read-ahead, the model's batch
    and the writers' queue each hold one, not four (4K: 2.0 -> 1.2 GB peak, benchmarks/memory_4k.py)."""
    from latentswap_core.io import open_source
    from latentswap_core.swap import render
    from latentswap_core.swap.swapper import Swapper
    from latentswap_core.track import TrackOptions, track_source
    from latentswap_core.track.second_detector import SecondDetectorOptions

    count = 12
    (tmp_path / "plate").mkdir()
    for index in range(count):  # the four frames over and over
        os.link(str(tiny_plate).replace("####", str(1001 + index % 4)), tmp_path / "plate" / f"p.{1001 + index}.exr")
    frames = list(range(1001, 1001 + count))
    swapper = Swapper(tiny_model, "cpu")
    source = open_source(str(tmp_path / "plate" / "p.####.exr"), frames)
    track = track_source(source, TrackOptions(face_type=swapper.card.face_type,
                                              second=SecondDetectorOptions(enabled=False)))
    monkeypatch.setattr(render, "HELD_BYTES", source.read(1001).pixels.nbytes)
    alive, most = set(), [0]
    reading = source.read

    def read(frame: int):
        alive.add(frame)
        most[0] = max(most[0], len(alive))
        return reading(frame)

    monkeypatch.setattr(source, "read", read)
    options = render.RenderOptions(batch=4, workers=2)
    report = render.render_shot(source, str(tmp_path / "out" / "s.####.exr"), swapper, track, options,
                                on_frame=lambda frame, faces, kept: alive.discard(frame))
    source.close()
    assert report.written == frames and report.faces_swapped == count - count // 4
    # one read ahead, a batch of one frame, and as many waiting for a writer or being written as there are writers
    assert most[0] <= 1 + 1 + options.workers, most[0]


@pytest.mark.parametrize(("frame_bytes", "ahead"), [(2**20, 4), (100 * 2**20, 1)])
def test_the_next_frames_are_being_read_while_a_frame_is_used(frame_bytes: int, ahead: int) -> None:
    """Small frames are read up to READ_AHEAD ahead, frames the size of 4K ones one ahead: never none."""
    from concurrent.futures import Future
    from types import SimpleNamespace

    import numpy as np

    from latentswap_core.swap import render

    asked: list[int] = []

    class Reader:  # runs each read at once, in order, so that what was asked is known when a frame comes
        def submit(self, read, frame):
            asked.append(frame)
            done: Future = Future()
            done.set_result(read(frame))
            return done

    image = SimpleNamespace(pixels=np.empty(frame_bytes, np.uint8))
    source = SimpleNamespace(read=lambda frame: image)
    report = SimpleNamespace(stage_seconds={"read": 0.0})
    frames = list(range(1001, 1011))
    for frame, _ in render._read_ahead(Reader(), source, frames, report):
        assert asked == frames[:min(len(frames), frames.index(frame) + 1 + ahead)], (frame, asked)
    assert asked == frames
