"""Package attributes loaded on first use (PEP 562), so that importing a package's light modules (the command
line's option lists) does not load torch through its ``__init__``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any


def lazy_exports(package: str, exports: dict[str, Callable[[], ModuleType]]) -> tuple[Callable[[str], Any], list[str]]:
    """(``__getattr__``, ``__all__``) for ``package``: each name in ``exports`` is taken, when first asked for, from
    the module its loader imports (each loader names its module literally, so what may load stays auditable), then
    kept in the package."""
    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(exports[name](), name)
        setattr(sys.modules[package], name, value)
        return value
    return __getattr__, sorted(exports)
