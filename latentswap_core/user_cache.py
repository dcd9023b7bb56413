"""The user's cache folder: what the engine keeps between runs so a later run need not redo it (pretrained
weights a user puts in its ``models/``, decoder-response fits). ``$LATENTSWAP_CACHE`` moves it, e.g. onto a farm
node's local disk, pretrained weights kept there included; else it is the platform's user cache folder
(``~/.cache/latentswap`` on Linux)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_VAR = "LATENTSWAP_CACHE"


def user_cache_dir() -> Path:
    explicit = os.environ.get(ENV_VAR, "")
    return Path(explicit).expanduser() if explicit else platformdirs.user_cache_path("latentswap")
