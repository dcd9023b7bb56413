"""Security on the Nuke side: the gizmo's and the panel's engine jobs pass every path as one argv item, never
through a shell (the engine side's scan is tests/test_security.py)."""

from __future__ import annotations

import json
import runpy
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INJECTION = "__import__('os').system('touch PWNED')"
METACHARACTERS = "a;touch PWNED $(touch PWNED) `touch PWNED` |&"
ARGV_DUMP = """
import json, sys
from pathlib import Path
Path(sys.argv[1]).write_text(json.dumps(sys.argv[2:]), encoding="utf-8")
print(json.dumps({"event": "end", "task": "x", "status": "done"}), flush=True)
"""


def test_engine_jobs_pass_metacharacter_paths_as_argv_items(fake_nuke, tmp_path: Path, monkeypatch) -> None:
    """The gizmo's and the panel's arguments, run by EngineJob: each path arrives whole, nothing is run."""
    import nuke_plugin.engine as engine
    import nuke_plugin.gizmo as gizmo
    import nuke_plugin.panel as panel

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / METACHARACTERS
    folder.mkdir()
    model, cache = folder / "model ü", folder / "cache $HOME"
    fake_nuke.set_root(str(tmp_path / "shot.nk"), 1001, 1002, 64, 64)
    runpy.run_path(str(REPO / "init.py"))
    node = fake_nuke.createNode("LatentSwap")
    node["model"].setValue(str(model))
    node["cache_dir"].setValue(str(cache))
    source = str(folder / "plate.####.exr")
    args = gizmo.swap_arguments(node, source, 1001, 1002)
    assert args[1] == source and args[args.index("--model") + 1] == str(model)
    assert args[args.index("-o") + 1].startswith(str(cache))
    jobs = [args, panel.extract_arguments(source, str(folder / "faceset"), 256),
            panel.train_arguments(str(folder / "src"), str(folder / "dst"), str(model), 256, "taef2", "steps", 10,
                                  consent=INJECTION)]
    script = tmp_path / "dump_argv.py"
    script.write_text(ARGV_DUMP)
    for number, job_args in enumerate(jobs):
        dump = tmp_path / f"argv{number}.json"
        job = engine.EngineJob([sys.executable, str(script), str(dump)], job_args, cwd=str(tmp_path)).start()
        assert job.wait(60) == 0
        received = json.loads(dump.read_text(encoding="utf-8"))
        assert received == [str(arg) for arg in job_args] + ["--progress-json"]
        assert shlex.split(job.command_line())[-len(received):] == received  # the logged line pastes back whole
    assert not list(tmp_path.rglob("PWNED")) and not (REPO / "PWNED").exists()
