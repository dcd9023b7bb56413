"""Faceset guidance: head poses from stored landmarks, coverage of dst poses by src, training warnings, and what
`extract` and `train` say and write about it."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import TINY_FACESET_SIZE, latentswap

from latentswap_core.align.pose import CANONICAL_MODEL
from latentswap_core.faceset import Faceset, FacesetEntry, load_faceset
from latentswap_core.faceset_coverage import (
    MIN_SRC_FACES,
    POSE_TOLERANCE_DEGREES,
    FacesetPoses,
    coverage,
    describe_poses,
    faceset_poses,
    pose_histogram,
    training_warnings,
)
from latentswap_core.train.faceset_report import PLOT_FILE, REPORT_FILE, FacesetReport


def turned_landmarks(yaw: float, pitch: float, size: int) -> np.ndarray:
    """Normalised aligned landmarks (478 x 2) of the canonical face turned by ``yaw`` and ``pitch`` degrees (the
    conventions of align/pose.py) and seen centred by a pinhole camera of focal length ``size``."""
    y, p = math.radians(yaw), math.radians(-pitch)
    turn_y = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    turn_x = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    camera = CANONICAL_MODEL @ (turn_y @ turn_x).T + [0.0, 0.0, 40.0]
    points = camera[:, :2] / camera[:, 2:] + 0.5  # x size px, / size: normalised
    return np.vstack([points, np.repeat(points[[33]], 10, axis=0)])  # the 10 iris points: unused by the pose


def synthetic_faceset(poses: list[tuple[float, float]], size: int = 256) -> Faceset:
    """A faceset in memory (no files) whose faces have the given (yaw, pitch)."""
    faces = [FacesetEntry(file=f"faces/{n:06d}.png", mask=f"masks/{n:06d}.png", frame=n, source_file="synthetic",
                          track_id=0, to_aligned=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
                          landmarks=turned_landmarks(yaw, pitch, size).tolist(), score=1.0, landmark_confidence=1.0,
                          sharpness=1.0)
             for n, (yaw, pitch) in enumerate(poses, start=1)]
    return Faceset(Path("synthetic"), size, "whole_face", "synthetic", faces)


def poses_of(yaw: list[float], pitch: list[float], size: int = 256) -> FacesetPoses:
    return FacesetPoses(np.array(yaw, float), np.array(pitch, float), len(yaw), size)


def test_a_frontal_face_has_no_yaw(tiny_facesets) -> None:
    frontal = faceset_poses(synthetic_faceset([(0.0, 0.0)]))
    assert abs(frontal.yaw[0]) < 1.0 and abs(frontal.pitch[0]) < 2.0
    src = load_faceset(tiny_facesets[0])
    photo = faceset_poses(src)  # obama.jpg looks into the camera
    assert Path(src.faces[0].source_file).name == "obama.jpg" and abs(photo.yaw[0]) < 5.0


def test_turned_faces_have_the_sign_of_their_turn(shared_dir: Path, tmp_path: Path) -> None:
    turned = faceset_poses(synthetic_faceset([(40.0, 0.0), (-40.0, 0.0), (0.0, 20.0)], size=128))
    assert turned.yaw.tolist() == pytest.approx([40.0, -40.0, 0.0], abs=3.0)
    assert turned.pitch.tolist() == pytest.approx([0.0, 0.0, 20.0], abs=3.0)
    # A real photo turned to the image's right (obama2.jpg) and its mirror image: opposite yaw.
    from latentswap_core.extract import ExtractOptions, faceset_from_photos

    photo = cv2.imread(str(shared_dir / "data" / "faces" / "obama2.jpg"))
    cv2.imwrite(str(tmp_path / "mirrored.png"), photo[:, ::-1])
    pair = faceset_from_photos([shared_dir / "data" / "faces" / "obama2.jpg", tmp_path / "mirrored.png"],
                               tmp_path / "faces", ExtractOptions(size=TINY_FACESET_SIZE))
    yaw = faceset_poses(pair).yaw
    assert yaw[0] > 8.0 and yaw[1] < -8.0 and abs(yaw[0] + yaw[1]) < 3.0


def test_a_faceset_covers_itself() -> None:
    rng = np.random.default_rng(0)
    poses = poses_of(rng.uniform(-60, 60, 300).tolist(), rng.uniform(-30, 30, 300).tolist())
    itself = coverage(poses, poses)
    assert itself.fraction == 1.0 and itself.uncovered == 0 and itself.uncovered_yaw is None
    assert int(pose_histogram(poses.yaw).sum()) == 300


def test_frontal_src_does_not_cover_turned_dst_and_the_warning_says_so() -> None:
    src = faceset_poses(synthetic_faceset([(0.0, 0.0)] * 3 + [(-5.0, 3.0)]))
    dst = faceset_poses(synthetic_faceset([(40.0, 0.0)] * 5))
    covered = coverage(src, dst)
    assert covered.fraction == 0.0 and covered.uncovered == 5
    assert covered.uncovered_yaw == pytest.approx((40.0, 40.0), abs=3.0)
    warnings = training_warnings(src, dst, 256, covered)
    assert len(warnings) == 2, warnings  # too few src faces, dst poses uncovered; no upsampling at 256 px
    assert warnings[0].startswith(f"the src faceset has 4 faces for 5 dst faces: fewer than {MIN_SRC_FACES} ")
    assert "DeepFaceLab" in warnings[0]
    assert warnings[1].startswith("src faces cover 0% of the dst poses (below 80%): 5 of 5 dst faces have no src "
                                  f"face within {POSE_TOLERANCE_DEGREES:g} deg of yaw and pitch (yaw +40..+40 deg")
    # a src face 8 degrees off each way covers them all; hundreds of src faces: no warning at all
    near = poses_of([32.0] * 150, [8.0] * 150)
    assert coverage(near, dst).fraction == 1.0 and training_warnings(near, dst, 256) == []


def test_upsampling_is_warned_with_the_factor() -> None:
    many = poses_of([0.0] * MIN_SRC_FACES, [0.0] * MIN_SRC_FACES, size=128)
    assert training_warnings(many, many, 512) == [
        "src faceset crops are 128 px, training at 512 px upsamples them 4x: extract at --size 512",
        "dst faceset crops are 128 px, training at 512 px upsamples them 4x: extract at --size 512",
    ]
    same = poses_of([0.0] * MIN_SRC_FACES, [0.0] * MIN_SRC_FACES, size=256)
    assert training_warnings(same, same, 256) == []
    assert "1.5x" in training_warnings(poses_of([0.0] * 200, [0.0] * 200, size=256), same, 384)[0]


def test_the_pose_line_and_the_report_files(tmp_path: Path) -> None:
    line = describe_poses(poses_of([-20.0, 2.0, 3.0, 40.0], [0.0, 5.0, 5.0, 10.0]))
    assert line.startswith("poses: yaw -17..+34 deg, pitch +1..+9 deg (5th-95th percentile)")
    assert line.endswith("faces per 15 deg of yaw: [-30,-15) 1, [-15,+0) 0, [+0,+15) 2, [+15,+30) 0, [+30,+45) 1")
    src, dst = poses_of([0.0] * 4, [0.0] * 4, 128), poses_of([0.0, 40.0], [0.0, 0.0], 128)
    covered = coverage(src, dst)
    made = FacesetReport(src, dst, covered, 256, tuple(training_warnings(src, dst, 256, covered)))
    made.write(tmp_path)
    saved = json.loads((tmp_path / REPORT_FILE).read_text())
    assert saved["coverage"]["fraction"] == 0.5 and saved["coverage"]["uncovered_yaw"] == [40.0, 40.0]
    assert saved["src"]["faces"] == 4 and len(saved["warnings"]) == 4
    assert (tmp_path / PLOT_FILE).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stamps = [(tmp_path / name).stat().st_mtime_ns for name in (REPORT_FILE, PLOT_FILE)]
    made.write(tmp_path)  # the same report again (a resumed run): nothing rewritten
    assert [(tmp_path / name).stat().st_mtime_ns for name in (REPORT_FILE, PLOT_FILE)] == stamps


def test_the_progress_json_report_is_messages(capsys) -> None:
    from latentswap_core.cli.train import say_faceset_report

    say_faceset_report(["src faceset: 2 faces"], ["too few"], progress_json=True)
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events == [{"event": "message", "text": "src faceset: 2 faces"},
                      {"event": "message", "text": "warning: too few", "level": "warning"}]


def test_extract_prints_the_poses(shared_dir: Path, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("obama.jpg", "obama2.jpg"):
        (photos / name).write_bytes((shared_dir / "data" / "faces" / name).read_bytes())
    done = latentswap("extract", str(photos), "-o", str(tmp_path / "faces"), "--size", "128")
    assert done.returncode == 0, done.stderr
    summary, poses = done.stdout.splitlines()[-2:]
    assert summary.startswith("wrote ") and poses.startswith("poses: yaw ") and "faces per 15 deg of yaw" in poses


def test_train_warns_and_plots_the_coverage(tiny_facesets, shared_models, tmp_path: Path) -> None:
    output = tmp_path / "model"
    done = latentswap("train", "--src", str(tiny_facesets[0]), "--dst", str(tiny_facesets[1]), "-o", str(output),
                      "--resolution", str(TINY_FACESET_SIZE), "--steps", "1", "--preview-every", "0",
                      "--pixel-loss-every", "0", "--no-decoder-response", "--no-augment", "--consent", "REF-16",
                      env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert "latentswap: src faceset: 2 faces at 128 px; poses: yaw " in done.stderr
    assert "latentswap: src poses cover 100% of the 2 dst faces" in done.stderr
    assert ("latentswap: warning: the src faceset has 2 faces for 2 dst faces: fewer than 100 train an unusable "
            "swap") in done.stderr
    assert not any("upsamples" in line for line in lines)
    assert (output / PLOT_FILE).stat().st_size > 1000
    report = json.loads((output / REPORT_FILE).read_text())
    assert report["src"]["faces"] == 2 and report["coverage"]["fraction"] == 1.0 and report["resolution"] == 128
