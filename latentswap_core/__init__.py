"""LatentSwap's engine: per-shot face replacement for VFX plates.

Data flows one way through plain modules:
frames in -> track -> align -> codec encode -> swap -> (refine) -> decode -> colour-match -> blend -> frames out.
This package never imports ``nuke``; the Nuke plugin drives it through the ``latentswap`` command line.
"""

__version__ = "0.1.0"
