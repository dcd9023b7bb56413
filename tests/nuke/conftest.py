"""The Nuke side's tests: the fake ``nuke`` (tests/nuke/fake_nuke) and its ``fake_nuke`` fixture.

These tests need only the standard library and the fake; the engine's fixtures (a tiny model, a plate) come
from tests/conftest.py for the few that drive the real CLI.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

FAKE = Path(__file__).resolve().parent / "fake_nuke"
REPO = Path(__file__).resolve().parents[2]


# the nuke_plugin modules that import nuke, so bound to the fake of the test that imported them first
NUKE_USERS = tuple(sorted(path.stem for path in (REPO / "nuke_plugin").glob("*.py")
                          if "\nimport nuke\n" in path.read_text(encoding="utf-8")))


def _forget_nuke_modules() -> None:
    """Drop the fake and every module bound to it (also as attributes of the nuke_plugin package)."""
    for name in ("nuke", "nukescripts") + tuple("nuke_plugin." + user for user in NUKE_USERS):
        sys.modules.pop(name, None)
    package = sys.modules.get("nuke_plugin")
    for user in NUKE_USERS:
        if package is not None and hasattr(package, user):
            delattr(package, user)


@pytest.fixture
def fake_nuke(monkeypatch: pytest.MonkeyPatch):
    """A fresh fake ``nuke`` (and ``nukescripts``) in sys.modules, terminal mode; removed afterwards."""
    _forget_nuke_modules()
    monkeypatch.syspath_prepend(str(FAKE))
    monkeypatch.syspath_prepend(str(REPO))
    import nuke
    import nukescripts

    nuke.reset()
    nukescripts.reset()
    yield nuke
    nuke.reset()
    _forget_nuke_modules()
