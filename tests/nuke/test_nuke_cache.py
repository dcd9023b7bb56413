"""The gizmo's precompute cache, keyed by the settings that change the pixels, through the fake nuke.

A stub engine stands in for ``latentswap swap``: it writes an empty file per frame where it is told, which is all
the cache logic looks at. What is proven: a cache rendered with other settings is stale (the status names what
changed and a render refuses it), changing a setting back finds the earlier cache, live knobs never invalidate,
and the default folder sits beside the script, one per node, surviving a version-up of the script.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FRAMES = (1001, 1004)


@pytest.fixture
def nuke(fake_nuke, tmp_path):  # noqa: F811
    fake_nuke.set_root(str(tmp_path / "shots" / "sh010_v001.nk"), FRAMES[0], FRAMES[1], 640, 360)
    runpy.run_path(str(REPO / "init.py"))
    return fake_nuke


STUB_VERSION = "latentswap 0.1.0 (engine 0123456789abcdef)"
WRITE_FRAMES = ("pattern, frames = args[args.index('-o') + 1], args[args.index('--frames') + 1]\n"
                "first, last = (int(part) for part in frames.split('-'))\n"
                "for frame in range(first, last + 1):\n"
                "    open(pattern.replace('####', '%04d' % frame), 'w').close()\n")


def frame_writing_engine(folder: Path, version: str | None = STUB_VERSION) -> Path:
    """An engine that writes an empty file for each frame of ``-o PATTERN --frames A-B`` and succeeds; asked
    ``--version``, it prints ``version`` (None: it fails, as a broken install would)."""
    folder.mkdir(parents=True, exist_ok=True)
    engine = folder / "frame_engine"
    engine.write_text(f"#!{sys.executable}\nimport sys\nargs = sys.argv[1:]\n"
                      f"if args == ['--version']:\n    sys.exit(print({version!r}) if {version!r} else 1)\n"
                      + WRITE_FRAMES)
    engine.chmod(0o755)
    return engine


def model_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    return folder


def make_node(nuke, tmp_path: Path, cache: Path | None):
    plate = tmp_path / "plates" / "plate.####.exr"
    read = nuke.nodes.Read(file=str(plate), first=FRAMES[0], last=FRAMES[1], name="Plate")
    node = nuke.createNode("LatentSwap")
    node.setInput(0, read)
    node["engine"].user_set(str(frame_writing_engine(tmp_path)))  # filled in by hand: knobChanged runs
    node["model"].user_set(str(model_folder(tmp_path / f"model_{node.name()}")))
    if cache is not None:
        node["cache_dir"].user_set(str(cache))
    node["first_frame"].user_set(FRAMES[0])
    node["last_frame"].user_set(FRAMES[1])
    return node


def test_a_changed_setting_makes_the_cache_stale_and_changing_it_back_finds_it(nuke, tmp_path) -> None:
    import nuke_plugin.gizmo as gizmo

    cache = tmp_path / "cache"
    node = make_node(nuke, tmp_path, cache)
    face = nuke.XY_Knob("face0_center", "face 0 centre")  # as Track bakes it
    node.addKnob(face)
    face.setValueAt(320.0, 1001, 0)
    gizmo.update_status(node)
    assert node["status"].value() == "not precomputed: press Precompute"
    node["precompute"].execute()
    first_cache = Path(node["cache_folder"].value())
    assert first_cache.parent == cache and (first_cache / "swap.1004.exr").is_file()
    assert node["status"].value() == "cache ready: 1001-1004"
    write = nuke.nodes.Write(file=str(tmp_path / "comp.####.exr"), name="Write1")
    write.setInput(0, node)
    nuke.execute(write, *FRAMES)

    for knob, value in (("mask_erode", 4.0), ("mask_blur", 9.0), ("mix", 0.5), ("view", "mask")):
        node[knob].user_set(value)  # live in the gizmo: the cache holds the same pixels
    assert node["status"].value() == "cache ready: 1001-1004"

    assert node["cache_state"].value() == "cache ready"  # the node's label in the Node Graph
    node["color_transfer"].user_set("lct")
    assert node["status"].value() == "cache stale (color transfer changed): press Precompute"
    assert node["cache_state"].value() == "cache stale"
    assert Path(node["cache_folder"].value()) == first_cache  # the old swap stays on screen until Precompute
    with pytest.raises(RuntimeError, match=r"rendered with other settings \(color transfer changed since\)"):
        nuke.execute(write, *FRAMES)
    node["precompute"].execute()
    second_cache = Path(node["cache_folder"].value())
    assert second_cache != first_cache and second_cache.parent == cache
    assert node["status"].value() == "cache ready: 1001-1004"

    node["color_transfer"].user_set("rct")  # back: the first cache is ready again, no Precompute
    assert node["status"].value() == "cache ready: 1001-1004"
    assert Path(node["cache_folder"].value()) == first_cache

    face.user_set_at(330.0, 1001, 0)  # a hand edit on the Faces tab
    assert node["status"].value() == "cache stale (face edits changed): press Precompute"
    face.user_set_at(320.0, 1001, 0)
    assert node["status"].value() == "cache ready: 1001-1004"

    weights = Path(node["model"].value()) / "model.safetensors"
    trained = weights.stat()
    weights.write_bytes(b"trained on")  # the same model folder, trained further
    gizmo.update_status(node)  # the files changed outside Nuke: the next look at the node sees it
    assert node["status"].value() == "cache stale (model weights changed): press Precompute"
    with pytest.raises(RuntimeError, match=r"model weights changed since"):
        nuke.execute(write, *FRAMES)
    weights.write_bytes(b"weights")
    os.utime(weights, ns=(trained.st_atime_ns, trained.st_mtime_ns))  # as it was

    node["refiner"].user_set(str(model_folder(tmp_path / "refiner")))
    assert node["status"].value() == ("cache stale (refiner, refiner weights, refine strength, refine steps "
                                      "changed): press Precompute")
    node["refiner"].user_set("")
    assert node["status"].value() == "cache ready: 1001-1004"
    node["precision"].user_set("bf16")  # a draft is another render; fp32 keeps the key caches had before the knob
    assert node["status"].value() == "cache stale (precision changed): press Precompute"
    node["precision"].user_set("fp32")
    assert node["status"].value() == "cache ready: 1001-1004"
    read = nuke.toNode("Plate")
    read["file"].setValue(str(tmp_path / "plates" / "plate_v2.####.exr"))  # a new plate version
    gizmo.update_status(node)
    assert node["status"].value() == "cache stale (plate changed): press Precompute"


def test_the_default_cache_is_beside_the_script_one_folder_per_node(nuke, tmp_path) -> None:
    import nuke_plugin.gizmo as gizmo

    first, second = make_node(nuke, tmp_path, None), make_node(nuke, tmp_path, None)
    shots = tmp_path / "shots" / "latentswap_cache"
    assert gizmo.cache_folder_text(first) == str(shots / "LatentSwap1")  # where the farm sees it, not $TMPDIR
    assert gizmo.cache_folder_text(second) == str(shots / "LatentSwap2")  # a pasted copy gets its own
    first["precompute"].execute()
    assert Path(first["cache_folder"].value()).parent == shots / "LatentSwap1"
    assert second["status"].value() == "not precomputed: press Precompute"

    nuke.root()["name"].setValue(str(tmp_path / "shots" / "sh010_v002.nk"))  # a version-up keeps the cache
    gizmo.update_status(first)
    assert first["status"].value() == "cache ready: 1001-1004"

    nuke.root()["name"].setValue("")  # a script never saved: nowhere the farm could see
    gizmo.update_status(second)
    assert second["status"].value().startswith("save the script (the cache goes beside it")
    with pytest.raises(gizmo.PluginError, match="LatentSwap2: save the script first .* or set the cache dir knob"):
        second["precompute"].execute()
    assert not (tmp_path / "latentswap_cache").exists()


def test_a_relative_cache_dir_is_taken_from_the_project_directory_as_nukes_read_does(nuke, tmp_path,
                                                                                    monkeypatch) -> None:
    import nuke_plugin.gizmo as gizmo

    monkeypatch.chdir(tmp_path)  # the process's folder is not where a relative cache goes
    node = make_node(nuke, tmp_path, None)
    node["cache_dir"].user_set("caches/sh010")
    assert gizmo.cache_folder_text(node) == str(tmp_path / "shots" / "caches" / "sh010")  # beside the script
    nuke.root()["project_directory"].setValue(str(tmp_path / "project"))
    assert gizmo.cache_folder_text(node) == str(tmp_path / "project" / "caches" / "sh010")



def test_a_settings_file_that_is_not_ours_reads_as_none(tmp_path) -> None:
    """The status line reads a cache's settings.json on every knob change: a hostile one must cost nothing."""
    from nuke_plugin import cache

    folder = tmp_path / "cache"
    folder.mkdir()
    assert cache.read_settings(folder) is None
    cache.write_settings(folder, {"blend": "alpha"})
    assert cache.read_settings(folder) == {"blend": "alpha"}
    for text in ("[" * 100_000 + "]" * 100_000, "not json", "[1, 2]", " " * (cache.MAX_SETTINGS_BYTES + 1)):
        (folder / cache.SETTINGS_FILE).write_text(text)
        assert cache.read_settings(folder) is None
    (folder / cache.SETTINGS_FILE).unlink()
    os.mkfifo(folder / cache.SETTINGS_FILE)  # would block a reader forever
    assert cache.read_settings(folder) is None


def test_the_key_names_the_scripts_colour_choices_not_the_paths_they_resolve_to(nuke, tmp_path,
                                                                                monkeypatch) -> None:
    """A farm machine with Nuke installed elsewhere resolves the shipped config to another path: the same cache."""
    import nuke_plugin.gizmo as gizmo

    node = make_node(nuke, tmp_path, tmp_path / "cache")
    for knob, value in (("colorManagement", "OCIO"), ("OCIO_config", "aces_1.2"), ("workingSpaceLUT", "ACEScg")):
        nuke.root()[knob].setValue(value)
    monkeypatch.setattr(nuke, "EXE_PATH", "/usr/local/Nuke15.1v2/Nuke15.1", raising=False)
    workstation = gizmo.keyed_cache_folder(node)
    monkeypatch.setattr(nuke, "EXE_PATH", "/opt/farm/Nuke15.1v2/Nuke15.1")
    assert gizmo.keyed_cache_folder(node) == workstation
    nuke.root()["workingSpaceLUT"].setValue("scene_linear")  # another working space: other pixels
    assert gizmo.keyed_cache_folder(node) != workstation


def test_a_render_node_that_cannot_see_the_model_folder_renders_the_cache(nuke, tmp_path) -> None:
    import shutil

    node = make_node(nuke, tmp_path, tmp_path / "cache")
    node["precompute"].execute()
    write = nuke.nodes.Write(file=str(tmp_path / "comp.####.exr"), name="Write1")
    write.setInput(0, node)
    shutil.rmtree(node["model"].value())  # the farm node has the shot's share, not the training one
    nuke.execute(write, *FRAMES)
    assert nuke.executed == [("Write1", 1001, 1004, 1)]
    node["color_transfer"].setValue("lct")  # what it can see still counts
    with pytest.raises(RuntimeError, match=r"\(color transfer changed since\)"):
        nuke.execute(write, *FRAMES)



def test_the_engine_counts_by_what_it_is_not_where_it_is_installed(nuke, tmp_path) -> None:
    import nuke_plugin.gizmo as gizmo

    node = make_node(nuke, tmp_path, tmp_path / "cache")
    release = "latentswap 0.1.0 (engine 1111111111111111)"
    node["engine"].user_set(str(frame_writing_engine(tmp_path / "workstation", release)))
    node["precompute"].execute()
    rendered = Path(node["cache_folder"].value())
    assert json.loads((rendered / "settings.json").read_text())["engine"] == release
    assert node["status"].value() == "cache ready: 1001-1004"
    site = frame_writing_engine(tmp_path / "site", release)  # the same engine, installed for the whole site
    node["engine"].user_set(str(site))
    assert node["status"].value() == "cache ready: 1001-1004"
    assert Path(node["cache_folder"].value()) == rendered

    installed = site.stat()
    frame_writing_engine(tmp_path / "site", "latentswap 0.1.0 (engine 2222222222222222)")  # reinstalled in place
    os.utime(site, ns=(installed.st_atime_ns, installed.st_mtime_ns + 10**10))  # pip runs seconds later
    gizmo.update_status(node)
    assert node["status"].value() == "cache stale (engine changed): press Precompute"
    write = nuke.nodes.Write(file=str(tmp_path / "comp.####.exr"), name="Write1")
    write.setInput(0, node)
    with pytest.raises(RuntimeError, match=r"\(engine changed since\)"):  # it would render other pixels
        nuke.execute(write, *FRAMES)
    node["precompute"].execute()
    assert node["status"].value() == "cache ready: 1001-1004" and Path(node["cache_folder"].value()) != rendered
    nuke.execute(write, *FRAMES)
    assert nuke.executed == [("Write1", 1001, 1004, 1)]


def test_a_render_node_without_an_engine_renders_the_cache(nuke, tmp_path, monkeypatch) -> None:
    """A farm node that only reads caches may have no engine, or one that does not answer: the cache's word stands."""
    import nuke_plugin.gizmo as gizmo

    node = make_node(nuke, tmp_path, tmp_path / "cache")
    node["engine"].user_set(str(frame_writing_engine(tmp_path / "workstation", "latentswap 0.1.0 (engine 1)")))
    node["precompute"].execute()
    write = nuke.nodes.Write(file=str(tmp_path / "comp.####.exr"), name="Write1")
    write.setInput(0, node)
    node["engine"].setValue(str(frame_writing_engine(tmp_path / "farm", None)))  # one that does not say what it is
    gizmo.update_status(node)
    assert node["status"].value() == "cache ready: 1001-1004"
    nuke.execute(write, *FRAMES)
    node["engine"].setValue("")
    for name in ("LATENTSWAP_CLI", "LATENTSWAP_PYTHON"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(gizmo.engine, "SETTINGS_PATH", str(tmp_path / "no_settings.json"))
    monkeypatch.setattr(gizmo.engine, "default_plugin_root", lambda: str(tmp_path / "no_plugin"))
    with pytest.raises(gizmo.engine.EngineError):
        gizmo.engine.find_engine()
    nuke.execute(write, *FRAMES)
    assert nuke.executed == [("Write1", 1001, 1004, 1)] * 2


def test_precompute_asks_the_engine_again_and_refuses_one_that_does_not_answer(nuke, tmp_path) -> None:
    """An editable install (``make install``) changes with a ``git pull`` while its executable stays as it was."""
    import nuke_plugin.gizmo as gizmo

    node = make_node(nuke, tmp_path, tmp_path / "cache")
    answer = tmp_path / "digest.txt"
    editable = tmp_path / "editable" / "latentswap"
    editable.parent.mkdir()
    editable.write_text(f"#!{sys.executable}\nimport sys\nargs = sys.argv[1:]\nif args == ['--version']:\n"
                        f"    sys.exit(print(open({str(answer)!r}).read()))\n" + WRITE_FRAMES)
    editable.chmod(0o755)
    node["engine"].user_set(str(editable))  # the status line asks: no answer yet (a share still mounting)
    assert gizmo.engine.engine_identity([str(editable)]) == ""
    answer.write_text("latentswap 0.1.0 (engine 1111111111111111)")
    node["precompute"].execute()
    first = Path(node["cache_folder"].value())
    assert node["status"].value() == "cache ready: 1001-1004"
    answer.write_text("latentswap 0.1.0 (engine 2222222222222222)")  # git pull: the same executable, new modules
    node["precompute"].execute()
    second = Path(node["cache_folder"].value())
    assert second != first and json.loads((second / "settings.json").read_text())["engine"].endswith("2222)")
    assert node["status"].value() == "cache ready: 1001-1004"

    node["engine"].user_set(str(frame_writing_engine(tmp_path / "broken", None)))
    with pytest.raises(gizmo.PluginError, match=r"LatentSwap1: the engine .*broken/frame_engine does not answer "
                                                r"`--version`"):
        node["precompute"].execute()
