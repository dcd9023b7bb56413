"""LatentSwap's Nuke menus, run only in GUI sessions: the LatentSwap toolbar and the training panel."""

import nuke

if nuke.GUI:
    import nuke_plugin.gizmo
    import nuke_plugin.panel

    _toolbar = nuke.menu("Nodes").addMenu("LatentSwap")
    _toolbar.addCommand("LatentSwap", "nuke.createNode('LatentSwap')")
    _toolbar.addCommand("Train Model...", nuke_plugin.panel.show_panel)
    _toolbar.addCommand("Precompute Swaps...", nuke_plugin.gizmo.precompute_from_menu)
    nuke.menu("Pane").addCommand("LatentSwap Training", nuke_plugin.panel.show_panel)
    nuke_plugin.panel.register()
