"""The plugin's everyday paths against the fake nuke, with the standard library only, so that each Python Nuke
ships (3.7 for Nuke 13 ... 3.11 for Nuke 16) runs them: start-up, a node, its status and cache key, the engine's
command line, the farm guard, the training panel's plan. Prints "ok" and exits 0, or raises.

Run by tests/nuke/test_nuke_python_versions.py as ``python plugin_smoke.py``; no pytest there.
"""

import os
import runpy
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [os.path.join(HERE, "fake_nuke"), REPO]
sys.dont_write_bytecode = True

import nuke  # noqa: E402  (the fake, found through sys.path as Nuke's own would be)


def main():
    work = tempfile.mkdtemp(prefix="latentswap-smoke-")
    try:
        run(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("ok")


def run(work):
    nuke.reset()
    nuke.set_root(os.path.join(work, "shot.nk"), 1001, 1004, 640, 360)
    nuke.set_gui(True)
    runpy.run_path(os.path.join(REPO, "init.py"))
    runpy.run_path(os.path.join(REPO, "menu.py"))
    import nuke_plugin.gizmo as gizmo
    import nuke_plugin.panel as panel

    model = os.path.join(work, "model")
    os.makedirs(model)
    with open(os.path.join(model, "config.json"), "w") as stream:
        stream.write("{}")
    read = nuke.nodes.Read(file=os.path.join(work, "plate.####.exr"), name="Plate")
    node = nuke.createNode("LatentSwap")
    node.setInput(0, read)
    node["model"].user_set(model)
    node["faces"].user_set("0,2")
    assert node["status"].value() == "not precomputed: press Precompute", node["status"].value()
    assert node["cache_state"].value() == "not precomputed"
    folder = gizmo.keyed_cache_folder(node)
    assert os.path.dirname(folder) == os.path.join(work, "latentswap_cache", "LatentSwap1"), folder
    args = gizmo.swap_arguments(node, "plate.####.exr", 1001, 1004)
    assert args[:4] == ["swap", "plate.####.exr", "--model", model], args
    assert [args[at + 1] for at, value in enumerate(args) if value == "--track-id"] == ["0", "2"], args
    assert args[args.index("-o") + 1] == os.path.join(folder, gizmo.CACHE_PATTERN)

    write = nuke.nodes.Write(file=os.path.join(work, "comp.####.exr"), name="Write1")
    write.setInput(0, node)
    try:
        nuke.execute(write, 1001, 1004)
    except RuntimeError as error:
        assert "the precomputed frame 1001 is missing" in str(error), error
    else:
        raise AssertionError("the render guard let a frame without a precomputed face through")

    window = panel.make_panel()
    for knob, value in ((window.src, model), (window.dst, "/shots/sh010/plate.####.exr"),
                        (window.workdir, os.path.join(work, "work")), (window.consent, "REF-7")):
        knob.setValue(value)
    steps = window.plan()
    assert steps and steps[0][0] == "extract", steps


if __name__ == "__main__":
    main()
