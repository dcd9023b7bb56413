"""Render a Nuke script that uses LatentSwap on a farm: ``nuke -t tools/render.py shot.nk --frames 1001-1100``.

Precomputes every LatentSwap node's cache for the range (the engine runs here, progress on stderr), then
executes the Write nodes (all enabled ones, or ``--write Write1`` [``--write Write2``...]). Needs the same
plugin path as the artist's Nuke (NUKE_PATH with this repository), so init.py has registered the gizmo.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nuke_plugin import farm  # noqa: E402

if __name__ == "__main__":
    sys.exit(farm.main())
