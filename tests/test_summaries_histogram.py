"""The fast histogram matches TensorBoard's own bucketing, edge cases included."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.plugins.histogram import summary_v2

import summaries

ours_graph = tf.function(lambda data, k: summaries.histogram_buckets(data, k))


def reference(data, buckets: int) -> np.ndarray:
    """TensorBoard's bucketing (the function `tf.summary.histogram` writes)."""
    return summary_v2._buckets(tf.convert_to_tensor(data), buckets).numpy()


def assert_same_histogram(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape and ours.dtype == np.float64
    np.testing.assert_array_equal(ours[:, 2], theirs[:, 2])  # counts: exactly
    # edges: both come from tf.linspace, which rounds differently in graphs and eagerly
    scale = max(np.abs(theirs[:, :2]).max(), 1e-300)
    np.testing.assert_allclose(ours[:, :2], theirs[:, :2], rtol=1e-12, atol=1e-13 * scale)


rng = np.random.default_rng(7)
CASES = {
    "normal float32": rng.standard_normal(20_000).astype(np.float32),
    "uniform float64 2-D": rng.uniform(-3, 9, size=(50, 40)),
    "values on bucket edges": np.arange(0, 31, dtype=np.float32),
    "heavy tail": (rng.standard_cauchy(5000) * 1e3).astype(np.float32),
    "huge magnitudes": np.array([-3e38, 1e-30, 3e38, 5.0], np.float32),
    "tiny range": 1.0 + 1e-12 * np.arange(100, dtype=np.float64),
    "one element": np.array([4.25], np.float32),
    "two values": np.array([1.0, 2.0], np.float32),
    "constant": np.full((10, 10), 3.5, np.float32),
    "constant zero": np.zeros(7, np.float64),
    "empty": np.zeros([0], np.float32),
    "empty 2-D": np.zeros([0, 5], np.float32),
    "int32": rng.integers(-50, 50, 1000).astype(np.int32),
    "int64": rng.integers(0, 2**40, 1000).astype(np.int64),
    "uint8 image": rng.integers(0, 256, (4, 8, 8, 3)).astype(np.uint8),
    "float16": rng.standard_normal(3000).astype(np.float16),
    "bool": rng.integers(0, 2, 100).astype(bool),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_tensorboard_eagerly_and_in_graph(name):
    data = CASES[name]
    theirs = reference(data, 30)
    assert_same_histogram(summaries.histogram_buckets(data).numpy(), theirs)
    assert_same_histogram(ours_graph(tf.constant(data), 30).numpy(), theirs)


@pytest.mark.parametrize("buckets", [1, 7, 1000])
def test_matches_tensorboard_for_other_bucket_counts(buckets):
    for name in ("normal float32", "values on bucket edges", "constant", "empty", "int32"):
        data = CASES[name]
        theirs = reference(data, buckets)
        assert_same_histogram(summaries.histogram_buckets(data, buckets).numpy(), theirs)


def test_edge_cases_have_tensorboard_shapes():
    empty = summaries.histogram_buckets(np.zeros([0], np.float32)).numpy()
    assert empty.shape == (30, 3) and not empty.any()
    const = summaries.histogram_buckets(np.full(12, -2.0)).numpy()
    assert (const[:, :2] == -2.0).all()
    assert const[:, 2].tolist() == [0.0] * 29 + [12.0]
    data = rng.standard_normal(1001)
    hist = summaries.histogram_buckets(data, 10).numpy()
    assert hist[0, 0] == data.min() and hist[-1, 1] == data.max()
    assert hist[:, 2].sum() == data.size


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_non_finite_values_are_not_counted(dtype):
    finite = rng.standard_normal(500).astype(dtype)
    dirty = np.concatenate([finite[:100], [np.nan, np.inf], finite[100:], [-np.inf, np.nan]])
    dirty = dirty.astype(dtype)
    expected = reference(finite, 30)
    assert_same_histogram(summaries.histogram_buckets(dirty).numpy(), expected)
    assert_same_histogram(ours_graph(tf.constant(dirty), 30).numpy(), expected)
    assert summaries.histogram_buckets(dirty).numpy()[:, 2].sum() == finite.size


def test_reductions_propagate_nan_as_the_fast_path_assumes():
    # NaN must never reach tf.histogram_fixed_width (it would index out of bounds)
    reduce = tf.function(lambda x: (tf.reduce_min(x), tf.reduce_max(x)))
    for dtype in (np.float16, np.float32, np.float64):
        for size, position in ((3, 0), (3, 2), (100_003, 0), (100_003, 517), (100_003, 100_002)):
            values = np.linspace(-1, 1, size).astype(dtype)
            values[position] = np.nan
            for low, high in (reduce(values), (tf.reduce_min(values), tf.reduce_max(values))):
                assert np.isnan(low.numpy()) and np.isnan(high.numpy()), (dtype, size, position)


def test_only_non_finite_values_give_the_empty_histogram():
    for data in ([np.nan, np.nan], [np.inf, -np.inf, np.nan]):
        hist = ours_graph(tf.constant(data, tf.float32), 30).numpy()
        assert hist.shape == (30, 3) and not hist.any()
    # a constant among non-finite values is a constant histogram
    hist = summaries.histogram_buckets([np.nan, 2.0, np.inf, 2.0]).numpy()
    assert (hist[:, :2] == 2.0).all() and hist[-1, 2] == 2 and hist[:-1, 2].sum() == 0


def test_unknown_shape_inside_a_graph():
    fn = tf.function(
        lambda x: summaries.histogram_buckets(x, 30),
        input_signature=[tf.TensorSpec(None, tf.float32)],
    )
    for data in (CASES["normal float32"], CASES["constant"], CASES["empty"]):
        assert_same_histogram(fn(data).numpy(), reference(data, 30))


@pytest.mark.parametrize(
    "kwargs, error, needle",
    [
        ({"data": ["a", "b"]}, TypeError, "data"),
        ({"data": np.array([1 + 2j])}, TypeError, "data"),
        ({"data": {"x": 1}}, TypeError, "data"),
        ({"data": [1.0], "buckets": 0}, ValueError, "buckets"),
        ({"data": [1.0], "buckets": -3}, ValueError, "buckets"),
        ({"data": [1.0], "buckets": 2.5}, TypeError, "buckets"),
        ({"data": [1.0], "buckets": True}, TypeError, "buckets"),
        ({"data": [1.0], "buckets": 10**9}, ValueError, "buckets"),
    ],
)
def test_bad_input_names_the_argument(kwargs, error, needle):
    with pytest.raises(error, match=needle):
        summaries.histogram_buckets(**kwargs)
