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

MAX_PARAMETERS = 2 * 10**9  # the widest preset at 1024 px has well under a tenth of this
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
        with torch.device("meta"):  # shapes only: a config asking for gigabytes is refused before any allocation
            skeleton = SwapModel(config)
    except (TypeError, ValueError, RuntimeError) as error:
        raise ModelError(f"{config_name} holds values no model can be built from ({error}): save the model again") \
            from None
    expected = {name: tuple(t.shape) for name, t in skeleton.state_dict().items()}
    parameters = sum(t.numel() for t in skeleton.state_dict().values())
    if parameters > MAX_PARAMETERS:
        raise ModelError(f"{config_name} describes a model of {parameters / 1e9:.1f} G parameters, more than a swap "
                         f"model has ({MAX_PARAMETERS / 1e9:.0f} G at most): the file is damaged or not ours")
    found = {name: tuple(t.shape) for name, t in state.items()}
    if expected != found:
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        wrong = sorted(n for n in set(expected) & set(found) if expected[n] != found[n])
        detail = (
            f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}" if extra else f"shape of {wrong[:3]}"
        )
        raise ModelError(f"{weights_name} does not match {config_name} ({detail}): keep the two files together")
    kinds = {name: t.dtype for name, t in skeleton.state_dict().items()}
    for name, tensor in state.items():
        wanted = kinds[name]
        if (not tensor.dtype.is_floating_point) if wanted.is_floating_point else tensor.dtype != wanted:
            raise ModelError(f"{weights_name} holds {name} as {str(tensor.dtype).replace('torch.', '')}, not "
                             f"{str(kinds[name]).replace('torch.', '')}: the file is damaged or not ours; save the "
                             "model again")
        if tensor.dtype.is_floating_point and not bool(torch.isfinite(tensor).all()):
            raise ModelError(f"{weights_name} holds NaN or infinite weights ({name}): the model is damaged or its "
                             "training diverged; train it again (a lower --lr) or use an earlier checkpoint")
    model = SwapModel(config)
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()
