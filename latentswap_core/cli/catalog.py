"""``latentswap colorspaces`` and ``latentswap models``: what this installation can use."""

from __future__ import annotations

import argparse

from latentswap_core import color, pretrained_search
from latentswap_core.cli.arguments import add_ocio_config


def add_commands(commands: argparse._SubParsersAction) -> None:
    spaces = commands.add_parser("colorspaces", help="list the colourspaces of the OCIO config in use",
                                 description="List the colourspaces of the OpenColorIO config in use.")
    add_ocio_config(spaces)
    spaces.set_defaults(run=list_colorspaces)
    models = commands.add_parser("models", help="show the model search path and the models found on it",
                                 description="Show where pretrained weights are searched and what was found.")
    models.set_defaults(run=list_models)


def list_colorspaces(args: argparse.Namespace) -> int:
    print(f"# {color.config_name(args.ocio_config)}")
    print(f"# defaults: float plates {color.DEFAULT_FLOAT_SPACE!r}, 8/16-bit images {color.DEFAULT_INTEGER_SPACE!r}; "
          f"model working space {color.WORKING_SPACE!r}")
    for name in color.colorspace_names(args.ocio_config):
        print(name)
    return 0


def list_models(args: argparse.Namespace) -> int:
    print(f"search path (${pretrained_search.ENV_VAR}, then the user cache folder, then the weights that come with "
          "the install):")
    for root in pretrained_search.search_path():
        print(f"  {root}{'' if root.is_dir() else '  (missing)'}")
    found = pretrained_search.available_models()
    print("models:" if found else "models: none found")
    for name, folder in found:
        print(f"  {name:<16} {folder}")
    return 0
