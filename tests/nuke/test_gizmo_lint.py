"""tools/lint_gizmo.py: the shipped gizmo is clean, and each kind of mistake a real Nuke would reject is found."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
import lint_gizmo  # noqa: E402

GIZMO = REPO / "gizmos" / "LatentSwap.gizmo"


def test_the_shipped_gizmo_is_clean() -> None:
    assert lint_gizmo.lint(GIZMO) == []
    assert lint_gizmo.main([str(GIZMO)]) == 0


@pytest.mark.parametrize(("change", "found"), [
    (("  operation over\n", "  operaton over\n"), "no knob named 'operaton'"),
    (("add_layer {face face.red face.green face.blue face.alpha}\n", ""), "names channel face.alpha"),
    (("  from0 face.alpha\n", "  from0 mask.Y\n"), "names channel mask.Y"),
    (("  in face\n", "  in faces\n"), "names layer faces"),
    (("g.track(nuke.thisNode())", "g.track(node := nuke.thisNode())"), "not Python 3.7"),
    (("  mix {{parent.mix}}\n  name FaceMerge\n", "  mix {{parent.mixx}}\n  name FaceMerge\n"), "parent.mixx"),
    ((" addUserKnob {7 mix l \"mix\" R 0 1}\n", " addUserKnob {7 mix l \"mix\" R 0 1}\n addUserKnob {7 mix}\n"),
     "'mix' defined twice"),
    (("T FaceGrade.multiply}", "T FaceGrade.multipy}"), "points to FaceGrade.multipy"),
    (("T FaceGrade.gamma}", "T Grade1.gamma}"), "points to Grade1.gamma"),
    (("end_group", ""), "end_group"),
    (("  inputs 2+1\n", "  inputs 2+x\n"), "cannot be read"),
    (("  before black\n", "  before blak\n"), "before 'blak' is not in Nuke's menu"),
    (("  datatype \"16 bit half\"\n", "  datatype \"16-bit half\"\n"), "datatype '16-bit half' is not in Nuke's menu"),
    (("  file_type exr\n  datatype \"16 bit half\"\n", "  datatype \"16 bit half\"\n  file_type exr\n"),
     "datatype comes before file_type exr"),
])
def test_each_mistake_is_found(tmp_path: Path, change: tuple[str, str], found: str) -> None:
    text = GIZMO.read_text()
    assert change[0] in text, change[0]
    broken = tmp_path / "LatentSwap.gizmo"
    broken.write_text(text.replace(change[0], change[1], 1))
    problems = lint_gizmo.lint(broken)
    assert any(found in problem for problem in problems), problems


def test_a_knob_the_plugin_reads_must_exist(tmp_path: Path) -> None:
    plugin = tmp_path / "nuke_plugin"
    plugin.mkdir()
    (plugin / "gizmo.py").write_text('def f(node):\n    return node["cache_dir"].value(), '
                                     'node["cache_fodler"].value()\n')
    assert lint_gizmo.lint(GIZMO, plugin) == [f"{GIZMO}: the plugin reads knob 'cache_fodler', which the gizmo does "
                                               "not have"]
