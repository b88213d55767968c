"""Scalar, histogram and image helpers: tags as written, values readable by third parties."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tbparse import SummaryReader
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.histogram import summary_v2

import summaries


def read_tensors(logdir) -> dict[str, list[tuple[int, np.ndarray, str]]]:
    """{tag: [(step, value, plugin name)]} with TensorBoard's own EventAccumulator."""
    acc = event_accumulator.EventAccumulator(str(logdir), size_guidance={"tensors": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()["tensors"]:
        plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
        out[tag] = [(e.step, tf.make_ndarray(e.tensor_proto), plugin) for e in acc.Tensors(tag)]
    return out


def write(logdir, fn, *args):
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        result = fn(*args)
    writer.close()
    return result


def instrumented_body(x):
    """Name scopes like the course's, with AutoGraph loops and branches inside."""
    with tf.name_scope("train"):
        summaries.scalar("loss", x, step=0)
        for i in tf.range(2):
            step = tf.cast(i, tf.int64)
            with tf.name_scope("layer"):
                summaries.scalar("inside_loop", x, step=step)
                for _ in tf.range(1):
                    summaries.histogram("nested_loop", tf.fill([4], x), step=step)
            if x > 0:
                summaries.scalar("positive", x, step=step)
    with tf.name_scope("train"):  # a graph renames a second 'train' to 'train_1'
        summaries.scalar("again", x, step=0)
    with tf.name_scope("layer_1"):  # ... but a name the user wrote stays
        summaries.image("kept", tf.zeros([1, 2, 2, 1]), step=0)
    return tf.constant(True)


EXPECTED_TAGS = {
    "train/loss",
    "train/layer/inside_loop",
    "train/layer/nested_loop",
    "train/positive",
    "train/again",
    "layer_1/kept",
}


def test_tags_follow_written_scopes_in_graph_and_eagerly(tmp_path):
    write(tmp_path / "graph", tf.function(instrumented_body), tf.constant(2.0))
    write(tmp_path / "eager", instrumented_body, tf.constant(2.0))
    graph, eager = read_tensors(tmp_path / "graph"), read_tensors(tmp_path / "eager")
    assert set(graph) == EXPECTED_TAGS
    assert set(eager) == EXPECTED_TAGS
    assert [s for s, _, _ in graph["train/layer/inside_loop"]] == [0, 1]
    assert [float(v) for _, v, _ in graph["train/positive"]] == [2.0, 2.0]


def test_tensorflow_own_summaries_do_rename_tags_in_graphs(tmp_path):
    # the problem the helpers solve: without them the loop body gets a 'while/' scope
    @tf.function
    def body(x):
        with tf.name_scope("train"):
            for i in tf.range(2):
                tf.summary.scalar("inside_loop", x, step=tf.cast(i, tf.int64))
                summaries.scalar("ours", x, step=tf.cast(i, tf.int64))

    write(tmp_path, body, tf.constant(1.0))
    assert set(read_tensors(tmp_path)) == {"train/while/inside_loop", "train/ours"}


def test_scalars_histograms_images_read_back_as_data(tmp_path):
    data = np.random.default_rng(3).standard_normal((64, 8)).astype(np.float32)

    @tf.function
    def step_fn(step, values):
        with tf.name_scope("layer"):
            summaries.scalar("loss", tf.reduce_mean(values), step=step)
            summaries.histogram("weights", values, step=step, buckets=12)
            summaries.image("inputs", tf.sigmoid(tf.reshape(values[:24], [3, 8, 8, 1])), step=step)

    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        for step in range(3):
            step_fn(tf.constant(step, tf.int64), data + step)
        summaries.scalar("eager_scalar", np.float64(1.5), step=7)
        summaries.histogram("eager_hist", data, step=7)
    writer.close()

    # TensorBoard's EventAccumulator
    tensors = read_tensors(tmp_path)
    assert {p for series in tensors.values() for _, _, p in series} == {
        "scalars",
        "histograms",
        "images",
    }
    losses = [(s, float(v)) for s, v, _ in tensors["layer/loss"]]
    assert losses == [(s, pytest.approx(float(data.mean()) + s, rel=1e-5)) for s in range(3)]
    step, hist, _ = tensors["layer/weights"][2]
    assert step == 2 and hist.shape == (12, 3) and hist.dtype == np.float64
    expected = summary_v2._buckets(tf.constant(data + 2), 12).numpy()
    np.testing.assert_array_equal(hist[:, 2], expected[:, 2])
    np.testing.assert_allclose(hist[:, :2], expected[:, :2], rtol=1e-12)
    _, img, _ = tensors["layer/inputs"][0]
    assert img[:2].tolist() == [b"8", b"8"] and len(img) == 5
    pixels = tf.image.decode_png(img[3]).numpy()[..., 0].astype(int)
    expected_pixels = np.round(255 / (1 + np.exp(-data[8:16]))).astype(int)
    assert np.abs(pixels - expected_pixels).max() <= 1

    # tbparse (TF2 writes scalars and histograms as tensors)
    frame = SummaryReader(str(tmp_path)).tensors
    loss_rows = frame[frame.tag == "layer/loss"].sort_values("step")
    assert loss_rows.step.tolist() == [0, 1, 2]
    np.testing.assert_allclose(loss_rows.value.astype(float), data.mean() + np.arange(3), rtol=1e-5)
    row = frame[(frame.tag == "eager_hist")].iloc[0]
    parsed = SummaryReader.tensor_to_histogram(row.value)
    assert int(row.step) == 7 and sum(parsed["counts"]) == data.size
    assert frame[frame.tag == "eager_scalar"].value.tolist() == [1.5]


def test_variable_summaries_as_in_the_course(tmp_path):
    weights = tf.Variable([[1.0, 2.0], [3.0, 6.0]], name="W")
    bias = tf.Variable(tf.zeros([3]), name="b")

    @tf.function
    def log(step):
        with tf.name_scope("layer"):
            with tf.name_scope("weights"):
                summaries.variable_summaries(weights, step=step)
            with tf.name_scope("biases"):
                summaries.variable_summaries(bias, name="", step=step)  # the course's layout
            summaries.variable_summaries(weights, name="renamed", step=step)

    write(tmp_path, log, tf.constant(4, tf.int64))
    tensors = read_tensors(tmp_path)
    stats = ("mean", "stddev", "max", "min", "histogram")
    assert set(tensors) == (
        {f"layer/weights/W/summaries/{s}" for s in stats}
        | {f"layer/biases/summaries/{s}" for s in stats}
        | {f"layer/renamed/summaries/{s}" for s in stats}
    )
    value = {t.rsplit("/", 1)[-1]: v for t, [(_, v, _)] in tensors.items() if "/W/" in t}
    assert float(value["mean"]) == 3.0 and float(value["max"]) == 6.0
    assert float(value["min"]) == 1.0
    assert float(value["stddev"]) == pytest.approx(np.std([1.0, 2.0, 3.0, 6.0]))
    assert value["histogram"][:, 2].sum() == 4


def test_keras_variable_uses_its_path():
    import keras

    layer = keras.layers.Dense(2, name="dense_out")
    layer.build((None, 3))
    assert summaries.basic._variable_scope_name(layer.kernel) == "dense_out/kernel"


def test_no_writer_writes_nothing_and_reports_false(tmp_path):
    assert summaries.scalar("x", 1.0, step=0) is False
    assert summaries.histogram("x", [1.0, 2.0], step=0) is False
    assert summaries.image("x", np.zeros((2, 2)), step=0) is False
    with tf.summary.create_file_writer(str(tmp_path)).as_default():
        assert summaries.scalar("x", 1.0, step=0) is True
        assert summaries.histogram("x", [1.0, 2.0], step=0) is True


def test_public_names_are_the_functions_whatever_was_imported_first():
    import importlib

    for module in (
        "summaries.basic",
        "summaries.buckets",
        "summaries.race",
        "summaries.position_confusion",
        "summaries.pb",
        "summaries.format",
    ):
        importlib.import_module(module)
    for name in summaries._EXPORTS:
        value = getattr(summaries, name)
        assert callable(value) and not isinstance(value, type(summaries)), name


@pytest.mark.parametrize(
    "call, error, needle",
    [
        (lambda: summaries.scalar("loss", "high", step=0), TypeError, "data"),
        (lambda: summaries.scalar("loss", [1.0, 2.0], step=0), ValueError, "data"),
        (lambda: summaries.scalar("", 1.0, step=0), ValueError, "name"),
        (lambda: summaries.scalar(3, 1.0, step=0), TypeError, "name"),
        (lambda: summaries.scalar("a//b", 1.0, step=0), ValueError, "name"),
        (lambda: summaries.scalar("loss", 1.0, step="7"), TypeError, "step"),
        (lambda: summaries.scalar("loss", 1.0, step=-1), ValueError, "step"),
        (lambda: summaries.histogram("w", [1.0], step=True), TypeError, "step"),
        (lambda: summaries.scalar("loss", 1.0, step=0, description=5), TypeError, "description"),
        (lambda: summaries.histogram("w", ["a"], step=0), TypeError, "data"),
        (lambda: summaries.histogram("w", [1.0], step=0, buckets=0), ValueError, "buckets"),
        (lambda: summaries.image("img", np.zeros([2, 2, 2, 2, 2]), step=0), ValueError, "data"),
        (lambda: summaries.image("img", np.zeros([1, 4, 4, 2]), step=0), ValueError, "channels"),
        (
            lambda: summaries.image("img", np.zeros([4, 4]), step=0, max_outputs=0),
            ValueError,
            "max_outputs",
        ),
        (lambda: summaries.variable_summaries(np.zeros([0])), ValueError, "var"),
        (lambda: summaries.variable_summaries(["x"]), TypeError, "var"),
        (lambda: summaries.variable_summaries([1.0], name=3), TypeError, "name"),
    ],
)
def test_bad_input_raises_and_keeps_what_was_written(tmp_path, call, error, needle):
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        summaries.scalar("before", 1.0, step=0)
        with pytest.raises(error, match=needle):
            call()
        summaries.scalar("after", 2.0, step=1)
    writer.close()
    assert set(read_tensors(tmp_path)) == {"before", "after"}


def test_image_accepts_common_layouts(tmp_path):
    def log():
        summaries.image("gray", np.linspace(0, 1, 16).reshape(4, 4), step=0)
        summaries.image("rgb", np.full((4, 5, 3), 200, np.uint8), step=0)
        summaries.image("batch", np.random.default_rng(0).random((6, 3, 3, 1)), step=0)
        summaries.image("mask", np.eye(3, dtype=bool)[None, :, :, None], step=0)

    write(tmp_path, log)
    tensors = read_tensors(tmp_path)
    assert tensors["gray"][0][1][:2].tolist() == [b"4", b"4"]
    assert tensors["rgb"][0][1][:2].tolist() == [b"5", b"4"]
    assert len(tensors["batch"][0][1]) == 2 + 3  # max_outputs=3
    assert len(tensors["mask"][0][1]) == 3


def test_scope_tag_through_nested_branches_loops_and_absolute_scopes():
    seen = []

    @tf.function
    def body(x):
        with tf.name_scope("a"):

            def branch():
                with tf.name_scope("b"):
                    for _ in tf.range(2):
                        with tf.name_scope("abs/"):  # a trailing '/' resets the scope
                            seen.append(summaries.scope_tag("absolute"))
                        seen.append(summaries.scope_tag("loop_in_cond"))
                return x

            y = tf.cond(x > 0, branch, lambda: x)
            while x < 3.0:
                with tf.name_scope("w"):
                    if x > 1:
                        seen.append(summaries.scope_tag("if_in_while"))
                x = x + 1
        with tf.name_scope("a"), tf.name_scope("a"):
            seen.append(summaries.scope_tag("twice"))
        return y

    body(tf.constant(1.0))
    assert seen == ["abs/absolute", "a/b/loop_in_cond", "a/w/if_in_while", "a/a/twice"]


@pytest.mark.parametrize(
    "shape_dtype",
    [((5, 6, 7), "float32"), ((5, 6, 7, 1), "float64"), ((5, 3, 4, 3), "float16"),
     ((5, 3, 4, 4), "float32"), ((5, 8, 9, 3), "uint8"), ((5, 8, 9), "int32"),
     ((5, 4, 4), "bool"), ((0, 4, 4), "float32")],
)  # fmt: skip
def test_stacked_pngs_hold_the_pixels_encode_png_writes(shape_dtype):
    """The confusion examples' PNGs, encoded in bulk (`encode_pngs`), decode to the pixels
    (and mode) of `encode_png`, one image at a time (integers clipped to 0..255 first)."""
    import io

    import numpy as np
    from PIL import Image

    from summaries.protos import encode_png, encode_pngs

    shape, dtype = shape_dtype
    rng = np.random.default_rng(0)
    if dtype == "bool":
        images = rng.random(shape) > 0.5
    elif dtype.startswith("float"):
        images = (rng.random(shape) * 1.4 - 0.2).astype(dtype)
        if images.size:
            images[0, 0, 0], images[-1, 0, 0] = np.nan, np.inf
    else:
        images = rng.integers(-40, 300, shape).astype(dtype)
    stacked = encode_pngs(images)
    assert len(stacked) == len(images)
    for image, png in zip(images, stacked, strict=True):
        one = encode_png(
            image if image.dtype.kind == "f" else np.clip(image, 0, 255).astype(np.uint8)
        )
        expected, got = Image.open(io.BytesIO(one)), Image.open(io.BytesIO(png))
        assert got.mode == expected.mode
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
