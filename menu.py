"""LatentSwap's Nuke menus, run only in GUI sessions (the gizmo menu arrives with the Nuke plugin issue)."""
