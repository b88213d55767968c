"""`flowscope demo transfer`: cached Inception-V3 bottlenecks, the head, Projector, Confusion.

The Inception-V3 path runs on JPEG files written here in class sub-folders and on a weights
file written here from `InceptionV3(weights=None, include_top=False)` at 75 x 75 (the
smallest input Keras allows), so nothing is downloaded and each build takes seconds: the
suite builds it three times (the weights file, the first run, the run after one image
changed). The offline stand-in runs in the tour (test_tour.py); its parts are checked here.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from plugin_harness import InProcessBoard
from tensorboard.backend import application
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins import base_plugin
from tensorboard.plugins.projector import projector_plugin
from werkzeug import test as werkzeug_test

from demo_models import cli
from demo_models.runtime import CliError
from demo_models.transfer import cache as cache_module
from demo_models.transfer import inception, standin
from demo_models.transfer.main import main

SIZE = 75
CLASSES = ("blue", "red")
PER_CLASS = 5
COLOURS = {"blue": (30, 30, 200), "red": (200, 30, 30)}


def write_jpeg(path: Path, colour: tuple[int, int, int], seed: int) -> None:
    noise = np.random.default_rng(seed).integers(0, 60, (SIZE, SIZE, 3))
    pixels = (noise + np.array(colour) // 2).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=90)


def write_images(root: Path) -> Path:
    """DIR/<class>/*.jpg, and one file with a .jpg name that is not an image."""
    for c, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(PER_CLASS):
            write_jpeg(root / name / f"{i}.jpg", COLOURS[name], seed=10 * c + i)
    (root / "red" / "notes.jpg").write_text("not an image")
    return root


def bottleneck_note(run: Path) -> str:
    acc = event_accumulator.EventAccumulator(str(run), size_guidance={"tensors": 0})
    acc.Reload()
    return acc.Tensors("about/bottlenecks")[-1].tensor_proto.string_val[0].decode()


def counted(note: str) -> tuple[int, int]:
    """(computed, reused) from the run's own report of the cache's stats."""
    match = re.search(r"(\d+) computed, (\d+) from the cache", note)
    assert match, note
    return int(match[1]), int(match[2])


@pytest.fixture(scope="module")
def lesson(tmp_path_factory, monkeypatch_module):
    """Images, a weights file, and one run of the Inception-V3 lesson over them."""
    import keras

    root = tmp_path_factory.mktemp("transfer")
    monkeypatch_module.setenv("KERAS_HOME", str(root / "keras"))  # no cached weights
    monkeypatch_module.setenv("FLOWSCOPE_NO_PROGRESS", "1")
    data = write_images(root / "data")
    weights = root / "inception.weights.h5"
    keras.applications.InceptionV3(
        weights=None, include_top=False, input_shape=(SIZE, SIZE, 3)
    ).save_weights(str(weights))
    argv = [
        "--data", str(data), "--weights", str(weights), "--image-size", str(SIZE),
        "--cache-dir", str(root / "cache"), "--steps", "6",
    ]  # fmt: skip
    assert main([*argv, "--logdir", str(root / "runs" / "transfer")]) == 0
    return {"root": root, "data": data, "weights": weights, "argv": argv}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_bottlenecks_are_computed_once_and_recomputed_only_when_an_image_changes(lesson):
    root, argv = lesson["root"], lesson["argv"]
    first = bottleneck_note(root / "runs" / "transfer")
    assert counted(first) == (2 * PER_CLASS, 0) and "1 failed" in first  # notes.jpg
    entries = list((root / "cache" / "bottlenecks").rglob("*.npy"))
    assert len(entries) == 2 * PER_CLASS

    assert main([*argv, "--logdir", str(root / "second")]) == 0
    assert counted(bottleneck_note(root / "second")) == (0, 2 * PER_CLASS)

    changed = root / "changed"
    shutil.copytree(lesson["data"], changed)
    write_jpeg(changed / "red" / "0.jpg", COLOURS["red"], seed=99)
    assert main([*argv, "--data", str(changed), "--logdir", str(root / "third")]) == 0
    assert counted(bottleneck_note(root / "third")) == (1, 2 * PER_CLASS - 1)


def test_the_run_logs_the_head_confusion_with_examples_and_the_projector(lesson):
    run = lesson["root"] / "runs" / "transfer"
    acc = event_accumulator.EventAccumulator(str(run), size_guidance={"tensors": 0})
    acc.Reload()
    tags = set(acc.Tags()["tensors"])
    assert {"train/loss", "train/accuracy", "test/accuracy"} <= tags  # the lessons' scheme
    assert not (run / "checkpoint").is_dir()  # TensorBoard reads `checkpoint` as an index
    assert {f"{layer}/weights" for layer in ("layer1", "layer2", "logits")} <= tags
    scopes = {node.name.split("/")[0] for node in acc.Graph().node}
    assert {"input", "layer1", "layer2", "logits", "cross_entropy", "train"} <= scopes
    about = acc.Tensors("about/data")[0].tensor_proto.string_val[0].decode()
    assert "Inception-V3" in about and "1 files skipped" in about

    # the Confusion page's data, served by the plugin over TensorBoard's data provider
    board = InProcessBoard(lesson["root"] / "runs")
    runs = {r["run"]: r["tags"] for r in board.plugin("position_confusion", "runs")["runs"]}
    (entry,) = [t for t in runs["transfer"] if t["tag"] == "confusion/test"]
    assert entry["classes"] == list(CLASSES) and entry["examples_tag"]
    matrix = board.plugin("position_confusion", "matrix", run="transfer", tag="confusion/test")
    counts = np.asarray(matrix["counts"])[0]
    assert counts.sum() == 2  # one test image per class
    for true, predicted in zip(*np.nonzero(counts - np.diag(np.diag(counts))), strict=True):
        ex = board.plugin(
            "position_confusion", "examples", run="transfer", tag="confusion/test",
            step=matrix["step"], position=0, true=int(true), predicted=int(predicted),
        )  # fmt: skip
        assert ex["images"], ex

    # the Projector: TensorBoard's own plugin finds the vectors, labels and sprite
    context = base_plugin.TBContext(data_provider=board.provider, logdir=board.logdir)
    projector = projector_plugin.ProjectorPlugin(context)
    client = werkzeug_test.Client(
        application.TensorBoardWSGI([projector], data_provider=board.provider)
    )
    base = "/data/plugin/projector"
    assert client.get(f"{base}/runs").json == ["transfer"]
    info = client.get(f"{base}/info?run=transfer").json
    (embedding,) = info["embeddings"]
    name = embedding["tensorName"]
    assert embedding["sprite"]["singleImageDim"] == [inception.THUMBNAIL] * 2
    tensor = client.get(f"{base}/tensor?run=transfer&name={name}").get_data()
    vectors = np.frombuffer(tensor, np.float32).reshape(-1, inception.DIM)
    assert len(vectors) == 2 * PER_CLASS and np.isfinite(vectors).all()
    rows = client.get(f"{base}/metadata?run=transfer&name={name}").get_data().decode()
    lines = rows.splitlines()
    assert lines[0] == "class\tsplit" and len(lines) == 1 + 2 * PER_CLASS
    assert {line.split("\t")[0] for line in lines[1:]} == set(CLASSES)
    sprite = client.get(f"{base}/sprite_image?run=transfer&name={name}").get_data()
    side = int(np.ceil(np.sqrt(2 * PER_CLASS))) * inception.THUMBNAIL
    assert Image.open(io.BytesIO(sprite)).size == (side, side)


def test_no_weights_file_is_one_message_saying_where_and_how(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    data = write_images(tmp_path / "data")
    status = cli.main(["demo", "transfer", "--data", str(data), "--logdir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert str(tmp_path / "keras" / "models") in err and inception.WEIGHTS_FILE in err
    assert inception.WEIGHTS_URL in err and "never downloads" in err
    assert not (tmp_path / "r").exists()  # nothing written
    with pytest.raises(CliError, match="--weights .*nope.h5: no such file"):
        main(["--data", str(data), "--weights", str(tmp_path / "nope.h5")])
    with pytest.raises(CliError, match="class sub-folders"):
        main(["--data", str(data / "red"), "--weights", __file__])


def test_the_keras_cache_file_is_found_without_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert inception.find_weights(None) is None
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / inception.WEIGHTS_FILE).write_bytes(b"h5")
    assert inception.find_weights(None) == tmp_path / "models" / inception.WEIGHTS_FILE


# -- the cache, without TensorFlow ------------------------------------------------------


def test_cache_reads_back_recomputes_corrupt_entries_and_never_stores_failures(tmp_path):
    calls: list[list[int]] = []

    def compute(indices: list[int]) -> np.ndarray:
        calls.append(list(indices))
        out = np.array([[i, i + 0.5, -i] for i in indices], np.float32)
        out[[n for n, i in enumerate(indices) if i == 3]] = np.nan  # "not an image"
        return out

    keys = ["a", "b", "c", "d", "a"]  # a duplicate image is computed once
    cache = cache_module.BottleneckCache(tmp_path, "base", 3)
    first = cache.vectors(keys, compute, batch_size=2)
    assert calls == [[0, 1], [2, 3]] and np.array_equal(first[4], first[0])
    assert (cache.stats.computed, cache.stats.failed) == (3, 1) and np.isnan(first[3]).all()
    assert not cache.path("d").exists()

    calls.clear()
    cache.path("b").write_bytes(b"\x93NUMPY truncated")
    again = cache_module.BottleneckCache(tmp_path, "base", 3)
    second = again.vectors(keys, compute)
    assert calls == [[1, 3]]  # the corrupt entry and the failure, nothing else
    assert (again.stats.reused, again.stats.corrupt, again.stats.computed) == (2, 1, 1)
    np.testing.assert_array_equal(second[:3], first[:3])

    other = cache_module.BottleneckCache(tmp_path, "other base", 3)  # other weights
    other.vectors(keys[:1], compute)
    assert other.stats.computed == 1 and other.folder != cache.folder
    with pytest.raises(ValueError, match="batch_size"):
        cache.vectors(keys, compute, batch_size=0)


def test_the_base_key_follows_the_weights_file_bytes_and_the_input_size(tmp_path):
    weights = tmp_path / "w.h5"
    weights.write_bytes(b"weights one")
    key = cache_module.file_key(weights, "size=75")
    assert key != cache_module.file_key(weights, "size=299")
    weights.write_bytes(b"weights two")
    assert key != cache_module.file_key(weights, "size=75")


def test_test_split_is_stable_and_keeps_a_training_image_per_class():
    keys = [f"{i:02x}" for i in range(20)]
    labels = np.array([0] * 10 + [1] * 8 + [2] * 2)
    test = inception.split(keys, labels)
    assert test[labels == 0].sum() == 2 and test[labels == 1].sum() == 2
    assert test[labels == 2].sum() == 1  # two images: one each
    assert inception.split(keys[:2], labels[:2], fraction=0.9).sum() == 1  # even so
    grown = inception.split([*keys, "ff"], np.append(labels, 0))
    assert np.array_equal(grown[:20], test)  # a new image moves no other


# -- the offline stand-in's parts -------------------------------------------------------


def test_stand_in_tasks_are_disjoint_digits():
    tasks = standin.tasks(seed=0)
    assert tasks.source_x.shape[1:] == (28, 28) and set(tasks.source_y) == {0, 1, 2, 3, 4}
    assert set(tasks.pool_y) == set(tasks.test_y) == {0, 1, 2, 3, 4}  # digits 5..9
    assert len(tasks.test_y) == standin.TARGET_TEST
    few = tasks.few(3, seed=1)
    assert np.bincount(tasks.pool_y[few]).tolist() == [3] * 5
    moved = standin.shifted(tasks.source_x[:50], seed=0)
    assert np.allclose(moved.sum(axis=(1, 2)), tasks.source_x[:50].sum(axis=(1, 2)))
    assert not np.array_equal(moved, tasks.source_x[:50])
    table = standin.table([("with transfer", 50, 0.9), ("without", 50, 0.8)])
    assert "| with transfer | 50 | 0.900 |" in table.splitlines()


def test_bad_options_are_clear_errors(tmp_path):
    for argv, message in (
        (["--image-size", "64"], "--image-size must be >= 75"),
        (["--lr", "0"], "--lr must be > 0"),
        (["--labels-per-class", "0"], "--labels-per-class must be >= 1"),
        (["--weights", __file__], "--weights needs --data"),
    ):
        with pytest.raises(CliError, match=message):
            main([*argv, "--logdir", str(tmp_path / "r")])
