"""Package attributes loaded on first use (PEP 562), so that importing a package's light modules (the command
line's option lists) does not load torch through its ``__init__``."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], Any], list[str]]:
    """(``__getattr__``, ``__all__``) for ``package``: each name in ``exports`` is taken from its module when first
    asked for, then kept in the package."""
    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(exports[name]), name)
        setattr(import_module(package), name, value)
        return value
    return __getattr__, sorted(exports)
