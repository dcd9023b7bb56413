"""dlib's face descriptor network run without dlib (latentswap_core/identity/dlib_resnet.py): dlib's own
descriptors, on real faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from latentswap_core.cpu import cpu_threads
from latentswap_core.errors import ModelError
from latentswap_core.identity import DlibIdentity
from latentswap_core.identity.dlib_descriptor import (
    DETECTOR_MODEL,
    RECOGNITION_MODEL,
    SHAPE_MODEL,
    default_models_folder,
)
from latentswap_core.identity.dlib_nets import ModelFileError
from latentswap_core.identity.dlib_resnet import FaceDescriptorNet
from latentswap_core.io import read_image

PHOTOS = ("obama", "obama2", "biden", "biden2")


@pytest.fixture(scope="module")
def models() -> Path:
    folder = default_models_folder()
    assert folder is not None
    return folder


@pytest.fixture(scope="module")
def photos(shared_dir: Path) -> list[np.ndarray]:
    return [np.ascontiguousarray(read_image(shared_dir / "data" / "faces" / f"{name}.jpg").pixels[:, :, :3])
            for name in PHOTOS]


@pytest.fixture(scope="module")
def chips(models: Path, photos: list[np.ndarray]) -> np.ndarray:
    """dlib's aligned 150 px chips of the photos' faces (HOG detector, 5-point shape, ``get_face_chip``)."""
    import dlib

    detector, shapes = dlib.get_frontal_face_detector(), dlib.shape_predictor(str(models / SHAPE_MODEL))
    found = []
    for image in photos:
        box = max(detector(image, 1), key=lambda box: box.area())
        found.append(dlib.get_face_chip(image, shapes(image, box), size=150, padding=0.25))
    return np.stack(found)


def test_the_network_answers_what_dlib_answers(models: Path, chips: np.ndarray) -> None:
    import dlib

    reference = dlib.face_recognition_model_v1(str(models / RECOGNITION_MODEL))
    expected = np.array([reference.compute_face_descriptor(chip) for chip in chips], np.float32)
    answer = FaceDescriptorNet(models / RECOGNITION_MODEL)(chips)
    assert answer.shape == (len(PHOTOS), 128) and answer.dtype == np.float32
    assert np.abs(answer - expected).max() < 1e-5
    distances = np.linalg.norm(answer[:, None] - answer[None], axis=2)
    assert distances[0, 1] < 0.6 and distances[2, 3] < 0.6 and distances[:2, 2:].min() > 0.6  # two people


def test_the_identity_describes_a_photo_as_dlib_does(models: Path, photos: list[np.ndarray]) -> None:
    """DlibIdentity end to end (detector, five points, chip, network) against dlib's compute_face_descriptor."""
    import dlib

    detector, shapes = dlib.get_frontal_face_detector(), dlib.shape_predictor(str(models / SHAPE_MODEL))
    reference = dlib.face_recognition_model_v1(str(models / RECOGNITION_MODEL))
    identity = DlibIdentity()
    for image in photos[:2]:
        box = max(detector(image, 0), key=lambda box: box.area())
        expected = np.asarray(reference.compute_face_descriptor(image, shapes(image, box), 0), np.float32)
        assert np.abs(identity.describe(image) - expected).max() < 1e-5


@pytest.mark.parametrize(("setting", "threads"), [("3", 3), ("4,2", 4), (None, None)])
def test_a_farms_thread_limit_holds(monkeypatch: pytest.MonkeyPatch, setting: str | None,
                                    threads: int | None) -> None:
    import os

    if setting is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", setting)
    assert cpu_threads() == threads
    if setting == "3":  # and the identity's network runs that wide
        identity = DlibIdentity()
        identity.describe(np.zeros((64, 64, 3), np.uint8))
        assert identity._recognizer is not None
        assert identity._recognizer.session.get_session_options().intra_op_num_threads == 3


def test_a_file_that_is_not_the_network_is_refused_in_one_line(models: Path, tmp_path: Path) -> None:
    truncated = tmp_path / RECOGNITION_MODEL
    truncated.write_bytes((models / RECOGNITION_MODEL).read_bytes()[:100_000])
    for path in (truncated, models / DETECTOR_MODEL, tmp_path / "missing.dat"):
        with pytest.raises(ModelFileError) as error:
            FaceDescriptorNet(path)
        assert isinstance(error.value, ModelError)
        assert str(path) in str(error.value) and "\n" not in str(error.value)
