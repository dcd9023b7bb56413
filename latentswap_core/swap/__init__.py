"""Swapping faces with a trained model: the swap network (swapper.py), and (render.py) plates in, EXRs out."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Loaded on first use (PEP 562): the command line imports this package's light modules without torch.
_EXPORTS = {
    "ModelCard": "latentswap_core.models.card",
    "SwapNetwork": "latentswap_core.swap.swapper",
    "Swapper": "latentswap_core.swap.swapper",
    "model_folder": "latentswap_core.models.card",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
