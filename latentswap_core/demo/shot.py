"""Synthetic shots with ground truth, made from real face photos: the demo's plate, the tests and benchmarks.

A face photo is cut out around the face with a soft elliptical edge and pasted into a 1920x1080 plate
(a blurred, graded photo without faces as background) under a known similarity per frame; every frame
then gets a lighting drift (gain) and fresh Gaussian sensor noise, and is rounded to sRGB uint8.

Ground truth: for each frame and face, the 2x3 similarity from photo pixels to plate pixels. Both use
continuous coordinates with pixel centres at +0.5 (the track file's convention); cv2's warps index
pixel centres at integers, so they get ``T(-0.5) @ M @ T(+0.5)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from latentswap_core.io import FrameSource, Image, write_image

__all__ = [
    "ArraySource",
    "PLATE_COLORSPACE",
    "FACE_HEIGHT",
    "FacePhoto",
    "PHOTO_FACES",
    "PLATE_SIZE",
    "Pose",
    "SHARED_PHOTOS",
    "Shot",
    "apply",
    "as3x3",
    "background",
    "crossing_shot",
    "cv2_matrix",
    "drifting_gains",
    "fast_shot",
    "invert",
    "load_photo",
    "moving_poses",
    "pose_transform",
    "proof_shot",
    "render_shot",
    "static_shot",
    "translation",
    "write_exr_plate",
]

PLATE_SIZE = (1920, 1080)
PLATE_COLORSPACE = "ACEScg"  # what write_exr_plate stores, as a camera plate would be
FACE_HEIGHT = 300.0  # plate pixels from forehead (mesh point 10) to chin (mesh point 152) at scale 1

# Face centre (mean of the 478 mesh points) and forehead-to-chin height in each photo's pixels, measured
# once with mediapipe's face mesh; a shot only needs them roughly (to frame the cut-out).
PHOTO_FACES = {
    "obama": (495.1, 269.4, 298.3),
    "obama2": (303.2, 445.6, 346.7),
    "biden2": (653.8, 511.3, 538.6),
    "grace_hopper": (266.5, 232.8, 200.9),
    "astronaut": (224.2, 122.4, 105.9),
}
SHARED_PHOTOS = ("obama", "obama2", "biden2")


@dataclass(frozen=True)
class FacePhoto:
    """A real portrait as sRGB uint8, with where its face is."""

    name: str
    rgb: np.ndarray
    centre: tuple[float, float]
    height: float


def load_photo(name: str, shared_dir: Path | None = None) -> FacePhoto:
    """``obama``, ``obama2``, ``biden2`` (from ``shared_dir/data/faces``), ``grace_hopper`` or ``astronaut``."""
    if name == "grace_hopper":
        import matplotlib.cbook

        rgb = _read_rgb(Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    elif name == "astronaut":
        import skimage.data

        rgb = skimage.data.astronaut()
    elif name in SHARED_PHOTOS:
        if shared_dir is None:
            raise ValueError(f"the photo {name!r} lives in the shared folder; pass shared_dir")
        rgb = _read_rgb(shared_dir / "data" / "faces" / f"{name}.jpg")
    else:
        raise ValueError(f"no photo {name!r}; choose one of {', '.join(PHOTO_FACES)}")
    x, y, height = PHOTO_FACES[name]
    return FacePhoto(name, np.ascontiguousarray(rgb), (x, y), height)


def _read_rgb(path: Path) -> np.ndarray:
    """The photo at ``path`` as RGB uint8 (cv2 reads BGR, and None where it cannot read the file)."""
    bgr = cv2.imread(str(path))
    if bgr is None:
        raise ValueError(f"cannot read the photo {path}; check that the file exists and is a readable image "
                         "(for the shared photos, that shared_dir is the shared folder)")
    return bgr[:, :, ::-1]


@dataclass(frozen=True)
class Pose:
    """Where a face is in one frame: rotation (degrees, counter-clockwise on screen), scale (1 = 300 px tall
    face) and the plate position of the face centre."""

    angle: float = 0.0
    scale: float = 1.0
    x: float = 960.0
    y: float = 540.0


@dataclass
class Shot:
    frames: list[np.ndarray]
    transforms: list[list[np.ndarray]]  # per frame, per face present: 2x3 photo px -> plate px
    faces: list[list[str]]  # per frame, the photo name of each face present (same order as transforms)
    gains: list[float] = field(default_factory=list)
    noise_sigma: float = 0.0


def translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def as3x3(matrix: np.ndarray) -> np.ndarray:
    return np.vstack([matrix, [0.0, 0.0, 1.0]])


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (N, 2) through a 2x3 affine."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert(matrix: np.ndarray) -> np.ndarray:
    return np.linalg.inv(as3x3(matrix))[:2]


def cv2_matrix(matrix: np.ndarray) -> np.ndarray:
    """A continuous (+0.5 centres) 2x3 affine in cv2's integer-centre indexing."""
    return (translation(-0.5, -0.5) @ as3x3(matrix) @ translation(0.5, 0.5))[:2]


class _Cutout:
    """A photo's face, resampled once to 300 px face height (antialiased), with a soft elliptical alpha."""

    def __init__(self, photo: FacePhoto):
        side = int(round(2.6 * photo.height))
        x0 = int(round(photo.centre[0] - side / 2))
        y0 = int(round(photo.centre[1] - side / 2))
        padded = cv2.copyMakeBorder(photo.rgb, side, side, side, side, cv2.BORDER_REFLECT_101)
        region = padded[y0 + side:y0 + 2 * side, x0 + side:x0 + 2 * side]
        size = int(round(side * FACE_HEIGHT / photo.height))
        interpolation = cv2.INTER_AREA if size < side else cv2.INTER_CUBIC
        self.rgb = cv2.resize(region, (size, size), interpolation=interpolation).astype(np.float32)
        k = size / side  # exact for a square region; cv2.resize keeps pixel centres at +0.5
        self.photo_to_cutout = np.array([[k, 0.0, -x0 * k], [0.0, k, -y0 * k]])
        cx, cy = apply(self.photo_to_cutout, np.array([photo.centre]))[0]
        yy, xx = np.mgrid[0:size, 0:size] + 0.5
        inside = ((xx - cx) / (0.56 * FACE_HEIGHT)) ** 2 + ((yy - cy - 0.02 * FACE_HEIGHT) / (0.74 * FACE_HEIGHT)) ** 2
        alpha = np.clip((1.0 - inside) / 0.25, 0.0, 1.0).astype(np.float32)
        self.alpha = cv2.GaussianBlur(alpha, (0, 0), 0.03 * FACE_HEIGHT)
        self.centre = (cx, cy)


def pose_transform(cutout: _Cutout, pose: Pose) -> np.ndarray:
    """2x3 cutout px -> plate px: rotate and scale about the face centre, then move it to (x, y)."""
    angle = math.radians(pose.angle)
    c, s = pose.scale * math.cos(angle), pose.scale * math.sin(angle)
    rotation = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])  # y down: positive angle turns anticlockwise
    return (translation(pose.x, pose.y) @ rotation @ translation(-cutout.centre[0], -cutout.centre[1]))[:2]


def background(seed: int = 0, size: tuple[int, int] = PLATE_SIZE) -> np.ndarray:
    """A faceless, non-trivial plate: a blurred photo of a coffee cup under a colour gradient, float [0, 255]."""
    import skimage.data

    width, height = size
    photo = cv2.resize(skimage.data.coffee(), (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    photo = cv2.GaussianBlur(photo, (0, 0), 6.0)
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    tint = rng.uniform(0.6, 1.0, 3).astype(np.float32)
    return photo * (0.55 + 0.35 * ramp * tint)


def render_shot(
    photos: list[FacePhoto],
    poses: Sequence[Sequence[Pose | None]],
    gains: list[float] | None = None,
    noise_sigma: float = 3.0,
    seed: int = 0,
    size: tuple[int, int] = PLATE_SIZE,
) -> Shot:
    """Frames for ``poses[frame][face]`` (None: that face is absent); faces later in the list are in front."""
    cutouts = [_Cutout(photo) for photo in photos]
    base = background(seed, size)
    rng = np.random.default_rng(seed + 1)
    gains = gains if gains is not None else [1.0] * len(poses)
    shot = Shot([], [], [], list(gains), noise_sigma)
    for frame_poses, gain in zip(poses, gains, strict=True):
        plate = base.copy()
        transforms, names = [], []
        for cutout, photo, pose in zip(cutouts, photos, frame_poses, strict=True):
            if pose is None:
                continue
            to_plate = pose_transform(cutout, pose)
            matrix = cv2_matrix(to_plate)
            face = cv2.warpAffine(cutout.rgb, matrix, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
            alpha = cv2.warpAffine(cutout.alpha, matrix, size, flags=cv2.INTER_LINEAR)[:, :, None]
            plate = plate * (1.0 - alpha) + face * alpha
            transforms.append((as3x3(to_plate) @ as3x3(cutout.photo_to_cutout))[:2])
            names.append(photo.name)
        plate = plate * gain + rng.normal(0.0, noise_sigma, plate.shape).astype(np.float32)
        shot.frames.append(np.clip(np.rint(plate), 0, 255).astype(np.uint8))
        shot.transforms.append(transforms)
        shot.faces.append(names)
    return shot


def drifting_gains(count: int, amplitude: float = 0.15) -> list[float]:
    """Exposure slowly rising and falling by +-amplitude over the shot."""
    return [1.0 + amplitude * math.sin(2.0 * math.pi * t / max(count, 1)) for t in range(count)]


def moving_poses(count: int, seed: int = 0) -> list[Pose]:
    """A face that turns through +-20 degrees, scales through 0.7-1.3 and travels across the plate."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0, 2 * math.pi, 4)
    poses = []
    for t in range(count):
        u = t / max(count - 1, 1)
        poses.append(Pose(
            angle=20.0 * math.sin(2 * math.pi * u + phase[0]),
            scale=1.0 + 0.3 * math.sin(2 * math.pi * u + phase[1]),
            x=960.0 + 520.0 * math.sin(math.pi * u + phase[2]),
            y=540.0 + 120.0 * math.sin(2 * math.pi * u + phase[3]),
        ))
    return poses


def proof_shot(photo: FacePhoto, second: FacePhoto, count: int = 16, seed: int = 0) -> Shot:
    """The moving face of ``moving_poses`` with lighting drift and noise; frame 5 holds no face and the last
    two frames also hold ``second``, small and still in a corner."""
    main = moving_poses(count, seed)
    poses: list[list[Pose | None]] = []
    for t, pose in enumerate(main):
        other = Pose(angle=-5.0, scale=0.8, x=1700.0, y=230.0) if t >= count - 2 else None
        poses.append([None if t == 5 else pose, other])
    return render_shot([photo, second], poses, drifting_gains(count), noise_sigma=3.0, seed=seed)


def static_shot(photo: FacePhoto, count: int = 24, noise_sigma: float = 3.0, seed: int = 0) -> Shot:
    """A still face; only the sensor noise changes from frame to frame."""
    pose = Pose(angle=4.0, scale=1.0, x=900.0, y=520.0)
    return render_shot([photo], [[pose] for _ in range(count)], noise_sigma=noise_sigma, seed=seed)


def fast_shot(photo: FacePhoto, count: int = 24, speed: float = 40.0, seed: int = 0) -> Shot:
    """A face swinging across the plate (up to ``speed`` px/frame) while turning: the lag test."""
    poses = []
    for t in range(count):
        phase = 2 * math.pi * t / count
        amplitude = speed * count / (2 * math.pi)
        poses.append([Pose(angle=12.0 * math.sin(phase), scale=1.0, x=960.0 + amplitude * math.sin(phase),
                           y=540.0 + 0.3 * amplitude * math.sin(2 * phase))])
    return render_shot([photo], poses, noise_sigma=3.0, seed=seed)


def crossing_shot(left: FacePhoto, right: FacePhoto, count: int = 14, seed: int = 0) -> Shot:
    """Two faces that swap sides, the right one passing in front and briefly covering most of the other."""
    poses = []
    for t in range(count):
        u = t / (count - 1)
        poses.append([Pose(angle=-6.0, scale=0.9, x=300.0 + 1320.0 * u, y=560.0),
                      Pose(angle=6.0, scale=0.9, x=1620.0 - 1320.0 * u, y=520.0)])
    return render_shot([left, right], poses, noise_sigma=3.0, seed=seed)


class ArraySource(FrameSource):
    """A shot's frames held in memory as a FrameSource (numbered from ``first``), for tracking without files;
    ``continuous=False`` makes it a set of unrelated photos."""

    def __init__(self, frames: list[np.ndarray], first: int = 1001, description: str = "synthetic shot",
                 continuous: bool = True):
        self.arrays = frames
        self.continuous = continuous
        self.frames = tuple(range(first, first + len(frames)))
        self.description = description

    def read(self, frame: int) -> Image:
        return Image(self.arrays[frame - self.frames[0]], ("R", "G", "B"))

    def file_of(self, frame: int) -> Path:
        return Path(f"synthetic.{frame}.png")


def write_exr_plate(frames: list[np.ndarray], folder: Path, first: int = 1001, alpha: bool = False) -> str:
    """Rendered sRGB uint8 frames as a half-float ACEScg EXR sequence (with A = 1 when ``alpha``), frames
    numbered from ``first``; returns the ``folder/plate.####.exr`` pattern."""
    from latentswap_core import color

    for index, frame in enumerate(frames):
        pixels = color.convert(frame.astype(np.float32) / 255, "sRGB - Texture", PLATE_COLORSPACE)
        channels: tuple[str, ...] = ("R", "G", "B")
        if alpha:
            pixels = np.concatenate([pixels, np.ones(pixels.shape[:2] + (1,), np.float32)], axis=2)
            channels = ("R", "G", "B", "A")
        write_image(folder / f"plate.{first + index:04d}.exr", Image(pixels.astype(np.float16), channels), "half")
    return str(folder / "plate.####.exr")
