"""Swapping faces with a trained model: the swap network, the model card, and (render.py) plates in, EXRs out."""

from latentswap_core.swap.swapper import ModelCard, SwapNetwork, Swapper, model_folder

__all__ = ["ModelCard", "SwapNetwork", "Swapper", "model_folder"]
