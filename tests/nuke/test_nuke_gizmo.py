"""The gizmo's buttons through the fake nuke, driving the real ``latentswap`` CLI on a tiny model and shot.

Track bakes per-face animation knobs; a hand edit reaches the track file Precompute writes; Precompute
writes the cache EXRs; errors reach the user (one line raised in a terminal, ``nuke.message`` in the GUI);
the farm script precomputes then renders; the render guard refuses a Write whose cache frames are missing.
"""

from __future__ import annotations

import json
import runpy
import shutil
import sys
from pathlib import Path

import forked_cli
import numpy as np
import pytest
from helpers import TINY_PLATE_FACELESS_FRAME, TINY_PLATE_SIZE

from latentswap_core.io import read_image

REPO = Path(__file__).resolve().parents[2]

FRAMES = (1001, 1004)
FACELESS_FRAME = TINY_PLATE_FACELESS_FRAME
SIZE = TINY_PLATE_SIZE


@pytest.fixture(scope="module")
def plate(tiny_plate: Path) -> Path:
    return tiny_plate


@pytest.fixture
def nuke(fake_nuke, shared_models, tmp_path):  # noqa: F811
    """The fake nuke after init.py (terminal mode), with a 640x360 script at tmp_path/shot.nk."""
    fake_nuke.set_root(str(tmp_path / "shot.nk"), FRAMES[0], FRAMES[1], *SIZE)
    runpy.run_path(str(REPO / "init.py"))
    return fake_nuke


def make_gizmo(nuke, plate: Path, model: Path | str, cache: Path, through=None):
    read = nuke.nodes.Read(file=str(plate), first=FRAMES[0], last=FRAMES[1], name="Plate")
    upstream = read
    if through:
        upstream = getattr(nuke.nodes, through)()
        upstream.setInput(0, read)
    node = nuke.createNode("LatentSwap")
    node.setInput(0, upstream)
    node["engine"].setValue(forked_cli.executable())  # the real CLI, forked with the engine imported
    node["model"].setValue(str(model))
    node["cache_dir"].setValue(str(cache))
    node["first_frame"].setValue(FRAMES[0])
    node["last_frame"].setValue(FRAMES[1])
    return node


def test_track_bakes_animated_face_knobs_and_an_edit_reaches_precompute(nuke, plate, tiny_model, tmp_path) -> None:
    node = make_gizmo(nuke, plate, tiny_model, tmp_path / "cache", through="Dot")
    node["track"].execute()  # the button's one line
    track = json.loads((tmp_path / "cache" / "track.json").read_text())
    assert [entry["frame"] for entry in track["frames"]] == [1001, 1002, 1003, 1004]
    centre, scale, rotate = node["face0_center"], node["face0_scale"], node["face0_rotate"]
    tracked = [1001, 1003, 1004]
    for knob in (centre, scale, rotate):
        assert knob.isAnimated() and knob.key_frames() == [float(frame) for frame in tracked]
    assert centre.key_frames(1) == [float(frame) for frame in tracked]
    # the face sits near the plate's centre (320, 180) in Nuke's bottom-left coordinates, a few hundred px wide
    for frame in tracked:
        assert abs(centre.valueAt(frame, 0) - 320) < 60 and abs(centre.valueAt(frame, 1) - 180) < 60
        assert 80 < scale.valueAt(frame) < 400
    assert "tracked 1 face" in node["status"].value()

    centre.setValueAt(centre.valueAt(1003, 0) + 20.0, 1003, 0)  # a hand edit: 20 px to the right on 1003
    node["precompute"].execute()
    edited = json.loads((tmp_path / "cache" / "track.edited.json").read_text())
    before = {entry["frame"]: entry["faces"] for entry in track["frames"]}
    after = {entry["frame"]: entry["faces"] for entry in edited["frames"]}
    moved = np.array(after[1003][0]["landmarks"]) - np.array(before[1003][0]["landmarks"])
    assert np.allclose(moved, [20.0, 0.0], atol=0.01)
    assert after[1001] == before[1001] and after[1004] == before[1004] and after[1002] == []

    rendered = Path(node["cache_folder"].value())  # the gizmo's CacheRead reads cache_dir/<settings key>
    assert rendered.parent == tmp_path / "cache" and len(rendered.name) == 16
    for frame in range(FRAMES[0], FRAMES[1] + 1):
        image = read_image(rendered / f"swap.{frame}.exr")
        assert {"face.R", "face.G", "face.B", "face.A", "lsmask.Y"} <= set(image.channels)
    assert node["status"].value() == "cache ready: 1001-1004"


def test_terminal_errors_carry_the_engine_message(nuke, plate, tmp_path, capsys) -> None:
    import nuke_plugin.jobs as jobs

    node = make_gizmo(nuke, plate, tmp_path / "no_model", tmp_path / "cache")
    with pytest.raises(jobs.JobError) as raised:
        node["precompute"].execute()
    message = str(raised.value)
    assert str(tmp_path / "no_model") in message and "\n" not in message and "Traceback" not in message
    assert message.startswith("LatentSwap Precompute (LatentSwap1): ") and "latentswap: error" not in message
    assert nuke.messages == [] and nuke.progress_tasks == []
    assert message.split(": ", 1)[1] in capsys.readouterr().err  # the same line on stderr for the farm log


def test_gui_errors_go_to_a_message_from_the_worker_thread(nuke, plate, tmp_path) -> None:
    import nuke_plugin.gizmo as gizmo

    nuke.set_gui(True)
    node = make_gizmo(nuke, plate, tmp_path / "no_model", tmp_path / "cache")
    job = gizmo.precompute(node)
    assert job is not None
    nuke.run_main_thread(until=job.finished, timeout=300)  # Nuke's event loop runs the job's callbacks
    assert job.wait() is False
    assert len(nuke.messages) == 1 and str(tmp_path / "no_model") in nuke.messages[0]
    assert nuke.progress_tasks and nuke.progress_tasks[0].title == "LatentSwap Precompute (LatentSwap1)"
    assert nuke.main_thread_calls and not any(from_main for _, _, from_main in nuke.main_thread_calls)
    assert node["status"].value().startswith("precompute failed: ")

    node["model"].setValue("")  # a knob the user must set: a message, no engine run
    del nuke.messages[:]
    assert gizmo.precompute(node) is None
    assert nuke.messages and "set the model knob" in nuke.messages[0]


def test_gui_track_runs_in_the_background_and_cancel_stops_it(nuke, plate, tiny_model, tmp_path) -> None:
    import nuke_plugin.gizmo as gizmo

    nuke.set_gui(True)
    node = make_gizmo(nuke, plate, tiny_model, tmp_path / "cache")
    job = gizmo.track(node)
    assert not job.finished.is_set() or nuke.main_thread_calls  # the job runs on while the main thread is free
    nuke.run_main_thread(until=job.finished, timeout=300)
    assert job.wait() is True and nuke.messages == []
    assert node["face0_center"].key_frames() == [1001.0, 1003.0, 1004.0]  # baked by a call handed to the main thread
    task = nuke.progress_tasks[0]
    assert task.title == "LatentSwap Track (LatentSwap1)" and task.progress[-1] == 100
    assert any("no face in 1 of 4 frames" in text for text in task.messages)
    assert not any(from_main for _, _, from_main in nuke.main_thread_calls)

    del nuke.progress_tasks[:]
    job = gizmo.track(node)
    for _ in range(100):  # press Cancel as soon as the progress bar shows
        if nuke.progress_tasks:
            nuke.progress_tasks[0].user_cancel()
            break
        nuke.run_main_thread(timeout=0.05)
    nuke.run_main_thread(until=job.finished, timeout=300)
    assert job.wait() is False and job.cancelled
    assert nuke.messages == []  # a cancel is not an error to report


def test_farm_render_precomputes_then_executes_the_writes(nuke, plate, tiny_model, tmp_path) -> None:
    import nuke_plugin.farm as farm

    def open_script(path: str) -> None:  # what scriptOpen would build from shot.nk
        node = make_gizmo(nuke, plate, tiny_model, tmp_path / "cache", through="Grade")
        write = nuke.nodes.Write(file=str(tmp_path / "comp.####.exr"), name="Write1")
        write.setInput(0, node)

    def render(node, first: int, last: int) -> None:  # the RawWrite renders the plate as Nuke would
        if node.name() == "RawWrite":
            raw = tmp_path / "cache" / "raw"
            for frame in range(first, last + 1):
                shutil.copy(str(plate).replace("####", str(frame)), raw / f"raw.{frame:04d}.exr")

    nuke.script_open_hook = open_script
    nuke.execute_hook = render
    assert farm.main([str(tmp_path / "shot.nk"), "--frames", "1001-1004"]) == 0
    assert nuke.opened_scripts == [str(tmp_path / "shot.nk")]
    assert [name for name, *_ in nuke.executed] == ["LatentSwap1.RawWrite", "Write1"]
    assert nuke.executed[-1] == ("Write1", 1001, 1004, 1)
    rendered = Path(nuke.toNode("LatentSwap1")["cache_folder"].value())
    assert rendered.parent == tmp_path / "cache"
    assert all((rendered / f"swap.{frame}.exr").is_file() for frame in range(1001, 1005))
    assert nuke.toNode("LatentSwap1.RawWrite")["disable"].value() is True
    assert nuke.plugin_paths == [str(REPO / "gizmos")]  # init.py had added it: not twice


def test_farm_without_init_adds_the_plugin_and_names_a_missing_write(fake_nuke, tmp_path, capsys) -> None:  # noqa: F811
    import nuke_plugin.farm as farm
    import nuke_plugin.gizmo as gizmo

    fake_nuke.script_open_hook = lambda path: fake_nuke.nodes.Write(name="Write1")
    with pytest.raises(SystemExit) as raised:
        farm.main([str(tmp_path / "shot.nk"), "--frames", "1001-1004", "--write", "Comp"])
    assert "there is no Write node called Comp" in str(raised.value)
    assert fake_nuke.plugin_paths == [str(REPO / "gizmos")]
    assert {entry[0] for entry in fake_nuke.callbacks["beforeFrameRender"]} == {gizmo.before_frame_render}
    with pytest.raises(SystemExit):
        farm.main([str(tmp_path / "shot.nk"), "--frames", "1004-1001"])
    assert "is empty" in capsys.readouterr().err


def test_render_guard_refuses_missing_cache_frames(nuke, plate, tmp_path) -> None:
    import nuke_plugin.gizmo as gizmo

    node = make_gizmo(nuke, plate, tmp_path / "model", tmp_path / "cache")
    write = nuke.nodes.Write(file=str(tmp_path / "comp.####.exr"), name="Write1")
    write.setInput(0, node)
    cache = Path(gizmo.keyed_cache_folder(node))
    cache.mkdir(parents=True)
    (cache / "swap.1001.exr").write_bytes(b"")
    with pytest.raises(RuntimeError) as raised:
        nuke.execute(write, 1001, 1004)
    message = str(raised.value)
    assert "the precomputed frame 1002 is missing" in message and "3 of 4 missing: 1002-1004" in message
    assert "tools/render.py" in message and "--frames 1002-1004" in message
    assert nuke.executed == [] and nuke.rendered_frames == [("Write1", 1001)]  # stopped at the missing frame
    for frame in (1002, 1003, 1004):
        (cache / f"swap.{frame}.exr").write_bytes(b"")
    nuke.execute(write, 1001, 1004)
    assert nuke.executed == [("Write1", 1001, 1004, 1)]


def test_a_farm_chunk_needs_only_its_own_frames(nuke, plate, tmp_path) -> None:
    import nuke_plugin.gizmo as gizmo

    nuke.set_root(str(tmp_path / "shot.nk"), 1001, 1100, *SIZE)
    node = make_gizmo(nuke, plate, tmp_path / "model", tmp_path / "cache")
    node["last_frame"].setValue(1100)
    cache = Path(gizmo.keyed_cache_folder(node))
    cache.mkdir(parents=True)
    for frame in range(1001, 1011):  # the first chunk was precomputed, the rest not yet
        (cache / f"swap.{frame}.exr").write_bytes(b"")
    with nuke.nodes.Group(name="Outputs") as group:  # a Write inside a Group, and a DeepWrite, are guarded too
        inner = nuke.nodes.Write(file=str(tmp_path / "comp.####.exr"), name="Write1")
    inner.setInput(0, node)
    deep = nuke.nodes.DeepWrite(file=str(tmp_path / "deep.####.exr"), name="DeepWrite1")
    deep.setInput(0, node)
    nuke.execute(inner, 1001, 1010)  # nuke -x -F 1001-1010: no complaint about 1011-1100
    assert nuke.executed == [("Outputs.Write1", 1001, 1010, 1)]
    for writer in (inner, deep):
        with pytest.raises(RuntimeError, match="the precomputed frame 1011 is missing"):
            nuke.execute(writer, 1005, 1015)
    assert group.node("Write1") is inner


def test_cache_dir_may_hold_tcl_and_the_menu_precomputes_the_selected_nodes(nuke, plate, tmp_path,
                                                                            monkeypatch) -> None:
    import nuke_plugin.gizmo as gizmo

    monkeypatch.setenv("SHOTCACHE", str(tmp_path / "tcl"))
    first = make_gizmo(nuke, plate, tmp_path / "model", tmp_path / "a")
    second = make_gizmo(nuke, plate, tmp_path / "model", tmp_path / "b")
    second["cache_dir"].setValue("[getenv SHOTCACHE]/sh010")
    assert gizmo.cache_dir(second) == str(tmp_path / "tcl" / "sh010") and (tmp_path / "tcl" / "sh010").is_dir()
    pressed = []
    monkeypatch.setattr(gizmo, "precompute", lambda node, first=None, last=None, on_done=None: pressed.append(node))
    gizmo.precompute_from_menu()
    assert pressed == [first, second]
    del pressed[:]
    second.setSelected(True)
    gizmo.precompute_from_menu()
    assert pressed == [second]


def test_precompute_asks_for_the_refiner_only_when_one_is_set(nuke, plate, tmp_path) -> None:
    import nuke_plugin.gizmo as gizmo

    node = make_gizmo(nuke, plate, tmp_path / "model", tmp_path / "cache")
    assert "--refine" not in gizmo.swap_arguments(node, str(plate), *FRAMES)
    node["refiner"].setValue(str(tmp_path / "refiners" / "sh010 v2"))
    node["refine_strength"].setValue(0.45)
    args = gizmo.swap_arguments(node, str(plate), *FRAMES)
    at = args.index("--refine")
    assert args[at:at + 6] == ["--refine", str(tmp_path / "refiners" / "sh010 v2"), "--refine-strength", "0.45",
                               "--refine-steps", "20"]


def test_the_faces_knob_becomes_one_track_id_option_per_face(nuke, plate, tmp_path) -> None:
    import nuke_plugin.gizmo as gizmo

    node = make_gizmo(nuke, plate, tmp_path / "model", tmp_path / "cache")
    assert "--track-id" not in gizmo.swap_arguments(node, str(plate), *FRAMES)  # "all", the knob's default
    node["faces"].setValue(" 0, 2 ")
    args = gizmo.swap_arguments(node, str(plate), *FRAMES)
    assert "--faces" not in args
    assert [args[at + 1] for at, value in enumerate(args) if value == "--track-id"] == ["0", "2"]
    node["faces"].setValue("0,x")
    with pytest.raises(gizmo.PluginError, match="the faces knob '0,x' is not 'all' or track ids such as 0 or 0,2"):
        gizmo.swap_arguments(node, str(plate), *FRAMES)


def test_the_read_shortcut_passes_the_path_nuke_resolves_and_renders_a_retimed_read(nuke, plate, tmp_path,
                                                                                   monkeypatch) -> None:
    import nuke_plugin.gizmo as gizmo

    monkeypatch.setenv("PLATES", str(plate.parent))
    node = make_gizmo(nuke, plate, tmp_path / "model", tmp_path / "cache")
    read = nuke.toNode("Plate")
    read["file"].setValue("[getenv PLATES]/" + plate.name)  # Tcl in the file knob, as pipelines write it
    assert gizmo.plate_source(node, *FRAMES) == str(plate)
    read["file"].setValue("$PLATES/" + plate.name)
    assert gizmo.plate_source(node, *FRAMES) == str(plate)
    nuke.root()["name"].setValue(str(plate.parent / "shot.nk"))  # a path relative to the script's folder
    read["file"].setValue(plate.name)
    assert gizmo.plate_source(node, *FRAMES) == str(plate)
    assert nuke.executed == []
    read["frame"].setValue("10")  # frame mode offset: the Read shows other file frames than the numbers say
    assert gizmo.plate_source(node, *FRAMES) == str(tmp_path / "cache" / "raw" / "raw.####.exr")
    assert nuke.executed == [("LatentSwap1.RawWrite", 1001, 1004, 1)]  # rendered through Nuke instead


def test_stopping_the_engine_on_windows_asks_it_to_unwind() -> None:
    import signal
    import subprocess

    from nuke_plugin import engine

    flags = engine.windows_creation_flags("win32")
    assert flags & getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)  # CTRL_BREAK reaches the engine alone
    assert flags & getattr(subprocess, "CREATE_NO_WINDOW", 0x8000000)
    assert engine.stop_signal("win32") == getattr(signal, "CTRL_BREAK_EVENT", 1)  # not TerminateProcess
    assert engine.windows_creation_flags("linux") == 0 and engine.stop_signal("linux") == signal.SIGTERM


@pytest.fixture(scope="module")
def high_plate(shared_dir: Path, tmp_path_factory) -> Path:
    """Four 640x360 frames with the face high and right of centre: (400, 110) in image pixels, y down, which is
    (400, 250) in Nuke's coordinates, y up. A centred face would hide a missing y-flip."""
    from latentswap_core.demo import shot as shots

    photo = shots.load_photo("biden2", shared_dir)
    shot = shots.render_shot([photo], [[shots.Pose(angle=0.0, scale=0.4, x=400.0, y=110.0)]] * 4, noise_sigma=2.0,
                             size=SIZE)
    return Path(shots.write_exr_plate(shot.frames, tmp_path_factory.mktemp("high_plate"), alpha=True))


def argv_recording_engine(folder: Path) -> tuple[Path, Path]:
    """An engine that records its arguments and succeeds: (the executable, the JSON file it writes)."""
    record = folder / "argv.json"
    engine = folder / "recording_engine"
    engine.write_text(f"#!{sys.executable}\nimport json, sys\n"
                      "if sys.argv[1:] == ['--version']:\n    sys.exit(print('latentswap 0.1.0 (engine 1)'))\n"
                      f"open({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\n")
    engine.chmod(0o755)
    return engine, record


def test_precompute_passes_the_knobs_colour_and_the_y_flipped_face_edit_to_the_engine(nuke, high_plate, tiny_model,
                                                                              tmp_path) -> None:
    cache = tmp_path / "cache"
    for knob, value in (("colorManagement", "OCIO"), ("OCIO_config", "custom"),
                        ("customOCIOConfigPath", "ocio://studio-config-latest"), ("workingSpaceLUT", "ACEScg")):
        nuke.root()[knob].setValue(value)
    node = make_gizmo(nuke, high_plate, tiny_model, cache)
    node["track"].execute()
    centre = node["face0_center"]
    assert abs(centre.valueAt(1001, 0) - 400) < 25 and abs(centre.valueAt(1001, 1) - 250) < 25  # y up
    import nuke_plugin.gizmo as gizmo

    # fp32 (the default) passes no --precision: an engine from before the option runs the gizmo's Precompute
    assert "--precision" not in gizmo.swap_arguments(node, str(high_plate), 1001, 1004, output_folder=str(cache))
    for knob, value in (("color_transfer", "lct"), ("blend", "poisson"), ("mask_erode", 3.0), ("mask_blur", 5.0),
                        ("faces", "0"), ("precision", "bf16")):
        node[knob].setValue(value)
    centre.setValueAt(centre.valueAt(1002, 1) + 15.0, 1002, 1)  # a hand edit: 15 px up on 1002
    engine, record = argv_recording_engine(tmp_path)
    node["engine"].setValue(str(engine))
    node["precompute"].execute()
    edited = str(cache / "track.edited.json")
    keyed = Path(node["cache_folder"].value())
    settings = json.loads((keyed / "settings.json").read_text())
    assert keyed.parent == cache and (settings["color_transfer"], settings["precision"]) == ("lct", "bf16")
    assert json.loads(record.read_text()) == [
        "swap", str(high_plate), "--model", str(tiny_model), "-o", str(keyed / "swap.####.exr"),
        "--frames", "1001-1004", "--mask-erode", "0", "--mask-blur", "0",  # erode and blur stay live in Nuke
        "--color-transfer", "lct", "--blend", "poisson", "--precision", "bf16", "--layers", "face",
        "--colorspace", "ACEScg", "--ocio-config", "ocio://studio-config-latest",  # the script's working space
        "--track-id", "0", "--track", edited,
        "--progress-json"]
    before = {entry["frame"]: entry["faces"] for entry in json.loads((cache / "track.json").read_text())["frames"]}
    after = {entry["frame"]: entry["faces"] for entry in json.loads(Path(edited).read_text())["frames"]}
    moved = np.array(after[1002][0]["landmarks"]) - np.array(before[1002][0]["landmarks"])
    assert np.allclose(moved, [0.0, -15.0], atol=0.01)  # up in Nuke is up the image: y down there
