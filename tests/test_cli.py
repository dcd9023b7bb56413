"""The ``latentswap`` command as users and the Nuke plugin call it: real processes, real files."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from forked_cli import ForkedRun
from helpers import installed_latentswap, latentswap

from latentswap_core import __version__, color
from latentswap_core.engine_id import source_digest
from latentswap_core.io import Image, read_image, write_image


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("latentswap: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def movie(tmp_path: Path, face_photo: np.ndarray) -> Path:
    path = tmp_path / "interview.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 24, (256, 192))
    for shift in range(5):
        writer.write(np.ascontiguousarray(np.roll(face_photo[:192, :256, ::-1], shift * 4, axis=0)))
    writer.release()
    return path


def test_version_and_help_with_examples() -> None:
    assert installed_latentswap("--version").stdout.strip() == f"latentswap {__version__} (engine {source_digest()})"
    helped = installed_latentswap("--help")
    assert helped.returncode == 0
    assert "examples:" in helped.stdout and "latentswap convert interview.mov" in helped.stdout
    for command in ("info", "convert", "colorspaces", "models"):
        assert command in helped.stdout
        assert installed_latentswap(command, "--help").returncode == 0


def test_the_engine_digest_follows_the_files_not_where_they_are(tmp_path: Path) -> None:
    """The Nuke gizmo keys its cache with it: an edited module is another engine; a copy elsewhere is the same."""
    package = Path(source_digest.__code__.co_filename).parent
    copy = tmp_path / "site-packages" / "latentswap_core"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert source_digest(copy) == source_digest()
    (copy / "blend" / "__pycache__").mkdir(exist_ok=True)
    (copy / "blend" / "__pycache__" / "compose.cpython-311.pyc").write_bytes(b"bytecode")  # written by imports
    (copy / "blend" / "compose.py.orig").write_text("an editor's backup")
    assert source_digest(copy) == source_digest()
    module = copy / "blend" / "compose.py"
    text = module.read_bytes()
    module.write_bytes(text.replace(b"\n", b"\r\n"))  # a Windows checkout of the same commit
    assert source_digest(copy) == source_digest()
    module.write_bytes(text)
    module.write_text(module.read_text() + "\n")
    edited = source_digest(copy)
    assert edited != source_digest()
    module.rename(copy / "blend" / "composed.py")  # the same bytes under another name
    assert source_digest(copy) not in (source_digest(), edited)


def test_convert_movie_to_acescg_exr_plates(tmp_path: Path, movie: Path) -> None:
    (tmp_path / "plates").mkdir()
    result = latentswap("convert", str(movie), "-o", str(tmp_path / "plates" / "plate.####.exr"),
                        "--output-colorspace", "ACEScg")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "plates").iterdir()) == [f"plate.{f:04d}.exr" for f in range(1, 6)]
    plate = read_image(tmp_path / "plates" / "plate.0003.exr")
    assert plate.pixels.dtype == np.float16 and plate.channels == ("R", "G", "B")
    capture = cv2.VideoCapture(str(movie))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 2)
    rgb = cv2.cvtColor(capture.read()[1], cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    expected = color.convert(rgb, "sRGB - Texture", "ACEScg")
    assert np.abs(plate.pixels.astype(np.float32) - expected).max() < 2e-3  # half-float precision

    info = json.loads(latentswap("info", str(tmp_path / "plates" / "plate.%04d.exr"), "--json").stdout)
    assert info["frames"] == "1-5" and info["width"] == 256 and info["pixel_type"] == "half"
    assert info["default_colorspace"] == "ACEScg"


def test_progress_json_and_resume_with_skip_existing(tmp_path: Path, movie: Path) -> None:
    out = str(tmp_path / "review.####.png")
    first = latentswap("convert", str(movie), "-o", out, "--progress-json")
    assert first.returncode == 0, first.stderr
    events = [json.loads(line) for line in first.stdout.splitlines()]
    assert events[0] == {"event": "start", "task": "convert", "total": 5}
    progress = [event for event in events if event["event"] == "progress"]
    assert [event["done"] for event in progress] == [1, 2, 3, 4, 5]
    assert progress[-1]["percent"] == 100.0 and progress[2]["frame"] == 3
    assert events[-1]["event"] == "end" and events[-1]["status"] == "done"

    (tmp_path / "review.0004.png").unlink()  # as if the run had been stopped there
    kept = (tmp_path / "review.0002.png").stat().st_mtime_ns
    resumed = latentswap("convert", str(movie), "-o", out, "--skip-existing", "--progress-json")
    skipped = [e["skipped"] for e in map(json.loads, resumed.stdout.splitlines()) if e["event"] == "progress"]
    assert skipped == [True, True, True, False, True]
    assert (tmp_path / "review.0004.png").is_file()
    assert (tmp_path / "review.0002.png").stat().st_mtime_ns == kept


def test_missing_frames_fail_before_any_output(tmp_path: Path) -> None:
    for frame in (1001, 1002, 1004):
        write_image(tmp_path / f"plate.{frame}.exr", Image(np.zeros((4, 4, 3), np.float16), ("R", "G", "B")))
    result = latentswap("convert", str(tmp_path / "plate.####.exr"), "-o", str(tmp_path / "out.####.exr"))
    assert_one_line_error(result, "plate.####.exr: 1 of 4 frames missing in 1001-1004: 1003")
    assert not list(tmp_path.glob("out.*"))
    as_json = latentswap("convert", str(tmp_path / "plate.####.exr"), "-o", str(tmp_path / "o.####.exr"),
                         "--progress-json")
    error = json.loads(as_json.stdout.splitlines()[-1])
    assert error["event"] == "error" and "1003" in error["message"] and error["exit_code"] == 2


def test_corrupt_frame_and_overwrite_are_refused_with_one_line(tmp_path: Path) -> None:
    for frame in (1, 2, 3):
        write_image(tmp_path / f"plate.{frame:04d}.exr", Image(np.ones((4, 4, 3), np.float16), ("R", "G", "B")))
    original = (tmp_path / "plate.0001.exr").read_bytes()
    overwrite = latentswap("convert", str(tmp_path / "plate.####.exr"), "-o", str(tmp_path / "plate.%04d.exr"))
    assert_one_line_error(overwrite, "plate.0001.exr: the output would overwrite the input")
    assert (tmp_path / "plate.0001.exr").read_bytes() == original

    (tmp_path / "plate.0002.exr").write_bytes(b"\x76\x2f\x31\x01" + b"\0" * 64)  # EXR magic, broken header
    assert_one_line_error(latentswap("info", str(tmp_path / "plate.####.exr")), "plate.0002.exr: not a readable image")

    wrong_type = latentswap("convert", str(tmp_path / "plate.0001.exr"), "-o", str(tmp_path / "x.jpg"),
                            "--pixel-type", "half")
    assert_one_line_error(wrong_type, "x.jpg: jpeg cannot store half pixels")


def test_models_lists_the_search_path(shared_models: Path) -> None:
    result = latentswap("models")
    assert result.returncode == 0
    assert str(shared_models) in result.stdout
    assert "taef2" in result.stdout and str(shared_models / "taef2") in result.stdout


def test_terminated_convert_keeps_finished_frames_and_leaves_no_partial_file(tmp_path: Path, face_photo) -> None:
    import signal

    movie = tmp_path / "long.mp4"
    writer = cv2.VideoWriter(str(movie), cv2.VideoWriter_fourcc(*"mp4v"), 24, (1280, 720))
    frame = np.ascontiguousarray(cv2.resize(face_photo, (1280, 720))[:, :, ::-1])
    for shift in range(48):
        writer.write(np.roll(frame, shift * 8, axis=1))
    writer.release()
    process = ForkedRun(["convert", str(movie), "-o", str(tmp_path / "plate.####.exr"), "--output-colorspace",
                         "ACEScg", "--pixel-type", "float", "--progress-json"],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for line in process.stdout:
            if json.loads(line).get("done") == 2:
                process.send_signal(signal.SIGTERM)
                break
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted; finished frames are kept" in stderr and "Traceback" not in stderr
    written = sorted(tmp_path.glob("plate.*.exr"))
    assert 2 <= len(written) < 48
    assert not list(tmp_path.glob(".*partial*"))
    for path in written:
        assert read_image(path).pixels.shape == (720, 1280, 3)
