"""Metrics of one optimizer trajectory (numpy only): losses, distances, arrival, outcome, rank.

Shared by `flowscope race` (printed leaderboards, tuning) and the race plugin's leaderboard
route, so both rank racers the same way. Row i of a trajectory is the position and loss
after i updates (row 0 is the start), unless `steps` says otherwise.

An own-model race (`summaries.race.model_race`) has no known minimum: its racers are
measured by `model_metrics` (best validation loss or compiled metric, time to reach a
target, wall time per step), written into each trajectory's ``model_metrics`` metadata
(format version 5), and ranked by `rank_key` on it (`model_row` reads it back).
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
    loss (unknowns last).

    A racer of an own-model race (its metrics hold `ranked_by`, see `model_metrics`) ranks by
    its `score` instead (lower first with goal "min", higher first with "max"), then its final
    training loss; diverged racers come after the others, and a racer without a score after
    those with one."""
    if metrics.get("ranked_by") is not None:
        score = metrics.get("score")
        value = math.inf if score is None else float(score)
        if score is not None and metrics.get("goal") == "max":
            value = -value
        return (int(bool(metrics.get("diverged"))), value, _or_inf(metrics.get("final_loss")))
    settled = metrics.get("settled_step")
    key = (_or_inf(metrics.get("first_entry_step")), _or_inf(metrics.get("final_loss")))
    return (0, settled, *key) if settled is not None else (1, math.inf, *key)


def ranks(rows: Sequence[dict[str, Any]]) -> list[int | None]:
    """Rank (1, 2, ...) of each metrics dict by `rank_key`; ties share the best rank
    ("1, 1, 3"); None for a row without metrics (an empty dict)."""
    keys = [rank_key(m) if m else None for m in rows]
    known = sorted(k for k in keys if k is not None)
    return [None if k is None else known.index(k) + 1 for k in keys]


# -- own-model races -------------------------------------------------------------------

# The default target of an own-model race: this share of the way from the racers' common
# start to the best score any racer reached (of the value the race ranks by).
TARGET_SHARE = 0.9
# Validation points of the ranked series kept in the metadata (`history`), per racer.
MAX_HISTORY = 1000
# Compiled metrics for which higher is better, by name (Keras's names, any case, "val_"
# dropped); every other metric (and every loss) is better lower.
HIGHER_IS_BETTER = (
    "accuracy",
    "acc",
    "auc",
    "precision",
    "recall",
    "f1",
    "fbeta",
    "iou",
    "r2",
    "specificity",
    "sensitivity",
)
GOALS = ("min", "max")
# how a racer's wall time per step was measured
TIMING_SEQUENTIAL = "sequential"  # its own compiled step, racers one after another per batch
TIMING_BATCHED = "batched"  # one compiled step of all racers: the time is the whole step's
TIMINGS = (TIMING_SEQUENTIAL, TIMING_BATCHED)
# the `model_metrics` fields that a leaderboard row carries (`model_row`)
MODEL_NUMBERS = (
    "score",
    "score_step",
    "best_val_loss",
    "best_val_loss_step",
    "final_val_loss",
    "target",
    "target_step",
    "target_seconds",
    "ms_per_step",
    "timed_steps",
)
MODEL_TEXTS = ("ranked_by", "goal", "target_rule", "timing")


def metric_goal(name: str) -> str:
    """The direction of a compiled metric: "max" when higher is better (accuracy, AUC,
    precision, recall, F-scores, IoU, R², ...: `HIGHER_IS_BETTER`, by name), else "min"
    (losses, errors)."""
    base = name.lower().removeprefix("val_")
    words = base.replace("-", "_").split("_")
    return "max" if any(w in HIGHER_IS_BETTER for w in words) or base in HIGHER_IS_BETTER else "min"


def best_point(points: Sequence[Sequence[float]], goal: str) -> tuple[int, float] | None:
    """(step, value) of the best finite value of [(step, value), ...] (the first of equals)."""
    best = None
    for step, value in points:
        value = float(value)
        if not math.isfinite(value):
            continue
        if best is None or (value < best[1] if goal == "min" else value > best[1]):
            best = (int(step), value)
    return best


def default_target(
    scores: Sequence[float | None], goal: str, start: float | None, share: float = TARGET_SHARE
) -> float | None:
    """The target an own-model race times when none is given: `share` (90 %) of the way from
    `start` (the racers' common value at step 0) to the best score of any racer, so that it
    measures who gets most of the way first, whatever the loss's scale; the best score
    itself without a finite start; None when no racer has a finite score."""
    finite = [float(s) for s in scores if s is not None and math.isfinite(s)]
    if not finite:
        return None
    best = min(finite) if goal == "min" else max(finite)
    if start is None or not math.isfinite(start):
        return best
    return float(start + share * (best - start))


def first_reaching(points: Sequence[Sequence[float]], target: float, goal: str) -> int | None:
    """The first step of [(step, value), ...] whose value is at or beyond `target` (at or
    below it for goal "min", at or above for "max"); None when none is. Compared in float32,
    the precision Keras computes and TensorBoard logs them in (an accuracy of 42 / 60 is
    0.69999999 there, and reaches a target of 0.7)."""
    goal_32 = np.float32(target)
    for step, value in points:
        value = float(value)
        if not math.isfinite(value):
            continue
        value_32 = np.float32(value)
        if value_32 <= goal_32 if goal == "min" else value_32 >= goal_32:
            return int(step)
    return None


def model_metrics(
    losses: Any,
    validation: dict[str, Sequence[Sequence[float]]] | None,
    *,
    ranked_by: str,
    goal: str,
    target: float | None,
    target_rule: str | None = None,
    step_seconds: Any = None,
    timing: str = TIMING_SEQUENTIAL,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An own-model racer's leaderboard metrics (the trajectory metadata's `model_metrics`).

    losses: training loss per step (index t: the loss of batch t at the weights after t
    updates); validation: {"val_loss": [(step, value), ...], "val_<metric>": ...};
    ranked_by: "loss" (the final training loss) or a key of `validation`; goal: "min" or
    "max"; target: the value of `ranked_by` whose first reaching is timed (None: no target);
    step_seconds: the wall time of each of the racer's updates (seconds), measured as
    `timing` says; tags: where the series are logged ({"loss": tag, "val_loss": tag, ...}).

    `score` is the final training loss ("loss") or the best value of the validation series,
    `score_step` its step; `target_step` the first step that reached `target` (the training
    loss per step for "loss", else the validation points), `target_seconds` the racer's own
    update time up to that step; `ms_per_step` the mean update time; `history` the ranked
    validation series and the validation loss ({key: [[step, value], ...]}, at most about
    `MAX_HISTORY` points each: evenly strided, keeping the best and the target's) for a page
    that shows the race as of a step. Non-finite values are None.
    """
    if goal not in GOALS:
        raise ValueError(f"goal must be one of {GOALS}, got {goal!r}")
    if timing not in TIMINGS:
        raise ValueError(f"timing must be one of {TIMINGS}, got {timing!r}")
    loss = np.asarray(checks.host(losses), dtype=np.float64).reshape(-1)
    validation = {k: [(int(s), float(v)) for s, v in p] for k, p in (validation or {}).items()}
    if ranked_by == "loss":
        points = [(t, float(v)) for t, v in enumerate(loss)]
        last = len(loss) - 1
        score = (last, float(loss[-1])) if len(loss) and math.isfinite(loss[-1]) else None
    elif ranked_by in validation:
        points = validation[ranked_by]
        score = best_point(points, goal)
    else:
        raise ValueError(f"ranked_by {ranked_by!r} is neither 'loss' nor a validation series")
    target_step = None if target is None else first_reaching(points, target, goal)
    history = {
        key: _thin(validation[key], {target_step, None if score is None else score[0]})
        for key in sorted({"val_loss", ranked_by} & set(validation))
    }
    seconds = np.asarray(
        [] if step_seconds is None else checks.host(step_seconds), dtype=np.float64
    ).reshape(-1)
    val_best = best_point(validation.get("val_loss", []), "min")
    finals = [v for _, v in validation.get("val_loss", []) if math.isfinite(v)]
    return {
        "ranked_by": ranked_by,
        "goal": goal,
        "score": None if score is None else score[1],
        "score_step": None if score is None else score[0],
        "best_val_loss": None if val_best is None else val_best[1],
        "best_val_loss_step": None if val_best is None else val_best[0],
        "final_val_loss": finals[-1] if finals else None,
        "target": None if target is None else float(target),
        "target_rule": target_rule if target is not None else None,
        "target_step": target_step,
        "target_seconds": (
            None
            if target_step is None or target_step > len(seconds)
            else float(seconds[:target_step].sum())
        ),
        "ms_per_step": float(1000 * seconds.mean()) if len(seconds) else None,
        "timed_steps": int(len(seconds)),
        "timing": timing,
        "history": {k: [[s, v] for s, v in p if math.isfinite(v)] for k, p in history.items()},
        "tags": dict(tags or {}),
    }


def _thin(points: list[tuple[int, float]], keep_steps: set) -> list[tuple[int, float]]:
    """At most about `MAX_HISTORY` points, evenly strided, keeping those at `keep_steps`."""
    if len(points) <= MAX_HISTORY:
        return points
    keep = set(np.linspace(0, len(points) - 1, MAX_HISTORY - 2).round().astype(int).tolist())
    keep |= {i for i, (s, _) in enumerate(points) if s in keep_steps}
    return [points[i] for i in sorted(keep)]


def _pairs(value: Any) -> list[list[float]]:
    """[[step, value], ...] of finite numbers from a logged list (others dropped)."""
    return [
        [p[0], p[1]]
        for p in (value if isinstance(value, list) else [])
        if isinstance(p, list | tuple)
        and len(p) == 2
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in p)
        and all(math.isfinite(x) for x in p)
    ]


def model_row(value: Any) -> dict[str, Any]:
    """The leaderboard fields of a logged `model_metrics` (from any writer, so checked):
    numbers finite or None, texts strings or None, `history` {key: [[step, value], ...]} of
    finite numbers, `tags` {name: tag}; {} when `value` is not an own-model racer's
    metrics."""
    if not isinstance(value, dict) or not isinstance(value.get("ranked_by"), str):
        return {}
    row: dict[str, Any] = {}
    for key in MODEL_NUMBERS:
        v = value.get(key)
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        row[key] = v if ok else None
    for key in MODEL_TEXTS:
        v = value.get(key)
        row[key] = v if isinstance(v, str) else None
    if row["goal"] not in GOALS:
        row["goal"] = "min"
    history = value.get("history")
    row["history"] = (
        {str(k): _pairs(v) for k, v in history.items()} if isinstance(history, dict) else {}
    )
    tags = value.get("tags")
    row["tags"] = (
        {str(k): v for k, v in tags.items() if isinstance(v, str)} if isinstance(tags, dict) else {}
    )
    return row


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
