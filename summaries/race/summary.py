"""Optimizer-race summaries: whole trajectories (in chunks) and loss surfaces.

`trajectory` and `surface` write to the default `tf.summary` writer (eager only: they build
the protos on the host with `summaries.pb`, one format for both writers). `write_trajectory`
and `write_surface` are their TensorFlow-free twins for a `pb.LogWriter`, for PyTorch or
plain-numpy loops. Nothing is written until every argument has been checked (in
`pb.trajectory_events`), so bad input never leaves a half-written trajectory behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from summaries import pb
from summaries._autograph import not_converted

# Validate a whole trajectory and return its (event step, Summary proto) chunks.
trajectory_summaries = not_converted(pb.trajectory_events)


def _check_writer(writer: Any) -> None:
    if not hasattr(writer, "add"):
        raise TypeError(f"writer must be a summaries.pb.LogWriter, got {type(writer).__name__}")


@not_converted
def write_trajectory(
    writer: pb.LogWriter, name: str, steps: Any, positions: Any, losses: Any, **kwargs: Any
) -> int:
    """Write a whole trajectory to a `pb.LogWriter` (no TensorFlow); returns the event count.

    Keyword arguments are those of `pb.trajectory_events` (race, optimizer, surface, window,
    hyperparameters, start, minima, basis, chunk, extra metadata).
    """
    _check_writer(writer)
    events = pb.trajectory_events(name, steps, positions, losses, **kwargs)
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
    _check_writer(writer)
    summary = _surface_pb(name, grid, race, surface, window, minima, log_scale, step)
    writer.add(summary, step=int(step))


def _surface_pb(name, grid, race, surface, window, minima, log_scale, step):
    pb.check_tag(name)
    pb.check_text("race", race)
    pb.check_text("surface", surface)
    if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 0:
        raise ValueError(f"step must be a non-negative integer, got {step!r}")
    return pb.surface_pb(
        name,
        pb.host(grid),
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

    return scope_tag(pb.check_tag(name))


@not_converted
def trajectory(name: str, steps: Any, positions: Any, losses: Any, **kwargs: Any) -> bool:
    """Write a whole optimizer trajectory to the default writer, one event per chunk.

    Rows are (step, x, y, loss); each event's step is the first step of its chunk.
    Keyword arguments are those of `pb.trajectory_events`: race, optimizer, surface and
    window (required), hyperparameters, start, minima, basis, chunk; any other keyword
    is stored as additional JSON metadata (e.g. tolerance).
    Returns False when there is no default writer (nothing written).
    """
    events = pb.trajectory_events(_scoped(name), steps, positions, losses, **kwargs)
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
