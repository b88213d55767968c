"""Per-position confusion: counts as TF ops, matrices and capped misclassified examples."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorboard.backend.event_processing import event_file_loader

import summaries
from summaries import checks, pb
from summaries import format as fmt
from summaries.position_confusion import confusion_pb

CLASSES = ["a", "b", "c", "d"]


def reference_counts(labels: np.ndarray, predictions: np.ndarray, k: int) -> np.ndarray:
    labels, predictions = np.atleast_2d(labels.T).T, np.atleast_2d(predictions.T).T
    out = np.zeros((labels.shape[1], k, k), np.int64)
    for n in range(labels.shape[0]):
        for p in range(labels.shape[1]):
            out[p, labels[n, p], predictions[n, p]] += 1
    return out


def confusion_events(logdir: Path) -> dict[str, list[tuple[int, dict, np.ndarray]]]:
    out: dict[str, list] = {}
    for path in sorted(logdir.rglob("events.out.tfevents.*")):
        for event in event_file_loader.EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != fmt.CONFUSION_PLUGIN:
                    continue
                content = fmt.parse_content(value.metadata.plugin_data.content)
                array = tf.make_ndarray(value.tensor)
                out.setdefault(value.tag, []).append((event.step, content, array))
    return out


def decode_examples(array: np.ndarray) -> tuple[list[list[int]], list[np.ndarray]]:
    cells = json.loads(array[0].decode("utf-8"))["cells"]
    images = [np.asarray(Image.open(io.BytesIO(blob))) for blob in array[1:]]
    return cells, images


rng = np.random.default_rng(11)
LABELS = rng.integers(0, 4, (60, 3))
PREDICTIONS = np.where(rng.random((60, 3)) < 0.6, LABELS, rng.integers(0, 4, (60, 3)))


def test_counts_match_a_plain_loop_eagerly_and_in_graph():
    expected = reference_counts(LABELS, PREDICTIONS, 4)
    eager = summaries.confusion_counts(tf.constant(LABELS), tf.constant(PREDICTIONS), 4)
    assert eager.dtype == tf.int64 and eager.shape == (3, 4, 4)
    np.testing.assert_array_equal(eager.numpy(), expected)
    host = summaries.confusion_counts(LABELS, PREDICTIONS, 4)  # numpy in, numpy out
    assert isinstance(host, np.ndarray) and host.dtype == np.int64 and host.shape == (3, 4, 4)
    np.testing.assert_array_equal(host, expected)
    graph = tf.function(
        lambda lab, pred: summaries.confusion_counts(lab, pred, 4),
        input_signature=[tf.TensorSpec([None, 3], tf.int32)] * 2,
    )
    np.testing.assert_array_equal(graph(LABELS, PREDICTIONS).numpy(), expected)
    np.testing.assert_array_equal(graph(LABELS[:0], PREDICTIONS[:0]).numpy(), 0 * expected)


def test_one_position_and_scores():
    labels = LABELS[:, 0]
    scores = np.eye(4, dtype=np.float32)[PREDICTIONS[:, 0]] + 0.1  # one-hot-ish scores
    multi = np.eye(4, dtype=np.float32)[PREDICTIONS]  # [N, P, K]
    for convert in (np.asarray, tf.constant):  # the numpy path and the TensorFlow path
        counts = checks.host(summaries.confusion_counts(convert(labels), convert(scores), 4))
        np.testing.assert_array_equal(counts, reference_counts(labels, PREDICTIONS[:, 0], 4))
        floats = convert(LABELS.astype(np.float32))
        counts = checks.host(summaries.confusion_counts(floats, convert(multi), 4))
        np.testing.assert_array_equal(counts, reference_counts(LABELS, PREDICTIONS, 4))


def test_out_of_range_ids_fail_eagerly_and_in_graph():
    for convert in (np.asarray, tf.constant):
        with pytest.raises(ValueError, match="labels"):
            summaries.confusion_counts(convert([0, 4]), convert([0, 1]), 4)
        with pytest.raises(ValueError, match="predictions"):
            summaries.confusion_counts(convert([0, 1]), convert([0, -1]), 4)
    graph = tf.function(lambda lab, pred: summaries.confusion_counts(lab, pred, 4))
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels"):
        graph(tf.constant([0, 9]), tf.constant([0, 1]))


def test_confusion_writes_matrix_and_capped_examples(tmp_path):
    # every image carries its sample index so each stored example can be traced back
    images = np.stack([np.full((5, 6), n * 4, np.uint8) for n in range(60)])
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default(), tf.name_scope("validation"):
        counts = summaries.confusion(
            "confusion",
            LABELS,
            PREDICTIONS,
            classes=CLASSES,
            positions=["d1", "d2", "d3"],
            step=5,
            images=images,
            cap_per_cell=2,
        )
    writer.close()
    np.testing.assert_array_equal(counts.numpy(), reference_counts(LABELS, PREDICTIONS, 4))
    written = confusion_events(tmp_path)
    assert set(written) == {"validation/confusion", "validation/confusion/examples"}
    [(step, content, matrix)] = written["validation/confusion"]
    assert step == 5 and content["kind"] == fmt.MATRIX
    assert content["positions"] == ["d1", "d2", "d3"] and content["classes"] == CLASSES
    np.testing.assert_array_equal(matrix, counts.numpy())
    [(step, content, blobs)] = written["validation/confusion/examples"]
    assert step == 5 and content["matrix_tag"] == "validation/confusion"
    assert content["cap_per_cell"] == 2
    cells, pngs = decode_examples(blobs)
    assert len(cells) == len(pngs) > 0
    per_cell: dict[tuple, int] = {}
    for (p, true, predicted), png in zip(cells, pngs, strict=True):
        n = int(png[0, 0]) // 4
        assert (LABELS[n, p], PREDICTIONS[n, p]) == (true, predicted) and true != predicted
        per_cell[(p, true, predicted)] = per_cell.get((p, true, predicted), 0) + 1
    wrong = reference_counts(LABELS, PREDICTIONS, 4)
    for p, true, predicted in zip(*np.nonzero(wrong), strict=True):
        if true != predicted:
            assert per_cell[(p, true, predicted)] == min(2, wrong[p, true, predicted])


def test_confusion_inside_tf_function(tmp_path):
    images = tf.random.uniform([60, 4, 4, 1])

    @tf.function
    def evaluate(step):
        return summaries.confusion(
            "c", LABELS, PREDICTIONS, classes=CLASSES, step=step, images=images, cap_per_cell=1
        )

    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        for step in (0, 10):
            evaluate(tf.constant(step, tf.int64))
    writer.close()
    written = confusion_events(tmp_path)
    assert [s for s, _, _ in written["c"]] == [0, 10]
    assert [s for s, _, _ in written["c/examples"]] == [0, 10]
    cells, _ = decode_examples(written["c/examples"][0][2])
    assert len(cells) == len({tuple(c) for c in cells})  # cap 1 per cell


def test_numpy_writer_from_counts_and_from_labels(tmp_path):
    with pb.LogWriter(str(tmp_path)) as log:
        counts = summaries.write_confusion(
            log,
            "from_labels",
            labels=LABELS,
            predictions=PREDICTIONS,
            classes=CLASSES,
            step=3,
            images=np.zeros((60, 4, 4, 3)),
            cap_per_cell=1,
        )
        again = summaries.write_confusion(log, "from_counts", counts, classes=CLASSES, step=4)
    np.testing.assert_array_equal(counts, reference_counts(LABELS, PREDICTIONS, 4))
    np.testing.assert_array_equal(again, counts)
    written = confusion_events(tmp_path)
    assert written["from_counts"][0][1]["positions"] == ["position 1", "position 2", "position 3"]
    np.testing.assert_array_equal(written["from_counts"][0][2], counts)
    cells, images = decode_examples(written["from_labels/examples"][0][2])
    assert len(cells) == int((counts * (1 - np.eye(4, dtype=int))).astype(bool).sum())
    assert images[0].shape == (4, 4, 3)


BAD = [
    ({"counts": np.zeros((3, 4))}, ValueError, "counts"),
    ({"counts": np.zeros((1, 4, 3))}, ValueError, "counts"),
    ({"counts": -np.ones((1, 4, 4))}, ValueError, "negative"),
    ({"counts": np.full((1, 4, 4), 0.5)}, ValueError, "whole"),
    ({"counts": np.zeros((1, 3, 3))}, ValueError, "classes"),
    ({"counts": np.zeros((2, 4, 4)), "positions": ["only one"]}, ValueError, "positions"),
    ({"counts": np.array([["x"]])}, TypeError, "counts"),
    ({"labels": [0, 1], "predictions": [0, 1, 2]}, ValueError, "shape"),
    ({"labels": [0, 7], "predictions": [0, 1]}, ValueError, "labels"),
    ({"labels": [[[0]]], "predictions": [[[0]]]}, ValueError, "labels"),
    ({"labels": ["a"], "predictions": [0]}, TypeError, "labels"),
    ({"labels": [0, 1]}, ValueError, "predictions"),
    ({"labels": [0], "predictions": [0], "images": np.zeros((2, 3, 3))}, ValueError, "images"),
    ({"counts": np.zeros((1, 4, 4)), "images": np.zeros((1, 3, 3))}, ValueError, "images"),
    ({"counts": np.zeros((1, 4, 4)), "classes": "abcd"}, TypeError, "classes"),
    ({"counts": np.zeros((1, 4, 4)), "cap_per_cell": 0}, ValueError, "cap_per_cell"),
    ({"counts": np.zeros((1, 4, 4)), "step": -2}, ValueError, "step"),
]


@pytest.mark.parametrize("change, error, needle", BAD)
def test_bad_input_raises_and_keeps_what_was_written(tmp_path, change, error, needle):
    kwargs = {"classes": CLASSES, **change}
    with pb.LogWriter(str(tmp_path)) as log:
        summaries.write_confusion(log, "before", np.ones((1, 4, 4), int), classes=CLASSES)
        with pytest.raises(error, match=needle):
            summaries.write_confusion(log, "bad", **kwargs)
        summaries.write_confusion(log, "after", np.ones((1, 4, 4), int), classes=CLASSES)
    assert set(confusion_events(tmp_path)) == {"before", "after"}


@pytest.mark.parametrize(
    "kwargs, error, needle",
    [
        ({"classes": ["a", "b"]}, ValueError, "labels"),  # ids >= 2
        ({"classes": CLASSES, "positions": ["x"]}, ValueError, "positions"),
        ({"classes": CLASSES, "images": np.zeros((59, 2, 2))}, ValueError, "images"),
        ({"classes": CLASSES, "images": np.zeros((60, 2))}, ValueError, "images"),
        ({"classes": CLASSES, "cap_per_cell": "8"}, TypeError, "cap_per_cell"),
        ({"classes": None}, TypeError, "classes"),
    ],
)
def test_tf_confusion_bad_input_keeps_what_was_written(tmp_path, kwargs, error, needle):
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        summaries.confusion("before", [0], [0], classes=["a"], step=0)
        with pytest.raises(error, match=needle):
            summaries.confusion("bad", LABELS, PREDICTIONS, step=1, **kwargs)
    writer.close()
    assert set(confusion_events(tmp_path)) == {"before"}


def test_out_of_range_ids_in_a_graph_write_nothing(tmp_path):
    @tf.function
    def evaluate(labels):
        summaries.confusion("good", [0, 1], [1, 1], classes=["a", "b"], step=0)
        return summaries.confusion("bad", labels, [0, 1], classes=["a", "b"], step=1)

    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default(), pytest.raises(tf.errors.InvalidArgumentError, match="labels"):
        evaluate(tf.constant([0, 5]))
    writer.close()
    assert "bad" not in confusion_events(tmp_path)


SHAPE_ERRORS = [
    ([[[0]]], [[[0]]], r"labels must have shape \[N\] or \[N, P\], got \[1, 1, 1\]"),
    ([0, 1], [0, 1, 2], r"labels and predictions must have the same shape \[N, P\], got "),
    ([0, 1], np.zeros((2, 3), np.float32), r"predictions scores must have 4 classes"),
]


@pytest.mark.parametrize("labels, predictions, message", SHAPE_ERRORS)
def test_counts_give_the_same_shape_errors_on_both_paths(labels, predictions, message):
    errors = []
    for convert in (np.asarray, tf.constant):
        with pytest.raises(ValueError, match=message) as caught:
            summaries.confusion_counts(convert(labels), convert(predictions), 4)
        errors.append(str(caught.value))
    assert errors[0] == errors[1]


def test_numpy_counts_do_not_import_tensorflow():
    script = (
        "import sys, summaries\n"
        "counts = summaries.confusion_counts([0, 1, 1], [[.9, .1], [.2, .8], [.6, .4]], 2)\n"
        "assert type(counts).__name__ == 'ndarray' and counts.tolist() == [[[1, 0], [1, 1]]]\n"
        "assert 'tensorflow' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_confusion_pb_builds_matrix_and_examples_in_one_summary():
    images = np.stack([np.full((3, 3), n, np.uint8) for n in range(60)])
    summary = confusion_pb(
        "m",
        classes=CLASSES,
        labels=LABELS,
        predictions=PREDICTIONS,
        images=images,
        cap_per_cell=1,
        sequence_accuracy_tag="validation/whole_accuracy",
    )
    matrix, examples = summary.value
    assert (matrix.tag, examples.tag) == ("m", "m/examples")
    content = fmt.parse_content(matrix.metadata.plugin_data.content)
    assert content["sequence_accuracy_tag"] == "validation/whole_accuracy"
    assert content["positions"] == ["position 1", "position 2", "position 3"]
    np.testing.assert_array_equal(
        tf.make_ndarray(matrix.tensor), reference_counts(LABELS, PREDICTIONS, 4)
    )
    cells, _ = decode_examples(tf.make_ndarray(examples.tensor))
    assert len(cells) == len({tuple(c) for c in cells}) > 0
    plain = confusion_pb("m", np.ones((1, 4, 4), int), classes=CLASSES)
    assert (
        fmt.parse_content(plain.value[0].metadata.plugin_data.content)["sequence_accuracy_tag"]
        is None
    )
    with pytest.raises(ValueError, match="sequence_accuracy_tag"):
        confusion_pb("m", np.ones((1, 4, 4), int), classes=CLASSES, sequence_accuracy_tag="")


def test_sequence_accuracy_tag_is_written_by_every_confusion_writer(tmp_path):
    tag = "validation/captcha_accuracy"
    writer = tf.summary.create_file_writer(str(tmp_path / "tf"))
    with writer.as_default():
        summaries.confusion(
            "c", LABELS, PREDICTIONS, classes=CLASSES, step=1, sequence_accuracy_tag=tag
        )
    writer.close()
    with pb.LogWriter(tmp_path / "np") as log:
        summaries.write_confusion(
            log,
            "c",
            labels=LABELS,
            predictions=PREDICTIONS,
            classes=CLASSES,
            step=1,
            sequence_accuracy_tag=tag,
        )
    for run in ("tf", "np"):
        [(step, content, _)] = confusion_events(tmp_path / run)["c"]
        assert step == 1 and content["sequence_accuracy_tag"] == tag
