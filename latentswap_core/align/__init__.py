"""Alignment and masks: plate pixels <-> aligned crops of a canonical face, and face masks in either space.

Coordinates, the template and the face types are described in docs/alignment.md.
"""

from latentswap_core.align.mask import (
    MASK_SHAPES,
    MaskShape,
    aligned_face_mask,
    eyes_mouth_mask,
    face_mask,
    mask_outline,
)
from latentswap_core.align.template import (
    FACE_OVAL_INDICES,
    FACE_TYPES,
    STABLE_INDICES,
    TEMPLATE,
    FaceType,
    face_type_spec,
    template_points,
)
from latentswap_core.align.transform import (
    MAX_CROP_SIZE,
    MIN_CROP_SIZE,
    alignment_transform,
    crop_matrix,
    from_data_window,
    invert_affine,
    transform_points,
    umeyama,
)
from latentswap_core.align.warp import (
    INTERPOLATIONS,
    aligned_source_region,
    opencv_matrix,
    plate_coverage,
    plate_region,
    warp_to_aligned,
    warp_to_plate,
)

__all__ = [
    "FACE_OVAL_INDICES",
    "FACE_TYPES",
    "INTERPOLATIONS",
    "MASK_SHAPES",
    "MAX_CROP_SIZE",
    "MIN_CROP_SIZE",
    "STABLE_INDICES",
    "TEMPLATE",
    "FaceType",
    "MaskShape",
    "aligned_face_mask",
    "aligned_source_region",
    "eyes_mouth_mask",
    "alignment_transform",
    "crop_matrix",
    "face_mask",
    "face_type_spec",
    "from_data_window",
    "invert_affine",
    "mask_outline",
    "opencv_matrix",
    "plate_coverage",
    "plate_region",
    "template_points",
    "transform_points",
    "umeyama",
    "warp_to_aligned",
    "warp_to_plate",
]
