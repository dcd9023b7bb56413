"""The fake ``nuke`` the plugin's tests run against (tests/nuke/fake_nuke): as strict as Nuke where it matters, and
offering nothing Foundry's API lacks."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from conftest import FAKE, REPO


def test_knobs_keep_values_and_per_frame_animation(fake_nuke) -> None:
    node = fake_nuke.nodes.NoOp(name="Holder")
    xy = fake_nuke.XY_Knob("centre", "centre")
    node.addKnob(xy)
    xy.setValue([10, 20])
    assert xy.value() == [10.0, 20.0] and not xy.isAnimated()
    xy.setAnimated()
    xy.setValueAt(5, 1001, 0)
    xy.setValueAt(7, 1002, 0)
    xy.setValueAt(1, 1001, 1)
    assert xy.isAnimated() and xy.valueAt(1002, 0) == 7.0 and xy.valueAt(1001) == [5.0, 1.0]
    enum = fake_nuke.Enumeration_Knob("mode", "mode", ["a", "b"])
    node.addKnob(enum)
    enum.setValue("b")
    assert enum.value() == "b" and enum.getValue() == 1.0
    assert fake_nuke.toNode("Holder") is node and node["centre"] is xy


def test_graph_menus_callbacks_and_records(fake_nuke) -> None:
    read = fake_nuke.nodes.Read(file="/plate.####.exr")
    dot = fake_nuke.nodes.Dot()
    dot.setInput(0, read)
    assert dot.input(0) is read and fake_nuke.allNodes("Read") == [read]
    calls = []
    fake_nuke.addOnCreate(lambda: calls.append(fake_nuke.thisNode().name()), nodeClass="Grade")
    fake_nuke.nodes.Grade(name="G")
    assert calls == ["G"]
    item = fake_nuke.menu("Nodes").addMenu("Tools").addCommand("Go", "x = 1")
    assert fake_nuke.menu("Nodes").findItem("Tools/Go") is item
    fake_nuke.execute(dot, 1, 3)
    assert fake_nuke.executed == [("Dot1", 1, 3, 1)]
    with pytest.raises(RuntimeError):
        fake_nuke.executeInMainThreadWithResult(lambda: None)


def test_script_parser_reads_braces_quotes_and_the_stack(fake_nuke) -> None:
    text = 'Group {\n addUserKnob {7 mix l "Mix value" R 0 1}\n mix 0.5\n}\n Input {\n inputs 0\n name in\n}\n' \
           'set N1 [stack 0]\n Blur {\n size {{parent.mix}}\n name B\n}\npush $N1\n Merge2 {\n inputs 2\n name M\n}\n' \
           ' Output {\n name Out\n}\nend_group\n'
    graph = fake_nuke.build_graph(fake_nuke.parse_script(text))
    assert graph["group"]["user_knobs"][0] == {"type": 7, "name": "mix", "options": {"l": "Mix value", "R": ["0", "1"]},
                                               "flags": []}
    assert graph["nodes"]["B"]["knobs"]["size"] == "{parent.mix}"
    assert graph["nodes"]["M"]["inputs"] == ["in", "B"] and graph["nodes"]["Out"]["inputs"] == ["M"]


# ---------------------------------------------------------------------------------------------- fidelity
def _stub_classes(files: list[Path]) -> tuple[dict[str, set[str]], dict[str, list[str]]]:
    """{class: names of the methods it defines} and {class: its bases} from .py or .pyi files."""
    members: dict[str, set[str]] = {}
    bases: dict[str, list[str]] = {}
    for path in files:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                members.setdefault(node.name, set()).update(
                    item.name for item in node.body if isinstance(item, ast.FunctionDef))
                bases.setdefault(node.name, []).extend(ast.unparse(base).split(".")[-1] for base in node.bases)
    return members, bases


def _attributes(path: Path) -> dict[str, set[str]]:
    """{class: the attributes it sets} (``self.x = ...`` in its methods, ``x = ...`` in its body) in a .py file."""
    found: dict[str, set[str]] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ClassDef):
            names = found.setdefault(node.name, set())
            for item in node.body:
                targets = item.targets if isinstance(item, ast.Assign) else \
                    [item.target] if isinstance(item, ast.AnnAssign) else []
                names.update(target.id for target in targets if isinstance(target, ast.Name))
            for item in ast.walk(node):
                targets = item.targets if isinstance(item, ast.Assign) else \
                    [item.target] if isinstance(item, (ast.AnnAssign, ast.AugAssign)) else []
                names.update(target.attr for target in targets if isinstance(target, ast.Attribute)
                             and isinstance(target.value, ast.Name) and target.value.id == "self")
    return found


def _with_inherited(name: str, members: dict[str, set[str]], bases: dict[str, list[str]]) -> set[str]:
    found = set(members.get(name, ()))
    for base in bases.get(name, []):
        found |= _with_inherited(base, members, bases)
    return found


def _methods_nuke_lacks(fake: Path, reference: list[Path], allowed: tuple[str, ...],
                        state: tuple[str, ...] = ()) -> list[str]:
    """``Class.name`` for each public method a class of the fake module ``fake`` has (its own or inherited in the
    fake) that the class of that name in ``reference`` does not (its own or inherited there), and for each public
    attribute it sets that is not in ``state`` or has the name of one of Nuke's methods (``knob.visible`` a bool
    where Nuke's is a method: true whatever the knob)."""
    real, real_bases = _stub_classes(reference)
    ours, our_bases = _stub_classes([fake])
    attributes = _attributes(fake)
    lacking = []
    for name in (name for name in ours if not name.startswith("_")):  # the fake's own helpers
        nuke_has = _with_inherited(name, real, real_bases)
        lacking += [f"{name}.{method}" for method in _with_inherited(name, ours, our_bases) - nuke_has
                    if not method.startswith("_") and method not in allowed]
        lacking += [f"{name}.{attribute}" for attribute in attributes.get(name, ())
                    if not attribute.startswith("_") and (attribute not in state or attribute in nuke_has)]
    return sorted(lacking)


def _nuke_stubs() -> list[Path]:
    found = [Path(folder) / "nuke-stubs" for folder in sys.path if (Path(folder) / "nuke-stubs").is_dir()]
    assert found, "types-nuke is not installed: make install"
    return sorted(found[0].rglob("*.pyi"))


def test_the_fake_offers_no_method_nuke_lacks(fake_nuke) -> None:
    """A plugin call the fake answers and Nuke does not would pass every test and fail in Nuke: mypy cannot see it
    where the plugin holds a node or knob untyped. So each class of the fake has only the methods Foundry's API
    gives the class of that name (types-nuke's stubs; for nukescripts, typings/nukescripts.pyi), and the test
    controls, which the plugin never calls."""
    import nukescripts

    assert _methods_nuke_lacks(FAKE / "nuke.py", _nuke_stubs(), fake_nuke.TEST_CONTROLS, fake_nuke.TEST_STATE) == []
    assert _methods_nuke_lacks(FAKE / "nukescripts.py", [REPO / "typings" / "nukescripts.pyi"], (),
                               nukescripts.TEST_STATE) == []


def test_the_fidelity_check_sees_a_method_nuke_lacks(tmp_path: Path) -> None:
    fake = tmp_path / "nuke.py"
    fake.write_text("class Knob:\n    def value(self): ...\n    def evaluate(self): ...\n"
                    "    def user_set(self): ...\n\n"
                    "class String_Knob(Knob):\n    def getText(self): ...\n\n"
                    "class Node:\n    def node(self, name): ...\n\n"
                    "class Array_Knob(Knob):\n    width = 2\n\n"
                    "class ProgressTask:\n    def __init__(self):\n        self.messages = []\n"
                    "        self.shown = False\n", encoding="utf-8")
    assert _methods_nuke_lacks(fake, _nuke_stubs(), ("user_set",), ("messages",)) == [
        "Array_Knob.evaluate", "Array_Knob.width", "Knob.evaluate", "Node.node", "ProgressTask.shown",
        "String_Knob.evaluate"]


def test_the_plugin_never_calls_a_test_control(fake_nuke) -> None:
    """Nor do the gizmos' buttons (their Python, as Nuke runs it)."""
    sources = {path.name: path.read_text("utf-8")
               for path in [*sorted((REPO / "nuke_plugin").glob("*.py")), REPO / "init.py", REPO / "menu.py"]}
    for gizmo in sorted((REPO / "gizmos").glob("*.gizmo")):
        graph = fake_nuke.script_graph(fake_nuke.parse_script(gizmo.read_text("utf-8")))
        buttons = [knob for knob in graph["group"]["user_knobs"] if knob["type"] == 22]
        assert buttons, gizmo
        sources.update({f"{gizmo.name} {knob['name']}": str(knob["options"]["T"]) for knob in buttons})
    calls = {(name, node.attr) for name, text in sources.items() for node in ast.walk(ast.parse(text))
             if isinstance(node, ast.Attribute) and node.attr in fake_nuke.TEST_CONTROLS}
    assert not calls
