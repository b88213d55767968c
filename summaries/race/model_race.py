"""Race optimizers on the user's own compiled Keras model, on its real loss landscape.

`race_model(model, x, y, optimizers=[...])` trains one clone of `model` per racer (every
clone starts from the model's own weights and random-generator state, so dropout draws the
same masks in every racer), with the loss, loss weights and metrics the model was compiled
with, on the same batches in the same order (each racer's step is Keras's own TensorFlow
`train_step` in a `tf.function` of its own: a forward pass with ``training=True``
(batch-norm statistics and dropout as `fit` handles them), `Model.compute_loss`, the
optimizer's `apply_gradients`; on each batch the racers take turns, and each step is timed
alone). A racer whose loss turns NaN or Inf is frozen there (its path ends at that step).
The user's model is never trained, and its weights are checked unchanged at the end.

The leaderboard (`summaries.race.metrics.model_metrics`, in each trajectory's metadata
``model_metrics``): ranked by the best validation loss (or a compiled metric, `rank_by`;
the final training loss without validation data), the time (steps and the racer's own
seconds) to reach a target, and each racer's wall time per step.

The map is the model's real landscape (Li et al. 2018, "Visualizing the Loss Landscape of
Neural Nets", section 7): by default the plane through the start spanned by the first two
principal components of all racers' weight trajectories together (uncentred: the
directions that explain most of the racers' motion away from the start; `explained` is
each direction's share of that motion), or two filter-normalised random directions
(``directions="random"``, as `nn_plane`). Every logged point is a racer's trainable
weights projected on the plane (least squares); the surface is the model's compiled loss
evaluated on a grid of the plane, on a fixed sample of the training data. The metadata's
`basis` says all of this. `race_model` returns a `ModelRace` and, with `logdir`, writes
one run in the race layout of `summaries.format` (plus one run per racer under
``<race>/hparams/`` for TensorBoard's HParams tab: hyper-parameters, final and best losses,
time to target, ms per step).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from summaries.race import optimizers as opts

# The plane, the surface's grid, the leaderboard and the logs are framework-free, shared
# with races of other frameworks' models (`landscape.race_landscape`).
from summaries.race.landscape import (
    MAX_GRID,
    ModelRace,
    ModelRacer,
    check_int,
    check_name,
    check_target,
    fit_plane,
    grid_values,
    plane_basis,
    ranking,
    score_racers,
    write_model_race,
)

MAX_STEPS = 100_000  # as the engine's
# Weight snapshots kept for the projection, all racers together (memory: count x weights x 4
# bytes), and at most this many per racer: positions are logged at the snapshot steps.
SNAPSHOT_BYTES = 512 * 2**20
MAX_SNAPSHOTS = 1000
DIRECTIONS = ("pca", "random")
DEFAULT_RACERS = ("sgd", "momentum", "rmsprop", "adam")  # the optimizers raced when not told
# What own-model racers start from when not told: Keras's own defaults (a real network),
# except the momentum of Momentum and NAG (0.9) and Adadelta's rate (1.0, the paper's
# setting, which Keras's documentation recommends; its 0.001 barely moves).
_MODEL_DEFAULTS = {"adadelta": {"learning_rate": 1.0}}
# The surface evaluates its sample in chunks of max(batch size, SURFACE_CHUNK) samples
# (batch-norm statistics per chunk): three times faster per grid point than batches of 32.
SURFACE_CHUNK = 256


# -- checking the input ------------------------------------------------------------------


def _leaves(value: Any, argument: str) -> dict[str, np.ndarray]:
    """An array or a dict of arrays as {key: array}; key "" for a single array."""
    if isinstance(value, Mapping):
        if not value:
            raise ValueError(f"{argument} must not be an empty dict")
        return {str(k): np.asarray(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        raise TypeError(
            f"{argument} must be an array or a dict of arrays, got a {type(value).__name__}"
        )
    try:
        array = np.asarray(value)
    except Exception:
        raise TypeError(f"{argument} must be an array or a dict of arrays") from None
    if array.dtype == object:
        raise TypeError(f"{argument} must be a numeric array, got dtype object")
    return {"": array}


def _rebuild(leaves: dict[str, np.ndarray], index: Any) -> Any:
    if list(leaves) == [""]:
        return leaves[""][index]
    return {k: v[index] for k, v in leaves.items()}


def _count(leaves: dict[str, np.ndarray], argument: str) -> int:
    lengths = {k: (len(v) if v.ndim else -1) for k, v in leaves.items()}
    if any(n < 1 for n in lengths.values()):
        raise ValueError(f"{argument} must hold at least one sample per array")
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{argument}: the arrays hold different sample counts {lengths}")
    return next(iter(lengths.values()))


def _check_model(model: Any) -> None:
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}")
    if not getattr(model, "compiled", False) or getattr(model, "loss", None) is None:
        raise ValueError("model must be compiled with a loss (model.compile(loss=...))")
    if not model.trainable_variables:
        raise ValueError("model has no trainable weights to race")


def model_defaults(optimizer: str) -> dict[str, Any]:
    """An own-model racer's default hyper-parameters (Keras's own learning rates)."""
    spec = opts.get_spec(optimizer)
    allowed = spec.allowed()
    hp = dict(spec.defaults)
    hp["learning_rate"] = float(allowed["learning_rate"])
    hp.update(_MODEL_DEFAULTS.get(optimizer, {}))
    return hp


def resolve_racers(
    optimizers: Sequence[Any], hp: Mapping[str, Mapping[str, Any]] | None = None
) -> list[tuple[str, str, dict[str, Any]]]:
    """(racer name, optimizer, hyper-parameters) per entry of `optimizers`: a name of
    `OPTIMIZERS`, or (name, {hyper-parameter: value}); `hp` overrides per optimizer name.
    Repeated optimizers get names ``sgd``, ``sgd-2``, ..."""
    if isinstance(optimizers, str) or not isinstance(optimizers, Sequence) or not optimizers:
        raise ValueError("optimizers must be a non-empty list of optimizer names")
    hp = dict(hp or {})
    for key in hp:
        opts.get_spec(key, "hp optimizer")
    out, seen = [], {}
    for entry in optimizers:
        own: Mapping[str, Any] = {}
        if isinstance(entry, tuple | list) and len(entry) == 2 and isinstance(entry[1], Mapping):
            entry, own = entry
        if not isinstance(entry, str) or entry not in opts.OPTIMIZERS:
            known = ", ".join(opts.OPTIMIZERS)
            raise ValueError(f"optimizers: unknown optimizer {entry!r} (choose from {known})")
        values = {**hp.get(entry, {}), **own}
        resolved = opts.resolve(entry, values, {entry: model_defaults(entry)}, argument="hp")
        seen[entry] = seen.get(entry, 0) + 1
        name = entry if seen[entry] == 1 else f"{entry}-{seen[entry]}"
        out.append((name, entry, resolved))
    return out


# -- the clones ------------------------------------------------------------------------------


def _compile_args(model: Any) -> dict[str, Any]:
    """Fresh objects of the model's compile arguments (its own metrics state untouched)."""
    import keras

    config = model.get_compile_config() or {}
    args = keras.saving.deserialize_keras_object(config) if config else {}
    args = dict(args or {})
    args.pop("optimizer", None)
    if args.get("loss") is None:
        args["loss"] = model.loss
    args["run_eagerly"] = False
    args["jit_compile"] = False
    return args


def clone_like(model: Any, optimizer: Any | None) -> Any:
    """A copy of `model` with its variables' values (random-generator state included),
    compiled like it with `optimizer` (None: Keras's default, never stepped)."""
    import keras

    try:
        clone = keras.models.clone_model(model)
    except Exception as exc:
        raise ValueError(f"model cannot be cloned (keras.models.clone_model: {exc})") from None
    mine, theirs = clone.variables, model.variables
    if len(mine) != len(theirs):
        raise ValueError("model cannot be cloned: its clone has other variables")
    for target, source in zip(mine, theirs, strict=True):
        target.assign(source.value)
    clone.compile(optimizer=optimizer or "sgd", **_compile_args(model))
    return clone


def _flat(variables: Sequence[Any]) -> np.ndarray:
    return np.concatenate([np.asarray(v.value).ravel() for v in variables]).astype(np.float32)


def _no_noise(clone: Any) -> None:
    """Switch off the clone's dropout and noise layers (the surface has no randomness)."""
    import keras

    for layer in clone._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Dropout | keras.layers.GaussianDropout):
            layer.rate = 0.0
        elif isinstance(layer, keras.layers.AlphaDropout):
            layer.rate = 0.0
        elif isinstance(layer, keras.layers.GaussianNoise):
            layer.stddev = 0.0


class _Step:
    """One racer's compiled training step on one batch, as Keras's TensorFlow `train_step`
    computes it (forward pass, compiled loss, scaled gradients, `apply_gradients`) but
    updating no compiled metric. Traced for any batch size and run once ahead of the race
    (its weights, batch-norm statistics, random-generator and optimizer state put back
    afterwards), so that the timed steps hold no tracing or first-run cost."""

    def __init__(self, clone: Any, x: Any, y: Any):
        import tensorflow as tf

        self.clone = clone

        def step(x: Any, y: Any, apply: bool) -> Any:
            variables = clone.trainable_variables
            with tf.GradientTape() as tape:
                y_pred = clone(x, training=True)
                loss = clone.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
                scaled = clone.optimizer.scale_loss(loss)
            if apply:
                grads = tape.gradient(scaled, variables)
                clone.optimizer.apply_gradients(zip(grads, variables, strict=True))
            return tf.cast(loss, tf.float32)

        self._fn = tf.function(step, reduce_retracing=True)
        spec = lambda a: tf.TensorSpec([None, *a.shape[1:]], a.dtype)  # noqa: E731
        # both programs (the last step only measures the loss) traced here, not on a call:
        # TensorFlow counts a call that traces against all racers' steps (one Python
        # function) and warns of "excessive retracing" from the fifth racer's last step on
        for apply in (True, False):
            self._fn.get_concrete_function(
                tf.nest.map_structure(spec, x), tf.nest.map_structure(spec, y), apply
            )
        state = [*clone.variables, *clone.optimizer.variables]
        saved = [np.array(v.value) for v in state]
        self(x, y)
        for v, value in zip(state, saved, strict=True):
            v.assign(value)

    def __call__(self, x: Any, y: Any, apply: bool = True) -> float:
        return float(self._fn(x, y, apply))


def _tensors(value: Any) -> Any:
    import tensorflow as tf

    return tf.nest.map_structure(tf.convert_to_tensor, value)


def _batches(count: int, batch_size: int, steps: int, seed: int) -> list[np.ndarray]:
    """Indices of steps + 1 batches: a new seeded shuffle per epoch, the last batch of an
    epoch shorter when `batch_size` does not divide `count` (as `fit(shuffle=True)`)."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    while len(out) < steps + 1:
        order = rng.permutation(count)
        out += [order[i : i + batch_size] for i in range(0, count, batch_size)]
    return out[: steps + 1]


def _snapshot_stride(steps: int, racers: int, weights: int) -> int:
    fit = max(2, SNAPSHOT_BYTES // max(1, racers * weights * 4))
    keep = min(steps + 1, MAX_SNAPSHOTS, fit)
    return max(1, math.ceil((steps + 1) / keep))


def _validation_batches(validation: tuple[Any, Any], batch_size: int) -> Any:
    """The validation data as one batched `tf.data.Dataset`, made once per race: `evaluate`
    given arrays builds a new input pipeline at every call (~60 ms; a race of four racers
    validates 41 times), given a dataset it only iterates it (the same batches, in order)."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(validation).batch(batch_size)


def _evaluate(clone: Any, batches: Any) -> dict[str, float]:
    """`Model.evaluate` of one racer (inference mode, its own batch-norm statistics)."""
    result = clone.evaluate(batches, verbose=0, return_dict=True)
    return {f"val_{k}": float(v) for k, v in result.items()}


def _run(
    model: Any,
    racers: list[tuple[str, str, dict[str, Any]]],
    x: dict[str, np.ndarray],
    y: dict[str, np.ndarray],
    batches: list[np.ndarray],
    val_batches: Any,
    eval_every: int,
    keep_weights: bool,
    report: Callable[[str, int, int], None] | None,
) -> tuple[list[ModelRacer], float]:
    """Race `racers` over `batches` (validated on `val_batches`, `_validation_batches` or
    None); returns the racers and the seconds spent stepping.

    On each batch the racers step one after another (in turns, starting one further each
    step), each with its own compiled step, and each step is timed alone
    (`ModelRacer.step_seconds`)."""
    steps = len(batches) - 1
    clones = [clone_like(model, opts.make(r[1], r[2])) for r in racers]
    for clone in clones:
        clone.optimizer.build(clone.trainable_variables)
    first_x, first_y = _tensors(_rebuild(x, batches[0])), _tensors(_rebuild(y, batches[0]))
    step_fns = [_Step(clone, first_x, first_y) for clone in clones]
    weights = int(sum(int(np.prod(v.shape)) for v in model.trainable_variables))
    stride = _snapshot_stride(steps, len(racers), weights) if keep_weights else 0
    results = [
        ModelRacer(r[0], r[1], r[2], np.full(steps + 1, np.nan), np.zeros(0, int), None)
        for r in racers
    ]
    timed: list[list[float]] = [[] for _ in racers]
    kept: list[list[tuple[int, np.ndarray]]] = [[] for _ in racers]
    active = list(range(len(racers)))
    stepping = 0.0

    def keep(i: int, t: int) -> None:
        """Keep racer i's weights at step t (taken before update t)."""
        if keep_weights:
            kept[i].append((t, _flat(clones[i].trainable_variables)))

    def validate(t: int, which: list[int]) -> None:
        if val_batches is None:
            return
        for i in which:
            for key, value in _evaluate(clones[i], val_batches).items():
                results[i].validation.setdefault(key, []).append((t, value))

    if val_batches is not None and active:  # every racer starts from the same weights
        first = _evaluate(clones[active[0]], val_batches)
        for i in active:
            for key, value in first.items():
                results[i].validation.setdefault(key, []).append((0, value))
    for t in range(steps + 1):
        last = t == steps
        if last:  # before the last batch's forward pass, which moves batch-norm statistics
            validate(steps, active)
        if last or (stride and t % stride == 0):
            for i in active:
                keep(i, t)
        xb, yb = _tensors(_rebuild(x, batches[t])), _tensors(_rebuild(y, batches[t]))
        frozen = []
        # the racers take turns, starting one further each step: whatever the first step on
        # a new batch costs more is shared evenly
        turn = t % len(active)
        for i in active[turn:] + active[:turn]:
            began = time.perf_counter()
            loss = step_fns[i](xb, yb, apply=not last)
            took = time.perf_counter() - began
            stepping += took
            if not last:
                timed[i].append(took)
            results[i].losses[t] = loss
            if not np.isfinite(loss):
                results[i].diverged_step = t
                frozen.append(i)
                if keep_weights and (not kept[i] or kept[i][-1][0] != t):
                    # its weights at step t are gone (updated): the row's position is NaN
                    kept[i].append((t, np.full(weights, np.nan, np.float32)))
        if frozen:  # the path ends here; the others race on without it
            for i in frozen:
                results[i].losses = results[i].losses[: t + 1]
            active = [i for i in active if i not in frozen]
        if not active:
            break
        if not last and (t + 1) % eval_every == 0 and t + 1 < steps:
            validate(t + 1, active)
        if report is not None:
            report("racing", t + 1, steps + 1)
    for i, r in enumerate(results):
        r.step_seconds = np.asarray(timed[i], dtype=np.float64)
        if keep_weights:
            r.snapshot_steps = np.array([t for t, _ in kept[i]], int)
            r.snapshots = np.stack([w for _, w in kept[i]])
    return results, stepping


# -- the plane -----------------------------------------------------------------------------


def random_plane(model: Any, seed: int) -> np.ndarray:
    """Two filter-normalised Gaussian directions [weights, 2] (Li et al. 2018): per weight
    tensor of rank >= 2, each output unit's (last axis') direction scaled to that unit's
    weight norm; biases and other vectors (batch-norm scales) not moved."""
    rng = np.random.default_rng(seed)
    columns = []
    for _ in range(2):
        parts = []
        for v in model.trainable_variables:
            w = np.asarray(v.value, np.float64)
            if w.ndim < 2:
                parts.append(np.zeros(w.size))
                continue
            d = rng.standard_normal(w.shape)
            axes = tuple(range(w.ndim - 1))
            norm_w = np.sqrt(np.square(w).sum(axis=axes, keepdims=True))
            norm_d = np.sqrt(np.square(d).sum(axis=axes, keepdims=True))
            d *= norm_w / np.maximum(norm_d, 1e-30)
            parts.append(d.ravel())
        columns.append(np.concatenate(parts))
    basis = np.stack(columns, axis=1)
    if not np.abs(basis).sum(axis=0).all():
        raise ValueError("directions='random' needs weight matrices (rank >= 2) to perturb")
    return basis.astype(np.float32)


def surface_grid(
    model: Any,
    origin: np.ndarray,
    basis: np.ndarray,
    window: Sequence[float],
    resolution: int,
    x: Any,
    y: Any,
    batch_size: int,
    report: Callable[[str, int, int], None] | None = None,
) -> np.ndarray:
    """The model's compiled loss [resolution, resolution] at origin + a d1 + b d2 over
    `window` (rows follow b), on the sample (x, y) in chunks of max(`batch_size`,
    SURFACE_CHUNK) samples, in training
    mode (batch-norm batch statistics, as the racers saw them) with dropout and noise off."""
    import tensorflow as tf

    clone = clone_like(model, None)
    _no_noise(clone)
    variables = clone.trainable_variables
    sizes = [int(np.prod(v.shape)) for v in variables]
    shapes = [tuple(v.shape) for v in variables]
    count = len(next(iter(x.values())) if isinstance(x, dict) else x)
    size = max(batch_size, SURFACE_CHUNK)  # fewer, larger forward passes per point
    chunks = [slice(i, min(count, i + size)) for i in range(0, count, size)]
    pieces = [
        (tf.nest.map_structure(tf.constant, _slice(x, c)),
         tf.nest.map_structure(tf.constant, _slice(y, c)),
         (c.stop - c.start) / count)
        for c in chunks
    ]  # fmt: skip

    @tf.function(reduce_retracing=True)
    def loss_at(flat: Any) -> Any:
        for v, part, shape in zip(variables, tf.split(flat, sizes), shapes, strict=True):
            v.assign(tf.cast(tf.reshape(part, shape), v.dtype))
        total = tf.constant(0.0, tf.float32)
        for xs, ys, share in pieces:
            y_pred = clone(xs, training=True)
            loss = clone.compute_loss(x=xs, y=ys, y_pred=y_pred, training=True)
            total += tf.cast(loss, tf.float32) * share
        return total

    return grid_values(
        lambda flat: loss_at(tf.constant(flat)), origin, basis, window, resolution, report=report
    )


def _slice(value: Any, index: Any) -> Any:
    if isinstance(value, dict):
        return {k: v[index] for k, v in value.items()}
    return value[index]


# -- the race ------------------------------------------------------------------------------


@dataclass
class Inputs:
    """Checked arguments of `race_model` (`check_inputs`)."""

    racers: list[tuple]
    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    count: int
    validation: tuple[Any, Any] | None
    steps: int
    batch_size: int
    grid: int
    sample: int
    directions: str
    eval_every: int
    seed: int
    tune: int | None
    name: str
    ranked_by: str = "loss"
    goal: str = "min"
    target: float | None = None


def check_inputs(
    model: Any,
    x: Any,
    y: Any,
    optimizers: Sequence[Any] = DEFAULT_RACERS,
    *,
    steps: int = 200,
    batch_size: int = 32,
    x_val: Any = None,
    y_val: Any = None,
    name: str = "model-race",
    hp: Mapping[str, Mapping[str, Any]] | None = None,
    grid: int = 21,
    sample: int = 256,
    directions: str = "pca",
    eval_every: int | None = None,
    seed: int = 0,
    tune: int | None = None,
    rank_by: str | None = None,
    target: float | None = None,
) -> Inputs:
    """Check every argument of `race_model` (one forward pass and loss on two samples
    included); ValueError / TypeError naming the argument. Writes nothing."""
    _check_model(model)
    steps = check_int("steps", steps, 1, MAX_STEPS)
    batch_size = check_int("batch_size", batch_size, 1, 2**31 - 1)
    grid = check_int("grid", grid, 2, MAX_GRID)
    sample = check_int("sample", sample, 1, 2**31 - 1)
    seed = check_int("seed", seed, 0, 2**32 - 1)
    if directions not in DIRECTIONS:
        raise ValueError(f"directions must be one of {', '.join(DIRECTIONS)}, got {directions!r}")
    if tune is not None:
        tune = check_int("tune", tune, 2, 1000)
    check_name(name)
    racers = resolve_racers(optimizers, hp)
    xs, ys = _leaves(x, "x"), _leaves(y, "y")
    count = _count(xs, "x")
    if _count(ys, "y") != count:
        raise ValueError(
            f"x and y must hold the same number of samples, got {count} and {_count(ys, 'y')}"
        )
    validation = None
    if (x_val is None) != (y_val is None):
        raise ValueError("x_val and y_val must be given together")
    if x_val is not None:
        xv, yv = _leaves(x_val, "x_val"), _leaves(y_val, "y_val")
        if _count(xv, "x_val") != _count(yv, "y_val"):
            raise ValueError("x_val and y_val must hold the same number of samples")
        validation = (_rebuild(xv, slice(None)), _rebuild(yv, slice(None)))
    if eval_every is None:
        eval_every = max(1, steps // 10)
    eval_every = check_int("eval_every", eval_every, 1, MAX_STEPS)
    ranked_by, goal = ranking(rank_by, validation)
    target = check_target(target)
    _check_fit(model, xs, ys, validation, batch_size, ranked_by)
    return Inputs(
        racers, xs, ys, count, validation, steps, batch_size, grid, sample, directions,
        eval_every, seed, tune, name, ranked_by, goal, target,
    )  # fmt: skip


def race_model(
    model: Any,
    x: Any,
    y: Any,
    optimizers: Sequence[Any] = DEFAULT_RACERS,
    *,
    logdir: Any = None,
    progress: Callable[[str, int, int], None] | None = None,
    **settings: Any,
) -> ModelRace:
    """Race `optimizers` on a compiled Keras `model` from its own weights; map the race on
    the model's real loss landscape and, with `logdir`, log it as run ``logdir/name``.

    optimizers: names of `summaries.race.OPTIMIZERS`, or (name, {hyper-parameter: value});
    the other keywords (`settings`) are those of `check_inputs`, whose signature holds
    their defaults: hp: {optimizer: {name: value}} overrides (defaults: Keras's own
    learning rates); steps / batch_size: updates per racer and samples per batch (the same
    seeded batches, reshuffled each epoch, for every racer); x_val / y_val: validation
    data, evaluated as `Model.evaluate` does every `eval_every` steps (default: ten times a
    race);
    grid: the surface's resolution; sample: training samples the surface is evaluated on;
    directions: "pca" (the racers' first two principal components) or "random"
    (filter-normalised random directions); tune: trials per optimizer (the same learning
    rates for every optimizer, `summaries.race.tuning`), scored as the race is ranked, the
    best one racing; rank_by: what the leaderboard ranks by: None (the best validation
    loss, else the final training loss), "train_loss", or a compiled metric ("accuracy",
    "val_accuracy", "accuracy:max", ...) on the validation data, whose direction is
    `metrics.metric_goal`'s unless ":min" or ":max" says it; target: the value of the
    ranked quantity whose first reaching is timed per racer (default: 90 % of the way from
    the racers' common start to the best any racer reached, `metrics.default_target`);
    progress: called as
    ``progress(stage, done, total)``. Bad arguments raise before anything runs or is
    written (`check_inputs`).

    Each racer's step is its own compiled function, run one after another with the other
    racers' on the same batch and timed alone (`ModelRacer.step_seconds`); its
    leaderboard (`ModelRacer.metrics`: score, time to target, ms per step) is
    `summaries.race.metrics.model_metrics`.
    """
    checked = check_inputs(model, x, y, optimizers, **settings)
    return race_checked(model, checked, logdir=logdir, progress=progress)


def race_checked(
    model: Any,
    a: Inputs,
    *,
    logdir: Any = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ModelRace:
    """`race_model` on arguments `check_inputs` has checked: a command that checks all
    its input before writing anything races on that check instead of making it twice
    (a clone of the model and a forward pass)."""
    started = time.perf_counter()
    batches = _batches(a.count, a.batch_size, a.steps, a.seed)
    seconds: dict[str, float] = {}
    racers = a.racers
    val_batches = None if a.validation is None else _validation_batches(a.validation, a.batch_size)
    run_args = (a.x, a.y, batches, val_batches, a.eval_every)  # the trials' and the race's
    if a.tune is not None:
        racers = _tune(model, racers, a.tune, run_args, a.seed, progress, a.ranked_by, a.goal)
        seconds["tuning"] = time.perf_counter() - started
    racing = time.perf_counter()
    results, stepping = _run(model, racers, *run_args, True, progress)
    for r, racer in zip(results, racers, strict=True):
        if len(racer) > 3:
            r.tuning = racer[3]
    seconds["race"] = time.perf_counter() - racing
    seconds["stepping"] = stepping

    planning = time.perf_counter()
    origin = _flat(model.trainable_variables)
    given = random_plane(model, a.seed) if a.directions == "random" else None
    plane = fit_plane(results, origin, given)
    rng = np.random.default_rng(a.seed + 1)
    picked = np.sort(rng.choice(a.count, size=min(a.sample, a.count), replace=False))
    values = surface_grid(
        model, origin, plane.directions, plane.window, a.grid, _rebuild(a.x, picked),
        _rebuild(a.y, picked), a.batch_size, progress,
    )  # fmt: skip
    seconds["surface"] = time.perf_counter() - planning
    basis = _basis(model, plane, a.directions, len(picked), a.count, a.seed, a.grid, a.batch_size)
    race = ModelRace(
        a.name, results, a.steps, a.batch_size, basis, plane.window, values, seconds,
        origin=origin, directions=plane.directions,
    )  # fmt: skip
    score_racers(race, a.ranked_by, a.goal, a.target)
    if logdir is not None:
        race.run_dir = write_model_race(logdir, race)
    _check_untouched(model, origin)
    seconds["total"] = time.perf_counter() - started
    return race


def _check_fit(
    model: Any, xs: dict, ys: dict, validation: Any, batch_size: int, ranked_by: str = "loss"
) -> None:
    """One forward pass and loss on two samples: arrays that do not fit the model raise
    ValueError naming x or y (before anything is trained or written); a compiled metric to
    rank by is looked up in `Model.evaluate` on two validation samples (ValueError naming
    rank_by when the model does not compute it)."""
    clone = clone_like(model, None)
    few = slice(0, min(2, batch_size))
    xb, yb = _rebuild(xs, few), _rebuild(ys, few)
    try:
        y_pred = clone(xb, training=False)
    except Exception as exc:
        raise ValueError(
            f"x does not fit the model's input {_shape(model.inputs)}: {error_line(exc)}"
        ) from None
    try:
        loss = clone.compute_loss(x=xb, y=yb, y_pred=y_pred, training=False)
        float(np.asarray(loss))
    except Exception as exc:
        raise ValueError(f"y does not fit the model's output and loss: {error_line(exc)}") from None
    if validation is not None:
        try:
            clone.compute_loss(
                x=None,
                y=_slice(validation[1], few),
                y_pred=clone(_slice(validation[0], few), training=False),
            )
        except Exception as exc:
            raise ValueError(f"x_val / y_val do not fit the model: {error_line(exc)}") from None
        if ranked_by not in ("loss", "val_loss"):
            few_val = (_slice(validation[0], few), _slice(validation[1], few))
            known = sorted(_evaluate(clone, _validation_batches(few_val, batch_size)))
            if ranked_by not in known:
                raise ValueError(
                    f"rank_by: the model computes no {ranked_by[4:]!r} on validation data "
                    f"(it computes {', '.join(k[4:] for k in known)})"
                )


def _shape(inputs: Any) -> str:
    try:
        return ", ".join(str(tuple(i.shape)) for i in inputs)
    except Exception:
        return "(unknown)"


def error_line(exc: BaseException) -> str:
    """The informative line of an exception (Keras wraps the cause in a frame of its own)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("Exception encountered")] or lines
    return (lines[0] if lines else type(exc).__name__)[:300]


def _check_untouched(model: Any, origin: np.ndarray) -> None:
    if not np.array_equal(_flat(model.trainable_variables), origin):
        raise RuntimeError("race_model changed the model's weights (a bug: please report it)")


def _tune(model, racers, trials, run_args, seed, progress, ranked_by="loss", goal="min"):
    """Every optimizer's `trials` settings (`tuning.trial_points`); the best per optimizer
    as the race ranks (best validation loss or compiled metric, else final training loss),
    with its tuning record."""
    from summaries.race import tuning

    objective = (
        "final training loss" if ranked_by == "loss"
        else f"{'lowest' if goal == 'min' else 'highest'} validation {ranked_by[4:]}"
    )  # fmt: skip
    chosen = []
    for name, optimizer, hp in racers:
        points = tuning.trial_points(optimizer, trials, seed)
        trial_racers = [(f"{name}#{k}", optimizer, {**hp, **p}) for k, p in enumerate(points)]
        results, _ = _run(model, trial_racers, *run_args, False, None)
        scores = [_score(r, ranked_by, goal) for r in results]
        best = min(range(len(results)), key=scores.__getitem__)
        record = {
            "objective": objective,
            "search_space": tuning.search_space(optimizer),
            "method": "centred Latin hypercube (the same learning rates for every optimizer)",
            "budget": trials,
            "seed": seed,
            "trials": [
                {
                    "hyperparameters": {
                        k: r.hyperparameters[k] for k in tuning.search_space(optimizer)
                    },
                    "score": None if not math.isfinite(s[1]) else s[1] * s[2],
                    "diverged_step": r.diverged_step,
                }
                for r, s in zip(results, scores, strict=True)
            ],
            "best": best,
        }
        chosen.append((name, optimizer, trial_racers[best][2], record))
        if progress is not None:
            progress("tuning", len(chosen), len(racers))
    return chosen


def _score(r: ModelRacer, ranked_by: str = "loss", goal: str = "min") -> tuple[int, float, int]:
    """(diverged, value, sign): smaller is better; value x sign is the racer's `ranked_by`
    (its final training loss for "loss", else its best validation value)."""
    from summaries.race.metrics import best_point

    sign = -1 if goal == "max" else 1
    if ranked_by == "loss":
        value = r.final_loss if r.diverged_step is None else math.inf
    else:
        best = best_point(r.validation.get(ranked_by, []), goal)
        value = math.inf if best is None else sign * best[1]
    return (r.diverged_step is not None, value if math.isfinite(value) else math.inf, sign)


def _basis(model, plane, directions, sample, count, seed, grid, batch_size) -> dict[str, Any]:
    """The trajectory metadata's `basis`: how the map was made (see `summaries.format`)."""
    how = {}
    if directions == "random":
        how["directions"] = (
            f"two Gaussian random directions (seed {seed}), filter-normalised per output unit; "
            "biases and other vectors not moved (Li et al. 2018)"
        )
    return plane_basis(
        plane, directions, plane.directions.shape[0], grid, **how,
        loss="recorded losses are each racer's training loss on its batch (training mode); "
        f"the surface is the compiled loss on the plane, on a fixed sample of {sample} of "
        f"{count} training samples in chunks of up to {max(batch_size, SURFACE_CHUNK)}, "
        "batch-norm statistics per chunk, dropout off",
        model=f"{model.name}: {len(model.layers)} layers",
        sample=sample,
    )  # fmt: skip
