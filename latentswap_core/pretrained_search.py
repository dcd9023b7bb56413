"""Where pretrained weights are found: a search path, never a download.

``$LATENTSWAP_MODELS`` (folders separated by ``os.pathsep``) is searched first, then ``models`` in the user's
cache folder (``user_cache.py``), then the weights that come with the install (``latentswap_core/pretrained``: the
default codec, TAEF2, MIT licence). A model is a folder named after it, e.g. ``<root>/taef2/taef2_encoder.safetensors``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from latentswap_core.errors import ModelError
from latentswap_core.user_cache import user_cache_dir

ENV_VAR = "LATENTSWAP_MODELS"
BUNDLED_DIR = Path(__file__).resolve().with_name("pretrained")  # installed as package data


def user_models_dir() -> Path:
    return user_cache_dir() / "models"


def search_path() -> list[Path]:
    roots = [Path(entry).expanduser() for entry in os.environ.get(ENV_VAR, "").split(os.pathsep) if entry]
    return [*roots, user_models_dir(), BUNDLED_DIR]


def find_model(name: str, required_files: Iterable[str] = ()) -> Path:
    """The first ``<root>/<name>`` folder on the search path holding every required file."""
    required = list(required_files)
    for root in search_path():
        folder = root / name
        if folder.is_dir() and all((folder / file).is_file() for file in required):
            return folder
    searched = ", ".join(str(root) for root in search_path())
    needs = f" with {', '.join(required)}" if required else ""
    raise ModelError(
        f"model {name!r} not found (looked for a folder {name}/{needs} in: {searched}); "
        f"put it there or add its parent folder to ${ENV_VAR}"
    )


def available_models() -> list[tuple[str, Path]]:
    """(name, folder) of every model folder on the search path; earlier roots win on duplicates."""
    found: dict[str, Path] = {}
    for root in search_path():
        if root.is_dir():
            for folder in sorted(root.iterdir()):
                if folder.is_dir() and not folder.name.startswith("."):
                    found.setdefault(folder.name, folder)
    return sorted(found.items())
