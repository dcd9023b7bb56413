"""Training checkpoints in a model dir, no pickle anywhere.

``trainer_state.safetensors`` everything ``--resume`` needs: the weights (``model.{name}``), optimizer state tensors
                             (``optimizer.{param}.{name}``), RNG states (uint8), the decoder-response fit
                             (``decoder_response.weight``, with ``decoder_response_digest`` in trainer.json), and
                             trainer.json's text in its metadata
``model/``                   the swap model the run delivers, its weight average (``save_model``: config.json +
                             model.safetensors) + provenance.json; the state holds it too (``average.{name}``)
``trainer.json``             step, elapsed time, options, codec, identities, consent, loss tail, fingerprint

``trainer_state.safetensors`` is written first, whole, under one atomic rename: that rename commits the checkpoint.
A kill between it and the other writes leaves ``trainer.json`` and ``model/`` one checkpoint behind (or missing),
never a run that cannot resume: ``read_trainer_state`` takes the state's copy of trainer.json when that is newer,
``load_checkpoint`` the state's weights. Older states without the weights resume from ``model/``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from latentswap_core.errors import ModelError
from latentswap_core.io import atomic_path, write_text_atomically
from latentswap_core.models import SwapModel, SwapModelConfig, load_model, model_from_weights, save_model

SCHEMA_VERSION = 1
MODEL_FOLDER = "model"
STATE_FILE = "trainer_state.safetensors"
TRAINER_FILE = "trainer.json"
PROVENANCE_FILE = "provenance.json"
WEIGHTS_PREFIX = "model."  # the weights' names in trainer_state.safetensors


@dataclass
class Checkpoint:
    model: SwapModel
    trainer: dict[str, Any]  # the contents of trainer.json
    tensors: dict[str, torch.Tensor]  # the contents of trainer_state.safetensors


def has_checkpoint(model_dir: Path) -> bool:
    return any((model_dir / name).is_file() for name in (STATE_FILE, TRAINER_FILE, f"{MODEL_FOLDER}/config.json"))


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
    groups = [{key: float(value) if isinstance(value, torch.Tensor) else value for key, value in group.items()}
              for group in state["param_groups"]]  # the static step's lr is a tensor: JSON takes its value
    return tensors, {"param_groups": groups, "scalars": scalars}


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
    for group, live in zip(groups, optimizer.param_groups, strict=True):
        # a tensor lr (the static step's) stays a tensor on the device (load_state_dict copies it; graphs are
        # captured after the restore, so they read the copy)
        group["lr"] = torch.full_like(live["lr"], lr) if isinstance(live["lr"], torch.Tensor) else lr
        for how in ("fused", "foreach", "capturable"):  # how to compute the step is the run's choice, not the saved
            if how in live:
                group[how] = live[how]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    for parameter, values in optimizer.state.items():  # saved contiguous: back to the parameters' memory format
        for name, value in values.items():
            if isinstance(value, torch.Tensor) and value.shape == parameter.shape != () \
                    and value.stride() != parameter.stride():
                values[name] = torch.empty_like(parameter, dtype=value.dtype).copy_(value)


def save_checkpoint(model_dir: Path, model: SwapModel, tensors: dict[str, torch.Tensor],
                    trainer: dict[str, Any], delivered: SwapModel | None = None) -> None:
    """Trainer state with the weights (the commit), trainer.json, then the model folder, each written atomically.
    ``model`` is the live model training resumes; ``delivered`` the one ``model/`` gets (default: ``model``)."""
    weights = {WEIGHTS_PREFIX + name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    write_trainer_state(model_dir, {**tensors, **weights}, trainer)
    save_model(model if delivered is None else delivered, model_dir / MODEL_FOLDER)
    provenance = {key: trainer[key] for key in ("identities", "consent", "codec", "face_type", "step")}
    write_text_atomically(model_dir / MODEL_FOLDER / PROVENANCE_FILE, json.dumps(provenance, indent=2) + "\n")


def write_trainer_state(run_dir: Path, tensors: dict[str, torch.Tensor], trainer: dict[str, Any]) -> None:
    """``trainer_state.safetensors``, holding trainer.json's text in its metadata (its one atomic rename commits the
    checkpoint), then ``trainer.json``, the readable copy."""
    text = json.dumps({"schema": SCHEMA_VERSION, **trainer}, indent=2) + "\n"
    metadata = {"step": str(trainer["step"]), "schema": str(SCHEMA_VERSION), "trainer": text}
    with atomic_path(run_dir / STATE_FILE) as temporary:
        save_file(tensors, str(temporary), metadata=metadata)
    write_text_atomically(run_dir / TRAINER_FILE, text)


def load_checkpoint(model_dir: Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint or raise a one-line ModelError naming the damaged file."""
    trainer, tensors = read_trainer_state(model_dir)
    weights = {name[len(WEIGHTS_PREFIX):]: tensors.pop(name) for name in list(tensors)
               if name.startswith(WEIGHTS_PREFIX)}
    if not weights:  # a state saved before it held the weights
        return Checkpoint(load_model(model_dir / MODEL_FOLDER, device=device), trainer, tensors)
    source = f"{model_dir / TRAINER_FILE} model_config"
    config = SwapModelConfig.from_dict(trainer.get("model_config"), source=source)
    model = model_from_weights(config, weights, device, str(model_dir / STATE_FILE), source)
    return Checkpoint(model, trainer, tensors)


def read_trainer_state(run_dir: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """``trainer.json`` and ``trainer_state.safetensors`` of one checkpoint, checked to belong together, or a
    one-line ModelError naming the damaged file. The state's own copy of trainer.json wins when it is newer: a
    kill between the two writes leaves trainer.json one checkpoint behind (or missing, on the first)."""
    trainer_path, state_path = run_dir / TRAINER_FILE, run_dir / STATE_FILE
    if not trainer_path.is_file() and not state_path.is_file():
        raise ModelError(f"{trainer_path} is missing: there is no training run to --resume in {run_dir}; "
                         "train without --resume first")
    trainer = _read_trainer(trainer_path.read_bytes, trainer_path) if trainer_path.is_file() else None
    try:
        tensors = load_file(str(state_path))
        with safe_open(str(state_path), "pt") as handle:
            metadata = handle.metadata() or {}
    except FileNotFoundError:
        raise ModelError(f"{state_path} is missing: restore it or train into a new -o folder") from None
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelError(f"{state_path} is corrupt ({error}): restore it from a backup or train into a new "
                         "-o folder") from None
    if "trainer" in metadata:
        committed = _read_trainer(lambda: metadata["trainer"].encode("utf-8"), state_path)
        if trainer is None or committed.get("step", 0) >= trainer.get("step", 0):
            trainer = committed
    if trainer is None:
        raise ModelError(f"{trainer_path} is missing: restore it or train into a new -o folder")
    if metadata.get("step") != str(trainer.get("step")):
        raise ModelError(f"{state_path} is from step {metadata.get('step')}, {trainer_path} from step "
                         f"{trainer.get('step')}: keep the files of one checkpoint together")
    return trainer, tensors


def _read_trainer(read: Callable[[], bytes], path: Path) -> dict[str, Any]:
    """trainer.json's contents (from the file or the state's metadata), or a ModelError naming ``path``."""
    try:
        trainer = json.loads(read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"{path} is not readable JSON ({error}): restore it from a backup or train into "
                         "a new -o folder") from None
    if not isinstance(trainer, dict) or trainer.get("schema") != SCHEMA_VERSION:
        schema = trainer.get("schema") if isinstance(trainer, dict) else None
        raise ModelError(f"{path} is trainer schema {schema!r}, this LatentSwap resumes schema "
                         f"{SCHEMA_VERSION}: use the LatentSwap that wrote it or train into a new -o folder")
    return trainer


def check_fingerprint(run_dir: Path, trainer: dict[str, Any], fingerprint: dict[str, Any],
                      optional: frozenset[str] = frozenset()) -> None:
    """Refuse to --resume a run with other settings than it was trained with (the first that differs is named).
    ``optional``: settings a fingerprint holds only when they are on (runs from before them lack the key)."""
    saved = trainer.get("fingerprint", {})
    again = "--resume with the same settings, or train into a new -o folder"
    for key, value in fingerprint.items():
        if key in optional and key not in saved:
            raise ModelError(f"{run_dir / TRAINER_FILE} was trained without {key}, not with {value!r}: {again}")
        if saved.get(key) != value:
            raise ModelError(f"{run_dir / TRAINER_FILE} was trained with {key} {saved.get(key)!r}, not {value!r}: "
                             f"{again}")
    dropped = sorted(optional & (saved.keys() - fingerprint.keys()))
    if dropped:
        raise ModelError(f"{run_dir / TRAINER_FILE} was trained with {dropped[0]} {saved[dropped[0]]!r}, this run "
                         f"without it: {again}")
