"""Scalar, histogram and image summaries whose tags follow the name scopes as written.

`tf.summary.*` builds its tag from the graph's current name scope, which inside a
`tf.function` is not what the user wrote: AutoGraph loops and conditionals add `while/` and
`cond/` segments, and a scope opened twice becomes `layer_1`. The helpers here rebuild the
scope the user wrote (see `scope_tag`), so a tag reads the same eagerly and in a graph.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import tensorflow as tf
from tensorboard.plugins.histogram import metadata as histogram_metadata
from tensorboard.plugins.image import metadata as image_metadata
from tensorboard.plugins.scalar import metadata as scalar_metadata

from summaries import buckets as _hist
from summaries import checks
from summaries._autograph import not_converted

_UNIQUIFIED = re.compile(r"^(.+)_(\d+)$")


# -- tags -----------------------------------------------------------------------------


def _ununiquify(graph: Any, raw_prefix: str, segments: list[str]) -> list[str]:
    """Undo the graph's `_N` suffixes on scope segments that were opened more than once."""
    names_in_use = getattr(graph, "_names_in_use", {})
    written, raw = [], raw_prefix
    for segment in segments:
        match = _UNIQUIFIED.match(segment)
        key = f"{raw}/{match.group(1)}" if raw and match else match.group(1) if match else ""
        # `layer_1` comes from a second `layer` when `layer` has been opened twice or more
        if match and names_in_use.get(key.lower(), 0) > int(match.group(2)):
            written.append(match.group(1))
        else:
            written.append(segment)
        raw = f"{raw}/{segment}" if raw else segment
    return written


@not_converted
def written_scope() -> str:
    """The enclosing `tf.name_scope`s as the user wrote them ('' at top level)."""
    if tf.executing_eagerly():  # eager scopes are never renamed
        return tf.get_current_name_scope()
    graph = tf.compat.v1.get_default_graph()
    full = graph.get_name_scope()
    parts: list[str] = []
    while True:
        outer = getattr(graph, "outer_graph", None)
        if not getattr(graph, "is_control_flow_graph", False) or outer is None:
            segments = full.split("/") if full else []
            parts = _ununiquify(graph, "", segments) + parts
            break
        # A loop or branch body starts in its outer graph's scope, which ends with the
        # control-flow op's own scope (`while`, `cond_1`, ...): keep what follows it.
        base = outer.get_name_scope()
        if base and not (full == base or full.startswith(base + "/")):
            parts = _ununiquify(graph, "", full.split("/") if full else []) + parts
            break  # an absolute scope (trailing '/') opened inside the body
        relative = full[len(base) :].strip("/")
        segments = relative.split("/") if relative else []
        parts = _ununiquify(graph, base, segments) + parts
        full = base.rsplit("/", 1)[0] if "/" in base else ""
        graph = outer
    return "/".join(parts)


@not_converted
def scope_tag(name: str) -> str:
    """The summary tag for `name` under the enclosing name scopes as written."""
    checks.check_tag(name)
    scope = written_scope()
    return f"{scope}/{name}" if scope else name


# -- validation -----------------------------------------------------------------------


def numeric_tensor(
    data: Any,
    argument: str,
    kind: str = "numeric array-like",
    dtypes: str = "numeric (int, float or bool)",
) -> tf.Tensor:
    """`data` as a tensor of ints, floats or bools, or a TypeError saying that `argument`
    must be `kind` (when it is no tensor at all) or `dtypes` (when its dtype is another)."""
    try:
        tensor = tf.convert_to_tensor(data)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{argument} must be {kind}, got {type(data).__name__}") from exc
    dtype = tensor.dtype
    if not (dtype.is_floating or dtype.is_integer or dtype.is_bool):
        raise TypeError(f"{argument} must be {dtypes}, got dtype {dtype.name}")
    return tensor


def _tensor(data: Any, argument: str = "data") -> tf.Tensor:
    """Convert numpy / Python / tensor input to a numeric tensor, or raise TypeError."""
    if isinstance(data, tf.Variable):
        data = data.value()
    return numeric_tensor(data, argument)


def _written(result: Any) -> Any:
    """A Python bool eagerly (like the signature says); the bool tensor inside a graph."""
    return bool(result) if tf.executing_eagerly() else result


def _write(
    scope: str,
    plugin: Any,
    tag: str,
    tensor: Callable[[], tf.Tensor],
    step: Any,
    description: str | None,
) -> Any:
    """Write `tensor()` under `tag` with the summary metadata of `plugin` (one of
    TensorBoard's `metadata` modules), in a name scope `scope`; `_written`'s result."""
    metadata = plugin.create_summary_metadata(
        display_name=None, description=checks.check_description(description)
    )
    step = checks.check_step(step, optional=True)
    with tf.name_scope(scope):
        return _written(tf.summary.write(tag=tag, tensor=tensor, step=step, metadata=metadata))


# -- public summaries -----------------------------------------------------------------


@not_converted
def scalar(name: str, data: Any, step: Any = None, description: str | None = None) -> Any:
    """Write a scalar to the default writer under the enclosing name scopes.

    Returns True when written, False without a default writer (a bool tensor in a graph).
    """
    tag = scope_tag(name)
    tensor = _tensor(data)
    if tensor.shape.rank is not None and tensor.shape.num_elements() != 1:
        raise ValueError(f"data must be a single number, got shape {tensor.shape.as_list()}")
    return _write(
        "scalar_summary",
        scalar_metadata,
        tag,
        lambda: tf.cast(tf.reshape(tf.stop_gradient(tensor), []), tf.float32),
        step,
        description,
    )


@not_converted
def histogram_buckets(data: Any, buckets: int = 30) -> tf.Tensor:
    """The [buckets, 3] float64 (left, right, count) histogram of `data`, as TensorBoard's."""
    return _hist.buckets(_tensor(data), _hist.check_buckets(buckets))


@not_converted
def histogram(
    name: str,
    data: Any,
    step: Any = None,
    buckets: int = 30,
    description: str | None = None,
) -> Any:
    """Write a histogram (TensorBoard's format) without `tf.summary.histogram`'s one-hot."""
    tag = scope_tag(name)
    tensor = _tensor(data)
    bucket_count = _hist.check_buckets(buckets)
    return _write(
        "histogram_summary",
        histogram_metadata,
        tag,
        lambda: _hist.buckets(tf.stop_gradient(tensor), bucket_count),
        step,
        description,
    )


def _image_batch(data: Any) -> tf.Tensor:
    tensor = _tensor(data)
    rank = tensor.shape.rank
    if rank is None:
        raise ValueError("data must have a known rank: [k, h, w, c], [h, w, c] or [h, w]")
    if rank == 2:
        tensor = tensor[tf.newaxis, :, :, tf.newaxis]
    elif rank == 3:
        tensor = tensor[tf.newaxis]
    elif rank != 4:
        raise ValueError(
            f"data must have shape [k, h, w, c], [h, w, c] or [h, w], got {tensor.shape.as_list()}"
        )
    channels = tensor.shape[-1]
    if channels is not None and channels not in (1, 3, 4):
        raise ValueError(f"data must have 1, 3 or 4 channels, got {channels}")
    if tensor.dtype.is_bool:
        tensor = tf.cast(tensor, tf.uint8) * 255
    elif tensor.dtype.is_integer and tensor.dtype != tf.uint8:
        tensor = tf.cast(tf.clip_by_value(tensor, 0, 255), tf.uint8)
    return tensor


@not_converted
def image(
    name: str,
    data: Any,
    step: Any = None,
    max_outputs: int = 3,
    description: str | None = None,
) -> Any:
    """Write up to `max_outputs` images (uint8, or floats in [0, 1]) as PNG."""
    tag = scope_tag(name)
    images = _image_batch(data)
    max_outputs = checks.check_count("max_outputs", max_outputs)

    def encoded() -> tf.Tensor:
        pixels = tf.image.convert_image_dtype(images[:max_outputs], tf.uint8, saturate=True)
        shape = tf.shape(pixels)
        pngs = tf.map_fn(tf.image.encode_png, pixels, fn_output_signature=tf.string)
        dims = tf.stack([tf.as_string(shape[2]), tf.as_string(shape[1])])
        return tf.concat([dims, pngs], axis=0)

    return _write("image_summary", image_metadata, tag, encoded, step, description)


def _variable_scope_name(var: Any) -> str:
    raw = getattr(var, "path", None) or getattr(var, "name", None) or "variable"
    return re.sub(r"[^A-Za-z0-9_.\-/]", "_", str(raw).split(":")[0]).strip("/") or "variable"


@not_converted
def variable_summaries(var: Any, name: str | None = None, step: Any = None) -> None:
    """Mean, stddev, max, min scalars and a histogram of `var` under `<scope>/summaries`.

    `scope` is `name`, else the variable's name (its path for Keras variables); pass
    `name=""` for the course's layout, directly under the enclosing name scope.
    """
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a string or None, got {type(name).__name__}")
    scope = _variable_scope_name(var) if name is None else name.strip("/")
    values = tf.cast(_tensor(var, "var"), tf.float32)
    if values.shape.rank is not None and values.shape.num_elements() == 0:
        raise ValueError(f"var must not be empty, got shape {values.shape.as_list()}")
    prefix = f"{scope}/summaries" if scope else "summaries"
    mean = tf.reduce_mean(values)
    scalar(f"{prefix}/mean", mean, step=step)
    scalar(f"{prefix}/stddev", tf.sqrt(tf.reduce_mean(tf.square(values - mean))), step=step)
    scalar(f"{prefix}/max", tf.reduce_max(values), step=step)
    scalar(f"{prefix}/min", tf.reduce_min(values), step=step)
    histogram(f"{prefix}/histogram", values, step=step)
