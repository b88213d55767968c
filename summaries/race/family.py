"""Families of what-if paths: each racer re-run at a grid of learning rates (and momenta), all
racers and settings of a race in ONE compiled program, for the page to show while a slider
is dragged.

A family is the racer's real Keras path at every grid point (`learning_rates` log-spaced
over the page's slider, LR_DECADES around the racer's own rate, LR_PER_DECADE a decade;
`momenta` at MOMENTUM_SLIDER positions of the page's momentum slider, -log10(1 - m), for an
optimizer with a momentum). Members are racers of the engine like any other: those of one
optimizer share one Keras optimizer and one flat variable, with per-element learning rates
and momenta (`summaries.race.engine.Program`), so a race's families cost one XLA
compilation and one run. Only every `stride`-th step is recorded (about POINTS rows per
path): a family is an approximation to draw while dragging, never a what-if's answer.

Memory: `Family.rows` is float32 [momenta or 1, learning rates, rows, 3]: with the defaults
(16 learning rates, 7 momenta, 161 rows) 31 KB for an optimizer without momentum and 216 KB
with one; a race of 96 racers holds at most 96 x 216 KB = 20.7 MB.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from summaries.race import engine
from summaries.race import metrics as race_metrics
from summaries.race.surfaces import SURFACES

LR_DECADES = (-3.0, 2.0)  # the page's learning-rate slider, around the logged rate
LR_PER_DECADE = 3
LR_BOUNDS = (1e-7, 10.0)  # what a what-if accepts
MOMENTUM_SLIDER = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)  # -log10(1 - momentum): 0 ... 0.999
POINTS = 160  # recorded rows per path (plus the last step)


@dataclass
class Family:
    """One racer's paths on the grid: rows[m, l] = (x, y, loss) at `steps`, NaN after the
    row where that member diverged (`diverged_index[m, l]`, -1: it did not)."""

    learning_rates: np.ndarray  # [L]
    momenta: np.ndarray | None  # [M], None: the optimizer has no momentum
    steps: np.ndarray  # [P] int
    rows: np.ndarray  # [M or 1, L, P, 3] float32
    diverged_index: np.ndarray  # [M or 1, L] int

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return self.rows.nbytes + self.steps.nbytes + self.diverged_index.nbytes + 512


def grid(hyperparameters: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None]:
    """The learning rates and momenta (None: no momentum) of a racer's family."""
    centre = math.log10(float(hyperparameters["learning_rate"]))
    lo = max(centre + LR_DECADES[0], math.log10(LR_BOUNDS[0]))
    hi = min(centre + LR_DECADES[1], math.log10(LR_BOUNDS[1]))
    count = max(2, round((hi - lo) * LR_PER_DECADE) + 1)
    rates = 10.0 ** np.linspace(lo, hi, count)
    momenta = None
    if "momentum" in hyperparameters:
        momenta = np.array([round(1 - 10.0**-u, 6) for u in MOMENTUM_SLIDER])
    return rates, momenta


def stride_for(steps: int, points: int = POINTS) -> int:
    """Record every stride-th step: about `points` rows for `steps` updates."""
    return max(1, math.ceil(steps / points))


def families(
    specs: Sequence[tuple[str, dict[str, Any], str, Sequence[float] | None]],
    steps: int,
    points: int = POINTS,
    jit: bool = True,
) -> list[Family]:
    """The family of each (optimizer, hyper-parameters, surface, start), for `steps`
    updates, in one compiled program (the graph executor where XLA cannot compile it)."""
    if not specs:
        return []
    members: list[engine.Racer] = []
    grids = []
    for optimizer, hyper, surface, start in specs:
        base = engine.Racer.make(optimizer, surface, hyper, start)
        rates, momenta = grid(base.hp)
        grids.append((rates, momenta))
        for m in [None] if momenta is None else momenta:
            for lr in rates:
                hp = {**base.hp, "learning_rate": float(lr)}
                if m is not None:
                    hp["momentum"] = float(m)
                # in range by construction: no need to check the values again
                members.append(dataclasses.replace(base, hyperparameters=tuple(sorted(hp.items()))))
    stride = stride_for(steps, points)
    try:
        program = engine.Program(members, jit=jit, stride=stride, kind="family")
        table = program.table(steps)
    except Exception as exc:
        import tensorflow as tf

        if not (jit and isinstance(exc, tf.errors.OpError)):
            raise
        program = engine.Program(members, jit=False, stride=stride, kind="family")
        table = program.table(steps)
    recorded = program.recorded_steps(steps)
    out, k = [], 0
    for (rates, momenta), (_, _, surface, _) in zip(grids, specs, strict=True):
        shape = (1 if momenta is None else len(momenta), len(rates))
        rows = np.empty((*shape, len(recorded), 3), np.float32)
        cut = np.full(shape, -1, dtype=np.int64)
        window = SURFACES[surface].window
        for index in np.ndindex(shape):
            path = table[:, program.row_of[k], :]
            k += 1
            d, _ = race_metrics.divergence(
                path[:, :2].astype(np.float64), path[:, 2].astype(np.float64), window
            )
            rows[index] = path
            if d is not None:
                rows[index][d + 1 :] = np.nan
                cut[index] = d
        out.append(Family(rates, momenta, recorded.astype(np.int64), rows, cut))
    return out
