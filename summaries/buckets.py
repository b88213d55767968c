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

import tensorflow as tf

from summaries.checks import MAX_BUCKETS, check_buckets

__all__ = ["DEFAULT_BUCKETS", "MAX_BUCKETS", "buckets", "check_buckets"]

DEFAULT_BUCKETS = 30


def _histogram(values: tf.Tensor, low: tf.Tensor, high: tf.Tensor, bucket_count: int):
    """Histogram of finite, non-empty `values` whose min and max are `low` and `high`."""
    low = tf.cast(low, tf.float64)  # min/max taken in the input dtype: exact after the cast
    high = tf.cast(high, tf.float64)

    def single_value() -> tf.Tensor:
        edges = tf.fill([bucket_count], high)
        size = tf.cast(tf.size(values), tf.float64)
        counts = tf.concat([tf.zeros([bucket_count - 1], tf.float64), [size]], 0)
        return tf.stack([edges, edges, counts], axis=1)

    def many_values() -> tf.Tensor:
        counts = tf.histogram_fixed_width(
            tf.cast(values, tf.float64), tf.stack([low, high]), nbins=bucket_count, dtype=tf.int64
        )
        edges = tf.linspace(low, high, bucket_count + 1)
        edges = tf.concat([edges[:-1], [high]], 0)  # linspace may round the last edge
        return tf.stack([edges[:-1], edges[1:], tf.cast(counts, tf.float64)], axis=1)

    return tf.cond(tf.equal(low, high), single_value, many_values)


def buckets(data: tf.Tensor, bucket_count: int = DEFAULT_BUCKETS) -> tf.Tensor:
    """[bucket_count, 3] float64 tensor of (left edge, right edge, count); graph-compatible."""
    with tf.name_scope("buckets"):
        flat = tf.reshape(data, [-1])
        if flat.dtype.is_bool or flat.dtype.is_integer:
            flat = tf.cast(flat, tf.float64)

        def empty() -> tf.Tensor:
            return tf.zeros([bucket_count, 3], tf.float64)

        def finite_only() -> tf.Tensor:
            kept = tf.boolean_mask(flat, tf.math.is_finite(flat))
            return tf.cond(
                tf.equal(tf.size(kept), 0),
                empty,
                lambda: _histogram(kept, tf.reduce_min(kept), tf.reduce_max(kept), bucket_count),
            )

        def nonempty() -> tf.Tensor:
            low, high = tf.reduce_min(flat), tf.reduce_max(flat)
            # TF's min/max reductions propagate NaN (tested), so finite extremes mean that
            # every value is finite and the common case needs no extra pass over the data.
            all_finite = tf.logical_and(tf.math.is_finite(low), tf.math.is_finite(high))
            return tf.cond(
                all_finite, lambda: _histogram(flat, low, high, bucket_count), finite_only
            )

        return tf.cond(tf.equal(tf.size(flat), 0), empty, nonempty)
