"""The Confusion plugin's routes and `*_impl` methods, in-process on TensorBoard's own data
provider (tests/plugin_harness.py); test_plugins_live.py runs them in the real program."""

from __future__ import annotations

import base64
import io
import json
import string
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from plugin_harness import InProcessBoard
from sklearn.metrics import precision_recall_fscore_support
from tensorboard.compat.proto import summary_pb2
from tensorboard.util import tensor_util

from summaries import format as fmt
from summaries import pb
from summaries.position_confusion import confusion_pb, examples_pb
from tb_plugin.base import HttpError
from tb_plugin.confusion_metrics import v1_sequence_tag

PLUGIN = fmt.CONFUSION_PLUGIN
TAG = "confusion/validation"
EXAMPLES_TAG = "confusion/validation/examples"
TOY_STEPS = (0, 10, 20)
ALNUM = list(string.digits + string.ascii_uppercase)


def scalar_pb(tag: str, value: float) -> summary_pb2.Summary:
    """A TensorBoard scalar summary (plugin "scalars"), written without TensorFlow."""
    metadata = summary_pb2.SummaryMetadata(data_class=summary_pb2.DATA_CLASS_SCALAR)
    metadata.plugin_data.plugin_name = "scalars"
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=tag, metadata=metadata, tensor=tensor_util.make_tensor_proto(np.float32(value))
    )
    return summary


def toy_counts(step: int) -> np.ndarray:
    """2 positions x 3 classes; deterministic, with one class never predicted at step 0."""
    base = np.array(
        [
            [[5, 3, 0], [1, 6, 0], [2, 1, 4]],
            [[7, 0, 1], [2, 0, 3], [3, 0, 2]],
        ]
    )
    return base + np.eye(3, dtype=int) * step


def toy_image(position: int, true: int, predicted: int, n: int) -> np.ndarray:
    """A small gray image whose pixels encode its cell, to check the round trip."""
    return np.full((8, 12), 10 * position + 40 * true + 7 * predicted + n, dtype=np.uint8)


def matrix_pb(
    tag: str,
    counts: np.ndarray,
    positions: list[str],
    classes: list[str],
    sequence_accuracy_tag: str | None = None,
    version: int = fmt.VERSION,
) -> summary_pb2.Summary:
    """A confusion-matrix summary whose metadata names its sequence-accuracy scalar (version
    2), or version-1 metadata as Flowscope 0.1 wrote it (positions and classes only)."""
    if version != 1:
        return confusion_pb(
            tag,
            counts,
            positions=positions,
            classes=classes,
            sequence_accuracy_tag=sequence_accuracy_tag,
        )
    summary = confusion_pb(tag, counts, positions=positions, classes=classes)
    payload = {"version": 1, "kind": fmt.MATRIX, "positions": positions, "classes": classes}
    summary.value[0].metadata.plugin_data.content = json.dumps(payload).encode()
    return summary


def write_toy(
    logdir: Path,
    run: str = "toy",
    sequence: bool = True,
    examples: bool = True,
    version: int = fmt.VERSION,
    sequence_tag: str | None = "validation/sequence_accuracy",
) -> None:
    """Matrices at steps 0, 10, 20; examples at 0 and 20 only; sequence-accuracy scalars in
    the validation and train scopes, `sequence_tag` named by the matrix metadata (version 1
    had no such field)."""
    seq_tag = sequence_tag if sequence else None
    with pb.LogWriter(str(logdir / run)) as writer:
        for step in TOY_STEPS:
            counts = toy_counts(step)
            summary = matrix_pb(TAG, counts, ["first", "second"], ["a", "b", "c"], seq_tag, version)
            writer.add(summary, step=step)
            if sequence:
                writer.add(scalar_pb("validation/sequence_accuracy", 0.5 + step / 100), step)
                writer.add(scalar_pb("train/sequence_accuracy", 0.9), step)
            if examples and step in (0, 20):
                # Three images of (0, a -> b) with a cap of 2: the third must be dropped.
                cells = [[0, 0, 1], [0, 0, 1], [1, 2, 0], [0, 0, 1], [1, 2, 0]]
                images = [toy_image(*c, n) for n, c in enumerate(cells)]
                writer.add(
                    examples_pb(EXAMPLES_TAG, cells, images, matrix_tag=TAG, cap_per_cell=2),
                    step=step,
                )


def alnum_counts(step: int) -> np.ndarray:
    rng = np.random.default_rng(step)
    counts = rng.integers(0, 3, size=(6, 36, 36))
    return counts + np.eye(36, dtype=np.int64) * (20 + step)


def write_alnum(logdir: Path, run: str = "alnum", steps=(0, 1)) -> None:
    """6 positions x 36 alphanumeric classes; examples at the last step."""
    positions = [f"char {i + 1}" for i in range(6)]
    with pb.LogWriter(str(logdir / run)) as writer:
        for step in steps:
            writer.add(
                confusion_pb(TAG, alnum_counts(step), positions=positions, classes=ALNUM), step
            )
        cells = [[5, 35, 0], [5, 35, 0], [2, 10, 11]]
        images = [toy_image(p, t % 5, q % 5, 0) for p, t, q in cells]
        writer.add(
            examples_pb(EXAMPLES_TAG, cells, images, matrix_tag=TAG, cap_per_cell=5), steps[-1]
        )


def write_broken(logdir: Path, run: str = "broken") -> None:
    """A matrix series whose metadata has a version this Flowscope cannot read."""
    summary = confusion_pb(TAG, np.ones((1, 2, 2), int), positions=["p"], classes=["x", "y"])
    content = json.loads(summary.value[0].metadata.plugin_data.content)
    content["version"] = 99
    summary.value[0].metadata.plugin_data.content = json.dumps(content).encode()
    with pb.LogWriter(str(logdir / run)) as writer:
        writer.add(summary, 0)


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> InProcessBoard:
    """TensorBoard's own app and data provider, in this process, over one logdir with the
    toy, a toy without examples, 6 x 36 and unreadable runs."""
    logdir = tmp_path_factory.mktemp("confusion") / "logs"
    write_toy(logdir)
    write_toy(logdir, run="no-examples/toy", sequence=False, examples=False)
    write_alnum(logdir)
    write_broken(logdir)
    return InProcessBoard(logdir)


def get(board: InProcessBoard, route: str, expect: int = 200, **params):
    return board.plugin(PLUGIN, route, expect, **params)


def test_runs_list_names_examples_and_errors(board):
    runs = {r["run"]: r["tags"] for r in get(board, "runs")["runs"]}
    assert sorted(runs) == ["alnum", "broken", "no-examples/toy", "toy"]
    toy = runs["toy"][0]
    assert toy["tag"] == TAG and toy["positions"] == ["first", "second"]
    assert toy["classes"] == ["a", "b", "c"] and toy["max_step"] == 20
    assert toy["examples_tag"] == EXAMPLES_TAG and toy["error"] is None
    assert runs["no-examples/toy"][0]["examples_tag"] is None
    assert runs["alnum"][0]["classes"] == ALNUM and len(runs["alnum"][0]["positions"]) == 6
    assert "version 99" in runs["broken"][0]["error"]


def test_matrix_counts_and_metrics_2x3(board):
    latest = get(board, "matrix", run="toy", tag=TAG)
    counts = toy_counts(20)
    assert latest["step"] == 20 and latest["steps"] == list(TOY_STEPS)
    assert latest["positions"] == ["first", "second"] and latest["classes"] == ["a", "b", "c"]
    assert np.array_equal(latest["counts"], counts)
    assert np.array_equal(latest["pooled_counts"], counts.sum(0))
    assert latest["totals"] == counts.sum(axis=(1, 2)).tolist()
    # The page normalises the counts itself (one implementation, in frontend/confusion).
    assert not {"values", "pooled_values", "normalize"} & set(latest)
    gone = get(board, "matrix", 400, run="toy", tag=TAG, normalize="true")["error"]
    assert "normalize" in gone and "page" in gone

    at_0 = get(board, "matrix", run="toy", tag=TAG, step=0)
    assert at_0["step"] == 0 and np.array_equal(at_0["counts"], toy_counts(0))
    # Position 1 never predicts class "b" at step 0: that column has no sample.
    assert np.sum(at_0["counts"][1], axis=0)[1] == 0
    assert at_0["class_metrics"]["positions"][1]["precision"][1] is None

    acc = latest["accuracy"]
    assert np.allclose(acc["positions"], np.trace(counts, axis1=1, axis2=2) / counts.sum((1, 2)))
    assert acc["pooled"] == pytest.approx(np.trace(counts.sum(0)) / counts.sum())

    # Per-class metrics agree with scikit-learn on the expanded labels.
    for p, metrics in enumerate(latest["class_metrics"]["positions"]):
        y_true, y_pred = expand(counts[p])
        prec, rec, f1, support = precision_recall_fscore_support(
            y_true, y_pred, labels=[0, 1, 2], zero_division=np.nan
        )
        assert np.allclose(metrics["precision"], prec, atol=1e-6, equal_nan=True)
        assert np.allclose(metrics["recall"], rec, atol=1e-6)
        assert np.allclose(metrics["f1"], f1, atol=1e-6)
        assert metrics["support"] == support.tolist()
    pooled = latest["class_metrics"]["pooled"]
    assert pooled["support"] == counts.sum(0).sum(1).tolist()
    assert pooled["macro"]["recall"] == pytest.approx(np.mean(pooled["recall"]), abs=1e-6)

    pairs = latest["confused_pairs"]
    assert [(q["position"], q["true"], q["predicted"], q["count"]) for q in pairs[:2]] == [
        (0, 0, 1, 3),
        (1, 1, 2, 3),
    ]
    assert all(a["count"] >= b["count"] for a, b in zip(pairs, pairs[1:], strict=False))
    assert all(q["true"] != q["predicted"] for q in pairs)
    assert pairs[0]["rate"] == pytest.approx(3 / counts[0, 0].sum(), abs=1e-6)
    assert latest["pooled_confused_pairs"][0] == {
        "position": None,
        "true": 2,
        "predicted": 0,
        "count": 5,
        "rate": round(5 / counts.sum(0)[2].sum(), 6),
    }
    assert len(get(board, "matrix", run="toy", tag=TAG, top=1)["confused_pairs"]) == 1


def expand(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label vectors (true, predicted) that produce a given confusion matrix."""
    t, p = np.nonzero(matrix)
    reps = matrix[t, p]
    return np.repeat(t, reps), np.repeat(p, reps)


def test_sequence_accuracy_only_when_logged(board):
    toy = get(board, "matrix", run="toy", tag=TAG, step=10)
    # The validation scalar, not the training one: the matrix metadata names it.
    assert toy["sequence_accuracy"] == {
        "tag": "validation/sequence_accuracy",
        "step": 10,
        "value": pytest.approx(0.6),
    }
    assert get(board, "matrix", run="alnum", tag=TAG)["sequence_accuracy"] is None
    series = get(board, "series", run="toy", tag=TAG)
    assert series["sequence_accuracy"]["values"] == pytest.approx([0.5, 0.6, 0.7])


@pytest.fixture(scope="module")
def formats(tmp_path_factory) -> InProcessBoard:
    """Runs that log the same scalars with different matrix metadata (versions 1 and 2)."""
    logdir = tmp_path_factory.mktemp("formats") / "logs"
    write_toy(logdir, run="v1", examples=False, version=1)
    write_toy(logdir, run="v1-without", sequence=False, examples=False, version=1)
    write_toy(logdir, run="v2-unnamed", examples=False, sequence_tag=None)
    write_toy(logdir, run="v2-train", examples=False, sequence_tag="train/sequence_accuracy")
    write_toy(logdir, run="v2-missing", examples=False, sequence_tag="validation/nothing")
    return InProcessBoard(logdir)


def test_sequence_accuracy_tag_comes_from_the_metadata(formats):
    def sequence(run: str, route: str = "matrix"):
        return get(formats, route, run=run, tag=TAG, step=10)["sequence_accuracy"]

    # Version 2: the tag the metadata names, whatever the scalars are called; no guessing.
    assert sequence("v2-train") == {
        "tag": "train/sequence_accuracy",
        "step": 10,
        "value": pytest.approx(0.9),
    }
    assert sequence("v2-unnamed") is None  # a "sequence_accuracy" scalar, but not named
    assert sequence("v2-missing") is None  # named, but the run has no such scalar
    assert get(formats, "series", run="v2-unnamed", tag=TAG)["sequence_accuracy"] is None
    train = get(formats, "series", run="v2-train", tag=TAG)["sequence_accuracy"]
    assert train == {"tag": "train/sequence_accuracy", "values": pytest.approx([0.9] * 3)}


def test_version_1_logs_find_the_sequence_accuracy_by_name(formats):
    # Version 1 metadata has no tag: the old name rule, the matrix's scope first.
    assert get(formats, "matrix", run="v1", tag=TAG, step=10)["sequence_accuracy"] == {
        "tag": "validation/sequence_accuracy",
        "step": 10,
        "value": pytest.approx(0.6),
    }
    series = get(formats, "series", run="v1", tag=TAG)
    assert series["sequence_accuracy"]["values"] == pytest.approx([0.5, 0.6, 0.7])
    assert get(formats, "matrix", run="v1-without", tag=TAG)["sequence_accuracy"] is None
    runs = {r["run"]: r["tags"][0] for r in get(formats, "runs")["runs"]}
    assert runs["v1"]["error"] is None and runs["v1"]["classes"] == ["a", "b", "c"]


def test_v1_sequence_tag_rule():
    names = sorted(fmt.V1_SEQUENCE_ACCURACY_NAMES)
    tags = ["train/epoch_captcha_accuracy", "validation/Whole_Accuracy", "loss", "accuracy"]
    assert v1_sequence_tag(tags, "confusion/validation", names) == "validation/Whole_Accuracy"
    assert v1_sequence_tag(tags, "confusion/train", names) == "train/epoch_captcha_accuracy"
    assert v1_sequence_tag(["loss", "accuracy"], TAG, names) is None


def test_impls_answer_plain_dicts_and_bytes(board):
    plugin, ctx = board.plugins[PLUGIN], board.context()
    runs = plugin.runs_impl(ctx, "")
    assert [r["run"] for r in runs["runs"]] == ["alnum", "broken", "no-examples/toy", "toy"]
    matrix = plugin.matrix_impl(ctx, "", "toy", TAG, step=0, top=1)
    assert matrix["counts"] == toy_counts(0).tolist() and len(matrix["confused_pairs"]) == 1
    assert json.loads(plugin.series_impl(ctx, "", "toy", TAG))["steps"] == list(TOY_STEPS)
    examples = plugin.examples_impl(ctx, "", "toy", TAG, true=0, predicted=1, position=0)
    assert examples["stored"] == 2 and examples["step"] == 20
    png = plugin.image_impl(ctx, "", "toy", EXAMPLES_TAG, step=20, index=1)
    assert png.startswith(b"\x89PNG")
    with pytest.raises(HttpError) as missing:
        plugin.matrix_impl(ctx, "", "toy", "nope")
    assert missing.value.code == 404
    with pytest.raises(HttpError) as outside:
        plugin.examples_impl(ctx, "", "toy", TAG, true=3, predicted=0)
    assert outside.value.code == 400 and "'true'" in outside.value.message


def test_series_returns_every_step_compactly_and_thins_long_ones(board):
    series = get(board, "series", run="toy", tag=TAG)
    assert series["steps"] == list(TOY_STEPS) and series["downsampled"] is False
    assert series["total_steps"] == 3
    for i, step in enumerate(TOY_STEPS):
        assert np.array_equal(np.reshape(series["counts"][i], (2, 3, 3)), toy_counts(step))
        acc = np.trace(toy_counts(step), axis1=1, axis2=2) / toy_counts(step).sum((1, 2))
        assert np.allclose(series["accuracy"][i], acc, atol=1e-6)
    thin = get(board, "series", run="toy", tag=TAG, max_steps=2)
    assert thin["steps"] == [0, 20] and thin["downsampled"] is True
    assert get(board, "series", run="toy", tag=TAG, max_steps=1)["steps"] == [20]


def test_series_base64_counts_match_the_json_ones(board):
    for run in ("toy", "alnum"):
        plain = get(board, "series", run=run, tag=TAG)
        packed = get(board, "series", run=run, tag=TAG, encoding="base64")
        encoded = packed.pop("counts")
        assert packed == {k: v for k, v in plain.items() if k != "counts"}
        flat = np.frombuffer(
            base64.b64decode(encoded["base64"]), dtype=np.dtype(encoded["dtype"]).newbyteorder("<")
        )
        assert encoded["dtype"] == "uint8" and encoded["shape"] == list(np.shape(plain["counts"]))
        assert np.array_equal(flat.reshape(encoded["shape"]), plain["counts"])


def test_examples_per_cell_with_cap_and_nearest_step(board):
    ex = get(board, "examples", run="toy", tag=TAG, step=20, position=0, true=0, predicted=1)
    assert ex["examples_tag"] == EXAMPLES_TAG and ex["cap_per_cell"] == 2
    assert ex["step"] == 20 and ex["exact"] is True and ex["count"] == 3
    assert ex["stored"] == 2 and [i["index"] for i in ex["images"]] == [1, 2]
    for n, image in enumerate(ex["images"]):
        status, body = board.get(f"/data/plugin/{PLUGIN}/{image['url']}")
        assert status == 200 and body.startswith(b"\x89PNG")
        from PIL import Image

        pixels = np.asarray(Image.open(io.BytesIO(body)))
        assert np.array_equal(pixels, toy_image(0, 0, 1, n))

    # Step 10 has no examples: 0 and 20 are equally near, the earlier one is used.
    near = get(board, "examples", run="toy", tag=TAG, step=10, position=1, true=2, predicted=0)
    assert near["requested_step"] == 10 and near["step"] == 0 and near["exact"] is False
    assert [i["position"] for i in near["images"]] == [1, 1]
    every = get(board, "examples", run="toy", tag=TAG, true=0, predicted=1)
    assert every["position"] is None and every["step"] == 20 and every["count"] == 3 + 0
    assert len(every["images"]) == 2
    limited = get(board, "examples", run="toy", tag=TAG, true=0, predicted=1, limit=1)
    assert len(limited["images"]) == 1 and limited["stored"] == 2
    diagonal = get(board, "examples", run="toy", tag=TAG, position=0, true=1, predicted=1)
    assert diagonal["images"] == [] and diagonal["stored"] == 0
    none = get(board, "examples", run="no-examples/toy", tag=TAG, true=0, predicted=1)
    assert none["examples_tag"] is None and none["images"] == []


def test_6x36_alphanumeric(board):
    m = get(board, "matrix", run="alnum", tag=TAG)
    assert np.shape(m["counts"]) == (6, 36, 36) and np.shape(m["pooled_counts"]) == (36, 36)
    assert m["classes"] == ALNUM and m["positions"][5] == "char 6"
    assert np.array_equal(m["counts"], alnum_counts(1))
    assert np.array_equal(m["pooled_counts"], alnum_counts(1).sum(0))
    assert len(m["class_metrics"]["positions"]) == 6
    assert len(m["class_metrics"]["pooled"]["f1"]) == 36
    series = get(board, "series", run="alnum", tag=TAG)
    assert np.shape(series["counts"]) == (2, 6 * 36 * 36)
    ex = get(board, "examples", run="alnum", tag=TAG, position=5, true=35, predicted=0)
    assert len(ex["images"]) == 2 and ex["exact"] is True


def test_unreadable_run_does_not_break_the_others(board):
    err = get(board, "matrix", 404, run="broken", tag=TAG)
    assert "version 99" in err["error"]
    assert get(board, "matrix", run="toy", tag=TAG)["step"] == 20


@pytest.mark.parametrize(
    ("route", "params", "status"),
    [
        ("matrix", {"tag": TAG}, 400),
        ("matrix", {"run": "toy"}, 400),
        ("matrix", {"run": "nope", "tag": TAG}, 404),
        ("matrix", {"run": "toy", "tag": "nope"}, 404),
        ("matrix", {"run": "toy", "tag": TAG, "step": 5}, 404),
        ("matrix", {"run": "toy", "tag": TAG, "step": "x"}, 400),
        ("matrix", {"run": "toy", "tag": TAG, "step": -7}, 400),
        ("matrix", {"run": "toy", "tag": TAG, "normalize": "rows"}, 400),
        ("matrix", {"run": "toy", "tag": TAG, "top": 100000}, 400),
        ("matrix", {"run": "toy", "tag": EXAMPLES_TAG}, 404),
        ("series", {"run": "toy", "tag": TAG, "max_steps": 0}, 400),
        ("series", {"run": "toy", "tag": "nope"}, 404),
        ("series", {"run": "toy", "tag": TAG, "encoding": "xml"}, 400),
        ("examples", {"run": "toy", "tag": TAG, "true": 0}, 400),
        ("examples", {"run": "toy", "tag": TAG, "true": 3, "predicted": 0}, 400),
        ("examples", {"run": "toy", "tag": TAG, "position": 2, "true": 0, "predicted": 1}, 400),
        ("examples", {"run": "toy", "tag": TAG, "step": 11, "true": 0, "predicted": 1}, 404),
        ("examples", {"run": "nope", "tag": TAG, "true": 0, "predicted": 1}, 404),
        ("image", {"run": "toy", "tag": EXAMPLES_TAG, "step": 20, "index": 0}, 400),
        ("image", {"run": "toy", "tag": EXAMPLES_TAG, "step": 20, "index": 99}, 404),
        ("image", {"run": "toy", "tag": EXAMPLES_TAG, "step": 10, "index": 1}, 404),
        ("image", {"run": "toy", "tag": TAG, "step": 20, "index": 1}, 404),
        ("image", {"run": "toy", "tag": EXAMPLES_TAG, "index": 1}, 400),
    ],
)
def test_bad_queries_answer_json_errors(board, route, params, status):
    query = urllib.parse.urlencode(params)
    code, body = board.get(f"/data/plugin/{PLUGIN}/{route}?{query}")
    assert code == status, body[:300]
    assert json.loads(body)["error"]
