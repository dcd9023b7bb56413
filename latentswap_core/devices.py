"""``--device`` for every command: auto, cpu, cuda or cuda:N, checked against what torch sees."""

from __future__ import annotations

import functools

import torch

from latentswap_core.errors import ModelError


def resolve_device(request: str) -> str:
    """``request`` as a torch device name; auto is cuda where torch sees a GPU, else cpu."""
    if request == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if request.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError("--device cuda was asked for but torch sees no CUDA GPU: use --device cpu or auto")
    if request not in ("cpu", "cuda") and not request.startswith("cuda:"):
        raise ModelError(f"--device {request!r} is unknown: use cpu, cuda or auto")
    return request


@functools.cache
def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX), where bf16 convolutions are about twice as fast
    as float32 ones; elsewhere they are emulated and slower."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def cuda_has_bf16(device: str = "cuda") -> bool:
    """Whether the CUDA GPU ``device`` (cuda: the current one, cuda:N) computes bf16 natively: compute capability 8
    (Ampere) and later. ``torch.cuda.is_bf16_supported()`` also counts older GPUs, which emulate it."""
    if not torch.cuda.is_available():
        return False
    index = torch.device(device).index
    return torch.cuda.get_device_capability(torch.cuda.current_device() if index is None else index)[0] >= 8
