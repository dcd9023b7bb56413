"""The Nuke side type-checks against Foundry's API stubs (types-nuke) and our nukescripts stub (typings/)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_nuke_plugin_type_checks_against_the_nuke_stubs() -> None:
    files = ["nuke_plugin", "init.py", "menu.py", "tools/render.py", "tools/lint_gizmo.py", "tools/nuke_script.py"]
    # --check-untyped-defs: the plugin's functions carry no annotations, and are checked all the same
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--check-untyped-defs", *files], cwd=REPO,
                          capture_output=True,
                          text=True, env={**os.environ, "MYPYPATH": str(REPO / "typings")}, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout
