"""The swap model: a DeepFaceLab-style autoencoder (DF or LIAE, optional VQ bottleneck) in a codec's latent space."""

from importlib import import_module
from types import ModuleType

from latentswap_core.lazy import lazy_exports


def _config() -> ModuleType:
    return import_module("latentswap_core.models.config")


def _store() -> ModuleType:
    return import_module("latentswap_core.models.store")


def _swap_model() -> ModuleType:
    return import_module("latentswap_core.models.swap_model")


def _vq() -> ModuleType:
    return import_module("latentswap_core.models.vq")


# loaded on first use: the command line imports this package's light modules without torch
__getattr__, __all__ = lazy_exports(__name__, {
    "PRESETS": _config,
    "SwapModel": _swap_model,
    "SwapModelConfig": _config,
    "SwapOutput": _swap_model,
    "VQStats": _vq,
    "VectorQuantizer": _vq,
    "check_face_size": _config,
    "load_model": _store,
    "model_from_weights": _store,
    "parameter_count": _swap_model,
    "perplexity": _vq,
    "save_model": _store,
})
