"""gizmos/LatentSwap.gizmo read as text: the knobs docs/nuke_plugin.md lists, the internal graph, the links."""

from __future__ import annotations

import dataclasses
import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

GIZMO = REPO / "gizmos" / "LatentSwap.gizmo"
# knob -> addUserKnob type id (NUKE_NOTES.md): the "LatentSwap" tab of docs/nuke_plugin.md.
KNOBS = {"model": 2, "engine": 2, "faces": 1, "track": 22, "precompute": 22, "first_frame": 3, "last_frame": 3,
         "cache_dir": 2, "cache_folder": 1, "cache_state": 1, "color_transfer": 4, "blend": 4, "refiner": 2,
         "refine_strength": 7, "refine_steps": 3, "mask_erode": 7, "mask_blur": 7, "mix": 7, "view": 4,
         "face_gain": 41, "face_gamma": 41, "face_offset": 41, "face_sharpen": 7, "face_soften": 7, "grain": 7,
         "status": 26, "precision": 4}


@pytest.fixture
def gizmo(fake_nuke):  # noqa: F811
    statements = fake_nuke.parse_script(GIZMO.read_text())
    return statements, fake_nuke.build_graph(statements)


def test_the_text_is_one_gizmo_closed_by_end_group(gizmo) -> None:
    statements, graph = gizmo
    assert GIZMO.read_text().count("{") == GIZMO.read_text().count("}")
    assert graph["group"]["class"] == "Gizmo"
    assert statements[-1] == {"command": "end_group", "args": []}


def test_every_documented_knob_exists_with_its_type(gizmo) -> None:
    _, graph = gizmo
    user = {knob["name"]: knob for knob in graph["group"]["user_knobs"]}
    assert {name: user[name]["type"] for name in KNOBS if name in user} == KNOBS
    tabs = [knob["name"] for knob in graph["group"]["user_knobs"] if knob["type"] == 20]
    assert tabs == ["LatentSwap", "Faces"]
    # the plugin cannot import the engine: its menus are compared with the engine's own lists here
    from latentswap_core.blend.color_transfer import MODES
    from latentswap_core.blend.compose import BLENDS
    from latentswap_core.codecs.names import CODEC_NAMES
    from latentswap_core.refine.options import RefinerApplyOptions
    from latentswap_core.swap.precision import DEFAULT_PRECISION, PRECISIONS
    from latentswap_core.swap.render import RenderOptions
    from latentswap_core.train.options import TrainOptions
    from nuke_plugin import gizmo as gizmo_module
    from nuke_plugin.panel import CODECS, DEFAULT_RESOLUTION, RESOLUTIONS

    assert user["color_transfer"]["options"]["M"].split() == list(MODES)
    assert user["blend"]["options"]["M"].split() == list(BLENDS)
    assert user["precision"]["options"]["M"].split() == list(PRECISIONS)
    assert sorted(CODECS) == sorted(CODEC_NAMES)
    train = {field.name: field.default for field in dataclasses.fields(TrainOptions)}
    assert CODECS[0] == train["codec"] and DEFAULT_RESOLUTION == str(train["resolution"]) in RESOLUTIONS
    assert user["view"]["options"]["M"].split() == ["comp", "face", "mask", "original"]
    assert user["mix"]["options"]["R"] == ["0", "1"]
    values = dict(graph["group"]["knobs"])
    assert values["label"] == r"\[value cache_state]"  # the cache's state on the node in the Node Graph
    # the knobs' defaults are the engine's (a knob at Nuke's own default, 0 or the menu's first item, is not written)
    render, refine = RenderOptions(), RefinerApplyOptions()
    assert values["color_transfer"] == render.color_transfer and values["blend"] == render.blend
    assert float(values["mix"]) == render.mix and values["view"] == "comp" and "refiner" not in values
    assert float(values.get("mask_erode", 0)) == render.mask_erode
    assert float(values.get("mask_blur", 0)) == render.mask_blur
    assert float(values["refine_strength"]) == refine.strength and int(values["refine_steps"]) == refine.steps
    assert values.get("precision", PRECISIONS[0]) == DEFAULT_PRECISION == gizmo_module.DEFAULT_PRECISION


def test_internal_graph_runs_from_the_cache_read_to_the_output(gizmo) -> None:
    _, graph = gizmo
    nodes = graph["nodes"]

    def source(name: str, index: int = 0) -> str:
        return nodes[name]["inputs"][index]

    inputs = {name: int(node["knobs"].get("number", 0)) for name, node in nodes.items() if node["class"] == "Input"}
    assert inputs == {"plate": 0, "holdout": 1}
    read = nodes["CacheRead"]["knobs"]
    # Precompute's keyed folder (cache_dir/<settings key>), which the plugin sets on the hidden cache_folder
    assert read["file"] == r"\[value parent.cache_folder]/swap.####.exr" and nodes["CacheRead"]["class"] == "Read"
    # outside the precomputed range no face: not the first or last face held over a moving plate
    assert read["before"] == "black" and read["after"] == "black"
    assert nodes["ShuffleFace"]["knobs"]["in"] == "face" and source("ShuffleFace") == "CacheRead"
    # Nuke's built-in "mask" layer takes no new channels: the blend alpha is the face layer's own alpha.
    assert nodes["MaskChannel"]["class"] == "Copy" and nodes["MaskChannel"]["knobs"]["from0"] == "face.alpha"
    assert source("MaskChannel") == "CacheRead"
    assert source("MaskErode") == "MaskChannel" and source("MaskBlur") == "MaskErode"
    assert nodes["MaskErode"]["class"] == "FilterErode" and nodes["MaskBlur"]["class"] == "Blur"
    # the face's colour is carried past its edge before the mask is grown or blurred (no dark halo where alpha
    # reaches pixels whose premultiplied colour is 0): the premultiplied face over its own blurred, unpremultiplied
    # smear, which must reach beyond the widest grow plus blur
    assert nodes["FaceSmear"]["class"] == "Blur" and source("FaceSmear") == "ShuffleFace"
    assert nodes["FaceSmear"]["knobs"]["channels"] == "rgba"
    assert nodes["FaceSmear"]["knobs"]["size"] == "{max(20,2*abs(parent.mask_erode)+parent.mask_blur)}"
    assert nodes["FaceSmearUnpremult"]["class"] == "Unpremult" and source("FaceSmearUnpremult") == "FaceSmear"
    assert nodes["FaceExtend"]["class"] == "Merge2" and nodes["FaceExtend"]["knobs"]["operation"] == "over"
    assert nodes["FaceExtend"]["inputs"] == ["FaceSmearUnpremult", "ShuffleFace"]  # B: the smear, A: the face
    assert source("FaceSharpen") == "FaceExtend" and source("FaceSoften") == "FaceSharpen"
    assert source("FaceGrade") == "FaceSoften"
    # the plate's grain the face lacks (the engine's lsgrain layer), added to the face's colour by the grain knob
    # before the alpha is applied
    assert nodes["ShuffleGrain"]["knobs"]["in"] == "lsgrain" and source("ShuffleGrain") == "CacheRead"
    assert nodes["GrainAmount"]["class"] == "Multiply" and source("GrainAmount") == "ShuffleGrain"
    assert nodes["GrainAmount"]["knobs"]["value"] == "{parent.grain}"
    assert nodes["AddGrain"]["knobs"]["operation"] == "plus" and nodes["AddGrain"]["knobs"]["output"] == "rgb"
    assert nodes["AddGrain"]["inputs"] == ["FaceGrade", "GrainAmount"]  # B: the face, A: the grain
    assert nodes["FaceSharpen"]["class"] == "Sharpen" and nodes["FaceSoften"]["class"] == "Blur"
    assert nodes["FaceSharpen"]["knobs"]["amount"] == "{parent.face_sharpen}"
    assert nodes["FaceSoften"]["knobs"]["size"] == "{parent.face_soften}"
    assert nodes["CopyMask"]["inputs"] == ["AddGrain", "MaskBlur"] and source("FacePremult") == "CopyMask"
    assert nodes["FaceMerge"]["class"] == "Merge2" and nodes["FaceMerge"]["knobs"]["operation"] == "over"
    assert nodes["FaceMerge"]["inputs"] == ["plate", "FacePremult", "holdout"]  # B, A, mask
    assert nodes["FaceMerge"]["knobs"]["inputs"] == "2+1"  # as Nuke writes a Merge with its mask input
    # the mask input is a holdout matte, as `swap --holdout`: the plate stays where it is white (a microphone);
    # with nothing connected it is black, which inverted swaps everywhere
    assert nodes["FaceMerge"]["knobs"]["invert_mask"] == "true"
    # the plate keeps its own alpha (or none); the face's alpha only when the face_alpha knob asks for it
    assert nodes["FaceMerge"]["knobs"]["output"] == "rgb"
    alpha = nodes["FaceAlphaMerge"]
    assert alpha["inputs"] == ["FaceMerge", "FacePremult", "holdout"] and alpha["knobs"]["output"] == "alpha"
    assert alpha["knobs"]["disable"] == "{!parent.face_alpha}"
    assert nodes["ViewSwitch"]["inputs"] == ["FaceAlphaMerge", "FacePremult", "MaskBlur", "plate"]  # the view's order
    assert [name for name, node in nodes.items() if node["class"] == "Output"] == ["Output1"]
    assert source("Output1") == "ViewSwitch"
    raw = nodes["RawWrite"]["knobs"]
    assert source("RawWrite") == "plate" and raw["file_type"] == "exr" and raw["datatype"] == "16 bit half"
    assert raw["raw"] == "true" and raw["channels"] == "all" and raw["disable"] == "true"


def test_knob_expressions_link_the_internals_to_the_gizmo(gizmo) -> None:
    _, graph = gizmo
    knobs = {name: node["knobs"] for name, node in graph["nodes"].items()}
    assert knobs["MaskErode"]["size"] == "{parent.mask_erode}"
    assert knobs["MaskBlur"]["size"] == "{parent.mask_blur}"
    assert knobs["FaceMerge"]["mix"] == "{parent.mix}"
    assert knobs["ViewSwitch"]["which"] == "{parent.view}"
    assert knobs["CacheRead"]["first"] == "{parent.first_frame}" and knobs["CacheRead"]["last"] == "{parent.last_frame}"
    user = {knob["name"] for knob in graph["group"]["user_knobs"]}
    for node in knobs.values():
        for value in node.values():
            for name in re.findall(r"parent\.(\w+)", str(value)):
                assert name in user, f"{value} names a knob the gizmo does not have"


def test_buttons_are_one_line_calls_of_existing_functions(gizmo, fake_nuke) -> None:  # noqa: F811
    _, graph = gizmo
    buttons = [knob for knob in graph["group"]["user_knobs"] if knob["type"] == 22]
    assert {button["name"] for button in buttons} == {"track", "precompute"}
    for button in buttons:
        code = button["options"]["T"]
        assert "\n" not in code
        match = re.fullmatch(r"import (nuke_plugin\.\w+) as g; g\.(\w+)\(nuke\.thisNode\(\)\)", code)
        assert match, code
        assert callable(getattr(importlib.import_module(match.group(1)), match.group(2)))


def test_every_channel_the_internals_name_exists_in_nuke(gizmo, fake_nuke) -> None:  # noqa: F811
    _, graph = gizmo  # building the graph ran the gizmo's add_layer lines
    assert fake_nuke.layers["face"] == ("face.red", "face.green", "face.blue", "face.alpha")
    for name, node in graph["nodes"].items():
        for knob in ("from0", "to0", "maskChannelInput"):
            channel = node["knobs"].get(knob)
            if channel:
                assert fake_nuke.channel_exists(channel), f"{name}.{knob} names {channel}, which Nuke does not have"
    with pytest.raises(ValueError, match="built-in layers"):
        fake_nuke.add_layer(["mask", "mask.Y"])
