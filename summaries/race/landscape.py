"""A model's real loss landscape from its racers' weights, with numpy only: any framework.

The framework-free half of racing optimizers on a model of your own. Given each racer's
flat weight vectors along its path (the start shared), its training loss per step and
a function ``loss_at(flat_weights) -> loss``, `race_landscape` fits the plane through the
start spanned by the first two principal components of all racers' displacements
(uncentred; Li et al. 2018, section 7), projects every kept weight vector onto it (least
squares), evaluates ``loss_at`` on a grid of the plane, ranks the racers
(`summaries.race.metrics.model_metrics`) and, with `logdir`, writes one run in the race
layout (`write_model_race`): what `summaries.race.model_race.race_model` writes for a Keras
model, which is built on the same functions. A PyTorch race is
docs/examples/pytorch_model_race.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from summaries.race import optimizers as opts

MAX_GRID = 201
METRIC_PREFIX = "race"


@dataclass
class ModelRacer:
    """What one racer did: a loss per step, weights projected at snapshot steps, validation."""

    name: str
    optimizer: str  # a name of `OPTIMIZERS`, or any other label ("torch.optim.Adam")
    hyperparameters: dict[str, Any]
    losses: np.ndarray  # [n] training loss of the batch at step i, before update i
    snapshot_steps: np.ndarray  # [m] steps whose weights were kept
    snapshots: np.ndarray | None  # [m, weights] float32 (dropped once projected)
    validation: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    diverged_step: int | None = None
    positions: np.ndarray | None = None  # [m, 2] on the plane
    tuning: dict[str, Any] | None = None
    # wall time (s) of each of its updates: its own step, racers one after another
    step_seconds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    metrics: dict[str, Any] | None = None  # the leaderboard's (`metrics.model_metrics`)

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])

    @property
    def ms_per_step(self) -> float | None:
        """Mean wall time of one update (ms)."""
        return float(1000 * self.step_seconds.mean()) if len(self.step_seconds) else None

    def best(self, key: str = "val_loss") -> float | None:
        values = [v for _, v in self.validation.get(key, []) if math.isfinite(v)]
        return min(values) if values else None


@dataclass
class ModelRace:
    """A finished model race: racers, plane (basis, window), surface grid, timings."""

    name: str
    racers: list[ModelRacer]
    steps: int
    batch_size: int | None
    basis: dict[str, Any]
    window: list[float]
    grid: np.ndarray  # [n, n] loss on the plane (rows follow the second direction)
    seconds: dict[str, float]
    run_dir: Path | None = None
    ranked_by: str = "loss"  # "val_loss", "val_<metric>" or "loss" (final training loss)
    goal: str = "min"  # which way `ranked_by` is better
    target: float | None = None  # the value of `ranked_by` whose first reaching is timed
    target_rule: str | None = None  # "given" or "default"
    origin: np.ndarray | None = None  # [weights] the shared start
    directions: np.ndarray | None = None  # [weights, 2]: point (a, b) is origin + a d1 + b d2
    loss_name: str = "compiled loss"  # what the surface shows, in the map's description

    def ranked(self) -> list[ModelRacer]:
        """The racers in leaderboard order (`summaries.race.metrics.rank_key`)."""
        from summaries.race.metrics import rank_key

        return sorted(self.racers, key=lambda r: rank_key(_rank_row(r)))


def _rank_row(r: ModelRacer) -> dict[str, Any]:
    final = r.final_loss
    return {
        **(r.metrics or {}),
        "diverged": r.diverged_step is not None,
        "final_loss": final if math.isfinite(final) else None,
    }


# -- arguments shared with race_model ------------------------------------------------------


def check_int(argument: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{argument} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{argument} must be between {low} and {high}, got {value}")
    return int(value)


def check_name(name: Any) -> str:
    """A race name that makes a tag and one folder."""
    from summaries import checks
    from summaries.format import race_tag

    checks.check_text("name", name)
    race_tag("trajectory", name)
    if "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError(f"name must be one folder name, got {name!r}")
    return name


def ranking(rank_by: Any, validation: Any) -> tuple[str, str]:
    """(ranked_by, goal) of `rank_by`: None (the best validation loss, else the final training
    loss), "train_loss" (the final training loss), or a validation metric ("loss",
    "accuracy", ...; "val_" optional), optionally with ":min" or ":max" (default:
    `metrics.metric_goal`)."""
    from summaries.race.metrics import GOALS, metric_goal

    if rank_by is None:
        return ("val_loss", "min") if validation is not None else ("loss", "min")
    if not isinstance(rank_by, str) or not rank_by.strip():
        raise TypeError(f"rank_by must be a metric name, got {rank_by!r}")
    name, colon, goal = rank_by.strip().partition(":")
    if colon and goal not in GOALS:
        raise ValueError(f"rank_by: the direction after ':' must be min or max, got {goal!r}")
    if name == "train_loss":
        if goal == "max":
            raise ValueError("rank_by: the training loss is better lower (train_loss:min)")
        return "loss", "min"
    key = name if name.startswith("val_") else f"val_{name}"
    if validation is None:
        raise ValueError(
            f"rank_by {rank_by!r} is measured on validation data: give x_val and y_val "
            "(or rank by train_loss)"
        )
    return key, goal or metric_goal(key)


def check_target(target: Any) -> float | None:
    if target is None:
        return None
    if isinstance(target, bool) or not isinstance(target, int | float | np.integer | np.floating):
        raise ValueError(f"target must be a number, got {target!r}")
    if not math.isfinite(target):
        raise ValueError(f"target must be finite, got {target!r}")
    return float(target)


# -- the plane -----------------------------------------------------------------------------


def pca_plane(
    origin: np.ndarray, snapshots: Sequence[np.ndarray]
) -> tuple[np.ndarray, list[float]]:
    """The first two principal directions [weights, 2] (unit, orthogonal) of the finite
    displacements from `origin`, uncentred, and each one's share of their squared length."""

    def moved(snapshot: np.ndarray) -> np.ndarray:  # its finite displacements, but zeros
        d = snapshot - origin
        return d[np.isfinite(d).all(axis=1) & (d != 0).any(axis=1)]

    # one float64 copy of the rows (the racers' snapshots can be hundreds of MB)
    rows = np.concatenate([moved(s) for s in snapshots], dtype=np.float64)
    if len(rows) < 2:
        raise ValueError("the racers did not move: no plane to show (more steps?)")
    if len(rows) <= rows.shape[1]:  # the Gram matrix of the rows is the smaller one
        values, vectors = np.linalg.eigh(rows @ rows.T)
        top = np.argsort(values)[::-1][:2]
        directions = rows.T @ vectors[:, top]
    else:
        values, vectors = np.linalg.eigh(rows.T @ rows)
        top = np.argsort(values)[::-1][:2]
        directions = vectors[:, top]
    directions /= np.maximum(np.linalg.norm(directions, axis=0), 1e-30)
    total = float(values.clip(min=0).sum())
    shares = [float(max(values[k], 0.0) / total) if total > 0 else 0.0 for k in top]
    # signs: the racers' mean displacement lies on the positive side of each direction
    mean = rows.mean(axis=0)
    directions *= np.where(mean @ directions < 0, -1.0, 1.0)
    return directions.astype(np.float32), shares


def project(basis: np.ndarray, origin: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Least-squares coordinates [m, 2] of weight vectors [m, n] on the plane origin + basis."""
    b = basis.astype(np.float64)
    return _coordinates(b, b.T @ b, (weights - origin).astype(np.float64))


def _coordinates(b: np.ndarray, gram: np.ndarray, displacements: np.ndarray) -> np.ndarray:
    """`project` on float64 displacements [m, n] from the origin (basis b, gram = b.T @ b)."""
    return np.linalg.solve(gram, b.T @ displacements.T).T


def captured(basis: np.ndarray, origin: np.ndarray, snapshots: Sequence[np.ndarray]) -> float:
    """The share of the racers' squared displacement that lies in the plane."""
    total = inside = 0.0
    b = basis.astype(np.float64)
    gram = b.T @ b
    for s in snapshots:
        d = (s - origin)[np.isfinite(s).all(axis=1)].astype(np.float64)  # one float64 copy
        if not len(d):
            continue
        coords = _coordinates(b, gram, d)
        # the squared length of each in-plane part (coords @ b.T), without making it
        inside += float(np.einsum("mi,ij,mj->", coords, gram, coords))
        total += float(np.square(d).sum())
    return inside / total if total > 0 else 0.0


def plane_window(points: np.ndarray) -> list[float]:
    """The map's window: the finite points and the start, padded by a quarter each way."""
    finite = points[np.isfinite(points).all(axis=1)]
    finite = np.vstack([finite, [[0.0, 0.0]]])
    lo, hi = finite.min(axis=0), finite.max(axis=0)
    span = np.maximum(hi - lo, 1e-6)
    pad = 0.25 * span
    return [
        float(lo[0] - pad[0]),
        float(hi[0] + pad[0]),
        float(lo[1] - pad[1]),
        float(hi[1] + pad[1]),
    ]


@dataclass
class Plane:
    """The map's plane: origin + a d1 + b d2, and how much of the racers' motion it holds."""

    directions: np.ndarray  # [weights, 2] float32
    explained: list[float] | None  # each principal direction's share (None: given directions)
    captured: float
    window: list[float]
    fitted_on: list[str]  # the racers whose motion made the plane and the window


def fit_plane(
    racers: Sequence[ModelRacer], origin: np.ndarray, directions: np.ndarray | None = None
) -> Plane:
    """The plane of the racers' snapshots (PCA unless `directions` are given); sets every
    racer's `positions` and drops its `snapshots`. Racers that diverged are left out of the
    fit and the window (their huge last steps would otherwise be the whole plane)."""
    steady = [r for r in racers if r.diverged_step is None] or list(racers)
    snapshots = [r.snapshots for r in steady]
    explained = None
    if directions is None:
        directions, explained = pca_plane(origin, snapshots)
    share = captured(directions, origin, snapshots)
    for r in racers:
        r.positions = project(directions, origin, r.snapshots)
        r.snapshots = None
    window = plane_window(np.concatenate([r.positions for r in steady]))
    return Plane(directions, explained, share, window, [r.name for r in steady])


def grid_values(
    loss_at: Callable[[np.ndarray], Any],
    origin: np.ndarray,
    directions: np.ndarray,
    window: Sequence[float],
    resolution: int,
    *,
    batched: bool = False,
    report: Callable[[str, int, int], None] | None = None,
) -> np.ndarray:
    """``loss_at`` [resolution, resolution] at origin + a d1 + b d2 over `window` (rows
    follow b), each point a float32 weight vector (computed in float64). `batched`: one call
    per row, with the row's points [resolution, weights], returning [resolution] losses.
    Non-finite values are shown as the highest finite one."""
    xs = np.linspace(window[0], window[1], resolution)
    ys = np.linspace(window[2], window[3], resolution)
    origin64 = origin.astype(np.float64)
    d1, d2 = directions[:, 0].astype(np.float64), directions[:, 1].astype(np.float64)
    grid = np.empty((resolution, resolution))
    for r, b in enumerate(ys):
        if batched:  # the row's points, made in one array (a new one: loss_at may keep it)
            row = np.empty((resolution, origin.size), np.float32)
            for k, a in enumerate(xs):
                row[k] = origin64 + a * d1 + b * d2
            values = np.asarray(loss_at(row), dtype=np.float64).reshape(-1)
            if len(values) != resolution:
                raise ValueError(
                    f"loss_at (batched) must return {resolution} losses, got {len(values)}"
                )
            grid[r] = values
        else:  # a point at a time: a large model's row would be `resolution` copies of it
            grid[r] = [float(loss_at((origin64 + a * d1 + b * d2).astype(np.float32))) for a in xs]
        if report is not None:
            report("surface", r + 1, resolution)
    finite = grid[np.isfinite(grid)]
    if finite.size == 0:
        raise ValueError("the loss is not finite anywhere on the plane")
    return np.where(np.isfinite(grid), grid, finite.max())


def plane_basis(
    plane: Plane, method: str, parameters: int, grid: int, **fields: Any
) -> dict[str, Any]:
    """The trajectory metadata's `basis` (see `summaries.format`): how the map was made.
    `fields` add or replace entries (directions, origin, loss, model, sample, ...)."""
    if method == "pca":
        shares = plane.explained or [0.0, 0.0]
        axes = [f"PC1 ({100 * shares[0]:.1f} %)", f"PC2 ({100 * shares[1]:.1f} %)"]
        how = (
            "the first two principal components of all racers' weight displacements from "
            "the start, together (uncentred; Li et al. 2018, section 7)"
        )
    else:
        axes, how = ["direction 1", "direction 2"], "two given directions"
    return {
        "kind": "plane through the initial weights",
        "method": method,
        "directions": how,
        "explained": plane.explained,
        "captured": plane.captured,
        "axes": axes,
        "origin": "the model's own weights before the race",
        "projection": "least squares of (trainable weights - start) onto the two directions",
        "parameters": int(parameters),
        "grid": grid,
        **fields,
        "fitted_on": plane.fitted_on,
    }


# -- the leaderboard -----------------------------------------------------------------------


def score_racers(race: ModelRace, ranked_by: str, goal: str, target: float | None) -> None:
    """Every racer's leaderboard (`metrics.model_metrics`), with the race's target: the given
    one, else `metrics.default_target` of the racers' scores."""
    from summaries.format import race_tag
    from summaries.race import metrics

    race.ranked_by, race.goal = ranked_by, goal
    tags = {
        r.name: {
            "loss": race_tag("loss", r.name),
            **{k: f"{METRIC_PREFIX}/{k}/{r.name}" for k in r.validation},
        }
        for r in race.racers
    }

    def measure(r: ModelRacer, target: float | None, rule: str | None) -> dict[str, Any]:
        return metrics.model_metrics(
            r.losses, r.validation, ranked_by=ranked_by, goal=goal, target=target,
            target_rule=rule, step_seconds=r.step_seconds, tags=tags[r.name],
        )  # fmt: skip

    rule = "given"
    if target is None:  # 90 % of the way from the common start to the best score
        scores = [measure(r, None, None)["score"] for r in race.racers]
        target = metrics.default_target(scores, goal, _start_value(race.racers[0], ranked_by))
        rule = "default"
    race.target, race.target_rule = target, None if target is None else rule
    for r in race.racers:
        r.metrics = measure(r, race.target, race.target_rule)


def _start_value(r: ModelRacer, ranked_by: str) -> float | None:
    """The value of `ranked_by` at step 0, the same for every racer (the same weights and,
    for the training loss, the same first batch)."""
    if ranked_by == "loss":
        return float(r.losses[0]) if len(r.losses) else None
    first = r.validation.get(ranked_by) or []
    return float(first[0][1]) if first and first[0][0] == 0 else None


# -- the logs ------------------------------------------------------------------------------


def _scalar(writer: Any, tag: str, step: int, value: float) -> None:
    from tensorboard.compat.proto import summary_pb2

    from summaries.protos import scalar_value

    writer.add(summary_pb2.Summary(value=[scalar_value(tag, float(value))]), step=int(step))


def write_model_race(logdir: Any, race: ModelRace) -> Path:
    """Write a model race as one run ``logdir/<race>`` (the race layout: surface, per racer
    trajectory and loss; validation scalars ``race/val_<metric>/<racer>``) and, when
    `summaries.hparams` is there, one HParams session per racer under ``<race>/hparams/``.
    Replaces the event files of an earlier race of the same name."""
    from summaries.format import race_tag
    from summaries.race.summary import loss_chart_pb, write_surface, write_trajectory
    from summaries.writer import LogWriter

    run_dir = Path(logdir) / race.name
    run_dir.mkdir(parents=True, exist_ok=True)
    for old in [
        *run_dir.glob("events.out.tfevents.*"),
        *run_dir.glob("hparams/**/events.out.tfevents.*"),
    ]:
        old.unlink()
    order = list(opts.OPTIMIZERS)
    log_scale = bool(race.grid.min() > 0 and race.grid.max() / race.grid.min() > 50)
    title = f"{race.basis['model'].split(':')[0]} ({race.basis['parameters']:,} weights)"
    with LogWriter(str(run_dir)) as writer:
        write_surface(
            writer, race_tag("surface"), race.grid, race=race.name, surface=title,
            window=race.window, log_scale=log_scale,
        )  # fmt: skip
        writer.add(loss_chart_pb(), step=0)
        for index, r in enumerate(race.racers):
            spec = opts.OPTIMIZERS.get(r.optimizer)
            label = spec.title if spec is not None else r.optimizer
            library = {}  # a Keras racer of the library: its class and fixed arguments
            if spec is not None:
                library = {
                    "keras_class": f"keras.optimizers.{spec.keras_class}",
                    "fixed_arguments": spec.fixed,
                }
            write_trajectory(
                writer,
                race_tag("trajectory", r.name),
                r.snapshot_steps.tolist(),
                r.positions,
                r.losses[r.snapshot_steps],
                race=race.name,
                racer=r.name,
                optimizer=r.optimizer,
                surface=title,
                window=race.window,
                hyperparameters=r.hyperparameters,
                start=[0.0, 0.0],
                basis=race.basis,
                optimizer_title=label if r.name == r.optimizer else f"{label} ({r.name})",
                surface_title=f"{title}: its real loss landscape",
                description=f"your model's {race.loss_name} on a plane through its start "
                f"weights ({race.basis['directions']}); the racers' paths are their weights "
                "projected onto it",
                analytic=False,
                order=order.index(r.optimizer) if spec is not None else index,
                log_scale=log_scale,
                axes=race.basis["axes"],
                tuning=r.tuning,
                diverged_step=r.diverged_step,
                reason="NaN or Inf loss" if r.diverged_step is not None else None,
                batch_size=race.batch_size,
                race_steps=race.steps,
                model_race=True,
                model_metrics=r.metrics,
                **library,
            )
            writer.add_scalars(race_tag("loss", r.name), r.losses.tolist())
            for key, points in r.validation.items():
                for step, value in points:
                    if math.isfinite(value):
                        _scalar(writer, f"{METRIC_PREFIX}/{key}/{r.name}", step, value)
        if "stepping" in race.seconds:  # the wall time of one step of every racer, in turn
            _scalar(
                writer,
                f"{METRIC_PREFIX}/seconds_per_step",
                0,
                race.seconds["stepping"] / (race.steps + 1),
            )
    _write_hparams(run_dir, race)
    return run_dir


def _write_hparams(run_dir: Path, race: ModelRace) -> bool:
    """One HParams session per racer (hyper-parameters; final and best losses)."""
    try:
        from summaries import hparams as hp_summaries
    except ImportError:
        return False
    keys = sorted({k for r in race.racers for k in r.hyperparameters})
    metrics = {"hparams/final_loss": "final training loss"}
    if any(r.validation for r in race.racers):
        metrics["hparams/best_val_loss"] = "best validation loss"
    if race.ranked_by not in ("loss", "val_loss"):
        metrics[f"hparams/best_{race.ranked_by}"] = f"best validation {race.ranked_by[4:]}"
    if race.target is not None:
        metrics["hparams/target_step"] = "first step at the target"
        metrics["hparams/target_seconds"] = "seconds to the target"
    metrics["hparams/ms_per_step"] = "wall time per step (ms)"
    for r in race.racers:
        values: dict[str, Any] = {"optimizer": r.optimizer}
        for k in keys:
            v = r.hyperparameters.get(k)
            if isinstance(v, bool | int | float | str):
                values[k] = v
        m = r.metrics or {}
        scores = {
            "hparams/final_loss": r.final_loss,
            "hparams/best_val_loss": r.best("val_loss"),
            f"hparams/best_{race.ranked_by}": m.get("score"),
            "hparams/target_step": m.get("target_step"),
            "hparams/target_seconds": m.get("target_seconds"),
            "hparams/ms_per_step": r.ms_per_step,
        }
        scores = {
            k: float(v)
            for k, v in scores.items()
            if k in metrics and v is not None and math.isfinite(v)
        }
        hp_summaries.log_hparams(
            str(run_dir / "hparams" / r.name),
            values,
            scores,
            group=f"{race.name}/{r.name}",
            step=race.steps,
            status="failure" if r.diverged_step is not None else "success",
        )
    hp_summaries.log_experiment(
        str(run_dir / "hparams"),
        {"optimizer": sorted({r.optimizer for r in race.racers}), **{k: None for k in keys}},
        metrics,
    )
    return True


# -- a race from any framework -------------------------------------------------------------


def _racer(
    name: str,
    snapshots: Any,
    losses: Any,
    steps: Any,
    validation: Mapping[str, Any] | None,
    optimizer: str,
    hyperparameters: Mapping[str, Any] | None,
    step_seconds: Any,
) -> ModelRacer:
    """One racer's checked arrays, frozen at its first non-finite loss (as `race_model`)."""
    from summaries import checks
    from summaries.format import race_tag

    race_tag("trajectory", name)  # a racer name that makes a tag
    try:  # float32 as given: a copy of every racer's weights in float64 would double them
        weights = np.asarray(checks.host(snapshots), dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(f"snapshots[{name!r}] must be a numeric array") from None
    if weights.ndim != 2:
        raise ValueError(f"snapshots[{name!r}] must be [steps, weights], got {weights.shape}")
    loss = checks.float_array(f"losses[{name!r}]", checks.host(losses), 1)
    if not len(weights) or not len(loss):
        raise ValueError(f"snapshots[{name!r}] and losses[{name!r}] must not be empty")
    kept = np.arange(len(weights)) if steps is None else np.asarray(checks.host(steps))
    if kept.shape != (len(weights),) or kept.dtype.kind not in "iu":
        raise ValueError(f"snapshot_steps[{name!r}] must be {len(weights)} whole steps")
    if kept[0] != 0 or (np.diff(kept) <= 0).any() or kept[-1] >= len(loss):
        raise ValueError(
            f"snapshot_steps[{name!r}] must start at 0, increase, and stay below "
            f"len(losses[{name!r}]) = {len(loss)}"
        )
    bad = np.flatnonzero(~np.isfinite(loss))
    diverged = int(bad[0]) if len(bad) else None
    if diverged is not None:  # the path ends at the first NaN or Inf loss
        loss, keep = loss[: diverged + 1], kept <= diverged
        weights, kept = weights[keep], kept[keep]
    points = {}
    for key, series in (validation or {}).items():
        if not isinstance(key, str) or not key.startswith("val_"):
            raise ValueError(f"validation[{name!r}]: names start with 'val_', got {key!r}")
        points[key] = [(int(s), float(v)) for s, v in series]
    seconds = np.zeros(0) if step_seconds is None else checks.host(step_seconds)
    return ModelRacer(
        name, optimizer, dict(hyperparameters or {}), loss, kept.astype(int), weights, points,
        diverged,
        step_seconds=np.asarray(seconds, dtype=np.float64).reshape(-1),
    )  # fmt: skip


def race_landscape(
    snapshots: Mapping[str, Any],
    losses: Mapping[str, Any],
    loss_at: Callable[[np.ndarray], Any],
    *,
    batched: bool = False,
    snapshot_steps: Mapping[str, Any] | None = None,
    validation: Mapping[str, Mapping[str, Any]] | None = None,
    optimizers: Mapping[str, str] | None = None,
    hyperparameters: Mapping[str, Mapping[str, Any]] | None = None,
    step_seconds: Mapping[str, Any] | None = None,
    logdir: Any = None,
    name: str = "model-race",
    model: str = "model",
    loss: str = "loss_at",
    grid: int = 21,
    batch_size: int | None = None,
    rank_by: str | None = None,
    target: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ModelRace:
    """Map a race of optimizers on a model of any framework on the model's real loss
    landscape and, with `logdir`, write it as run ``logdir/name`` (as `race_model` does).

    snapshots: {racer: [m, weights]} its flat weights at `snapshot_steps` (default: every
    step 0..m-1), row 0 the start every racer shares; losses: {racer: [steps + 1]} the
    training loss of step t's batch at the weights before update t; loss_at: the loss at one
    float32 flat weight vector (`batched`: at [k, weights] vectors, returning [k]), the
    surface's function; validation: {racer: {"val_loss": [(step, value), ...], "val_<metric>":
    ...}}; optimizers: {racer: label} (default: the racer's name; a name of `OPTIMIZERS`
    also gets its Keras class); hyperparameters: {racer: {name: value}} as the racer ran;
    step_seconds: {racer: [seconds of each update]} (the leaderboard's time to target and
    ms/step); model: "<name>: <what it is>" (the map's title is the name); loss: what
    `loss_at` computes, for the metadata's `basis`; grid: the surface's resolution;
    batch_size, rank_by and target: as in `race_model` (rank_by None: the best validation
    loss, else the final training loss). A racer whose loss turns NaN or Inf ends there.
    Returns the `ModelRace` (its `origin` and `directions` give each map point's weights).
    """
    from summaries import checks

    started = time.perf_counter()
    if not isinstance(snapshots, Mapping) or not snapshots:
        raise ValueError("snapshots must be a non-empty dict {racer: [m, weights] array}")
    if not isinstance(losses, Mapping) or set(losses) != set(snapshots):
        raise ValueError("losses must be a dict with the same racers as snapshots")
    if not callable(loss_at):
        raise TypeError(f"loss_at must be callable, got {type(loss_at).__name__}")
    name = check_name(name)
    grid = check_int("grid", grid, 2, MAX_GRID)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, 1, 2**31 - 1)

    def of(per_racer: Mapping[str, Any] | None, key: str) -> Any:
        return (per_racer or {}).get(key)

    racers = [
        _racer(
            key,
            snapshots[key],
            losses[key],
            of(snapshot_steps, key),
            of(validation, key),
            of(optimizers, key) or key,
            of(hyperparameters, key),
            of(step_seconds, key),
        )
        for key in snapshots
    ]
    origin = racers[0].snapshots[0].copy()  # not a view: the snapshots are dropped once mapped
    shapes = {r.name: r.snapshots.shape[1] for r in racers}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"snapshots: the racers have different weight counts {shapes}")
    if any(not np.array_equal(r.snapshots[0], origin) for r in racers):
        raise ValueError("snapshots: every racer's first row must be the same start")
    ranked_by, goal = ranking(rank_by, validation or None)
    missing = [r.name for r in racers if ranked_by != "loss" and ranked_by not in r.validation]
    if missing:
        raise ValueError(f"validation: no {ranked_by!r} for racers {missing} (rank_by)")
    target = check_target(target)

    mapping = time.perf_counter()
    plane = fit_plane(racers, origin)
    values = grid_values(
        loss_at, origin, plane.directions, plane.window, grid, batched=batched, report=progress
    )
    seconds = {"surface": time.perf_counter() - mapping}
    if all(len(r.step_seconds) for r in racers):
        seconds["stepping"] = float(sum(r.step_seconds.sum() for r in racers))
    basis = plane_basis(
        plane, "pca", origin.size, grid, model=model, origin="the racers' shared start",
        loss="recorded losses are each racer's training loss on its batch; the surface is "
        f"{loss} on the plane",
    )  # fmt: skip
    steps = max(len(checks.host(losses[r.name])) for r in racers) - 1
    race = ModelRace(
        name, racers, steps, batch_size, basis, plane.window, values, seconds,
        origin=origin, directions=plane.directions, loss_name="loss",
    )  # fmt: skip
    score_racers(race, ranked_by, goal, target)
    if logdir is not None:
        race.run_dir = write_model_race(logdir, race)
    seconds["total"] = time.perf_counter() - started
    return race
