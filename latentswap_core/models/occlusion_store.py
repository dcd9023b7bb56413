"""Save and load an occlusion model folder: ``occlusion.json`` (config and how it was trained) +
``occlusion.safetensors``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from latentswap_core.errors import ModelError
from latentswap_core.io import atomic_path, write_text_atomically
from latentswap_core.io.json_file import read_json
from latentswap_core.models.occlusion_net import OcclusionConfig, OcclusionNet

CONFIG_FILE = "occlusion.json"
WEIGHTS_FILE = "occlusion.safetensors"


def save_occlusion_model(model: OcclusionNet, folder: str | os.PathLike[str], trained: dict[str, Any]) -> Path:
    """Write the weights, then the config with ``trained`` (frames, steps, losses), each atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    with atomic_path(folder / WEIGHTS_FILE) as temporary:
        save_file(state, str(temporary))
    document = {"config": model.config.to_dict(), "trained": trained}
    write_text_atomically(folder / CONFIG_FILE, json.dumps(document, indent=2) + "\n")
    return folder


def load_occlusion_model(folder: str | os.PathLike[str], device: str | torch.device = "cpu") -> OcclusionNet:
    """The model saved in ``folder`` (eval mode), or a one-line ModelError naming the file and what to do."""
    folder = Path(folder)
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    for path in (config_path, weights_path):
        if not path.is_file():
            raise ModelError(f"{path} is missing: point to a folder written by `latentswap train-mask`")
    document = read_json(config_path, ModelError, "train the occlusion model again")
    try:
        config = OcclusionConfig.from_dict(dict(document["config"]), str(config_path))
    except (KeyError, TypeError, ValueError) as error:
        raise ModelError(f"{config_path} is not an occlusion model's config ({error}): train it again") from None
    try:
        state = load_file(str(weights_path), device=str(device))
        model = OcclusionNet(config)
        model.load_state_dict(state, strict=True)
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ModelError(f"{weights_path} does not hold this occlusion model's weights ({str(error)[:120]}): "
                         "keep the two files together, or train it again") from None
    return model.to(device).eval()
