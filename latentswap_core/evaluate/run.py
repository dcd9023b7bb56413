"""Evaluate a swapped sequence against its plate, frame by frame: the ``latentswap eval`` engine.

The plate's face (from ``--track`` or tracked now) fixes the geometry: its alignment crops both the plate and
the result, so the crops differ only by what the swap changed. The result is tracked too, for pose, expression
and landmark jitter. Terms: ``target`` is the identity the swap should show (the model's src), ``source`` the
identity originally in the plate (the model's dst).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from latentswap_core import color
from latentswap_core.align import aligned_face_mask, alignment_transform, face_mask, from_data_window, warp_to_aligned
from latentswap_core.errors import SequenceError
from latentswap_core.evaluate import metrics, pose
from latentswap_core.evaluate.metrics import OnnxExtras
from latentswap_core.face_selection import FaceSelection
from latentswap_core.io import FrameSource, Image, format_frames
from latentswap_core.track import ShotTrack, TrackOptions, track_source

FACE_TYPE = "whole_face"
THUMBNAIL_SIZE = 128


@dataclass(frozen=True)
class EvalOptions:
    """``target``/``source``: faceset folders (no source: each frame's plate face is the source identity);
    ``faces``: the plate face to evaluate, by track id or person (in a frame with several, the lowest track id;
    default: the first track); ``reference_faces``: faceset faces
    averaged into an identity; ``crop_size``: aligned crops for identity and flicker; weights: optional files."""

    target: Path
    source: Path | None = None
    faces: FaceSelection = FaceSelection()
    colorspace: str | None = None
    ocio_config: str | None = None
    crop_size: int = 256
    reference_faces: int = 16
    arcface: Path | None = None
    fid_weights: Path | None = None
    lpips_weights: Path | None = None


@dataclass
class Evaluation:
    frames: list[dict[str, Any]]
    summary: dict[str, Any]
    messages: list[str] = field(default_factory=list)
    thumbnails: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # frame: (plate, result)


def check_frames(plate: FrameSource, swapped: FrameSource) -> None:
    if tuple(plate.frames) != tuple(swapped.frames):
        only_plate = sorted(set(plate.frames) - set(swapped.frames))
        only_swapped = sorted(set(swapped.frames) - set(plate.frames))
        detail = "; ".join(part for part in (
            f"only in the plate: {format_frames(only_plate)}" if only_plate else "",
            f"only in the swapped sequence: {format_frames(only_swapped)}" if only_swapped else "") if part)
        raise SequenceError(f"the plate ({plate.description}) and the swapped sequence ({swapped.description}) hold "
                            f"different frames ({detail or 'different order'}); pass --frames to compare a common "
                            "range")
    plate_size, swapped_size = plate.display_size(), swapped.display_size()
    if plate_size != swapped_size:
        raise SequenceError(f"{swapped.file_of(swapped.frames[0])}: the swapped sequence is "
                            f"{swapped_size[0]}x{swapped_size[1]} but the plate ({plate.description}) is "
                            f"{plate_size[0]}x{plate_size[1]}; compare the swap with the plate it was made from")


def reference_descriptor(folder: Path, count: int, describe: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The mean descriptor of up to ``count`` faces spread evenly over a faceset."""
    from latentswap_core.faceset import load_faceset
    from latentswap_core.identity import mean_descriptor

    faceset = load_faceset(folder)
    if not faceset.faces:
        raise SequenceError(f"the faceset {folder} holds no faces; extract some with `latentswap extract`")
    picks = np.unique(np.linspace(0, len(faceset.faces) - 1, min(count, len(faceset.faces))).round().astype(int))
    return mean_descriptor([describe(faceset.face(int(i))) for i in picks])


def evaluate_shot(plate: FrameSource, swapped: FrameSource, options: EvalOptions, plate_track: ShotTrack | None = None,
                  swapped_track: ShotTrack | None = None,
                  on_frame: Callable[[str, int], None] | None = None,
                  track_name: str = "the plate's track") -> Evaluation:
    """Every metric per frame and summarised; ``on_frame(stage, frame)`` after each frame of each stage
    (``track plate``, ``track result``, ``measure``). ``track_name`` names the plate's track in errors."""
    from latentswap_core.identity import SAME_PERSON_DISTANCE, DlibIdentity

    check_frames(plate, swapped)
    tell = on_frame or (lambda stage, frame: None)
    track_options = TrackOptions(colorspace=options.colorspace, ocio_config=options.ocio_config)
    if plate_track is None:
        plate_track = track_source(plate, track_options, lambda frame, found: tell("track plate", frame))
    options.faces.check((face for entry in plate_track.frames for face in entry.faces), track_name)
    selection = options.faces if not options.faces.everyone else \
        FaceSelection(track_ids=tuple(plate_track.track_ids[:1]) or None)
    if swapped_track is None:
        swapped_track = track_source(swapped, track_options, lambda frame, found: tell("track result", frame))

    identity = DlibIdentity()
    size = options.crop_size

    def describe(crop: np.ndarray) -> np.ndarray:
        return identity.describe_aligned(crop)

    target = reference_descriptor(options.target, options.reference_faces, describe)
    source = reference_descriptor(options.source, options.reference_faces, describe) if options.source else None
    extras = OnnxExtras(options.arcface, options.fid_weights, options.lpips_weights)
    extras.reference(options.target, options.reference_faces)

    evaluation = Evaluation([], {})
    previous: dict[str, np.ndarray] | None = None
    plate_landmarks: list[np.ndarray | None] = []
    result_landmarks: list[np.ndarray | None] = []
    for frame in plate.frames:
        plate_image, result_image = plate.read(frame), swapped.read(frame)
        row: dict[str, Any] = {"frame": frame}
        plate_face = _plate_face(plate_track, frame, selection)
        result_face = _nearest_face(swapped_track, frame, plate_face)
        plate_rgb = _display(plate_image, options)
        result_rgb = _display(result_image, options)
        mask = _face_region(result_image, plate_face, plate_rgb.shape)
        row["changed_outside"] = _changed_outside(plate_image, result_image, mask)
        row["psnr"] = metrics.masked_psnr(result_rgb, plate_rgb, mask)
        row["ssim"] = metrics.masked_ssim(result_rgb, plate_rgb, mask)
        plate_landmarks.append(None if plate_face is None else plate_face.landmarks)
        result_landmarks.append(None if result_face is None else result_face.landmarks)
        row["face"] = plate_face is not None
        current = None
        if plate_face is not None:
            to_aligned = alignment_transform(plate_face.landmarks, FACE_TYPE)
            crop_transform = from_data_window(to_aligned, plate_image.data_offset)
            current = {"plate": warp_to_aligned(plate_rgb, crop_transform, size),
                       "result": warp_to_aligned(result_rgb, crop_transform, size),
                       "mask": aligned_face_mask(plate_face.landmarks, to_aligned, size, FACE_TYPE)}
            descriptor = describe(current["result"])
            reference = source if source is not None else describe(current["plate"])
            scores = metrics.identity_scores(descriptor, target, reference)
            row.update({f"identity_{key}": value for key, value in scores.items()})
            row.update(extras.measure(current["result"], current["plate"]))
            evaluation.thumbnails[frame] = (_thumbnail(current["plate"]), _thumbnail(current["result"]))
        if plate_face is not None and result_face is not None:
            row.update(_pose_row(plate_face.landmarks, result_face.landmarks, (plate_track.width, plate_track.height)))
        row["flicker"] = _flicker(previous, current)
        previous = current
        evaluation.frames.append(row)
        tell("measure", frame)
    for row, plate_jitter, result_jitter in zip(evaluation.frames, pose.landmark_jitter(plate_landmarks),
                                                pose.landmark_jitter(result_landmarks), strict=True):
        row["jitter_plate"], row["jitter_result"] = plate_jitter, result_jitter
    evaluation.summary = summarise(evaluation.frames, SAME_PERSON_DISTANCE)
    evaluation.summary["fid"] = extras.fid()
    evaluation.messages = extras.messages
    evaluation.summary["skipped"] = extras.skipped
    return evaluation


def summarise(frames: list[dict[str, Any]], same_person: float) -> dict[str, Any]:
    """Per metric: mean, median and worst over the frames that have it, plus the shot-level rates and totals."""
    def values(key: str) -> list[Any]:
        return [row.get(key) for row in frames]

    worst_low = {"identity_to_source", "psnr", "ssim", "arcface_similarity"}
    keys = ("identity_to_target", "identity_to_source", "arcface_similarity", "pose_error", "yaw_error",
            "pitch_error", "roll_error", "expression", "psnr", "ssim", "changed_outside", "flicker", "jitter_plate",
            "jitter_result", "lpips")
    summary: dict[str, Any] = {"metrics": {}}
    for key in keys:
        if any(value is not None for value in values(key)):
            magnitudes = [None if v is None else abs(v) if key.endswith("_error") else v for v in values(key)]
            summary["metrics"][key] = metrics.summarise(magnitudes, "min" if key in worst_low else "max")
    retrieved = [v for v in values("identity_retrieved") if v is not None]
    summary["identity_retrieval_rate"] = float(np.mean(retrieved)) if retrieved else None
    summary["same_person_distance"] = same_person
    summary["changed_outside_total"] = int(sum(v or 0 for v in values("changed_outside")))
    summary["frames_without_face"] = [row["frame"] for row in frames if not row["face"]]
    return summary


def _display(image: Image, options: EvalOptions) -> np.ndarray:
    return np.clip(color.working_rgb(image, options.colorspace, options.ocio_config), 0.0, 1.0).astype(np.float32)


def _plate_face(track: ShotTrack, frame: int, selection: FaceSelection) -> Any:
    """The selected face of ``frame`` with the lowest track id (None: no selected face there)."""
    chosen = [face for face in track.faces_at(frame) if selection.matches(face)]
    return min(chosen, key=lambda face: face.track_id) if chosen else None


def _nearest_face(track: ShotTrack, frame: int, plate_face: Any) -> Any:
    faces = track.faces_at(frame)
    if not faces or plate_face is None:
        return None
    centre = plate_face.landmarks.mean(axis=0)
    face = min(faces, key=lambda face: float(np.linalg.norm(face.landmarks.mean(axis=0) - centre)))
    size = np.ptp(plate_face.landmarks, axis=0).max()
    return face if np.linalg.norm(face.landmarks.mean(axis=0) - centre) < 0.5 * size else None


def _face_region(result: Image, plate_face: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The result's blend alpha (mask.Y) when it has one, else the plate face's landmark hull."""
    if "mask.Y" in result.channels:
        return np.clip(result.channel("mask.Y").astype(np.float32), 0.0, 1.0)
    if plate_face is None:
        return np.zeros(shape[:2], np.float32)
    offset = np.array(result.data_offset, np.float64)
    return face_mask(plate_face.landmarks - offset, shape, FACE_TYPE)


def _changed_outside(plate: Image, result: Image, mask: np.ndarray) -> int | None:
    names = [name for name in plate.channels if name in result.channels]
    if not names or plate.pixels.shape[:2] != result.pixels.shape[:2]:
        return None
    a = np.stack([plate.channel(name).astype(np.float32) for name in names], axis=2)
    b = np.stack([result.channel(name).astype(np.float32) for name in names], axis=2)
    return metrics.changed_outside(b, a, mask <= 0)


def _pose_row(plate: np.ndarray, result: np.ndarray, frame_size: tuple[int, int]) -> dict[str, float]:
    plate_rotation = pose.head_rotation(plate, frame_size)
    result_rotation = pose.head_rotation(result, frame_size)
    plate_angles = pose.rotation_angles(plate_rotation)
    result_angles = pose.rotation_angles(result_rotation)
    row = {"pose_error": pose.rotation_difference(plate_rotation, result_rotation),
           "expression": pose.expression_difference(plate, result),
           "plate_pose": list(plate_angles), "result_pose": list(result_angles)}
    for name, a, b in zip(("yaw", "pitch", "roll"), plate_angles, result_angles, strict=True):
        row[f"{name}_error"] = (b - a + 180.0) % 360.0 - 180.0
    return row


def _flicker(previous: dict[str, np.ndarray] | None, current: dict[str, np.ndarray] | None) -> float | None:
    if previous is None or current is None:
        return None
    values = metrics.flicker([previous["result"], current["result"]], [previous["plate"], current["plate"]],
                             [previous["mask"], current["mask"]])
    return values[1]


def _thumbnail(crop: np.ndarray) -> np.ndarray:
    small = cv2.resize(crop, (THUMBNAIL_SIZE, THUMBNAIL_SIZE), interpolation=cv2.INTER_AREA)
    return (np.clip(small, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
