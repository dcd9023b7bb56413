"""The Nuke side compiles under every Python Nuke ships (3.7 for Nuke 13 ... 3.11 for Nuke 16).

Uses the interpreters pyenv has installed (~/.pyenv/versions/3.7.x ... 3.11.x). 3.7 and 3.11 (the oldest and
newest Nuke Pythons) must be there on our machines; in CI ($CI set) every one must, elsewhere a missing one is
skipped. Each compiles the Nuke side and runs plugin_smoke.py (the plugin's everyday paths against the fake, with
the standard library only), which catches what compiles but fails at run time (``str.removeprefix`` on 3.7, ...).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
NUKE_PYTHONS = ("3.7", "3.8", "3.9", "3.10", "3.11")
REQUIRED = ("3.7", "3.11")
STDLIB_ONLY = ("nuke_plugin.engine", "nuke_plugin.coordinates", "nuke_plugin.trackbake", "nuke_plugin.loss_curve",
               "nuke_plugin.cache", "nuke_plugin.atomic")


def _python(version: str) -> Path | None:
    candidates = sorted(PYENV.glob(f"{version}.*/bin/python")) if PYENV.is_dir() else []
    return candidates[-1] if candidates else None


def _nuke_side_files() -> list[Path]:
    files = sorted((REPO / "nuke_plugin").rglob("*.py"))
    files += [REPO / name for name in ("init.py", "menu.py", os.path.join("tools", "render.py"))
              if (REPO / name).is_file()]
    return files


def _python_or_skip(version: str) -> Path:
    python = _python(version)
    if python is None:
        if os.environ.get("CI"):
            pytest.fail(f"Python {version} is not installed in pyenv under {PYENV}; CI runs every Nuke Python")
        pytest.skip(f"Python {version} is not installed in pyenv")
    return python


def test_required_pythons_are_installed() -> None:
    if not PYENV.is_dir():
        pytest.skip(f"no pyenv at {PYENV}")
    missing = [version for version in REQUIRED if _python(version) is None]
    assert not missing, f"pyenv has no Python {', '.join(missing)} under {PYENV}; install it for these checks"


@pytest.mark.parametrize("version", NUKE_PYTHONS)
def test_nuke_side_compiles(version: str, tmp_path: Path) -> None:
    python = _python_or_skip(version)
    files = _nuke_side_files()
    assert any(path.name == "engine.py" for path in files)
    # compile into tmp_path, not next to the sources (no __pycache__ left in the checkout)
    script = ("import py_compile, sys\n"
              "for number, path in enumerate(sys.argv[2:]):\n"
              "    py_compile.compile(path, cfile='{}/{}.pyc'.format(sys.argv[1], number), doraise=True)\n")
    result = subprocess.run([str(python), "-c", script, str(tmp_path), *map(str, files)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"Python {version}:\n{result.stderr}"


@pytest.mark.parametrize("version", ("3.7", "3.11"))
def test_stdlib_modules_import(version: str) -> None:
    python = _python_or_skip(version)
    script = (f"import sys; sys.path.insert(0, {str(REPO)!r}); sys.dont_write_bytecode = True\n"
              f"import {', '.join(STDLIB_ONLY)}\n"
              "banned = {'nuke', 'numpy', 'torch', 'latentswap_core'} & set(sys.modules)\n"
              "assert not banned, banned\n"
              "from nuke_plugin import coordinates as co, engine\n"
              "m = co.similarity_matrix(960.0, 540.0, 200.0, 10.0, y_up=True)\n"
              "assert abs(co.similarity_params(m)[3] - 10.0) < 1e-9\n"
              "assert engine.parse_event('{\"event\": \"end\"}') == {'event': 'end'}\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    result = subprocess.run([str(python), "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, f"Python {version}:\n{result.stderr}"


@pytest.mark.parametrize("version", NUKE_PYTHONS)
def test_the_plugin_runs_against_the_fake(version: str) -> None:
    python = _python_or_skip(version)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    result = subprocess.run([str(python), str(Path(__file__).with_name("plugin_smoke.py"))], capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode == 0 and result.stdout.strip() == "ok", f"Python {version}:\n{result.stderr}"
