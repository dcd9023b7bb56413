"""dlib's face descriptor, offline: HOG face detector, 5-point shape, 128-d ResNet embedding.

dlib finds the face, its five points and its aligned 150 px chip; the ResNet runs without dlib
(``dlib_resnet.FaceDescriptorNet``: dlib's descriptors to 1e-6, about 15 times faster than dlib's CPU build).

The weights come from the ``face_recognition_models`` package, read by path: importing that package
needs ``pkg_resources``, which recent environments lack. Two faces of one person lie closer than
``SAME_PERSON_DISTANCE`` (0.6, dlib's threshold) in euclidean distance.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from latentswap_core.cpu import cpu_threads
from latentswap_core.errors import ModelError
from latentswap_core.identity.dlib_resnet import FaceDescriptorNet

SAME_PERSON_DISTANCE = 0.6
RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
# the CNN face detector the track stage runs (track/second_detector.py), from the same package
DETECTOR_MODEL = "mmod_human_face_detector.dat"
# the margin around the face in dlib's 150 px chips, as compute_face_descriptor takes them
CHIP_PADDING = 0.25
INSTALL_HINT = "install them with `pip install dlib-bin face_recognition_models` or pass the folder holding them"

# dlib's HOG detector finds faces from ~80 px; below this many pixels on its shorter side an image is
# searched again at twice its size when nothing was found.
UPSAMPLE_BELOW_PX = 1200
# Where the face lies in an aligned crop of `latentswap extract` (whole_face), as fractions of the crop
# side (left, top, right, bottom): the mean of dlib's detections on real crops at 128 and 256 px. Used
# when the detector misses a decoded or swapped crop.
ALIGNED_FACE_BOX = (0.15, 0.17, 0.84, 0.86)


def default_models_folder() -> Path | None:
    """The ``models`` folder of the installed ``face_recognition_models`` package, found without importing it."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None:
        return None
    locations = list(spec.submodule_search_locations or [])
    if not locations and spec.origin:
        locations = [str(Path(spec.origin).parent)]
    return Path(locations[0]) / "models" if locations else None


def model_file(folder: Path | None, name: str) -> Path:
    """dlib's model file ``name`` in ``folder`` (from ``default_models_folder`` by default); a ModelError naming
    it, and how to install it, where it is not there."""
    if folder is None:
        raise ModelError(f"dlib face models not found: no face_recognition_models package; {INSTALL_HINT}")
    if not (folder / name).is_file():
        raise ModelError(f"dlib face model {folder / name} is missing; {INSTALL_HINT}")
    return folder / name


def as_uint8_rgb(rgb: np.ndarray) -> np.ndarray:
    """An RGB image as contiguous uint8 ``H x W x 3``; float images are taken to be in [0, 1]."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB image H x W x 3, got shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        rgb = (np.clip(rgb.astype(np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.ascontiguousarray(rgb)


class DlibIdentity:
    """Describes faces as 128-d vectors; the two networks load on first use, the detector on first detection."""

    def __init__(self, models_folder: str | os.PathLike[str] | None = None) -> None:
        """``models_folder``: holds the two ``.dat`` files (default: the ``face_recognition_models`` package)."""
        self.models_folder = Path(models_folder) if models_folder is not None else default_models_folder()
        # dlib's objects (untyped: dlib ships no stubs), None until the first call loads them
        self._detector: Any = None
        self._shape_predictor: Any = None
        self._recognizer: FaceDescriptorNet | None = None

    def _load(self) -> None:
        if self._recognizer is not None:
            return
        import dlib

        shape, recognition = (model_file(self.models_folder, name) for name in (SHAPE_MODEL, RECOGNITION_MODEL))
        self._shape_predictor = dlib.shape_predictor(str(shape))
        self._recognizer = FaceDescriptorNet(recognition, cpu_threads())

    def _largest_face(self, image: np.ndarray):
        """dlib rectangle of the largest face, upsampling small images once; None when there is none."""
        if self._detector is None:  # built on first use: describing aligned crops (the tracker) never needs it
            import dlib

            self._detector = dlib.get_frontal_face_detector()
        for upsample in (0, 1):
            if upsample and min(image.shape[:2]) >= UPSAMPLE_BELOW_PX:
                break
            faces = self._detector(image, upsample)
            if len(faces):
                return max(faces, key=lambda box: box.area())
        return None

    def _descriptor(self, image: np.ndarray, box) -> np.ndarray:
        """As dlib's ``compute_face_descriptor(image, shape)``: the chip it describes, described."""
        import dlib

        assert self._recognizer is not None
        chip = dlib.get_face_chip(image, self._shape_predictor(image, box), size=self._recognizer.chip_size,
                                  padding=CHIP_PADDING)
        return self._recognizer(np.asarray(chip)[np.newaxis])[0]

    def describe(self, rgb: np.ndarray) -> np.ndarray | None:
        """The descriptor (128 float32) of the largest face in an RGB photo, or None when no face is found."""
        self._load()
        image = as_uint8_rgb(rgb)
        box = self._largest_face(image)
        return None if box is None else self._descriptor(image, box)

    def describe_aligned(self, face_crop: np.ndarray, detect: bool = True) -> np.ndarray:
        """The descriptor of an aligned crop; where the detector misses (a blurred swap), or with ``detect``
        False (faster, for crops aligned from reliable landmarks), the face's usual box."""
        import dlib

        self._load()
        image = as_uint8_rgb(face_crop)
        box = self._largest_face(image) if detect else None
        if box is None:
            height, width = image.shape[:2]
            left, top, right, bottom = ALIGNED_FACE_BOX
            box = dlib.rectangle(round(left * width), round(top * height), round(right * width),
                                 round(bottom * height))
        return self._descriptor(image, box)


def identity_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance of two descriptors: below ``SAME_PERSON_DISTANCE`` means the same person."""
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


def mean_descriptor(descriptors: Sequence[np.ndarray]) -> np.ndarray:
    """The mean of several descriptors of one person, a steadier reference than any single face."""
    if not len(descriptors):
        raise ValueError("mean_descriptor needs at least one descriptor")
    return np.mean(np.stack([np.asarray(d, np.float32) for d in descriptors]), axis=0)
