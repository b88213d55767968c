"""Confusion at ImageNet size: the sparse on-disk layout (format version 4) and its older
dense versions, the plugin's bounded data-provider reads, and every route at K = 1,000
in-process and through a real TensorBoard (both loaders)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from plugin_harness import InProcessBoard
from tensorboard.util import tensor_util

from summaries import format as fmt
from summaries import pb
from summaries.position_confusion import confusion_pb, write_confusion
from summaries.position_confusion.counts import dense_counts, flat_cells, sparse_rows
from tb_plugin import confusion_plugin
from tb_plugin.base import HttpError

PLUGIN = fmt.CONFUSION_PLUGIN
TAG = "confusion/validation"
BIG_K = 1000
BIG_STEPS = (0, 5, 10)


def ids(k: int, samples: int, accuracy: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions of `samples` over `k` classes, right with `accuracy`."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, samples)
    wrong = rng.random(samples) > accuracy
    predictions = np.where(wrong, rng.integers(0, k, samples), labels)
    return labels, predictions


def write_big(logdir: Path, run: str = "imagenet", samples: int = 20_000) -> dict[int, np.ndarray]:
    """A 1,000-class run at BIG_STEPS through `write_confusion`; {step: [1, K, K] counts}."""
    written = {}
    classes = [f"class {i:04d}" for i in range(BIG_K)]
    with pb.LogWriter(str(logdir / run)) as writer:
        for n, step in enumerate(BIG_STEPS):
            labels, predictions = ids(BIG_K, samples, 0.3 + 0.3 * n, seed=step)
            written[step] = write_confusion(
                writer, TAG, classes=classes, labels=labels, predictions=predictions, step=step
            )
    return written


def stored(summary) -> tuple[dict, np.ndarray]:
    value = summary.value[0]
    content = json.loads(value.metadata.plugin_data.content)
    return content, tensor_util.make_ndarray(value.tensor)


# -- the format ---------------------------------------------------------------------------


def test_small_matrices_stay_dense_large_ones_go_sparse():
    small = np.arange(2 * 4 * 4).reshape(2, 4, 4)
    content, tensor = stored(confusion_pb(TAG, small, classes=list("abcd")))
    assert content["version"] == fmt.VERSION >= 4 and content["layout"] == fmt.DENSE
    np.testing.assert_array_equal(tensor, small)

    labels, predictions = ids(100, 500, 0.5, seed=0)
    summary = confusion_pb(
        TAG, labels=labels, predictions=predictions, classes=[str(i) for i in range(100)]
    )
    content, tensor = stored(summary)
    assert content["layout"] == fmt.SPARSE and tensor.dtype == np.int32
    assert tensor.ndim == 2 and tensor.shape[1] == 4 and len(tensor) <= 500  # grows with N
    assert (tensor[:, 3] > 0).all() and tensor[:, 3].sum() == 500
    expected = np.zeros((1, 100, 100), np.int64)
    np.add.at(expected, (0, labels, predictions), 1)
    np.testing.assert_array_equal(dense_counts(tensor, 1, 100), expected)
    assert fmt.matrix_layout(1, 64) == fmt.DENSE and fmt.matrix_layout(1, 65) == fmt.SPARSE


def test_sparse_rows_round_trip_and_reject_garbage():
    counts = np.zeros((3, 5, 5), np.int64)
    counts[0, 1, 2], counts[2, 4, 4], counts[1, 0, 0] = 7, 1, 2**31 + 5
    rows = sparse_rows(counts)
    assert rows.dtype == np.int64 and rows.tolist()[0] == [0, 1, 2, 7]  # int64 beyond int32
    np.testing.assert_array_equal(dense_counts(rows, 3, 5), counts)
    np.testing.assert_array_equal(dense_counts(counts, 3, 5), counts)
    shuffled = np.concatenate([rows[::-1], [[0, 1, 2, 1]]])  # unsorted, one cell twice
    index, values = flat_cells(shuffled, 3, 5)
    assert (np.diff(index) > 0).all() and values.sum() == counts.sum() + 1
    for bad in ([[0, 5, 0, 1]], [[3, 0, 0, 1]], [[0, 0, 0, -1]], [[0, 0, 1]], [[[1.5]]]):
        with pytest.raises(ValueError):
            flat_cells(np.array(bad), 3, 5)


def test_the_tensorflow_op_writes_the_same_sparse_rows(tmp_path):
    tf = pytest.importorskip("tensorflow")
    from tensorboard.backend.event_processing import event_accumulator

    import summaries

    labels, predictions = ids(100, 300, 0.5, seed=1)
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        counts = summaries.confusion(
            "cm", labels, predictions, classes=[str(i) for i in range(100)], step=3
        )
        graph = tf.function(
            lambda a, b: summaries.confusion(
                "cm_graph", a, b, classes=[str(i) for i in range(100)], positions=["all"], step=4
            )
        )
        graph(tf.constant(labels), tf.constant(predictions))
    writer.close()
    acc = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"tensors": 0})
    acc.Reload()
    expected = confusion_pb("cm", counts.numpy(), classes=[str(i) for i in range(100)])
    for tag in ("cm", "cm_graph"):
        (event,) = acc.Tensors(tag)
        rows = tensor_util.make_ndarray(event.tensor_proto)
        np.testing.assert_array_equal(rows, stored(expected)[1])
        assert json.loads(acc.SummaryMetadata(tag).plugin_data.content)["layout"] == fmt.SPARSE


def test_older_dense_versions_still_read_and_a_bad_layout_says_why():
    for version in (1, 2, 3):
        payload = {"version": version, "kind": fmt.MATRIX, "positions": ["a"], "classes": ["x"]}
        content = fmt.parse_content(json.dumps(payload).encode())
        assert content["layout"] == fmt.DENSE and content["written_version"] == version
    payload = {"version": 4, "kind": fmt.MATRIX, "positions": [], "classes": [], "layout": "x"}
    with pytest.raises(fmt.FormatError, match="layout 'x'"):
        fmt.parse_content(json.dumps(payload).encode())


def write_version3(logdir: Path, counts: dict[int, np.ndarray], classes: list[str]) -> None:
    """A dense run as Flowscope's version-3 writers wrote it (int64 [P, K, K], no layout)."""
    with pb.LogWriter(str(logdir / "v3")) as writer:
        for step, matrix in counts.items():
            summary = confusion_pb(TAG, matrix, classes=classes)
            value = summary.value[0]
            value.tensor.CopyFrom(tensor_util.make_tensor_proto(matrix.astype(np.int64)))
            payload = json.loads(value.metadata.plugin_data.content)
            payload.pop("layout")
            payload["version"] = 3
            value.metadata.plugin_data.content = json.dumps(payload).encode()
            writer.add(summary, step=step)


def test_a_version_3_dense_run_and_a_sparse_run_answer_alike(tmp_path):
    classes = [str(i) for i in range(80)]
    counts = {}
    with pb.LogWriter(str(tmp_path / "v4")) as writer:
        for step in (0, 1):
            labels, predictions = ids(80, 400, 0.6, seed=step)
            counts[step] = write_confusion(
                writer, TAG, classes=classes, labels=labels, predictions=predictions, step=step
            )
    write_version3(tmp_path, counts, classes)
    board = InProcessBoard(tmp_path)
    answers = {}
    for run in ("v3", "v4"):
        matrix = board.plugin(PLUGIN, "matrix", run=run, tag=TAG, step=0)
        series = board.plugin(PLUGIN, "series", run=run, tag=TAG)
        np.testing.assert_array_equal(matrix["counts"], counts[0])
        answers[run] = (matrix, series)
    for key in ("accuracy", "class_metrics", "confused_pairs", "totals"):
        assert answers["v3"][0][key] == answers["v4"][0][key]
    for key in ("counts", "accuracy", "pooled_accuracy", "steps"):
        assert answers["v3"][1][key] == answers["v4"][1][key]


# -- the plugin at K = 1,000 ---------------------------------------------------------------


@pytest.fixture(scope="module")
def big_logdir(tmp_path_factory) -> tuple[Path, dict[int, np.ndarray]]:
    logdir = tmp_path_factory.mktemp("big")
    return logdir, write_big(logdir)


def test_every_route_at_1000_classes_in_process(big_logdir):
    logdir, written = big_logdir
    board = InProcessBoard(logdir)
    plugin = board.plugins[PLUGIN]
    ctx = board.context()
    (run,) = plugin.runs_impl(ctx, "")["runs"]
    assert run["run"] == "imagenet" and len(run["tags"][0]["classes"]) == BIG_K
    matrix = plugin.matrix_impl(ctx, "", "imagenet", TAG, step=5, top=5)
    np.testing.assert_array_equal(matrix["counts"], written[5])
    assert matrix["steps"] == list(BIG_STEPS) and matrix["steps_sampled"] is False
    trace = int(np.trace(written[5][0]))
    assert matrix["accuracy"]["pooled"] == pytest.approx(trace / written[5].sum(), abs=1e-6)
    # /series at 1,000,000 cells a step: 2 steps per answer, thinned or paged.
    thinned = json.loads(plugin.series_impl(ctx, "", "imagenet", TAG, encoding="base64"))
    assert thinned["steps"] == [0, 10] and thinned["downsampled"] is True
    assert thinned["counts"]["shape"] == [2, BIG_K * BIG_K]
    page = json.loads(plugin.series_impl(ctx, "", "imagenet", TAG, from_step=1))
    assert page["steps"] == [5, 10] and page["next_step"] is None
    np.testing.assert_array_equal(page["counts"][0], written[5].ravel())
    first = json.loads(plugin.series_impl(ctx, "", "imagenet", TAG, from_step=0, max_steps=1))
    assert first["steps"] == [0] and first["next_step"] == 5
    with pytest.raises(HttpError) as caught:
        plugin.series_impl(ctx, "", "imagenet", TAG, from_step=11)
    assert caught.value.code == 404
    cell = np.unravel_index(np.argmax(written[10][0] * (1 - np.eye(BIG_K))), (BIG_K, BIG_K))
    examples = plugin.examples_impl(ctx, "", "imagenet", TAG, int(cell[0]), int(cell[1]))
    assert examples["examples_tag"] is None and examples["images"] == []
    # The same through the WSGI routes: JSON, 200 or a clear 4xx.
    board.plugin(PLUGIN, "series", run="imagenet", tag=TAG, from_step=10, encoding="base64")
    board.plugin(PLUGIN, "series", expect=400, run="imagenet", tag=TAG, from_step="x")
    board.plugin(PLUGIN, "matrix", expect=404, run="imagenet", tag=TAG, step=3)


def test_counts_none_lists_every_step_and_leaves_the_matrices_out(big_logdir):
    """What the page's slider needs at K = 1,000: every step and its accuracies in one small
    answer (no cell limit without counts), and a step's metrics without its two million counts."""
    logdir, written = big_logdir
    board = InProcessBoard(logdir)
    listing = board.plugin(PLUGIN, "series", run="imagenet", tag=TAG, counts="none")
    assert listing["steps"] == list(BIG_STEPS) and listing["downsampled"] is False
    assert "counts" not in listing and len(listing["pooled_accuracy"]) == len(BIG_STEPS)
    trace = int(np.trace(written[5][0]))
    assert listing["pooled_accuracy"][1] == pytest.approx(trace / written[5].sum(), abs=1e-6)
    metrics = board.plugin(PLUGIN, "matrix", run="imagenet", tag=TAG, step=5, top=3, counts="none")
    assert "counts" not in metrics and "pooled_counts" not in metrics
    full = board.plugin(PLUGIN, "matrix", run="imagenet", tag=TAG, step=5, top=3)
    assert metrics["confused_pairs"] == full["confused_pairs"]
    assert metrics["class_metrics"] == full["class_metrics"]
    board.plugin(PLUGIN, "series", expect=400, run="imagenet", tag=TAG, counts="some")
    board.plugin(PLUGIN, "matrix", expect=400, run="imagenet", tag=TAG, counts="")


def test_reads_are_bounded_by_bytes_not_by_the_series_length(big_logdir, monkeypatch):
    logdir, written = big_logdir
    board = InProcessBoard(logdir)
    plugin = board.plugins[PLUGIN]
    asked = []
    read_tensors = board.provider.read_tensors

    def spy(ctx=None, **kwargs):
        asked.append(kwargs["downsample"])
        return read_tensors(ctx, **kwargs)

    monkeypatch.setattr(board.provider, "read_tensors", spy)
    # 20,000 samples: at most 20,000 int32 rows (320 KB) a step (fewer than twice the largest
    # step's rows); allow 2 steps.
    monkeypatch.setattr(confusion_plugin, "READ_BYTES", 2 * (16 * 20_000 + 1024))
    matrix = plugin.matrix_impl(board.context(), "", "imagenet", TAG)
    probe = confusion_plugin.PROBE_STEPS
    assert asked == [probe, 2]  # a few steps (to bound a step's size), then two steps
    assert matrix["step"] == 10 and matrix["steps_sampled"] is True
    assert len(matrix["steps"]) == 2 and matrix["steps"][-1] == 10
    for step in matrix["steps"]:
        again = plugin.matrix_impl(board.context(), "", "imagenet", TAG, step=step)
        np.testing.assert_array_equal(again["counts"], written[step])
    assert asked == [probe, 2]  # cached by the series' version
    series = json.loads(plugin.series_impl(board.context(), "", "imagenet", TAG))
    assert series["steps_sampled"] is True and series["steps"] == matrix["steps"]


def test_routes_at_1000_classes_through_a_real_tensorboard(big_logdir, tensorboard):
    logdir, written = big_logdir
    board = tensorboard(logdir, tensorflow=False)  # the routes are the subject, not the reading
    board.wait_enabled(PLUGIN)

    def runs():
        found = board.plugin(PLUGIN, "runs")["runs"]
        return found if found and found[0]["tags"][0]["max_step"] == BIG_STEPS[-1] else None

    from conftest import wait_for

    wait_for(runs, timeout=120)

    def all_steps():
        matrix = board.plugin(PLUGIN, "matrix", run="imagenet", tag=TAG)
        return matrix if matrix["steps"] == list(BIG_STEPS) else None

    matrix = wait_for(all_steps, timeout=120)
    assert matrix["step"] == 10
    np.testing.assert_array_equal(matrix["counts"], written[10])
    at5 = board.plugin(PLUGIN, "matrix", run="imagenet", tag=TAG, step=5, top=3)
    assert len(at5["confused_pairs"]) == 3
    np.testing.assert_array_equal(at5["pooled_counts"], written[5][0])
    series = board.plugin(PLUGIN, "series", run="imagenet", tag=TAG, encoding="base64")
    assert series["steps"] == [0, 10] and series["counts"]["shape"] == [2, BIG_K * BIG_K]
    page = board.plugin(PLUGIN, "series", run="imagenet", tag=TAG, from_step=5)
    np.testing.assert_array_equal(page["counts"][0], written[5].ravel())
    board.plugin(PLUGIN, "examples", run="imagenet", tag=TAG, true=1, predicted=2)
    board.plugin(PLUGIN, "matrix", expect=404, run="imagenet", tag=TAG, step=7)
