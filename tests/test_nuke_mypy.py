"""The Nuke side type-checks against Foundry's API stubs (types-nuke) and our nukescripts stub (typings/)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_nuke_plugin_type_checks_against_the_nuke_stubs() -> None:
    files = ["nuke_plugin", "init.py", "menu.py", "tools/render.py"]
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", *files], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "MYPYPATH": str(REPO / "typings")}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout
