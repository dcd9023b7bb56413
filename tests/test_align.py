"""Alignment: the similarity fit, the plate <-> crop matrices and warps (sub-pixel), face types, bad input.

Landmarks come from mediapipe Face Mesh run on the real portraits in ../shared/data/faces.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from latentswap_core.align import (
    FACE_TYPES,
    STABLE_INDICES,
    TEMPLATE,
    alignment_transform,
    crop_matrix,
    invert_affine,
    opencv_matrix,
    plate_coverage,
    template_points,
    transform_points,
    umeyama,
    warp_to_aligned,
    warp_to_plate,
)
from latentswap_core.align.template import LEFT_EYE_CORNERS, NOSE_TIP_INDEX, RIGHT_EYE_CORNERS
from latentswap_core.align.transform import to_homogeneous
from latentswap_core.errors import AlignmentError, LatentSwapError
from latentswap_core.io import read_image

SIZES = (128, 256, 1024)


def face_mesh(rgb: np.ndarray) -> np.ndarray:
    """The 478 Face Mesh landmarks of the one face in ``rgb`` (uint8), in plate pixels (+0.5 centres)."""
    import mediapipe as mp

    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as mesh:
        result = mesh.process(np.ascontiguousarray(rgb[:, :, :3]))
    assert result.multi_face_landmarks, "Face Mesh found no face"
    height, width = rgb.shape[:2]
    return np.array([[point.x * width, point.y * height] for point in result.multi_face_landmarks[0].landmark])


@pytest.fixture(scope="module")
def landmarks(face_photo: np.ndarray) -> np.ndarray:
    return face_mesh(face_photo)


@pytest.fixture(scope="module")
def portrait_landmarks(shared_dir, landmarks) -> dict[str, np.ndarray]:
    """Frontal, turned-and-talking and smiling faces of two people."""
    found = {"obama.jpg": landmarks}
    for name in ("obama2.jpg", "biden2.jpg"):
        found[name] = face_mesh(read_image(shared_dir / "data" / "faces" / name).pixels)
    return found


def similarity(angle_degrees: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    angle = math.radians(angle_degrees)
    cos, sin = scale * math.cos(angle), scale * math.sin(angle)
    return np.array([[cos, -sin, shift[0]], [sin, cos, shift[1]]])


def rotated_about_centre(to_aligned: np.ndarray, angle_degrees: float) -> np.ndarray:
    """``to_aligned`` followed by a turn of the aligned square about its centre."""
    turn = to_homogeneous(similarity(angle_degrees, 1.0, (0.0, 0.0)))
    about_centre = to_homogeneous(np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]])) @ turn
    about_centre = about_centre @ to_homogeneous(np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5]]))
    return (about_centre @ to_homogeneous(to_aligned))[:2]


def gaussian_dot(shape: tuple[int, int], centre: np.ndarray, sigma: float) -> np.ndarray:
    ys, xs = np.mgrid[: shape[0], : shape[1]] + 0.5
    return np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * sigma**2)).astype(np.float32)


def centroid(image: np.ndarray, around: np.ndarray, radius: int) -> np.ndarray:
    """Intensity centroid, in +0.5-centre pixel coordinates, of the window of ``radius`` around ``around``."""
    x0, y0 = (max(int(v) - radius, 0) for v in around)
    window = image[y0 : int(around[1]) + radius + 1, x0 : int(around[0]) + radius + 1].astype(np.float64)
    ys, xs = np.mgrid[: window.shape[0], : window.shape[1]] + 0.5
    return np.array([(xs * window).sum() + x0 * window.sum(), (ys * window).sum() + y0 * window.sum()]) / window.sum()


# 1. The similarity fit


@pytest.mark.parametrize("seed", range(5))
def test_umeyama_recovers_a_known_similarity(landmarks, seed):
    rng = np.random.default_rng(seed)
    known = similarity(rng.uniform(-20, 20), rng.uniform(0.7, 1.3), tuple(rng.uniform(-300, 300, 2)))
    found = umeyama(landmarks, transform_points(landmarks, known))
    np.testing.assert_allclose(found, known, rtol=0, atol=1e-9)


@pytest.mark.parametrize("face_type", FACE_TYPES)
@pytest.mark.parametrize("seed", range(3))
def test_alignment_moves_with_the_face(landmarks, face_type, seed):
    """Moving the face by S changes the transform by S^-1: the aligned face does not move."""
    rng = np.random.default_rng(seed)
    moved = similarity(rng.uniform(-20, 20), rng.uniform(0.7, 1.3), tuple(rng.uniform(-300, 300, 2)))
    original = alignment_transform(landmarks, face_type)
    after = alignment_transform(transform_points(landmarks, moved), face_type)
    expected = (to_homogeneous(original) @ np.linalg.inv(to_homogeneous(moved)))[:2]
    np.testing.assert_allclose(after, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        transform_points(transform_points(landmarks, moved), after), transform_points(landmarks, original),
        rtol=0, atol=1e-9,
    )


@pytest.mark.parametrize("face_type", FACE_TYPES)
def test_the_template_itself_aligns_onto_the_template(face_type):
    plate_landmarks = transform_points(TEMPLATE, similarity(7.0, 31.0, (640.0, 410.0)))
    aligned = transform_points(plate_landmarks, alignment_transform(plate_landmarks, face_type))
    np.testing.assert_allclose(aligned, template_points(face_type), rtol=0, atol=1e-9)


def test_only_stable_landmarks_steer_the_alignment(landmarks):
    """Opening the mouth wide (moving lips and jaw) leaves the transform exactly as it was."""
    moved = landmarks.copy()
    mouth_and_jaw = [13, 14, 17, 0, 61, 291, 152, 148, 377, 176, 400]
    assert not set(mouth_and_jaw) & set(STABLE_INDICES)
    moved[mouth_and_jaw, 1] += 40.0
    np.testing.assert_array_equal(alignment_transform(moved), alignment_transform(landmarks))


# 2. Matrices and warps are sub-pixel exact


@pytest.mark.parametrize("size", SIZES)
def test_landmarks_round_trip_through_crop_pixels(landmarks, size):
    to_crop = crop_matrix(alignment_transform(landmarks), size)
    in_crop = transform_points(landmarks, to_crop)
    np.testing.assert_allclose(transform_points(in_crop, invert_affine(to_crop)), landmarks, rtol=0, atol=1e-9)
    np.testing.assert_allclose(in_crop, transform_points(landmarks, alignment_transform(landmarks)) * size,
                               rtol=0, atol=1e-9)


def test_opencv_matrix_moves_pixel_centres_to_integers():
    scale_two = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    # Plate pixel 0's centre (0.5) lands on crop coordinate 1.0, which OpenCV calls 0.5: T(-0.5) M T(+0.5).
    np.testing.assert_allclose(opencv_matrix(scale_two), [[2.0, 0.0, 0.5], [0.0, 2.0, 0.5]])


# OpenCV resolves positions to 1/32 px, so x + 2y may be off by 3/64; its cubic (Keys, a = -0.75) does not
# reproduce a ramp exactly and adds up to 0.048 px of position-dependent shift per axis (see docs/alignment.md).
@pytest.mark.parametrize(("interpolation", "tolerance"), [("linear", 0.05), ("lanczos", 0.05 + 0.045),
                                                          ("cubic", 0.05 + 0.145)])
@pytest.mark.parametrize(("size", "angle"), [(128, 0.0), (256, 23.0), (1024, -31.0)])
def test_crop_samples_the_plate_where_the_matrix_says(landmarks, face_photo, size, angle, interpolation, tolerance):
    """A plate whose pixels hold x + 2y of their centres: every crop pixel must hold x + 2y of where it maps from."""
    height, width = face_photo.shape[:2]
    ys, xs = np.mgrid[:height, :width] + 0.5
    ramp = (xs + 2.0 * ys).astype(np.float32)
    to_aligned = rotated_about_centre(alignment_transform(landmarks), angle)
    crop = warp_to_aligned(ramp, to_aligned, size, interpolation)
    crop_ys, crop_xs = np.mgrid[:size, :size] + 0.5
    sources = transform_points(np.stack([crop_xs.ravel(), crop_ys.ravel()], axis=1), invert_affine(
        crop_matrix(to_aligned, size)))
    expected = (sources[:, 0] + 2.0 * sources[:, 1]).reshape(size, size)
    inside = np.all((sources > 8) & (sources < [width - 8, height - 8]), axis=1).reshape(size, size)
    assert inside.mean() > 0.5
    assert np.abs(crop - expected)[inside].max() < tolerance


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("angle", [0.0, 17.0, -33.0])
@pytest.mark.parametrize("where", ["nose tip", "outer eye corner"])
def test_a_dot_lands_where_transform_points_says_and_back(landmarks, face_photo, size, angle, where):
    plate_shape = face_photo.shape[:2]
    anchor = landmarks[NOSE_TIP_INDEX] if where == "nose tip" else landmarks[LEFT_EYE_CORNERS[0]]
    dot = anchor + np.array([0.37, -0.21])
    plate = gaussian_dot(plate_shape, dot, sigma=4.0)
    to_aligned = rotated_about_centre(alignment_transform(landmarks), angle)
    to_crop = crop_matrix(to_aligned, size)
    crop_px_per_plate_px = math.sqrt(np.linalg.det(to_crop[:, :2]))

    crop = warp_to_aligned(plate, to_aligned, size)
    predicted = transform_points(dot[np.newaxis], to_crop)[0]
    radius = math.ceil(24 * max(crop_px_per_plate_px, 0.25))
    in_crop = centroid(crop, predicted, radius)
    assert np.linalg.norm(in_crop - predicted) < 0.1 * max(crop_px_per_plate_px, 1.0)

    back = warp_to_plate(crop, to_aligned, plate_shape)
    assert np.linalg.norm(centroid(back, dot, 24) - dot) < 0.1


@pytest.mark.parametrize(("size", "tolerance"), [(256, 0.02), (512, 0.006)])
def test_a_crop_warped_back_matches_the_plate_on_the_face(landmarks, face_photo, size, tolerance):
    from latentswap_core.align import face_mask

    to_aligned = alignment_transform(landmarks)
    back = warp_to_plate(warp_to_aligned(face_photo, to_aligned, size), to_aligned, face_photo.shape)
    face = face_mask(landmarks, face_photo.shape, "whole_face") == 1.0
    assert face.sum() > 50_000
    assert np.abs(back - face_photo / 255.0)[face].mean() < tolerance
    assert back[:50, :50].max() == 0.0  # far from the face: nothing


def test_coverage_is_one_inside_the_crop_and_half_on_its_edge(landmarks, face_photo):
    to_aligned = alignment_transform(landmarks, "face")
    coverage = plate_coverage(to_aligned, 256, face_photo.shape)
    corners = transform_points(np.array([[0.0, 0.0], [1.0, 1.0], [0.5, 0.5]]), invert_affine(to_aligned))
    centre = corners[2].astype(int)
    assert coverage[centre[1], centre[0]] == pytest.approx(1.0)
    assert coverage.sum() == pytest.approx(1.0 / np.linalg.det(to_aligned[:, :2]), rel=0.01)  # the square's area
    assert coverage.min() == 0.0 and coverage.max() <= 1.0


def test_warps_keep_channels_and_scale_integers(landmarks, face_photo):
    to_aligned = alignment_transform(landmarks)
    as_float = warp_to_aligned(face_photo / 255.0, to_aligned, 128)
    from_uint8 = warp_to_aligned(face_photo, to_aligned, 128)
    assert from_uint8.dtype == np.float32 and from_uint8.shape == (128, 128, 3)
    np.testing.assert_allclose(from_uint8, as_float, atol=1e-5)
    six_channels = np.concatenate([face_photo, face_photo[:, :, ::-1]], axis=2)
    warped = warp_to_aligned(six_channels, to_aligned, 128)
    np.testing.assert_allclose(warped[:, :, 3:], from_uint8[:, :, ::-1], atol=1e-6)
    grey = warp_to_aligned(face_photo[:, :, 1], to_aligned, 128)
    np.testing.assert_allclose(grey, from_uint8[:, :, 1], atol=1e-6)
    assert warp_to_plate(grey, to_aligned, face_photo.shape).shape == face_photo.shape[:2]


# 3. Face types


def test_face_types_cover_more_and_more(landmarks):
    sides = [1.0 / math.sqrt(np.linalg.det(alignment_transform(landmarks, t)[:, :2])) for t in FACE_TYPES]
    assert sides[0] < sides[1] < sides[2]
    assert sides[1] / sides[0] == pytest.approx(1.335, abs=0.01)  # DeepFaceLab's padding 0.2109 -> 0.40 -> 0.70
    assert sides[2] / sides[0] == pytest.approx(1.867, abs=0.01)


@pytest.mark.parametrize("face_type", FACE_TYPES)
def test_every_face_puts_its_eyes_where_the_template_has_them(portrait_landmarks, face_type):
    template = template_points(face_type)
    template_eyes = np.array([template[list(LEFT_EYE_CORNERS)].mean(0), template[list(RIGHT_EYE_CORNERS)].mean(0)])
    assert template_eyes[0, 1] == pytest.approx(template_eyes[1, 1])  # level
    assert template_eyes.mean(axis=0)[0] == pytest.approx(0.5)  # centred
    for name, points in portrait_landmarks.items():
        aligned = transform_points(points, alignment_transform(points, face_type))
        eyes = np.array([aligned[list(LEFT_EYE_CORNERS)].mean(0), aligned[list(RIGHT_EYE_CORNERS)].mean(0)])
        assert np.abs(eyes - template_eyes).max() < 0.02, name


def test_what_each_face_type_covers(portrait_landmarks):
    brows, forehead_top, chin, cheeks = [105, 334], 10, 152, [234, 454]
    for name, points in portrait_landmarks.items():
        face = transform_points(points, alignment_transform(points, "face"))
        assert 0.02 < face[brows, 1].min() and face[chin, 1] < 0.98, name  # brows to chin
        assert face[forehead_top, 1] < 0.0, name  # but not the forehead
        off_centre = 0.08 if name == "obama2.jpg" else 0.02  # a turned head brings its nose round
        assert abs(face[NOSE_TIP_INDEX, 0] - 0.5) < off_centre, name
        assert abs(face[cheeks, 0].mean() - 0.5) < off_centre + 0.03, name
        whole = transform_points(points, alignment_transform(points, "whole_face"))
        assert 0.1 < whole[forehead_top, 1] and whole[chin, 1] < 0.95, name
        head = transform_points(points, alignment_transform(points, "head"))
        assert 0.25 < head[forehead_top, 1] and 0.15 < head[cheeks, 0].min() and head[cheeks, 0].max() < 0.85, name


# 5. Bad input


@pytest.mark.parametrize(
    "bad",
    [np.zeros((68, 2)), np.zeros((478, 3)), np.zeros(956), "landmarks", np.full((478, 2), "x")],
    ids=["68 points", "3 columns", "flat", "a string", "strings"],
)
def test_landmarks_of_the_wrong_shape_are_refused(bad):
    with pytest.raises(AlignmentError, match="landmarks") as error:
        alignment_transform(bad)
    assert "\n" not in str(error.value)


def test_nan_landmarks_are_refused_by_index(landmarks):
    bad = landmarks.copy()
    bad[33] = np.nan
    with pytest.raises(AlignmentError, match="landmarks 33 are NaN"):
        alignment_transform(bad)


@pytest.mark.parametrize("size", [127, 1025, 0, -256, 256.0, "256", True, None])
def test_crop_sizes_outside_128_to_1024_or_not_whole_are_refused(landmarks, face_photo, size):
    to_aligned = alignment_transform(landmarks)
    with pytest.raises(AlignmentError, match="crop size") as error:
        crop_matrix(to_aligned, size)
    assert "\n" not in str(error.value)
    with pytest.raises(AlignmentError, match="crop size"):
        warp_to_aligned(face_photo, to_aligned, size)


def test_other_mistakes_are_refused_with_one_line(landmarks, face_photo):
    to_aligned = alignment_transform(landmarks)
    mistakes = [
        lambda: alignment_transform(landmarks, "full"),
        lambda: alignment_transform(np.zeros((478, 2))),
        lambda: warp_to_aligned(face_photo, to_aligned, 256, interpolation="bicubic"),
        lambda: warp_to_aligned(face_photo, np.zeros((2, 3)), 256),
        lambda: warp_to_aligned(face_photo, np.eye(3), 256),
        lambda: warp_to_plate(np.zeros((256, 200, 3)), to_aligned, face_photo.shape),
        lambda: invert_affine(np.full((2, 3), np.nan)),
        lambda: transform_points(np.zeros((5, 3)), to_aligned),
    ]
    for mistake in mistakes:
        with pytest.raises(AlignmentError) as error:
            mistake()
        assert isinstance(error.value, LatentSwapError)
        assert str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("scale", [0.3, 1.0, 2.5])
def test_a_crop_from_its_source_region_equals_the_crop_from_the_whole_plate(scale: float) -> None:
    from latentswap_core import color
    from latentswap_core.align import aligned_source_region, from_data_window, warp_to_aligned

    rng = np.random.default_rng(4)
    plate = rng.uniform(0.0, 2.0, (300, 420, 3)).astype(np.float32)
    angle = np.radians(20.0)
    k = scale / 256.0  # normalised aligned units per plate pixel
    to_aligned = np.array([[k * np.cos(angle), k * np.sin(angle), -0.1], [-k * np.sin(angle), k * np.cos(angle), 0.05]])
    whole = warp_to_aligned(color.to_working(plate, "ACEScg"), to_aligned, 128)
    x0, y0, x1, y1 = aligned_source_region(to_aligned, 128, plate.shape)
    assert (x1 - x0) * (y1 - y0) < plate.shape[0] * plate.shape[1] or scale < 1.0
    region = color.to_working(plate[y0:y1, x0:x1], "ACEScg")
    assert np.array_equal(warp_to_aligned(region, from_data_window(to_aligned, (x0, y0)), 128), whole)
