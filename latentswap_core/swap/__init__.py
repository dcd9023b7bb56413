"""Swapping faces with a trained model: the swap network (swapper.py), and (render.py) plates in, EXRs out."""

from latentswap_core.lazy import lazy_exports

# loaded on first use: the command line imports this package's light modules without torch
__getattr__, __all__ = lazy_exports(__name__, {
    "ModelCard": "latentswap_core.models.card",
    "SwapNetwork": "latentswap_core.swap.swapper",
    "Swapper": "latentswap_core.swap.swapper",
    "model_folder": "latentswap_core.models.card",
})
