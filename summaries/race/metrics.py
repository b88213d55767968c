"""Metrics of one optimizer trajectory (numpy only): losses, distances, arrival, outcome, rank.

Shared by `flowscope race` (printed leaderboards, tuning) and the race plugin's leaderboard
route, so both rank racers the same way. Row i of a trajectory is the position and loss
after i updates (row 0 is the start), unless `steps` says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from summaries import checks

# A racer "leaves the window" when it is further outside than this fraction of the window's
# width (height) on either side: generous, so that a wide swing is not called divergence.
MARGIN = 1.0

REASON_NAN = "nan"
REASON_INF = "inf"
REASON_LEFT = "left window"

# What happened to a racer, in the lesson's terms (the `outcome` metric):
ARRIVED = "arrived"  # settled within the tolerance by its last row
NOT_ARRIVED = "not_arrived"  # raced every step without settling
ESCAPED = "escaped"  # left the window of a surface that is unbounded below (the lesson's aim)
DIVERGED = "diverged"  # NaN, Inf, or left the window of a surface bounded below
OUTCOMES = (ARRIVED, NOT_ARRIVED, ESCAPED, DIVERGED)


def outer_window(window: Sequence[float], margin: float = MARGIN) -> list[float]:
    """The window grown by `margin` times its size on every side: leaving it is divergence."""
    xmin, xmax, ymin, ymax = checks.check_window(window)
    dx, dy = (xmax - xmin) * margin, (ymax - ymin) * margin
    return [xmin - dx, xmax + dx, ymin - dy, ymax + dy]


def divergence(
    positions: Any, losses: Any, window: Sequence[float], margin: float = MARGIN
) -> tuple[int | None, str | None]:
    """First row index that is NaN, infinite or outside the outer window, with the reason."""
    pos, loss = _arrays(positions, losses)
    nan = np.isnan(pos).any(axis=1) | np.isnan(loss)
    inf = np.isinf(pos).any(axis=1) | np.isinf(loss)
    xmin, xmax, ymin, ymax = outer_window(window, margin)
    with np.errstate(invalid="ignore"):
        outside = (pos[:, 0] < xmin) | (pos[:, 0] > xmax) | (pos[:, 1] < ymin) | (pos[:, 1] > ymax)
    bad = np.flatnonzero(nan | inf | outside)
    if len(bad) == 0:
        return None, None
    i = int(bad[0])
    return i, REASON_NAN if nan[i] else REASON_INF if inf[i] else REASON_LEFT


def trajectory_metrics(
    positions: Any,
    losses: Any,
    *,
    minima: Sequence[Sequence[float]] | None,
    window: Sequence[float],
    tolerance: float,
    steps: Any = None,
    margin: float = MARGIN,
    unbounded_below: bool = False,
) -> dict[str, Any]:
    """Leaderboard metrics of one trajectory.

    `tolerance` is a distance to the nearest known minimum when `minima` are given, else a
    loss threshold (loss <= tolerance counts as arrived). `first_entry_step` is the first
    step inside the tolerance, `settled_step` the step from which the racer stays inside
    until its last row (None when it diverged). Leaving the window where the surface is
    `unbounded_below` (e.g. the saddle x^2 - y^2) is an escape, not a divergence: the racer
    is frozen there as a diverged one is, but keeps its arrival. `outcome` is one of
    `OUTCOMES`. Non-finite values are reported as None.
    """
    pos, loss = _arrays(positions, losses)
    if len(pos) == 0:
        raise ValueError("positions must have at least one row")
    tol = _number("tolerance", tolerance)
    if tol != tol:
        raise ValueError("tolerance must not be NaN")
    step_of = _steps(steps, len(pos))
    mins = _minima(minima)
    if not isinstance(unbounded_below, bool | np.bool_):
        raise TypeError(f"unbounded_below must be a bool, got {unbounded_below!r}")
    div_row, reason = divergence(pos, loss, window, margin)
    # Only a finite exit from the window escapes; NaN or Inf is a divergence everywhere.
    escaped = div_row is not None and reason == REASON_LEFT and bool(unbounded_below)
    # Everything after the divergence row is ignored: a diverged racer is frozen there.
    end = len(pos) if div_row is None else div_row + 1
    pos, loss, step_of = pos[:end], loss[:end], step_of[:end]

    with np.errstate(invalid="ignore"):
        if len(mins):
            dist = np.sqrt(((pos[:, None, :] - mins[None, :, :]) ** 2).sum(-1)).min(axis=1)
            inside = dist <= tol
            final_distance = _finite(dist[-1])
        else:
            inside = loss <= tol
            final_distance = None
    inside &= np.isfinite(loss) & np.isfinite(pos).all(axis=1)
    entered = np.flatnonzero(inside)
    first_entry = int(step_of[entered[0]]) if len(entered) else None
    settled = None
    if (div_row is None or escaped) and len(entered) and inside[-1]:
        outside = np.flatnonzero(~inside)
        settled = int(step_of[0 if len(outside) == 0 else outside[-1] + 1])
    finite_losses = loss[np.isfinite(loss)]
    stopped = None if div_row is None else int(step_of[div_row])
    diverged = div_row is not None and not escaped
    if diverged:
        outcome = DIVERGED
    elif escaped:
        outcome = ESCAPED
    else:
        outcome = ARRIVED if settled is not None else NOT_ARRIVED
    return {
        "final_loss": _finite(loss[-1]),
        "best_loss": float(finite_losses.min()) if len(finite_losses) else None,
        "distance_to_minimum": final_distance,
        "first_entry_step": first_entry,
        "settled_step": settled,
        "outcome": outcome,
        "diverged": diverged,
        "diverged_step": stopped if diverged else None,
        "escaped_step": stopped if escaped else None,
        "stopped_step": stopped,
        "reason": reason,
        "steps": int(step_of[-1]),
        "tolerance": tol,
        "tolerance_kind": "distance" if len(mins) else "loss",
    }


def outcome_text(metrics: dict[str, Any]) -> str:
    """The outcome in words, as the page's status badge says it."""
    outcome = metrics["outcome"]
    if outcome == ARRIVED:
        return f"arrived at step {metrics['settled_step']}"
    if outcome == ESCAPED:
        return f"escaped at step {metrics['escaped_step']}"
    if outcome == DIVERGED:
        return f"diverged at step {metrics['diverged_step']} ({metrics['reason']})"
    return f"not arrived in {metrics['steps']} steps"


def rank_key(metrics: dict[str, Any]) -> tuple:
    """Leaderboard order (smaller is better): arrival first, by settled step, then first entry,
    then final loss; racers that never settled after all that did, by first entry then final
    loss (unknowns last)."""
    settled = metrics.get("settled_step")
    key = (_or_inf(metrics.get("first_entry_step")), _or_inf(metrics.get("final_loss")))
    return (0, settled, *key) if settled is not None else (1, math.inf, *key)


def ranks(rows: Sequence[dict[str, Any]]) -> list[int | None]:
    """Rank (1, 2, ...) of each metrics dict by `rank_key`; ties share the best rank
    ("1, 1, 3"); None for a row without metrics (an empty dict)."""
    keys = [rank_key(m) if m else None for m in rows]
    known = sorted(k for k in keys if k is not None)
    return [None if k is None else known.index(k) + 1 for k in keys]


def _or_inf(value: Any) -> float:
    return math.inf if value is None else float(value)


def _arrays(positions: Any, losses: Any) -> tuple[np.ndarray, np.ndarray]:
    pos = checks.float_array("positions", checks.host(positions), 2, 2)
    loss = checks.float_array("losses", checks.host(losses), 1)
    if loss.shape != (len(pos),):
        raise ValueError(f"losses must have shape [{len(pos)}], got {list(loss.shape)}")
    return pos, loss


def _steps(steps: Any, n: int) -> np.ndarray:
    if steps is None:
        return np.arange(n, dtype=np.int64)
    array = np.asarray(checks.host(steps))
    if array.shape != (n,) or array.dtype.kind not in "iuf":
        raise ValueError(f"steps must be {n} numbers, got shape {list(array.shape)}")
    return array.astype(np.int64)


def _minima(minima: Sequence[Sequence[float]] | None) -> np.ndarray:
    points = checks.check_points("minima", checks.host(minima))
    return np.asarray(points, dtype=np.float64).reshape(-1, 2)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got bool")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number, got {value!r}") from exc


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
