"""Training a swap model on two facesets in a codec's latent space: options, loop, checkpoints, reports."""

from latentswap_core.train.trainer import StepReport, Trainer, TrainOptions, TrainResult

__all__ = ["StepReport", "TrainOptions", "TrainResult", "Trainer"]
