"""Training checkpoints in a model dir, no pickle anywhere.

``model/``                   the swap model (``save_model``: config.json + model.safetensors) + provenance.json
``trainer_state.safetensors`` optimizer state tensors (``optimizer.{param}.{name}``) and RNG states (uint8)
``trainer.json``             step, elapsed time, options, codec, identities, consent, loss tail, fingerprint

``trainer.json`` is written last, so it always describes a complete checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from latentswap_core.errors import ModelError
from latentswap_core.io import atomic_path, write_text_atomically
from latentswap_core.models import SwapModel, load_model, save_model

SCHEMA_VERSION = 1
MODEL_FOLDER = "model"
STATE_FILE = "trainer_state.safetensors"
TRAINER_FILE = "trainer.json"
PROVENANCE_FILE = "provenance.json"


@dataclass
class Checkpoint:
    model: SwapModel
    trainer: dict[str, Any]  # the contents of trainer.json
    tensors: dict[str, torch.Tensor]  # the contents of trainer_state.safetensors


def has_checkpoint(model_dir: Path) -> bool:
    return (model_dir / TRAINER_FILE).is_file() or (model_dir / MODEL_FOLDER / "config.json").is_file()


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split the optimizer's state into safetensors-ready tensors and JSON-ready scalars."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{name}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], saved: dict[str, Any],
                      lr: float) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for key, value in saved.get("scalars", {}).items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    groups = saved["param_groups"]
    for group in groups:
        group["lr"] = lr
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def save_checkpoint(model_dir: Path, model: SwapModel, tensors: dict[str, torch.Tensor],
                    trainer: dict[str, Any]) -> None:
    """Model, then trainer state, then trainer.json, each written atomically."""
    save_model(model, model_dir / MODEL_FOLDER)
    provenance = {key: trainer[key] for key in ("identities", "consent", "codec", "face_type", "step")}
    write_text_atomically(model_dir / MODEL_FOLDER / PROVENANCE_FILE, json.dumps(provenance, indent=2) + "\n")
    with atomic_path(model_dir / STATE_FILE) as temporary:
        save_file(tensors, str(temporary), metadata={"step": str(trainer["step"]), "schema": str(SCHEMA_VERSION)})
    write_text_atomically(model_dir / TRAINER_FILE, json.dumps({"schema": SCHEMA_VERSION, **trainer}, indent=2) + "\n")


def load_checkpoint(model_dir: Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint or raise a one-line ModelError naming the damaged file."""
    trainer_path, state_path = model_dir / TRAINER_FILE, model_dir / STATE_FILE
    if not trainer_path.is_file():
        raise ModelError(f"{trainer_path} is missing: there is no training run to --resume in {model_dir}; "
                         "train without --resume first")
    try:
        trainer = json.loads(trainer_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"{trainer_path} is not readable JSON ({error}): restore it from a backup or train into "
                         "a new -o folder") from None
    if not isinstance(trainer, dict) or trainer.get("schema") != SCHEMA_VERSION:
        schema = trainer.get("schema") if isinstance(trainer, dict) else None
        raise ModelError(f"{trainer_path} is trainer schema {schema!r}, this LatentSwap resumes schema "
                         f"{SCHEMA_VERSION}: use the LatentSwap that wrote it or train into a new -o folder")
    try:
        tensors = load_file(str(state_path))
        with safe_open(str(state_path), "pt") as handle:
            metadata = handle.metadata() or {}
    except FileNotFoundError:
        raise ModelError(f"{state_path} is missing: restore it or train into a new -o folder") from None
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelError(f"{state_path} is corrupt ({error}): restore it from a backup or train into a new "
                         "-o folder") from None
    if metadata.get("step") != str(trainer.get("step")):
        raise ModelError(f"{state_path} is from step {metadata.get('step')}, {trainer_path} from step "
                         f"{trainer.get('step')}: keep the files of one checkpoint together")
    model = load_model(model_dir / MODEL_FOLDER, device=device)
    return Checkpoint(model, trainer, tensors)
