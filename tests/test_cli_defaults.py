"""The command line's defaults are the engine's: every option that sets a field of a stage's options dataclass
defaults to that field's default, so ``latentswap train`` and ``Trainer(TrainOptions(...))`` (the demo, the
benchmarks, a pipeline calling the engine) train the same model, and a default changed in the engine reaches the
command line and its --help."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import pytest

from latentswap_core.cli import build_parser
from latentswap_core.extract import ExtractOptions
from latentswap_core.refine import RefinerApplyOptions, RefinerTrainOptions
from latentswap_core.swap.render import RenderOptions
from latentswap_core.train import TrainOptions
from latentswap_core.train.occlusion_trainer import OcclusionOptions

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
        if default is not None and action.type is not None and isinstance(default, str) and action.default is None:
            default = action.type(default)
        if default != defaults[name] and not (default is None and defaults[name] is None):
            wrong.append(f"{action.option_strings[0] if action.option_strings else action.dest}: command line "
                         f"{default!r}, engine {defaults[name]!r}")
    assert len(compared) >= 4, f"{command} sets almost none of {options.__name__}'s fields: {compared}"
    assert not wrong, wrong
