"""The identity-conditioned latent diffusion refiner: a DDPM in the codec's latent space, conditioned on the
target identity's embedding, that re-runs the last part of the schedule from a swap (img2img) to add the detail
the autoencoder loses. Train with ``RefinerTrainer`` (``latentswap train-refiner``), apply with ``Refiner``
(``latentswap swap --refine``)."""

from importlib import import_module
from types import ModuleType

from latentswap_core.lazy import lazy_exports


def _apply() -> ModuleType:
    return import_module("latentswap_core.refine.apply")


def _config() -> ModuleType:
    return import_module("latentswap_core.refine.config")


def _options() -> ModuleType:
    return import_module("latentswap_core.refine.options")


def _trainer() -> ModuleType:
    return import_module("latentswap_core.refine.trainer")


# loaded on first use: the command line imports this package's light modules without torch
__getattr__, __all__ = lazy_exports(__name__, {
    "Refiner": _apply,
    "RefinerApplyOptions": _options,
    "RefinerConfig": _config,
    "RefinerTrainOptions": _options,
    "RefinerTrainer": _trainer,
})
