"""The script's colour management as the engine's arguments.

Inside Nuke every pixel is in the script's working space: each Read converts its file from its ``colorspace``
knob. The gizmo reads the engine's cache raw, so the engine must read the plate and write the face in that same
working space, under the same OCIO config: ``--colorspace WORKING [--ocio-config CONFIG]``. The Read shortcut
(the engine reading the Read's files itself) is taken only where the files already hold working-space pixels;
otherwise the gizmo renders its input out first.
"""

import os

import nuke

# Nuke's own colour management (and its nuke-default config) works in "linear": Rec.709 primaries, linear. The
# engine names that space so in its built-in config.
NUKE_DEFAULT_WORKING_SPACE = "Linear Rec.709 (sRGB)"
NUKE_DEFAULT_CONFIG = "nuke-default"
BUILTIN_PREFIX = "fn-nuke_"  # Nuke 14+'s built-in configs: fn-nuke_cg-config-v1.0.0_aces-v1.3_ocio-v2.1, ...
LINEAR_FILE_TYPES = (".exr", ".hdr")  # files whose "default" colourspace is the working space


def _knob_text(node, name, default, evaluated=False):
    knob = node.knob(name)
    if knob is None:
        return default
    return str(knob.evaluate() if evaluated else knob.value()).strip() or default


def script_colour(root=None, environ=None):
    """(OCIO config for the engine or None for its built-in one, the engine's name for the working space,
    Nuke's name for it) of the script."""
    root = root if root is not None else nuke.root()
    environ = os.environ if environ is None else environ
    config_name = _knob_text(root, "OCIO_config", NUKE_DEFAULT_CONFIG)
    working = _knob_text(root, "workingSpaceLUT", "linear")
    ocio_managed = _knob_text(root, "colorManagement", "Nuke") == "OCIO" or bool(environ.get("OCIO"))
    if not ocio_managed or (config_name == NUKE_DEFAULT_CONFIG and not environ.get("OCIO")):
        return None, NUKE_DEFAULT_WORKING_SPACE, working
    if environ.get("OCIO"):  # Nuke itself uses $OCIO over the script's choice
        config = environ["OCIO"]
    elif config_name == "custom":
        config = _knob_text(root, "customOCIOConfigPath", "", evaluated=True)  # $VARS, Tcl
    elif config_name.startswith(BUILTIN_PREFIX):
        config = "ocio://" + config_name[len(BUILTIN_PREFIX):]
    else:  # the configs Nuke ships as files (aces_1.2, ...)
        install = os.path.dirname(str(getattr(nuke, "EXE_PATH", "")))
        config = os.path.join(install, "plugins", "OCIOConfigs", "configs", config_name, "config.ocio")
    return config or None, working, working


def engine_arguments(root=None, environ=None):
    """``--colorspace WORKING [--ocio-config CONFIG]`` for a track or swap of working-space pixels."""
    config, working, _ = script_colour(root, environ)
    return ["--colorspace", working] + (["--ocio-config", config] if config else [])


def read_gives_its_files(read, path, root=None, environ=None):
    """Whether the Read passes its files' pixels on unchanged: raw, or its colourspace is the working space."""
    if read["raw"].value():
        return True
    _, _, working = script_colour(root, environ)
    space = str(read["colorspace"].value()).strip()
    if space.startswith("default (") and space.endswith(")"):
        space = space[len("default ("):-1]
    elif space == "default":
        return path.lower().endswith(LINEAR_FILE_TYPES)
    return space == working or (space == "scene_linear" and working != "linear")


def colour_key(root=None, environ=None):
    """The script's colour management as the cache key sees it: the names the script chose (management, config,
    working space, the custom config's path as written, $OCIO's file name), not the paths they resolve to, which
    differ between a workstation and a farm machine (Nuke's install folder, a remapped share)."""
    root = root if root is not None else nuke.root()
    environ = os.environ if environ is None else environ
    return [_knob_text(root, "colorManagement", "Nuke"), _knob_text(root, "OCIO_config", NUKE_DEFAULT_CONFIG),
            _knob_text(root, "customOCIOConfigPath", ""), _knob_text(root, "workingSpaceLUT", "linear"),
            os.path.basename(environ.get("OCIO", ""))]

