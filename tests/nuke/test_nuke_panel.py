"""The training panel through the fake nuke: Start extracts a faceset from photos and trains with the real CLI."""

from __future__ import annotations

import shutil
import time

import forked_cli

ENGINE = forked_cli.executable  # the real CLI, forked from the tests' server with the engine imported


def test_start_extracts_then_trains_and_resume_continues(fake_nuke, shared_models, shared_dir, tiny_facesets,  # noqa: F811
                                                     tmp_path) -> None:
    import nuke_plugin.panel as panel

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("biden.jpg", "biden2.jpg"):
        shutil.copy(shared_dir / "data" / "faces" / name, photos / name)
    window = panel.make_panel()
    window.src.setValue(str(tiny_facesets[0]))  # already a faceset: used as it is
    window.dst.setValue(str(photos))
    window.workdir.setValue(str(tmp_path / "work"))
    window.resolution.setValue("128")
    window.steps.setValue(2)
    window.consent.setValue("REF-7")
    window.engine_path.setValue(ENGINE())
    window.knobChanged(window.start_button)  # terminal mode: runs to the end here

    faceset = tmp_path / "work" / "facesets" / "dst"
    assert (faceset / "faceset.json").is_file()
    model = tmp_path / "work" / "model"
    assert (model / "model" / "provenance.json").is_file(), window.log.value()
    assert window.progress.value() == "done: model in " + str(model)
    assert window.log.value().splitlines()[0].startswith("$ latentswap extract " + str(photos))
    assert any(line.startswith("$ latentswap train --src " + str(tiny_facesets[0])) for line in window.lines)

    window.steps.setValue(3)  # Resume continues the same model folder one step further
    window.knobChanged(window.resume_button)
    assert window.progress.value().startswith("done"), window.log.value()
    assert "--resume" in [line for line in window.lines if line.startswith("$ latentswap train")][-1]


def test_start_without_footage_says_what_to_set(fake_nuke, tmp_path) -> None:  # noqa: F811
    import nuke_plugin.panel as panel

    fake_nuke.set_gui(True)
    window = panel.make_panel()
    window.workdir.setValue(str(tmp_path))
    window.engine_path.setValue(ENGINE())
    window.knobChanged(window.start_button)
    assert fake_nuke.messages == ["LatentSwap training: set the source footage"]
    assert window.job is None


def test_stop_ends_a_gui_training_job(fake_nuke, shared_models, tiny_facesets, tmp_path) -> None:  # noqa: F811
    import nuke_plugin.panel as panel

    fake_nuke.set_gui(True)
    window = panel.make_panel()
    window.src.setValue(str(tiny_facesets[0]))
    window.dst.setValue(str(tiny_facesets[1]))
    window.workdir.setValue(str(tmp_path / "work"))
    window.resolution.setValue("128")
    window.steps.setValue(100000)
    window.engine_path.setValue(ENGINE())
    window.knobChanged(window.start_button)
    job = window.job
    assert job is not None and job.thread is not None  # running in the background
    window.knobChanged(window.stop_button)  # at once: before the engine even started
    fake_nuke.run_main_thread(until=job.finished, timeout=300)
    assert job.wait() is False and job.cancelled
    assert fake_nuke.messages == [] and window.lines[-1] == "stopping..."

    window.knobChanged(window.start_button)
    job = window.job
    deadline = time.monotonic() + 600  # stop once training reports progress (minutes on a loaded machine)
    while time.monotonic() < deadline:
        if any(event.get("event") == "progress" for event in job.engine_job.events) or job.finished.is_set():
            break
        fake_nuke.run_main_thread(timeout=0.1)
    window.knobChanged(window.stop_button)
    fake_nuke.run_main_thread(until=job.finished, timeout=300)
    assert job.wait() is False and job.cancelled and job.engine_job.returncode == 130
    assert fake_nuke.messages == []
    assert any("interrupted at step" in line and "--resume continues" in line for line in window.lines)
