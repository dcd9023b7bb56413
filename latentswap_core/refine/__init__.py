"""The identity-conditioned latent diffusion refiner: a DDPM in the codec's latent space, conditioned on the
target identity's embedding, that re-runs the last part of the schedule from a swap (img2img) to add the detail
the autoencoder loses. Train with ``RefinerTrainer`` (``latentswap train-refiner``), apply with ``Refiner``
(``latentswap swap --refine``)."""

from latentswap_core.lazy import lazy_exports

# loaded on first use: the command line imports this package's light modules without torch
__getattr__, __all__ = lazy_exports(__name__, {
    "RefineOptions": "latentswap_core.refine.apply",
    "Refiner": "latentswap_core.refine.apply",
    "RefinerConfig": "latentswap_core.refine.config",
    "RefinerOptions": "latentswap_core.refine.trainer",
    "RefinerTrainer": "latentswap_core.refine.trainer",
})
