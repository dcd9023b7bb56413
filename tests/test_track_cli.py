"""``latentswap track`` as users and the Nuke plugin run it: real processes, real frames, the track file."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import shots
from helpers import installed_latentswap, latentswap

from latentswap_core import color
from latentswap_core.io import Image, write_image
from latentswap_core.track import read_track_file

NATIVE_LOG = re.compile(r"INFO|WARNING|W0000|I0000|E0000|absl|TensorFlow|XNNPACK|inference_feedback|calculator")


@pytest.fixture(scope="module")
def proof_shot(shared_dir: Path) -> shots.Shot:
    """16 frames: a moving face, none in frame 1006, a second face in 1015-1016."""
    return shots.proof_shot(shots.load_photo("obama", shared_dir), shots.load_photo("grace_hopper"), count=16)


@pytest.fixture(scope="module")
def png_plates(tmp_path_factory: pytest.TempPathFactory, proof_shot: shots.Shot) -> Path:
    folder = tmp_path_factory.mktemp("png")
    for t, frame in enumerate(proof_shot.frames):
        cv2.imwrite(str(folder / f"plate.{1001 + t}.png"), frame[:, :, ::-1])
    return folder


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory, png_plates: Path) -> tuple[Path, subprocess.CompletedProcess]:
    output = tmp_path_factory.mktemp("out") / "sh010.track.json"
    return output, installed_latentswap("track", str(png_plates / "plate.####.png"), "-o", str(output), timeout=300)


def test_track_writes_the_track_file_and_lists_frames_without_faces(tracked) -> None:
    output, result = tracked
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "mediapipe's native log lines must not reach the user"
    assert result.stdout.splitlines() == [f"wrote {output}: 16 frames, 2 people, 2 face tracks",
                                          "cuts: none found (one camera shot)",
                                          "person 0: 15 faces in frames 1001-1005,1007-1016, about 293 px tall, "
                                          "track 0",
                                          "person 1: 2 faces in frames 1015-1016, about 234 px tall, track 1",
                                          "no face in 1 of 16 frames: 1006"]
    document = json.loads(output.read_text())
    assert document["version"] == 2 and (document["width"], document["height"]) == (1920, 1080)
    assert document["face_type"] == "whole_face" and "plate.####.png" in document["source"]
    assert [entry["frame"] for entry in document["frames"]] == list(range(1001, 1017))
    assert [len(entry["faces"]) for entry in document["frames"]] == [1] * 5 + [0] + [1] * 8 + [2, 2]
    assert {face["track_id"] for entry in document["frames"][:14] for face in entry["faces"]} == {0}
    face = document["frames"][0]["faces"][0]
    assert list(face) == ["track_id", "person", "detector", "landmarks_reliable", "score", "landmark_confidence",
                          "bbox", "landmarks", "to_aligned"]
    assert (face["person"], face["detector"], face["landmarks_reliable"]) == (0, "mesh", True)
    landmarks, to_aligned = np.array(face["landmarks"]), np.array(face["to_aligned"])
    assert landmarks.shape == (478, 2) and to_aligned.shape == (2, 3)
    aligned = landmarks @ to_aligned[:, :2].T + to_aligned[:, 2]
    assert aligned.min() > 0.0 and aligned.max() < 1.0  # the whole face lies inside the aligned square
    assert face["bbox"] == pytest.approx([*landmarks.min(axis=0), *landmarks.max(axis=0)], abs=2e-3)
    track = read_track_file(output)
    assert track.frames_without_face == [1006] and track.track_ids == [0, 1]


def test_frames_no_smooth_and_progress_json(tmp_path: Path, png_plates: Path, tracked) -> None:
    smoothed = read_track_file(tracked[0])
    output = tmp_path / "raw.json"
    result = latentswap("track", str(png_plates / "plate.####.png"), "-o", str(output), "--frames", "1001-1005",
                        "--no-smooth", "--progress-json", timeout=300)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0] == {"event": "start", "task": "track", "total": 5}
    progress = [event for event in events if event["event"] == "progress"]
    assert [(event["frame"], event["faces"]) for event in progress] == [(frame, 1) for frame in range(1001, 1006)]
    messages = [event["text"] for event in events if event["event"] == "message"]
    assert messages[0].startswith(f"wrote {output}: 5 frames") and messages[1] == "cuts: none found (one camera shot)"
    assert events[-1]["event"] == "end" and events[-1]["status"] == "done"
    raw = read_track_file(output)
    assert [entry.frame for entry in raw.frames] == [1001, 1002, 1003, 1004, 1005]
    moved = [np.abs(raw.face(frame, 0).landmarks - smoothed.face(frame, 0).landmarks).mean() for frame in (1002, 1004)]
    assert all(0.0 < value < 1.5 for value in moved), moved


def test_float_acescg_plates_with_a_data_window(tmp_path: Path, proof_shot: shots.Shot, tracked) -> None:
    """EXR plates in scene-linear ACEScg whose data window starts at (100, 40): coordinates stay those of the
    display window, and the faces match the sRGB PNG plates."""
    reference = read_track_file(tracked[0])
    for t in (0, 1, 2, 3):
        linear = color.from_working(proof_shot.frames[t].astype(np.float32) / 255.0, "ACEScg")
        image = Image(linear[40:, 100:].astype(np.float16), ("R", "G", "B"), origin=(100, 40),
                      display_window=(0, 0, 1920, 1080))
        write_image(tmp_path / f"plate.{1001 + t}.exr", image)
    output = tmp_path / "exr.json"
    result = latentswap("track", str(tmp_path / "plate.####.exr"), "-o", str(output), "--no-smooth", timeout=300)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    track = read_track_file(output)
    assert (track.width, track.height) == (1920, 1080)
    for frame in (1001, 1002, 1003, 1004):
        difference = np.abs(track.face(frame, 0).landmarks - reference.face(frame, 0).landmarks).mean()
        assert difference < 1.0, (frame, difference)


@pytest.mark.parametrize("extra, fragment", [
    (["-o", "/no/such/folder/t.json"], "the folder /no/such/folder does not exist"),
    (["-o", "t.json", "--face-type", "nose"], "unknown face type 'nose'"),
    (["-o", "t.json", "--colorspace", "ACEScgg"], "unknown colourspace 'ACEScgg'"),
    (["-o", "t.json", "--frames", "1001-1020"], "frames missing"),
])
def test_user_errors_are_one_line(png_plates: Path, extra: list[str], fragment: str) -> None:
    result = latentswap("track", str(png_plates / "plate.####.png"), *extra, timeout=300)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("latentswap: error: ") and fragment in lines[0], result.stderr
    assert not NATIVE_LOG.search(result.stderr)


def test_help_shows_track() -> None:
    helped = installed_latentswap("--help", timeout=300)
    assert "track" in helped.stdout and "latentswap track " in helped.stdout
    usage = installed_latentswap("track", "--help", timeout=300)
    assert usage.returncode == 0 and "--no-smooth" in usage.stdout and "--progress-json" in usage.stdout


def test_extract_from_the_track_file_keeps_one_face_per_pose(tmp_path: Path, png_plates: Path, tracked) -> None:
    track_file, _ = tracked
    result = latentswap("extract", str(png_plates / "plate.####.png"), "-o", str(tmp_path / "actor"),
                        "--track", str(track_file), "--track-id", "0", "--size", "128", timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    index = json.loads((tmp_path / "actor" / "faceset.json").read_text())
    kept = [face["frame"] for face in index["faces"]]
    assert index["size"] == 128 and {face["track_id"] for face in index["faces"]} == {0}
    assert 10 <= len(kept) <= 15 and 1006 not in kept  # the moving face, every frame but the empty one
    assert result.stdout.startswith(f"wrote {tmp_path / 'actor' / 'faceset.json'}: {len(kept)} faces at 128 px")
    crop = cv2.imread(str(tmp_path / "actor" / index["faces"][0]["file"]), cv2.IMREAD_UNCHANGED)
    assert crop.shape == (128, 128, 3) and crop.dtype == np.uint16


def test_extract_from_a_folder_of_photos_tracks_by_itself(tmp_path: Path, shared_dir: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("obama.jpg", "obama2.jpg", "biden2.jpg"):
        (photos / name).write_bytes((shared_dir / "data" / "faces" / name).read_bytes())
    result = installed_latentswap("extract", str(photos), "-o", str(tmp_path / "faces"), "--size", "192",
                                  "--progress-json", timeout=300)
    assert result.returncode == 0, result.stderr
    assert not NATIVE_LOG.search(result.stderr)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [event["task"] for event in events if event["event"] == "start"] == ["track", "extract"]
    index = json.loads((tmp_path / "faces" / "faceset.json").read_text())
    assert sorted(Path(face["source_file"]).name for face in index["faces"]) == ["biden2.jpg", "obama.jpg",
                                                                                  "obama2.jpg"]
    assert events[-1] == {"event": "message", "text": f"wrote {tmp_path / 'faces' / 'faceset.json'}: 3 faces at "
                                                      "192 px (whole_face); skipped: none"}
