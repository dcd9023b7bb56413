"""Which engine this is, beyond its version number: a digest of the files the installed package runs and loads.

Two installs with the same files render the same pixels, wherever they live, so the digest names the engine for
caches (the Nuke gizmo keys its precompute cache with it); a reinstall or an edit of any module changes it. Only
what the engine executes or loads counts (modules, JSON, weights), with text line endings as git stores them, so a
Windows checkout and a Linux farm of one commit agree, and an editor's backup file beside a module changes nothing.
The digest is read from ``latentswap --version`` (``latentswap 0.1.0 (engine 3f1c09a2b4d5e6f7)``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from latentswap_core import __version__

DIGEST_LENGTH = 16  # hex digits
PACKAGE = Path(__file__).resolve().parent
TEXT_SUFFIXES = (".py", ".json", ".ocio")
BINARY_SUFFIXES = (".safetensors",)


def source_digest(package: Path = PACKAGE) -> str:
    """``DIGEST_LENGTH`` hex digits over the engine's files in ``package`` (relative path and bytes, CRLF read as
    LF in text files): the same on every machine holding the same files."""
    digest = hashlib.sha256()
    files = sorted(path for path in package.rglob("*")
                   if path.name.endswith(TEXT_SUFFIXES + BINARY_SUFFIXES) and path.is_file())
    for path in files:
        name = path.relative_to(package).as_posix().encode("utf-8")
        digest.update(len(name).to_bytes(4, "little") + name)
        content = path.read_bytes()
        if path.name.endswith(TEXT_SUFFIXES):
            content = content.replace(b"\r\n", b"\n")
        digest.update(len(content).to_bytes(8, "little") + content)
    return digest.hexdigest()[:DIGEST_LENGTH]


def version_line() -> str:
    """What ``latentswap --version`` prints."""
    return f"latentswap {__version__} (engine {source_digest()})"
