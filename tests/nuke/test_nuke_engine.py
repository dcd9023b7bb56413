"""nuke_plugin.engine: finding the CLI, running jobs with JSON progress, errors and cancel (no Nuke needed)."""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from nuke_plugin import engine
from nuke_plugin.engine import EngineCancelled, EngineError, EngineJob, find_engine


def run_engine(command_prefix, args, on_event=None):
    """One job run to its end (what a Nuke button does): its events, or EngineError with its one line."""
    job = EngineJob(command_prefix, args, on_event=on_event).start()
    try:
        job.wait()
    except BaseException:
        if job.running:
            job.cancel()
        raise
    return list(job.events)

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "latentswap"


def _file(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def places(tmp_path: Path) -> dict[str, object]:
    """One candidate for every place find_engine looks, all present."""
    settings = tmp_path / "home" / ".latentswap" / "nuke.json"
    settings.parent.mkdir(parents=True)
    from_settings = _file(tmp_path / "settings" / "latentswap")
    settings.write_text(json.dumps({"engine": from_settings}))
    root = tmp_path / "plugin"
    return {
        "knob": _file(tmp_path / "knob" / "latentswap"),
        "cli": _file(tmp_path / "cli" / "latentswap"),
        "python": _file(tmp_path / "py" / "bin" / "python3.11"),
        "settings_path": str(settings),
        "from_settings": from_settings,
        "plugin_root": str(root),
        "venv": _file(root / ".venv" / "bin" / "latentswap"),
    }


def test_find_engine_order(places: dict[str, object], tmp_path: Path) -> None:
    environ = {"LATENTSWAP_CLI": places["cli"], "LATENTSWAP_PYTHON": places["python"]}
    kwargs = {"settings_path": places["settings_path"], "plugin_root": places["plugin_root"]}
    assert find_engine(places["knob"], environ, **kwargs) == [places["knob"]]
    assert find_engine("", environ, **kwargs) == [places["cli"]]
    del environ["LATENTSWAP_CLI"]
    assert find_engine(None, environ, **kwargs) == [places["python"], "-m", "latentswap_core"]
    assert find_engine(None, {}, **kwargs) == [places["from_settings"]]
    kwargs["settings_path"] = str(tmp_path / "no" / "nuke.json")
    assert find_engine(None, {}, **kwargs) == [places["venv"]]


def test_find_engine_python_in_knob_and_settings(tmp_path: Path) -> None:
    python = _file(tmp_path / "venv" / "bin" / "python")
    settings = tmp_path / "nuke.json"
    settings.write_text(json.dumps({"engine": python}))
    expected = [python, "-m", "latentswap_core"]
    assert find_engine(python, {}, settings_path=str(tmp_path / "none.json"), plugin_root=str(tmp_path)) == expected
    assert find_engine(None, {}, settings_path=str(settings), plugin_root=str(tmp_path)) == expected


def test_find_engine_nothing_found_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(EngineError) as caught:
        find_engine(None, {}, settings_path=str(tmp_path / "nuke.json"), plugin_root=str(tmp_path))
    message = str(caught.value)
    assert "\n" not in message
    for name in ("engine knob", "$LATENTSWAP_CLI", "$LATENTSWAP_PYTHON", "nuke.json", "make install"):
        assert name in message


def test_find_engine_set_but_missing_is_named(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere" / "latentswap")
    kwargs = {"settings_path": str(tmp_path / "nuke.json"), "plugin_root": str(tmp_path)}
    with pytest.raises(EngineError, match=r"engine knob is .*nowhere.* no such file"):
        find_engine(missing, {}, **kwargs)
    with pytest.raises(EngineError, match=r"\$LATENTSWAP_CLI is "):
        find_engine(None, {"LATENTSWAP_CLI": missing}, **kwargs)
    with pytest.raises(EngineError, match=r"\$LATENTSWAP_PYTHON is "):
        find_engine(None, {"LATENTSWAP_PYTHON": missing}, **kwargs)
    Path(kwargs["settings_path"]).write_text("{not json")
    with pytest.raises(EngineError, match=r"nuke.json: not a readable JSON settings file"):
        find_engine(None, {}, **kwargs)


def test_find_engine_defaults_to_this_checkout() -> None:
    if not CLI.is_file():
        pytest.skip("no .venv/bin/latentswap in this checkout")
    assert find_engine(None, {}, settings_path=os.devnull + ".none") == [str(CLI)]


def test_parse_event_ignores_other_lines() -> None:
    assert engine.parse_event('{"event": "start", "task": "t", "total": 3}') == {"event": "start", "task": "t",
                                                                               "total": 3}
    for line in ("", "hello", "{not json", '{"no": "event"}', "[1, 2]"):
        assert engine.parse_event(line) is None


def test_child_environment_drops_nukes_python() -> None:
    env = engine.child_environment({"PYTHONHOME": "/nuke", "PYTHONPATH": "/nuke/lib", "PATH": "/bin"})
    assert "PYTHONHOME" not in env and "PYTHONPATH" not in env
    assert env["PATH"] == "/bin" and env["PYTHONUNBUFFERED"] == "1"


# --- jobs against the real CLI -------------------------------------------------------------------------------

@pytest.fixture
def cli() -> list[str]:
    if not CLI.is_file():
        pytest.skip("no .venv/bin/latentswap in this checkout (make install)")
    return [str(CLI)]


def test_real_cli_error_is_one_line(cli: list[str], tmp_path: Path) -> None:
    seen: list[dict] = []
    job = EngineJob(cli, ["convert", str(tmp_path / "missing.####.exr"), "-o", str(tmp_path / "out.####.exr")],
                    on_event=seen.append)
    assert job.command[-1] == "--progress-json"
    job.start()
    with pytest.raises(EngineError) as caught:
        job.wait()
    message = str(caught.value)
    assert not isinstance(caught.value, EngineCancelled)
    assert message.startswith(str(tmp_path / "missing.####.exr") + ": no frames found")
    assert "\n" not in message and "Traceback" not in message
    assert job.returncode == 2
    assert seen == job.events and [event["event"] for event in seen] == ["error"]
    assert seen[0]["exit_code"] == 2
    assert any("latentswap: error:" in line for line in job.stderr_lines)
    assert not any("Traceback" in line for line in job.stderr_lines)


def test_real_cli_bad_arguments_use_stderr(cli: list[str]) -> None:
    # argparse errors come before JSON mode: the message is stderr's last line.
    with pytest.raises(EngineError, match="the following arguments are required"):
        run_engine(cli, ["convert"])


def test_real_cli_cancel_mid_track(cli: list[str], tmp_path: Path) -> None:
    from PIL import Image

    rng = random.Random(0)
    for number in range(1001, 1041):  # noise: no faces, but every frame is searched (~0.25 s each)
        Image.frombytes("RGB", (160, 96), bytes(rng.randrange(256) for _ in range(160 * 96 * 3))).save(
            tmp_path / f"plate.{number}.png")
    output = tmp_path / "sh010.track.json"
    job = EngineJob(cli, ["track", str(tmp_path / "plate.####.png"), "-o", str(output)]).start()
    deadline = time.monotonic() + 120
    while not any(event["event"] == "progress" for event in job.events):
        assert job.running, f"the engine stopped early: {job.error_message}"
        assert time.monotonic() < deadline, "the engine printed no progress"
        time.sleep(0.05)
    job.cancel()
    with pytest.raises(EngineCancelled, match="interrupted"):
        job.wait(timeout=60)
    assert job.returncode == 130 and not job.running
    kinds = [event["event"] for event in job.events]
    assert kinds[0] == "start" and kinds[-1] == "error" and "end" in kinds
    assert next(event for event in job.events if event["event"] == "end")["status"] == "interrupted"
    assert not output.exists()


def test_missing_executable_is_engine_error(tmp_path: Path) -> None:
    job = EngineJob([str(tmp_path / "latentswap")], ["info"])
    with pytest.raises(EngineError, match="cannot run .*latentswap"):
        job.start()


# --- a slow job, with a stub that behaves like the CLI --------------------------------------------------------

STUB = textwrap.dedent("""\
    import json, signal, sys, time
    def emit(**event):
        sys.stdout.write(json.dumps(event) + "\\n")
        sys.stdout.flush()
    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    total = int(sys.argv[1])
    try:
        print("not json: a log line", flush=True)
        emit(event="start", task="stub", total=total)
        for done in range(1, total + 1):
            time.sleep(float(sys.argv[2]))
            emit(event="progress", task="stub", done=done, total=total, percent=100.0 * done / total)
        emit(event="end", task="stub", status="done")
    except KeyboardInterrupt:
        emit(event="end", task="stub", status="interrupted")
        emit(event="error", message="interrupted; finished frames are kept, run again to continue", exit_code=130)
        sys.exit(130)
    """)


@pytest.fixture
def stub(tmp_path: Path) -> list[str]:
    script = tmp_path / "stub.py"
    script.write_text(STUB)
    return [sys.executable, str(script)]


def test_events_in_order(stub: list[str]) -> None:
    seen: list[dict] = []
    events = run_engine(stub, ["3", "0.01"], on_event=seen.append)
    assert [event["event"] for event in events] == ["start", "progress", "progress", "progress", "end"]
    assert [event["done"] for event in events if event["event"] == "progress"] == [1, 2, 3]
    assert seen == events


def test_cancel_mid_way(stub: list[str]) -> None:
    job = EngineJob(stub, ["1000", "0.05"]).start()
    deadline = time.monotonic() + 30
    while not any(event["event"] == "progress" for event in job.events):
        assert time.monotonic() < deadline, "the stub printed no progress"
        time.sleep(0.02)
    assert job.running
    job.cancel()
    with pytest.raises(EngineCancelled, match="interrupted"):
        job.wait(timeout=30)
    assert job.returncode == 130 and not job.running
    assert job.events[-1]["event"] == "error" and job.events[-2]["status"] == "interrupted"
    assert job.log == ["not json: a log line"]
    with pytest.raises(OSError):  # the process is gone
        os.kill(job.pid, 0)


def test_cancel_before_the_handler_is_installed_still_cancels(tmp_path: Path) -> None:
    script = tmp_path / "sleeper.py"
    script.write_text("import time\ntime.sleep(60)\n")
    job = EngineJob([sys.executable, str(script)], []).start()
    job.cancel()
    with pytest.raises(EngineCancelled):
        job.wait(timeout=30)
    assert job.returncode == -signal.SIGTERM


def test_failing_job_without_json_uses_last_stderr_line(tmp_path: Path) -> None:
    script = tmp_path / "fail.py"
    script.write_text("import sys\nsys.stderr.write('warming up\\nlatentswap: error: no model in /m\\n\\n')\n"
                      "sys.exit(2)\n")
    with pytest.raises(EngineError) as caught:
        run_engine([sys.executable, str(script)], [])
    assert str(caught.value) == "no model in /m"
