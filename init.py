"""LatentSwap's Nuke start-up, run in every mode (GUI, ``nuke -t``, ``nuke -x``).

The repository root is the plugin folder a studio adds to ``NUKE_PATH``. This file will only
register plugin paths and callbacks (the gizmo arrives with the Nuke plugin issue); it never builds UI.
"""
