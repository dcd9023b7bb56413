"""glibc's malloc thresholds (latentswap_core/heap.py)."""

from __future__ import annotations

import platform
import sys

from latentswap_core.heap import keep_large_blocks


def test_the_thresholds_are_set_once_where_glibc_is():
    expected = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert keep_large_blocks() is expected
    assert keep_large_blocks() is expected  # a second call changes nothing and answers the same
