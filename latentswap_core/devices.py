"""``--device`` for every command: auto, cpu, cuda or cuda:N, checked against what torch sees."""

from __future__ import annotations

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
