"""Shared fixtures: the read-only material in ../shared (or $LATENTSWAP_SHARED) and real face images."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

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
