"""The swap model: a DeepFaceLab-style autoencoder (DF or LIAE, optional VQ bottleneck) in a codec's latent space."""

from latentswap_core.models.config import PRESETS, SwapModelConfig, check_face_size
from latentswap_core.models.store import load_model, model_from_weights, save_model
from latentswap_core.models.swap_model import SwapModel, SwapOutput, parameter_count
from latentswap_core.models.vq import VectorQuantizer, VQStats, perplexity

__all__ = [
    "PRESETS",
    "SwapModel",
    "SwapModelConfig",
    "SwapOutput",
    "VQStats",
    "VectorQuantizer",
    "check_face_size",
    "load_model",
    "model_from_weights",
    "parameter_count",
    "perplexity",
    "save_model",
]
