"""Pretrained weights are found through a search path, never downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from latentswap_core import model_store
from latentswap_core.errors import ModelError

TAEF2_FILES = ("taef2_encoder.safetensors", "taef2_decoder.safetensors")


def test_taef2_is_found_in_shared_models_through_the_search_path(shared_models: Path) -> None:
    folder = model_store.find_model("taef2", TAEF2_FILES)
    assert folder == shared_models / "taef2"
    assert ("taef2", folder) in model_store.available_models()


def test_earlier_roots_win_and_the_user_cache_is_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, cache = tmp_path / "studio", tmp_path / "show", tmp_path / "cache"
    for root in (first, second):
        (root / "codec").mkdir(parents=True)
        (root / "codec" / "weights.safetensors").write_bytes(b"w")
    (cache / "latentswap" / "models" / "cached_only").mkdir(parents=True)
    monkeypatch.setenv("LATENTSWAP_MODELS", f"{first}:{second}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    assert model_store.search_path() == [first, second, cache / "latentswap" / "models"]
    assert model_store.find_model("codec", ["weights.safetensors"]) == first / "codec"
    assert model_store.find_model("cached_only") == cache / "latentswap" / "models" / "cached_only"
    (first / "codec" / "weights.safetensors").unlink()
    assert model_store.find_model("codec", ["weights.safetensors"]) == second / "codec"


def test_missing_model_names_every_folder_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATENTSWAP_MODELS", str(tmp_path))
    with pytest.raises(ModelError) as error:
        model_store.find_model("taef2", TAEF2_FILES)
    message = str(error.value)
    assert "model 'taef2' not found (looked for a folder taef2/ with taef2_encoder.safetensors" in message
    assert str(tmp_path) in message and "$LATENTSWAP_MODELS" in message
