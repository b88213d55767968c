"""A fast histogram in TensorBoard's format, with `tf.summary.histogram`'s exact bucketing.

TensorBoard's `_buckets` (tensorboard/plugins/histogram/summary_v2.py) casts the data to
float64, takes `width = (max - min) / k`, puts each value in bucket
`min(floor((x - min) / width), k - 1)` and counts with a float64 one-hot of shape [N, k]
(about 240 MB for a million values). `tf.histogram_fixed_width` on the same float64 values
and range computes the same bucket index in one C++ pass (`(x - min) / ((max - min) / k)`,
clamped to `k - 1`, truncated) without the one-hot. Edges come from the same `tf.linspace`
with the last edge pinned to `max`, so edges agree to float64 rounding and counts exactly.

Edge cases follow TensorBoard: empty data gives k all-zero rows; constant data gives k
rows whose edges all equal the value, with every count in the last row.

Non-finite values (NaN, +Inf, -Inf) are NOT counted: the histogram is that of the finite
values (data with no finite value gives the all-zero histogram of empty data). TensorBoard's
own op turns the whole histogram into NaN edges and lost counts in that case.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

DEFAULT_BUCKETS = 30
MAX_BUCKETS = 100_000


def check_buckets(buckets: Any) -> int:
    """Validate a bucket count: a Python int in [1, MAX_BUCKETS]."""
    if isinstance(buckets, bool) or not isinstance(buckets, int):
        raise TypeError(f"buckets must be an integer, got {type(buckets).__name__}")
    if not 1 <= buckets <= MAX_BUCKETS:
        raise ValueError(f"buckets must be in [1, {MAX_BUCKETS}], got {buckets}")
    return buckets


def _finite_values(flat: tf.Tensor) -> tf.Tensor:
    """`flat` without NaN/Inf; copies only when there is something to drop."""
    if not flat.dtype.is_floating:
        return flat
    finite = tf.math.is_finite(flat)
    return tf.cond(
        tf.reduce_all(finite),
        lambda: flat,
        lambda: tf.boolean_mask(flat, finite),
    )


def buckets(data: tf.Tensor, bucket_count: int = DEFAULT_BUCKETS) -> tf.Tensor:
    """[bucket_count, 3] float64 tensor of (left edge, right edge, count); graph-compatible."""
    with tf.name_scope("buckets"):
        flat = tf.reshape(data, [-1])
        if flat.dtype.is_bool or flat.dtype.is_integer:
            flat = tf.cast(flat, tf.float64)
        flat = _finite_values(flat)
        size = tf.size(flat)

        def empty() -> tf.Tensor:
            return tf.zeros([bucket_count, 3], tf.float64)

        def nonempty() -> tf.Tensor:
            # min/max in the input dtype: exact after the cast, and half the bytes to read
            low = tf.cast(tf.reduce_min(flat), tf.float64)
            high = tf.cast(tf.reduce_max(flat), tf.float64)

            def single_value() -> tf.Tensor:
                edges = tf.fill([bucket_count], high)
                counts = tf.concat(
                    [tf.zeros([bucket_count - 1], tf.float64), [tf.cast(size, tf.float64)]], 0
                )
                return tf.stack([edges, edges, counts], axis=1)

            def many_values() -> tf.Tensor:
                values = tf.cast(flat, tf.float64)
                counts = tf.histogram_fixed_width(
                    values, tf.stack([low, high]), nbins=bucket_count, dtype=tf.int64
                )
                edges = tf.linspace(low, high, bucket_count + 1)
                edges = tf.concat([edges[:-1], [high]], 0)  # linspace may round the last
                return tf.stack([edges[:-1], edges[1:], tf.cast(counts, tf.float64)], axis=1)

            return tf.cond(tf.equal(low, high), single_value, many_values)

        return tf.cond(tf.equal(size, 0), empty, nonempty)
