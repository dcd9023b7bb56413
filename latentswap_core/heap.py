"""glibc's malloc told to keep large freed blocks, for dlib's networks.

dlib's CNN face detector (``track.second_detector``) and its descriptor network (``identity``) allocate and free
buffers of tens of MiB at every layer of every call. glibc serves blocks over its mmap threshold (128 KiB at first,
rising to at most 32 MiB as such blocks are freed) with a fresh ``mmap`` each time and gives freed heap top back to
the system beyond its trim threshold (128 KiB), so every call faults the same pages in again: on the real clip
(``latentswap track``, 275 frames of 640 x 360, 2 cores) about 7.9 million minor page faults and 15 s of system time
in 83 s. The detector alone took 1.23 s per frame, and 0.92 s with both thresholds at 1 GiB (an mmap threshold of 32
MiB changed nothing: dlib's largest buffers are bigger). Raising both keeps the freed blocks in the heap for the
next call: the output is the same, the time shorter, and the peak resident memory stays about where it was (the
buffers are reused, not piled up): the whole clip took 68 s instead of 83 s, with 570 MB at most resident instead of
583 MB. Memory freed after a large computation is no longer handed back to the system until the process ends.

The setting is process-wide (every allocation through glibc's malloc, whoever makes it): right for a command
line process that mostly runs these networks, which is why it is applied where dlib's models load, once.
Elsewhere than Linux with glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys

# mallopt's parameters, from glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Blocks up to this size come from the heap and are reused. glibc 2.36 (Debian 12) takes it; a glibc that refuses
# it (some cap the threshold at 32 MiB, which would not help) is left as it was.
MMAP_THRESHOLD = 1024 * 1024 * 1024
TRIM_THRESHOLD = 1024 * 1024 * 1024

_applied: bool | None = None


def keep_large_blocks() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (once; later calls return the first answer).
    True where glibc took both settings; False elsewhere (not Linux, not glibc, or refused)."""
    global _applied
    if _applied is None:
        _applied = _set_thresholds()
    return _applied


def _set_thresholds() -> bool:
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
