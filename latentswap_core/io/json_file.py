"""Reading the JSON files a user or another machine hands us (track files, facesets, model and refiner folders),
bounded: only regular files, at most ``MAX_JSON_BYTES``, any nesting depth refused as a one-line error, and
names listed in a folder's JSON kept inside that folder."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from latentswap_core.errors import LatentSwapError

MAX_JSON_BYTES = 256 * 2**20  # a track file of a 100,000-frame shot with several faces is well under this


def read_json(path: str | os.PathLike[str], error: type[LatentSwapError], fix: str) -> Any:
    """The parsed contents of ``path``; else ``error`` (one line naming the file, what is wrong, and ``fix``).

    Refused before reading: a folder, a device, pipe or socket (``/dev/zero`` would read forever, a FIFO hang),
    a link loop, and a file over ``MAX_JSON_BYTES``; after: bytes that are not UTF-8 JSON, or nest deeper than
    Python's parser can follow."""
    path = Path(path)
    try:
        mode, size = _stat(path)
    except FileNotFoundError:
        raise error(f"{path}: file not found; {fix}") from None
    except OSError as problem:
        raise error(f"{path}: cannot be read ({problem.strerror or problem}); {fix}") from None
    if stat.S_ISDIR(mode):
        raise error(f"{path}: is a folder, not a JSON file; {fix}")
    if not stat.S_ISREG(mode):
        raise error(f"{path}: is not a regular file (a device, pipe or socket); {fix}")
    if size > MAX_JSON_BYTES:
        raise error(f"{path}: {size / 2**20:.0f} MiB is more than a JSON file of ours holds "
                    f"({MAX_JSON_BYTES // 2**20} MiB); {fix}")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_JSON_BYTES + 1)
        return json.loads(data.decode("utf-8"))
    except OSError as problem:
        raise error(f"{path}: cannot be read ({problem.strerror or problem}); {fix}") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not UTF-8 text, so not a JSON file of ours; {fix}") from None
    except json.JSONDecodeError as problem:
        raise error(f"{path}: not valid JSON ({problem.msg} at line {problem.lineno}); {fix}") from None
    except RecursionError:
        raise error(f"{path}: JSON nested too deeply to be a file of ours; {fix}") from None


def inside(folder: str | os.PathLike[str], name: str, error: type[LatentSwapError], listed_in: str) -> Path:
    """``folder / name`` when ``name`` (as a folder's JSON lists it) stays inside ``folder``, links resolved;
    else ``error``: an absolute path or ``..`` in a faceset could make training read any file."""
    folder = Path(folder)
    if not isinstance(name, str) or not name or os.path.isabs(name) or "\x00" in name:
        raise error(f"{listed_in}: lists {name!r}, not a file name inside {folder}; make the folder again")
    path = folder / name
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        raise error(f"{listed_in}: lists {name!r}, which lies outside {folder}; make the folder again") from None
    except (OSError, RuntimeError) as problem:  # a link loop
        raise error(f"{listed_in}: lists {name!r}, which cannot be resolved ({problem}); make the folder again") \
            from None
    return path


def _stat(path: Path) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_mode, info.st_size
