"""A fake ``nuke`` module for the tests of the Nuke plugin: never shipped, never imported by the product.

It records what the plugin asks of Nuke (nodes and knobs with per-frame animation, callbacks, menus,
plugin paths, messages, progress tasks, renders) so tests can assert on it. ``reset()`` clears it;
the ``fake_nuke`` fixture in ``tests/nuke/conftest.py`` installs it per test. ``createNode`` of a
class with a ``.gizmo`` file on the plugin path builds the gizmo from its text (``parse_script``).
"""

from __future__ import annotations

import os
import queue
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))
from nuke_script import (  # noqa: E402, F401  (the script parser the gizmo linter shares; tests use all of it)
    BUILTIN_LAYERS,
    FILE_TYPE_KNOBS,
    NODE_KNOBS,
    NODE_MENUS,
    Braced,
    check_layer,
    file_type_of,
    input_count,
    known_knob,
    parse_script,
    parse_user_knob,
)
from nuke_script import build_graph as script_graph  # noqa: E402
from nuke_script import tokens as _tokens  # noqa: E402

# The methods tests call in a user's place or to read the fake's state. No Nuke object has them, and the plugin
# must never call them: tests/nuke/test_nuke_fake.py holds every other method of the fake's classes to Foundry's API.
TEST_CONTROLS = ("user_set", "user_set_at", "user_cancel", "key_frames")
# What a ProgressTask records for the tests to read (Nuke's has none of it; the rest of the fake's state is private)
TEST_STATE = ("title", "messages", "progress", "cancelled", "closed", "cancel_after_progress")

NUKE_VERSION_MAJOR = 15
NUKE_VERSION_MINOR = 0
NUKE_VERSION_STRING = "15.0v1"
EXE_PATH = "/usr/local/Nuke15.0v1/Nuke15.0"
GUI = False
env: dict[str, Any] = {"gui": False, "NukeVersionMajor": 15}

STARTLINE = 0x1000
ENDLINE = 0x2000
INVISIBLE = 0x400
DISABLED = 0x80
NO_ANIMATION = 0x100
READ_ONLY = 0x10000000

# ---------------------------------------------------------------------------------------------- records
created: list[Node] = []
callbacks: dict[str, list[tuple]] = {}
menus: dict[str, Menu] = {}
plugin_paths: list[str] = []
messages: list[str] = []
main_thread_calls: list[tuple] = []
progress_tasks: list[ProgressTask] = []
executed: list[tuple] = []
rendered_frames: list[tuple[str, int]] = []  # (node, frame) for each frame execute() got through
opened_scripts: list[str] = []
execute_hook: Callable[..., None] | None = None  # called as execute_hook(node, first, last) by execute()
script_open_hook: Callable[[str], None] | None = None  # builds the nodes of an opened script
_context: list[tuple] = []
_main_queue: queue.Queue = queue.Queue()
_pane_context: list[str] = []  # the pane a Pane-menu command runs in; empty: no pane context (e.g. a toolbar)
_group_stack: list[Group] = []
_root: Root | None = None
_frame = [1]


def reset() -> None:
    """Forget every node, callback, menu and record; terminal mode."""
    global GUI, _root, execute_hook, script_open_hook
    GUI = False
    env["gui"] = False
    for store in (created, plugin_paths, messages, main_thread_calls, progress_tasks, executed, rendered_frames,
                  opened_scripts,
                  _context, _group_stack):
        del store[:]
    callbacks.clear()
    menus.clear()
    del _pane_context[:]
    layers.clear()
    while not _main_queue.empty():
        _main_queue.get_nowait()
    execute_hook = None
    script_open_hook = None
    _root = Root("Root", "root", register=False)
    _root.addKnob(Int_Knob("first_frame", "first frame", 1))
    _root.addKnob(Int_Knob("last_frame", "last frame", 100))
    _root.addKnob(Format_Knob("format", "format", Format(1920, 1080)))
    _root.addKnob(File_Knob("project_directory", "project directory", ""))  # "": the script's folder
    # Nuke 15's defaults for a new script: its own colour management, the nuke-default config, "linear"
    _root.addKnob(Enumeration_Knob("colorManagement", "color management", ["Nuke", "OCIO"]))
    _root.addKnob(Enumeration_Knob("OCIO_config", "OCIO config", ["nuke-default", "aces_1.2", "custom",
                                                                  "fn-nuke_cg-config-v1.0.0_aces-v1.3_ocio-v2.1"]))
    _root.addKnob(File_Knob("customOCIOConfigPath", "custom OCIO config", ""))
    _root.addKnob(Enumeration_Knob("workingSpaceLUT", "working space", ["linear", "scene_linear", "ACEScg",
                                                                         "ACES - ACEScg"]))
    _frame[0] = 1


def set_gui(value: bool) -> None:
    global GUI
    GUI = bool(value)
    env["gui"] = GUI


class CancelledError(Exception):
    pass


# ---------------------------------------------------------------------------------------------- knobs
class Knob:
    """One knob: ``_width`` values, each optionally animated (``{frame: value}``) or an expression."""

    _width = 1
    _default: Any = ""

    def __init__(self, name: str, label: str | None = None, value: Any = None, *args: Any) -> None:
        self._name = name
        self._label = name if label is None else label
        self._values: list[Any] = [self._default] * self._width
        self._keys: list[dict[float, Any] | None] = [None] * self._width
        self._expressions: list[str | None] = [None] * self._width
        self._node: Node | None = None
        self._flags = 0
        self._tooltip = ""
        self._visible = True
        self._enabled = True
        if value is not None:
            self.setValue(value)

    def name(self) -> str:
        return self._name

    def label(self) -> str:
        return self._label

    def setLabel(self, label: str) -> None:
        self._label = label

    def node(self) -> Node | None:
        return self._node

    def Class(self) -> str:
        return type(self).__name__

    def _convert(self, value: Any) -> Any:
        return value

    def _indices(self, index: int) -> list[int]:
        return list(range(self._width)) if index is None or index < 0 else [index]

    def value(self, index: int | None = None) -> Any:
        return self._value_at(frame(), -1 if index is None else index)

    def getValue(self, index: int | None = None) -> Any:
        return self.value(index)

    def _value_at(self, time: float, index: int = -1) -> Any:
        values = [self._at(i, time) for i in range(self._width)]
        if self._width == 1:
            return values[0]
        return values if index is None or index < 0 else values[index]

    def getValueAt(self, time: float, index: int = -1) -> Any:
        return self._value_at(time, index)

    def _at(self, i: int, time: float) -> Any:
        keys = self._keys[i]
        if not keys:
            return self._values[i]
        if time in keys:
            return keys[time]
        times = sorted(keys)
        before = [t for t in times if t <= time]
        return keys[before[-1] if before else times[0]]

    def setValue(self, value: Any, index: int = -1) -> bool:
        if self._width > 1 and isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                self.setValue(item, i)
            return True
        for i in self._indices(index):
            if self._keys[i] is not None:
                self._keys[i][float(frame())] = self._convert(value)
            else:
                self._values[i] = self._convert(value)
        self._changed()
        return True

    def setValueAt(self, value: Any, time: float, index: int = -1) -> bool:
        for i in self._indices(index):
            if self._keys[i] is None:
                self._keys[i] = {}
            self._keys[i][float(time)] = self._convert(value)
        self._changed()
        return True

    def isAnimated(self, index: int = -1) -> bool:
        return any(self._keys[i] is not None for i in self._indices(index))

    def setAnimated(self, index: int = -1, view: Any = None) -> bool:
        for i in self._indices(index):
            if self._keys[i] is None:
                self._keys[i] = {}
        return True

    def clearAnimated(self, index: int = -1, view: Any = None) -> bool:
        for i in self._indices(index):
            self._keys[i] = None
        return True

    def key_frames(self, index: int = 0) -> list[float]:
        """Test control: the key frames of one value."""
        return sorted(self._keys[index] or {})

    def setExpression(self, expression: str, index: int = -1, view: Any = None) -> bool:
        for i in self._indices(index):
            self._expressions[i] = expression
        return True

    def hasExpression(self, index: int = -1) -> bool:
        return any(self._expressions[i] is not None for i in self._indices(index))

    def toScript(self, quote: bool = False, context: Any = None) -> str:
        """The knob as a .nk file writes it: ``{{expression}}``, ``{curve x1001 960 x1002 961}`` or the value
        per index; several indices in braces."""
        parts = []
        for i in range(self._width):
            keys = self._keys[i]
            if self._expressions[i] is not None:
                parts.append("{{" + str(self._expressions[i]) + "}}")
            elif keys:
                parts.append("{curve " + " ".join(f"x{time:g} {keys[time]!r}" for time in sorted(keys)) + "}")
            else:
                parts.append(str(self._values[i]))
        return parts[0] if self._width == 1 else "{" + " ".join(parts) + "}"

    def setFlag(self, flag: int) -> None:
        self._flags |= flag

    def clearFlag(self, flag: int) -> None:
        self._flags &= ~flag

    def getFlag(self, flag: int) -> bool:
        return bool(self._flags & flag)

    def setVisible(self, visible: bool) -> None:
        self._visible = bool(visible)

    def visible(self) -> bool:
        return self._visible

    def setEnabled(self, enabled: bool) -> None:
        self._enabled = bool(enabled)

    def enabled(self) -> bool:
        return self._enabled

    def setTooltip(self, text: str) -> None:
        self._tooltip = text

    def tooltip(self) -> str:
        return self._tooltip

    def _changed(self) -> None:
        """A value changed. Nuke calls knobChanged for a user's edit in the panel or viewer, not for a script's
        setValue: tests make user edits with ``user_set`` / ``user_set_at``."""

    def user_set(self, value: Any, index: int = -1) -> None:
        """Test control: the user types ``value`` into the knob; knobChanged runs."""
        self.setValue(value, index)
        self._fire_changed()

    def user_set_at(self, value: Any, time: float, index: int = -1) -> None:
        """Test control: the user sets a key (a drag in the viewer, a value on a keyed frame); knobChanged runs."""
        self.setValueAt(value, time, index)
        self._fire_changed()

    def _fire_changed(self) -> None:
        node = self._node
        if node is not None and node._register and not node._building:
            _fire("knobChanged", node, self)


class Array_Knob(Knob):
    _default: Any = 0.0

    def _convert(self, value: Any) -> Any:
        return float(value)

    # Nuke's Array_Knob answers floats here, whatever its subclass's value() gives (an Int_Knob's int, a
    # Boolean_Knob's bool)
    def valueAt(self, time: float, index: int = -1) -> Any:
        return _floats(self._value_at(time, index))

    def getValueAt(self, time: float, index: int = -1) -> Any:
        return _floats(self._value_at(time, index))

    def getValue(self, index: int | None = None) -> Any:
        return _floats(self._value_at(frame(), -1 if index is None else index))

    def setRange(self, low: float, high: float) -> None:
        self._range = (low, high)


def _floats(value: Any) -> Any:
    return [float(item) for item in value] if isinstance(value, list) else float(value)


class Double_Knob(Array_Knob):
    pass


class WH_Knob(Array_Knob):
    pass


class Int_Knob(Array_Knob):
    _default: Any = 0

    def _convert(self, value: Any) -> Any:
        return int(value)


class XY_Knob(Array_Knob):
    _width = 2

    def x(self) -> float:
        return self.value(0)

    def y(self) -> float:
        return self.value(1)


class Boolean_Knob(Array_Knob):
    _default: Any = False

    def _convert(self, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes")
        return bool(value)


class Disable_Knob(Boolean_Knob):
    pass


class String_Knob(Knob):
    def _convert(self, value: Any) -> Any:
        return str(value)

    def getText(self) -> str:
        return str(self.value())

    def setText(self, text: str) -> None:
        self.setValue(text)


class EvalString_Knob(String_Knob):
    def evaluate(self) -> str:
        return _tcl(str(self.value()), self._node)


class File_Knob(EvalString_Knob):
    def getEvaluatedValue(self) -> str:
        return self.evaluate()


class Multiline_Eval_String_Knob(EvalString_Knob):
    pass


class Text_Knob(Knob):
    def __init__(self, name: str, label: str | None = None, text: str = "") -> None:
        super().__init__(name, label, text)

    def _convert(self, value: Any) -> Any:
        return str(value)


class Tab_Knob(Knob):
    def __init__(self, name: str, label: str | None = None, kind: int = 0) -> None:
        super().__init__(name, label)
        self._kind = kind


class Script_Knob(String_Knob):
    def __init__(self, name: str, label: str | None = None, command: str = "") -> None:
        super().__init__(name, label, command)

    def command(self) -> str:
        return str(self._values[0])

    def setCommand(self, command: str) -> None:
        self._values[0] = command

    def execute(self) -> None:
        node = self._node
        with _in_context(node, self):
            exec(self.command(), {"nuke": sys.modules[__name__]})


class PyScript_Knob(Script_Knob):
    pass


class Link_Knob(Knob):
    def _convert(self, value: Any) -> Any:
        return str(value)


class Enumeration_Knob(Knob):
    _default: Any = 0

    def __init__(self, name: str, label: str | None = None, items: list[str] | None = None) -> None:
        self._items = [str(item) for item in (items or [])]
        super().__init__(name, label)

    def values(self) -> list[str]:
        return list(self._items)

    def setValues(self, items: list[str]) -> None:
        self._items = [str(item) for item in items]

    def _convert(self, value: Any) -> Any:
        if isinstance(value, str) and (value in self._items or not value.isdigit()):
            if value not in self._items:
                raise ValueError(f"Bad value for {self._name} : {value}")
            return self._items.index(value)
        return int(value)

    def value(self, index: int | None = None) -> Any:
        position = int(Knob.value(self))
        return self._items[position] if 0 <= position < len(self._items) else ""

    def getValue(self, index: int | None = None) -> Any:
        return float(Knob.value(self))

    def enumName(self, position: int) -> str:
        return self._items[position]

    def toScript(self, quote: bool = False, context: Any = None) -> str:
        """The item's name, as a .nk file holds it (``before black``), not its index."""
        return self.value()


class Format:
    def __init__(self, width: int, height: int, name: str = "") -> None:
        self._width, self._height, self._name = width, height, name

    def width(self) -> int:
        return self._width

    def height(self) -> int:
        return self._height

    def name(self) -> str:
        return self._name

    def pixelAspect(self) -> float:
        return 1.0


class Format_Knob(Knob):
    def value(self, index: int | None = None) -> Any:
        return self._values[0]


KNOB_TYPES: dict[int, type] = {1: String_Knob, 2: File_Knob, 3: Int_Knob, 4: Enumeration_Knob, 6: Boolean_Knob,
                               7: Double_Knob, 12: XY_Knob, 20: Tab_Knob, 22: PyScript_Knob, 26: Text_Knob,
                               41: Link_Knob}


# ---------------------------------------------------------------------------------------------- nodes
def _menu(node_class: str, knob_name: str) -> Callable[[str, str, Any], Knob]:
    """An Enumeration_Knob of Nuke's items (tools/nuke_script.py's NODE_MENUS): a value Nuke's menu lacks is refused,
    as Nuke refuses it."""
    def make(name: str, label: str, value: Any) -> Knob:
        knob = Enumeration_Knob(name, label, list(NODE_MENUS[node_class][knob_name]))
        knob.setValue(value)
        return knob
    return make


class _FileType_Knob(String_Knob):
    """A Write's file_type: setting it adds that file type's own knobs, which Nuke's Write has only from then on."""

    def _changed(self) -> None:
        node = self._node
        for name in FILE_TYPE_KNOBS.get(str(self._values[0]), ()):
            if node is not None and node.knob(name) is None:
                node.addKnob(_menu("Write", name)(name, name, NODE_MENUS["Write"][name][0]))


_DEFAULT_KNOBS: dict[str, list[tuple]] = {
    "Read": [("file", File_Knob, ""), ("first", Int_Knob, 1), ("last", Int_Knob, 1), ("origfirst", Int_Knob, 1),
             ("origlast", Int_Knob, 1), ("raw", Boolean_Knob, False),
             ("frame_mode", _menu("Read", "frame_mode"), "expression"), ("frame", String_Knob, ""),
             ("before", _menu("Read", "before"), "hold"), ("after", _menu("Read", "after"), "hold"),
             ("on_error", _menu("Read", "on_error"), "error"),
             ("colorspace", String_Knob, "default")],
    "Write": [("file", File_Knob, ""), ("file_type", _FileType_Knob, ""), ("channels", String_Knob, "rgb"),
              ("raw", Boolean_Knob, False), ("use_limit", Boolean_Knob, False),
              ("first", Int_Knob, 1), ("last", Int_Knob, 1), ("create_directories", Boolean_Knob, False)],
}
_counters: dict[str, int] = {}


class Node:
    def __init__(self, cls: str, name: str | None = None, register: bool = True,
                 parent: Node | None = None) -> None:
        self._class = cls
        self._knobs: dict[str, Knob] = {}
        self._knob_order: list[str] = []
        self._inputs: list[Node | None] = []
        self._children: list[Node] = []
        self._register = register
        self._building = True
        self._selected = False
        self._parent_group = parent if parent is not None else (_group_stack[-1] if _group_stack else None)
        if not name:
            _counters[cls] = _counters.get(cls, 0) + 1
            name = f"{cls}{_counters[cls]}"
            while any(node.name() == name for node in _siblings(self._parent_group)):
                _counters[cls] += 1
                name = f"{cls}{_counters[cls]}"
        self.addKnob(String_Knob("name", "name", name))
        self.addKnob(Disable_Knob("disable", "disable", False))
        for knob_name, kind, value in _DEFAULT_KNOBS.get(cls, []):
            self.addKnob(kind(knob_name, knob_name, value))
        self._building = False
        if register:
            if self._parent_group is not None:
                self._parent_group._children.append(self)
            created.append(self)

    # identity
    def Class(self) -> str:
        return self._class

    def name(self) -> str:
        if self._class == "Root":
            return "Root"
        return str(self._knobs["name"].value())

    def setName(self, name: str) -> None:
        self._knobs["name"].setValue(name)

    def fullName(self) -> str:
        if self._parent_group is None:
            return self.name()
        return self._parent_group.fullName() + "." + self.name()

    def parent(self) -> Node | None:
        return self._parent_group

    def __repr__(self) -> str:
        return f"<fake {self._class} {self.fullName()}>"

    # knobs
    def knob(self, name: Any) -> Knob | None:
        if isinstance(name, int):
            return self._knobs[self._knob_order[name]]
        return self._knobs.get(name)

    def __getitem__(self, name: str) -> Knob:
        knob = self._knobs.get(name)
        if knob is None:
            raise NameError(f"knob {name} does not exist")
        return knob

    def knobs(self) -> dict[str, Knob]:
        return dict(self._knobs)

    def allKnobs(self) -> list[Knob]:
        return [self._knobs[name] for name in self._knob_order]

    def numKnobs(self) -> int:
        return len(self._knob_order)

    def addKnob(self, knob: Knob) -> None:
        if knob.name() in self._knobs:
            raise RuntimeError(f"knob {knob.name()} already exists on {self.name()}")
        knob._node = self
        self._knobs[knob.name()] = knob
        self._knob_order.append(knob.name())

    def removeKnob(self, knob: Knob) -> None:
        del self._knobs[knob.name()]
        self._knob_order.remove(knob.name())
        knob._node = None

    def _set_knob(self, name: str, value: Any) -> None:
        """A knob set from a script or ``nuke.nodes.X(knob=...)``: a built-in class has only its own knobs, as in
        Nuke (a misspelt knob is an error, not a silently added one)."""
        knob = self._knobs.get(name)
        if knob is None:
            if known_knob(self._class, name) is False:
                raise NameError(f"{self._class} has no knob named {name!r}")
            if self._class == "Write" and file_type_of(name) is not None:
                raise NameError(f"Write has no knob named {name!r} before its file_type is {file_type_of(name)}")
            knob = Knob(name)
            self.addKnob(knob)
        knob.setValue(value)

    # graph
    def input(self, index: int) -> Node | None:
        return self._inputs[index] if 0 <= index < len(self._inputs) else None

    def setInput(self, index: int, node: Node | None) -> bool:
        while len(self._inputs) <= index:
            self._inputs.append(None)
        self._inputs[index] = node
        return True

    def inputs(self) -> int:
        return len(self._inputs)

    def maxInputs(self) -> int:
        return max(len(self._inputs), 1)

    def dependencies(self, what: int = 0) -> list[Node]:
        return [node for node in self._inputs if node is not None]

    def dependent(self, what: int = 0, forceEvaluate: bool = True) -> list[Node]:
        return [node for node in created if self in node._inputs]

    def setSelected(self, selected: bool) -> None:
        self._selected = bool(selected)

    def isSelected(self) -> bool:
        return self._selected

    def showControlPanel(self) -> None:
        pass

    def xpos(self) -> int:
        return 0

    def ypos(self) -> int:
        return 0



class Group(Node):
    """A node holding nodes: ``Group`` nodes, gizmos (``Gizmo``) and the script's root (``Root``)."""

    def node(self, name: str) -> Node | None:
        for child in self._children:
            if child.name() == name:
                return child
        return None

    def nodes(self) -> list[Node]:
        return list(self._children)

    def begin(self) -> Group:
        _group_stack.append(self)
        return self

    def end(self) -> None:
        if _group_stack and _group_stack[-1] is self:
            _group_stack.pop()

    def __enter__(self) -> Group:
        return self.begin()

    def __exit__(self, *error: Any) -> None:
        self.end()


class Gizmo(Group):
    pass


class Root(Group):
    pass


def _siblings(group: Node | None) -> list[Node]:
    if group is None:
        return [node for node in created if node._parent_group is None]
    return group._children


class _NodeFactory:
    """``nuke.nodes.Read(file=..., name=...)``: a node without the UI side effects of createNode."""

    def __getattr__(self, cls: str) -> Callable[..., Node]:
        def make(**knobs: Any) -> Node:
            return _make(cls, knobs)
        return make


nodes = _NodeFactory()


def _make(cls: str, knobs: dict[str, Any]) -> Node:
    gizmo = _find_gizmo(cls)
    kind = Group if cls == "Group" else Node
    node = _build_gizmo(cls, gizmo, knobs.pop("name", None)) if gizmo else kind(cls, knobs.pop("name", None))
    inputs = knobs.pop("inputs", None)
    for key, value in knobs.items():
        node._set_knob(key, value)
    if inputs:
        for index, source in enumerate(inputs):
            node.setInput(index, source)
    with _in_context(node, None):
        _fire("onCreate", node, None)
    return node


def createNode(node: str, args: str = "", inpanel: bool = True) -> Node:
    knobs: dict[str, Any] = {}
    tokens = _tokens(args) if args else []
    for i in range(0, len(tokens) - 1, 2):
        knobs[tokens[i]] = tokens[i + 1]
    selected = [item for item in _siblings(_group_stack[-1] if _group_stack else None) if item.isSelected()]
    made = _make(node, knobs)
    if selected:
        made.setInput(0, selected[-1])
    return made


def toNode(name: str) -> Node | None:
    if name in ("root", "Root"):
        return root()
    parts = name.split(".")
    group: Node | None = _group_stack[-1] if _group_stack else None
    if parts and parts[0] == "root":
        group, parts = None, parts[1:]
    found: Node | None = None
    for part in parts:
        found = next((node for node in _siblings(group) if node.name() == part), None)
        if found is None:
            return None
        group = found
    return found


def allNodes(filter: str | None = None, group: Node | None = None, recurseGroups: bool = False) -> list[Node]:
    scope = group if group is not None else (_group_stack[-1] if _group_stack else None)
    found: list[Node] = []

    def walk(parent: Node | None) -> None:
        for node in _siblings(parent):
            if filter is None or node.Class() == filter:
                found.append(node)
            if recurseGroups and node._children:
                walk(node)
    walk(scope)
    return found


def selectedNodes(filter: str | None = None) -> list[Node]:
    return [node for node in allNodes(filter) if node.isSelected()]


def selectedNode() -> Node:
    chosen = selectedNodes()
    if not chosen:
        raise ValueError("no node selected")
    return chosen[-1]


def delete(node: Node) -> None:
    if node in created:
        created.remove(node)
    if node._parent_group is not None and node in node._parent_group._children:
        node._parent_group._children.remove(node)


def root() -> Root:
    assert _root is not None
    return _root


def set_root(name: str = "", first: int = 1, last: int = 100, width: int = 1920, height: int = 1080) -> None:
    """Test helper: the script's path, frame range and format."""
    _root["name"].setValue(name)  # type: ignore[index]
    _root["first_frame"].setValue(first)  # type: ignore[index]
    _root["last_frame"].setValue(last)  # type: ignore[index]
    _root["format"].setValue(Format(width, height))  # type: ignore[index]


def _root_format(self: Node) -> Format:
    return self["format"].value()


Node.format = _root_format  # type: ignore[attr-defined]


def frame(value: int | None = None) -> int:
    if value is not None:
        _frame[0] = int(value)
    return _frame[0]


def value(path: str, default: Any = None) -> Any:
    node_name, _, knob_name = path.rpartition(".")
    node = toNode(node_name)
    if node is None or node.knob(knob_name) is None:
        if default is not None:
            return default
        raise NameError(path)
    return node[knob_name].value()


REPLACE = 1


def filename(node: Node, *args: Any) -> str:
    """The file knob with its Tcl and $VARS expanded, %04d/#### kept (nuke.REPLACE: the current frame's)."""
    text = os.path.expandvars(_tcl(str(node["file"].value()), node))
    if args and args[0] == REPLACE:
        text = re.sub(r"%0(\d)d", lambda match: f"{_frame[0]:0{match.group(1)}d}", text)
        text = re.sub(r"#+", lambda match: f"{_frame[0]:0{len(match.group(0))}d}", text)
    return text


def _tcl(text: str, node: Node | None) -> str:
    text = re.sub(r"\[getenv (\w+)\]", lambda match: os.environ.get(match.group(1), ""), text)

    def knob(match: Any) -> str:
        path = match.group(1)
        if path.startswith("parent.") and node is not None and node._parent_group is not None:
            return str(node._parent_group[path[len("parent."):]].value())
        if path.startswith("this.") and node is not None:
            return str(node[path[len("this."):]].value())
        return str(value(path))
    return re.sub(r"\[value ([\w.]+)\]", knob, text)


# ---------------------------------------------------------------------------------------------- context
class _in_context:
    def __init__(self, node: Node | None, knob: Knob | None) -> None:
        self.entry = (node, knob)

    def __enter__(self) -> None:
        _context.append(self.entry)

    def __exit__(self, *error: Any) -> None:
        _context.pop()


def context(node: Node | None, knob: Knob | None = None) -> _in_context:
    """Test helper: ``with nuke.context(node, knob):`` sets what thisNode()/thisKnob() return."""
    return _in_context(node, knob)


def thisNode() -> Node:
    if not _context or _context[-1][0] is None:
        return root()
    return _context[-1][0]  # type: ignore[return-value]


def thisKnob() -> Knob | None:
    return _context[-1][1] if _context else None


def thisGroup() -> Node:
    return _group_stack[-1] if _group_stack else root()


# ---------------------------------------------------------------------------------------------- callbacks
def _add(kind: str, call: Callable, args: tuple = (), kwargs: dict | None = None, nodeClass: str = "*") -> None:
    callbacks.setdefault(kind, []).append((call, tuple(args), dict(kwargs or {}), nodeClass))


def _remove(kind: str, call: Callable, args: tuple = (), kwargs: dict | None = None, nodeClass: str = "*") -> None:
    callbacks[kind] = [entry for entry in callbacks.get(kind, []) if not (entry[0] is call and entry[3] == nodeClass)]


def addOnCreate(call: Callable, args: tuple = (), kwargs: dict | None = None, nodeClass: str = "*") -> None:
    _add("onCreate", call, args, kwargs, nodeClass)


def addOnUserCreate(call: Callable, args: tuple = (), kwargs: dict | None = None, nodeClass: str = "*") -> None:
    _add("onUserCreate", call, args, kwargs, nodeClass)


def addKnobChanged(call: Callable, args: tuple = (), kwargs: dict | None = None, nodeClass: str = "*") -> None:
    _add("knobChanged", call, args, kwargs, nodeClass)


def addBeforeRender(call: Callable, args: tuple = (), kwargs: dict | None = None,
                    nodeClass: str = "Write") -> None:
    _add("beforeRender", call, args, kwargs, nodeClass)


def addBeforeFrameRender(call: Callable, args: tuple = (), kwargs: dict | None = None,
                         nodeClass: str = "Write") -> None:
    _add("beforeFrameRender", call, args, kwargs, nodeClass)


def addAfterRender(call: Callable, args: tuple = (), kwargs: dict | None = None, nodeClass: str = "Write") -> None:
    _add("afterRender", call, args, kwargs, nodeClass)


def addAfterFrameRender(call: Callable, args: tuple = (), kwargs: dict | None = None,
                        nodeClass: str = "Write") -> None:
    _add("afterFrameRender", call, args, kwargs, nodeClass)


def addOnScriptLoad(call: Callable, args: tuple = (), kwargs: dict | None = None, nodeClass: str = "Root") -> None:
    _add("onScriptLoad", call, args, kwargs, nodeClass)


def removeOnCreate(call: Callable, args: tuple = (), kwargs: dict | None = None, nodeClass: str = "*") -> None:
    _remove("onCreate", call, args, kwargs, nodeClass)


def removeKnobChanged(call: Callable, args: tuple = (), kwargs: dict | None = None, nodeClass: str = "*") -> None:
    _remove("knobChanged", call, args, kwargs, nodeClass)


def removeBeforeRender(call: Callable, args: tuple = (), kwargs: dict | None = None,
                       nodeClass: str = "Write") -> None:
    _remove("beforeRender", call, args, kwargs, nodeClass)


def _fire(kind: str, node: Node, knob: Knob | None) -> None:
    for call, args, kwargs, node_class in list(callbacks.get(kind, [])):
        if node_class in ("*", node.Class()):
            with _in_context(node, knob):
                call(*args, **kwargs)


def fire_knob_changed(node: Node, knob_name: str) -> None:
    """Test helper: what Nuke does when a user changes a knob (a script's setValue does not fire it)."""
    _fire("knobChanged", node, node[knob_name])


# ---------------------------------------------------------------------------------------------- menus
class MenuItem:
    def __init__(self, name: str, command: Any = None, shortcut: str = "", icon: str = "") -> None:
        self._name, self.command, self.shortcut, self.icon = name, command, shortcut, icon

    def name(self) -> str:
        return self._name

    def script(self) -> Any:
        return self.command

    def invoke(self) -> Any:
        if callable(self.command):
            return self.command()
        return exec(self.command, {"nuke": sys.modules[__name__]})


class Menu(MenuItem):
    def __init__(self, name: str, icon: str = "") -> None:
        super().__init__(name, None, "", icon)
        self._items: list[MenuItem] = []

    def items(self) -> list[MenuItem]:
        return list(self._items)

    def findItem(self, name: str) -> MenuItem | None:
        head, _, rest = name.partition("/")
        item = next((entry for entry in self._items if entry.name() == head), None)
        if rest and isinstance(item, Menu):
            return item.findItem(rest)
        return item

    def addMenu(self, name: str, icon: str = "", tooltip: str = "", index: int = -1) -> Menu:
        found = self.findItem(name)
        if isinstance(found, Menu):
            return found
        menu = Menu(name, icon)
        self._items.append(menu)
        return menu

    def addCommand(self, name: str, command: Any = None, shortcut: str = "", icon: str = "", tooltip: str = "",
                   index: int = -1, readonly: bool = False, shortcutContext: int = 0, tag: Any = None,
                   tagTarget: Any = None) -> MenuItem:
        head, _, rest = name.rpartition("/")
        menu = self.addMenu(head) if head else self
        item = MenuItem(rest, command, shortcut, icon)
        menu._items = [entry for entry in menu._items if entry.name() != rest] + [item]
        return item

    def addSeparator(self, **kwargs: Any) -> None:
        self._items.append(MenuItem("-"))


def menu(name: str) -> Menu:
    if name not in menus:
        menus[name] = Menu(name)
    return menus[name]


def toolbar(name: str, create: bool = True) -> Menu:
    return menu(name)


# ---------------------------------------------------------------------------------------------- start-up
def pluginAddPath(path: str, addToSysPath: bool = True) -> None:
    plugin_paths.append(path)
    if addToSysPath and path not in sys.path:
        sys.path.insert(0, path)


def pluginAppendPath(path: str, addToSysPath: bool = True) -> None:
    pluginAddPath(path, addToSysPath)


def pluginPath() -> list[str]:
    return list(plugin_paths)


def _find_gizmo(cls: str) -> str | None:
    for folder in plugin_paths:
        candidate = os.path.join(folder, cls + ".gizmo")
        if os.path.isfile(candidate):
            return candidate
    return None


# ---------------------------------------------------------------------------------------------- UI
class Dock:
    """A pane of the GUI's layout (Foundry documents no methods: the plugin only passes it to addToPane)."""

    def __init__(self, name: str) -> None:
        self._name = name


def getPaneFor(panelName: str) -> Dock | None:
    """The pane holding ``panelName`` ("Properties.1" in Nuke's default layouts); None outside the GUI."""
    return Dock(panelName) if GUI and panelName == "Properties.1" else None


class pane_context:
    """Test helper: run a command as Nuke runs a Pane-menu command, inside a pane (``addToPane()`` lands there)."""

    def __init__(self, name: str = "Viewer.1") -> None:
        self._name = name

    def __enter__(self) -> None:
        _pane_context.append(self._name)

    def __exit__(self, *error: Any) -> None:
        _pane_context.pop()


def message(text: str) -> None:
    messages.append(str(text))


def critical(text: str) -> None:
    messages.append(str(text))


def ask(text: str) -> bool:
    messages.append(str(text))
    return True


def executeInMainThread(call: Callable, args: Any = (), kwargs: dict | None = None) -> None:
    """Queued for Nuke's main-thread event loop, as Nuke does: it runs when the main thread is idle, here when a
    test runs ``run_main_thread``. A main thread that blocks waiting for it would hang, as in Nuke."""
    if not isinstance(args, tuple):
        args = (args,)
    main_thread_calls.append((call, args, threading.current_thread() is threading.main_thread()))
    _main_queue.put((call, args, dict(kwargs or {})))


def run_main_thread(until: threading.Event | None = None, timeout: float = 60.0) -> None:
    """Test helper: Nuke's main-thread event loop. Runs the queued ``executeInMainThread`` calls until ``until``
    is set (None: until the queue is empty, or ``timeout`` passed); raise TimeoutError if ``until`` never came."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("run_main_thread is Nuke's main loop: call it from the main thread")
    deadline = time.monotonic() + timeout
    while True:
        if until is not None and until.is_set() and _main_queue.empty():
            return
        left = deadline - time.monotonic()
        if left <= 0:
            if until is None:
                return
            raise TimeoutError(f"the main thread waited {timeout} s for an event that never came")
        try:
            call, args, kwargs = _main_queue.get(timeout=min(left, 0.02))
        except queue.Empty:
            if until is None:
                return
            continue
        call(*args, **kwargs)


def executeInMainThreadWithResult(call: Callable, args: Any = (), kwargs: dict | None = None) -> Any:
    if threading.current_thread() is threading.main_thread():
        raise RuntimeError("executeInMainThreadWithResult called from the main thread: Nuke would hang")
    if not isinstance(args, tuple):
        args = (args,)
    main_thread_calls.append((call, args, False))
    return call(*args, **(kwargs or {}))


class ProgressTask:
    cancel_after_progress: int | None = None  # test knob: report cancelled once progress reached this

    def __init__(self, title: str) -> None:
        self.title = title
        self.messages: list[str] = []
        self.progress: list[int] = []
        self.cancelled = False
        self.closed = False
        progress_tasks.append(self)

    def setMessage(self, text: str) -> None:
        self.messages.append(text)

    def setProgress(self, value: int) -> None:
        self.progress.append(int(value))

    def isCancelled(self) -> bool:
        limit = ProgressTask.cancel_after_progress
        if limit is not None and self.progress and self.progress[-1] >= limit:
            self.cancelled = True
        return self.cancelled

    def user_cancel(self) -> None:
        """Test control: the user presses the task's Cancel."""
        self.cancelled = True

    def __del__(self) -> None:
        self.closed = True


def execute(node: Any, start: int = 1, end: int = 1, incr: int = 1, views: Any = None,
            continueOnError: bool = False) -> None:
    if isinstance(node, str):
        node = toNode(node)
    for call, args, kwargs, node_class in list(callbacks.get("beforeRender", [])):
        if node_class in ("*", node.Class()):
            with _in_context(node, None):
                call(*args, **kwargs)
    # Nuke runs the before-frame callbacks frame by frame, each with nuke.frame() at that frame; one that raises
    # stops the render there (the frames before it are written).
    previous = _frame[0]
    try:
        for current in range(int(start), int(end) + 1, max(int(incr), 1)):
            _frame[0] = current
            for call, args, kwargs, node_class in list(callbacks.get("beforeFrameRender", [])):
                if node_class in ("*", node.Class()):
                    with _in_context(node, None):
                        call(*args, **kwargs)
            rendered_frames.append((node.fullName(), current))
    finally:
        _frame[0] = previous
    executed.append((node.fullName(), int(start), int(end), int(incr)))
    if execute_hook is not None:
        execute_hook(node, int(start), int(end))


def executeMultiple(nodes: Any, ranges: Any = ((1, 1, 1),), views: Any = None,
                    continueOnError: bool = False) -> None:
    for node in nodes:
        for first, last, incr in ranges:
            execute(node, first, last, incr)


def scriptOpen(path: str) -> None:
    opened_scripts.append(path)
    root()["name"].setValue(path)
    if script_open_hook is not None:
        script_open_hook(path)


def scriptName() -> str:
    name = str(root()["name"].value())
    if not name:
        raise RuntimeError("Untitled")
    return name


# ---------------------------------------------------------------------------------------------- script text
layers: dict[str, tuple[str, ...]] = {}


def add_layer(words: list[str]) -> None:
    """``add_layer {face face.red face.green face.blue face.alpha}``, as Nuke runs it (an error on a built-in layer)."""
    name, channels = check_layer(words)
    layers[name] = channels


def channel_exists(channel: str) -> bool:
    """Whether a script may name ``channel`` (``face.alpha``): in a built-in layer or one added with add_layer."""
    return any(channel in known for known in (*BUILTIN_LAYERS.values(), *layers.values()))


def build_graph(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """The script's group and nodes (``nuke_script.build_graph``); its add_layer lines run, as Nuke runs them."""
    graph = script_graph(statements)
    for name, channels in graph["layers"].items():
        add_layer([name, *channels])
    return graph


def _build_gizmo(cls: str, path: str, name: str | None) -> Node:
    with open(path) as handle:
        graph = build_graph(parse_script(handle.read()))
    node = Gizmo(cls, name)
    node._building = True
    group = graph["group"]
    for spec in group["user_knobs"]:
        kind = KNOB_TYPES.get(spec["type"], Knob)
        label = spec["options"].get("l")
        if kind is Enumeration_Knob:
            knob: Knob = Enumeration_Knob(spec["name"], label, _tokens(spec["options"].get("M", "")))
        elif kind in (PyScript_Knob, Text_Knob):
            knob = kind(spec["name"], label, spec["options"].get("T", ""))
        else:
            knob = kind(spec["name"], label)
        node.addKnob(knob)
    for key, value in group["knobs"]:
        if key != "addUserKnob" and key in node.knobs() and key != "name":
            knob = node[key]
            if isinstance(value, Braced):
                knob.setExpression(value)
            else:
                knob.setValue(value)
    built: dict[str, Node] = {}
    with node:
        for child_name, spec in graph["nodes"].items():
            child = (Group if spec["class"] == "Group" else Node)(spec["class"], child_name)
            for key, value in spec["knobs"].items():
                if key in ("name", "inputs", "xpos", "ypos"):
                    continue
                if isinstance(value, Braced) and value.startswith("{"):
                    if child.knob(key) is None:
                        if known_knob(child.Class(), key) is False:
                            raise NameError(f"{child_name}: {child.Class()} has no knob named {key!r}")
                        child.addKnob(Knob(key))
                    child[key].setExpression(value[1:-1])
                else:
                    child._set_knob(key, value)
            built[child_name] = child
    for child_name, spec in graph["nodes"].items():
        for index, source in enumerate(spec["inputs"]):
            if source is not None:
                built[child_name].setInput(index, built[source])
    node._building = False
    return node


reset()
