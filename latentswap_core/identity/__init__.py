"""Face identity: a 128-d descriptor per face (dlib's ResNet), compared by euclidean distance.

Used to measure whether a swap shows the identity it should (``benchmarks/identity_leakage.py``).
"""

from latentswap_core.identity.dlib_descriptor import (
    SAME_PERSON_DISTANCE,
    DlibIdentity,
    identity_distance,
    mean_descriptor,
)

__all__ = ["SAME_PERSON_DISTANCE", "DlibIdentity", "identity_distance", "mean_descriptor"]
