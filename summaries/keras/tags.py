"""Tag components from Keras names (layers, weights, metrics, optimizer slots)."""

from __future__ import annotations

import re
from typing import Any

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-/]")


def clean(name: Any) -> str:
    """`name` without a ``:0`` suffix or outer slashes, unsafe characters as ``_``."""
    return _UNSAFE.sub("_", str(name).split(":")[0]).strip("/") or "unnamed"
