"""Decoder-response fits kept in the user's cache folder between runs, by the digest of what they were fitted to.

A fit costs dozens of decodes (seconds of every start on a CPU) and depends only on its digest's inputs
(``decoder_response.fit_digest``: the codec's weights, the latents, the seed and the fit's constants): a new model
trained on the same facesets with the same codec, resolution and seed (another preset, layout or step count) reads
its fit back. The cache is best effort: an entry that is unreadable, another digest's or of the wrong shape is
fitted again and replaced, and a cache folder that cannot be written is left alone. The newest ``KEEP`` entries
stay (about 220 KB each for TAEF2).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from latentswap_core.errors import LatentSwapError
from latentswap_core.io import atomic_path
from latentswap_core.train.decoder_response import WEIGHT_TENSOR, DecoderResponse, saved_fit
from latentswap_core.user_cache import user_cache_dir

FOLDER = "decoder_response"
KEEP = 64


def cached_fit(codec, digest: str) -> tuple[DecoderResponse, float] | None:
    """The fit kept under ``digest`` and how well it fitted, or None (none kept, or not usable)."""
    path = _entry(digest)
    try:
        with safe_open(path, "pt") as entry:
            metadata = entry.metadata() or {}
            weight = entry.get_tensor(WEIGHT_TENSOR)
    except (OSError, SafetensorError):  # missing, unreadable, cut short, not safetensors, or without the tensor
        return None
    kernel = weight.shape[-1]
    expected = (3 * codec.downscale ** 2, codec.latent_channels, kernel, kernel)
    if metadata.get("digest") != digest or tuple(weight.shape) != expected or not torch.isfinite(weight).all():
        return None
    fit = float(metadata.get("fit", "nan"))
    if not math.isfinite(fit):
        return None
    try:
        path.touch()  # recently used: kept longest
    except OSError:
        pass
    return saved_fit(codec, weight, kernel), fit


def keep_fit(digest: str, response: DecoderResponse, fit: float) -> None:
    """Keep ``response`` under ``digest`` for later runs, then drop all but the ``KEEP`` newest entries."""
    folder = user_cache_dir() / FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(_entry(digest)) as temporary:
            save_file({WEIGHT_TENSOR: response.conv.weight.detach().cpu().contiguous()}, str(temporary),
                      metadata={"digest": digest, "fit": repr(float(fit))})
        entries = sorted(folder.glob("*.safetensors"), key=lambda path: path.stat().st_mtime_ns, reverse=True)
        for old in entries[KEEP:]:
            old.unlink(missing_ok=True)
    except (OSError, LatentSwapError):
        pass


def _entry(digest: str) -> Path:
    return user_cache_dir() / FOLDER / f"{digest}.safetensors"

