"""Save and load a swap model folder: ``config.json`` + ``model.safetensors`` (weights and VQ buffers)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from latentswap_core.errors import ModelError
from latentswap_core.io import atomic_path, write_text_atomically
from latentswap_core.io.json_file import read_json
from latentswap_core.models.config import SwapModelConfig
from latentswap_core.models.swap_model import SwapModel

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def save_model(model: SwapModel, folder: str | os.PathLike[str]) -> Path:
    """Write the weights, then the config, each atomically; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    with atomic_path(folder / WEIGHTS_FILE) as temporary:
        save_file(state, str(temporary))
    write_text_atomically(folder / CONFIG_FILE, json.dumps(model.config.to_dict(), indent=2) + "\n")
    return folder


def load_model(folder: str | os.PathLike[str], device: str | torch.device = "cpu") -> SwapModel:
    """Rebuild the model saved in ``folder`` (eval mode) or raise a one-line ModelError naming the file."""
    folder = Path(folder)
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise ModelError(f"{path} is missing: point to a model folder written by save_model")
    data = read_json(config_path, ModelError, "save the model again")
    config = SwapModelConfig.from_dict(data, source=str(config_path))
    try:
        state = load_file(str(weights_path), device=str(device))
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelError(
            f"{weights_path} is not a readable safetensors file ({error}): save the model again"
        ) from error
    return model_from_weights(config, state, device, str(weights_path), str(config_path))


def model_from_weights(config: SwapModelConfig, state: dict[str, torch.Tensor], device: str | torch.device = "cpu",
                       weights_name: str = WEIGHTS_FILE, config_name: str = CONFIG_FILE) -> SwapModel:
    """The model of ``config`` holding ``state`` (eval mode), or a one-line ModelError naming the two sources."""
    try:
        model = SwapModel(config)
    except (TypeError, ValueError, RuntimeError) as error:
        raise ModelError(f"{config_name} holds values no model can be built from ({error}): save the model again") \
            from None
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    found = {name: tuple(t.shape) for name, t in state.items()}
    if expected != found:
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        wrong = sorted(n for n in set(expected) & set(found) if expected[n] != found[n])
        detail = (
            f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}" if extra else f"shape of {wrong[:3]}"
        )
        raise ModelError(f"{weights_name} does not match {config_name} ({detail}): keep the two files together")
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()
