"""LatentSwap's engine: per-shot face replacement for VFX plates.

Data flows one way through plain modules:
frames in -> track -> align -> codec encode -> swap -> (refine) -> decode -> colour-match -> blend -> frames out.
This package never imports ``nuke``; the Nuke plugin drives it through the ``latentswap`` command line.
"""

import os

__version__ = "0.1.0"

# onnxruntime keeps a device id and queues telemetry events in ~/.cache/Microsoft/ as soon as it is imported;
# studios' security rules forbid that. The variable must be set before the first import of onnxruntime.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"
