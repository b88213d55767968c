"""Fair tuning: every optimizer gets the same trials over the same search space.

The learning rates are the centres of a Latin hypercube over a log-uniform range, so every
optimizer tries exactly the same learning rates; optimizers that have a momentum get one
momentum per trial (centred strata too, paired by a seeded permutation). All trials of
one optimizer on all surfaces race together in one compiled program.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from summaries.race import engine
from summaries.race import metrics as race_metrics
from summaries.race import optimizers as opts
from summaries.race.surfaces import SURFACES

LEARNING_RATE = (1e-4, 10.0)  # log-uniform
MOMENTUM = (0.0, 0.99)  # uniform
DEFAULT_TRIALS = 12
SEED = 0

OBJECTIVE = (
    "fewest steps to arrive (settle within the tolerance of a known minimum; on surfaces "
    "without one, first reach the loss threshold); racers that never arrive rank next by "
    "final loss; diverged racers last (later divergence first)"
)


def search_space(optimizer: str) -> dict[str, dict[str, Any]]:
    """The hyper-parameters `--tune` searches for this optimizer, with their ranges."""
    space = {"learning_rate": {"low": LEARNING_RATE[0], "high": LEARNING_RATE[1], "scale": "log"}}
    if "momentum" in opts.get_spec(optimizer).tunable:
        space["momentum"] = {"low": MOMENTUM[0], "high": MOMENTUM[1], "scale": "linear"}
    return space


def trial_points(optimizer: str, budget: int, seed: int = SEED) -> list[dict[str, float]]:
    """`budget` hyper-parameter settings (centred Latin hypercube; same rates for everyone)."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 2:
        raise ValueError(f"budget must be an integer >= 2, got {budget!r}")
    space = search_space(optimizer)
    centres = (np.arange(budget) + 0.5) / budget
    lo, hi = math.log10(LEARNING_RATE[0]), math.log10(LEARNING_RATE[1])
    points = [{"learning_rate": float(10 ** (lo + c * (hi - lo)))} for c in centres]
    if "momentum" in space:
        order = np.random.default_rng(seed).permutation(budget)
        for point, c in zip(points, centres[order], strict=True):
            point["momentum"] = float(MOMENTUM[0] + c * (MOMENTUM[1] - MOMENTUM[0]))
    return points


def arrival(metrics: dict[str, Any]) -> int | None:
    """The step a racer arrived: settled near a minimum, or first below the loss threshold."""
    if metrics["tolerance_kind"] == "distance":
        return metrics["settled_step"]
    return metrics["first_entry_step"]


def rank_key(metrics: dict[str, Any]) -> tuple:
    """Sort key of the tuning objective (smaller is better); see OBJECTIVE."""
    arrived = arrival(metrics)
    if arrived is not None:
        return (0, arrived, _or_inf(metrics["best_loss"]))
    if not metrics["diverged"]:
        return (1, _or_inf(metrics["final_loss"]), 0)
    return (2, -metrics["diverged_step"], 0)


def _or_inf(value: float | None) -> float:
    return math.inf if value is None else value


def metrics_of(trajectory: engine.Trajectory) -> dict[str, Any]:
    """Leaderboard metrics of an engine trajectory on its surface."""
    surf = SURFACES[trajectory.racer.surface]
    return race_metrics.trajectory_metrics(
        trajectory.positions,
        trajectory.losses,
        minima=surf.minima,
        window=surf.window,
        tolerance=surf.tolerance,
        unbounded_below=surf.unbounded_below,
    )


@dataclass
class Tuned:
    """The outcome of tuning one optimizer on one surface."""

    optimizer: str
    surface: str
    best: engine.Trajectory
    best_index: int
    trials: list[dict[str, Any]] = field(default_factory=list)
    at_edge: list[str] = field(default_factory=list)

    def info(self, budget: int, seed: int) -> dict[str, Any]:
        """JSON-ready record of the search (stored in the trajectory metadata)."""
        return {
            "objective": OBJECTIVE,
            "search_space": search_space(self.optimizer),
            "method": "centred Latin hypercube (the same learning rates for every optimizer)",
            "budget": budget,
            "seed": seed,
            "trials": self.trials,
            "best": self.best_index,
            "at_edge": self.at_edge,
        }


def tune(
    optimizers: list[str],
    surfaces: list[str],
    steps: int,
    budget: int = DEFAULT_TRIALS,
    overrides: dict[str, dict[str, Any]] | None = None,
    seed: int = SEED,
    jit: bool | None = None,
) -> list[Tuned]:
    """Race every trial of every optimizer on every surface; keep each pair's best trial.

    `overrides` fix other hyper-parameters ({optimizer: {key: value}}); the searched ones
    (learning rate, momentum) are taken from the trials.
    """
    overrides = overrides or {}
    by_pair: dict[tuple[str, str], list[tuple[engine.Trajectory, dict]]] = {}
    for name in optimizers:  # one program per optimizer: bounded memory, visible progress
        points = trial_points(name, budget, seed)
        racers = [
            engine.Racer.make(name, surface, {**overrides.get(name, {}), **point})
            for surface in surfaces
            for point in points
        ]
        for trajectory in engine.race(racers, steps, jit=jit):
            pair = (name, trajectory.racer.surface)
            by_pair.setdefault(pair, []).append((trajectory, metrics_of(trajectory)))
    out = []
    for (name, surface), results in by_pair.items():
        keys = [rank_key(m) for _, m in results]
        best = min(range(len(results)), key=keys.__getitem__)
        trials = [
            {
                "hyperparameters": {k: t.racer.hp[k] for k in search_space(name)},
                "arrived_step": arrival(m),
                "final_loss": m["final_loss"],
                "diverged_step": m["diverged_step"],
            }
            for t, m in results
        ]
        out.append(
            Tuned(
                name,
                surface,
                results[best][0],
                best,
                trials,
                _at_edge(name, trials, best),
            )
        )
    return out


def _at_edge(name: str, trials: list[dict[str, Any]], best: int) -> list[str]:
    """Searched hyper-parameters whose best value is the smallest or largest one tried."""
    edges = []
    for key in search_space(name):
        values = [t["hyperparameters"][key] for t in trials]
        if values[best] in (min(values), max(values)):
            edges.append(key)
    return edges
