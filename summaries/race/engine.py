"""The race engine: many Keras optimizers stepping over loss surfaces in one compiled program.

All racers run inside ONE `tf.function` that loops `tf.while_loop` over the steps and writes
every racer's (x, y, loss) into a TensorArray (XLA-compiled from XLA_MIN_STEPS steps, where
its faster steps repay its longer compilation). Racers with the same optimizer and fixed
hyper-parameters share one Keras optimizer and one flat variable holding all their
parameters side by side, whatever their surfaces; their learning rates (and momenta, where
they differ) are per-element vectors. Every Keras update rule offered here works element
by element, so each racer follows the trajectory it would follow alone, to float32
rounding (the tests check this against a plain eager `apply_gradients` loop), and a step
costs one optimizer update per optimizer, not per optimizer and surface. A racer that
produces NaN or Inf, or leaves the surface's outer window, is cut there (the host finds
the first bad row) and its step recorded; the others race on, untouched.

`simulate` re-runs one racer per request (the page's what-if) with a cached loop that reads
its learning rate and momentum from variables, so a new value never retraces it. That loop is
XLA-compiled (WHATIF_JIT): a 1,000-step what-if runs in about 1 ms instead of 20-90 ms in
TensorFlow's graph executor, whose cost per op and loop iteration was nearly all of a
what-if's time (docs/race.md). Its recorded rows live in a TensorArray of a fixed capacity
(the next power of two, at least 64), so a new step count compiles nothing unless it needs
a larger capacity. `summaries.race.family` races many settings of many racers in one
program that records every `stride`-th step only.
"""

from __future__ import annotations

import collections
import functools
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from summaries.race import metrics as race_metrics
from summaries.race import optimizers as opts
from summaries.race.surfaces import SURFACES, Surface, get_surface

MAX_STEPS = 100_000
# XLA compilation costs more than tracing alone, then runs each step faster: 0.6 s more and
# 0.02 instead of 0.12 s per 1,000 steps for the 72 analytic racers (`flowscope bench race`),
# 1.9 s more and ~0.23 instead of ~0.35 s for all 96 with nn_plane (`flowscope race --xla`):
# it pays off from about 6,000 to 15,000 steps (docs/benchmarks.md).
XLA_MIN_STEPS = 8000
# Hyper-parameters a compiled loop reads from variables: racers differing only in these share
# an optimizer, and a what-if that changes them re-runs its cached loop.
TENSOR_HYPERPARAMETERS = ("learning_rate", "momentum")
# The what-if's loop is XLA-compiled (compiled once per optimizer, surface, fixed
# hyper-parameters and capacity, in the page's warm-up); False: TensorFlow's graph executor
# (FLOWSCOPE_WHATIF_XLA=0, e.g. to compare, as `flowscope bench race --whatif` does).
WHATIF_JIT = os.environ.get("FLOWSCOPE_WHATIF_XLA", "1") != "0"
MIN_CAPACITY = 64  # rows of the smallest bucketed loop


def capacity(steps: int) -> int:
    """Rows a bucketed loop records `steps` updates into: a power of two >= steps + 1."""
    return max(MIN_CAPACITY, 1 << (int(steps)).bit_length())


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

    @property
    def fixed_hyperparameters(self) -> tuple[tuple[str, Any], ...]:
        """The hyper-parameters other than TENSOR_HYPERPARAMETERS (a compiled loop's own)."""
        return tuple(kv for kv in self.hyperparameters if kv[0] not in TENSOR_HYPERPARAMETERS)


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


class _TensorHyper:
    """A hyper-parameter that Keras reads as a tensor from a variable (a scalar, or one value
    per parameter element): a new value is an assignment, never a retrace.

    Keras decides in Python which slots and branches an optimizer has, by comparing the
    value with 0 (`if self.momentum != 0:` in SGD, `> 0` in RMSprop). Those comparisons see
    a non-zero stand-in, so the program always has the momentum branch; with a momentum of
    0 that branch computes m = 0 * m - lr * g, the very update of the branch without it.
    Everywhere else Keras converts the value to a tensor (`ops.cast`, `ops.multiply`),
    which reads the variable inside the compiled loop.
    """

    def __init__(self, name: str, value: Any):
        import tensorflow as tf

        self.name = name
        self.variable = tf.Variable(
            np.asarray(value, np.float32), dtype=tf.float32, trainable=False, name=name
        )

    def assign(self, value: Any) -> None:
        self.variable.assign(np.broadcast_to(np.asarray(value, np.float32), self.variable.shape))

    def __tf_tensor__(self, dtype: Any = None, name: str | None = None) -> Any:
        import tensorflow as tf

        value = self.variable.read_value()
        return value if dtype is None else tf.cast(value, dtype)

    # what Keras's Python branches see: a value that is never 0
    def __eq__(self, other: object) -> bool:
        return False if other == 0 else NotImplemented

    def __ne__(self, other: object) -> bool:
        return True if other == 0 else NotImplemented

    def __gt__(self, other: object) -> bool:
        if other == 0:
            return True
        return NotImplemented

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"_TensorHyper({self.name}={np.unique(self.variable.numpy())})"


Slot = tuple[Surface, int | None]  # a surface and the group's racer there (None: padding)


class _Group:
    """Racers sharing one Keras optimizer: one flat parameter variable, laid out in slots.

    The slots follow the program's layout (every group has the same one, so that the
    groups stack into one [groups, width] tensor); a slot no racer of this group fills
    races the surface's standard start with the group's first racer's settings, and its
    row is never read.
    """

    def __init__(self, racers: list[Racer], rows: list[int], slots: list[Slot], tensor_hyper: bool):
        import tensorflow as tf

        self.racers = racers
        self.rows = rows  # the racers' indices in the program
        self.slots = slots
        self.variable = tf.Variable(self._starts([r.start for r in racers]), name="params")
        hp = racers[0].hp
        # one learning rate per parameter element, read by Keras through a callable
        self.rates = tf.Variable(self._learning_rates(), trainable=False, name="learning_rate")
        self.optimizer = opts.make(
            racers[0].optimizer, {**hp, "learning_rate": self.rates.read_value}
        )
        # momentum is a Python float to Keras: a vector of variables only where it must vary
        self.momentum = None
        if "momentum" in hp and (tensor_hyper or len({r.hp["momentum"] for r in racers}) > 1):
            self.momentum = _TensorHyper("momentum", self._momenta())
            self.optimizer.momentum = self.momentum
        self.optimizer.build([self.variable])
        # what `reset` restores: the optimizer's state just after build (not always zeros)
        self._initial_state = [(v, v.numpy()) for v in self.optimizer.variables]

    def _spread(self, values: Sequence[float]) -> np.ndarray:
        """One value per racer -> one per parameter element (padding: the first racer's)."""
        return np.concatenate(
            [np.full(s.size, values[0 if i is None else i], np.float32) for s, i in self.slots]
        )

    def _learning_rates(self) -> np.ndarray:
        return self._spread([r.hp["learning_rate"] for r in self.racers])

    def _momenta(self) -> np.ndarray:
        return self._spread([r.hp["momentum"] for r in self.racers])

    def _starts(self, starts: Sequence[tuple[float, float]]) -> np.ndarray:
        return np.concatenate(
            [s.initial_params(None if i is None else starts[i]) for s, i in self.slots]
        )

    def reset(
        self,
        starts: Sequence[tuple[float, float]],
        learning_rate: float | None,
        momentum: float | None,
    ) -> None:
        for v, value in self._initial_state:
            v.assign(value)
        # assignments to variables the loop reads: no retrace
        size = self.variable.shape[0]
        if learning_rate is None:
            self.rates.assign(self._learning_rates())
        else:
            self.rates.assign(np.full(size, learning_rate, np.float32))
        if self.momentum is not None:
            self.momentum.assign(self._momenta() if momentum is None else momentum)
        elif momentum is not None:
            raise ValueError(f"momentum: {self.racers[0].optimizer} has no tensor momentum here")
        self.variable.assign(self._starts(starts))


# how many times programs were traced, by kind (the tests check that what-ifs do not)
_TRACES: collections.Counter[str] = collections.Counter()


def trace_count(kind: str = "race") -> int:
    """How many times the engine has traced a compiled loop of races and what-ifs ("race")
    or of families ("family", `summaries.race.family`, in the page's warm-up) in this
    process."""
    return _TRACES[kind]


class Program:
    """A compiled race over a fixed set of racers; call `run(steps)` (repeatable).

    The learning rates are always read from variables; `tensor_hyper`: the momentum too,
    so that `run(learning_rate=..., momentum=...)` re-runs the same compiled loop (the
    what-if).
    """

    def __init__(
        self,
        racers: Sequence[Racer],
        jit: bool = True,
        tensor_hyper: bool = False,
        bucketed: bool = False,
        stride: int = 1,
        kind: str = "race",
    ):
        if not racers:
            raise ValueError("racers must not be empty")
        self.racers = list(racers)
        grouped: dict[tuple, list[int]] = {}
        for i, r in enumerate(self.racers):
            # one optimizer per optimizer and fixed hyper-parameters, whatever the surface
            grouped.setdefault((r.optimizer, r.fixed_hyperparameters), []).append(i)
        # The layout every group shares: per surface, as many slots as the most racers one
        # group has there (the default race: one each, no padding).
        names = list(dict.fromkeys(r.surface for r in self.racers))
        widths = {
            name: max(
                sum(self.racers[i].surface == name for i in rows) for rows in grouped.values()
            )
            for name in names
        }
        self._layout = [(SURFACES[name], widths[name]) for name in names]
        count = len(grouped)
        first_row, self._height = {}, 0  # output rows: by surface, then group, then slot
        for name in names:
            first_row[name] = self._height
            self._height += count * widths[name]
        self._row_of = np.zeros(len(self.racers), dtype=int)  # racer -> row of the output
        self.groups = []
        for g, rows in enumerate(grouped.values()):
            slots: list[Slot] = []
            for name in names:
                mine = [k for k, i in enumerate(rows) if self.racers[i].surface == name]
                for j, k in enumerate(mine):
                    self._row_of[rows[k]] = first_row[name] + g * widths[name] + j
                slots += [(SURFACES[name], k) for k in mine]
                slots += [(SURFACES[name], None)] * (widths[name] - len(mine))
            self.groups.append(_Group([self.racers[i] for i in rows], rows, slots, tensor_hyper))
        self.jit = jit
        self.calls = 0
        # bucketed: rows in a TensorArray of capacity(steps) (XLA needs a static size: one
        # compilation per capacity, not per step count); else steps + 1 rows
        self.bucketed = bucketed
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        self.stride = int(stride)  # record every stride-th step (and the last)
        self.kind = kind  # what trace_count counts it as
        self._fns: dict[int | None, Any] = {}
        self.ran: set[int | None] = set()  # the capacities run at least once
        self.lock = threading.Lock()

    def _function(self, size: int | None) -> Any:
        """The compiled loop recording into `size` rows (None: steps + 1), made once."""
        import tensorflow as tf

        fn = self._fns.get(size)
        if fn is None:
            # autograph off: the loop is an explicit tf.while_loop, and converting Keras's
            # optimizer code on every trace cost more than half of the tracing time
            fn = tf.function(
                functools.partial(self._loop, size=size),
                jit_compile=self.jit,
                autograph=False,
                input_signature=[tf.TensorSpec([], tf.int32)],
            )
            self._fns[size] = fn
        return fn

    def recorded_steps(self, steps: int) -> np.ndarray:
        """The steps of the rows `run(steps)` records: 0, stride, 2 stride, ..., steps."""
        n = -(-steps // self.stride) + 1
        return np.minimum(np.arange(n) * self.stride, steps)

    def _evaluate(self, params: list[Any]) -> tuple[Any, Any]:
        """Losses [rows] and positions [rows, 2] of every slot, in the output's row order,
        from the groups' flat parameters: stacked [groups, width], split by surface, each
        surface evaluated once on all its slots."""
        import tensorflow as tf

        stacked = params[0][None, :] if len(params) == 1 else tf.stack(params)
        sizes = [width * surf.size for surf, width in self._layout]
        blocks = [stacked] if len(sizes) == 1 else tf.split(stacked, sizes, axis=1)
        losses, positions = [], []
        for (surf, width), block in zip(self._layout, blocks, strict=True):
            p = tf.reshape(block, [len(params) * width, surf.size])
            losses.append(surf.tf_batch_loss(p))
            positions.append(surf.tf_batch_position(p))
        if len(losses) == 1:
            return losses[0], positions[0]
        return tf.concat(losses, axis=0), tf.concat(positions, axis=0)

    def _loop(self, steps: Any, size: int | None = None) -> Any:
        """Rows [steps + 1 (or `size`), slots, 3]: every slot's (x, y, loss) before each
        update (with a stride: before updates 0, stride, 2 stride, ..., and the last)."""
        import tensorflow as tf

        _TRACES[self.kind] += 1
        variables = [g.variable for g in self.groups]
        stride = self.stride
        if size is None:
            size = steps + 1 if stride == 1 else (steps + stride - 1) // stride + 1
        table = tf.TensorArray(tf.float32, size=size, element_shape=[self._height, 3])

        def body(t, table):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(variables)
                loss, pos = self._evaluate([v.read_value() for v in variables])
                # racers are independent: one gradient of the sum is each racer's gradient
                total = tf.reduce_sum(loss)
            # with a stride, row k is written by steps (k-1) stride + 1 .. k stride: the last
            # write (step k stride, or the final step) stays
            row = t if stride == 1 else (t + stride - 1) // stride
            table = table.write(row, tf.concat([pos, loss[:, None]], axis=1))
            # Every row moves, even one that diverged: rows never mix (every update rule
            # here works element by element), and the host cuts each path where it
            # diverged. The last pass's update (t == steps) is never recorded.
            grads = tape.gradient(total, variables)
            for g, grad in zip(self.groups, grads, strict=True):
                g.optimizer.apply_gradients([(grad, g.variable)])
            return t + 1, table

        _, table = tf.while_loop(lambda t, _: t <= steps, body, (tf.constant(0), table))
        return table.stack()

    def run(
        self,
        steps: int,
        starts: Sequence[tuple[float, float]] | None = None,
        learning_rate: float | None = None,
        momentum: float | None = None,
    ) -> list[Trajectory]:
        """Reset every racer to its start (or `starts`) and race `steps` updates.

        `learning_rate` and `momentum` replace every group's own (momentum only with
        `tensor_hyper`); neither retraces the loop.
        """
        table = self.table(steps, starts, learning_rate, momentum).astype(np.float64)
        out = []
        for i, racer in enumerate(self.racers):
            row = self._row_of[i]
            pos, loss = table[:, row, :2], table[:, row, 2]
            d, reason = race_metrics.divergence(pos, loss, SURFACES[racer.surface].window)
            if d is not None:  # frozen there: the path ends at its first bad row
                pos, loss = pos[: d + 1], loss[: d + 1]
            out.append(Trajectory(racer, pos, loss, d, reason))
        return out

    def table(
        self,
        steps: int,
        starts: Sequence[tuple[float, float]] | None = None,
        learning_rate: float | None = None,
        momentum: float | None = None,
    ) -> np.ndarray:
        """`run`'s recorded rows, float32 [rows, slots, 3] (`row_of`: a racer's slot)."""
        import tensorflow as tf

        steps = _check_steps(steps)
        rows = len(self.recorded_steps(steps))
        size = capacity(steps) if self.bucketed and self.stride == 1 else None
        with self.lock:
            for g in self.groups:
                g.reset(
                    [starts[i] if starts else self.racers[i].start for i in g.rows],
                    learning_rate,
                    momentum,
                )
            table = self._function(size)(tf.constant(steps, tf.int32)).numpy()
            self.calls += 1
            self.ran.add(size)
        return table[:rows]

    @property
    def row_of(self) -> np.ndarray:
        """Each racer's slot in `table`'s rows."""
        return self._row_of


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
_CACHE_SIZE = 64  # a race page warms one program per racer (12 optimizers)
_CACHE_LOCK = threading.Lock()


def _program(racer: Racer, jit: bool | None = None) -> Program:
    """The cached one-racer program for this optimizer, surface and fixed hyper-parameters
    (`jit`: replace it with one that is, or is not, XLA-compiled)."""
    key = (racer.optimizer, racer.surface, racer.fixed_hyperparameters)
    with _CACHE_LOCK:
        program = _CACHE.get(key)
        if program is not None and (jit is None or program.jit == jit):
            _CACHE.move_to_end(key)
            return program
        jit = WHATIF_JIT if jit is None else jit
        program = Program([racer], jit=jit, tensor_hyper=True, bucketed=True)
        _CACHE[key] = program
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return program


def _run_one(racer: Racer, steps: int, learning_rate: float | None, momentum: Any) -> Trajectory:
    """`racer` alone on its cached program; an XLA program that TensorFlow cannot compile
    or run is replaced by the same loop in the graph executor."""
    program = _program(racer)
    try:
        (trajectory,) = program.run(steps, [racer.start], learning_rate, momentum)
    except Exception as exc:
        import tensorflow as tf

        if not (program.jit and isinstance(exc, tf.errors.OpError)):
            raise
        program = _program(racer, jit=False)
        (trajectory,) = program.run(steps, [racer.start], learning_rate, momentum)
    return trajectory


def simulate(
    optimizer: str,
    hyperparameters: dict[str, Any],
    surface: str,
    start: Sequence[float] | None = None,
    steps: int = 500,
) -> dict[str, Any]:
    """Race one optimizer alone; returns positions [n, 2], losses [n], diverged_step, ...

    Compiled loops are cached per (optimizer, surface, hyper-parameters other than the
    learning rate and momentum): a new learning rate, momentum, start or step count
    re-runs the same loop, without tracing it again.
    """
    steps = _check_steps(steps)
    racer = Racer.make(optimizer, surface, hyperparameters, start)
    hp = racer.hp
    trajectory = _run_one(racer, steps, hp["learning_rate"], hp.get("momentum"))
    trajectory.racer = racer
    return trajectory.as_dict()


def prepare(optimizer: str, hyperparameters: dict[str, Any], surface: str, steps: int = 1) -> bool:
    """Trace, compile and run once the loop `simulate` would use for `steps` updates (the
    page's warm-up); idempotent.

    Returns True when it was ready already. Tracing alone is not enough: TensorFlow
    optimises (XLA compiles) the graph on its first call.
    """
    steps = _check_steps(steps)
    racer = Racer.make(optimizer, surface, hyperparameters)
    program = _program(racer)
    if capacity(steps) in program.ran:
        return True
    _run_one(racer, steps, None, None)
    return False
