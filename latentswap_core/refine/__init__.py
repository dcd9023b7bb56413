"""The identity-conditioned latent diffusion refiner: a DDPM in the codec's latent space, conditioned on the
target identity's embedding, that re-runs the last part of the schedule from a swap (img2img) to add the detail
the autoencoder loses. Train with ``RefinerTrainer`` (``latentswap train-refiner``), apply with ``Refiner``
(``latentswap swap --refine``)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Loaded on first use (PEP 562): the command line imports this package's light modules without torch.
_EXPORTS = {
    "RefineOptions": "latentswap_core.refine.apply",
    "Refiner": "latentswap_core.refine.apply",
    "RefinerConfig": "latentswap_core.refine.config",
    "RefinerOptions": "latentswap_core.refine.trainer",
    "RefinerTrainer": "latentswap_core.refine.trainer",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
