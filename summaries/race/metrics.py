"""Metrics of one optimizer trajectory (numpy only): losses, distances, arrival and divergence.

Shared by `flowscope race` (printed leaderboards, tuning) and the race plugin's leaderboard
route, so both rank racers the same way. Row i of a trajectory is the position and loss
after i updates (row 0 is the start), unless `steps` says otherwise.
"""

from __future__ import annotations

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
) -> dict[str, Any]:
    """Leaderboard metrics of one trajectory.

    `tolerance` is a distance to the nearest known minimum when `minima` are given, else a
    loss threshold (loss <= tolerance counts as arrived). `first_entry_step` is the first
    step inside the tolerance, `settled_step` the step from which the racer stays inside
    until its last row (None when it diverged). Non-finite values are reported as None.
    """
    pos, loss = _arrays(positions, losses)
    if len(pos) == 0:
        raise ValueError("positions must have at least one row")
    tol = _number("tolerance", tolerance)
    if tol != tol:
        raise ValueError("tolerance must not be NaN")
    step_of = _steps(steps, len(pos))
    mins = _minima(minima)
    div_row, reason = divergence(pos, loss, window, margin)
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
    if div_row is None and len(entered) and inside[-1]:
        outside = np.flatnonzero(~inside)
        settled = int(step_of[0 if len(outside) == 0 else outside[-1] + 1])
    finite_losses = loss[np.isfinite(loss)]
    return {
        "final_loss": _finite(loss[-1]),
        "best_loss": float(finite_losses.min()) if len(finite_losses) else None,
        "distance_to_minimum": final_distance,
        "first_entry_step": first_entry,
        "settled_step": settled,
        "diverged": div_row is not None,
        "diverged_step": None if div_row is None else int(step_of[div_row]),
        "reason": reason,
        "steps": int(step_of[-1]),
        "tolerance": tol,
        "tolerance_kind": "distance" if len(mins) else "loss",
    }


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
