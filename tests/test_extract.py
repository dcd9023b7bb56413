"""Faceset extraction on real photos: aligned crops and masks written, bad faces skipped with reasons."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from latentswap_core.align import alignment_transform, transform_points
from latentswap_core.errors import FacesetError, TrackFileError
from latentswap_core.extract import ExtractOptions, extract_faceset
from latentswap_core.face_selection import FaceSelection
from latentswap_core.faceset import load_faceset
from latentswap_core.io import Image, open_source, read_image, write_image
from latentswap_core.track.detect import FaceDetector


@dataclass
class Face:
    track_id: int
    score: float
    landmark_confidence: float
    landmarks: np.ndarray
    person: int = -1
    landmarks_reliable: bool = True


@pytest.fixture(scope="module")
def photos(shared_dir: Path) -> dict[str, np.ndarray]:
    return {name: read_image(shared_dir / "data" / "faces" / f"{name}.jpg").pixels for name in ("obama", "biden2")}


@pytest.fixture(scope="module")
def marked(photos) -> dict[str, np.ndarray]:
    with FaceDetector() as detector:
        return {name: detector.detect(pixels)[0].landmarks for name, pixels in photos.items()}


def make_shot(folder: Path, photos, marked) -> list[tuple[int, list[Face]]]:
    """Six 'frames' with known fates: kept, duplicate, blurred, low confidence, kept (other person), no face."""
    obama, biden = photos["obama"], photos["biden2"]
    noisy = np.clip(obama + np.random.default_rng(0).normal(0, 1.5, obama.shape), 0, 255).astype(np.uint8)
    frames = [obama, noisy, cv2.GaussianBlur(obama, (0, 0), 6), obama, biden, np.zeros_like(obama)]
    faces = [
        [Face(0, 0.95, 0.9, marked["obama"])],
        [Face(0, 0.95, 0.9, marked["obama"])],
        [Face(0, 0.95, 0.9, marked["obama"])],
        [Face(0, 0.30, 0.9, marked["obama"])],
        [Face(1, 0.97, 0.9, marked["biden2"])],
        [],
    ]
    for number, pixels in enumerate(frames, start=1):
        canvas = np.zeros((1400, 1400, 3), np.uint8)
        canvas[: pixels.shape[0], : pixels.shape[1]] = pixels
        write_image(folder / f"shot.{number:04d}.png", Image(canvas, ("R", "G", "B")))
    return list(zip(range(1, 7), faces, strict=True))


def test_extract_keeps_good_faces_and_says_why_others_were_skipped(tmp_path: Path, photos, marked) -> None:
    tracked = make_shot(tmp_path, photos, marked)
    source = open_source(tmp_path / "shot.####.png")
    faceset = extract_faceset(source, tracked, tmp_path / "faceset", ExtractOptions(size=256))

    assert [(entry.frame, entry.track_id) for entry in faceset.faces] == [(1, 0), (5, 1)]
    reasons = {(skip["frame"], skip["reason"]) for skip in faceset.skipped}
    assert reasons == {(2, "duplicate"), (3, "blurred"), (4, "low_confidence")}

    loaded = load_faceset(tmp_path / "faceset")
    assert loaded.size == 256 and loaded.face_type == "whole_face" and len(loaded.faces) == 2
    crop, mask = loaded.face(0), loaded.mask(0)
    assert crop.shape == (256, 256, 3) and mask.shape == (256, 256)
    assert read_image(tmp_path / "faceset" / loaded.faces[0].file).pixels.dtype == np.uint16
    # The crop is the plate seen through the recorded transform: its landmarks sit where the index says.
    to_aligned = np.array(loaded.faces[0].to_aligned)
    assert np.allclose(to_aligned, alignment_transform(marked["obama"]))
    aligned_landmarks = np.array(loaded.faces[0].landmarks)
    assert np.allclose(aligned_landmarks, transform_points(marked["obama"], to_aligned), atol=1e-5)
    nose = aligned_landmarks[1] * 256
    assert mask[int(nose[1]), int(nose[0])] == pytest.approx(1.0, abs=0.01) and mask[2, 2] < 0.01
    # Plate pixels and the crop agree at the nose tip (crop is sRGB in [0, 1] like the 8-bit photo).
    nose_plate = marked["obama"][1]
    plate_value = photos["obama"][int(nose_plate[1]), int(nose_plate[0])] / 255.0
    assert np.abs(crop[int(nose[1]), int(nose[0])] - plate_value).max() < 0.08
    # Only the kept faces' files remain (the blurred one was written, then removed).
    assert sorted(p.name for p in (tmp_path / "faceset" / "faces").iterdir()) == sorted(
        Path(entry.file).name for entry in loaded.faces)


def test_track_choice_every_and_refusals(tmp_path: Path, photos, marked) -> None:
    tracked = make_shot(tmp_path, photos, marked)
    source = open_source(tmp_path / "shot.####.png")
    only_biden = extract_faceset(source, tracked, tmp_path / "b", ExtractOptions(faces=FaceSelection(track_ids=(1,))))
    assert [entry.track_id for entry in only_biden.faces] == [1]
    every_other = extract_faceset(source, tracked, tmp_path / "e", ExtractOptions(every=2))
    assert [entry.frame for entry in every_other.faces] == [1, 5]  # frames 1, 3 (blurred), 5

    with pytest.raises(FacesetError, match="a faceset is already there"):
        extract_faceset(source, tracked, tmp_path / "b", ExtractOptions())
    with pytest.raises(FacesetError, match="face size 300 is not supported; use 128 to 1024 in steps of 64"):
        extract_faceset(source, tracked, tmp_path / "x", ExtractOptions(size=300))
    with pytest.raises(FacesetError, match=r"no face was kept \(low_confidence\)"):
        extract_faceset(source, tracked, tmp_path / "n", ExtractOptions(min_score=0.99))
    with pytest.raises(FacesetError, match="not a faceset"):
        load_faceset(tmp_path)


def test_people_unreliable_landmarks_and_unknown_ids(tmp_path: Path, photos, marked) -> None:
    tracked = make_shot(tmp_path, photos, marked)
    for _, faces in tracked:
        for face in faces:
            face.person = 3 if face.track_id == 0 else 8
    source = open_source(tmp_path / "shot.####.png")
    only_biden = extract_faceset(source, tracked, tmp_path / "p", ExtractOptions(faces=FaceSelection(people=(8,))))
    assert [(entry.frame, entry.track_id) for entry in only_biden.faces] == [(5, 1)]
    assert only_biden.skipped == []  # obama's faces were not looked at, so not skipped either

    with pytest.raises(TrackFileError) as error:
        extract_faceset(source, tracked, tmp_path / "x", ExtractOptions(faces=FaceSelection(people=(7,))),
                        track_name="sh010.track.json")
    assert str(error.value) == "--person 7: not in sh010.track.json; people there: 3, 8"
    with pytest.raises(TrackFileError, match=r"--track-id 4: not in the faces tracked in .*; track ids there: 0, 1$"):
        extract_faceset(source, tracked, tmp_path / "x", ExtractOptions(faces=FaceSelection(track_ids=(4,))))
    assert not (tmp_path / "x").exists()

    tracked[0][1][0].landmarks_reliable = False  # e.g. a face filled in between two detections
    faceset = extract_faceset(source, tracked, tmp_path / "u", ExtractOptions())
    assert [(entry.frame, entry.track_id) for entry in faceset.faces] == [(2, 0), (5, 1)]  # 2 no longer repeats 1
    assert {(skip["frame"], skip["reason"]) for skip in faceset.skipped} == {
        (1, "unreliable_landmarks"), (3, "blurred"), (4, "low_confidence")}


def test_extract_command_picks_a_person_from_a_track_file(tmp_path: Path, photos, marked, capsys) -> None:
    from latentswap_core.cli import main
    from latentswap_core.track.trackfile import FrameFaces, ShotTrack, TrackedFace, write_track_file

    tracked = make_shot(tmp_path, photos, marked)
    people = {0: 0, 1: 1}
    frames = [FrameFaces(number, [
        TrackedFace(face.track_id, face.score, face.landmark_confidence,
                    (*face.landmarks.min(axis=0), *face.landmarks.max(axis=0)), face.landmarks,
                    alignment_transform(face.landmarks), person=people[face.track_id]) for face in faces])
        for number, faces in tracked]
    track_file = tmp_path / "shot.track.json"
    write_track_file(track_file, ShotTrack("shot.####.png", 1400, 1400, frames))
    plate = str(tmp_path / "shot.####.png")

    assert main(["extract", plate, "-o", str(tmp_path / "biden"), "--track", str(track_file), "--person", "1",
                 "--size", "128"]) == 0
    kept = load_faceset(tmp_path / "biden")
    assert [(entry.frame, entry.track_id) for entry in kept.faces] == [(5, 1)]
    assert capsys.readouterr().out.startswith(f"wrote {tmp_path / 'biden' / 'faceset.json'}: 1 faces at 128 px")

    assert main(["extract", plate, "-o", str(tmp_path / "nobody"), "--track", str(track_file), "--person", "7"]) == 2
    assert capsys.readouterr().err == ("latentswap: error: --person 7: not in shot.track.json; people there: 0, 1\n")
    assert main(["extract", plate, "-o", str(tmp_path / "nobody"), "--track", str(track_file), "--frames", "1-4",
                 "--person", "1"]) == 2  # person 1 is only in frame 5
    assert capsys.readouterr().err == ("latentswap: error: --person 1: not in shot.track.json, frames 1-4; people "
                                       "there: 0\n")
    assert not (tmp_path / "nobody").exists()


def test_a_data_window_offset_is_honoured(tmp_path: Path, photos, marked) -> None:
    """An EXR whose data window starts at (100, 50) of its display window: landmarks are display pixels."""
    srgb = photos["obama"].astype(np.float32) / 255.0
    height, width = srgb.shape[:2]
    plain = tmp_path / "plain"
    window = tmp_path / "window"
    for folder in (plain, window):
        folder.mkdir()
    write_image(plain / "p.0001.exr", Image(srgb, ("R", "G", "B")))
    write_image(window / "p.0001.exr", Image(srgb, ("R", "G", "B"), origin=(100, 50),
                                              display_window=(0, 0, width + 200, height + 100)))
    options = ExtractOptions(size=128, colorspace="sRGB - Texture")
    first = extract_faceset(open_source(plain / "p.####.exr"), [(1, [Face(0, 0.9, 0.9, marked["obama"])])],
                            tmp_path / "a", options)
    shifted = marked["obama"] + np.array([100.0, 50.0])
    second = extract_faceset(open_source(window / "p.####.exr"), [(1, [Face(0, 0.9, 0.9, shifted)])],
                             tmp_path / "b", options)
    assert np.abs(first.face(0) - second.face(0)).max() < 1e-3
