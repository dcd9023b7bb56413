"""Plates in, compositing-ready EXRs out: per frame, align each tracked face, swap, colour-match, blend, write.

Reading runs ahead on a thread, the model swaps the faces of several frames in one batch, and colour
transfer, blending and writing run on a pool of workers, so the three overlap. The align warp and the merge
(colour transfer, mask refinement, blend) run with numpy on the host or as torch ops on the swap's GPU
(``RenderOptions.blend_device``; ``swap/merge.py``). Each output frame holds

- ``R, G, B, A``: the comp; RGB is the plate's with the faces blended in, A the plate's alpha (1 without one);
- the plate's other channels, untouched;
- ``face.R, face.G, face.B, face.A``: the swapped faces in plate space, premultiplied by their blend alpha;
- ``lsmask.Y``: the blend alpha,

in the plate's colourspace and resolution, with its data and display windows, and header metadata naming the
model, codec, identities, consent reference and source frame. Pixels the blend does not reach are the plate's
own values, bit for bit (float plates keep their half or float type; integer plates are written as half).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from latentswap_core import __version__, color
from latentswap_core.align import (
    aligned_face_mask,
    aligned_source_region,
    alignment_transform,
    from_data_window,
    plate_region,
)
from latentswap_core.blend.color_transfer import MODES as COLOR_TRANSFER_MODES
from latentswap_core.blend.compose import BLENDS
from latentswap_core.blend.grain import grain_seed, matched_grain
from latentswap_core.errors import ImageError, LatentSwapError, ModelError, SettingsError, TrackFileError
from latentswap_core.face_selection import FaceSelection
from latentswap_core.io import FrameSource, Image, write_image
from latentswap_core.io.image import DEFAULT_COMPRESSION, check_exr_compression, reads_back_whole, to_float32
from latentswap_core.io.matte import MatteSequence, placed
from latentswap_core.io.output_files import OutputFolders, output_paths
from latentswap_core.io.stale_partials import remove_stale_partials
from latentswap_core.swap.layers import DEFAULT_LAYERS, LAYERS, OWN_CHANNELS, FacesInBox, frame_layers
from latentswap_core.swap.merge import (
    HOST,
    FaceToMerge,
    MergeSettings,
    check_blend_device,
    describe_blend_device,
    merge_faces,
    merge_ops,
)
from latentswap_core.swap.precision import DEFAULT_PRECISION
from latentswap_core.swap.projection import DEFAULT_PROJECTIONS
from latentswap_core.track.bridge import BRIDGED, DEFAULT_BRIDGE_FRAMES, bridge_unreliable
from latentswap_core.track.trackfile import ShotTrack, TrackedFace

if TYPE_CHECKING:  # torch-backed: the command line imports this module's options without loading torch
    from latentswap_core.models.card import ModelCard
    from latentswap_core.refine.apply import Refiner
    from latentswap_core.swap.occlusion import OcclusionMasker

READ_AHEAD = 4  # frames read before the model needs them, at most
# Plates held between the reader and the writers are also bounded by their bytes: 4K frames (68 MB in half RGBA)
# otherwise sat 4 to a read-ahead queue, 4 to a model batch and 4 to the writers' queue, 1.7 GB in all; at 4K the
# model is 1-2 % of a frame, so fewer frames per model call cost it nothing. Each queue holds at least one frame.
HELD_BYTES = 128 * 2**20
MASK_SOURCES = ("landmarks", "model", "both", "occlusion")


class FaceSwapper(Protocol):
    """What renders a shot's faces: the torch ``Swapper`` or the ``OnnxSwapper`` that ``open_swapper`` gives."""

    face_size: int  # the side of the aligned crops, pixels

    @property
    def card(self) -> ModelCard | None:
        """The model's provenance (an ``OnnxSwapper`` opened on its own file has none)."""

    def swap(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``N x S x S x 3`` aligned crops (float32 sRGB in [0, 1]) -> (swapped crops, their ``N x S x S`` masks)."""
        ...


def swapper_card(swapper: FaceSwapper) -> ModelCard:
    """The swapper's model card, which names the face type and stamps every written frame."""
    if swapper.card is None:
        where = getattr(swapper, "path", "the swapper")
        raise ModelError(f"{where} has no model card: open its model folder (`latentswap swap --model MODEL_DIR "
                         "--backend onnx`), not the ONNX file alone")
    return swapper.card


@dataclass(frozen=True)
class RenderOptions:
    faces: FaceSelection = FaceSelection()  # by track id or person; default: every face
    colorspace: str | None = None  # the plate's; default by pixel type (ACEScg float, sRGB integer)
    ocio_config: str | None = None
    color_transfer: str = "rct"
    # the blend mask: from the plate face's landmarks, the model's prediction, both, or the landmarks' minus what
    # the occlusion model (``occlusion``) finds in front of the face
    mask: str = "landmarks"
    mask_erode: float = 0.0  # plate pixels; negative grows the mask
    mask_blur: float = 0.0  # plate pixels of feather
    blend: str = "alpha"
    mix: float = 1.0
    batch: int = 4  # faces per model call
    workers: int = 2  # threads blending and writing frames
    skip_existing: bool = False
    holdout: MatteSequence | None = None  # where the plate stays in front of the face (microphone, hands)
    occlusion: OcclusionMasker | None = None  # with mask "occlusion"
    layers: str = DEFAULT_LAYERS  # what each frame holds: comp, face or all (swap/layers.py)
    compression: str = DEFAULT_COMPRESSION  # the EXRs' compression
    # where the warps, colour transfer, mask refinement and blend run: numpy on the host, or a torch device (cuda,
    # or cpu to run the torch ops here); see swap/merge.py
    blend_device: str = HOST
    # a run of at most this many frames of a face the mesh followed without confidence (a microphone over the
    # mouth) is swapped on landmarks interpolated from the frames around it (track/bridge.py); 0: left as the plate
    bridge: int = DEFAULT_BRIDGE_FRAMES

    def __post_init__(self) -> None:
        if self.color_transfer not in COLOR_TRANSFER_MODES:
            raise SettingsError(f"--color-transfer {self.color_transfer!r} is unknown: use one of "
                              f"{', '.join(COLOR_TRANSFER_MODES)}")
        if self.mask not in MASK_SOURCES:
            raise SettingsError(f"--mask {self.mask!r} is unknown: use one of {', '.join(MASK_SOURCES)}")
        if (self.mask == "occlusion") != (self.occlusion is not None):
            raise SettingsError("--mask occlusion and --occlusion-model MASK_DIR go together: train one with "
                              "`latentswap train-mask`")
        if self.blend not in BLENDS:
            raise SettingsError(f"--blend {self.blend!r} is unknown: use one of {', '.join(BLENDS)}")
        if not 0.0 <= self.mix <= 1.0:
            raise SettingsError(f"--mix {self.mix} is outside 0..1")
        if not (isinstance(self.bridge, int) and self.bridge >= 0):
            raise SettingsError(f"--bridge {self.bridge} is not allowed: use 0 (no bridging) or more frames")
        for name in ("batch", "workers"):
            if getattr(self, name) < 1:
                raise SettingsError(f"--{name} {getattr(self, name)} is not allowed: use 1 or more")
        if self.layers not in LAYERS:
            raise SettingsError(f"--layers {self.layers!r} is unknown: use one of {', '.join(LAYERS)}")
        try:
            check_exr_compression(self.compression)
        except ImageError as error:
            raise SettingsError(f"--compression: {error}") from None
        check_blend_device(self.blend_device)

    def merge_settings(self) -> MergeSettings:
        return MergeSettings(self.color_transfer, self.mask_erode, self.mask_blur, self.blend, self.mix)

    def header(self) -> dict[str, str]:
        """Every setting that changes the pixels, for the EXR header: two renders with other settings can be told
        apart. (The model, codec and refiner are recorded by their own ids.)"""
        settings = {
            "color_transfer": self.color_transfer, "mask": self.mask, "mask_erode": f"{self.mask_erode:g}",
            "mask_blur": f"{self.mask_blur:g}", "blend": self.blend, "mix": f"{self.mix:g}", "layers": self.layers,
            "compression": self.compression, "face_selection": self.faces.describe(),
            "holdout": self.holdout.describe() if self.holdout is not None else "",
            "occlusion_model": self.occlusion.model_id if self.occlusion is not None else "",
            # the torch ops agree with numpy's to float rounding, not bit for bit
            "blend_device": describe_blend_device(self.blend_device),
            "bridge": str(self.bridge),
        }
        return {f"latentswap/{name}": value for name, value in settings.items()}


@dataclass
class RenderReport:
    written: list[int] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)  # existing frames left alone (skip_existing)
    without_face: list[int] = field(default_factory=list)  # copied through unchanged
    faces_swapped: int = 0
    # selected faces the track marks landmarks_reliable False (profiles, tiny, filled in): left as the plate's
    unreliable_faces: int = 0
    unreliable_frames: list[int] = field(default_factory=list)
    # faces the track marks unreliable that were swapped on landmarks bridged from the frames around them
    bridged_faces: int = 0
    bridged_frames: list[int] = field(default_factory=list)
    created_folders: list[Path] = field(default_factory=list)  # output folders that did not exist
    replaced_layers: set[str] = field(default_factory=set)  # a swap's own layers the plate held (a re-swap)
    off_plate_faces: int = 0  # selected faces the track puts wholly outside the plate: not swapped
    stale_partials: list[Path] = field(default_factory=list)  # dead writers' partial files removed at the start
    stage_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    wall_seconds: float = 0.0


@dataclass
class _AlignedFace:
    track_id: int
    data_to_aligned: np.ndarray  # from the pixels held (data window) to normalised aligned coordinates
    crop: np.ndarray  # S x S x 3, working space
    landmark_mask: np.ndarray  # S x S, the face of the track's landmarks in the crop
    occluder: np.ndarray | None = None  # S x S, what the occlusion model finds in front of the face


@dataclass
class _Frame:
    number: int
    image: Image
    plate_space: str
    faces: list[_AlignedFace]
    swapped: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (face, mask) per face


def check_track(track: ShotTrack, frames: list[int], wanted: FaceSelection, name: str) -> None:
    """Refuse before any work a track that misses frames of the range, or track ids or people asked for that it
    holds nowhere (in no frame of the whole shot: a farm chunk without the face is fine)."""
    covered = {entry.frame for entry in track.frames}
    missing = [frame for frame in frames if frame not in covered]
    if missing:
        from latentswap_core.io import format_frames

        raise TrackFileError(f"{name} has no entry for frames {format_frames(missing)}: track those frames again "
                             "or narrow --frames")
    wanted.check((face for entry in track.frames for face in entry.faces), name)


def render_shot(source: FrameSource, output: str, swapper: FaceSwapper, track: ShotTrack, options: RenderOptions,
                on_frame: Callable[[int, int, bool], None] | None = None,
                refiner: Refiner | None = None, track_name: str = "the track") -> RenderReport:
    """Swap every frame of ``source`` into ``output`` (a sequence pattern); ``on_frame(frame, faces, kept)``.
    With a ``refiner``, each swapped face is refined (in frame order, which its temporal smoothing needs).
    Faces whose landmarks the track marks unreliable are not swapped (they would paste a face at a guessed place)
    but counted in the report, unless ``options.bridge`` bridges them (track/bridge.py). ``track_name`` names the
    track in errors (e.g. its file).
    A missing output folder is created before the first frame is written, and removed again if the render fails
    before a frame landed in it."""
    targets = output_paths(source, output)
    if options.colorspace:
        color.check_colorspace(options.colorspace, options.ocio_config)
    frames = list(source.frames)
    check_track(track, frames, options.faces, track_name)
    holdout = options.holdout
    held = [frame for frame in frames if holdout is not None and frame in holdout.frames]
    if holdout is not None and held:  # a matte of the wrong size fails here, before any frame is written
        holdout.at(held[0], source.display_size())
    report = RenderReport()
    if Path(output).parent.is_dir():
        report.stale_partials = remove_stale_partials(Path(output).parent)
    started = time.perf_counter()
    todo = []
    size = source.display_size() if options.skip_existing else None
    for frame in frames:
        # a frame cut short (a full disk, a killed copy) is rendered again, not kept
        if options.skip_existing and targets[frame].is_file() and reads_back_whole(targets[frame], size, frame):
            report.kept.append(frame)
            if on_frame:
                on_frame(frame, 0, True)
        else:
            todo.append(frame)
    renderer = _Renderer(swapper, track, options, report, lambda n: f"{source.file_of(n)} (frame {n})", refiner,
                         Path(output).parent)
    # The folders are left last, after the writers have finished: on a failure they go if no frame landed.
    with OutputFolders(targets[frame] for frame in todo) as folders, \
            ThreadPoolExecutor(1, thread_name_prefix="read") as reader, \
            ThreadPoolExecutor(options.workers, thread_name_prefix="blend-write") as writers:
        pending: list[tuple[_Frame, Future[None]]] = []

        def drain(limit: int) -> None:
            while len(pending) > limit or (len(pending) > options.workers and plate_bytes(pending) > HELD_BYTES):
                frame, future = pending.pop(0)
                future.result()
                report.written.append(frame.number)
                if not frame.faces:
                    report.without_face.append(frame.number)
                report.faces_swapped += len(frame.faces)
                if on_frame:
                    on_frame(frame.number, len(frame.faces), False)

        try:
            for batch in renderer.batches(_read_ahead(reader, source, todo, report)):
                renderer.swap(batch)
                for aligned in batch:
                    report.created_folders += folders.create()
                    pending.append((aligned, writers.submit(renderer.finish, aligned, targets[aligned.number])))
                drain(2 * options.workers)
            drain(0)
        except BaseException:
            for _, future in pending:
                future.cancel()  # frames not started are not written; started ones land whole (atomic writes)
            raise
    report.wall_seconds = time.perf_counter() - started
    return report


def plate_bytes(frames: list[tuple[_Frame, Future[None]]]) -> int:
    """The bytes of the plates of ``frames`` waiting for a writer."""
    return sum(frame.image.pixels.nbytes for frame, _ in frames)


def filled_batch(faces: list[np.ndarray], size: int) -> np.ndarray:
    """``faces`` stacked and filled up to ``size`` with copies of the last. Every model call then sees one batch
    size, so a face's swap does not depend on how many faces shared its call: on the CPU, oneDNN rounds a batch of
    one differently (~4e-6, enough to flip half floats), and a --skip-existing rerun batches other frames together
    than the first render did."""
    return np.stack(faces + [faces[-1]] * (size - len(faces)))


def _on_plate(face: TrackedFace, track: ShotTrack) -> bool:
    """Whether any of the face's landmarks' box lies on the plate (the track's display size)."""
    points = np.asarray(face.landmarks, np.float64).reshape(-1, 2)
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    return bool(x1 > 0 and y1 > 0 and x0 < track.width and y0 < track.height)


def _runner_header(swapper: FaceSwapper) -> dict[str, str]:
    """What ran the model: the backend and its device or onnxruntime's providers (which may differ from asked)."""
    providers = getattr(swapper, "providers", None)
    if providers is not None:
        return {"latentswap/backend": "onnx", "latentswap/providers": ",".join(providers)}
    return {"latentswap/backend": "torch", "latentswap/providers": str(getattr(swapper, "device", "cpu"))}


def _relative(path: Path, start: Path) -> str:
    """``path`` relative to ``start`` (both made absolute), or absolute where no relative path exists (drives)."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path(start).resolve())).as_posix()
    except ValueError:
        return str(Path(path).resolve())


def _read_ahead(reader: ThreadPoolExecutor, source: FrameSource, frames: list[int],
                report: RenderReport) -> Iterator[tuple[int, Image]]:
    def read(frame: int) -> tuple[int, Image, float]:
        began = time.perf_counter()
        image = source.read(frame)
        return frame, image, time.perf_counter() - began

    queue: list[Future[tuple[int, Image, float]]] = []
    upcoming = iter(frames)

    def read_ahead(depth: int) -> None:
        while len(queue) < depth and (following := next(upcoming, None)) is not None:
            queue.append(reader.submit(read, following))

    read_ahead(1)  # until the first frame tells how large frames are
    while queue:
        frame, image, seconds = queue.pop(0).result()
        report.stage_seconds["read"] += seconds
        read_ahead(max(1, min(READ_AHEAD, HELD_BYTES // max(1, image.pixels.nbytes))))  # read while this is used
        yield frame, image


class _Renderer:
    def __init__(self, swapper: FaceSwapper, track: ShotTrack, options: RenderOptions, report: RenderReport,
                 frame_name: Callable[[int], str], refiner: Refiner | None = None,
                 output_folder: Path | None = None) -> None:
        self.swapper, self.track, self.options, self.report, self.refiner = swapper, track, options, report, refiner
        self.frame_name = frame_name
        self.face_size = swapper.face_size
        self.merge_ops = merge_ops(options.blend_device)
        card = swapper_card(swapper)
        self.face_type = card.face_type
        # A hand-edited or tracked transform is used as is when it frames faces the way the model was trained.
        self.use_track_transforms = track.face_type == self.face_type
        self.bridged = bridge_unreliable(track, options.bridge) if options.bridge else {}
        if options.occlusion is not None:
            options.occlusion.check_face_type(self.face_type)
        self.metadata = {**card.metadata(), **options.header(), **_runner_header(swapper),
                         "latentswap/version": __version__,
                         "latentswap/codec_projection": str(getattr(swapper, "projections", DEFAULT_PROJECTIONS)),
                         "latentswap/precision": getattr(swapper, "precision", DEFAULT_PRECISION)}
        if output_folder is not None:  # the model by its path from the output, which survives a move of both
            self.metadata["latentswap/model"] = _relative(card.folder, output_folder)
        if refiner is not None:
            refiner.check_model(self.face_size, card.codec, card.face_type, str(card.folder))
            self.metadata.update(refiner.metadata())
            if output_folder is not None:
                self.metadata["latentswap/refiner"] = _relative(refiner.folder, output_folder)

    def batches(self, frames: Iterator[tuple[int, Image]]) -> Iterator[list[_Frame]]:
        """Frames grouped so that each group holds at least ``batch`` faces or ``HELD_BYTES`` of plates (or is the
        last)."""
        group: list[_Frame] = []
        count = size = 0
        for number, image in frames:
            with self._stage("align"), self._naming(number):
                group.append(self._align(number, image))
            count += len(group[-1].faces)
            size += image.pixels.nbytes
            if count >= self.options.batch or size >= HELD_BYTES:
                yield group
                group, count, size = [], 0, 0
        if group:
            yield group

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        """Adds the block's seconds to the report's ``stage_seconds[name]`` (summed over threads)."""
        began = time.perf_counter()
        try:
            yield
        finally:
            self.report.stage_seconds[name] += time.perf_counter() - began

    @contextmanager
    def _naming(self, number: int) -> Iterator[None]:
        """A frame's errors (NaN under a face, a transform that cannot align) say which plate file and frame."""
        try:
            yield
        except LatentSwapError as error:
            raise type(error)(f"{self.frame_name(number)}: {error}") from None

    def _align(self, number: int, image: Image) -> _Frame:
        plate_space = self.options.colorspace or color.default_colorspace(image.pixels.dtype)
        chosen = self._faces(number)
        crops = []
        rgb_indices = image.rgb_indices()
        for face in chosen:
            to_aligned = face.to_aligned if self.use_track_transforms and face.to_aligned is not None \
                else alignment_transform(face.landmarks, self.face_type)
            data_to_aligned = from_data_window(to_aligned, image.data_offset)
            # Only the plate under the crop goes to float and the working space: a 4K frame in full took 0.4 s.
            x0, y0, x1, y1 = aligned_source_region(data_to_aligned, self.face_size, image.pixels.shape)
            rgb = to_float32(image.pixels[y0:y1, x0:x1][:, :, rgb_indices])
            working = color.to_working(rgb, plate_space, self.options.ocio_config)
            region_to_aligned = from_data_window(data_to_aligned, (x0, y0))
            crop = np.clip(self.merge_ops.aligned_crop(working, region_to_aligned, self.face_size), 0.0, 1.0)
            mask = aligned_face_mask(face.landmarks, to_aligned, self.face_size, self.face_type)
            crops.append(_AlignedFace(face.track_id, data_to_aligned, crop, mask))
        return _Frame(number, image, plate_space, crops)

    def _faces(self, number: int) -> list[TrackedFace]:
        """The frame's selected faces with reliable landmarks; the others are counted in the report."""
        chosen = [face for face in self.track.faces_at(number) if self.options.faces.matches(face)]
        # faces wholly outside the plate (a hand-edited track, a track of another crop) have nothing to swap
        on_plate = [face for face in chosen if _on_plate(face, self.track)]
        self.report.off_plate_faces += len(chosen) - len(on_plate)
        chosen = on_plate
        chosen = [face if face.landmarks_reliable else self.bridged.get((number, face.track_id), face)
                  for face in chosen]
        bridged = sum(face.detector == BRIDGED for face in chosen)
        if bridged:
            self.report.bridged_faces += bridged
            self.report.bridged_frames.append(number)
        unreliable = sum(not face.landmarks_reliable for face in chosen)
        if unreliable:
            self.report.unreliable_faces += unreliable
            self.report.unreliable_frames.append(number)
        return [face for face in chosen if face.landmarks_reliable]

    def swap(self, frames: list[_Frame]) -> None:
        crops = [face.crop for frame in frames for face in frame.faces]
        if not crops:
            return
        swapped: list[np.ndarray] = []
        masks: list[np.ndarray] = []
        batch = self.options.batch
        with self._stage("swap"):
            for start in range(0, len(crops), batch):
                chunk = crops[start:start + batch]
                faces, face_masks = self.swapper.swap(filled_batch(chunk, batch))
                swapped.extend(faces[:len(chunk)])
                masks.extend(face_masks[:len(chunk)])
        if self.options.occlusion is not None:
            with self._stage("occlusion"):
                aligned = [face for frame in frames for face in frame.faces]
                for start in range(0, len(aligned), batch):
                    faces_chunk = aligned[start:start + batch]
                    occluders = self.options.occlusion.occluders(np.stack([face.crop for face in faces_chunk]))
                    for face, occluder in zip(faces_chunk, occluders, strict=True):
                        face.occluder = occluder
        if self.refiner is not None:
            swapped = self._refine(self.refiner, frames, swapped, masks)
        results = iter(zip(swapped, masks, strict=True))
        for frame in frames:
            frame.swapped = [next(results) for _ in frame.faces]

    def _refine(self, refiner: Refiner, frames: list[_Frame], swapped: list[np.ndarray],
                masks: list[np.ndarray]) -> list[np.ndarray]:
        """The refiner's version of each swapped face, changed only under the mask the blend will use."""
        faces = [face for frame in frames for face in frame.faces]
        keys = [(face.track_id, frame.number) for frame in frames for face in frame.faces]
        blend_masks = [self._blend_mask(face, predicted) for face, predicted in zip(faces, masks, strict=True)]
        refined: list[np.ndarray] = []
        batch = self.options.batch
        with self._stage("refine"):
            for start in range(0, len(swapped), batch):
                refined.extend(refiner.refine(np.stack(swapped[start:start + batch]),
                                              np.stack(blend_masks[start:start + batch]), keys[start:start + batch]))
        return refined

    def _blend_mask(self, aligned: _AlignedFace, predicted_mask: np.ndarray) -> np.ndarray:
        source = self.options.mask  # one of MASK_SOURCES: RenderOptions refused the others when made
        if source == "landmarks":
            return aligned.landmark_mask
        if source == "model":
            return predicted_mask
        if source == "both":
            return aligned.landmark_mask * predicted_mask
        assert source == "occlusion" and aligned.occluder is not None, "swap() found every face's occluder"
        return aligned.landmark_mask * (1.0 - aligned.occluder)

    def finish(self, frame: _Frame, target: Path) -> None:
        """Colour-match and blend the frame's faces into the plate, then write the EXR (on a worker thread)."""
        self.report.replaced_layers.update(name for name in frame.image.channels if name in OWN_CHANNELS)
        pixel_type = self._pixel_type(frame.image)
        with self._stage("blend"):
            faces = self._composite(frame, pixel_type)
        with self._stage("write"):
            metadata = {**frame.image.metadata, **self.metadata, "latentswap/source_frame": str(frame.number),
                        "latentswap/faces": str(len(frame.faces)), "Software": f"LatentSwap {__version__}"}
            if faces is not None and faces.grain_spread is not None:  # per channel, in plate values
                metadata["latentswap/grain"] = " ".join(f"{value:.6g}" for value in faces.grain_spread)
            output = frame_layers(frame.image, faces, self.options.layers, pixel_type, metadata)
            write_image(target, output, pixel_type, self.options.compression)

    def _composite(self, frame: _Frame, pixel_type: str) -> FacesInBox | None:
        """The faces blended over the plate inside the box that holds them all (None: nothing to blend).

        Only that box of the plate is converted and blended: a 4K frame costs what its faces cost."""
        image = frame.image
        box = self._faces_box(frame)
        if box is None:
            return None
        y0, y1, x0, x1 = box
        plate = to_float32(image.pixels[y0:y1, x0:x1][:, :, image.rgb_indices()])
        o = self.options
        faces = [FaceToMerge(face, aligned.crop, self._blend_mask(aligned, predicted_mask),
                             from_data_window(aligned.data_to_aligned, (x0, y0)))
                 for aligned, (face, predicted_mask) in zip(frame.faces, frame.swapped, strict=True)]
        with self._naming(frame.number):
            comp, face_layer = merge_faces(self.merge_ops, plate, faces, o.merge_settings(),
                                           lambda matched: color.from_working(matched, frame.plate_space,
                                                                              o.ocio_config), (x0, y0))
        if o.holdout is not None:
            comp, face_layer = self._hold_out(frame, box, plate, comp, face_layer)
        if pixel_type == "half":
            # An alpha below half's smallest step is written as 0: give those pixels back the plate's own values,
            # so that lsmask.Y == 0 always means untouched.
            alpha = face_layer[:, :, 3]
            invisible = (alpha.astype(np.float16) == 0) & (alpha > 0)
            comp[invisible] = plate[invisible]
            face_layer[invisible] = 0.0
        grain = spread = None
        if o.layers != "comp":  # part of the blend stage's time
            grain, spread = matched_grain(plate, face_layer, grain_seed(frame.number, box))
        return FacesInBox(box, comp, face_layer, grain, spread)

    def _faces_box(self, frame: _Frame) -> tuple[int, int, int, int] | None:
        """(y0, y1, x0, x1): every pixel the frame's faces may reach, grown by one pixel (the Poisson blend's
        boundary), within the plate's data window; None when no face reaches the plate."""
        height, width = frame.image.pixels.shape[:2]
        regions = [plate_region(face.data_to_aligned, self.face_size, (height, width)) for face in frame.faces]
        regions = [(x0, y0, x1, y1) for x0, y0, x1, y1 in regions if x1 > x0 and y1 > y0]
        if not regions:
            return None
        x0, y0, x1, y1 = (min(r[0] for r in regions), min(r[1] for r in regions), max(r[2] for r in regions),
                          max(r[3] for r in regions))
        return max(y0 - 1, 0), min(y1 + 1, height), max(x0 - 1, 0), min(x1 + 1, width)

    def _hold_out(self, frame: _Frame, box: tuple[int, int, int, int], plate: np.ndarray, comp: np.ndarray,
                  face_layer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The plate back where the holdout matte is (at the plate's own pixels, edges as drawn), and the face
        layer cut by it, so that a comp of face.RGBA over the plate gives the same picture."""
        assert self.options.holdout is not None
        image = frame.image
        with self._naming(frame.number):
            matte = self.options.holdout.at(frame.number, image.display_box[2:])
        if matte is None:
            return comp, face_layer
        x, y = image.data_offset
        y0, _, x0, _ = box
        held = placed(matte, comp.shape[:2], (-(x + x0), -(y + y0)))  # the matte over the box (outside it: none)
        keep = 1.0 - held
        comp = comp * keep[:, :, None] + plate * held[:, :, None]
        return comp, face_layer * keep[:, :, None]

    @staticmethod
    def _pixel_type(image: Image) -> str:
        """Half floats hold every 8- and 10-bit code value exactly; float plates and 12/16-bit ones need float."""
        return "half" if image.pixel_type in ("half", "uint8", "uint10") else "float"
