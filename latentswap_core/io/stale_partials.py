"""Hidden partial files left by writers that died (a killed render, a lost farm node): found and removed.

A partial file is ``.NAME.partial-PID-TOKEN.EXT`` (``atomic.partial_path``). One is stale when it has not been
written to for ``older_than`` seconds (a day by default) and no process of its PID runs on this machine. The
age matters most: a folder on a farm's file server is shared by writers on other machines, whose PIDs say
nothing here, and a live writer touches its file at least once a frame.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from latentswap_core.io.atomic import PARTIAL_NAME

STALE_AFTER_SECONDS = 24 * 3600


def _writer_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs here. No PID a writer could have (0 and below would signal process groups;
    one past the OS's range overflows) is dead."""
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there: trust the age alone
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # another user's process
        return True
    return True


def stale_partials(folder: str | os.PathLike[str], older_than: float = STALE_AFTER_SECONDS,
                   recursive: bool = False, now: float | None = None) -> list[Path]:
    """The stale partial files in ``folder`` (and its subfolders when ``recursive``), sorted."""
    now = time.time() if now is None else now
    paths = Path(folder).rglob(".*") if recursive else Path(folder).glob(".*")
    found = []
    for path in paths:
        match = PARTIAL_NAME.match(path.name)
        if match is None or path.is_symlink() or not path.is_file():
            continue
        try:
            idle = now - path.stat().st_mtime
        except OSError:
            continue
        if idle >= older_than and not _writer_alive(int(match.group(1))):
            found.append(path)
    return sorted(found)


def remove_stale_partials(folder: str | os.PathLike[str], older_than: float = STALE_AFTER_SECONDS,
                          recursive: bool = False) -> list[Path]:
    """Remove what ``stale_partials`` finds; returns the files removed (one that vanished meanwhile is skipped)."""
    removed = []
    for path in stale_partials(folder, older_than, recursive):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed
