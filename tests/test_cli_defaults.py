"""The command line's defaults are the engine's: every option of these commands that sets a field of a stage's
options dataclass defaults to that field's default, so ``latentswap train`` and ``Trainer(TrainOptions(...))``
(the demo, the benchmarks, a pipeline calling the engine) train the same model, and a default changed in the
engine reaches the command line and its --help."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from latentswap_core.cli import build_parser
from latentswap_core.cli.arguments import face_selection, options_from
from latentswap_core.cli.refine import refiner_options
from latentswap_core.cli.swap import refine_options, render_options
from latentswap_core.cli.train_mask import mask_options
from latentswap_core.errors import ModelError
from latentswap_core.extract import ExtractOptions
from latentswap_core.refine import RefinerApplyOptions, RefinerTrainOptions
from latentswap_core.swap.render import RenderOptions
from latentswap_core.train import TrainOptions
from latentswap_core.train.options import OcclusionOptions

# command, options dataclass, the prefix its fields take on the command line, and fields the command line sets on
# purpose otherwise (each with why)
COMMANDS: list[tuple[str, type, str, dict[str, str]]] = [
    ("train", TrainOptions, "", {}),
    ("swap", RenderOptions, "", {"blend_device": "auto: torch on a GPU, the host's numpy on the CPU",
                                 "faces": "the old --faces IDS; the selection is --track-id and --person"}),
    ("swap", RefinerApplyOptions, "refine_", {}),
    ("train-mask", OcclusionOptions, "", {}),
    ("train-refiner", RefinerTrainOptions, "", {}),
    ("extract", ExtractOptions, "", {}),
]


def subcommand(name: str) -> argparse.ArgumentParser:
    commands = next(action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction))
    return commands.choices[name]


def field_default(field: dataclasses.Field) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


@pytest.mark.parametrize(("command", "options", "prefix", "differs"), COMMANDS,
                         ids=[f"{command}-{options.__name__}" for command, options, _, _ in COMMANDS])
def test_every_option_defaults_to_the_engines_default(command: str, options: type, prefix: str,
                                                      differs: dict[str, str]) -> None:
    parser = subcommand(command)
    defaults = {field.name: field_default(field) for field in dataclasses.fields(options)
                if field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING}
    compared, wrong = [], []
    for action in parser._actions:
        name = action.dest.removeprefix(prefix) if action.dest.startswith(prefix) else None
        if name not in defaults or name in differs or action.default is argparse.SUPPRESS:
            continue
        compared.append(name)
        default = parser.get_default(action.dest)
        if isinstance(default, str) and action.type is not None:
            default = action.type(default)  # argparse parses a string default as it parses the option
        if default != defaults[name]:
            wrong.append(f"{action.option_strings[0] if action.option_strings else action.dest}: command line "
                         f"{default!r}, engine {defaults[name]!r}")
    assert len(compared) >= 4, f"{command} sets almost none of {options.__name__}'s fields: {compared}"
    assert not wrong, wrong


def test_a_bare_command_line_makes_the_options_the_engine_makes_by_default() -> None:
    """What ``options_from`` passes on, parsed values and all (train-refiner and train-mask as their commands call it):
    a field taken from an argument of the same name but another meaning or type would make options unequal to the
    engine's."""
    parse = build_parser().parse_args
    train = parse(["train", "--src", "a", "--dst", "b", "-o", "model", "--steps", "10"])
    assert options_from(train, TrainOptions) == TrainOptions(src="a", dst="b", output="model", steps=10)
    swap = parse(["swap", "plate.####.exr", "--model", "model", "-o", "swap.####.exr", "--device", "cpu"])
    assert render_options(swap) == RenderOptions()
    extract = parse(["extract", "plate.####.exr", "-o", "faceset"])
    assert options_from(extract, ExtractOptions, faces=face_selection(extract)) == ExtractOptions()
    changed = parse(["swap", "plate.####.exr", "--model", "model", "-o", "swap.####.exr", "--device", "cpu",
                     "--mix", "0.5", "--mask-erode", "3", "--compression", "dwaa:45", "--bridge", "0"])
    assert render_options(changed) == RenderOptions(mix=0.5, mask_erode=3.0, compression="dwaa:45", bridge=0)
    assert refine_options(swap) == RefinerApplyOptions()
    refined = parse(["swap", "plate.####.exr", "--model", "model", "-o", "swap.####.exr", "--refine", "r",
                     "--refine-steps", "8", "--refine-sampler", "dpm-solver", "--refine-guidance", "2"])
    assert refine_options(refined) == RefinerApplyOptions(
        steps=8, sampler="dpm-solver", guidance=2.0)
    refiner = parse(["train-refiner", "--faceset", "actor", "-o", "refiner", "--steps", "5", "--model", "m",
                     "--swaps", "a", "b"])
    assert refiner_options(refiner) == RefinerTrainOptions(faceset="actor", output="refiner", steps=5, model="m",
                                                           swaps=("a", "b"))
    mask = parse(["train-mask", "plate.mp4", "--mattes", "occ.####.png", "--track", "t.json", "-o", "mask",
                  "--steps", "5"])
    assert mask_options(mask) == OcclusionOptions(output=Path("mask"), steps=5)


def test_the_occlusion_models_framing_is_an_option_the_command_line_passes_on(capsys) -> None:
    """``train-mask --face-type`` is ``OcclusionOptions.face_type``: the crops it cuts and the model card it writes
    read it from the options, a framing no swap model has is refused when the options are made, and the command
    line offers the engine's list."""
    parse = build_parser().parse_args
    mask = parse(["train-mask", "plate.mp4", "--mattes", "occ.####.png", "--track", "t.json", "-o", "mask",
                  "--steps", "5", "--face-type", "head"])
    assert mask_options(mask) == OcclusionOptions(output=Path("mask"), steps=5, face_type="head")
    with pytest.raises(ModelError, match="unknown face type 'chin'; use one of face, whole_face, head"):
        OcclusionOptions(output=Path("mask"), steps=5, face_type="chin")
    with pytest.raises(SystemExit):
        parse(["train-mask", "plate.mp4", "--mattes", "m.####.png", "--track", "t.json", "-o", "m", "--face-type",
               "chin"])
    assert "invalid choice: 'chin'" in capsys.readouterr().err


def test_building_the_command_line_loads_no_torch() -> None:
    """The parser reads the defaults from the options modules before any command runs: none of them may load
    torch (1-2 s of every ``latentswap`` call, --help and the Nuke plugin's queries included), nor scipy (0.3 s;
    only Poisson blending and face association use it)."""
    code = ("import sys; from latentswap_core.cli import build_parser; build_parser(); "
            "print(sorted(name for name in ('torch', 'diffusers', 'mediapipe', 'scipy') if name in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
