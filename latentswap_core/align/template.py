"""The canonical face every track is aligned to, the landmarks alignment trusts, and the face types.

Template units are those of mediapipe's canonical face model (about a centimetre), image oriented:
x to the right, y down, the origin (the model's own) between the eye line and the nose tip.
A face type is a square in template units; the aligned crop is that square, so ``[0, 1]^2`` in
normalised aligned coordinates covers it whatever the crop's size in pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from latentswap_core.align.canonical_face import CANONICAL_FACE_XY
from latentswap_core.errors import AlignmentError

LANDMARK_COUNT = 478
MESH_LANDMARK_COUNT = 468

# (478, 2) float64, template units, image oriented (the model's y axis points up; flip it).
TEMPLATE = np.array(CANONICAL_FACE_XY, dtype=np.float64) * np.array([1.0, -1.0])
TEMPLATE.setflags(write=False)

# Landmarks that move little with expression; the similarity is fitted to these only. Lips, jaw,
# eyelids, brows and the lower cheeks move with speech, smiles and frowns, and are left out.
STABLE_INDICES = (
    33, 133, 362, 263,  # eye corners: outer and inner, image-left eye then image-right eye
    9, 8,  # glabella, the brow ridge between the brows
    168, 6, 197, 195, 5, 4, 1,  # nose bridge down to the nose tip
    116, 345, 117, 346,  # upper cheeks over the cheekbones
    127, 356, 162, 389,  # temples
)

# mediapipe's FACEMESH_FACE_OVAL as a closed loop, clockwise in the image from the top of the forehead.
FACE_OVAL_INDICES = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)
BROW_TOP_INDICES = (70, 63, 105, 66, 107, 336, 296, 334, 293, 300)
LEFT_EYE_CORNERS = (33, 133)  # the eye on the image's left (the subject's right eye)
RIGHT_EYE_CORNERS = (362, 263)
CHIN_INDEX = 152
# Contours of the eyes and the outer lips in the 468-point mesh (mediapipe's FACEMESH_LEFT_EYE, _RIGHT_EYE, _LIPS).
EYE_CONTOURS = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
    (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466),
)
OUTER_LIP_INDICES = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
FOREHEAD_TOP_INDEX = 10
NOSE_TIP_INDEX = 1

# DeepFaceLab's "half face" square in template units: outer brow to outer brow (11.4) by top of the
# brows to the lower lip (10.5). Face types pad it the way DeepFaceLab does: side = BASE * (1 + 2*sqrt(2)*padding).
BASE_SIDE = 11.0


@dataclass(frozen=True)
class FaceType:
    """How much of the head an aligned crop covers: a square of ``side`` template units at ``(0, centre_y)``."""

    name: str
    padding: float
    centre_y: float

    @property
    def side(self) -> float:
        return BASE_SIDE * (1.0 + 2.0 * math.sqrt(2.0) * self.padding)

    def normalise(self) -> np.ndarray:
        """(3, 3) matrix from template units to normalised aligned coordinates, the square onto [0, 1]^2."""
        side = self.side
        return np.array([
            [1.0 / side, 0.0, 0.5],
            [0.0, 1.0 / side, 0.5 - self.centre_y / side],
            [0.0, 0.0, 1.0],
        ])


# face: brows to chin (DeepFaceLab's "full"); whole_face: adds the forehead up to the hairline;
# head: the whole head with hair and ears (for the head, the mask is an estimate, see mask.py).
_FACE_TYPES = {
    "face": FaceType("face", padding=0.2109, centre_y=2.5),
    "whole_face": FaceType("whole_face", padding=0.40, centre_y=0.0),
    "head": FaceType("head", padding=0.70, centre_y=-3.0),
}
FACE_TYPES = tuple(_FACE_TYPES)


def face_type_spec(face_type: str) -> FaceType:
    try:
        return _FACE_TYPES[face_type]
    except (KeyError, TypeError):
        raise AlignmentError(f"unknown face type {face_type!r}; use one of {', '.join(FACE_TYPES)}") from None


def template_points(face_type: str = "whole_face") -> np.ndarray:
    """The template's 478 landmarks in normalised aligned coordinates of ``face_type``."""
    normalise = face_type_spec(face_type).normalise()
    return TEMPLATE @ normalise[:2, :2].T + normalise[:2, 2]
