"""How many codec round trips the swap gives its latent before the last decode (``SwapNetwork.projections``).

Measured (docs/training.md, "Swap quality on real footage"): on the singer's self-reconstruction one round trip
took the codec grid from 1.21x the plate's own to 1.07x and the detail from 0.87 to 0.92 of the plate's, for
0.005 of face SSIM; on the demo's cross-identity swap it took the grid from 1.15x to 0.99x but moved the face
away from the target (identity distance 0.337 -> 0.380) and its pose (error 1.58 -> 2.53 deg). A swap is first
the right person in the plate's pose, so none is the default; ``--codec-projection 1`` is there for a model whose
swaps show the grid.
"""

DEFAULT_PROJECTIONS = 0
MAX_PROJECTIONS = 4
