"""`latentswap eval`: each metric on constructed shots with known answers, and the command end to end."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import shots
from helpers import latentswap

from latentswap_core.evaluate import EvalOptions, evaluate_shot, metrics, pose
from latentswap_core.identity import SAME_PERSON_DISTANCE
from latentswap_core.track import TrackOptions, track_source
from latentswap_core.track.second_detector import SecondDetectorOptions

SIZE = (640, 360)
FRAMES = 3

# The shots' faces are frontal and large: the mesh finds them all, and the second detector (dlib's CNN, for
# profiles and small faces; tests/test_track_clip.py) would only add a second a run.
MESH_ONLY = TrackOptions(second=SecondDetectorOptions(enabled=False))


def poses(angle: float = 0.0) -> list[list[shots.Pose]]:
    """A face drifting right, turning slowly from ``angle``."""
    return [[shots.Pose(angle=angle + 1.0 * t, scale=0.6, x=300.0 + 8 * t, y=185.0)] for t in range(FRAMES)]


@pytest.fixture(scope="module")
def biden_shot(shared_dir: Path) -> shots.Shot:
    return shots.render_shot([shots.load_photo("biden2", shared_dir)], poses(), noise_sigma=2.0, size=SIZE)


@pytest.fixture(scope="module")
def obama_shot(shared_dir: Path) -> shots.Shot:
    """The same poses with another real person: a perfect swap of biden2 by obama."""
    return shots.render_shot([shots.load_photo("obama", shared_dir)], poses(), noise_sigma=2.0, size=SIZE)


@pytest.fixture(scope="module")
def biden_track(biden_shot):
    return track_source(shots.ArraySource(biden_shot.frames), MESH_ONLY)


@pytest.fixture(scope="module")
def obama_track(obama_shot):
    return track_source(shots.ArraySource(obama_shot.frames), MESH_ONLY)


def test_metrics_of_identical_images_are_perfect() -> None:
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (60, 80, 3)).astype(np.float32)
    mask = np.zeros((60, 80), np.float32)
    mask[10:50, 20:60] = 1.0
    assert metrics.masked_psnr(image, image, mask) == metrics.PSNR_CAP_DB
    assert metrics.masked_ssim(image, image, mask) == pytest.approx(1.0)
    assert metrics.changed_outside(image, image, mask == 0) == 0
    assert metrics.flicker([image, image * 0.9], [image, image * 0.9], [mask, mask]) == [None, pytest.approx(0.0)]
    noisy = image + np.float32(0.1) * (mask[:, :, None] > 0)
    assert metrics.masked_psnr(noisy, image, mask) == pytest.approx(20.0, abs=1e-3)  # 10 log10(1 / 0.01)
    assert metrics.changed_outside(noisy, image, mask == 0) == 0
    leaked = noisy.copy()
    leaked[0, :5] += 0.5
    assert metrics.changed_outside(leaked, image, mask == 0) == 5
    flickering = metrics.flicker([image, image + 0.2], [image, image], [mask, mask])[1]
    assert flickering == pytest.approx(0.2, abs=1e-6)


def test_masked_psnr_weighs_every_pixel_of_a_soft_mask_to_its_edges() -> None:
    rng = np.random.default_rng(1)
    plate = rng.uniform(0, 1, (90, 120, 3)).astype(np.float32)
    result = plate + rng.normal(0, 0.05, plate.shape).astype(np.float32)  # a different error at every pixel
    mask = np.zeros((90, 120), np.float32)
    mask[7:61, 33:119] = rng.uniform(0.01, 1, (54, 86))  # soft, up to the frame's last column but one
    mask[60, 118], mask[7, 33] = 1.0, 1.0  # the box's corners count in full
    error = ((result.astype(np.float64) - plate) ** 2).mean(axis=2)
    weight = mask.astype(np.float64)
    expected = 10 * np.log10(1 / ((error * weight).sum() / weight.sum()))
    assert metrics.masked_psnr(result, plate, mask) == pytest.approx(expected, rel=1e-12)
    assert metrics.masked_psnr(result, plate, np.zeros_like(mask)) is None


def test_landmark_jitter_is_zero_for_steady_motion_and_counts_a_shake() -> None:
    base = pose.CANONICAL_MODEL[:, :2] * 20 + 300  # inter-ocular distance about 20 * 6.6 px
    steady = [base + [5.0 * t, 0.0] for t in range(5)]
    assert pose.landmark_jitter(steady)[0] is None and max(pose.landmark_jitter(steady)[1:4]) < 1e-9
    shaken = [points.copy() for points in steady]
    shaken[2] = shaken[2] + [pose.inter_ocular(base) * 0.1, 0.0]  # one frame 10% of the eye distance off
    assert pose.landmark_jitter(shaken)[2] == pytest.approx(0.2, rel=1e-6)


def test_identical_sequences_give_zero_flicker_perfect_fidelity_and_no_pose_change(biden_shot, biden_track,
                                                                                 tiny_facesets) -> None:
    source = shots.ArraySource(biden_shot.frames)
    result = evaluate_shot(source, source, EvalOptions(target=tiny_facesets[0]), biden_track, biden_track)
    assert len(result.frames) == FRAMES and all(row["face"] for row in result.frames)
    for row in result.frames:
        assert row["changed_outside"] == 0 and row["psnr"] == metrics.PSNR_CAP_DB
        assert row["ssim"] == pytest.approx(1.0) and row["pose_error"] < 0.01 and row["expression"] < 1e-6
        assert row["identity_to_source"] < 1e-6 and not row["identity_retrieved"]  # the plate face is the source
    assert [row["flicker"] for row in result.frames] == [None, 0.0, 0.0]
    assert result.summary["identity_retrieval_rate"] == 0.0
    assert result.summary["changed_outside_total"] == 0
    assert set(result.summary["skipped"]) == {"arcface", "fid", "lpips"}


def test_another_real_person_is_told_apart_from_the_plate_face(biden_shot, obama_shot, biden_track, obama_track,
                                                               tiny_facesets) -> None:
    plate, swapped = shots.ArraySource(biden_shot.frames), shots.ArraySource(obama_shot.frames)
    result = evaluate_shot(plate, swapped, EvalOptions(target=tiny_facesets[0]), biden_track, obama_track)
    for row in result.frames:
        assert row["identity_to_source"] > SAME_PERSON_DISTANCE
        assert row["identity_to_target"] < SAME_PERSON_DISTANCE < row["identity_to_source"]
        assert row["identity_retrieved"]
        assert row["changed_outside"] > 0  # no mask.Y: the photos differ beyond the landmark hull too
    assert result.summary["identity_retrieval_rate"] == 1.0
    # against the dst faceset as source: same answer
    with_source = evaluate_shot(plate, swapped, EvalOptions(target=tiny_facesets[0], source=tiny_facesets[1]),
                                biden_track, obama_track)
    assert with_source.summary["identity_retrieval_rate"] == 1.0


def test_a_person_is_followed_across_track_ids(biden_shot, biden_track, tiny_facesets) -> None:
    import copy

    from latentswap_core.errors import TrackFileError
    from latentswap_core.face_selection import FaceSelection

    track = copy.deepcopy(biden_track)  # as if a cut ended track 0 after the first frame and track 7 took over
    for entry in track.frames:
        for face in entry.faces:
            face.person = 4
            if entry is not track.frames[0]:
                face.track_id = 7
    source = shots.ArraySource(biden_shot.frames)
    person = evaluate_shot(source, source, EvalOptions(target=tiny_facesets[0], faces=FaceSelection(people=(4,))),
                           track, biden_track)
    assert [row["face"] for row in person.frames] == [True] * FRAMES
    by_track = evaluate_shot(source, source, EvalOptions(target=tiny_facesets[0]), track, biden_track)
    assert [row["face"] for row in by_track.frames] == [True] + [False] * (FRAMES - 1)  # default: the first track
    with pytest.raises(TrackFileError, match="--person 2: not in sh010.track.json; people there: 4$"):
        evaluate_shot(source, source, EvalOptions(target=tiny_facesets[0], faces=FaceSelection(people=(2,))),
                      track, biden_track, track_name="sh010.track.json")


def test_pose_error_follows_an_in_plane_rotation(shared_dir: Path) -> None:
    photo = shots.load_photo("obama2", shared_dir)
    frames = shots.render_shot([photo], [[shots.Pose(angle=a, scale=0.6, x=320.0, y=185.0)] for a in (0.0, 15.0)],
                               noise_sigma=0.0, size=SIZE).frames
    track = track_source(shots.ArraySource(frames, continuous=False), MESH_ONLY)
    upright, turned = (entry.faces[0].landmarks for entry in track.frames)
    yaw0, pitch0, roll0 = pose.head_pose(upright, SIZE)
    yaw1, pitch1, roll1 = pose.head_pose(turned, SIZE)
    assert roll1 - roll0 == pytest.approx(15.0, abs=2.0)
    assert abs(yaw1 - yaw0) < 3.0 and abs(pitch1 - pitch0) < 3.0
    error = pose.rotation_difference(pose.head_rotation(upright, SIZE), pose.head_rotation(turned, SIZE))
    assert error == pytest.approx(15.0, abs=2.0)
    assert pose.expression_difference(upright, turned) < 0.03  # the same face, only turned


def write_sequence(frames: list[np.ndarray], folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{name}.{1001 + t:04d}.png"), frame[:, :, ::-1])
    return folder / f"{name}.####.png"


def test_cli_writes_the_report_and_rejects_bad_input(biden_shot, obama_shot, tiny_facesets, tmp_path: Path) -> None:
    plate = write_sequence(biden_shot.frames, tmp_path / "plate", "plate")
    swapped = write_sequence(obama_shot.frames, tmp_path / "swapped", "swap")
    report = tmp_path / "report"
    done = latentswap("eval", "--plate", str(plate), "--swapped", str(swapped), "--target", str(tiny_facesets[0]),
                      "-o", str(report), "--progress-json", timeout=300)
    assert done.returncode == 0, done.stderr
    assert (report / "index.html").is_file() and (report / "contact_sheet.png").is_file()
    summary = json.loads((report / "summary.json").read_text())
    expected = {"inputs", "metrics", "frames", "identity_retrieval_rate", "changed_outside_total", "skipped"}
    assert expected <= set(summary)
    for key in ("identity_to_target", "identity_to_source", "pose_error", "expression", "psnr", "ssim", "flicker",
                "jitter_plate", "jitter_result"):
        assert set(summary["metrics"][key]) == {"mean", "median", "worst", "count"}, key
    assert len(summary["frames"]) == FRAMES and summary["identity_retrieval_rate"] == 1.0
    assert "identity.png" in (report / "index.html").read_text()
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert {"start", "progress", "end", "message"} <= {event["event"] for event in events}

    shifted = write_sequence(obama_shot.frames, tmp_path / "shifted", "swap")  # frames 1001-1003 ...
    (tmp_path / "shifted" / "swap.1001.png").rename(tmp_path / "shifted" / "swap.1004.png")  # ... now 1002-1004
    done = latentswap("eval", "--plate", str(plate), "--swapped", str(shifted), "--target", str(tiny_facesets[0]),
                      "-o", str(tmp_path / "r2"))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "only in the plate: 1001" in done.stderr and "only in the swapped sequence: 1004" in done.stderr

    (tmp_path / "swapped" / "swap.1002.png").unlink()
    done = latentswap("eval", "--plate", str(plate), "--swapped", str(swapped), "--target", str(tiny_facesets[0]),
                      "-o", str(tmp_path / "r2"))
    assert done.returncode == 2 and "1002" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    done = latentswap("eval", "--plate", str(plate), "--swapped", str(swapped), "--target", str(tiny_facesets[0]),
                      "-o", str(tmp_path / "r2"), "--frames", "1001-1003")
    assert done.returncode == 2 and "1002" in done.stderr and "missing" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "r2").exists()

    (tmp_path / "plate" / "index.html").write_text("the user's own page")  # a report into the plate's folder
    done = latentswap("eval", "--plate", str(plate), "--swapped", str(shifted), "--target", str(tiny_facesets[0]),
                      "-o", str(tmp_path / "plate"))
    assert done.returncode == 2 and "holds other files" in done.stderr
    assert (tmp_path / "plate" / "index.html").read_text() == "the user's own page"


def test_changed_outside_compares_at_the_plate_precision() -> None:
    from latentswap_core.evaluate.run import _changed_outside
    from latentswap_core.io import Image

    rng = np.random.default_rng(1)
    plate = Image(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8), ("R", "G", "B"))
    # what swap writes for an 8-bit movie: the plate's values in half floats (they round, but back to the same codes)
    stored = (plate.pixels.astype(np.float32) / 255).astype(np.float16)
    assert not np.array_equal(stored.astype(np.float64), plate.pixels / 255)  # half cannot hold k/255 exactly
    outside = np.zeros((40, 60), np.float32)
    assert _changed_outside(plate, Image(stored, ("R", "G", "B")), outside) == 0
    changed = stored.copy()
    changed[3, 4, 1] = np.float16((int(plate.pixels[3, 4, 1]) + 1) % 256 / 255)  # one code value
    assert _changed_outside(plate, Image(changed, ("R", "G", "B")), outside) == 1
    sixteen = Image((plate.pixels.astype(np.uint16) * 257 + 3), ("R", "G", "B"))
    as_float = Image(sixteen.pixels.astype(np.float32) / 65535, ("R", "G", "B"))
    assert _changed_outside(sixteen, as_float, outside) == 0
    as_half = Image(as_float.pixels.astype(np.float16), ("R", "G", "B"))  # 11 bits: 16-bit codes do not survive
    assert _changed_outside(sixteen, as_half, outside) > 1000


def test_the_grid_measure_sees_an_8px_codec_grid_and_detail_sees_blur(face_photo) -> None:
    crop = cv2.resize(face_photo, (128, 128), interpolation=cv2.INTER_AREA).astype(np.float32)
    if crop.max() > 1.5:
        crop = crop / 255
    mask = np.zeros((128, 128), np.float32)
    mask[20:110, 24:104] = 1.0
    clean = metrics.grid_energy(crop, 8, mask)
    rows, cols = np.mgrid[0:128, 0:128]
    lines = ((rows % 8 == 0) | (cols % 8 == 0))[..., None]  # one line per 8 px block edge

    def gridded(strength: float, period: int = 8) -> float:
        return metrics.grid_energy(np.clip(crop + strength * lines, 0, 1), period, mask)

    assert clean < 2.0
    assert gridded(0.02) > 1.4 * clean  # 5 code values of 8 bits: faint, and seen
    assert gridded(0.05) > 3 * clean and gridded(0.05) > gridded(0.02)
    assert metrics.grid_energy(crop, 16, mask) < 2.0
    blurred = cv2.GaussianBlur(crop, (0, 0), 2.0)
    assert metrics.detail_ratio(crop, crop, mask) == pytest.approx(1.0)
    assert metrics.detail_ratio(blurred, crop, mask) < 0.6
    assert metrics.grid_energy(crop[:20, :20], 8) is None  # under four periods: no figure


def test_the_target_may_be_a_person_of_a_track_file(biden_shot, obama_shot, biden_track, obama_track) -> None:
    from latentswap_core.evaluate.run import PersonFaces

    plate, swapped = shots.ArraySource(biden_shot.frames), shots.ArraySource(obama_shot.frames)
    for entry in obama_track.frames:
        for face in entry.faces:
            face.person = 3
    obama = PersonFaces(obama_track, swapped, 3, "obama.track.json")
    result = evaluate_shot(plate, swapped, EvalOptions(target=None, target_person=obama), biden_track, obama_track)
    assert result.summary["identity_retrieval_rate"] == 1.0
    assert result.summary["metrics"]["identity_to_target"]["mean"] < 0.1  # the swap's own frames are the target
    biden = PersonFaces(biden_track, plate, biden_track.frames[0].faces[0].person, "biden.track.json")
    result = evaluate_shot(plate, swapped, EvalOptions(target=None, target_person=biden), biden_track, obama_track)
    assert result.summary["metrics"]["identity_to_target"]["mean"] > SAME_PERSON_DISTANCE  # obama is not biden
    with pytest.raises(Exception, match="--person 9: not in obama.track.json"):
        evaluate_shot(plate, swapped, EvalOptions(target=None, target_person=PersonFaces(obama_track, swapped, 9,
                                                                                           "obama.track.json")),
                      biden_track, obama_track)


@pytest.mark.parametrize("storage", ["8-bit sRGB", "half-float ACEScg"])
def test_the_result_tracked_while_it_is_measured_gives_what_a_track_made_first_gives(
        biden_shot, obama_shot, biden_track, tiny_facesets, storage: str) -> None:
    from latentswap_core import color

    frames = {"plate": biden_shot.frames, "result": obama_shot.frames}
    if storage == "half-float ACEScg":  # as the swap writes a VFX plate's frames
        frames = {role: [color.convert(frame.astype(np.float32) / 255, "sRGB - Texture", "ACEScg").astype(np.float16)
                         for frame in shot] for role, shot in frames.items()}
    plate, swapped = shots.ArraySource(frames["plate"]), shots.ArraySource(frames["result"])
    options = EvalOptions(target=tiny_facesets[0])
    colorspace = color.default_colorspace(frames["result"][0].dtype)
    tracked_first = evaluate_shot(plate, swapped, options, biden_track,
                                  track_source(swapped, TrackOptions(colorspace=colorspace)))
    tracked_while_measured = evaluate_shot(plate, swapped, options, biden_track)
    assert all(row.get("pose_error") is not None for row in tracked_first.frames)
    assert repr(tracked_while_measured.frames) == repr(tracked_first.frames)  # every value, in the same order
    assert repr(tracked_while_measured.summary) == repr(tracked_first.summary)
