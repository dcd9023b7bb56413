"""Farm rendering: precompute every LatentSwap node's cache for a frame range, then execute the Writes.

``nuke -t tools/render.py shot.nk --frames 1001-1100 [--write Write1]`` runs ``main``. It runs in terminal
mode: engine progress goes to stderr and an engine failure stops the render with its one-line message.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

import nuke

from nuke_plugin import engine, gizmo

_RANGE = re.compile(r"^\s*(-?\d+)\s*(?:-\s*(-?\d+))?\s*$")


def parse_frames(text):
    """``1001-1100`` -> (1001, 1100); ``1001`` -> (1001, 1001)."""
    match = _RANGE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame range like 1001-1100")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) is not None else first
    if last < first:
        raise argparse.ArgumentTypeError(f"the frame range {text} is empty")
    return first, last


def build_parser():
    parser = argparse.ArgumentParser(
        prog="nuke -t tools/render.py",
        description="Precompute the LatentSwap caches of a Nuke script for a frame range, then render its Writes.")
    parser.add_argument("script", help="the .nk script")
    parser.add_argument("--frames", type=parse_frames, required=True, help="frame range, e.g. 1001-1100")
    parser.add_argument("--write", action="append", default=[],
                        help="render only this Write node (repeat for several; default: every enabled Write)")
    parser.add_argument("--no-precompute", action="store_true", help="render with the caches as they are")
    return parser


def write_nodes(names):
    """The nodes to render: those named (``Group1.Write1`` inside a Group), else every enabled Write, DeepWrite
    and WriteGeo of the script, inside Groups too, but not the LatentSwap gizmo's own plate writer."""
    if names:
        found = []
        for name in names:
            node = nuke.toNode(name)
            if node is None or node.Class() not in gizmo.RENDER_CLASSES:
                raise SystemExit(f"render.py: error: there is no Write node called {name} in the script")
            found.append(node)
        return found
    return [node for node_class in gizmo.RENDER_CLASSES for node in nuke.allNodes(node_class, recurseGroups=True)
            if not node["disable"].value() and not gizmo.inside_latentswap(node)]


def ensure_plugin():
    """The gizmo folder and callbacks, when NUKE_PATH did not bring this plugin's init.py (a bare ``nuke -t``)."""
    gizmos = os.path.normpath(os.path.join(engine.default_plugin_root(), "gizmos"))
    if not any(os.path.normpath(path) == gizmos for path in nuke.pluginPath()):
        nuke.pluginAddPath(gizmos)
        gizmo.register_callbacks()


def render(script, first, last, writes=(), precompute=True):
    """Open ``script``, precompute its LatentSwap nodes for first-last, execute the Writes; returns them."""
    ensure_plugin()
    nuke.scriptOpen(script)
    targets = write_nodes(list(writes))
    if not targets:
        raise SystemExit("render.py: error: the script has no enabled Write node to render")
    if precompute:
        for node in gizmo.latentswap_nodes():
            sys.stderr.write(f"render.py: precomputing {node.name()} for {first}-{last}\n")
            gizmo.precompute(node, first, last)
    for write in targets:
        sys.stderr.write(f"render.py: rendering {write.name()} {first}-{last}\n")
        nuke.execute(write, first, last, 1)
    return targets


def main(argv=None):
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    first, last = args.frames
    try:
        render(args.script, first, last, args.write, not args.no_precompute)
    except (gizmo.PluginError, gizmo.engine.EngineError, gizmo.jobs.JobError, RuntimeError) as error:
        sys.stderr.write(f"render.py: error: {error}\n")
        return 1
    return 0
