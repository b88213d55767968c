"""Optimizer-race summaries: whole trajectories (in chunks) and loss surfaces.

Each kind follows Flowscope's naming scheme:

* `trajectory` / `surface` write to the default `tf.summary` writer (eagerly: they build
  the protos on the host, so there is one format for both writers);
* `trajectory_pb` / `surface_pb` build the protos with numpy only (`trajectory_pb` gives
  one (step, Summary) per chunk of the whole trajectory);
* `write_trajectory` / `write_surface` write them to a `summaries.pb.LogWriter`, for
  PyTorch or plain-numpy loops.

The metadata layout is documented in `summaries.format` (plugin "optimizer_race"). Every
display field of a trajectory (titles, description, formula, analytic, tolerance, colour
order, log scale, tuning) is written: given ones as given, the others filled from the
library (`summaries.race.SURFACES` / `OPTIMIZERS`) when the surface or optimizer is one
of its own, else their documented defaults. Nothing is written until every argument has
been checked, so bad input never leaves a half-written trajectory behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from tensorboard.compat.proto import summary_pb2

from summaries import checks, protos
from summaries import format as fmt
from summaries._autograph import not_converted

# Rows per trajectory event: 100,000 steps make 25 events, well inside any reservoir.
DEFAULT_CHUNK = 4096

# Display fields of a trajectory (`summaries.format.TRAJECTORY_DEFAULTS`), keyword arguments
# of the trajectory writers.
DISPLAY_FIELDS = tuple(fmt.TRAJECTORY_DEFAULTS)

# Metadata fields the trajectory writers set themselves; `extra` fields must not reuse them.
TRAJECTORY_FIELDS = frozenset(
    {"version", "kind", "race", "optimizer", "hyperparameters", "surface", "window"}
    | {"start", "minima", "basis", "chunk"}
    | set(DISPLAY_FIELDS)
)


def _trajectory_arrays(steps: Any, positions: Any, losses: Any) -> tuple[np.ndarray, ...]:
    """steps [n], positions [n, 2] and losses [n] as float64, with n > 0."""
    steps_a = checks.float_array("steps", checks.host(steps), 1)
    pos = checks.float_array("positions", checks.host(positions), 2, 2)
    loss = checks.float_array("losses", checks.host(losses), 1)
    if not (len(steps_a) == len(pos) == len(loss)) or len(steps_a) == 0:
        raise ValueError(
            "steps, positions and losses must have the same non-zero length, got "
            f"{len(steps_a)}, {len(pos)}, {len(loss)}"
        )
    return steps_a, pos, loss


def _optional_text(argument: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise checks.ArgumentTypeError(f"{argument} must be a string or None, got {value!r}")
    return value


def _optional_number(argument: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise checks.ArgumentTypeError(f"{argument} must be a number or None, got {value!r}")
    if not np.isfinite(value):
        raise ValueError(f"{argument} must be finite, got {value!r}")
    return float(value)


def _model_metrics(value: Any) -> dict[str, Any]:
    """An own-model racer's `model_metrics` (`summaries.race.metrics.model_metrics`), checked:
    JSON, `ranked_by` a string, `goal` "min" or "max"."""
    from summaries.race.metrics import GOALS

    value = checks.check_json("model_metrics", value)
    if not isinstance(value, dict) or not isinstance(value.get("ranked_by"), str):
        raise ValueError(
            "model_metrics must be a dict with a 'ranked_by' name (metrics.model_metrics)"
        )
    if value.get("goal") not in GOALS:
        raise ValueError(f"model_metrics['goal'] must be one of {GOALS}, got {value.get('goal')!r}")
    return value


def display_fields(optimizer: str, surface: str, basis: Any = None, **given: Any) -> dict[str, Any]:
    """Every display field of a trajectory: `given` ones checked, the others filled in.

    A field left out (or None) comes from the library when `surface` names one of
    `summaries.race.SURFACES` and there is no `basis` (surface_title, description, formula,
    analytic, tolerance, log_scale, unbounded_below, axes), and from `OPTIMIZERS` when
    `optimizer` is one of its racers (optimizer_title, order); otherwise it takes its
    `format.TRAJECTORY_DEFAULTS` value.
    """
    unknown = sorted(set(given) - set(DISPLAY_FIELDS))
    if unknown:
        raise TypeError(f"unknown display fields: {unknown} (known: {list(DISPLAY_FIELDS)})")
    fields = {key: given.get(key) for key in DISPLAY_FIELDS}
    for key in ("optimizer_title", "surface_title", "description", "formula", "racer"):
        _optional_text(key, fields[key])
    if fields["racer"] is not None:
        fmt.race_tag("trajectory", fields["racer"])  # a name that makes a tag: ValueError
    for key in ("analytic", "log_scale", "unbounded_below"):
        if fields[key] is not None:
            checks.check_flag(key, fields[key])
    fields["tolerance"] = _optional_number("tolerance", fields["tolerance"])
    if fields["order"] is not None:
        fields["order"] = checks.check_count("order", fields["order"], minimum=0)
    fields["tuning"] = checks.check_json("tuning", fields["tuning"])
    if fields["model_metrics"] is not None:
        fields["model_metrics"] = _model_metrics(fields["model_metrics"])
    axes = fields["axes"]
    if axes is not None:
        if isinstance(axes, str | bytes) or len(axes) != 2:
            raise ValueError(f"axes must be two names (x, y), got {axes!r}")
        if not all(isinstance(name, str) and name for name in axes):
            raise checks.ArgumentTypeError(f"axes must be two non-empty strings, got {axes!r}")
        fields["axes"] = list(axes)

    from summaries.race.optimizers import OPTIMIZERS  # registries: numpy at most
    from summaries.race.surfaces import SURFACES

    library = SURFACES.get(surface) if basis is None else None
    if library is not None:
        for key, value in library.display_fields().items():
            if fields[key] is None:
                fields[key] = value
    if optimizer in OPTIMIZERS:
        if fields["optimizer_title"] is None:
            fields["optimizer_title"] = OPTIMIZERS[optimizer].title
        if fields["order"] is None:
            fields["order"] = list(OPTIMIZERS).index(optimizer)
    for key, default in fmt.TRAJECTORY_DEFAULTS.items():
        if fields[key] is None:
            fields[key] = default
    return fields


def _content(
    race: str,
    optimizer: str,
    surface: str,
    window: Sequence[float],
    hyperparameters: dict[str, Any] | None,
    start: Any,
    minima: Sequence[Sequence[float]] | None,
    basis: dict[str, Any] | None,
    chunk: int,
    display: dict[str, Any],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The checked metadata content of a trajectory (the same for each of its chunks)."""
    checks.check_text("race", race)
    checks.check_text("optimizer", optimizer)
    checks.check_text("surface", surface)
    clash = sorted(TRAJECTORY_FIELDS & set(extra))
    if clash:
        raise ValueError(f"extra metadata fields must not reuse reserved names: {clash}")
    start_point = checks.check_points("start", [checks.host(start)]) if start is not None else []
    content = {
        "race": race,
        "optimizer": optimizer,
        "hyperparameters": checks.check_json("hyperparameters", hyperparameters or {}),
        "surface": surface,
        "window": checks.check_window(window),
        "start": start_point[0] if start_point else None,
        "minima": checks.check_points("minima", minima),
        "basis": checks.check_json("basis", basis),
        "chunk": checks.check_count("chunk", chunk),
        **display_fields(optimizer, surface, basis, **display),
    }
    content.update({key: checks.check_json(key, value) for key, value in extra.items()})
    return content


def trajectory_chunks(
    steps: Any, positions: Any, losses: Any, chunk: int = DEFAULT_CHUNK
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Split a whole trajectory into (first_step, steps, positions, losses) chunks."""
    chunk = checks.check_count("chunk", chunk)
    steps_a, pos, loss = _trajectory_arrays(steps, positions, losses)
    for i in range(0, len(steps_a), chunk):
        yield int(steps_a[i]), steps_a[i : i + chunk], pos[i : i + chunk], loss[i : i + chunk]


def _chunk_summary(
    tag: str, steps: np.ndarray, positions: np.ndarray, losses: np.ndarray, metadata: Any
) -> summary_pb2.Summary:
    return protos.summary(tag, np.column_stack([steps, positions, losses]), metadata)


def trajectory_pb(
    tag: str,
    steps: Any,
    positions: Any,
    losses: Any,
    *,
    race: str,
    optimizer: str,
    surface: str,
    window: Sequence[float],
    hyperparameters: dict[str, Any] | None = None,
    start: Sequence[float] | None = None,
    minima: Sequence[Sequence[float]] | None = None,
    basis: dict[str, Any] | None = None,
    chunk: int = DEFAULT_CHUNK,
    optimizer_title: str | None = None,
    surface_title: str | None = None,
    description: str | None = None,
    formula: str | None = None,
    analytic: bool | None = None,
    tolerance: float | None = None,
    order: int | None = None,
    log_scale: bool | None = None,
    tuning: dict[str, Any] | None = None,
    unbounded_below: bool | None = None,
    racer: str | None = None,
    axes: Sequence[str] | None = None,
    model_metrics: dict[str, Any] | None = None,
    **extra: Any,
) -> list[tuple[int, summary_pb2.Summary]]:
    """Check a whole trajectory, then build its (first step, Summary) chunks (numpy only).

    Rows are (step, x, y, loss), NaN/Inf allowed in x, y and loss; steps are whole,
    non-negative and strictly increasing. Each chunk of `chunk` rows is one Summary whose
    event step is its first step.

    race, optimizer, surface: names (the page groups runs by `race`); window: the map
    [xmin, xmax, ymin, ymax]; hyperparameters: {name: value} the racer ran with; start: the
    race's start (default: the first finite position); minima: known minima [[x, y], ...];
    basis: a description of the 2-D projection when the map is a model's weights.
    Display fields (`summaries.format`; left out: filled as `display_fields` says):
    optimizer_title, surface_title, description, formula (plain text), analytic (a
    closed-form library surface the page's what-if can re-run), tolerance (arrival radius
    with minima, else loss threshold), order (the racer's colour order), log_scale, tuning,
    unbounded_below (the surface has no lower bound: leaving its window is an escape),
    racer (the racer's name within its race; the race layout writes every racer of a race
    into one run, under the tag `summaries.format.race_tag("trajectory", racer)`), axes
    (the names of the two parameters, the map's axes, e.g. ("k", "b")), model_metrics (an
    own-model racer's leaderboard: `summaries.race.metrics.model_metrics`).
    Any other keyword is stored as a further JSON metadata field.
    """
    checks.check_tag(tag, "tag")
    steps_a, pos, loss = _trajectory_arrays(steps, positions, losses)
    if not np.isfinite(steps_a).all() or (steps_a != np.round(steps_a)).any():
        raise ValueError("steps must be whole finite numbers")
    if (np.diff(steps_a) <= 0).any():
        raise ValueError("steps must be strictly increasing")
    if steps_a[0] < 0 or steps_a[-1] >= 2**63:
        raise ValueError("steps must be non-negative int64 values")
    if start is None and np.isfinite(pos[0]).all():  # the race's start, not each chunk's
        start = pos[0]
    display = dict(
        optimizer_title=optimizer_title,
        surface_title=surface_title,
        description=description,
        formula=formula,
        analytic=analytic,
        tolerance=tolerance,
        order=order,
        log_scale=log_scale,
        tuning=tuning,
        unbounded_below=unbounded_below,
        racer=racer,
        axes=axes,
        model_metrics=model_metrics,
    )
    content = _content(
        race, optimizer, surface, window, hyperparameters, start, minima, basis, chunk,
        display, extra,
    )  # fmt: skip
    metadata = fmt.make_metadata(fmt.RACE_PLUGIN, fmt.TRAJECTORY, content)
    return [
        (first, _chunk_summary(tag, s, p, lo, metadata))
        for first, s, p, lo in trajectory_chunks(steps_a, pos, loss, content["chunk"])
    ]


def trajectory_chunk_pb(
    tag: str, steps: Any, positions: Any, losses: Any, **kwargs: Any
) -> summary_pb2.Summary:
    """One chunk of a trajectory as a single Summary (keywords of `trajectory_pb`).

    For a trajectory written piece by piece; `start` defaults to this chunk's first row,
    so pass the race's start to every chunk.
    """
    checks.check_tag(tag, "tag")
    steps_a, pos, loss = _trajectory_arrays(steps, positions, losses)
    fields = dict(kwargs)
    core = {k: fields.pop(k, None) for k in ("race", "optimizer", "surface", "window")}
    missing = [k for k, v in core.items() if v is None]
    if missing:
        raise TypeError(f"trajectory_chunk_pb needs the keyword arguments {missing}")
    start = fields.pop("start", None)
    if start is None and np.isfinite(pos[0]).all():
        start = pos[0]
    content = _content(
        core["race"],
        core["optimizer"],
        core["surface"],
        core["window"],
        fields.pop("hyperparameters", None),
        start,
        fields.pop("minima", None),
        fields.pop("basis", None),
        fields.pop("chunk", DEFAULT_CHUNK),
        {k: fields.pop(k) for k in DISPLAY_FIELDS if k in fields},
        fields,
    )
    metadata = fmt.make_metadata(fmt.RACE_PLUGIN, fmt.TRAJECTORY, content)
    return _chunk_summary(tag, steps_a, pos, loss, metadata)


def surface_pb(
    tag: str,
    grid: Any,
    *,
    race: str,
    surface: str,
    window: Sequence[float],
    minima: Sequence[Sequence[float]] | None = None,
    log_scale: bool = False,
) -> summary_pb2.Summary:
    """A loss surface sampled on a regular [ny, nx] grid over `window` (rows follow y)."""
    checks.check_tag(tag, "tag")
    checks.check_text("race", race)
    checks.check_text("surface", surface)
    values = checks.float_array("grid", checks.host(grid), 2).astype(np.float32)
    if min(values.shape) < 2:
        raise ValueError(f"grid must be at least 2 x 2, got {list(values.shape)}")
    content = {
        "race": race,
        "surface": surface,
        "window": checks.check_window(window),
        "minima": checks.check_points("minima", minima),
        "log_scale": bool(log_scale),
    }
    return protos.summary(tag, values, fmt.make_metadata(fmt.RACE_PLUGIN, fmt.SURFACE, content))


def loss_chart_pb(title: str = "Optimizer race") -> summary_pb2.Summary:
    """A Custom Scalars layout drawing every racer's loss (tags ``race/loss/NAME``) on one chart.

    TensorBoard's Scalars tab draws one chart per tag (a race's losses side by side in its
    ``race`` section); with this layout in a race's run, its Custom Scalars tab draws them
    on one chart (select the race's run). Layouts of several runs merge into one chart.
    """
    from tensorboard.plugins.custom_scalar import layout_pb2
    from tensorboard.plugins.custom_scalar import metadata as layout_metadata

    checks.check_text("title", title)
    prefix = fmt.RACE_TAGS["loss"] + "/"
    chart = layout_pb2.Chart(
        title=f"loss per racer ({prefix}*)",
        multiline=layout_pb2.MultilineChartContent(tag=["^" + re.escape(prefix)]),
    )
    layout = layout_pb2.Layout(category=[layout_pb2.Category(title=title, chart=[chart])])
    return protos.summary(
        layout_metadata.CONFIG_SUMMARY_TAG,
        np.array(layout.SerializeToString(), dtype=object),
        layout_metadata.create_summary_metadata(),
    )


# Old names: `trajectory_events` (numpy) and `trajectory_summaries` are `trajectory_pb`.
trajectory_events = trajectory_pb
trajectory_summaries = not_converted(trajectory_pb)


# -- LogWriter writers (no TensorFlow) -----------------------------------------------------


@not_converted
def write_trajectory(
    writer: Any, name: str, steps: Any, positions: Any, losses: Any, **kwargs: Any
) -> int:
    """Write a whole trajectory to a `summaries.pb.LogWriter`; returns the event count.

    Keyword arguments are those of `trajectory_pb` (race, optimizer, surface and window
    required; hyperparameters, start, minima, basis, chunk; the display fields
    optimizer_title, surface_title, description, formula, analytic, tolerance, order,
    log_scale, tuning, unbounded_below, racer, axes, model_metrics; any other keyword is
    stored as further metadata).
    """
    checks.check_writer(writer)
    checks.check_tag(name)
    events = trajectory_pb(name, steps, positions, losses, **kwargs)
    for step, summary in events:
        writer.add(summary, step=step)
    return len(events)


@not_converted
def write_surface(writer: Any, name: str, grid: Any, *, step: int = 0, **kwargs: Any) -> None:
    """Write a loss surface on a regular [ny, nx] grid over `window` (no TensorFlow).

    Keyword arguments are those of `surface_pb`: race, surface and window (required),
    minima and log_scale.
    """
    checks.check_writer(writer)
    checks.check_tag(name)
    step = checks.check_step(step)
    writer.add(surface_pb(name, grid, **kwargs), step=step)


# -- TensorFlow writers -----------------------------------------------------------------


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

    return scope_tag(checks.check_tag(name))


@not_converted
def trajectory(name: str, steps: Any, positions: Any, losses: Any, **kwargs: Any) -> bool:
    """Write a whole optimizer trajectory to the default writer, one event per chunk.

    Rows are (step, x, y, loss); each event's step is the first step of its chunk.
    Keyword arguments are those of `trajectory_pb`: race, optimizer, surface and window
    (required), hyperparameters, start, minima, basis, chunk, the display fields
    (optimizer_title, surface_title, description, formula, analytic, tolerance, order,
    log_scale, tuning, unbounded_below, racer, axes, model_metrics); any other keyword is
    stored as further JSON metadata.
    Returns False when there is no default writer (nothing written).
    """
    events = trajectory_pb(_scoped(name), steps, positions, losses, **kwargs)
    written = True
    for step, summary in events:
        written = bool(_write_raw(summary, step)) and written
    return written


@not_converted
def surface(name: str, grid: Any, *, step: int = 0, **kwargs: Any) -> bool:
    """Write a loss surface sampled on a regular [ny, nx] grid over `window`.

    Keyword arguments are those of `surface_pb`: race, surface and window (required),
    minima and log_scale. Returns False when there is no default writer (nothing written).
    """
    step = checks.check_step(step)
    return bool(_write_raw(surface_pb(_scoped(name), grid, **kwargs), step))
