"""init.py and menu.py against the fake nuke: paths and callbacks in every mode, menus only in the GUI."""

from __future__ import annotations

import runpy
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def start(nuke, gui: bool) -> None:
    """What Nuke does at start-up with our plugin folder on NUKE_PATH: init.py always, menu.py in the GUI."""
    nuke.set_gui(gui)
    runpy.run_path(str(REPO / "init.py"))
    runpy.run_path(str(REPO / "menu.py"))


def test_terminal_mode_registers_paths_and_callbacks_but_no_menus(fake_nuke) -> None:  # noqa: F811
    import nuke_plugin.gizmo as gizmo

    start(fake_nuke, gui=False)
    assert fake_nuke.plugin_paths == [str(REPO / "gizmos")]
    assert [(entry[0], entry[3]) for entry in fake_nuke.callbacks["onCreate"]] == [(gizmo.on_create, "LatentSwap")]
    assert [(entry[0], entry[3]) for entry in fake_nuke.callbacks["knobChanged"]] == [
        (gizmo.knob_changed, "LatentSwap")]
    # the cache guard runs per frame (a farm chunk needs only its frames) for every class a render executes
    assert [(entry[0], entry[3]) for entry in fake_nuke.callbacks["beforeFrameRender"]] == [
        (gizmo.before_frame_render, "Write"), (gizmo.before_frame_render, "DeepWrite"),
        (gizmo.before_frame_render, "WriteGeo")]
    assert fake_nuke.menus == {}


def test_gui_mode_adds_the_toolbar_and_the_panel(fake_nuke) -> None:  # noqa: F811
    import nukescripts

    import nuke_plugin.gizmo as gizmo
    import nuke_plugin.panel as panel

    start(fake_nuke, gui=True)
    toolbar = fake_nuke.menu("Nodes").findItem("LatentSwap")
    assert [item.name() for item in toolbar.items()] == ["LatentSwap", "Train Model...", "Precompute Swaps..."]
    assert toolbar.findItem("Train Model...").script() is panel.show_panel
    assert toolbar.findItem("Precompute Swaps...").script() is gizmo.precompute_from_menu
    assert fake_nuke.menu("Pane").findItem("LatentSwap Training") is not None
    assert panel.PANEL_ID in nukescripts.registered
    # from the Nodes toolbar there is no pane context: the panel must still show (beside the Properties bin)
    assert toolbar.findItem("Train Model...").invoke().shown
    with fake_nuke.pane_context():  # Windows > Custom runs the registered command inside a pane
        nukescripts.registered[panel.PANEL_ID]()
    assert nukescripts.panels[-1].shown

    node = toolbar.findItem("LatentSwap").invoke() or fake_nuke.allNodes("LatentSwap")[0]
    assert node.Class() == "LatentSwap" and node.node("CacheRead") is not None
    assert node["cache_dir"].value() == ""  # empty: beside the script, per node (gizmo.default_cache_dir)
    assert node["status"].value().startswith("no model")


def test_training_panel_builds_the_engine_commands(fake_nuke, tmp_path) -> None:  # noqa: F811
    import nuke_plugin.panel as panel

    start(fake_nuke, gui=True)
    window = fake_nuke.menu("Pane").findItem("LatentSwap Training").invoke()
    (tmp_path / "actor").mkdir()
    (tmp_path / "actor" / "faceset.json").write_text("{}")
    window.src.setValue(str(tmp_path / "actor"))
    window.dst.setValue("/shots/sh010/plate.####.exr")
    window.workdir.setValue(str(tmp_path / "work"))
    window.consent.setValue("REF-7")
    window.steps.setValue(500)
    assert window.plan() == [
        ["extract", "/shots/sh010/plate.####.exr", "-o", str(tmp_path / "work" / "facesets" / "dst"), "--size", "256"],
        ["train", "--src", str(tmp_path / "actor"), "--dst", str(tmp_path / "work" / "facesets" / "dst"),
         "-o", str(tmp_path / "work" / "model"), "--resolution", "256", "--codec", "taef2", "--steps", "500",
         "--consent", "REF-7"]]
    window.budget.setValue("minutes")
    window.minutes.setValue(1.5)
    resumed = window.plan(resume=True)
    assert resumed == [panel.train_arguments(
        str(tmp_path / "actor"), str(tmp_path / "work" / "facesets" / "dst"), str(tmp_path / "work" / "model"),
        "256", "taef2", "minutes", 1.5, "REF-7", resume=True)]
    assert resumed[0][-5:] == ["--minutes", "1.5", "--consent", "REF-7", "--resume"]
    window.on_event({"event": "progress", "task": "train", "done": 3, "total": 10, "percent": 30.0, "loss": 0.2,
                     "preview": "/work/model/previews/step_000003.png"})
    assert window.preview.value() == ('<img src="/work/model/previews/step_000003.png" width="384">'
                                      "<br>step_000003.png")  # the image itself, in the panel
    assert window.progress.value().startswith("train: 3/10")
