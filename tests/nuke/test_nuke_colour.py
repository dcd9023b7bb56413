"""The script's colour management reaches the engine (nuke_plugin/colour.py): the working space and OCIO config
Nuke uses, and the Read shortcut only where the Read passes its files' pixels on unchanged."""

from __future__ import annotations

import pytest


def set_root(nuke, **knobs) -> None:
    for name, value in knobs.items():
        nuke.root()[name].setValue(value)


def test_nukes_own_colour_management_is_linear_rec709_in_the_engines_config(fake_nuke) -> None:  # noqa: F811
    from nuke_plugin import colour

    assert colour.engine_arguments(environ={}) == ["--colorspace", "Linear Rec.709 (sRGB)"]
    set_root(fake_nuke, colorManagement="OCIO")  # OCIO mode on the nuke-default config: the same
    assert colour.engine_arguments(environ={}) == ["--colorspace", "Linear Rec.709 (sRGB)"]


@pytest.mark.parametrize("config_name, expected", [
    ("custom", "/studio/ocio/config.ocio"),
    ("fn-nuke_cg-config-v1.0.0_aces-v1.3_ocio-v2.1", "ocio://cg-config-v1.0.0_aces-v1.3_ocio-v2.1"),
    ("aces_1.2", "/usr/local/Nuke15.0v1/plugins/OCIOConfigs/configs/aces_1.2/config.ocio"),
])
def test_an_ocio_script_passes_its_config_and_working_space(fake_nuke, config_name, expected) -> None:  # noqa: F811
    from nuke_plugin import colour

    set_root(fake_nuke, colorManagement="OCIO", OCIO_config=config_name,
             customOCIOConfigPath="/studio/ocio/config.ocio", workingSpaceLUT="ACEScg")
    assert colour.engine_arguments(environ={}) == ["--colorspace", "ACEScg", "--ocio-config", expected]


def test_the_ocio_variable_wins_as_it_does_in_nuke(fake_nuke) -> None:  # noqa: F811
    from nuke_plugin import colour

    set_root(fake_nuke, workingSpaceLUT="scene_linear")
    assert colour.engine_arguments(environ={"OCIO": "/show/config.ocio"}) == [
        "--colorspace", "scene_linear", "--ocio-config", "/show/config.ocio"]


@pytest.mark.parametrize("path, raw, space, shortcut", [
    ("/plates/a.####.exr", False, "default", True),  # an EXR's default is the working space
    ("/plates/a.####.exr", False, "linear", True),
    ("/plates/a.####.exr", True, "sRGB", True),  # raw: the file's pixels as they are
    ("/plates/a.####.jpg", False, "default", False),  # 8-bit files default to sRGB: not the working space
    ("/plates/a.####.dpx", False, "Cineon", False),
    ("/plates/a.####.exr", False, "default (linear)", True),
    ("/plates/a.####.exr", False, "ACES2065-1", False),
])
def test_the_read_shortcut_only_for_working_space_pixels(fake_nuke, path, raw, space, shortcut) -> None:  # noqa: F811
    from nuke_plugin import colour

    read = fake_nuke.nodes.Read(file=path, raw=raw, colorspace=space)
    assert colour.read_gives_its_files(read, path, environ={}) is shortcut
