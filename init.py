"""LatentSwap's Nuke start-up, run in every mode (GUI, ``nuke -t``, ``nuke -x``).

The repository root is the plugin folder a studio adds to ``NUKE_PATH``. This file registers the gizmo folder
(so farms opening a saved script find ``LatentSwap.gizmo``) and the LatentSwap node's callbacks; it never
builds UI (menu.py does, in GUI sessions only).
"""

import os

import nuke

import nuke_plugin.engine
import nuke_plugin.gizmo

nuke.pluginAddPath(os.path.join(nuke_plugin.engine.default_plugin_root(), "gizmos"))
nuke_plugin.gizmo.register_callbacks()
