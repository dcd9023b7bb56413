"""The synthetic shots of ``latentswap_core.demo.shot``, under the short name the tests import."""

from latentswap_core.demo.shot import *  # noqa: F403
from latentswap_core.demo.shot import __all__  # noqa: F401
