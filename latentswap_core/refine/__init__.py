"""The identity-conditioned latent diffusion refiner: a DDPM in the codec's latent space, conditioned on the
target identity's embedding, that re-runs the last part of the schedule from a swap (img2img) to add the detail
the autoencoder loses. Train with ``RefinerTrainer`` (``latentswap train-refiner``), apply with ``Refiner``
(``latentswap swap --refine``)."""

from latentswap_core.refine.apply import RefineOptions, Refiner
from latentswap_core.refine.config import RefinerConfig
from latentswap_core.refine.trainer import RefinerOptions, RefinerTrainer

__all__ = ["RefineOptions", "Refiner", "RefinerConfig", "RefinerOptions", "RefinerTrainer"]
