"""The track stage's pure parts, without mediapipe: crop geometry, track ids, smoothing, the track file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from track_shots import shot_with_gap, square_face

from latentswap_core.geometry import apply_affine as apply
from latentswap_core.geometry import invert_affine as invert
from latentswap_core.track import (
    FaceFrame,
    FaceObservation,
    SmoothOptions,
    TrackAssigner,
    TrackFileError,
    read_track_file,
    smooth_landmarks,
    smooth_shot,
    write_track_file,
)
from latentswap_core.track.crop import cut
from latentswap_core.track.detect import _tiles, display_uint8
from latentswap_core.track.smooth import smooth_series


def blob_plate(x: float, y: float, size: tuple[int, int] = (400, 300), sigma: float = 3.0) -> np.ndarray:
    """A Gaussian spot centred at continuous plate position (x, y), pixel centres at +0.5."""
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width] + 0.5
    spot = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return np.repeat((spot * 250).astype(np.uint8)[:, :, None], 3, axis=2)


def centroid(image: np.ndarray) -> np.ndarray:
    weights = image[:, :, 0].astype(np.float64)
    yy, xx = np.mgrid[0:image.shape[0], 0:image.shape[1]] + 0.5
    return np.array([(xx * weights).sum(), (yy * weights).sum()]) / weights.sum()


@pytest.mark.parametrize("angle, scale", [(0.0, 1.0), (30.0, 1.0), (-65.0, 0.5), (120.0, 2.0), (10.0, 0.2)])
def test_crop_puts_a_plate_point_where_its_transform_says(angle: float, scale: float) -> None:
    point = np.array([173.3, 141.8])
    plate = blob_plate(*point, sigma=6.0 / min(scale, 1.0) ** 0.5)
    frame = FaceFrame((180.0, 150.0), math.radians(angle), 40.0)
    to_crop = frame.crop_transform(96, 40.0 * scale * 0.5)
    crop = cut(plate, to_crop, 96)
    expected = apply(to_crop, point[None])[0]
    assert np.abs(centroid(crop) - expected).max() < 0.05, (centroid(crop), expected)


def test_face_frame_moves_exactly_with_the_landmarks() -> None:
    rng = np.random.default_rng(1)
    landmarks = rng.normal(0, 50, (478, 2)) + (300, 200)
    angle, scale, shift = math.radians(25.0), 1.3, np.array([40.0, -12.0])
    rotation = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    moved = landmarks @ rotation.T + shift
    before, after = FaceFrame.from_landmarks(landmarks), FaceFrame.from_landmarks(moved)
    assert np.allclose(after.centre, rotation @ np.array(before.centre) + shift)
    assert after.angle - before.angle == pytest.approx(angle)
    assert after.radius == pytest.approx(before.radius * scale)
    # The crop of the moved points is the crop of the original points.
    assert np.allclose(apply(after.crop_transform(192, 40), moved), apply(before.crop_transform(192, 40), landmarks))
    assert np.allclose(apply(invert(after.crop_transform(192, 40)), apply(after.crop_transform(192, 40), moved)),
                       moved)


def test_detection_tiles_cover_the_frame_with_overlap() -> None:
    tiles = _tiles(1280, 720)
    assert [side for _, _, side in tiles] == [720, 720, 720]
    assert tiles[0][0] == 0 and tiles[-1][0] + 720 == 1280
    assert _tiles(720, 720) == []
    assert all(y + side == 1280 or y + side < 1280 for _, y, side in _tiles(720, 1280))


def test_float_frames_become_the_same_uint8() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (8, 8, 3)).astype(np.uint8)
    assert np.array_equal(display_uint8(rgb.astype(np.float32) / 255.0), rgb)
    assert np.array_equal(display_uint8(rgb.astype(np.uint16) * 257), rgb)
    assert display_uint8(np.full((2, 2, 3), 3.5, np.float32)).max() == 255


def observation(landmarks: np.ndarray) -> FaceObservation:
    return FaceObservation.from_landmarks(landmarks, 0.9, 0.9)


def test_crossing_faces_keep_their_ids_through_motion_prediction() -> None:
    assigner = TrackAssigner()
    history = []
    for t in range(12):
        a = square_face(100 + 60 * t, 300)   # moves right
        b = square_face(760 - 60 * t, 330)   # moves left, passes a around t = 5.5
        faces = [observation(a), observation(b)] if t not in (5, 6) else [observation(b)]  # a hidden behind b
        ids = assigner.assign(t, faces)
        history.append(dict(zip(["a", "b"] if len(ids) == 2 else ["b"], ids, strict=True)))
    assert all(entry["b"] == history[0]["b"] for entry in history)
    assert all(entry.get("a", history[0]["a"]) == history[0]["a"] for entry in history)
    assert history[0]["a"] != history[0]["b"]


def test_a_track_waits_max_missing_frames_then_a_new_id_starts() -> None:
    assigner = TrackAssigner()
    first = assigner.assign(0, [observation(square_face(500, 500))])[0]
    assert assigner.assign(1, [observation(square_face(505, 500))]) == [first]
    assert assigner.assign(8, [observation(square_face(540, 500))]) == [first]  # gone 6 frames, back nearby
    later = assigner.assign(8 + assigner.options.max_missing + 2, [observation(square_face(540, 500))])
    assert later != [first]
    far = assigner.assign(30, [observation(square_face(1500, 200))])  # a jump (a cut): not the same track
    assert far != later


def test_smoother_removes_jitter_without_lag_on_constant_motion() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(60.0)
    truth = np.stack([12.0 * t, 300 + 80 * np.sin(t / 9.0)], axis=1)  # px per frame, smooth curve
    noisy = truth[:, None, :] + rng.normal(0, 0.5, (60, 200, 2))
    smoothed = smooth_series(noisy.reshape(60, -1)).reshape(noisy.shape)
    raw_error = np.sqrt(((noisy - truth[:, None]) ** 2).mean())
    smooth_error = np.sqrt(((smoothed - truth[:, None]) ** 2).mean())
    print(f"\nsmoother on a synthetic path: RMS error {raw_error:.3f} -> {smooth_error:.3f} px")
    assert smooth_error < 0.6 * raw_error
    bias = (smoothed - truth[:, None]).mean(axis=(1, 2))
    assert np.abs(bias[5:-5]).max() < 0.2  # no lag: no error growing along the direction of motion


def test_smoothing_off_and_short_runs_pass_through() -> None:
    landmarks = np.random.default_rng(0).normal(0, 1, (10, 478, 2)) + 200
    assert np.array_equal(smooth_landmarks(landmarks, options=SmoothOptions(enabled=False)), landmarks)
    assert np.array_equal(smooth_landmarks(landmarks[:3]), landmarks[:3])


def test_smooth_shot_splits_runs_at_gaps_and_keeps_the_input() -> None:
    track = shot_with_gap()
    smoothed = smooth_shot(track)
    assert smoothed.frames_without_face == [1007] and track.frames_without_face == [1007]
    before = track.face(1006, 0).landmarks
    after = smoothed.face(1006, 0).landmarks
    assert not np.array_equal(before, after) and track.face(1006, 0).landmarks is before
    # Frame 1008 starts a new run: it is smoothed only with 1008-1012, never pulled towards 1006.
    assert np.abs(smoothed.face(1008, 0).landmarks - track.face(1008, 0).landmarks).mean() < 1.0
    assert smoothed.face(1008, 0).bbox == pytest.approx(
        (*smoothed.face(1008, 0).landmarks.min(0), *smoothed.face(1008, 0).landmarks.max(0)))


def test_track_file_round_trip(tmp_path: Path) -> None:
    track = shot_with_gap()
    path = tmp_path / "sh010.track.json"
    write_track_file(path, track)
    document = json.loads(path.read_text())
    assert list(document) == ["version", "source", "width", "height", "face_type", "cuts", "frames"]
    assert document["frames"][6] == {"frame": 1007, "faces": []}
    face = document["frames"][0]["faces"][0]
    assert list(face) == ["track_id", "person", "detector", "landmarks_reliable", "score", "landmark_confidence",
                          "bbox", "landmarks", "to_aligned"]
    back = read_track_file(path)
    assert (back.width, back.height, back.face_type, back.source) == (1920, 1080, "whole_face", track.source)
    assert back.frames_without_face == [1007]
    assert np.abs(back.face(1003, 0).landmarks - track.face(1003, 0).landmarks).max() <= 0.0005
    assert np.allclose(back.face(1003, 0).to_aligned, track.face(1003, 0).to_aligned)


@pytest.mark.parametrize("edit, fragment", [
    (lambda d: d.update(version=3), "version is 3"),
    (lambda d: d.pop("width"), "width is missing"),
    (lambda d: d["frames"][0]["faces"][0].update(landmarks=[[1, 2]] * 477),
     "frames[0] (frame 1001).faces[0].landmarks"),
    (lambda d: d["frames"][1]["faces"][0].pop("to_aligned"), 'has no "to_aligned"'),
    (lambda d: d["frames"][2]["faces"][0].update(score=1.5), "score is not a number in [0, 1]"),
    (lambda d: d["frames"].reverse(), "increasing order"),
    (lambda d: d["frames"][0]["faces"][0].pop("person"), 'has no "person"'),
    (lambda d: d["frames"][0]["faces"][0].update(detector="eyeball"), "detector is not one of"),
    (lambda d: d["frames"][0]["faces"][0].update(landmarks_reliable=1), "landmarks_reliable is not true or false"),
    (lambda d: d.update(cuts=[1005, 1003]), "cuts is not a list of frame numbers"),
])
def test_malformed_track_files_fail_with_one_line(tmp_path: Path, edit, fragment: str) -> None:
    path = tmp_path / "bad.json"
    write_track_file(path, shot_with_gap())
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))
    with pytest.raises(TrackFileError) as error:
        read_track_file(path)
    message = str(error.value)
    assert "\n" not in message and str(path) in message and fragment in message, message
    assert "latentswap track" in message


def test_unreadable_track_files(tmp_path: Path) -> None:
    with pytest.raises(TrackFileError, match="file not found"):
        read_track_file(tmp_path / "none.json")
    (tmp_path / "cut.json").write_text('{"version": 1, "frames": [')
    with pytest.raises(TrackFileError, match="not valid JSON"):
        read_track_file(tmp_path / "cut.json")


def test_hostile_track_files_are_refused_in_one_line_without_reading_forever(tmp_path: Path) -> None:
    import os

    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    os.mkfifo(tmp_path / "pipe.json")  # opening it to read would hang until a writer came
    (tmp_path / "loop.json").symlink_to(tmp_path / "loop.json")
    (tmp_path / "folder.json").mkdir()
    for path, fragment in ((tmp_path / "deep.json", "nested too deeply"),
                           (tmp_path / "pipe.json", "not a regular file"),
                           (Path("/dev/zero"), "not a regular file"),
                           (tmp_path / "loop.json", "cannot be read"),
                           (tmp_path / "folder.json", "is a folder")):
        with pytest.raises(TrackFileError) as error:
            read_track_file(path)
        message = str(error.value)
        assert fragment in message and str(path) in message and "\n" not in message, message


def test_version_1_track_files_still_read(tmp_path: Path) -> None:
    """A file from before people and cuts: each track its own person, no cuts, landmarks trusted as then."""
    path = tmp_path / "v1.json"
    write_track_file(path, shot_with_gap())
    document = json.loads(path.read_text())
    document["version"] = 1
    del document["cuts"]
    for entry in document["frames"]:
        for face in entry["faces"]:
            for key in ("person", "detector", "landmarks_reliable"):
                del face[key]
    path.write_text(json.dumps(document))
    back = read_track_file(path)
    assert back.cuts == []
    face = back.face(1003, 0)
    assert (face.person, face.detector, face.landmarks_reliable) == (0, "mesh", True)


def test_people_and_cuts_round_trip(tmp_path: Path) -> None:
    track = shot_with_gap()
    track.cuts = [1008]
    for entry in track.frames:
        for face in entry.faces:
            face.person, face.detector, face.landmarks_reliable = 3, "cnn", entry.frame != 1003
    path = tmp_path / "v2.json"
    write_track_file(path, track)
    back = read_track_file(path)
    assert back.cuts == [1008] and back.people == [3]
    assert back.shot_ranges() == [(1001, 1007), (1008, 1012)]
    assert (back.face(1003, 0).detector, back.face(1003, 0).landmarks_reliable) == ("cnn", False)
    assert back.face(1004, 0).landmarks_reliable


def test_a_track_id_twice_in_one_frame_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "twice.json"
    write_track_file(path, shot_with_gap())
    document = json.loads(path.read_text())
    entry = next(entry for entry in document["frames"] if entry["faces"])
    entry["faces"] = entry["faces"] * 300  # a hand-edited file that would paste one face 300 times
    path.write_text(json.dumps(document))
    with pytest.raises(TrackFileError, match=r"holds track id \d+ more than once"):
        read_track_file(path)
