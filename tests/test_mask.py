"""Face masks from the mesh: coverage per face type, the feathered edge, plate and aligned space agreeing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from latentswap_core.align import (
    FACE_TYPES,
    aligned_face_mask,
    alignment_transform,
    eyes_mouth_mask,
    face_mask,
    mask_outline,
    transform_points,
    warp_to_plate,
)
from latentswap_core.align.template import (
    CHIN_INDEX,
    EYE_CONTOURS,
    FOREHEAD_TOP_INDEX,
    LEFT_EYE_CORNERS,
    NOSE_TIP_INDEX,
    OUTER_LIP_INDICES,
)
from latentswap_core.errors import AlignmentError

FOREHEAD = [151, 108, 337]  # mid-forehead, well above the brows
BROWS = [105, 334, 66, 296]


@pytest.fixture(scope="module")
def landmarks(face_photo: np.ndarray) -> np.ndarray:
    """Face Mesh's 478 landmarks of obama.jpg in plate pixels (+0.5 centres)."""
    import mediapipe as mp

    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as mesh:
        result = mesh.process(np.ascontiguousarray(face_photo))
    height, width = face_photo.shape[:2]
    return np.array([[point.x * width, point.y * height] for point in result.multi_face_landmarks[0].landmark])


def at(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Mask values at the pixels holding ``points``."""
    points = np.atleast_2d(points)
    return mask[points[:, 1].astype(int), points[:, 0].astype(int)]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.mark.parametrize("face_type", FACE_TYPES)
def test_mask_is_one_on_the_face_and_zero_far_away(landmarks, face_photo, face_type):
    mask = face_mask(landmarks, face_photo.shape, face_type, feather_px=15.0)
    assert mask.dtype == np.float32 and mask.shape == face_photo.shape[:2]
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    assert at(mask, landmarks[[NOSE_TIP_INDEX, *LEFT_EYE_CORNERS]]).tolist() == [1.0, 1.0, 1.0]
    assert mask[5, 5] == 0.0 and mask[-5, -5] == 0.0 and mask[-5, 5] == 0.0


def test_whole_face_adds_the_forehead_and_head_the_hair(landmarks, face_photo):
    masks = {face_type: face_mask(landmarks, face_photo.shape, face_type) for face_type in FACE_TYPES}
    assert (at(masks["face"], landmarks[BROWS]) == 1.0).all()  # face: brows to chin ...
    assert (at(masks["face"], landmarks[FOREHEAD]) == 0.0).all()  # ... and no forehead
    assert (at(masks["whole_face"], landmarks[FOREHEAD]) == 1.0).all()
    eye_to_chin = np.linalg.norm(landmarks[CHIN_INDEX] - landmarks[list(LEFT_EYE_CORNERS)].mean(axis=0))
    above_the_mesh = landmarks[FOREHEAD_TOP_INDEX] - [0.0, 0.35 * eye_to_chin]  # the crown, in the hair
    assert at(masks["whole_face"], above_the_mesh) == 0.0 and at(masks["head"], above_the_mesh) == 1.0
    areas = [masks[face_type].sum() for face_type in FACE_TYPES]
    assert areas[0] < areas[1] < areas[2]
    face, whole = masks["face"] > 0.5, masks["whole_face"] > 0.5
    assert (face & ~whole).sum() < 0.005 * face.sum()  # whole_face holds the face


def test_outline_is_convex_and_holds_the_face_oval(landmarks):
    from latentswap_core.align import FACE_OVAL_INDICES

    outline = mask_outline(landmarks, "whole_face").astype(np.float32)
    assert cv2.isContourConvex(outline)
    for point in landmarks[list(FACE_OVAL_INDICES)]:
        assert cv2.pointPolygonTest(outline, tuple(map(float, point)), measureDist=True) >= -1e-3


@pytest.mark.parametrize("feather_px", [0.0, 20.0])
def test_feathered_edge_falls_monotonically_and_is_feather_wide(landmarks, face_photo, feather_px):
    mask = face_mask(landmarks, face_photo.shape, "whole_face", feather_px)
    x, y = landmarks[NOSE_TIP_INDEX].astype(int)
    rays = {"right": mask[y, x:], "left": mask[y, x::-1], "down": mask[y:, x], "up": mask[y::-1, x]}
    for direction, ray in rays.items():
        assert ray[0] == 1.0 and ray[-1] == 0.0, direction
        assert (np.diff(ray) <= 1e-7).all(), direction
        soft = ((ray > 0.02) & (ray < 0.98)).sum()
        if feather_px:
            assert 0.6 * feather_px <= soft <= 2.0 * feather_px, direction  # longer where the ray meets it aslant
        else:
            assert soft <= 3, direction  # an anti-aliased hard edge


@pytest.mark.parametrize("face_type", FACE_TYPES)
@pytest.mark.parametrize("size", [128, 512])
def test_aligned_mask_warped_back_matches_the_plate_mask(landmarks, face_photo, face_type, size):
    to_aligned = alignment_transform(landmarks, face_type)
    aligned = aligned_face_mask(landmarks, to_aligned, size, face_type, feather=0.02)
    back = warp_to_plate(aligned, to_aligned, face_photo.shape, interpolation="linear")
    plate = face_mask(landmarks, face_photo.shape, face_type)
    assert iou(back > 0.5, plate > 0.5) > 0.99


def test_aligned_mask_is_the_same_at_every_size(landmarks):
    to_aligned = alignment_transform(landmarks)
    small = aligned_face_mask(landmarks, to_aligned, 128, feather=0.05)
    large = aligned_face_mask(landmarks, to_aligned, 1024, feather=0.05)
    shrunk = cv2.resize(large, (128, 128), interpolation=cv2.INTER_AREA)
    assert np.abs(shrunk - small).max() < 0.02
    assert 0.3 < small.mean() < 0.8  # a face, not an empty or full square


def test_mask_of_a_face_partly_or_wholly_off_the_plate(landmarks, face_photo):
    height, width = face_photo.shape[:2]
    half_off = landmarks - [landmarks[NOSE_TIP_INDEX, 0], 0.0]  # the nose on the left edge
    mask = face_mask(half_off, face_photo.shape, "whole_face", feather_px=10.0)
    assert mask[int(landmarks[NOSE_TIP_INDEX, 1]), 0] == 1.0 and 0.0 < mask.mean() < 0.2
    far_away = landmarks + [10 * width, 10 * height]
    assert face_mask(far_away, face_photo.shape, "whole_face", feather_px=10.0).max() == 0.0


def test_mask_follows_the_face_in_crop_pixels(landmarks):
    to_aligned = alignment_transform(landmarks)
    in_crop = transform_points(landmarks, to_aligned) * 256
    np.testing.assert_allclose(face_mask(in_crop, (256, 256), "whole_face", feather_px=5.12),
                               aligned_face_mask(landmarks, to_aligned, 256, "whole_face", feather=0.02), atol=1e-5)


@pytest.mark.parametrize(
    "call",
    [
        lambda lm: face_mask(lm, (100, 100), "whole_face", feather_px=-1.0),
        lambda lm: face_mask(lm, (100, 100), "whole_face", feather_px=float("nan")),
        lambda lm: face_mask(lm, (100,), "whole_face"),
        lambda lm: face_mask(lm, (100, 100), "mid_face"),
        lambda lm: face_mask(lm[:68], (100, 100)),
        lambda lm: aligned_face_mask(lm, alignment_transform(lm), 100),
        lambda lm: aligned_face_mask(lm, alignment_transform(lm), 256, feather="soft"),
    ],
    ids=["negative feather", "nan feather", "bad shape", "unknown face type", "68 points", "small size", "feather"],
)
def test_bad_mask_requests_are_refused_with_one_line(landmarks, call):
    with pytest.raises(AlignmentError) as error:
        call(landmarks)
    assert "\n" not in str(error.value)


def test_eyes_mouth_mask_covers_the_eyes_and_mouth_only(landmarks, face_photo):
    mask = eyes_mouth_mask(landmarks, face_photo.shape, feather_px=2.0)
    pupils = landmarks[[468, 473]]  # the iris centres of the refined mesh
    mouth_corners = landmarks[[61, 291]]
    lids = landmarks[[159, 145, 386, 374]]  # upper and lower lid middles
    assert (at(mask, pupils) == 1).all() and (at(mask, lids) == 1).all() and (at(mask, mouth_corners) > 0.5).all()
    assert (at(mask, landmarks[[NOSE_TIP_INDEX, CHIN_INDEX, FOREHEAD_TOP_INDEX, *FOREHEAD]]) == 0).all()
    face = face_mask(landmarks, face_photo.shape, "face")
    share = mask.sum() / face.sum()
    assert 0.05 < share < 0.3, share  # eyes and mouth, not the face
    regions = [landmarks[list(indices)] for indices in (*EYE_CONTOURS, OUTER_LIP_INDICES)]
    assert all(at(mask, region.mean(axis=0)) == 1 for region in regions)
