"""nuke_plugin.trackbake: track file -> per-face animation in Nuke terms -> edited track file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from latentswap_core.align import alignment_transform, template_points
from latentswap_core.track import read_track_file
from nuke_plugin import coordinates, trackbake

WIDTH, HEIGHT = 1920, 1080


def _face(track_id: int, centre: tuple[float, float], size: float, angle_deg: float) -> dict:
    """A face of 478 landmarks (the aligned template placed by a similarity), as the engine writes it."""
    angle = np.radians(angle_deg)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    template = template_points("whole_face")
    landmarks = np.round((template - 0.5) @ rotation.T * size + np.asarray(centre), 3)
    to_aligned = alignment_transform(landmarks, "whole_face")
    return {"track_id": track_id, "score": 0.93, "landmark_confidence": 0.81,
            "bbox": [*landmarks.min(axis=0).round(3).tolist(), *landmarks.max(axis=0).round(3).tolist()],
            "landmarks": landmarks.tolist(),
            "to_aligned": [[float(f"{value:.9g}") for value in row] for row in to_aligned]}


@pytest.fixture
def track() -> dict:
    return {"version": 1, "source": "plate.####.exr (1001-1002)", "width": WIDTH, "height": HEIGHT,
            "face_type": "whole_face", "frames": [
                {"frame": 1001, "faces": [_face(0, (900.0, 500.0), 300.0, 5.0)]},
                {"frame": 1002, "faces": [_face(0, (910.0, 505.0), 302.0, 6.0)]},
            ]}


def test_face_animation_is_in_nuke_terms(track: dict) -> None:
    animation = trackbake.face_animation(track, HEIGHT)
    assert set(animation) == {0} and set(animation[0]) == {1001, 1002}
    for entry in track["frames"]:
        face = entry["faces"][0]
        cx, cy, scale, rotate = animation[0][entry["frame"]]
        # the centre is where aligned (0.5, 0.5) lands, in Nuke pixels
        engine_centre = coordinates.apply_affine(coordinates.invert_affine(face["to_aligned"]), (0.5, 0.5))
        assert (cx, cy) == pytest.approx(coordinates.engine_to_nuke_point(engine_centre, HEIGHT), abs=1e-6)
        assert scale == pytest.approx(1.0 / np.hypot(*face["to_aligned"][0][:2]), rel=1e-9)
    assert animation == trackbake.face_animation(track)  # height defaults to the file's


def test_edit_moves_transform_and_landmarks(track: dict, tmp_path: Path) -> None:
    path = tmp_path / "sh010.track.json"
    trackbake.write_track(str(path), track)
    animation = trackbake.face_animation(trackbake.read_track(str(path)), HEIGHT)
    cx, cy, scale, rotate = animation[0][1001]
    edits = {0: {1001: (cx, cy + 10.0, scale, rotate)}}

    edited = trackbake.apply_edits(trackbake.read_track(str(path)), edits, HEIGHT)
    trackbake.write_track(str(path), edited)
    again = trackbake.read_track(str(path))
    assert again == edited

    old_face, new_face = track["frames"][0]["faces"][0], again["frames"][0]["faces"][0]
    old, new = np.array(old_face["to_aligned"]), np.array(new_face["to_aligned"])
    # +10 px in Nuke y is -10 px in engine y: the new matrix reads the plate 10 px higher up
    np.testing.assert_allclose(new[:, :2], old[:, :2], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(new[:, 2], old[:, 2] + old[:, :2] @ [0.0, 10.0], atol=1e-9)
    np.testing.assert_allclose(np.array(new_face["landmarks"]), np.array(old_face["landmarks"]) - [0.0, 10.0],
                               atol=1.5e-3)
    np.testing.assert_allclose(new_face["bbox"], np.array(old_face["bbox"]) - [0, 10, 0, 10], atol=1.5e-3)
    assert trackbake.face_animation(again, HEIGHT)[0][1001] == pytest.approx(edits[0][1001], abs=1e-6)
    # the frame not in the edits is untouched, and so is the input dict
    assert again["frames"][1] == track["frames"][1]
    assert track["frames"][0]["faces"][0] is old_face and old_face["to_aligned"] == _face(
        0, (900.0, 500.0), 300.0, 5.0)["to_aligned"]
    # the engine reads what the plugin wrote
    shot = read_track_file(path)
    np.testing.assert_allclose(shot.frames[0].faces[0].to_aligned, new, atol=1e-12)
    # no temporary file is left behind
    assert sorted(os.listdir(tmp_path)) == ["sh010.track.json"]


def test_landmarks_follow_a_turn_and_scale(track: dict) -> None:
    cx, cy, scale, rotate = trackbake.face_animation(track, HEIGHT)[0][1002]
    edits = {0: {1002: (cx - 3.0, cy + 4.0, scale * 1.25, rotate + 20.0)}}
    edited = trackbake.apply_edits(track, edits, HEIGHT)
    old_face, new_face = track["frames"][1]["faces"][0], edited["frames"][1]["faces"][0]
    # landmarks' = inverse(A_new) o A_old (landmarks): the aligned crop sees the same face
    aligned_old = np.array([coordinates.apply_affine(old_face["to_aligned"], p) for p in old_face["landmarks"]])
    aligned_new = np.array([coordinates.apply_affine(new_face["to_aligned"], p) for p in new_face["landmarks"]])
    np.testing.assert_allclose(aligned_new, aligned_old, atol=1e-5)
    assert trackbake.face_animation(edited, HEIGHT)[0][1002] == pytest.approx(edits[0][1002], abs=1e-6)
    assert edited["frames"][0] == track["frames"][0]


def test_unchanged_values_change_nothing(track: dict) -> None:
    animation = trackbake.face_animation(track, HEIGHT)
    rounded = {0: {frame: tuple(round(value, 5) for value in values) for frame, values in animation[0].items()}}
    assert trackbake.apply_edits(track, rounded, HEIGHT) == track


def test_edit_of_a_frame_without_the_face(track: dict) -> None:
    with pytest.raises(trackbake.TrackBakeError, match="face 3 is not in frame 1001"):
        trackbake.apply_edits(track, {3: {1001: (0.0, 0.0, 100.0, 0.0)}}, HEIGHT)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(trackbake.TrackBakeError, match="cannot read the track file"):
        trackbake.read_track(str(tmp_path / "none.json"))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(trackbake.TrackBakeError, match="not a JSON track file"):
        trackbake.read_track(str(tmp_path / "bad.json"))
    (tmp_path / "v2.json").write_text(json.dumps({"version": 3}))
    with pytest.raises(trackbake.TrackBakeError, match="version 3"):
        trackbake.read_track(str(tmp_path / "v2.json"))


def test_failed_write_keeps_the_old_file(track: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "sh010.track.json"
    trackbake.write_track(str(path), track)
    before = path.read_bytes()

    def broken_replace(source: str, target: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)  # the rename that would put the new file in place
    with pytest.raises(OSError, match="disk full"):
        trackbake.write_track(str(path), trackbake.apply_edits(track, {0: {1001: (0.0, 0.0, 50.0, 0.0)}}, HEIGHT))
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["sh010.track.json"]
