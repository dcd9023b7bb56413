"""Swapping faces with a trained model: the swap network (swapper.py), and (render.py) plates in, EXRs out."""

from importlib import import_module
from types import ModuleType

from latentswap_core.lazy import lazy_exports


def _card() -> ModuleType:
    return import_module("latentswap_core.models.card")


def _swapper() -> ModuleType:
    return import_module("latentswap_core.swap.swapper")


# loaded on first use: the command line imports this package's light modules without torch
__getattr__, __all__ = lazy_exports(__name__, {
    "ModelCard": _card,
    "SwapNetwork": _swapper,
    "Swapper": _swapper,
    "model_folder": _card,
})
