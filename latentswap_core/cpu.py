"""The CPU cores this process may use, and how many threads one call of a CPU library should take."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_threads() -> int:
    """Threads for one network call: ``OMP_NUM_THREADS`` where it is set (a farm's limit per process), else the
    usable cores."""
    try:  # OpenMP also takes a list, one count per nesting level: the first is this level's
        return max(1, int(os.environ["OMP_NUM_THREADS"].split(",")[0]))
    except (KeyError, ValueError):
        return usable_cores()
