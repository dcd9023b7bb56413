"""dlib's CNN face detector run without dlib (latentswap_core/track/mmod.py): dlib's own answers, on real frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from latentswap_core.errors import ModelError
from latentswap_core.identity.dlib_descriptor import DETECTOR_MODEL, default_models_folder
from latentswap_core.io import open_source
from latentswap_core.track import display_rgb
from latentswap_core.track.mmod import MmodDetector, ModelFileError

# the clip's profile close-up (motion-blurred), the singer, the audience
CLIP_FRAMES = (21, 120, 230)


@pytest.fixture(scope="module")
def model_path() -> Path:
    folder = default_models_folder()
    assert folder is not None
    return folder / DETECTOR_MODEL


@pytest.fixture(scope="module")
def images(shared_dir: Path, face_photo: np.ndarray) -> list[np.ndarray]:
    """The frames at full size and half size (as second_detector searches them), and a photo."""
    source = open_source(str(shared_dir / "data" / "video" / "short_hamilton_clip.mp4"))
    try:
        frames = [display_rgb(source.read(frame)) for frame in CLIP_FRAMES]
    finally:
        source.close()
    halves = [cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA)
              for frame in frames]
    return [np.ascontiguousarray(image) for image in (*frames, *halves, face_photo)]


@pytest.mark.slow
def test_the_detector_answers_what_dlib_answers(model_path: Path, images: list[np.ndarray]) -> None:
    import dlib

    reference = dlib.cnn_face_detection_model_v1(str(model_path))
    detector = MmodDetector(model_path)
    found = 0
    for index, image in enumerate(images):
        expected = [(d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom(), d.confidence)
                    for d in reference(image, 0)]
        answer = detector(image)
        assert [box[:4] for box in answer] == [box[:4] for box in expected], index
        assert np.allclose([box[4] for box in answer], [box[4] for box in expected], rtol=0, atol=1e-5), index
        found += sum(box[4] >= 0.3 for box in expected)
    assert found >= 5  # faces to compare (the singer, the profile, the audience, the photo), not empty lists


def test_a_file_that_is_not_the_detector_is_refused_in_one_line(model_path: Path, tmp_path: Path) -> None:
    truncated = tmp_path / DETECTOR_MODEL
    truncated.write_bytes(model_path.read_bytes()[:5000])
    for path in (truncated, model_path.with_name("shape_predictor_5_face_landmarks.dat"), tmp_path / "missing.dat"):
        with pytest.raises(ModelFileError) as error:
            MmodDetector(path)
        assert isinstance(error.value, ModelError)
        assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_a_missing_detector_model_is_named_with_the_fix(tmp_path: Path) -> None:
    from latentswap_core.track.second_detector import SecondDetector

    with pytest.raises(ModelError, match=f"{DETECTOR_MODEL} is missing; install") as error:
        SecondDetector(models_folder=tmp_path).find(np.zeros((360, 640, 3), np.uint8))
    assert str(tmp_path / DETECTOR_MODEL) in str(error.value) and "\n" not in str(error.value)
