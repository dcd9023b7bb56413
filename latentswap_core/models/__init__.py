"""The swap model: a DeepFaceLab-style autoencoder (DF or LIAE, optional VQ bottleneck) in a codec's latent space."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Loaded on first use (PEP 562): the command line imports this package's light modules without torch.
_EXPORTS = {
    "PRESETS": "latentswap_core.models.config",
    "SwapModel": "latentswap_core.models.swap_model",
    "SwapModelConfig": "latentswap_core.models.config",
    "SwapOutput": "latentswap_core.models.swap_model",
    "VQStats": "latentswap_core.models.vq",
    "VectorQuantizer": "latentswap_core.models.vq",
    "check_face_size": "latentswap_core.models.config",
    "load_model": "latentswap_core.models.store",
    "model_from_weights": "latentswap_core.models.store",
    "parameter_count": "latentswap_core.models.swap_model",
    "perplexity": "latentswap_core.models.vq",
    "save_model": "latentswap_core.models.store",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
