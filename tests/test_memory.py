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
