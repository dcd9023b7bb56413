"""How many codec round trips the swap gives its latent before the last decode (``SwapNetwork.projections``).

One round trip took the singer's self-reconstruction (benchmarks/real_quality.py --quick) from a codec grid of
1.67x the plate's own to 1.28x, its detail from 0.64 to 0.68 of the plate's, for 0.003 of face SSIM (0.544 ->
0.541); two gave 1.19x, 0.75 and 0.534. One is the default: the grid goes, the face keeps its shape.
"""

DEFAULT_PROJECTIONS = 1
MAX_PROJECTIONS = 4
