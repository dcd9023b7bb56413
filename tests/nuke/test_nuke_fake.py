"""The fake ``nuke`` the plugin's tests run against (tests/nuke/fake_nuke): as strict as Nuke where it matters."""

from __future__ import annotations

import pytest


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
