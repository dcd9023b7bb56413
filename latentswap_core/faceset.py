"""Facesets: folders of aligned face crops with their masks and metadata, the trainer's input.

Layout of a faceset folder::

    faceset.json        version, size, face_type, source, faces[...], skipped[...]
    faces/000001.png    aligned crop, 16-bit sRGB (the model's working space)
    masks/000001.png    face mask in the same aligned space, 8-bit

Each entry of ``faces`` records the source frame and file, the track id, the 2x3 ``to_aligned``
transform (plate pixels -> normalised aligned coordinates), the 478 landmarks in normalised aligned
coordinates, the detection score, landmark confidence and sharpness. ``skipped`` lists every face
left out and why (``blurred``, ``low_confidence``, ``duplicate``), so a TD can see what happened.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from latentswap_core.errors import FacesetError
from latentswap_core.io import Image, read_image, write_image, write_text_atomically
from latentswap_core.io.json_file import inside, read_json

FACESET_VERSION = 1
INDEX_FILE = "faceset.json"


@dataclass
class FacesetEntry:
    file: str
    mask: str
    frame: int
    source_file: str
    track_id: int
    to_aligned: list[list[float]]
    landmarks: list[list[float]]
    score: float
    landmark_confidence: float
    sharpness: float


@dataclass
class Faceset:
    folder: Path
    size: int
    face_type: str
    source: str
    faces: list[FacesetEntry] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def face(self, index: int) -> np.ndarray:
        """Aligned crop ``index`` as float32 sRGB in [0, 1], size x size x 3."""
        return read_image(self.folder / self.faces[index].file).rgb_float()

    def mask(self, index: int) -> np.ndarray:
        """Mask ``index`` as float32 in [0, 1], size x size."""
        return read_image(self.folder / self.faces[index].mask).rgb_float()[..., 0]


def sharpness(crop: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Variance of the Laplacian of the crop's grey image at 256 px, inside the mask: ~0 when blurred.

    Measured at a fixed size so that the figure does not depend on the faceset's resolution.
    """
    grey = cv2.cvtColor(np.clip(crop, 0, 1).astype(np.float32), cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (256, 256), interpolation=cv2.INTER_AREA)
    laplacian = cv2.Laplacian(grey, cv2.CV_32F, ksize=3)
    if mask is not None:
        inside = cv2.resize(mask.astype(np.float32), (256, 256), interpolation=cv2.INTER_AREA) > 0.5
        laplacian = laplacian[inside] if inside.any() else laplacian
    return float(laplacian.var() * 1e4)


def thumbnail(crop: np.ndarray) -> np.ndarray:
    """A 32 x 32 grey thumbnail, for spotting near-duplicate crops."""
    grey = cv2.cvtColor(np.clip(crop, 0, 1).astype(np.float32), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA)


class FacesetWriter:
    """Writes crops and masks as they come and the index at the end (also on failure: what was kept)."""

    def __init__(self, folder: str | os.PathLike[str], size: int, face_type: str, source: str):
        self.faceset = Faceset(Path(folder), size, face_type, source)
        for sub in ("faces", "masks"):
            (self.faceset.folder / sub).mkdir(parents=True, exist_ok=True)

    def add(self, crop: np.ndarray, mask: np.ndarray, **entry: Any) -> FacesetEntry:
        number = len(self.faceset.faces) + 1
        face_file, mask_file = f"faces/{number:06d}.png", f"masks/{number:06d}.png"
        folder = self.faceset.folder
        write_image(folder / face_file, Image(np.clip(crop, 0, 1).astype(np.float32), ("R", "G", "B")), "uint16")
        write_image(folder / mask_file, Image(np.clip(mask, 0, 1).astype(np.float32), ("Y",)), "uint8")
        record = FacesetEntry(file=face_file, mask=mask_file, **entry)
        self.faceset.faces.append(record)
        return record

    def skip(self, frame: int, track_id: int, reason: str, **details: Any) -> None:
        self.faceset.skipped.append({"frame": frame, "track_id": track_id, "reason": reason, **details})

    def close(self) -> Faceset:
        save_index(self.faceset)
        return self.faceset


def save_index(faceset: Faceset) -> None:
    index = {
        "version": FACESET_VERSION,
        "size": faceset.size,
        "face_type": faceset.face_type,
        "source": faceset.source,
        "faces": [asdict(entry) for entry in faceset.faces],
        "skipped": faceset.skipped,
    }
    write_text_atomically(faceset.folder / INDEX_FILE, json.dumps(index, indent=1))


def load_faceset(folder: str | os.PathLike[str]) -> Faceset:
    """A faceset folder's index, checked: every listed crop and mask exists."""
    folder = Path(folder)
    index_path = folder / INDEX_FILE
    if not index_path.is_file():
        raise FacesetError(f"{folder}: not a faceset (no {INDEX_FILE}); make one with `latentswap extract`")
    index = read_json(index_path, FacesetError, "extract the faceset again")
    try:
        if index.get("version") != FACESET_VERSION:
            raise FacesetError(f"{index_path}: faceset version {index.get('version')} is not supported "
                               f"(expected {FACESET_VERSION}); extract it again")
        faces = [FacesetEntry(**entry) for entry in index["faces"]]
        faceset = Faceset(folder, int(index["size"]), str(index["face_type"]), str(index["source"]), faces,
                          list(index.get("skipped", [])))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise FacesetError(f"{index_path}: malformed faceset index ({error}); extract it again") from None
    for entry in faceset.faces:
        for name in (entry.file, entry.mask):
            if not inside(folder, name, FacesetError, str(index_path)).is_file():
                raise FacesetError(f"{folder / name}: listed in {INDEX_FILE} but missing; extract the faceset again")
    if not faceset.faces:
        raise FacesetError(f"{folder}: the faceset holds no faces; extract from footage where faces are visible")
    return faceset
