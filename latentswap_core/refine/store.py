"""A refiner folder on disk, no pickle: ``REFINER_DIR/refiner/`` holds

``config.json``          the ``RefinerConfig``
``refiner.safetensors``  the UNet (``net.*``) and the latent identity encoder (``identity_encoder.*``)
``provenance.json``      codec (name, weights' hashes), target identity (name, faceset, embedding), step,
                         face type, consent reference

written weights first and ``provenance.json`` last, each atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from latentswap_core.errors import ModelError
from latentswap_core.io import atomic_path, write_text_atomically
from latentswap_core.io.json_file import read_json
from latentswap_core.refine.config import RefinerConfig
from latentswap_core.refine.network import LatentIdentityEncoder, RefinerUNet

REFINER_FOLDER = "refiner"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "refiner.safetensors"
PROVENANCE_FILE = "provenance.json"


@dataclass
class RefinerParts:
    config: RefinerConfig
    net: RefinerUNet
    identity_encoder: LatentIdentityEncoder
    provenance: dict[str, Any]

    @property
    def target_embedding(self) -> torch.Tensor:
        return torch.tensor(self.provenance["target"]["embedding"], dtype=torch.float32)


def build_parts(config: RefinerConfig, provenance: dict[str, Any]) -> RefinerParts:
    return RefinerParts(config, RefinerUNet(config),
                        LatentIdentityEncoder(config.latent_channels, config.identity_dim), provenance)


def weights_of(parts: RefinerParts) -> dict[str, torch.Tensor]:
    state = {f"net.{name}": t for name, t in parts.net.state_dict().items()}
    state.update({f"identity_encoder.{name}": t for name, t in parts.identity_encoder.state_dict().items()})
    return {name: t.detach().cpu().contiguous() for name, t in state.items()}


def save_refiner(parts: RefinerParts, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / WEIGHTS_FILE) as temporary:
        save_file(weights_of(parts), str(temporary))
    write_text_atomically(folder / CONFIG_FILE, json.dumps(parts.config.to_dict(), indent=2) + "\n")
    write_text_atomically(folder / PROVENANCE_FILE, json.dumps(parts.provenance, indent=2) + "\n")


def refiner_folder(path: str | os.PathLike[str]) -> Path:
    """The folder holding the refiner's files: ``path`` itself or its ``refiner/`` (a training folder)."""
    path = Path(path).expanduser()
    for folder in (path / REFINER_FOLDER, path):
        if (folder / PROVENANCE_FILE).is_file() and (folder / WEIGHTS_FILE).is_file():
            return folder
    raise ModelError(f"{path} is not a trained refiner: give the folder `latentswap train-refiner -o` wrote "
                     "(it holds refiner/)")


def _read_json(path: Path) -> Any:
    return read_json(path, ModelError, "train the refiner again or restore the file")


def load_refiner(folder: Path, device: str | torch.device = "cpu") -> RefinerParts:
    """Rebuild the refiner saved in ``folder`` (eval mode) or raise a one-line ModelError naming the file."""
    config = RefinerConfig.from_dict(_read_json(folder / CONFIG_FILE), str(folder / CONFIG_FILE))
    provenance = _read_json(folder / PROVENANCE_FILE)
    try:
        embedding = provenance["target"]["embedding"]
        provenance["codec"]["name"], provenance["codec"]["weights_sha256"]
    except (KeyError, TypeError):
        raise ModelError(f"{folder / PROVENANCE_FILE} lacks the codec or the target identity: train the refiner "
                         "again") from None
    if not isinstance(embedding, list) or len(embedding) != config.identity_dim:
        raise ModelError(f"{folder / PROVENANCE_FILE} holds no {config.identity_dim}-d target identity: train the "
                         "refiner again")
    weights_path = folder / WEIGHTS_FILE
    try:
        state = load_file(str(weights_path), device=str(device))
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelError(f"{weights_path} is not a readable safetensors file ({error}): train the refiner "
                         "again") from None
    return parts_from_weights(config, provenance, state, device, str(weights_path))


def parts_from_weights(config: RefinerConfig, provenance: dict[str, Any], state: dict[str, torch.Tensor],
                       device: str | torch.device, source: str) -> RefinerParts:
    """The refiner rebuilt from its weights (``weights_of``'s names), in eval mode, or a ModelError naming
    ``source`` when they do not fit the config."""
    parts = build_parts(config, provenance)
    expected = {name: tuple(t.shape) for name, t in weights_of(parts).items()}
    if expected != {name: tuple(t.shape) for name, t in state.items()}:
        raise ModelError(f"{source} does not fit the refiner's config (different tensors or shapes): keep the "
                         "files of one refiner together")
    for prefix, module in (("net.", parts.net), ("identity_encoder.", parts.identity_encoder)):
        module.load_state_dict({name[len(prefix):]: t for name, t in state.items() if name.startswith(prefix)})
        module.to(device).eval()
    return parts
