"""The second detector's helper process: the same faces as in one process, and no process left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from latentswap_core.io import open_source
from latentswap_core.track import display_rgb
from latentswap_core.track.second_detector import SecondDetector, SecondDetectorOptions

# the clip's profile close-up and its audience (test_track_clip.py)
CLIP_FRAMES = (25, 230)


@pytest.fixture(scope="module")
def frames(shared_dir) -> list[np.ndarray]:
    source = open_source(str(shared_dir / "data" / "video" / "short_hamilton_clip.mp4"))
    try:
        return [display_rgb(source.read(frame)) for frame in CLIP_FRAMES]
    finally:
        source.close()


def started(detector: SecondDetector) -> int:
    """The pid of ``detector``'s helper process, started and ready."""
    helper = detector._started_helper()
    assert helper is not None and helper.ready(timeout=120)
    return helper.process.pid


def gone(pid: int, timeout: float = 0.0) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def test_the_helper_finds_exactly_what_one_process_finds(frames, face_photo):
    plates = [*frames, face_photo]
    expected = [SecondDetector(SecondDetectorOptions(helper=False)).find(plate) for plate in plates]
    assert sum(map(len, expected)) >= 3  # faces to compare, not empty lists
    with SecondDetector(SecondDetectorOptions(helper=True)) as detector:
        started(detector)
        for plate, faces in zip(plates, expected, strict=True):
            pending = detector.start(plate)
            assert pending.sent
            assert pending.result() == faces
        detector.start(plates[0])  # never collected (its caller raised): the next find still gets its own answer
        assert detector.find(plates[1]) == expected[1]


def test_closing_ends_the_helper_and_a_dead_helper_falls_back(frames):
    expected = SecondDetector(SecondDetectorOptions(helper=False)).find(frames[1])
    detector = SecondDetector(SecondDetectorOptions(helper=True))
    pid = started(detector)
    detector.close()
    assert gone(pid)  # ended and reaped: no zombie either
    pid = started(detector)  # a later find starts another
    os.kill(pid, 9)  # dies while the tracker runs: the frame is searched here instead, the same faces
    assert detector.find(frames[1]) == expected
    assert gone(pid) and detector._started_helper() is None  # not restarted for every frame
    detector.close()


def test_the_helper_ends_with_a_parent_that_dies(tmp_path):
    script = ("import os, sys\n"
              "from latentswap_core.track.second_detector import SecondDetector\n"
              "detector = SecondDetector()\n"
              "helper = detector._started_helper()\n"
              "assert helper is not None and helper.ready(timeout=120)\n"
              "print(helper.process.pid, flush=True)\n"
              "os.kill(os.getpid(), 9)\n")  # no close, no atexit: only the pipe tells the helper
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert run.returncode == -9, run.stderr
    assert gone(int(run.stdout), timeout=10)
