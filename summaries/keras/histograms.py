"""Weight and gradient statistics: `summaries.variable_summaries`' layout for every weight,
and the gradients' histograms and norms."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from tensorboard.plugins.histogram import summary_v2 as histogram_v2
from tensorboard.util import tensor_util

from summaries.keras import backend
from summaries.keras.weights import Entry
from summaries.protos import histogram_value, scalar_value

# Above this size a histogram is computed without a one-hot: on the TensorFlow backend by
# summaries' op (on the device), elsewhere by `numpy_buckets`; below it on the host, where
# TensorBoard's numpy `histogram_pb` is ~10x cheaper per call than the op.
_DEVICE_HISTOGRAM_SIZE = 1 << 16


def numpy_buckets(finite: np.ndarray, buckets: int) -> np.ndarray:
    """TensorBoard's [k, 3] histogram of finite float64 values (its `histogram_pb`
    bucketing: floor((x - min) / ((max - min) / k)), clamped to k - 1) with one `bincount`
    instead of its [N, k] one-hot."""
    if finite.size == 0:
        return np.zeros((buckets, 3))
    low, high = float(finite.min()), float(finite.max())
    if low == high:
        edges = np.full(buckets, low)
        counts = np.zeros(buckets)
        counts[-1] = finite.size
        return np.stack([edges, edges, counts], axis=1)
    index = np.floor((finite - low) / ((high - low) / buckets)).astype(np.int64)
    counts = np.bincount(np.minimum(index, buckets - 1), minlength=buckets)
    edges = np.linspace(low, high, buckets + 1)
    return np.stack([edges[:-1], edges[1:], counts.astype(np.float64)], axis=1)


def stats(
    array: np.ndarray, buckets: int, tensor: Any = None
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """(histogram buckets [k, 3], (mean, stddev, max, min)) of a host array.

    Non-finite values are left out of the histogram (as `summaries.histogram_buckets`)
    and show in the moments. On the TensorFlow backend a large array's histogram runs in
    TensorFlow, on `tensor` (the same values, already on the device) when given; on the
    others in numpy (`numpy_buckets`).
    """
    flat = np.asarray(array, np.float64).reshape(-1)
    mean = float(flat.mean())
    moments = (mean, float(np.sqrt(np.mean((flat - mean) ** 2))), flat.max(), flat.min())
    finite = flat if np.isfinite(mean) else flat[np.isfinite(flat)]
    if flat.size > _DEVICE_HISTOGRAM_SIZE and backend.is_tensorflow():
        from summaries import histogram_buckets

        source = array if tensor is None else tensor
        counts = np.asarray(histogram_buckets(source, buckets))
    elif flat.size > _DEVICE_HISTOGRAM_SIZE:
        counts = numpy_buckets(finite, buckets)
    else:
        proto = histogram_v2.histogram_pb("h", finite, buckets=buckets)
        counts = tensor_util.make_ndarray(proto.value[0].tensor)
    return counts, tuple(float(m) for m in moments)


def weight_summaries(entries: list[Entry], host: dict[int, np.ndarray], buckets: int) -> list:
    """``<layer>/<weight>/summaries/{mean,stddev,max,min,histogram}`` from host copies."""
    values = []
    for scope, name, var in entries:
        array = host[id(var)]
        if array.size == 0:
            continue
        hist, (mean, std, high, low) = stats(array, buckets)
        prefix = f"{scope}/{name}/summaries"
        values += [
            scalar_value(f"{prefix}/mean", mean),
            scalar_value(f"{prefix}/stddev", std),
            scalar_value(f"{prefix}/max", high),
            scalar_value(f"{prefix}/min", low),
            histogram_value(f"{prefix}/histogram", hist),
        ]
    return values


def gradient_summaries(entries: list[Entry], grads: dict[int, Any], buckets: int) -> list:
    """``<layer>/<weight>/gradients`` (histograms) and ``<layer>/gradient_norm``, from the
    gradients by variable id (TensorFlow tensors or host arrays)."""
    values, norms = [], {}
    for scope, name, var in entries:
        grad = grads.get(id(var))
        if grad is None:
            continue
        if isinstance(grad, np.ndarray):
            hist, moments = stats(grad, buckets)
        else:  # a TensorFlow tensor (immutable), or its sparse IndexedSlices
            if type(grad).__name__ == "IndexedSlices":
                import tensorflow as tf

                grad = tf.convert_to_tensor(grad)
            hist, moments = stats(grad.numpy(), buckets, grad)
        values.append(histogram_value(f"{scope}/{name}/gradients", hist))
        count = int(np.prod(grad.shape))
        # sum of squares = n * (stddev^2 + mean^2), from the moments already computed
        norms[scope] = norms.get(scope, 0.0) + count * (moments[1] ** 2 + moments[0] ** 2)
    values += [scalar_value(f"{s}/gradient_norm", math.sqrt(n)) for s, n in norms.items()]
    return values
