"""The swap model: a DeepFaceLab-style autoencoder (DF or LIAE, optional VQ bottleneck) in a codec's latent space."""

from latentswap_core.lazy import lazy_exports

# loaded on first use: the command line imports this package's light modules without torch
__getattr__, __all__ = lazy_exports(__name__, {
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
})
