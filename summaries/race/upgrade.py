"""Reading the race kind's older metadata: what it left out and the race library knows.

Version 1 had no display fields: its only writer of them was Flowscope's own race command,
whose surfaces and optimizers are the library's registries (`SURFACES`, `OPTIMIZERS`), so
missing fields are read from there, as version-1 readers did; a trajectory of a library
surface written before ``axes`` existed gets the surface's axes. Everything else (defaults,
the version) is `summaries.format.upgrade`. The registries are numpy at most, imported on
first use; a broken install leaves the defaults.
"""

from __future__ import annotations

from typing import Any

from summaries import format as fmt


def parse_content(content: bytes) -> dict[str, Any]:
    """Decode a plugin content blob into current-version fields, the race library's included.

    Raises `summaries.format.FormatError` for garbage or a version Flowscope cannot read.
    """
    return upgrade(fmt.decode_content(content))


def upgrade(payload: dict[str, Any]) -> dict[str, Any]:
    """`summaries.format.upgrade`, after filling a trajectory's fields from the library."""
    if payload.get("kind") == fmt.TRAJECTORY:
        surface = _library_surface(payload)
        if payload.get("version") == 1:
            _upgrade_v1_trajectory(payload, surface)
        if payload.get("axes") is None and surface is not None:
            payload["axes"] = list(surface.axes)  # written before `axes` existed
    return fmt.upgrade(payload)


def _library_surface(payload: dict[str, Any]) -> Any:
    """The library surface a trajectory ran on; None for a projected or unknown one."""
    try:  # a numpy-only registry; a broken install leaves the defaults
        from summaries.race.surfaces import SURFACES
    except Exception:
        return None
    surface = SURFACES.get(str(payload.get("surface")))
    return surface if payload.get("basis") is None else None


def _upgrade_v1_trajectory(payload: dict[str, Any], surface: Any) -> None:
    try:  # numpy-only registry; a broken install leaves the defaults
        from summaries.race.optimizers import OPTIMIZERS
    except Exception:
        return
    if surface is not None:
        payload.setdefault("surface_title", surface.title)
        payload.setdefault("description", surface.description)
        payload.setdefault("formula", getattr(surface, "formula", None))
        payload.setdefault("tolerance", surface.tolerance)
        payload.setdefault("analytic", bool(surface.analytic))
        payload.setdefault("unbounded_below", bool(surface.unbounded_below))
    order = list(OPTIMIZERS)
    if payload.get("optimizer") in order:
        payload.setdefault("order", order.index(payload["optimizer"]))
