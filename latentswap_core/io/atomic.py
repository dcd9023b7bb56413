"""Writes that either land whole under their final name or not at all."""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from latentswap_core.errors import OutputError

PARTIAL_MARK = ".partial-"
MAX_NAME_BYTES = 255 - 40  # a file name's limit, less what the partial name beside it adds
# Read once at import (setting the umask to read it is not thread-safe later): files land with the permissions the
# user's umask gives any new file, not the 0600 some writers (safetensors) create, so the farm and Nuke can read them.
_UMASK = os.umask(0o022)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK


_TOKEN_BYTES = 8
# ``partial_path``'s names, the writer's PID as group 1 (for io/stale_partials.py)
PARTIAL_NAME = re.compile(rf"^\..+{re.escape(PARTIAL_MARK)}(\d+)-[0-9a-f]{{{2 * _TOKEN_BYTES}}}(\.[^.]*)?$")


def partial_path(final: Path) -> Path:
    """A hidden name beside ``final`` that keeps its extension (image writers choose the format by it)."""
    token = f"{os.getpid()}-{secrets.token_hex(_TOKEN_BYTES)}"
    return final.with_name(f".{final.stem}{PARTIAL_MARK}{token}{final.suffix}")


@contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; it is synced and renamed onto ``final`` when the block succeeds.

    A crash or kill mid-write leaves at most a hidden ``.name.partial-*`` file, never a partial ``final``;
    an earlier file under the final name stays intact until the rename replaces it.
    """
    final = check_output_file(final)
    temporary = partial_path(final)
    try:
        yield temporary
        os.chmod(temporary, FILE_MODE)
        _fsync(temporary)
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def check_output_file(final: str | os.PathLike[str]) -> Path:
    """``final`` as a Path if a file may be written there; else an OutputError, before any work is done.

    Refused: a folder, and an existing file that is not a regular file (a device, FIFO or socket, or a link to
    one): the atomic rename would replace it with a regular file, and run as root ``-o /dev/null`` would destroy
    /dev/null.
    """
    final = Path(final)
    if len(os.fsencode(final.name)) > MAX_NAME_BYTES:
        raise OutputError(f"{final.name[:40]}...: the file name is {len(os.fsencode(final.name))} bytes, more than "
                          f"file systems take ({MAX_NAME_BYTES}); give a shorter name")
    if final.is_dir():
        raise OutputError(f"{final}: is a folder; give the name of a file to write")
    try:
        mode = os.stat(final).st_mode
    except FileNotFoundError:
        return final
    except OSError as error:
        raise OutputError(f"{final}: cannot be checked ({error.strerror or error}); choose another output") from None
    if not stat.S_ISREG(mode):
        raise OutputError(f"{final}: exists and is not a regular file (a device, pipe or socket); give the name of "
                          "a file to write")
    return final


def write_bytes_atomically(final: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(final) as temporary:
        temporary.write_bytes(data)


def write_text_atomically(final: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomically(final, text.encode("utf-8"))


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
