"""The codec interface: RGB in [0, 1] <-> latent, one frozen module, a description to record in a model."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from latentswap_core.errors import ModelError


@dataclass(frozen=True)
class CodecInfo:
    """What a trained model must record about the codec its latents came from."""

    name: str
    latent_channels: int
    downscale: int
    weights_sha256: dict[str, str] = field(default_factory=dict)  # file name -> sha256, sorted by name
    source: str = ""  # the folder the weights were read from ("" for weight-free codecs)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sha256_of_files(files: Iterable[Path]) -> dict[str, str]:
    """{file name: sha256 hex} for each file, in sorted name order."""
    hashes: dict[str, str] = {}
    for path in sorted(files, key=lambda p: p.name):
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        hashes[path.name] = digest.hexdigest()
    return hashes


def freeze(module: nn.Module) -> nn.Module:
    """Eval mode, no parameter gradients; gradients still flow through it to its input."""
    module.eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module


class Codec(ABC):
    """Encode RGB ``B x 3 x H x W`` in [0, 1] to a latent ``B x C x H/d x W/d`` and decode it back.

    Neither call disables autograd: wrap them in ``torch.no_grad()`` when no gradients are wanted
    (pre-encoding a faceset, inference). The module itself is frozen, so a pixel loss on ``decode(z)``
    sends gradients to ``z`` only.
    """

    name: str
    latent_channels: int
    downscale: int
    # Decoding a window of a latent (the trainer's pixel loss): latent pixels of context decoded around it, and
    # the grid its decoded region is aligned to. None: the decoder sees the whole latent (attention), so
    # windows are cut from a whole decode.
    window_margin: int | None = None
    window_grid: int = 1
    # Run the module on channels-last tensors (NHWC): oneDNN's convolutions on the CPU take them 1.6-1.8x faster
    # (TAEF2 encode or decode of two 512 px faces: 1.7 -> 1.1 s, 1.9 -> 1.2 s). Inputs and outputs stay NCHW.
    channels_last: bool = False

    def __init__(self, module: nn.Module, weights_sha256: dict[str, str] | None = None, source: str = "") -> None:
        self.module = freeze(module)
        if self.channels_last:
            # nn.Module.to takes memory_format (documented); torch's overloads for it leave the keyword out
            self.module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.weights_sha256 = dict(weights_sha256 or {})
        self.source = source

    # --- what subclasses provide -------------------------------------------------------------------------
    @abstractmethod
    def _encode(self, rgb: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def _decode(self, latent: torch.Tensor) -> torch.Tensor: ...

    # --- the interface -----------------------------------------------------------------------------------
    def latent_shape(self, face_size: int) -> tuple[int, int, int]:
        """(channels, height, width) of the latent of a square ``face_size`` face."""
        self.check_face_size(face_size)
        side = face_size // self.downscale
        return (self.latent_channels, side, side)

    def check_face_size(self, face_size: int) -> None:
        if face_size <= 0 or face_size % self.downscale:
            lower = max(self.downscale, face_size // self.downscale * self.downscale)
            raise ModelError(
                f"face size {face_size} does not fit codec {self.name!r}: it must be a multiple of "
                f"{self.downscale}; use {lower} or {lower + self.downscale}"
            )

    def encode(self, rgb: torch.Tensor) -> torch.Tensor:
        """RGB ``B x 3 x H x W`` in [0, 1] -> latent ``B x C x H/d x W/d`` (in the codec's dtype and device)."""
        if rgb.ndim != 4 or rgb.shape[1] != 3:
            raise ModelError(f"codec {self.name!r} encodes B x 3 x H x W RGB tensors, got shape {tuple(rgb.shape)}")
        for side in rgb.shape[2:]:
            self.check_face_size(int(side))
        return self._run(self._encode, rgb)

    def decode(self, latent: torch.Tensor, clamp: bool = True) -> torch.Tensor:
        """Latent -> RGB ``B x 3 x H x W``; clamped to [0, 1] unless ``clamp=False``.

        Use ``clamp=False`` for pixel losses: the clamp has zero gradient wherever the decoder overshoots.
        """
        expected = self.latent_channels
        if latent.ndim != 4 or latent.shape[1] != expected:
            raise ModelError(
                f"codec {self.name!r} decodes B x {expected} x h x w latents, got shape {tuple(latent.shape)}"
            )
        rgb = self._run(self._decode, latent)
        return rgb.clamp(0.0, 1.0) if clamp else rgb

    def _run(self, stack: Callable[[torch.Tensor], torch.Tensor], tensor: torch.Tensor) -> torch.Tensor:
        tensor = tensor.to(device=self.device, dtype=self.dtype)
        if not self.channels_last:
            return stack(tensor)
        return stack(tensor.contiguous(memory_format=torch.channels_last)).contiguous()

    def describe(self) -> dict[str, Any]:
        return self.info().as_dict()

    def info(self) -> CodecInfo:
        return CodecInfo(self.name, self.latent_channels, self.downscale, self.weights_sha256, self.source)

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Codec:
        self.module.to(device=device, dtype=dtype)
        if self.channels_last:
            # nn.Module.to takes memory_format (documented); torch's overloads for it leave the keyword out
            self.module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return self

    @property
    def device(self) -> torch.device:
        return _first_tensor(self.module).device

    @property
    def dtype(self) -> torch.dtype:
        return _first_tensor(self.module).dtype

    def __repr__(self) -> str:
        return f"{type(self).__name__}(latent_channels={self.latent_channels}, downscale={self.downscale})"


def _first_tensor(module: nn.Module) -> torch.Tensor:
    for parameter in module.parameters():
        return parameter
    for buffer in module.buffers():
        return buffer
    raise AttributeError("weight-free codec module has no device or dtype")
