"""Evaluate a swapped sequence against its plate, frame by frame: the ``latentswap eval`` engine.

The plate's face (from ``--track`` or tracked now) fixes the geometry: its alignment crops both the plate and
the result, so the crops differ only by what the swap changed. The result is tracked too, for pose, expression
and landmark jitter. Terms: ``target`` is the identity the swap should show (the model's src), ``source`` the
identity originally in the plate (the model's dst).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
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
from latentswap_core.track import ShotTrack, ShotTracker, TrackOptions, display_rgb, track_source

FACE_TYPE = "whole_face"
THUMBNAIL_SIZE = 128
# The grid measure looks at the swap's crops as the model decoded them: their size and the codec's block size come
# from the swap's header (latentswap/face_size, latentswap/codec_downscale), else these
DEFAULT_FACE_SIZE = 256
DEFAULT_CODEC_PERIOD = 8


@dataclass(frozen=True)
class EvalOptions:
    """``target``/``source``: faceset folders (no source: each frame's plate face is the source identity), or
    ``target_person``: the target is one person of a track file, cut from that track's frames (no ArcFace or FID
    reference then: those need a faceset);
    ``faces``: the plate face to evaluate, by track id or person (in a frame with several, the lowest track id;
    default: the first track); ``reference_faces``: faceset faces
    averaged into an identity; ``crop_size``: aligned crops for identity and flicker; weights: optional files."""

    target: Path | None
    source: Path | None = None
    target_person: PersonFaces | None = None
    faces: FaceSelection = FaceSelection()
    colorspace: str | None = None
    ocio_config: str | None = None
    crop_size: int = 256
    reference_faces: int = 16
    arcface: Path | None = None
    fid_weights: Path | None = None
    lpips_weights: Path | None = None


@dataclass(frozen=True)
class PersonFaces:
    """One person of a track file, with the frames it was made from."""

    track: ShotTrack
    plate: FrameSource
    person: int
    name: str  # the track file as the user named it


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


def person_descriptor(faces: PersonFaces, count: int, describe: Callable[[np.ndarray], np.ndarray], size: int,
                      colorspace: str | None = None, ocio_config: str | None = None) -> np.ndarray:
    """The mean descriptor of up to ``count`` faces of one person (reliable landmarks only), spread evenly over
    the frames that hold them."""
    from latentswap_core.identity import mean_descriptor

    FaceSelection(people=(faces.person,)).check(
        (face for entry in faces.track.frames for face in entry.faces), faces.name)
    found = [(entry.frame, face) for entry in faces.track.frames for face in entry.faces
             if face.person == faces.person and face.landmarks_reliable and entry.frame in faces.plate.frames]
    if not found:
        raise SequenceError(f"person {faces.person} of {faces.name} has no face with reliable landmarks in "
                            f"{faces.plate.description}; pick another person or a faceset as --target")
    picks = np.unique(np.linspace(0, len(found) - 1, min(count, len(found))).round().astype(int))
    descriptors = []
    for index in picks:
        frame, face = found[int(index)]
        image = faces.plate.read(frame)
        rgb = np.clip(color.working_rgb(image, colorspace, ocio_config), 0.0, 1.0).astype(np.float32)
        to_aligned = from_data_window(alignment_transform(face.landmarks, FACE_TYPE), image.data_offset)
        descriptors.append(describe(warp_to_aligned(rgb, to_aligned, size)))
    return mean_descriptor(descriptors)


def evaluate_shot(plate: FrameSource, swapped: FrameSource, options: EvalOptions, plate_track: ShotTrack | None = None,
                  swapped_track: ShotTrack | None = None,
                  on_frame: Callable[[str, int], None] | None = None,
                  track_name: str = "the plate's track") -> Evaluation:
    """Every metric per frame and summarised; ``on_frame(stage, frame)`` after each frame of each stage
    (``track plate`` when no plate track is given, then ``measure``, which tracks the result too when no result
    track is given). ``track_name`` names the plate's track in errors."""
    from latentswap_core.identity import SAME_PERSON_DISTANCE, DlibIdentity

    check_frames(plate, swapped)
    tell = on_frame or (lambda stage, frame: None)
    given_space = options.colorspace  # the target person's frames may be another kind of file than the plate
    # The swap writes in the plate's colourspace, whatever its storage: an 8-bit sRGB movie's swap is sRGB in half
    # floats, not the ACEScg that float files default to. Both are read as the plate.
    options = replace(options, colorspace=options.colorspace or color.default_colorspace(
        plate.read(plate.frames[0]).pixels.dtype))
    track_options = TrackOptions(colorspace=options.colorspace, ocio_config=options.ocio_config)
    if plate_track is None:
        plate_track = track_source(plate, track_options, lambda frame, found: tell("track plate", frame))
    options.faces.check((face for entry in plate_track.frames for face in entry.faces), track_name)
    selection = options.faces if not options.faces.everyone else \
        FaceSelection(track_ids=tuple(plate_track.track_ids[:1]) or None)
    identity = DlibIdentity()
    size = options.crop_size

    def describe(crop: np.ndarray) -> np.ndarray:
        return identity.describe_aligned(crop)

    if options.target_person is not None:
        target = person_descriptor(options.target_person, options.reference_faces, describe, size,
                                   given_space, options.ocio_config)
    elif options.target is not None:
        target = reference_descriptor(options.target, options.reference_faces, describe)
    else:
        raise SequenceError("eval needs the identity the swap should show: a faceset, or a person of a track file")
    source = reference_descriptor(options.source, options.reference_faces, describe) if options.source else None
    extras = OnnxExtras(options.arcface, options.fid_weights, options.lpips_weights)
    if options.target is not None:
        extras.reference(options.target, options.reference_faces)

    evaluation = Evaluation([], {})
    previous: dict[str, np.ndarray] | None = None
    plate_faces: list[Any] = []
    flickers: list[float | None] = []
    # The result is tracked in the pass that measures it (each frame read once): its faces are known when the track
    # is finished, so the rows that need them (pose, expression) are added after the pass.
    tracker = None if swapped_track is not None else ShotTracker(track_options, continuous=swapped.continuous)
    with tracker or nullcontext():
        for frame in plate.frames:
            plate_image, result_image = plate.read(frame), swapped.read(frame)
            row: dict[str, Any] = {"frame": frame}
            plate_face = _plate_face(plate_track, frame, selection)
            plate_rgb = _display(plate_image, options)
            result_rgb = _display(result_image, options)
            if tracker is not None:
                tracker.add(frame, display_rgb(result_image, options.colorspace, options.ocio_config),
                            result_image.data_offset)
            mask = _face_region(result_image, plate_face, plate_rgb.shape)
            row["changed_outside"] = _changed_outside(plate_image, result_image, mask)
            row["psnr"] = metrics.masked_psnr(result_rgb, plate_rgb, mask)
            row["ssim"] = metrics.masked_ssim(result_rgb, plate_rgb, mask)
            row["detail_ratio"] = metrics.detail_ratio(result_rgb, plate_rgb, mask)
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
                row.update(_grid_row(plate_rgb, result_rgb, plate_face.landmarks, plate_image.data_offset,
                                     result_image.metadata))
            flickers.append(_flicker(previous, current))
            previous = current
            plate_faces.append(plate_face)
            evaluation.frames.append(row)
            tell("measure", frame)
        if tracker is not None:
            swapped_track = tracker.finish(swapped.description, *result_image.display_box[2:])
    assert swapped_track is not None  # given, or tracked in the pass
    plate_landmarks: list[np.ndarray | None] = []
    result_landmarks: list[np.ndarray | None] = []
    for row, plate_face, flicker in zip(evaluation.frames, plate_faces, flickers, strict=True):
        result_face = _nearest_face(swapped_track, row["frame"], plate_face)
        plate_landmarks.append(None if plate_face is None else plate_face.landmarks)
        result_landmarks.append(None if result_face is None else result_face.landmarks)
        if plate_face is not None and result_face is not None:
            row.update(_pose_row(plate_face.landmarks, result_face.landmarks, (plate_track.width, plate_track.height)))
        row["flicker"] = flicker
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
            "jitter_result", "lpips", "grid_ratio", "grid_plate", "grid_result", "detail_ratio")
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
    """The result's blend alpha (lsmask.Y; mask.Y in earlier renders) when it has one, else the plate face's
    landmark hull."""
    for name in ("lsmask.Y", "mask.Y"):
        if name in result.channels:
            return np.clip(result.channel(name).astype(np.float32), 0.0, 1.0)
    if plate_face is None:
        return np.zeros(shape[:2], np.float32)
    offset = np.array(result.data_offset, np.float64)
    return face_mask(plate_face.landmarks - offset, shape, FACE_TYPE)


def _changed_outside(plate: Image, result: Image, mask: np.ndarray) -> int | None:
    """Pixels outside ``mask`` that differ from the plate at the plate's precision: an 8-bit plate stored as half
    floats keeps its 8-bit values, and such a pixel is unchanged."""
    names = [name for name in plate.channels if name in result.channels]
    if not names or plate.pixels.shape[:2] != result.pixels.shape[:2]:
        return None
    a = np.stack([plate.channel(name) for name in names], axis=2)
    b = np.stack([metrics.at_precision(result.channel(name), a) for name in names], axis=2)
    return metrics.changed_outside(b, a, mask <= 0)


def _grid_row(plate_rgb: np.ndarray, result_rgb: np.ndarray, landmarks: np.ndarray, data_offset: tuple[int, int],
              header: dict[str, Any]) -> dict[str, float | None]:
    """The codec grid measure (``metrics.grid_energy``) of the plate's face and the result's, in crops framed and
    sized as the model saw them, and their ratio (``grid_ratio``: 1 when the swap adds no grid)."""
    face_type = str(header.get("latentswap/face_type") or FACE_TYPE)
    size = _header_int(header, "latentswap/face_size", DEFAULT_FACE_SIZE)
    period = _header_int(header, "latentswap/codec_downscale", DEFAULT_CODEC_PERIOD)
    to_aligned = alignment_transform(landmarks, face_type)
    crop_transform = from_data_window(to_aligned, data_offset)
    mask = aligned_face_mask(landmarks, to_aligned, size, face_type)
    plate = metrics.grid_energy(warp_to_aligned(plate_rgb, crop_transform, size), period, mask)
    result = metrics.grid_energy(warp_to_aligned(result_rgb, crop_transform, size), period, mask)
    ratio = result / plate if plate and result is not None else None
    return {"grid_plate": plate, "grid_result": result, "grid_ratio": ratio}


def _header_int(header: dict[str, Any], key: str, default: int) -> int:
    try:
        value = int(str(header.get(key, "")))
    except ValueError:
        return default
    return value if value > 0 else default


def _pose_row(plate: np.ndarray, result: np.ndarray, frame_size: tuple[int, int]) -> dict[str, float | list[float]]:
    plate_rotation = pose.head_rotation(plate, frame_size)
    result_rotation = pose.head_rotation(result, frame_size)
    plate_angles = pose.rotation_angles(plate_rotation)
    result_angles = pose.rotation_angles(result_rotation)
    row: dict[str, float | list[float]] = {"pose_error": pose.rotation_difference(plate_rotation, result_rotation),
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
