"""The dlib identity descriptor on real photos and on aligned crops made by `latentswap extract`."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import latentswap

from latentswap_core.errors import ModelError
from latentswap_core.faceset import load_faceset
from latentswap_core.identity import SAME_PERSON_DISTANCE, DlibIdentity, identity_distance, mean_descriptor
from latentswap_core.io import read_image

PEOPLE = {"obama": ("obama", "obama2", "obama3"), "biden": ("biden", "biden2")}


@pytest.fixture(scope="module")
def identity() -> DlibIdentity:
    return DlibIdentity()


def photo(shared_dir: Path, name: str) -> np.ndarray:
    return read_image(shared_dir / "data" / "faces" / f"{name}.jpg").pixels


def assert_same_person_closer(descriptors: dict[str, list[np.ndarray]]) -> None:
    """Every pair of one person is nearer than the threshold, every pair of two people farther."""
    (a_name, a), (b_name, b) = descriptors.items()
    for faces in (a, b):
        for i, first in enumerate(faces):
            for second in faces[i + 1:]:
                assert identity_distance(first, second) < SAME_PERSON_DISTANCE
    for first in a:
        for second in b:
            assert identity_distance(first, second) > SAME_PERSON_DISTANCE, (a_name, b_name)


def test_photos_of_one_person_are_closer_than_of_two(identity: DlibIdentity, shared_dir: Path) -> None:
    descriptors = {person: [identity.describe(photo(shared_dir, name)) for name in names]
                   for person, names in PEOPLE.items()}
    for faces in descriptors.values():
        for descriptor in faces:
            assert descriptor is not None and descriptor.shape == (128,) and descriptor.dtype == np.float32
    assert_same_person_closer(descriptors)
    obama = mean_descriptor(descriptors["obama"])
    assert identity_distance(obama, descriptors["obama"][0]) < identity_distance(obama, descriptors["biden"][0])


def test_float_image_gives_the_uint8_descriptor(identity: DlibIdentity, shared_dir: Path) -> None:
    pixels = photo(shared_dir, "biden2")
    as_float = identity.describe(pixels.astype(np.float32) / 255)
    assert identity_distance(as_float, identity.describe(pixels)) < 1e-5


def test_no_face_gives_none(identity: DlibIdentity, shared_dir: Path) -> None:
    assert identity.describe(np.full((300, 400, 3), 128, np.uint8)) is None
    background = photo(shared_dir, "obama")[:, :100]  # the strip left of the face
    assert identity.describe(background) is None


def test_missing_models_say_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="shape_predictor_5_face_landmarks.dat is missing; install"):
        DlibIdentity(tmp_path).describe(np.zeros((64, 64, 3), np.uint8))


@pytest.fixture(scope="module")
def aligned_crops(tmp_path_factory, shared_dir: Path) -> dict[int, dict[str, list[np.ndarray]]]:
    """size -> person -> aligned crops (float RGB), extracted by `latentswap extract` at 128 and 256 px."""
    root = tmp_path_factory.mktemp("identity_facesets")
    crops: dict[int, dict[str, list[np.ndarray]]] = {}
    for person, names in PEOPLE.items():
        photos = root / f"{person}_photos"
        photos.mkdir()
        for name in names:
            shutil.copy(shared_dir / "data" / "faces" / f"{name}.jpg", photos)
        for size in (128, 256):
            faceset_folder = root / f"{person}_{size}"
            done = latentswap("extract", str(photos), "-o", str(faceset_folder), "--size", str(size))
            assert done.returncode == 0, done.stderr
            faceset = load_faceset(faceset_folder)
            crops.setdefault(size, {})[person] = [faceset.face(i) for i in range(len(faceset.faces))]
    return crops


@pytest.mark.parametrize("size", [128, 256])
def test_aligned_crops_of_one_person_are_closer(identity: DlibIdentity, aligned_crops, size: int) -> None:
    crops = aligned_crops[size]
    assert {person: len(faces) for person, faces in crops.items()} == {"obama": 3, "biden": 2}
    assert_same_person_closer({person: [identity.describe_aligned(face) for face in faces]
                               for person, faces in crops.items()})


def test_describing_aligned_crops_without_detection_never_builds_the_face_detector(aligned_crops) -> None:
    """What the tracker does for every face it groups into people: dlib's HOG detector (0.3 s to build, at every
    `latentswap track`) is not needed there."""
    fresh = DlibIdentity()
    assert fresh.describe_aligned(aligned_crops[128]["obama"][0], detect=False).shape == (128,)
    assert fresh._detector is None


def test_aligned_crop_without_a_detection_still_gets_a_descriptor(identity: DlibIdentity, aligned_crops) -> None:
    """A heavily blurred crop (as an undertrained swap decodes) escapes the detector; the fixed face box is used."""
    import cv2

    crop = aligned_crops[128]["obama"][0]
    blurred = cv2.GaussianBlur(crop, (0, 0), 10)
    assert identity.describe(blurred) is None
    descriptor = identity.describe_aligned(blurred)
    assert descriptor.shape == (128,) and np.isfinite(descriptor).all()
