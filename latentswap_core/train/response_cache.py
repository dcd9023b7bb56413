"""Decoder-response fits kept in the user's cache folder between runs, by what they were fitted to.

A fit costs dozens of decodes (seconds of every start on a CPU) and depends only on its digest's inputs
(``decoder_response.fit_digest``: the codec's weights, the latents, the seed and the fit's constants), the engine's
code and the kind of device that decoded: a new model trained on the same facesets with the same codec, resolution
and seed (another preset, layout or step count) reads its fit back. The cache is best effort: an entry that is
unreadable, another's or of the wrong shape is fitted again and replaced, and a cache folder that cannot be written
(read-only, full, another user's) is left alone. The ``KEEP`` most recently used entries stay (about 220 KB each
for TAEF2).
"""

from __future__ import annotations

import hashlib
import math
from functools import cache
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from latentswap_core.engine_id import source_digest
from latentswap_core.errors import LatentSwapError
from latentswap_core.io import atomic_path
from latentswap_core.train.decoder_response import WEIGHT_TENSOR, DecoderResponse, saved_fit
from latentswap_core.user_cache import user_cache_dir

FOLDER = "decoder_response"
SUFFIX = ".safetensors"
KEEP = 64


def cached_fit(codec, digest: str, device: str) -> tuple[DecoderResponse, float] | None:
    """The fit kept for ``digest`` made on a ``device`` (``cpu``, ``cuda``, ...) by this engine, and how well it
    fitted; None when there is none, or none usable."""
    key = _key(digest, device)
    path = _entry(key)
    try:
        with safe_open(path, "pt") as entry:
            metadata = entry.metadata() or {}
            weight = entry.get_tensor(WEIGHT_TENSOR)
    except (OSError, SafetensorError):  # missing, unreadable, cut short, not safetensors, or without the tensor
        return None
    kernel = weight.shape[-1]
    expected = (3 * codec.downscale ** 2, codec.latent_channels, kernel, kernel)
    if metadata.get("key") != key or tuple(weight.shape) != expected or not torch.isfinite(weight).all():
        return None
    fit = float(metadata.get("fit", "nan"))
    if not math.isfinite(fit):
        return None
    try:
        path.touch()  # recently used: kept longest
    except OSError:
        pass
    return saved_fit(codec, weight, kernel), fit


def keep_fit(digest: str, device: str, response: DecoderResponse, fit: float) -> None:
    """Keep ``response`` for later runs (``cached_fit``), then drop all but the ``KEEP`` most recently used."""
    key = _key(digest, device)
    folder = user_cache_dir() / FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(_entry(key)) as temporary:
            save_file({WEIGHT_TENSOR: response.conv.weight.detach().cpu().contiguous()}, str(temporary),
                      metadata={"key": key, "digest": digest, "device": device, "fit": repr(float(fit))})
    except (OSError, SafetensorError, LatentSwapError):  # safetensors reports a failed write as its own error
        return
    _prune(folder)


def _key(digest: str, device: str) -> str:
    return hashlib.sha256(f"{digest} {device} {_engine()}".encode()).hexdigest()


@cache
def _engine() -> str:
    return source_digest()


def _entry(key: str) -> Path:
    return user_cache_dir() / FOLDER / f"{key}{SUFFIX}"


def _prune(folder: Path) -> None:
    """All but the ``KEEP`` most recently used entries removed (another writer's unfinished file is not one)."""
    used = []
    for path in folder.glob(f"*{SUFFIX}"):
        try:
            if not path.name.startswith("."):
                used.append((path.stat().st_mtime_ns, path))
        except OSError:  # removed meanwhile by another run's prune
            continue
    for _, path in sorted(used, reverse=True)[KEEP:]:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            continue
