"""Shared fixtures: the read-only material in ../shared (or $LATENTSWAP_SHARED) and real face images."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import TINY_FACESET_SIZE, latentswap

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LATENTSWAP_SHARED", REPO.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    assert (SHARED / "models" / "taef2").is_dir(), (
        f"the shared material is not at {SHARED}; set LATENTSWAP_SHARED to the folder holding models/ and data/"
    )
    return SHARED


@pytest.fixture
def shared_models(shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the model search path at ../shared/models, as the demo and CI do."""
    monkeypatch.setenv("LATENTSWAP_MODELS", str(shared_dir / "models"))
    return shared_dir / "models"


@pytest.fixture(scope="session")
def face_photo(shared_dir: Path) -> np.ndarray:
    """A real portrait (obama.jpg) as sRGB uint8, height x width x 3."""
    from latentswap_core.io import read_image

    return read_image(shared_dir / "data" / "faces" / "obama.jpg").pixels


@pytest.fixture(scope="session")
def tiny_facesets(tmp_path_factory, shared_dir: Path) -> tuple[Path, Path]:
    """src: obama.jpg + obama2.jpg, dst: biden2.jpg + biden.jpg, extracted at 128 px by `latentswap extract`."""
    root = tmp_path_factory.mktemp("facesets")
    result = []
    for role, names in (("src", ("obama", "obama2")), ("dst", ("biden2", "biden"))):
        photos = root / f"{role}_photos"
        photos.mkdir()
        for name in names:
            shutil.copy(shared_dir / "data" / "faces" / f"{name}.jpg", photos)
        done = latentswap("extract", str(photos), "-o", str(root / role), "--size", str(TINY_FACESET_SIZE))
        assert done.returncode == 0, done.stderr
        result.append(root / role)
    return result[0], result[1]
