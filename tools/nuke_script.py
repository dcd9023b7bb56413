"""Nuke's script syntax (.nk and .gizmo text), read the way Nuke reads it, and the knobs of the built-in node classes
LatentSwap's gizmo uses. Shared by the gizmo linter (``tools/lint_gizmo.py``) and the tests' fake ``nuke``.

Standard library only; no Nuke needed.
"""

from __future__ import annotations

import re
from typing import Any

# Knobs every node has, and those of each built-in class the gizmo and the plugin use (Nuke 13-15). A knob not
# listed is an error in Nuke ("no such knob"), so it is one here.
COMMON_KNOBS = ("name", "xpos", "ypos", "inputs", "disable", "label", "note_font", "note_font_size", "tile_color",
                "gl_color", "selected", "hide_input", "cached", "postage_stamp", "help", "onCreate", "knobChanged",
                "dope_sheet", "lifetimeStart", "lifetimeEnd", "useLifetime")
NODE_KNOBS: dict[str, tuple[str, ...]] = {
    "Input": ("number",),
    "Output": (),
    "Dot": (),
    "NoOp": (),
    "Read": ("file", "proxy", "format", "proxy_format", "first", "last", "origfirst", "origlast", "origset",
             "frame_mode", "frame", "before", "after", "on_error", "reload", "raw", "colorspace", "premultiplied",
             "auto_alpha", "localizationPolicy", "file_type", "version", "cacheLocal"),
    "Write": ("file", "proxy", "file_type", "datatype", "compression", "channels", "raw", "colorspace",
              "premultiplied", "create_directories", "use_limit", "first", "last", "views", "render_order",
              "metadata", "autocrop", "interleave", "beforeRender", "afterRender", "beforeFrameRender",
              "afterFrameRender", "checkHashOnRead", "version", "write_full_layer_names", "heroview"),
    "Shuffle": ("in", "in2", "out", "out2", "red", "green", "blue", "alpha", "black", "white", "red2", "green2",
                "blue2", "alpha2"),
    "Shuffle2": ("in1", "in2", "out1", "out2", "fromInput1", "fromInput2", "mappings"),
    "Copy": ("from0", "to0", "from1", "to1", "from2", "to2", "from3", "to3", "channels", "maskChannelMask",
             "maskChannelInput", "inject", "invert_mask", "fringe", "mix", "bbox"),
    "Unpremult": ("channels", "alpha", "invert", "maskChannelMask", "maskChannelInput", "invert_mask", "mix"),
    "Premult": ("channels", "alpha", "invert"),
    "Grade": ("channels", "blackpoint", "whitepoint", "black", "white", "multiply", "add", "gamma", "reverse",
              "black_clamp", "white_clamp", "maskChannelMask", "maskChannelInput", "inject", "invert_mask",
              "fringe", "unpremult", "invert_unpremult", "mix"),
    "FilterErode": ("channels", "size", "filter", "maskChannelMask", "maskChannelInput", "inject", "invert_mask",
                    "fringe", "mix"),
    "Blur": ("channels", "size", "filter", "quality", "crop", "maskChannelMask", "maskChannelInput", "inject",
             "invert_mask", "fringe", "mix"),
    "Multiply": ("channels", "value", "maskChannelMask", "maskChannelInput", "inject", "invert_mask", "fringe", "mix"),
    "Sharpen": ("channels", "minimum", "maximum", "amount", "size", "filter", "maskChannelMask", "maskChannelInput",
                "inject", "invert_mask", "fringe", "mix"),
    "Merge2": ("operation", "Achannels", "Bchannels", "output", "also_merge", "sRGB", "screen_alpha", "bbox",
               "metainput", "rangeinput", "maskChannelMask", "maskChannelInput", "inject", "invert_mask", "fringe",
               "mix"),
    "Switch": ("which",),
    "Group": (),
    "Gizmo": (),
}

# The menus of the built-in knobs the gizmo sets, with Nuke's items: Nuke refuses any other value ("Bad value").
# Read's, from saved scripts; Write's datatype is the EXR writer's (the NDK's exrWriter.cpp).
_FRAMES_OUTSIDE = ("hold", "loop", "bounce", "black")
NODE_MENUS: dict[str, dict[str, tuple[str, ...]]] = {
    "Read": {"frame_mode": ("expression", "start at", "offset"), "before": _FRAMES_OUTSIDE, "after": _FRAMES_OUTSIDE,
             "on_error": ("error", "black", "checkerboard", "nearest frame")},
    "Write": {"datatype": ("16 bit half", "32 bit float")},
}
# A Write's knobs that exist only once its file_type is set to that type: Nuke refuses them before
FILE_TYPE_KNOBS: dict[str, tuple[str, ...]] = {"exr": ("datatype",)}


def known_knob(node_class: str, knob: str) -> bool | None:
    """Whether a node of ``node_class`` has ``knob``; None for a class not in the tables."""
    if node_class not in NODE_KNOBS:
        return None
    return knob in COMMON_KNOBS or knob in NODE_KNOBS[node_class]


def menu_items(node_class: str, knob: str) -> tuple[str, ...] | None:
    """Nuke's items for a menu knob of a built-in class; None where the knob is not a menu in NODE_MENUS."""
    return NODE_MENUS.get(node_class, {}).get(knob)


def file_type_of(knob: str) -> str | None:
    """The file_type a Write must have before ``knob`` exists; None for a knob every Write has."""
    return next((file_type for file_type, knobs in FILE_TYPE_KNOBS.items() if knob in knobs), None)


def tokens(text: str) -> list[Any]:
    """Nuke script words: ``{...}`` stays one token (its inner text, as a ``Braced``), ``"..."`` unquoted."""
    tokens: list[Any] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char == "{":
            depth, j = 1, i + 1
            while j < n and depth:
                if text[j] == "\\":
                    j += 2
                    continue
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            if depth:
                raise SyntaxError(f"unbalanced {{ at character {i}")
            tokens.append(Braced(text[i + 1:j - 1]))
            i = j
        elif char == "}":
            raise SyntaxError(f"unbalanced }} at character {i}")
        elif char == '"':
            j, out = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    nxt = text[j + 1]
                    out.append({"n": "\n", "t": "\t"}.get(nxt, nxt) if nxt != "[" else "\\[")
                    j += 2
                    continue
                out.append(text[j])
                j += 1
            if j >= n:
                raise SyntaxError(f"unterminated quote at character {i}")
            tokens.append("".join(out))
            i = j + 1
        elif char == "#" and (i == 0 or text[i - 1] == "\n"):
            while i < n and text[i] != "\n":
                i += 1
        else:
            j, depth = i, 0
            while j < n and (depth or (not text[j].isspace() and text[j] not in '{}"')):
                depth += {"[": 1, "]": -1}.get(text[j], 0)
                j += 1
            tokens.append(text[i:j])
            i = j
    return tokens


class Braced(str):
    """The inner text of a ``{...}`` word."""


def parse_user_knob(body: str) -> dict[str, Any]:
    """``{7 mix l Mix R 0 1}`` -> {"type": 7, "name": "mix", "options": {"l": "Mix", "R": ["0", "1"]}, "flags": []}."""
    words = tokens(body)
    knob: dict[str, Any] = {"type": int(words[0]), "name": str(words[1]), "options": {}, "flags": []}
    i = 2
    while i < len(words):
        word = words[i]
        if not isinstance(word, Braced) and word[:1] in "+-" and not re.match(r"^[+-]?\d", word):
            knob["flags"].append(word)
            i += 1
        elif word == "R":
            knob["options"]["R"] = [words[i + 1], words[i + 2]]
            i += 3
        else:
            knob["options"][word] = words[i + 1] if i + 1 < len(words) else ""
            i += 2
    return knob


def parse_script(text: str) -> list[dict[str, Any]]:
    """Statements of a .nk/.gizmo text: nodes ``{"class", "knobs": [(name, value)], "user_knobs": [...]}``
    and commands ``{"command": word, "args": [...]}`` (push, set, end_group, version)."""
    words = tokens(text)
    statements: list[dict[str, Any]] = []
    i = 0
    while i < len(words):
        word = words[i]
        if i + 1 < len(words) and isinstance(words[i + 1], Braced) and word[:1].isupper():
            inner = tokens(words[i + 1])
            if len(inner) % 2:
                raise SyntaxError(f"node {word} has a knob without a value: {inner[-1]!r}")
            knobs = [(inner[j], inner[j + 1]) for j in range(0, len(inner), 2)]
            statements.append({"class": word, "knobs": knobs,
                               "user_knobs": [parse_user_knob(v) for k, v in knobs if k == "addUserKnob"]})
            i += 2
        elif word == "push":
            statements.append({"command": "push", "args": [words[i + 1]]})
            i += 2
        elif word == "set":
            statements.append({"command": "set", "args": [words[i + 1], words[i + 2]]})
            i += 3
        elif word == "version":
            statements.append({"command": "version", "args": [words[i + 1], words[i + 2]]})
            i += 3
        elif word == "end_group":
            statements.append({"command": "end_group", "args": []})
            i += 1
        elif word == "add_layer" and i + 1 < len(words) and isinstance(words[i + 1], Braced):
            statements.append({"command": "add_layer", "args": tokens(words[i + 1])})
            i += 2
        else:
            raise SyntaxError(f"unexpected word {word!r}")
    return statements


_NO_INPUT_CLASSES = ("Input", "Read", "Constant", "Camera", "Camera2", "Camera3", "BackdropNode", "StickyNote")


def input_count(value: Any) -> int:
    """A node's ``inputs``: ``3``, or ``2+1`` as Nuke writes a node with a mask input (two inputs and the mask)."""
    text = str(value)
    match = re.fullmatch(r"(\d+)(?:\+(\d+))?", text)
    if match is None:
        raise SyntaxError(f"inputs {text!r} is not a count such as 2 or 2+1")
    return int(match.group(1)) + int(match.group(2) or 0)


# Nuke's built-in layers: their channels are fixed (a script cannot add channels to them; Nuke renames a custom
# ``mask.*`` channel to ``mask_extra``).
BUILTIN_LAYERS = {
    "rgba": ("rgba.red", "rgba.green", "rgba.blue", "rgba.alpha"), "rgb": ("rgba.red", "rgba.green", "rgba.blue"),
    "alpha": ("rgba.alpha",), "depth": ("depth.Z",), "motion": ("forward.u", "forward.v", "backward.u",
                                                               "backward.v"),
    "forward": ("forward.u", "forward.v"), "backward": ("backward.u", "backward.v"),
    "mask": ("mask.a",), "rotopaint_mask": ("rotopaint_mask.a",),
}
def check_layer(words: list[str]) -> tuple[str, tuple[str, ...]]:
    """(layer, channels) of an ``add_layer {face face.red ...}`` line; ValueError on a built-in layer or a channel
    of another layer."""
    name, channels = str(words[0]), tuple(str(word) for word in words[1:])
    if name in BUILTIN_LAYERS and set(channels) - set(BUILTIN_LAYERS[name]):
        raise ValueError(f"add_layer {name}: {name} is one of Nuke's built-in layers; its channels cannot change")
    if not channels or any(channel.split(".")[0] != name for channel in channels):
        raise ValueError(f"add_layer {name}: channels must be {name}.something, got {' '.join(channels)}")
    return name, channels


def build_graph(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """Connect the internal nodes of a group the way Nuke does: a stack, each node popping ``inputs``
    entries (the top of the stack is input 0), ``push $var`` / ``push 0`` / ``set var [stack 0]``."""
    stack: list[Any] = []
    variables: dict[str, Any] = {}
    nodes_by_name: dict[str, dict[str, Any]] = {}
    layers: dict[str, tuple[str, ...]] = {}
    group: dict[str, Any] | None = None
    for statement in statements:
        command = statement.get("command")
        if command == "push":
            arg = statement["args"][0]
            stack.append(None if arg == "0" else variables[arg.lstrip("$")])
        elif command == "set":
            variables[statement["args"][0]] = stack[-1]
        elif command in ("version", "end_group"):
            continue
        elif command == "add_layer":
            name, channels = check_layer(statement["args"])
            layers[name] = channels
        elif group is None and statement["class"] in ("Gizmo", "Group"):
            group = statement
        else:
            knobs = dict(statement["knobs"])
            count = input_count(knobs.get("inputs", 0 if statement["class"] in _NO_INPUT_CLASSES else 1))
            inputs = [stack.pop() if stack else None for _ in range(count)]
            entry = {"class": statement["class"], "knobs": knobs, "inputs": [
                None if item is None else item["knobs"]["name"] for item in inputs]}
            nodes_by_name[knobs["name"]] = entry
            stack.append(entry)
    return {"group": group, "nodes": nodes_by_name, "layers": layers}
