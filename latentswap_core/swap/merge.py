"""The merge stage of a swap on one frame: each face colour-matched, its mask refined, pasted over the plate's box.

Where it runs is chosen once per render (``RenderOptions.blend_device``, from ``--device``):

- ``numpy``: numpy and OpenCV on the host (``blend/color_transfer.py``, ``blend/compose.py``, ``align/warp.py``),
  the CPU default, unchanged;
- a torch device (``cuda``, ``cuda:1``, or ``cpu`` to run the torch ops here, as the tests do): the same steps as
  torch ops (``blend/*_torch.py``, ``align/warp_torch.py``). The faces' box of the plate goes up once per frame
  and only the box's comp and face layer come down; the small aligned crops go up and down around the model and
  around the colour conversion to the plate's space (OCIO, on the host). Poisson solves on the host.

Both give the same pixels to float rounding; pixels the faces do not reach are the plate's, bit for bit, in both.
The header records which ran (``RenderOptions.header``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from latentswap_core.align.warp import warp_to_aligned
from latentswap_core.blend.color_transfer import transfer_color
from latentswap_core.blend.compose import paste_face, refine_mask
from latentswap_core.errors import SettingsError

HOST = "numpy"
BLEND_DEVICE_CHOICES = ("auto", HOST, "torch")  # the hidden --blend-device: auto is torch on a GPU, numpy on the CPU


def choose_blend_device(request: str, device: str) -> str:
    """``RenderOptions.blend_device`` for ``--blend-device`` ``request`` and the swap's resolved torch ``device``."""
    if request not in BLEND_DEVICE_CHOICES:
        raise SettingsError(f"--blend-device {request!r} is unknown: use one of {', '.join(BLEND_DEVICE_CHOICES)}")
    if request == "torch" or (request == "auto" and device.startswith("cuda")):
        return device
    return HOST


def check_blend_device(name: str) -> str:
    """``numpy`` or a torch device name (cpu, cuda, cuda:N); SettingsError otherwise."""
    kind, _, index = name.partition(":")
    if name == HOST or (kind in ("cpu", "cuda") and (not index or (kind == "cuda" and index.isdigit()))):
        return name
    raise SettingsError(f"--blend-device {name!r} is unknown: use numpy, torch, or auto (torch on --device cuda)")


def describe_blend_device(name: str) -> str:
    """What the header records: ``numpy``, ``torch cpu`` or ``torch cuda`` (which GPU does not change pixels)."""
    return HOST if name == HOST else f"torch {name.partition(':')[0]}"


@dataclass(frozen=True)
class FaceToMerge:
    """One swapped face and what merging it needs, in the model's working space."""

    face: np.ndarray  # S x S x 3, the model's swap (refined, if asked)
    crop: np.ndarray  # S x S x 3, the plate's aligned crop: the colour transfer's target
    mask: np.ndarray  # S x S, the blend mask before refinement
    box_to_aligned: np.ndarray  # (2, 3): from the box's pixels to normalised aligned coordinates


@dataclass(frozen=True)
class MergeSettings:
    """The knobs of the merge (``RenderOptions``' of the same names)."""

    color_transfer: str
    mask_erode: float
    mask_blur: float
    blend: str
    mix: float


class MergeOps(Protocol):
    """The steps on one kind of array: numpy arrays on the host, or tensors on a torch device."""

    def upload(self, array: np.ndarray) -> Any: ...
    def download(self, array: Any) -> np.ndarray: ...
    def zeros(self, shape: tuple[int, ...]) -> Any: ...
    def aligned_crop(self, working: np.ndarray, region_to_aligned: np.ndarray, size: int) -> np.ndarray: ...
    def transfer_color(self, source: Any, target: Any, mask: Any, mode: str) -> Any: ...
    def refine_mask(self, mask: Any, erode_px: float, blur_px: float, to_aligned: np.ndarray) -> Any: ...
    def paste_face(self, plate: Any, face: Any, mask: Any, to_aligned: np.ndarray, blend: str, mix: float,
                   origin: tuple[int, int]) -> Any: ...


class HostOps:
    """numpy and OpenCV: the CPU default."""

    def upload(self, array: np.ndarray) -> np.ndarray:
        return array

    def download(self, array: np.ndarray) -> np.ndarray:
        return array

    def zeros(self, shape: tuple[int, ...]) -> np.ndarray:
        return np.zeros(shape, np.float32)

    def aligned_crop(self, working: np.ndarray, region_to_aligned: np.ndarray, size: int) -> np.ndarray:
        return warp_to_aligned(working, region_to_aligned, size)

    transfer_color = staticmethod(transfer_color)
    refine_mask = staticmethod(refine_mask)
    paste_face = staticmethod(paste_face)


def merge_ops(blend_device: str) -> MergeOps:
    """The steps for ``blend_device`` (checked): torch is imported only when asked for."""
    if check_blend_device(blend_device) == HOST:
        return HostOps()
    from latentswap_core.swap.merge_torch import TorchOps

    return TorchOps(blend_device)


def merge_faces(ops: MergeOps, plate: np.ndarray, faces: list[FaceToMerge], settings: MergeSettings,
                to_plate_space: Callable[[np.ndarray], np.ndarray],
                origin: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The faces over ``plate`` (h x w x 3 float32, the box of the frame at ``origin`` (x, y)), each over what is
    already there: (comp h x w x 3, face layer h x w x 4: the faces premultiplied, and their alpha)."""
    comp = ops.upload(plate)
    face_layer = ops.zeros((*plate.shape[:2], 4))
    for face in faces:
        mask = ops.upload(face.mask)
        matched = ops.transfer_color(ops.upload(face.face), ops.upload(face.crop), mask, settings.color_transfer)
        in_plate_space = ops.upload(to_plate_space(ops.download(matched)))
        refined = ops.refine_mask(mask, settings.mask_erode, settings.mask_blur, face.box_to_aligned)
        pasted = ops.paste_face(comp, in_plate_space, refined, face.box_to_aligned, settings.blend, settings.mix,
                                origin)
        comp = pasted.comp
        face_layer = pasted.face_rgba + face_layer * (1.0 - pasted.alpha[:, :, None])
    return ops.download(comp), ops.download(face_layer)
