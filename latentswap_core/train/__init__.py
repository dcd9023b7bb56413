"""Training a swap model on two facesets in a codec's latent space: options, loop, checkpoints, reports."""

from importlib import import_module

from latentswap_core.lazy import lazy_exports

# loaded on first use: the command line reads device_defaults (the choices and defaults) without torch
__getattr__, __all__ = lazy_exports(__name__, {
    **dict.fromkeys(("StepReport", "TrainResult", "Trainer"), lambda: import_module("latentswap_core.train.trainer")),
    "TrainOptions": lambda: import_module("latentswap_core.train.options"),
})
