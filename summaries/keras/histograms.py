"""Weight and gradient statistics: `summaries.variable_summaries`' layout for every weight,
and the gradients' histograms and norms."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf
from tensorboard.plugins.histogram import summary_v2 as histogram_v2
from tensorboard.util import tensor_util

from summaries import histogram_buckets
from summaries.keras.weights import Entry
from summaries.protos import histogram_value, scalar_value

# Above this size a histogram is computed on the device (summaries' one-hot-free op);
# below it on the host, where TensorBoard's numpy `histogram_pb` is ~10x cheaper per call.
_DEVICE_HISTOGRAM_SIZE = 1 << 16


def stats(
    array: np.ndarray, buckets: int, tensor: Any = None
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """(histogram buckets [k, 3], (mean, stddev, max, min)) of a host array.

    Non-finite values are left out of the histogram (as `summaries.histogram_buckets`)
    and show in the moments. A large array's histogram runs in TensorFlow, on `tensor`
    (the same values, already on the device) when given.
    """
    flat = np.asarray(array, np.float64).reshape(-1)
    mean = float(flat.mean())
    moments = (mean, float(np.sqrt(np.mean((flat - mean) ** 2))), flat.max(), flat.min())
    if flat.size > _DEVICE_HISTOGRAM_SIZE:
        source = array if tensor is None else tensor
        counts = np.asarray(histogram_buckets(source, buckets))
    else:
        finite = flat if np.isfinite(mean) else flat[np.isfinite(flat)]
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
    gradients by variable id."""
    values, norms = [], {}
    for scope, name, var in entries:
        grad = grads.get(id(var))
        if grad is None:
            continue
        if isinstance(grad, tf.IndexedSlices):
            grad = tf.convert_to_tensor(grad)
        hist, moments = stats(grad.numpy(), buckets, grad)
        values.append(histogram_value(f"{scope}/{name}/gradients", hist))
        count = int(np.prod(grad.shape))
        # sum of squares = n * (stddev^2 + mean^2), from the moments already computed
        norms[scope] = norms.get(scope, 0.0) + count * (moments[1] ** 2 + moments[0] ** 2)
    values += [scalar_value(f"{s}/gradient_norm", math.sqrt(n)) for s, n in norms.items()]
    return values
