"""Module-level `__getattr__` helpers: public names imported on first use. Standard library
only (`import summaries` must stay light)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy(
    namespace: dict[str, Any],
    exports: dict[str, str],
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for a module whose `namespace` is its globals().

    `exports` maps a public name to the module defining it (imported, then cached in the
    namespace, on first use).
    """
    module = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted([*namespace, *exports])

    return __getattr__, __dir__
