"""Engine (top-left origin, y down) <-> Nuke (bottom-left origin, y up) coordinates, in one place.

Both put pixel centres at +0.5, so for a format of height H a point converts as ``y_nuke = H - y_engine``
and a 2x3 affine ``A`` taking engine pixels somewhere takes Nuke pixels there as ``A @ F``, with
``F = [[1, 0, 0], [0, -1, H], [0, 0, 1]]`` (its own inverse). See docs/track_file.md and docs/nuke_plugin.md.

A face's ``to_aligned`` (a 2x3 similarity from plate pixels to the aligned square [0, 1]^2) is shown in
Nuke as four numbers: the plate-space centre of the square (where aligned (0.5, 0.5) lands), its side
length in plate pixels (``scale``) and the angle of its u axis in degrees (``rotate``; in Nuke's y-up
space, counter-clockwise positive, as Nuke's own Transform). Matrices are nested lists; standard library
only, so this runs in any Nuke's Python.
"""

from __future__ import annotations

import math

# The types below are comments for readers; nothing here is checked at run time.
# Point = (x, y); Affine = [[a, b, c], [d, e, f]]


def engine_to_nuke_point(point, height):
    """(x, y) in engine pixels (top-left origin, y down) -> (x, y) in Nuke pixels (bottom-left, y up)."""
    x, y = point
    return (float(x), float(height) - float(y))


def nuke_to_engine_point(point, height):
    """(x, y) in Nuke pixels -> (x, y) in engine pixels; the same flip as engine_to_nuke_point."""
    x, y = point
    return (float(x), float(height) - float(y))


def affine_to_nuke(a_engine, height):
    """A 2x3 affine from engine pixels -> the same map from Nuke pixels (``A @ F``)."""
    return _times_flip(a_engine, height)


def affine_from_nuke(a_nuke, height):
    """A 2x3 affine from Nuke pixels -> the same map from engine pixels (``A @ F``, F being its own inverse)."""
    return _times_flip(a_nuke, height)


def _times_flip(matrix, height):
    (a, b, c), (d, e, f) = _rows(matrix)
    height = float(height)
    return [[a, -b, b * height + c], [d, -e, e * height + f]]


def invert_affine(matrix):
    """The inverse of a 2x3 affine (as a 2x3); ValueError if it is singular."""
    (a, b, c), (d, e, f) = _rows(matrix)
    det = a * e - b * d
    if det == 0.0 or not math.isfinite(det):
        raise ValueError(f"the 2x3 matrix {matrix!r} is singular and has no inverse")
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    return [[ia, ib, -(ia * c + ib * f)], [id_, ie, -(id_ * c + ie * f)]]


def compose_affine(first, second):
    """The 2x3 affine applying ``second`` then ``first`` (``first @ second`` as 3x3 matrices)."""
    (a, b, c), (d, e, f) = _rows(first)
    (p, q, r), (s, t, u) = _rows(second)
    return [[a * p + b * s, a * q + b * t, a * r + b * u + c],
            [d * p + e * s, d * q + e * t, d * r + e * u + f]]


def apply_affine(matrix, point):
    """``matrix @ [x, y, 1]`` as an (x, y) tuple."""
    (a, b, c), (d, e, f) = _rows(matrix)
    x, y = float(point[0]), float(point[1])
    return (a * x + b * y + c, d * x + e * y + f)


def similarity_params(to_aligned):
    """(cx, cy, scale, rotate_deg) of a 2x3 ``to_aligned`` similarity (plate px -> aligned [0, 1]^2).

    In the plate space the matrix reads from (engine or Nuke pixels): the centre of the aligned square,
    its side in pixels and the direction of its u axis in degrees (atan2 of the axis, in (-180, 180]).
    Works for both handednesses (a ``to_aligned`` read in Nuke pixels is mirrored); similarity_matrix is the
    inverse given the same ``y_up``.
    """
    to_plate = invert_affine(to_aligned)
    (a, _, _), (d, _, _) = to_plate
    centre = apply_affine(to_plate, (0.5, 0.5))
    return (centre[0], centre[1], math.hypot(a, d), math.degrees(math.atan2(d, a)))


def similarity_matrix(cx, cy, scale, rotate_deg, y_up=False):
    """The 2x3 ``to_aligned`` similarity with those parameters (the inverse of similarity_params).

    ``y_up=False``: the plate space is engine pixels (y down, like the aligned square: no mirror).
    ``y_up=True``: it is Nuke pixels, where the aligned square's v axis (down the face) is mirrored.
    """
    scale = float(scale)
    if not (scale > 0.0 and math.isfinite(scale)):
        raise ValueError(f"scale must be a side length above 0 px, not {scale!r}")
    angle = math.radians(float(rotate_deg))
    ux, uy = scale * math.cos(angle), scale * math.sin(angle)
    vx, vy = (uy, -ux) if y_up else (-uy, ux)
    tx = float(cx) - 0.5 * (ux + vx)
    ty = float(cy) - 0.5 * (uy + vy)
    return invert_affine([[ux, vx, tx], [uy, vy, ty]])


def nuke_face_params(to_aligned, height):
    """(cx, cy, scale, rotate_deg) in Nuke terms of a track file's ``to_aligned`` (from engine pixels)."""
    return similarity_params(affine_to_nuke(to_aligned, height))


def to_aligned_from_nuke_params(cx, cy, scale, rotate_deg, height):
    """The track file's ``to_aligned`` (from engine pixels) of a face shown in Nuke as those four values."""
    return affine_from_nuke(similarity_matrix(cx, cy, scale, rotate_deg, y_up=True), height)


def _rows(matrix):
    rows = [[float(value) for value in row] for row in matrix]
    if len(rows) != 2 or any(len(row) != 3 for row in rows):
        raise ValueError(f"expected a 2x3 matrix (two rows of three numbers), got {matrix!r}")
    return rows
