"""Check a gizmo file the way Nuke will read it, without Nuke: ``python tools/lint_gizmo.py [GIZMO ...]``.

Default: gizmos/*.gizmo. Prints one line per problem and exits 1 if there is any:

- the text: balanced braces, one Gizmo or Group closed by ``end_group``, every node's ``inputs`` (``2+1``) read;
- user knobs: unique names; every PyScript button's body compiles as Python 3.7 (Nuke 13's Python);
- internal nodes: every knob valid for its class (``tools/nuke_script.py``'s tables of Nuke's built-in nodes),
  every channel a Copy/Shuffle/Merge names in a layer Nuke has (built in, or declared with ``add_layer``),
  every ``parent.knob`` an expression names among the gizmo's knobs;
- the plugin: every knob ``nuke_plugin/`` reads from the node (``node["knob"]``) exists in the gizmo.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nuke_script import BUILTIN_LAYERS, build_graph, file_type_of, known_knob, menu_items, parse_script  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CHANNEL_KNOBS = ("from0", "to0", "from1", "to1", "maskChannelInput", "maskChannelMask")
LAYER_KNOBS = ("in", "out", "in1", "in2", "out1", "out2")
CHANNEL_SETS = ("rgb", "rgba", "alpha", "all", "none")
PYTHON_FOR_BUTTONS = (3, 7)
# node["knob"] / node.knob("knob") on the gizmo node (the plugin's name for it is ``node``)
PLUGIN_KNOB_USE = re.compile(r"""\bnode(?:\[|\.knob\()\s*["']([A-Za-z_]\w*)["']""")


def lint(path: Path, plugin: Path | None = REPO / "nuke_plugin") -> list[str]:
    """The problems of the gizmo at ``path`` (and of the plugin's knob names, when ``plugin`` is given)."""
    text = path.read_text(encoding="utf-8")
    try:
        statements = parse_script(text)
        graph = build_graph(statements)
    except (SyntaxError, ValueError, KeyError, IndexError) as error:
        return [f"{path}: cannot be read as Nuke reads it: {error}"]
    problems: list[str] = []
    if graph["group"] is None or not statements or statements[-1].get("command") != "end_group":
        problems.append(f"{path}: no Gizmo/Group closed by end_group")
        return problems
    user = graph["group"]["user_knobs"]
    names = [knob["name"] for knob in user]
    twice = sorted({name for name in names if names.count(name) > 1})
    problems += [f"{path}: user knob {name!r} defined twice" for name in twice]
    for knob in user:
        if knob["type"] == 22:
            try:
                ast.parse(str(knob["options"].get("T", "")), feature_version=PYTHON_FOR_BUTTONS)
            except SyntaxError as error:
                problems.append(f"{path}: button {knob['name']}: not Python {PYTHON_FOR_BUTTONS[0]}."
                                f"{PYTHON_FOR_BUTTONS[1]} ({error.msg})")
    for knob in user:
        if knob["type"] == 41:  # a link knob: T names an internal node's knob
            node_name, _, target = str(knob["options"].get("T", "")).partition(".")
            node = graph["nodes"].get(node_name)
            if node is None or known_knob(node["class"], target) is False:
                problems.append(f"{path}: link knob {knob['name']} points to {node_name}.{target}, which the gizmo "
                                "does not have")
    known = set(names) | {key for key, _ in graph["group"]["knobs"]}
    channels = {channel for layer in (*BUILTIN_LAYERS.values(), *graph["layers"].values()) for channel in layer}
    layers = set(BUILTIN_LAYERS) | set(graph["layers"])
    for node_name, node in graph["nodes"].items():
        where = f"{path}: {node_name} ({node['class']})"
        seen: list[str] = []
        for knob, value in node["knobs"].items():
            if known_knob(node["class"], knob) is False:
                problems.append(f"{where}: no knob named {knob!r} in Nuke")
            items = menu_items(node["class"], knob)
            if items is not None and not str(value).startswith("{") and str(value) not in items:
                problems.append(f"{where}: {knob} {value!r} is not in Nuke's menu ({', '.join(items)})")
            file_type = file_type_of(knob) if node["class"] == "Write" else None
            if file_type is not None and not ("file_type" in seen and str(node["knobs"]["file_type"]) == file_type):
                problems.append(f"{where}: {knob} comes before file_type {file_type}; Nuke has no {knob} until then")
            seen.append(knob)
            for parent_knob in re.findall(r"parent\.(\w+)", str(value)):
                if parent_knob not in known:
                    problems.append(f"{where}: {knob} names parent.{parent_knob}, which the gizmo does not have")
            if knob in CHANNEL_KNOBS and str(value) not in CHANNEL_SETS and str(value) not in channels:
                problems.append(f"{where}: {knob} names channel {value}, which is in no layer Nuke has")
            if knob in LAYER_KNOBS and str(value) not in layers and str(value) not in CHANNEL_SETS:
                problems.append(f"{where}: {knob} names layer {value}, which Nuke does not have (add_layer it)")
    if plugin is not None:
        used = {name for source in sorted(plugin.glob("*.py")) for name in PLUGIN_KNOB_USE.findall(source.read_text())}
        problems += [f"{path}: the plugin reads knob {name!r}, which the gizmo does not have"
                     for name in sorted(used - known - {"name", "disable", "label"})]
    return problems


def main(argv: list[str] | None = None) -> int:
    paths = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)] or sorted((REPO / "gizmos").glob("*.gizmo"))
    problems = [problem for path in paths for problem in lint(path)]
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{len(paths)} gizmo(s) clean: {', '.join(path.name for path in paths)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
