"""Head pose from the 478 mesh landmarks of one face: yaw, pitch and roll in degrees.

``cv2.solvePnP`` of the mesh's first 468 points against mediapipe's canonical face model (x and y from
``align/canonical_face.py``, z below), with a pinhole camera of focal length equal to the frame's longer side
centred on the frame. Angles in degrees, image oriented: yaw turns the face to the image's right, pitch tips
the chin down, roll turns the face anticlockwise on screen (the sign of ``demo.shot.Pose.angle``).

Here in ``align`` (not in ``evaluate``) because facesets and training use it too: the pose of a faceset's faces
from their stored aligned landmarks (``faceset_coverage.py``) as well as the pose error of a swap.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from latentswap_core.align.canonical_face import CANONICAL_FACE_XY

MESH_POINTS = 468
# z (towards the camera) of vertices 0-247 of mediapipe's canonical_face_model.obj (Apache-2.0, Copyright The
# MediaPipe Authors), rounded to 1e-3; vertices 248-467 mirror earlier ones in x and share their z.
_CANONICAL_Z_LEFT = (
    5.980, 7.476, 6.058, 6.634, 7.587, 7.243, 5.789, 3.280, 5.285, 5.385, 4.482, 5.865, 5.569, 5.219, 5.405, 5.529,
    5.601, 5.535, 5.071, 7.112, 6.448, 0.100, 3.848, 3.797, 3.646, 3.155, 3.852, 4.116, 4.092, 3.972, 3.720, 2.776,
    4.390, 3.173, 0.073, 2.204, 4.433, 5.877, 5.445, 5.496, 5.029, 5.190, 4.842, 4.188, 7.361, 7.440, 3.363, 4.558,
    5.814, 5.581, 3.535, 7.101, 4.550, 4.048, 1.426, 5.106, 4.001, 4.096, -1.745, 5.738, 5.833, 4.284, 4.162, 3.752,
    5.457, 4.922, 5.016, 3.729, 2.724, 4.530, 2.831, 1.592, 5.738, 5.418, 5.001, 5.662, 4.258, 4.521, 4.038, 6.512,
    4.605, 4.927, 5.138, 4.986, 5.448, 5.510, 5.449, 5.340, 4.745, 4.814, 4.854, 4.824, 4.868, -2.431, 6.601, 4.399,
    4.497, 5.866, 5.241, 5.864, 4.294, 4.114, 5.273, 2.660, 3.683, 4.466, 4.456, 5.316, 4.921, 4.275, 3.375, 2.432,
    3.843, 3.084, 4.831, 6.416, 1.690, 2.974, 3.523, 3.873, 4.039, 4.224, 5.567, 1.881, 2.688, 7.071, 4.895, -2.005,
    4.449, 4.850, 3.084, 6.097, -2.252, 3.758, 6.672, 1.893, 0.715, -0.072, 0.924, 0.725, 4.119, 6.573, 4.566, 1.561,
    3.635, 3.776, 4.480, 1.664, 4.094, 2.802, 1.925, 5.027, 4.264, 3.777, 3.698, 3.689, 2.039, 3.775, 3.872, 3.877,
    3.724, 3.483, -0.992, 3.441, 5.932, 5.213, 5.952, 5.815, 5.236, 2.672, 3.383, 4.702, -0.631, 3.744, 5.754, 4.891,
    3.609, -0.131, 5.121, 5.190, 5.237, 5.205, 4.758, 4.432, 4.555, 4.582, 4.485, 2.861, 5.197, 4.231, 3.882, 4.247,
    2.110, 4.861, 4.521, 6.775, 6.148, 6.317, 5.681, 5.181, 5.153, 4.980, 3.796, 4.590, 4.096, 4.138, 4.441, 3.644,
    4.969, 5.201, 3.311, 3.814, 3.726, 1.473, 2.983, 0.070, 4.130, 5.308, 6.539, 5.905, 7.003, 4.328, 4.365, 4.309,
    4.076, 3.646, 2.671, -0.049, 3.110, 3.477, 3.732, 3.865, 3.962, 4.085, -2.436, 5.630, 6.233, 7.078, 6.787, 6.798,
    5.480, 6.958, 6.509, 3.864, 4.204, 4.616, 3.315, 3.340,
)


def _canonical_model() -> np.ndarray:
    """(468, 3) canonical face in camera orientation: x right, y down, z away from the camera."""
    xy = np.array(CANONICAL_FACE_XY[:MESH_POINTS], np.float64)
    z = np.full(MESH_POINTS, np.nan)
    z[:len(_CANONICAL_Z_LEFT)] = _CANONICAL_Z_LEFT
    left = xy[:len(_CANONICAL_Z_LEFT)]
    for index in range(len(_CANONICAL_Z_LEFT), MESH_POINTS):
        mirror = np.flatnonzero((np.abs(left[:, 0] + xy[index, 0]) < 1e-5) & (np.abs(left[:, 1] - xy[index, 1]) < 1e-5))
        z[index] = z[mirror[0]]
    return np.column_stack([xy[:, 0], -xy[:, 1], -z])


CANONICAL_MODEL = _canonical_model()
CANONICAL_MODEL.setflags(write=False)


def head_pose(landmarks: np.ndarray, frame_size: tuple[int, int]) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a face's 478 (or 468) landmarks in a frame of ``(width, height)`` px."""
    rotation = head_rotation(landmarks, frame_size)
    return rotation_angles(rotation)


def head_rotation(landmarks: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """3x3 rotation from the canonical face to the camera."""
    width, height = frame_size
    focal = float(max(width, height))
    camera = np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])
    points = np.ascontiguousarray(np.asarray(landmarks, np.float64)[:MESH_POINTS])
    ok, rvec, tvec = cv2.solvePnP(CANONICAL_MODEL, points, camera, None, flags=cv2.SOLVEPNP_SQPNP)
    if ok:
        ok, rvec, tvec = cv2.solvePnP(CANONICAL_MODEL, points, camera, None, rvec, tvec, True,
                                      flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        raise ValueError("solvePnP found no head pose for these landmarks")
    return cv2.Rodrigues(rvec)[0]


def rotation_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of ``rotation = Rz(-roll) @ Ry(yaw) @ Rx(-pitch)`` (image axes, y down)."""
    r = np.asarray(rotation, np.float64)
    yaw = math.asin(float(np.clip(-r[2, 0], -1.0, 1.0)))
    pitch = -math.atan2(r[2, 1], r[2, 2])
    roll = -math.atan2(r[1, 0], r[0, 0])
    return math.degrees(yaw), math.degrees(pitch), math.degrees(roll)
