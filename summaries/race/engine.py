"""The race engine: many Keras optimizers stepping over loss surfaces in one compiled program.

All racers run inside ONE `tf.function` that loops `tf.while_loop` over the steps and writes
every racer's (x, y, loss) into a TensorArray (XLA-compiled when it can be). Racers with
the same optimizer and hyper-parameters on 2-D surfaces share one optimizer and one [k, 2]
variable, one row per racer: every Keras update rule offered here works element by
element, so each row follows exactly the trajectory it would follow alone (the tests check
this against a plain eager `apply_gradients` loop). A racer that produces NaN or Inf, or
leaves the surface's outer window, is frozen where it is and its step recorded; the
others race on.
"""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from summaries.race import metrics as race_metrics
from summaries.race import optimizers as opts
from summaries.race.surfaces import SURFACES, Surface, get_surface

MAX_STEPS = 100_000
# XLA compilation costs more than tracing alone but then runs each step ~20x faster; it
# pays off from a few thousand steps (measured with `flowscope bench race`).
XLA_MIN_STEPS = 2500


@dataclass(frozen=True)
class Racer:
    """One optimizer, with resolved hyper-parameters, on one surface from one start."""

    optimizer: str
    hyperparameters: tuple[tuple[str, Any], ...]
    surface: str
    start: tuple[float, float]

    @classmethod
    def make(
        cls,
        optimizer: str,
        surface: str,
        hyperparameters: dict[str, Any] | None = None,
        start: Sequence[float] | None = None,
    ) -> Racer:
        """Check names and values, fill in defaults (racer's, then the surface's)."""
        surf = get_surface(surface)
        hp = opts.resolve(optimizer, hyperparameters, surf.defaults)
        return cls(optimizer, tuple(sorted(hp.items())), surface, _start(start, surf))

    @property
    def hp(self) -> dict[str, Any]:
        return dict(self.hyperparameters)


@dataclass
class Trajectory:
    """What a racer did: rows i = position and loss after i updates (cut at divergence)."""

    racer: Racer
    positions: np.ndarray  # [n, 2] float64
    losses: np.ndarray  # [n] float64
    diverged_step: int | None
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.racer.optimizer,
            "surface": self.racer.surface,
            "hyperparameters": self.racer.hp,
            "start": list(self.racer.start),
            "steps": np.arange(len(self.positions)),
            "positions": self.positions,
            "losses": self.losses,
            "diverged_step": self.diverged_step,
            "reason": self.reason,
        }


def _start(start: Sequence[float] | None, surf: Surface) -> tuple[float, float]:
    if start is None:
        return surf.start
    try:
        x, y = (float(v) for v in start)
    except (TypeError, ValueError):
        raise ValueError(f"start must be two numbers (x, y), got {start!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"start must be finite, got {start!r}")
    return (x, y)


def _check_steps(steps: Any) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer):
        raise ValueError(f"steps must be an integer, got {type(steps).__name__}")
    if not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be between 1 and {MAX_STEPS}, got {steps}")
    return int(steps)


class _Group:
    """Racers sharing one Keras optimizer: the rows of one [k, size] parameter variable."""

    def __init__(self, racers: list[Racer], rows: list[int]):
        import tensorflow as tf

        self.racers = racers
        self.rows = rows
        self.size = SURFACES[racers[0].surface].size
        self.variable = tf.Variable(self._starts([r.start for r in racers]), name="params")
        self.optimizer = opts.make(racers[0].optimizer, racers[0].hp)
        self.optimizer.build([self.variable])
        # what `reset` restores: the optimizer's state just after build (not always zeros)
        self._initial_state = [(v, v.numpy()) for v in self.optimizer.variables]

    def _starts(self, starts: Sequence[tuple[float, float]]) -> np.ndarray:
        return np.stack(
            [
                SURFACES[r.surface].initial_params(s)
                for r, s in zip(self.racers, starts, strict=True)
            ]
        )

    def apply(self, grad: Any, moving: Any) -> None:
        """One optimizer step; rows that are not moving keep their parameters (frozen)."""
        import tensorflow as tf

        before = tf.identity(self.variable.read_value())
        # dense, as in a plain loop (a gather can hand the optimizer IndexedSlices)
        grad = tf.convert_to_tensor(grad)
        self.optimizer.apply_gradients([(grad, self.variable)])
        self.variable.assign(tf.where(moving[:, None], self.variable.read_value(), before))

    def reset(self, starts: Sequence[tuple[float, float]], learning_rate: float | None) -> None:
        for v, value in self._initial_state:
            v.assign(value)
        if learning_rate is not None:
            self.optimizer.learning_rate = learning_rate
        self.variable.assign(self._starts(starts))


class Program:
    """A compiled race over a fixed set of racers; call `run(steps)` (repeatable)."""

    def __init__(self, racers: Sequence[Racer], jit: bool = True):
        import tensorflow as tf

        if not racers:
            raise ValueError("racers must not be empty")
        self.racers = list(racers)
        grouped: dict[tuple, list[int]] = {}
        for i, r in enumerate(self.racers):
            # racers with the same optimizer settings and parameter count share a variable
            key = (SURFACES[r.surface].size, r.optimizer, r.hyperparameters)
            grouped.setdefault(key, []).append(i)
        self.groups = [
            _Group([self.racers[i] for i in grouped[key]], grouped[key])
            for key in sorted(grouped, key=lambda k: k[0])
        ]
        order = [i for g in self.groups for i in g.rows]
        self._row_of = np.argsort(order)  # racer index -> row in the program's output
        # Rows of one surface are evaluated together, for all groups of its parameter size.
        self._classes = []  # (groups, [(surface, rows within the class)], unsort)
        for size in sorted({g.size for g in self.groups}):
            groups = [g for g in self.groups if g.size == size]
            by_surface: dict[str, list[int]] = {}
            for row, i in enumerate(i for g in groups for i in g.rows):
                by_surface.setdefault(self.racers[i].surface, []).append(row)
            parts = [(SURFACES[name], rows) for name, rows in by_surface.items()]
            unsort = np.argsort([row for _, rows in parts for row in rows])
            self._classes.append((groups, parts, unsort))
        bounds = [race_metrics.outer_window(SURFACES[self.racers[i].surface].window) for i in order]
        self._bounds = tf.constant(np.array(bounds, dtype=np.float32))
        self.jit = jit
        self._fn = tf.function(self._loop, jit_compile=jit)
        self.lock = threading.Lock()

    def _losses(self) -> tuple[Any, Any]:
        """Losses [n] and positions [n, 2] of every racer, in program row order."""
        import tensorflow as tf

        losses, positions = [], []
        for groups, parts, unsort in self._classes:
            params = tf.concat([tf.convert_to_tensor(g.variable) for g in groups], axis=0)
            loss, pos = [], []
            for surf, rows in parts:
                mine = tf.gather(params, rows)
                loss.append(surf.tf_batch_loss(mine))
                pos.append(surf.tf_batch_position(mine))
            losses.append(tf.gather(tf.concat(loss, axis=0), unsort))
            positions.append(tf.gather(tf.concat(pos, axis=0), unsort))
        return tf.concat(losses, axis=0), tf.concat(positions, axis=0)

    def _step(self, t: Any, steps: Any, alive: Any, div: Any) -> tuple[Any, Any, Any]:
        """Record row t, detect divergence, then update every racer still moving."""
        import tensorflow as tf

        variables = [g.variable for g in self.groups]
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(variables)
            loss, pos = self._losses()
            # racers are independent, so one gradient of the sum gives each its own gradient
            total = tf.reduce_sum(loss)
        b = self._bounds
        outside = (
            (pos[:, 0] < b[:, 0])
            | (pos[:, 0] > b[:, 1])
            | (pos[:, 1] < b[:, 2])
            | (pos[:, 1] > b[:, 3])
        )
        finite = tf.reduce_all(tf.math.is_finite(pos), axis=1) & tf.math.is_finite(loss)
        bad = outside | ~finite
        div = tf.where(alive & bad, t, div)
        alive = alive & ~bad
        # The last pass (t == steps) only records: nothing moves. Reading the variables after
        # the loop instead is not reliably ordered after it under XLA.
        moving = alive & (t < steps)
        grads = tape.gradient(total, variables)
        start = 0
        for g, grad in zip(self.groups, grads, strict=True):
            g.apply(grad, moving[start : start + len(g.rows)])
            start += len(g.rows)
        rows = tf.concat([pos, loss[:, None]], axis=1)
        return rows, alive, div

    def _loop(self, steps: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        n = len(self.racers)
        table = tf.TensorArray(tf.float32, size=steps + 1, element_shape=[n, 3])
        alive = tf.ones([n], tf.bool)
        div = tf.fill([n], tf.constant(-1, tf.int32))

        def body(t, table, alive, div):
            rows, alive, div = self._step(t, steps, alive, div)
            return t + 1, table.write(t, rows), alive, div

        _, table, _, div = tf.while_loop(
            lambda t, *_: t <= steps, body, (tf.constant(0), table, alive, div)
        )
        return table.stack(), div

    def run(
        self,
        steps: int,
        starts: Sequence[tuple[float, float]] | None = None,
        learning_rate: float | None = None,
    ) -> list[Trajectory]:
        """Reset every racer to its start (or `starts`) and race `steps` updates."""
        import tensorflow as tf

        steps = _check_steps(steps)
        with self.lock:
            for g in self.groups:
                g.reset(
                    [starts[i] if starts else self.racers[i].start for i in g.rows],
                    learning_rate,
                )
            table, div = self._fn(tf.constant(steps, tf.int32))
            table, div = table.numpy().astype(np.float64), div.numpy()
        out = []
        for i, racer in enumerate(self.racers):
            row = self._row_of[i]
            pos, loss = table[:, row, :2], table[:, row, 2]
            d = int(div[row])
            if d >= 0:
                pos, loss = pos[: d + 1], loss[: d + 1]
                _, reason = race_metrics.divergence(
                    pos[-1:], loss[-1:], SURFACES[racer.surface].window
                )
            else:
                d, reason = None, None
            out.append(Trajectory(racer, pos, loss, d, reason))
        return out


def race(racers: Sequence[Racer], steps: int, jit: bool | None = None) -> list[Trajectory]:
    """Race `racers` for `steps` updates in one compiled program.

    jit: XLA-compile it (True), or not (False); None chooses XLA from XLA_MIN_STEPS steps.
    """
    steps = _check_steps(steps)
    if jit is None:
        jit = steps >= XLA_MIN_STEPS
    program = Program(racers, jit=jit)
    if not jit:
        return program.run(steps)
    try:
        return program.run(steps)
    except Exception as exc:  # XLA cannot compile something: same program, plain graph
        import tensorflow as tf

        if not isinstance(exc, tf.errors.OpError):
            raise
        return Program(racers, jit=False).run(steps)


# -- simulate: one racer, per request (the page's what-if) ----------------------------

_CACHE: collections.OrderedDict[tuple, Program] = collections.OrderedDict()
_CACHE_SIZE = 32
_CACHE_LOCK = threading.Lock()


def simulate(
    optimizer: str,
    hyperparameters: dict[str, Any],
    surface: str,
    start: Sequence[float] | None = None,
    steps: int = 500,
) -> dict[str, Any]:
    """Race one optimizer alone; returns positions [n, 2], losses [n], diverged_step, ...

    Compiled programs are cached per (optimizer, surface, hyper-parameters other than the
    learning rate), so a new learning rate or start point reuses the compiled loop.
    """
    steps = _check_steps(steps)
    racer = Racer.make(optimizer, surface, hyperparameters, start)
    hp = racer.hp
    key = (
        optimizer,
        surface,
        tuple((k, v) for k, v in racer.hyperparameters if k != "learning_rate"),
    )
    with _CACHE_LOCK:
        program = _CACHE.get(key)
        if program is not None:
            _CACHE.move_to_end(key)
        else:
            program = Program([racer], jit=False)
            _CACHE[key] = program
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    (trajectory,) = program.run(steps, [racer.start], learning_rate=hp["learning_rate"])
    trajectory.racer = racer
    return trajectory.as_dict()
