"""Optimizer-race summaries: whole trajectories (in chunks) and loss surfaces.

`trajectory` and `surface` write to the default `tf.summary` writer (eager only: they build
the protos on the host with `summaries.pb`, one format for both writers). `write_trajectory`
and `write_surface` are their TensorFlow-free twins for a `pb.LogWriter`, for PyTorch or
plain-numpy loops. Nothing is written until every argument has been checked, so bad input
never leaves a half-written trajectory behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from summaries import pb
from summaries._autograph import not_converted

_RESERVED = {
    "version",
    "kind",
    "race",
    "optimizer",
    "hyperparameters",
    "surface",
    "window",
    "start",
    "minima",
    "basis",
    "chunk",
}


def _host(value: Any) -> Any:
    """numpy view of a tensor, or the value itself."""
    if hasattr(value, "numpy") and callable(value.numpy):
        return value.numpy()
    return value


def _check_chunk(chunk: Any) -> int:
    if isinstance(chunk, bool) or not isinstance(chunk, int | np.integer):
        raise TypeError(f"chunk must be an integer, got {type(chunk).__name__}")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    return int(chunk)


def _check_tag(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if not name or name.startswith("/") or name.endswith("/") or "//" in name:
        raise ValueError(f"name must be a non-empty tag without empty segments, got {name!r}")
    return name


def _check_text(argument: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{argument} must be a non-empty string, got {value!r}")
    return value


@not_converted
def trajectory_summaries(
    tag: str,
    steps: Any,
    positions: Any,
    losses: Any,
    *,
    race: str,
    optimizer: str,
    surface: str,
    window: Sequence[float],
    hyperparameters: dict[str, Any] | None = None,
    start: Sequence[float] | None = None,
    minima: Sequence[Sequence[float]] | None = None,
    basis: dict[str, Any] | None = None,
    chunk: int = pb.DEFAULT_CHUNK,
    **extra: Any,
) -> list[tuple[int, Any]]:
    """Validate a whole trajectory and return its (event step, Summary proto) chunks."""
    _check_tag(tag)
    _check_text("race", race)
    _check_text("optimizer", optimizer)
    _check_text("surface", surface)
    chunk = _check_chunk(chunk)
    clash = sorted(_RESERVED & set(extra))
    if clash:
        raise ValueError(f"extra metadata fields must not reuse reserved names: {clash}")
    steps_a = pb._float_array("steps", _host(steps), 1)
    pos = pb._float_array("positions", _host(positions), 2, 2)
    loss = pb._float_array("losses", _host(losses), 1)
    if not (len(steps_a) == len(pos) == len(loss)) or len(steps_a) == 0:
        raise ValueError(
            "steps, positions and losses must have the same non-zero length, got "
            f"{len(steps_a)}, {len(pos)}, {len(loss)}"
        )
    if not np.isfinite(steps_a).all() or (steps_a != np.round(steps_a)).any():
        raise ValueError("steps must be whole finite numbers")
    if (np.diff(steps_a) <= 0).any():
        raise ValueError("steps must be strictly increasing")
    if steps_a[0] < 0 or steps_a[-1] >= 2**63:
        raise ValueError("steps must be non-negative int64 values")
    if start is None:
        start = pos[0] if np.isfinite(pos[0]).all() else None
    meta = dict(
        race=race,
        optimizer=optimizer,
        surface=surface,
        window=window,
        hyperparameters=hyperparameters,
        start=start,
        minima=minima,
        basis=basis,
        chunk=chunk,
        **extra,
    )
    return [
        (first, pb.trajectory_pb(tag, s, p, lo, **meta))
        for first, s, p, lo in pb.trajectory_chunks(steps_a, pos, loss, chunk)
    ]


@not_converted
def write_trajectory(
    writer: pb.LogWriter, name: str, steps: Any, positions: Any, losses: Any, **kwargs: Any
) -> int:
    """Write a whole trajectory to a `pb.LogWriter` (no TensorFlow); returns the event count.

    Keyword arguments are those of `trajectory` (race, optimizer, surface, window, ...).
    """
    if not hasattr(writer, "add"):
        raise TypeError(f"writer must be a summaries.pb.LogWriter, got {type(writer).__name__}")
    events = trajectory_summaries(name, steps, positions, losses, **kwargs)
    for step, summary in events:
        writer.add(summary, step=step)
    return len(events)


@not_converted
def write_surface(
    writer: pb.LogWriter,
    name: str,
    grid: Any,
    *,
    race: str,
    surface: str,
    window: Sequence[float],
    minima: Sequence[Sequence[float]] | None = None,
    log_scale: bool = False,
    step: int = 0,
) -> None:
    """Write a loss surface on a regular [ny, nx] grid over `window` (no TensorFlow)."""
    if not hasattr(writer, "add"):
        raise TypeError(f"writer must be a summaries.pb.LogWriter, got {type(writer).__name__}")
    summary = _surface_pb(name, grid, race, surface, window, minima, log_scale, step)
    writer.add(summary, step=int(step))


def _surface_pb(name, grid, race, surface, window, minima, log_scale, step):
    _check_tag(name)
    _check_text("race", race)
    _check_text("surface", surface)
    if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 0:
        raise ValueError(f"step must be a non-negative integer, got {step!r}")
    return pb.surface_pb(
        name,
        _host(grid),
        race=race,
        surface=surface,
        window=window,
        minima=minima,
        log_scale=log_scale,
    )


# -- TensorFlow writers ---------------------------------------------------------------


def _write_raw(summary: Any, step: int) -> Any:
    import tensorflow as tf

    if not tf.executing_eagerly():
        raise RuntimeError(
            "summaries.trajectory and summaries.surface run eagerly: call them outside "
            "tf.function (e.g. once the race is over), or use write_trajectory"
        )
    return tf.summary.experimental.write_raw_pb(tf.constant(summary.SerializeToString()), step=step)


def _scoped(name: str) -> str:
    from summaries.basic import scope_tag

    return scope_tag(_check_tag(name))


@not_converted
def trajectory(
    name: str,
    steps: Any,
    positions: Any,
    losses: Any,
    *,
    race: str,
    optimizer: str,
    surface: str,
    window: Sequence[float],
    hyperparameters: dict[str, Any] | None = None,
    start: Sequence[float] | None = None,
    minima: Sequence[Sequence[float]] | None = None,
    basis: dict[str, Any] | None = None,
    chunk: int = pb.DEFAULT_CHUNK,
    **extra: Any,
) -> bool:
    """Write a whole optimizer trajectory to the default writer, one event per chunk.

    Rows are (step, x, y, loss); each event's step is the first step of its chunk.
    `extra` keyword arguments are stored as additional JSON metadata (e.g. tolerance).
    Returns False when there is no default writer (nothing written).
    """
    events = trajectory_summaries(
        _scoped(name),
        steps,
        positions,
        losses,
        race=race,
        optimizer=optimizer,
        surface=surface,
        window=window,
        hyperparameters=hyperparameters,
        start=start,
        minima=minima,
        basis=basis,
        chunk=chunk,
        **extra,
    )
    written = True
    for step, summary in events:
        written = bool(_write_raw(summary, step)) and written
    return written


@not_converted
def surface(
    name: str,
    grid: Any,
    *,
    race: str,
    surface: str,
    window: Sequence[float],
    minima: Sequence[Sequence[float]] | None = None,
    log_scale: bool = False,
    step: int = 0,
) -> bool:
    """Write a loss surface sampled on a regular [ny, nx] grid over `window`."""
    summary = _surface_pb(_scoped(name), grid, race, surface, window, minima, log_scale, step)
    return bool(_write_raw(summary, int(step)))
