"""The tracker on synthetic shots made from real photos, against their ground truth (tests/shots.py).

Figures are printed: run ``pytest -s tests/test_track_shots.py`` to see them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shots
from scipy.interpolate import CubicSpline

from latentswap_core.track import (
    FaceDetector,
    ShotTrack,
    ShotTracker,
    SmoothOptions,
    TrackedFace,
    TrackOptions,
    smooth_shot,
    track_source,
)
from latentswap_core.track.second_detector import SecondDetectorOptions


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    with FaceDetector() as shared:
        yield shared


def track_raw(shot: shots.Shot, detector: FaceDetector) -> ShotTrack:
    """The shot tracked without smoothing (smooth it with ``smooth_shot``), by the mesh alone: the second detector
    (dlib's CNN, for profiles and small faces; tests/test_track_clip.py) adds nothing to these frontal 300 px faces
    but a second a run."""
    options = TrackOptions(smooth=SmoothOptions(enabled=False), second=SecondDetectorOptions(enabled=False))
    with ShotTracker(options, detector=detector) as tracker:
        for t, frame in enumerate(shot.frames):
            tracker.add(1001 + t, frame)
        return tracker.finish("synthetic shot", *shots.PLATE_SIZE)


def face_of(track: ShotTrack, shot: shots.Shot, t: int, name: str) -> TrackedFace | None:
    """The tracked face nearest to where photo ``name`` is in frame t (None if the photo is absent)."""
    if name not in shot.faces[t]:
        return None
    transform = shot.transforms[t][shot.faces[t].index(name)]
    centre = shots.apply(transform, np.array([shots.PHOTO_FACES[name][:2]]))[0]
    faces = track.frames[t].faces
    return min(faces, key=lambda face: np.linalg.norm(face.landmarks.mean(axis=0) - centre)) if faces else None


def to_first_frame(shot: shots.Shot, t: int, name: str, points: np.ndarray) -> np.ndarray:
    """Plate points of frame t mapped back by the known motion into frame 0's plate."""
    first = shots.as3x3(shot.transforms[0][shot.faces[0].index(name)])
    now = shots.as3x3(shot.transforms[t][shot.faces[t].index(name)])
    return shots.apply((first @ np.linalg.inv(now))[:2], points)


def rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a - b) ** 2).sum(axis=-1).mean()))


def frame_to_frame_motion(series: np.ndarray) -> float:
    """RMS landmark motion between consecutive frames, px."""
    return float(np.sqrt((np.diff(series, axis=0) ** 2).sum(axis=-1).mean()))


def lag_frames(series: np.ndarray, truth: np.ndarray) -> float:
    """Delay (frames) of ``series`` against ``truth`` (T, N, 2): the shift of the truth, interpolated in time,
    that fits the series best; positive means the series trails."""
    count = len(truth)
    spline = CubicSpline(np.arange(count), truth.reshape(count, -1))
    inner = np.arange(3, count - 3)
    shifts = np.arange(-2.0, 2.0001, 0.01)
    errors = [((series[inner].reshape(len(inner), -1) - spline(inner - shift)) ** 2).mean() for shift in shifts]
    return float(shifts[int(np.argmin(errors))])


PROOF_PHOTOS = [("obama", "grace_hopper"), ("grace_hopper", "astronaut"), ("astronaut", "biden2")]


@pytest.mark.parametrize("name, second", PROOF_PHOTOS)
def test_landmarks_follow_the_known_motion(name: str, second: str, shared_dir: Path, detector: FaceDetector) -> None:
    """Rotation +-20 deg, scale 0.7-1.3, translation, exposure drift and noise; a face 300 px tall at scale 1."""
    shot = shots.proof_shot(shots.load_photo(name, shared_dir), shots.load_photo(second, shared_dir), count=16)
    raw = track_raw(shot, detector)
    smoothed = smooth_shot(raw)
    frames = [t for t in range(len(shot.frames)) if name in shot.faces[t]]
    first_raw, first_smooth = face_of(raw, shot, 0, name), face_of(smoothed, shot, 0, name)
    errors_raw, errors_smooth = [], []
    for t in frames[1:]:
        errors_raw.append(rms(to_first_frame(shot, t, name, face_of(raw, shot, t, name).landmarks),
                              first_raw.landmarks))
        errors_smooth.append(rms(to_first_frame(shot, t, name, face_of(smoothed, shot, t, name).landmarks),
                                 first_smooth.landmarks))
    error_raw = float(np.sqrt(np.mean(np.square(errors_raw))))
    error_smooth = float(np.sqrt(np.mean(np.square(errors_smooth))))
    print(f"\n{name}: landmark RMS error vs frame 0 after undoing the motion: {error_raw:.2f} px unsmoothed "
          f"(worst frame {max(errors_raw):.2f}), {error_smooth:.2f} px smoothed, over {len(errors_raw)} frames")
    assert error_raw < 1.5
    assert error_smooth < 1.5

    # Frame 5 holds no face: reported, not fatal; the face keeps its id across it.
    assert raw.frames_without_face == [1006]
    ids = {face_of(raw, shot, t, name).track_id for t in frames}
    assert len(ids) == 1, f"the face changed track id: {ids}"
    # The last two frames hold a second face, with its own stable id.
    others = {face.track_id for entry in raw.frames[-2:] for face in entry.faces} - ids
    assert [len(entry.faces) for entry in raw.frames[-2:]] == [2, 2] and len(others) == 1
    confidences = [face.landmark_confidence for entry in raw.frames for face in entry.faces]
    scores = [face.score for entry in raw.frames for face in entry.faces]
    print(f"  detection scores {min(scores):.2f}-{max(scores):.2f}, landmark confidence "
          f"{min(confidences):.2f}-{max(confidences):.2f}")
    assert min(scores) >= 0.5 and min(confidences) > 0.3


@pytest.mark.parametrize("noise", [4.0, 10.0])
def test_smoothing_removes_sensor_noise_jitter_on_a_still_face(noise: float, shared_dir: Path,
                                                               detector: FaceDetector) -> None:
    shot = shots.static_shot(shots.load_photo("obama", shared_dir), count=24, noise_sigma=noise)
    raw = track_raw(shot, detector)
    series_raw = np.stack([entry.faces[0].landmarks for entry in raw.frames])
    series_smooth = np.stack([entry.faces[0].landmarks for entry in smooth_shot(raw).frames])
    jitter_raw, jitter_smooth = frame_to_frame_motion(series_raw), frame_to_frame_motion(series_smooth)
    print(f"\nstill face, noise sigma {noise:g}/255: frame-to-frame RMS landmark motion {jitter_raw:.3f} px "
          f"unsmoothed, {jitter_smooth:.3f} px smoothed ({jitter_raw / jitter_smooth:.0f}x less)")
    assert jitter_smooth < 0.2
    assert jitter_smooth < jitter_raw / 3


def test_smoothing_adds_no_lag_on_fast_motion(shared_dir: Path, detector: FaceDetector) -> None:
    """A face swinging across the plate at up to 40 px/frame while turning; the lag is measured against the
    ground-truth motion, with the estimator checked on a known delay and on a causal filter."""
    name = "grace_hopper"
    shot = shots.fast_shot(shots.load_photo(name, shared_dir), count=24, speed=40.0)
    raw = track_raw(shot, detector)
    series_raw = np.stack([entry.faces[0].landmarks for entry in raw.frames])
    series_smooth = np.stack([entry.faces[0].landmarks for entry in smooth_shot(raw).frames])
    # Ground truth: the mean shape (frame 0's plate) moved by each frame's known transform.
    shape = np.mean([to_first_frame(shot, t, name, series_raw[t]) for t in range(len(series_raw))], axis=0)
    first = shots.as3x3(shot.transforms[0][0])
    truth = np.stack([shots.apply((shots.as3x3(shot.transforms[t][0]) @ np.linalg.inv(first))[:2], shape)
                      for t in range(len(series_raw))])
    lag_raw, lag_smooth = lag_frames(series_raw, truth), lag_frames(series_smooth, truth)
    causal = series_raw.copy()
    for t in range(1, len(causal)):
        causal[t] = 0.5 * series_raw[t] + 0.5 * causal[t - 1]
    lag_causal = lag_frames(causal, truth)
    print(f"\nfast shot (40 px/frame): lag {lag_raw:+.2f} frames unsmoothed, {lag_smooth:+.2f} smoothed "
          f"(a causal exponential filter, alpha 0.5, measures {lag_causal:+.2f}); RMS error to the truth "
          f"{rms(series_raw, truth):.2f} -> {rms(series_smooth, truth):.2f} px, jitter of the error "
          f"{frame_to_frame_motion(series_raw - truth):.3f} -> {frame_to_frame_motion(series_smooth - truth):.3f} px")
    assert lag_frames(np.concatenate([truth[:1], truth[:-1]]), truth) == pytest.approx(1.0, abs=0.02)
    assert lag_causal > 0.5
    assert abs(lag_smooth - lag_raw) < 0.5
    assert rms(series_smooth, truth) <= rms(series_raw, truth)


def test_crossing_faces_keep_their_ids(detector: FaceDetector) -> None:
    """Two faces swap sides; the one behind is hidden for a few frames and picked up again."""
    shot = shots.crossing_shot(shots.load_photo("astronaut"), shots.load_photo("grace_hopper"), count=14)
    track = track_raw(shot, detector)
    ids: dict[str, set[int]] = {"astronaut": set(), "grace_hopper": set()}
    hidden = []
    for t in range(len(shot.frames)):
        for name in ids:
            face = face_of(track, shot, t, name)
            centre = shots.apply(shot.transforms[t][shot.faces[t].index(name)],
                                 np.array([shots.PHOTO_FACES[name][:2]]))[0]
            if face is not None and np.linalg.norm(face.landmarks.mean(axis=0) - centre) < 30:
                ids[name].add(face.track_id)
            else:
                hidden.append((t, name))
    print(f"\ncrossing: ids {ids}; not seen (behind the other face): {hidden}")
    assert all(len(found) == 1 for found in ids.values()) and ids["astronaut"] != ids["grace_hopper"]
    assert len(hidden) <= 4
    left_first = [face for face in track.frames[0].faces]
    assert [face.track_id for face in left_first] == [0, 1]  # ids start left to right


def test_a_cut_gives_a_new_track_and_the_face_is_found_at_once(shared_dir: Path, detector: FaceDetector) -> None:
    photo = shots.load_photo("obama", shared_dir)
    poses = [[shots.Pose(angle=0.0, scale=0.9, x=500.0 + 4 * t, y=500.0)] for t in range(6)]
    poses += [[shots.Pose(angle=8.0, scale=1.2, x=1450.0 - 4 * t, y=560.0)] for t in range(6)]
    shot = shots.render_shot([photo], poses)
    result = track_source(shots.ArraySource(shot.frames), TrackOptions())
    ids = [[face.track_id for face in entry.faces] for entry in result.frames]
    print(f"\ncut after frame 1006: track ids per frame {ids}")
    assert ids == [[0]] * 6 + [[1]] * 6
    assert result.frames_without_face == [] and (result.width, result.height) == shots.PLATE_SIZE


def test_unrelated_photos_are_tracked_one_by_one(shared_dir: Path, detector: FaceDetector) -> None:
    """A folder of photos (a source that is not continuous): no ids carried over, no hints, no smoothing."""
    shot = shots.static_shot(shots.load_photo("obama", shared_dir), count=5)
    photos = track_source(shots.ArraySource(shot.frames, continuous=False), TrackOptions())
    assert [[face.track_id for face in entry.faces] for entry in photos.frames] == [[0], [1], [2], [3], [4]]
    for entry, frame in zip(photos.frames, shot.frames, strict=True):
        assert np.array_equal(entry.faces[0].landmarks, detector.detect(frame)[0].landmarks)
