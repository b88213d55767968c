"""SummaryCallback: what it writes (read back with TensorBoard's EventAccumulator and tbparse),
its switches, its argument checks and MirroredStrategy (in a subprocess)."""

from __future__ import annotations

import json
import os
import re
import textwrap
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import run_on_two_cpus, wait_for
from hypothesis import given, settings
from hypothesis import strategies as st

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorboard.backend.event_processing import plugin_event_accumulator  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

from summaries import SummaryCallback, histogram_buckets, storage, variable_summaries  # noqa: E402


class Logs:
    """Everything in one run directory, by tag: [(step, value)], plugin and the graph."""

    def __init__(self, logdir: Path):
        acc = plugin_event_accumulator.EventAccumulator(
            str(logdir), size_guidance={"tensors": 0, "graph": 1}
        )
        acc.Reload()
        self.tags = {}
        self.plugin = {}
        for tag in acc.Tags()["tensors"]:
            self.tags[tag] = [
                (e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)
            ]
            self.plugin[tag] = acc.SummaryMetadata(tag).plugin_data.plugin_name
        self.graph = acc.Graph() if acc.Tags()["graph"] else None
        self.content = {t: acc.SummaryMetadata(t).plugin_data.content for t in self.tags}

    def steps(self, tag: str) -> list[int]:
        return [s for s, _ in self.tags[tag]]

    def values(self, tag: str) -> list:
        return [v for _, v in self.tags[tag]]

    def last(self, tag: str):
        return self.tags[tag][-1][1]


class Recorder(keras.callbacks.Callback):
    """The per-batch logs Keras hands to callbacks."""

    def on_train_begin(self, logs=None):
        self.batches = []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(dict(logs))


def _cnn() -> keras.Model:
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(3, activation="softmax", name="head"),
        ],
        name="cnn",
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.random((n, 8, 8, 1)).astype("float32") * 0.5
    x[np.arange(n), y * 2 + 1, :, 0] += 0.5  # a learnable stripe per class
    return x, y


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    """One small CNN fit at the defaults (2 epochs x 6 batches, with validation data)."""
    logdir = tmp_path_factory.mktemp("cnn")
    x, y = _images(96, 0)
    vx, vy = _images(48, 1)
    model = _cnn()
    recorder = Recorder()
    history = model.fit(
        x,
        y,
        batch_size=16,
        epochs=2,
        validation_data=(vx, vy),
        shuffle=False,  # the sample batch is then the first 32 training examples
        callbacks=[recorder, SummaryCallback(logdir)],
        verbose=0,
    )
    return {
        "logs": Logs(logdir),
        "logdir": logdir,
        "model": model,
        "history": history.history,
        "batches": recorder.batches,
        "x": x,
        "y": y,
        "vx": vx,
        "vy": vy,
    }


def test_documented_tags_at_their_steps(cnn_run):
    """One step axis, the global step: every per-epoch tag at the step of the epoch's last
    batch (6 batches an epoch)."""
    logs = cnn_run["logs"]
    for name in ("loss", "accuracy", "learning_rate"):
        assert logs.steps(f"batch/{name}") == list(range(1, 13))
        assert logs.plugin[f"batch/{name}"] == "scalars"
    for name in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
        assert logs.steps(f"epoch/{name}") == [6, 12]
    for layer in ("conv", "head"):
        for weight in ("kernel", "bias"):
            prefix = f"{layer}/{weight}"
            for stat in ("mean", "stddev", "max", "min"):
                assert logs.steps(f"{prefix}/summaries/{stat}") == [6, 12]
            assert logs.plugin[f"{prefix}/summaries/histogram"] == "histograms"
            assert logs.plugin[f"{prefix}/gradients"] == "histograms"
            assert logs.steps(f"{prefix}/gradients") == [6, 12]
        for tag in (
            "gradient_norm",
            "update_ratio",
            "optimizer/momentum_norm",
            "optimizer/velocity_norm",
        ):
            assert logs.steps(f"{layer}/{tag}") == [6, 12], tag
    assert logs.steps("optimizer/momentum_norm") == [6, 12]
    assert logs.steps("input/images") == [6]  # the fixed sample batch: logged once
    assert logs.plugin["input/images"] == "images"
    assert logs.plugin["confusion"] == "position_confusion"
    assert logs.steps("confusion") == [6, 12]
    assert logs.steps("confusion/examples") == [6, 12]
    for tag in logs.tags:  # one set of summaries: no step written twice
        assert len(set(logs.steps(tag))) == len(logs.steps(tag)), tag


def test_input_images_are_the_sample_batch(cnn_run):
    """``input/images``: the first 3 training inputs (already in [0, 1]) as 8 x 8 PNGs."""
    import io

    from PIL import Image

    strings = cnn_run["logs"].last("input/images")
    assert [bytes(s) for s in strings[:2]] == [b"8", b"8"]  # width, height
    assert len(strings) == 2 + 3
    for png, expected in zip(strings[2:], cnn_run["x"][:3], strict=True):
        pixels = np.asarray(Image.open(io.BytesIO(bytes(png))))
        np.testing.assert_array_equal(pixels, np.round(expected[..., 0] * 255).astype(np.uint8))


def test_scalars_are_the_values_keras_reported(cnn_run):
    logs = cnn_run["logs"]
    batches = cnn_run["batches"]
    np.testing.assert_allclose(logs.values("batch/loss"), [b["loss"] for b in batches], rtol=1e-6)
    np.testing.assert_allclose(
        logs.values("batch/accuracy"), [b["accuracy"] for b in batches], rtol=1e-6
    )
    np.testing.assert_allclose(logs.values("batch/learning_rate"), 0.001, rtol=1e-6)
    for name, values in cnn_run["history"].items():
        np.testing.assert_allclose(logs.values(f"epoch/{name}"), values, rtol=1e-6)


def _gradients(model, x, y):
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=False), training=False)
    return dict(
        zip(
            [v.path for v in model.trainable_variables],
            tape.gradient(loss, model.trainable_variables),
            strict=True,
        )
    )


def test_weight_and_gradient_histograms(cnn_run):
    logs, model = cnn_run["logs"], cnn_run["model"]
    # the last epoch's summaries were taken at the weights fit() ended with
    grads = _gradients(model, cnn_run["x"][:32], cnn_run["y"][:32])
    for layer in ("conv", "head"):
        for var in model.get_layer(layer).trainable_weights:
            prefix = f"{layer}/{var.name}"
            weights_hist = logs.last(f"{prefix}/summaries/histogram")
            grads_hist = logs.last(f"{prefix}/gradients")
            np.testing.assert_allclose(weights_hist, histogram_buckets(var.numpy()), rtol=1e-6)
            np.testing.assert_allclose(
                grads_hist, histogram_buckets(grads[var.path]), rtol=1e-4, atol=1e-9
            )
            assert weights_hist[:, 2].sum() == grads_hist[:, 2].sum() == np.prod(var.shape)
            assert not np.allclose(weights_hist[:, :2], grads_hist[:, :2])
            np.testing.assert_allclose(
                logs.last(f"{prefix}/summaries/mean"), var.numpy().mean(), rtol=1e-5, atol=1e-7
            )
        norm = np.sqrt(
            sum(
                np.sum(grads[v.path].numpy() ** 2) for v in model.get_layer(layer).trainable_weights
            )
        )
        np.testing.assert_allclose(logs.last(f"{layer}/gradient_norm"), norm, rtol=1e-4)
        ratio = float(logs.last(f"{layer}/update_ratio"))
        assert 0 < ratio < 0.5


def test_weight_summaries_have_variable_summaries_layout(cnn_run, tmp_path):
    logs, model = cnn_run["logs"], cnn_run["model"]
    kernel = model.get_layer("conv").kernel
    with tf.summary.create_file_writer(str(tmp_path)).as_default():
        with tf.name_scope("conv"):
            variable_summaries(kernel, name="kernel", step=0)
    library = Logs(tmp_path)
    ours = {t for t in logs.tags if t.startswith("conv/kernel/summaries/")}
    assert ours == set(library.tags)
    for tag in library.tags:
        np.testing.assert_allclose(logs.last(tag), library.last(tag), rtol=1e-5, atol=1e-7)


def test_optimizer_slot_norms(cnn_run):
    logs, model = cnn_run["logs"], cnn_run["model"]
    slots = {v.name: v.numpy() for v in model.optimizer.variables}
    for layer in ("conv", "head"):
        for kind in ("momentum", "velocity"):
            expected = np.sqrt(
                sum(
                    np.sum(slots[f"{v.path.replace('/', '_')}_{kind}"].astype(np.float64) ** 2)
                    for v in model.get_layer(layer).trainable_weights
                )
            )
            np.testing.assert_allclose(
                logs.last(f"{layer}/optimizer/{kind}_norm"), expected, rtol=1e-5
            )


def test_confusion_on_validation_data(cnn_run):
    logs, model = cnn_run["logs"], cnn_run["model"]
    predicted = model.predict(cnn_run["vx"], verbose=0).argmax(-1)
    expected = np.zeros((1, 3, 3), np.int64)
    np.add.at(expected, (0, cnn_run["vy"], predicted), 1)
    np.testing.assert_array_equal(logs.last("confusion"), expected)
    content = json.loads(logs.content["confusion"])
    # one head of one position: named after the model ("cnn"), not its output layer
    assert content["classes"] == ["0", "1", "2"] and content["positions"] == ["cnn"]
    # one position: no whole-sequence accuracy of its own
    assert content["sequence_accuracy_tag"] is None
    assert "confusion/sequence_accuracy" not in logs.tags
    examples = logs.last("confusion/examples")
    index = json.loads(examples[0])
    assert (
        len(index["cells"])
        == len(examples) - 1
        == min(
            int((predicted != cnn_run["vy"]).sum()),
            sum(min(4, c) for c in (expected[0] - np.diag(np.diag(expected[0]))).ravel()),
        )
    )


def test_op_graph_with_layer_scopes(cnn_run):
    graph = cnn_run["logs"].graph
    assert graph is not None
    names = [node.name for node in graph.node]
    scopes = {part for name in names for part in name.split("/")[:-1]}
    assert any(s.startswith("conv") for s in scopes) and any(s.startswith("head") for s in scopes)
    ops = {node.op for node in graph.node}
    assert {"Conv2D", "MatMul", "Softmax"} <= ops  # the real ops, not Keras's layer config


def test_third_party_reader_gets_the_data(cnn_run):
    from tbparse import SummaryReader

    frame = SummaryReader(str(cnn_run["logdir"]), pivot=False).tensors
    loss = frame[frame.tag == "batch/loss"].sort_values("step")
    assert loss.step.tolist() == list(range(1, 13))
    np.testing.assert_allclose(
        loss.value.astype(float), [b["loss"] for b in cnn_run["batches"]], rtol=1e-6
    )
    hist = frame[frame.tag == "head/kernel/gradients"]
    assert len(hist) == 2 and np.asarray(hist.value.iloc[0]).shape == (30, 3)


def test_multi_head_confusion_and_names(tmp_path):
    """A captcha-like model: 3 softmax heads over the same 4 classes plus a regression head."""
    keras.utils.set_random_seed(2)
    rng = np.random.default_rng(3)
    x = rng.random((64, 8, 8, 1)).astype("float32")
    ys = [rng.integers(0, 4, 64) for _ in range(3)]
    size = rng.random((64, 1)).astype("float32")
    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(
        keras.layers.Flatten(name="flatten")(inputs)
    )
    heads = [
        keras.layers.Dense(4, activation="softmax", name=f"digit{i}")(hidden) for i in range(3)
    ]
    model = keras.Model(inputs, [*heads, keras.layers.Dense(1, name="size")(hidden)])
    model.compile(optimizer="adam", loss=["sparse_categorical_crossentropy"] * 3 + ["mse"])
    model.fit(
        x[:48],
        [y[:48] for y in ys] + [size[:48]],
        batch_size=16,
        epochs=1,
        verbose=0,
        validation_data=(x[48:], [y[48:] for y in ys] + [size[48:]]),
        callbacks=[SummaryCallback(tmp_path, class_names=list("abcd"))],
    )
    logs = Logs(tmp_path)
    counts = logs.last("confusion")
    assert counts.shape == (3, 4, 4)
    predictions = model.predict(x[48:], verbose=0)
    for p in range(3):
        expected = np.zeros((4, 4), np.int64)
        np.add.at(expected, (ys[p][48:], predictions[p].argmax(-1)), 1)
        np.testing.assert_array_equal(counts[p], expected)
    content = json.loads(logs.content["confusion"])
    assert content["positions"] == ["digit0", "digit1", "digit2"]
    assert content["classes"] == list("abcd")
    assert {"digit0/kernel/gradients", "size/kernel/gradients"} <= set(logs.tags)
    # the whole-sequence accuracy (every head right), logged beside the matrix and named by it
    right = [predictions[p].argmax(-1) == ys[p][48:] for p in range(3)]
    assert content["sequence_accuracy_tag"] == "confusion/sequence_accuracy"
    assert logs.steps("confusion/sequence_accuracy") == logs.steps("confusion") == [3]
    np.testing.assert_allclose(
        logs.last("confusion/sequence_accuracy"), np.mean(np.all(right, axis=0)), rtol=1e-6
    )


def test_sequence_accuracy_tag_named_by_the_user_or_off(tmp_path):
    keras.utils.set_random_seed(4)
    rng = np.random.default_rng(4)
    x = rng.random((32, 6)).astype("float32")
    ys = [rng.integers(0, 3, 32) for _ in range(2)]
    inputs = keras.Input((6,))
    heads = [keras.layers.Dense(3, activation="softmax", name=f"h{i}")(inputs) for i in range(2)]
    model = keras.Model(inputs, heads)
    model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy"] * 2)
    quiet = dict(histogram_freq=0, gradient_freq=0, ratio_freq=0, optimizer_freq=0)
    quiet.update(batch_freq=0, write_graph=False)
    named = SummaryCallback(tmp_path / "named", sequence_accuracy_tag="epoch/val_whole", **quiet)
    off = SummaryCallback(tmp_path / "off", sequence_accuracy_tag=False, **quiet)
    model.fit(x, ys, epochs=1, verbose=0, validation_data=(x, ys), callbacks=[named, off])
    for run, expected in (("named", "epoch/val_whole"), ("off", None)):
        logs = Logs(tmp_path / run)
        assert json.loads(logs.content["confusion"])["sequence_accuracy_tag"] == expected
        assert "confusion/sequence_accuracy" not in logs.tags


def _positions(model: keras.Model, preds: list, labels: list, **kwargs) -> dict[str, list]:
    """The position names of each confusion tag the callback writes for `model`'s outputs
    `preds` (by head) on `labels`."""
    from summaries.keras import confusion

    x = np.zeros((len(labels[0]), 4), np.float32)
    names = confusion.head_names(model, len(preds))
    y = labels[0] if len(labels) == 1 else labels
    values = confusion.confusion_values(
        model,
        (x, y, preds, names),
        class_names=None,
        position_names=kwargs.get("position_names"),
        cap_per_cell=1,
        sequence_accuracy=None,
    )
    return {
        v.tag: json.loads(v.metadata.plugin_data.content)["positions"]
        for v in values
        if v.metadata.plugin_data.plugin_name == "position_confusion"
    }


def test_a_single_classifier_position_is_all_or_the_models_name():
    """Issue 28 item 16: one classification head of one position is named "all" (as the
    lessons name theirs), or after the model when the user named it, never after its
    output layer; several heads keep their names; `position_names` wins."""
    rng = np.random.default_rng(8)
    labels = [rng.integers(0, 3, 10)]
    scores = [rng.random((10, 3)).astype("float32")]

    def sequential(name=None):
        layers = [keras.Input((4,)), keras.layers.Dense(3, activation="softmax", name="dense_7")]
        return keras.Sequential(layers, name=name)

    assert _positions(sequential(), scores, labels) == {"confusion": ["all"]}
    sequential()  # Keras names the next one sequential_<n>
    assert sequential().name != "sequential"
    assert _positions(sequential(), scores, labels) == {"confusion": ["all"]}
    assert _positions(sequential("digits"), scores, labels) == {"confusion": ["digits"]}
    inputs = keras.Input((4,))
    functional = keras.Model(inputs, keras.layers.Dense(3, name="fc3")(inputs))
    assert _positions(functional, scores, labels) == {"confusion": ["all"]}
    named = _positions(sequential("digits"), scores, labels, position_names=["cats v dogs"])
    assert named == {"confusion": ["cats v dogs"]}
    # a regression output beside the one classification head: still one position
    size = keras.layers.Dense(1, name="size")(inputs)
    two = keras.Model(inputs, [keras.layers.Dense(3, name="kind")(inputs), size])
    regression = [rng.random((10, 1)).astype("float32")]
    assert _positions(two, [*scores, *regression], [*labels, *regression]) == {"confusion": ["all"]}
    # several positions: the heads' names
    heads = keras.Model(
        inputs, [keras.layers.Dense(3, name=f"digit{i}")(inputs) for i in range(2)], name="cap"
    )
    both = _positions(heads, scores * 2, labels * 2)
    assert both == {"confusion": ["digit0", "digit1"]}
    sequence = _positions(
        sequential("seq"), [rng.random((10, 2, 3))], [rng.integers(0, 3, (10, 2))]
    )
    assert sequence == {"confusion": ["dense_7[0]", "dense_7[1]"]}
    # two heads of different class counts: two matrices of one position each, named by head
    mixed = keras.Model(
        inputs,
        [keras.layers.Dense(3, name="three")(inputs), keras.layers.Dense(4, name="four")(inputs)],
    )
    four = [rng.random((10, 4)).astype("float32")]
    assert _positions(mixed, [*scores, *four], [*labels, rng.integers(0, 4, 10)]) == {
        "confusion/3_classes": ["three"],
        "confusion/4_classes": ["four"],
    }


def test_one_step_axis_for_every_kind(tmp_path):
    """Issue 28 item 4: every kind the callback writes sits on the global step. 3 epochs of
    4 batches: the epoch scalars, weight histograms and confusion matrices at 4, 8, 12,
    each the step of its epoch's last `batch/loss`; a second fit of the model goes on at
    16, 20 (its epochs numbered from `initial_epoch`), nothing written twice."""
    x, y = _images(64, 3)
    vx, vy = _images(16, 4)
    model = _cnn()
    callback = SummaryCallback(tmp_path, write_graph=False, gradient_freq=0, optimizer_freq=0)
    fit = dict(batch_size=16, validation_data=(vx, vy), verbose=0, callbacks=[callback])
    model.fit(x, y, epochs=3, **fit)
    logs = Logs(tmp_path)
    ends = [4, 8, 12]
    assert logs.steps("batch/loss") == list(range(1, 13))
    for tag in ("epoch/loss", "epoch/val_accuracy", "head/kernel/summaries/histogram"):
        assert logs.steps(tag) == ends, tag
    assert logs.steps("confusion") == logs.steps("confusion/examples") == ends
    assert logs.steps("conv/update_ratio") == ends
    assert logs.steps("input/images") == [4]
    model.fit(x, y, epochs=5, initial_epoch=3, **fit)
    logs = Logs(tmp_path)
    ends += [16, 20]
    assert logs.steps("batch/loss") == list(range(1, 21))
    for tag in ("epoch/loss", "head/kernel/summaries/histogram", "confusion"):
        assert logs.steps(tag) == ends, tag
    for tag in logs.tags:
        assert len(set(logs.steps(tag))) == len(logs.steps(tag)), tag


def test_epochs_of_unknown_length_in_calls_of_several_steps(tmp_path):
    """A generator (no epoch length) in calls of 4 steps: Keras reports the short last
    call (2 steps) at its nominal end (batch 11); the callback puts that call's batch
    scalars and the epoch's summaries at the true step, 10, and the next fit goes on."""

    def batches(n):
        rng = np.random.default_rng(n)
        for _ in range(n):
            yield rng.random((4, 3)).astype("float32"), rng.random((4, 1)).astype("float32")

    keras.utils.set_random_seed(9)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, name="out")])
    model.compile(optimizer="sgd", loss="mse", steps_per_execution=4)
    callback = SummaryCallback(tmp_path, write_graph=False, gradient_freq=0, confusion_freq=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras: the input ran out of data
        model.fit(batches(10), epochs=1, verbose=0, callbacks=[callback])
        assert int(np.asarray(model.optimizer.iterations)) == 10
        model.fit(batches(8), epochs=1, verbose=0, callbacks=[callback])
    logs = Logs(tmp_path)
    assert logs.steps("batch/loss") == [4, 8, 10, 14, 18]
    assert logs.steps("epoch/loss") == logs.steps("out/kernel/summaries/histogram") == [10, 18]


def test_a_full_disk_never_ends_training(tmp_path):
    """A logging fault (the disk fills up after the first epoch) warns once; fit goes on,
    and logging resumes (in a new event file: /dev/full cannot be cut back) with nothing
    lost."""

    class FillDisk(keras.callbacks.Callback):
        def __init__(self, summary: SummaryCallback):
            super().__init__()
            self.summary = summary

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                writer = self.summary._writer
                writer.drain()
                writer._file.close()
                writer._file = storage.LocalLogFile(Path("/dev/full"))  # closed by the writer

    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="out")])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(5).random((64, 4)).astype("float32")
    summary = SummaryCallback(tmp_path, write_graph=False, confusion_freq=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(
            x, x[:, :2], batch_size=8, epochs=4, verbose=0, callbacks=[summary, FillDisk(summary)]
        )
        summary.close()
    assert len(history.history["loss"]) == 4
    faults = [w for w in caught if "logging paused" in str(w.message)]
    assert len(faults) == 1 and "No space left" in str(faults[0].message)
    assert Logs(tmp_path).steps("epoch/loss") == [8, 16, 24, 32]
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 2


def test_switches_and_frequencies(tmp_path):
    """Parts switched off write nothing; frequencies pick the steps; SGD momentum and a
    learning-rate schedule are logged per batch."""
    keras.utils.set_random_seed(4)
    rng = np.random.default_rng(4)
    x = rng.random((80, 6)).astype("float32")
    y = rng.integers(0, 2, 80)
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(5, name="fc"),
            keras.layers.Dense(2, activation="softmax", name="out"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(schedule, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        steps_per_execution=2,  # calls of 2, 2 and 1 batches per epoch
    )
    callback = SummaryCallback(
        tmp_path,
        batch_freq=2,
        epoch_freq=0,
        histogram_freq=0,
        gradient_freq=2,
        ratio_freq=0,
        image_freq=0,
        write_graph=False,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[callback])
    assert any("no validation data" in str(w.message) for w in caught)
    logs = Logs(tmp_path)
    steps = logs.steps("batch/loss")
    # calls end at 2, 4, 5 | 7, 9, 10 | 12, 14, 15: log those whose steps hold a multiple of 2
    assert steps == [2, 4, 7, 9, 10, 12, 14]
    expected_lr = [float(schedule(s - 1)) for s in steps]  # the rate each update used
    np.testing.assert_allclose(logs.values("batch/learning_rate"), expected_lr, rtol=1e-6)
    # epochs 0 and 2 (gradient_freq=2), at the steps of their ends
    assert logs.steps("fc/kernel/gradients") == [5, 15]
    assert logs.steps("fc/optimizer/momentum_norm") == [5, 10, 15]
    assert logs.graph is None
    forbidden = ("epoch/", "/summaries/", "update_ratio", "input/", "confusion")
    assert not [t for t in logs.tags if any(f in t for f in forbidden)]


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"batch_freq": -1}, "batch_freq"),
        ({"histogram_freq": 1.5}, "histogram_freq"),
        ({"gradient_freq": True}, "gradient_freq"),
        ({"image_freq": "epoch"}, "image_freq"),
        ({"sample_size": 0}, "sample_size"),
        ({"write_graph": "yes"}, "write_graph"),
        ({"class_names": "abc"}, "class_names"),
        ({"data": (np.zeros((4, 2)),)}, "data"),
        ({"validation_data": (np.zeros((4, 2)), np.zeros(3))}, "validation_data"),
        ({"cap_per_cell": 0}, "cap_per_cell"),
        ({"sequence_accuracy_tag": "a//b"}, "sequence_accuracy_tag"),
        ({"sequence_accuracy_tag": 3}, "sequence_accuracy_tag"),
    ],
)
def test_bad_arguments_name_the_argument(tmp_path, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        SummaryCallback(tmp_path, **kwargs)


def test_unwritable_log_dir(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ValueError, match="log_dir"):
        SummaryCallback(blocker / "run")


DISTRIBUTED = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    from summaries import SummaryCallback

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    x = rng.random((64, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 64)
    with strategy.scope():
        model = keras.Sequential([
            keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="conv"),
            keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax", name="head")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])

    class Recorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.losses = []
        def on_train_batch_end(self, batch, logs=None):
            self.losses.append(float(logs["loss"]))

    recorder = Recorder()
    history = model.fit(x[:48], y[:48], batch_size=16, epochs=2, verbose=0,
                        validation_data=(x[48:], y[48:]),
                        callbacks=[recorder, SummaryCallback(sys.argv[1], data=(x[:16], y[:16]))])
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x[:16], y=y[:16], y_pred=model(x[:16], training=False),
                                  training=False)
    grad = tape.gradient(loss, model.get_layer("head").kernel)
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "batch_losses": recorder.losses,
        "history": history.history,
        "head_kernel_grad_abs_sum": float(np.abs(grad.numpy()).sum()),
        "head_kernel_grad_min": float(grad.numpy().min()),
        "head_kernel_grad_max": float(grad.numpy().max()),
    }))
    """
)


def test_mirrored_strategy_writes_one_set(tmp_path):
    logdir = tmp_path / "run"
    result = run_on_two_cpus(DISTRIBUTED, str(logdir))
    assert result["replicas"] == 2
    assert len(list(logdir.glob("events.out.tfevents.*"))) == 1
    logs = Logs(logdir)
    for tag in logs.tags:
        assert len(set(logs.steps(tag))) == len(logs.steps(tag)), tag
    assert logs.steps("batch/loss") == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(logs.values("batch/loss"), result["batch_losses"], rtol=1e-6)
    np.testing.assert_allclose(logs.values("epoch/loss"), result["history"]["loss"], rtol=1e-6)
    grads = logs.last("head/kernel/gradients")
    assert grads[:, 2].sum() == 6 * 6 * 2 * 3  # conv output 6x6x2 -> a 72 x 3 kernel
    np.testing.assert_allclose(
        [grads[0, 0], grads[-1, 1]],
        [result["head_kernel_grad_min"], result["head_kernel_grad_max"]],
        rtol=1e-4,
    )
    assert logs.steps("confusion") == [3, 6]
    assert logs.last("confusion").sum() == 16
    assert logs.graph is not None


@settings(max_examples=60, deadline=None)
@given(
    tags=st.lists(
        st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=200),
        min_size=1,
        max_size=5,
    ),
    data=st.data(),
)
def test_scalar_rows_equal_protobuf_serialization(tags, data):
    """The byte-template writer of batch scalars gives exactly the protos protobuf would
    (long and non-ASCII tags, NaN, infinities, -0.0, subnormals included)."""
    from tensorboard.compat.proto import summary_pb2

    from summaries.protos import ScalarRows, scalar_value

    floats = st.floats(width=32, allow_nan=True, allow_infinity=True, allow_subnormal=True)
    steps = data.draw(st.integers(1, 4))
    values = np.array(
        [[data.draw(floats) for _ in tags] for _ in range(steps)], np.float32
    ).reshape(steps, len(tags))
    blobs = ScalarRows(tags).blobs(values)
    assert len(blobs) == steps
    for blob, row in zip(blobs, values, strict=True):
        expected = summary_pb2.Summary(
            value=[scalar_value(tag, float(v)) for tag, v in zip(tags, row, strict=True)]
        )
        assert blob == expected.SerializeToString()


def test_log_writer_serialized_events_and_graph(tmp_path):
    """Template-built batch scalars written by `LogWriter.add_serialized` come back at
    their steps and wall times, and `add_graph` fills the Graphs tab."""
    from summaries.pb import LogWriter
    from summaries.protos import ScalarRows

    steps = [3, 4, 200, 70000]  # multi-byte varints too
    walls = [1000.5, 1001.25, 1002.0, 1003.75]
    values = np.array([[0.5, 2.0], [0.25, 1.5], [np.nan, -1.0], [1e-30, 3e38]], np.float32)
    graph = tf.Graph()
    with graph.as_default():
        tf.constant(1.0, name="one")
    with LogWriter(tmp_path) as writer:
        blobs = ScalarRows(["batch/loss", "batch/accuracy"]).blobs(values)
        writer.add_serialized(blobs, steps, walls)
        writer.add_graph(graph.as_graph_def().SerializeToString())
        with pytest.raises(ValueError, match="same length"):
            writer.add_serialized(blobs, steps[:2])
    logs = Logs(tmp_path)
    assert logs.steps("batch/loss") == steps
    np.testing.assert_array_equal(logs.values("batch/loss"), values[:, 0])
    np.testing.assert_array_equal(logs.values("batch/accuracy"), values[:, 1])
    acc = plugin_event_accumulator.EventAccumulator(str(tmp_path))
    acc.Reload()
    assert [e.wall_time for e in acc.Tensors("batch/loss")] == walls
    assert [n.name for n in logs.graph.node] == ["one"]


def test_bench_rejects_bad_options(capsys):
    from demo_models.cli import main

    assert main(["bench", "callback", "--models", "resnet"]) == 2
    assert "--models" in capsys.readouterr().err
    assert main(["bench", "callback", "--repeats", "0"]) == 2
    assert "--repeats" in capsys.readouterr().err


def test_bench_runs_and_reports_every_configuration(capsys):
    """A tiny bench run: the table, the paired ratios and the hook split for the MLP."""
    from demo_models.cli import main

    argv = ["bench", "callback", "--models", "mlp", "--samples", "64", "--epochs", "1"]
    assert main([*argv, "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    for label in ("no callback", "keras TensorBoard", "SummaryCallback() defaults"):
        assert f"mlp    {label}" in out
    assert "mlp  summary  wall" in out and "writer thread" in out
    assert re.search(
        r"SummaryCallback\(\) defaults .*x \[[0-9.]+-[0-9.]+\]: (costs|within|below)", out
    )
    assert re.search(r"mlp: fixed [0-9.]+ s per fit", out)
    assert "mlp summary wrote" in out


def test_batch_scalars_reach_the_file_during_the_epoch(tmp_path):
    """Live viewing: buffered batch scalars are readable from the event file within
    `flush_batches` batches, long before the epoch ends."""
    seen = {}

    class Reader(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 30:  # one hand-over of 20 batches so far (a few KB); the epoch has 100

                def twenty_steps_readable():
                    return len(Logs(tmp_path).tags.get("batch/loss", [])) >= 20

                seen["mid_epoch"] = wait_for(twenty_steps_readable, timeout=30)

    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, name="out")])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(7).random((100, 4)).astype("float32")
    callback = SummaryCallback(tmp_path, flush_batches=20, write_graph=False, confusion_freq=0)
    model.fit(x, x[:, :1], batch_size=1, epochs=1, verbose=0, callbacks=[callback, Reader()])
    assert seen == {"mid_epoch": True}
    assert Logs(tmp_path).steps("batch/loss") == list(range(1, 101))


def test_tracing_runs_on_the_writer_thread_and_predictions_fall_back(tmp_path):
    """The probe and the forward pass are traced on the writer thread, not the training
    thread (issue 15 item 5: the fixed cost per fit); validation inputs unlike the sample
    (float64 here) fall back to the eager pass, with the same confusion counts."""
    traced = []

    class Spy(SummaryCallback):
        def _trace_probe(self, on_writer=False):
            if self._probe is None:
                traced.append(("probe", threading.current_thread().name))
            return super()._trace_probe(on_writer)

        def _trace_predictor(self):
            traced.append(("predictor", threading.current_thread().name))
            return super()._trace_predictor()

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0 and self.freqs["confusion_freq"] > 0:
                # the trace is asynchronous: on a loaded machine the writer may finish it after
                # both passes; wait for it so the fallback below is what is exercised
                wait_for(lambda: self._predictor is not None, timeout=120, interval=0.05)
            super().on_epoch_end(epoch, logs)

    x, y = _images(64, 0)
    vx, vy = _images(40, 1)
    model = _cnn()
    spy = Spy(tmp_path, validation_data=(vx.astype("float64"), vy))
    model.fit(x, y, batch_size=16, epochs=2, callbacks=[spy], verbose=0)
    assert traced == [("probe", "LogWriter"), ("predictor", "LogWriter")]
    assert spy._predictor is None  # the float64 inputs: dropped for the eager pass
    logs = Logs(tmp_path)
    assert logs.graph is not None and logs.steps("confusion") == [4, 8]
    predicted = model.predict(vx, verbose=0).argmax(-1)
    expected = np.zeros((1, 3, 3), np.int64)
    np.add.at(expected, (0, vy, predicted), 1)
    np.testing.assert_array_equal(logs.last("confusion"), expected)
    # nothing that needs a trace: nothing traced
    traced.clear()
    off = Spy(tmp_path / "off", write_graph=False, gradient_freq=0, confusion_freq=0)
    model.fit(x, y, batch_size=16, epochs=1, callbacks=[off], verbose=0)
    assert traced == []
    assert Logs(tmp_path / "off").steps("epoch/loss") == [12]  # the model's steps go on
