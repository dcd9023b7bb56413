"""Pretrained weights are found through a search path, never downloaded."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

import latentswap_core
from latentswap_core import pretrained_search
from latentswap_core.codecs import load_codec
from latentswap_core.errors import ModelError

TAEF2_FILES = ("taef2_encoder.safetensors", "taef2_decoder.safetensors")
REPO = Path(__file__).resolve().parents[1]


def sha256_of(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in sorted(TAEF2_FILES)}


@pytest.fixture
def no_user_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine without ../shared: no $LATENTSWAP_MODELS, and an empty user cache folder."""
    monkeypatch.delenv("LATENTSWAP_MODELS", raising=False)
    monkeypatch.delenv("LATENTSWAP_CACHE", raising=False)  # the suite's own (tests/conftest.py): the default here
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty cache"))
    assert not pretrained_search.user_models_dir().exists()
    return tmp_path


def test_taef2_is_found_in_shared_models_through_the_search_path(shared_models: Path) -> None:
    folder = pretrained_search.find_model("taef2", TAEF2_FILES)
    assert folder == shared_models / "taef2"
    assert ("taef2", folder) in pretrained_search.available_models()


def test_earlier_roots_win_and_the_bundled_weights_are_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, cache = tmp_path / "studio", tmp_path / "show", tmp_path / "cache"
    for root in (first, second):
        (root / "codec").mkdir(parents=True)
        (root / "codec" / "weights.safetensors").write_bytes(b"w")
    (cache / "latentswap" / "models" / "cached_only").mkdir(parents=True)
    monkeypatch.setenv("LATENTSWAP_MODELS", f"{first}:{second}")
    monkeypatch.delenv("LATENTSWAP_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    assert pretrained_search.search_path() == [first, second, cache / "latentswap" / "models",
                                               pretrained_search.BUNDLED_DIR]
    monkeypatch.setenv("LATENTSWAP_CACHE", str(tmp_path / "farm cache"))  # the user cache, moved
    assert pretrained_search.search_path()[2] == tmp_path / "farm cache" / "models"
    monkeypatch.delenv("LATENTSWAP_CACHE")
    assert pretrained_search.find_model("codec", ["weights.safetensors"]) == first / "codec"
    assert pretrained_search.find_model("cached_only") == cache / "latentswap" / "models" / "cached_only"
    (first / "codec" / "weights.safetensors").unlink()
    assert pretrained_search.find_model("codec", ["weights.safetensors"]) == second / "codec"


def test_missing_model_names_every_folder_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATENTSWAP_MODELS", str(tmp_path))
    with pytest.raises(ModelError) as error:
        pretrained_search.find_model("arcface", ["arcface.onnx"])  # not one that comes with the install
    message = str(error.value)
    assert "model 'arcface' not found (looked for a folder arcface/ with arcface.onnx" in message
    assert str(tmp_path) in message and "$LATENTSWAP_MODELS" in message
    assert str(pretrained_search.user_models_dir()) in message and str(pretrained_search.BUNDLED_DIR) in message


def test_taef2_comes_with_the_install(no_user_models: Path, shared_dir: Path) -> None:
    bundled = Path(latentswap_core.__file__).parent / "pretrained" / "taef2"
    assert pretrained_search.find_model("taef2", TAEF2_FILES) == bundled
    assert ("taef2", bundled) in pretrained_search.available_models()
    assert sha256_of(bundled) == sha256_of(shared_dir / "models" / "taef2")  # the same weights as ../shared
    assert "MIT License" in (bundled / "LICENSE").read_text()
    codec = load_codec("taef2")
    assert codec.describe()["source"] == str(bundled)
    assert codec.describe()["weights_sha256"] == sha256_of(shared_dir / "models" / "taef2")
    with torch.no_grad():
        assert codec.decode(codec.encode(torch.full((1, 3, 64, 64), 0.5))).shape == (1, 3, 64, 64)


def test_latentswap_models_and_the_user_cache_win_over_the_bundled_weights(
        no_user_models: Path, shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cached = shutil.copytree(shared_dir / "models" / "taef2", pretrained_search.user_models_dir() / "taef2")
    assert pretrained_search.find_model("taef2", TAEF2_FILES) == cached
    studio = shutil.copytree(shared_dir / "models" / "taef2", no_user_models / "studio" / "taef2")
    monkeypatch.setenv("LATENTSWAP_MODELS", str(studio.parent))
    assert pretrained_search.find_model("taef2", TAEF2_FILES) == studio
    assert dict(pretrained_search.available_models())["taef2"] == studio
    assert load_codec("taef2").describe()["source"] == str(studio)


@pytest.mark.slow
def test_a_built_wheel_holds_the_bundled_weights(tmp_path: Path) -> None:
    """A non-editable install gets the weights too (built from a copy, so the checkout gets no build/ folder)."""
    source = tmp_path / "source"
    shutil.copytree(REPO / "latentswap_core", source / "latentswap_core",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(tmp_path / "wheel"), str(source)], check=True, timeout=300)
    (wheel,) = (tmp_path / "wheel").glob("latentswap-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        bundled = pretrained_search.BUNDLED_DIR / "taef2"
        for path in bundled.iterdir():
            assert archive.read(f"latentswap_core/pretrained/taef2/{path.name}") == path.read_bytes()
    assert "latentswap_core/pretrained/taef2/LICENSE" in names
