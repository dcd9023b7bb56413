"""nuke_plugin.jobs with a stand-in engine (a tiny Python script): events, progress, errors, both modes."""

from __future__ import annotations

import sys

import pytest

SCRIPT = """
import json, sys
print(json.dumps({"event": "start", "task": "swap", "total": 2}), flush=True)
print(json.dumps({"event": "progress", "task": "swap", "done": 1, "total": 2, "percent": 50.0, "eta_s": 3}), flush=True)
if sys.argv[1] == "fail":
    print(json.dumps({"event": "error", "message": "plate.####.exr: frame 1002 is missing; render it"}), flush=True)
    print("latentswap: error: plate.####.exr: frame 1002 is missing; render it", file=sys.stderr)
    sys.exit(2)
print(json.dumps({"event": "end", "task": "swap", "status": "done"}), flush=True)
"""


@pytest.fixture
def stand_in(tmp_path):
    path = tmp_path / "engine.py"
    path.write_text(SCRIPT)
    return [sys.executable, str(path)]


def test_terminal_job_prints_progress_and_raises_the_engine_line(fake_nuke, stand_in, capsys) -> None:  # noqa: F811
    import nuke_plugin.jobs as jobs

    assert jobs.describe({"event": "progress", "task": "swap", "done": 3, "total": 4, "eta_s": 2.4}) == \
        "swap: 3/4 (2 s left)"
    assert jobs.percent({"event": "progress", "done": 1, "total": 4}) == 25
    assert jobs.percent({"event": "message", "text": "x"}) is None
    done = []
    job = jobs.run_job(stand_in, ["ok"], "Swap", on_done=lambda: done.append(True))
    assert done == [True] and job.error is None
    assert "Swap: swap: 1/2 (3 s left)" in capsys.readouterr().err
    with pytest.raises(jobs.JobError, match=r"^Swap: plate\.####\.exr: frame 1002 is missing; render it$"):
        jobs.run_job(stand_in, ["fail"], "Swap")


def test_gui_job_reports_through_the_main_thread(fake_nuke, stand_in) -> None:  # noqa: F811
    import nuke_plugin.jobs as jobs

    fake_nuke.set_gui(True)
    events = []
    done = []
    job = jobs.run_job(stand_in, ["ok"], "Swap", on_event=events.append, on_done=lambda: done.append(True))
    assert not job.finished.wait(1) and done == []  # the job's end waits for Nuke's main loop to run on_done
    fake_nuke.run_main_thread(until=job.finished, timeout=60)
    assert job.wait() is True and done == [True]  # wait() returns after the main-thread callback has run
    assert [event["event"] for event in events] == ["start", "progress", "end"]
    task = fake_nuke.progress_tasks[0]
    assert task.progress == [50] and task.messages == ["swap: started", "swap: 1/2 (3 s left)", "swap: done"]
    job = jobs.run_job(stand_in, ["fail"], "Swap")
    fake_nuke.run_main_thread(until=job.finished, timeout=60)
    assert job.wait() is False
    assert fake_nuke.messages == ["Swap failed:\nplate.####.exr: frame 1002 is missing; render it"]
    assert not any(from_main for _, _, from_main in fake_nuke.main_thread_calls)
