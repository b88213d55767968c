"""The cats-vs-dogs lesson: folder layouts, bad files, training logs, resume, predict.

The photos are JPEG files the tests write (noisy pictures, a little redder for "cat" and
bluer for "dog"), in the Kaggle layout and in class sub-folders, plus an empty file, a
text file and a truncated JPEG. One tiny training run (in this process) serves the log,
Confusion page, resume and predict checks.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from plugin_harness import InProcessBoard
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from demo_models.catsdogs import data, predict, train
from demo_models.catsdogs.model import layer_names
from demo_models.runtime import CliError

CLASSES = ["cat", "dog"]
TINY = [
    *("--steps 4 --test-every 2 --log-every 1 --batch-size 8 --image-size 16".split()),
    "--test-fraction",
    "0.25",
]


def photo(rng: np.random.Generator, label: int, size: int = 24) -> bytes:
    """A noisy JPEG, redder for class 0 and bluer for class 1."""
    pixels = rng.integers(0, 200, (size, size, 3)).astype(np.int16)
    pixels[..., 0 if label == 0 else 2] += 50
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(out, format="JPEG", quality=85)
    return out.getvalue()


def write_photos(root: Path, layout: str, per_class: int = 12, seed: int = 0) -> Path:
    """Photos in the Kaggle layout (train/cat.N.jpg) or class folders (cat/N.jpg)."""
    rng = np.random.default_rng(seed)
    for k, name in enumerate(CLASSES):
        for i in range(per_class):
            path = (
                root / "train" / f"{name}.{i}.jpg"
                if layout == "kaggle"
                else root / name / f"{i}.jpg"
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(photo(rng, k))
    bad = root / "train" if layout == "kaggle" else root / "cat"
    (bad / "cat.900.jpg").write_bytes(b"")  # empty
    (bad / "dog.901.txt").write_text("not a photo\n")  # no image header
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, str]:
    """One tiny run on Kaggle-layout photos: (data dir, run dir, stdout)."""
    import contextlib

    root = write_photos(tmp_path_factory.mktemp("kaggle"), "kaggle")
    # a JPEG header cut short, named so that it falls into the test split: dropped, counted
    good = (root / "train" / "dog.0.jpg").read_bytes()
    name = next(
        f"dog.cut{i}.jpg" for i in range(1000) if data._is_test(f"train/dog.cut{i}.jpg", 0.25)
    )
    (root / "train" / name).write_bytes(good[: len(good) // 3])
    run = tmp_path_factory.mktemp("run") / "catsdogs"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert train.main(["--data", str(root), "--logdir", str(run), *TINY]) == 0
    return root, run, out.getvalue()


# -- data -------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["kaggle", "folders"])
def test_both_layouts_list_classes_and_skip_non_images(tmp_path, layout):
    listing = data.scan(write_photos(tmp_path, layout), test_fraction=0.25)
    assert listing.layout == layout and listing.classes == CLASSES
    assert len(listing.train) + len(listing.test) == 24 and listing.test
    assert listing.skipped_total == 2 and listing.skipped["empty"] == 1
    assert "skipped 2 file(s)" in listing.describe()
    labels = {
        Path(p).name.split(".")[0] if layout == "kaggle" else Path(p).parent.name: y
        for p, y in listing.train + listing.test
    }
    assert labels == {"cat": 0, "dog": 1}
    again = data.scan(tmp_path, test_fraction=0.25)  # the split is stable
    assert again.test == listing.test


def test_pipeline_drops_an_undecodable_jpeg_without_crashing(tmp_path):
    root = write_photos(tmp_path, "folders", per_class=3)
    good = (root / "dog" / "0.jpg").read_bytes()
    (root / "dog" / "cut.jpg").write_bytes(good[: len(good) // 3])  # a JPEG header, cut short
    listing = data.scan(root, test_fraction=0.5)
    files = listing.train + listing.test
    assert len(files) == 7  # the header check lets the cut file through ...
    seen = sum(len(y) for _, y in data.dataset(files, 16, 4, train=False))
    assert seen == 6  # ... and the pipeline drops it


def test_bad_data_folders_are_clear_errors(tmp_path):
    with pytest.raises(CliError, match="--data .* is not a folder"):
        data.scan(tmp_path / "missing")
    (tmp_path / "cat.1.jpg").write_bytes(photo(np.random.default_rng(0), 0))
    with pytest.raises(CliError, match="need two classes"):
        data.scan(tmp_path)
    with pytest.raises(CliError, match="--test-fraction"):
        data.scan(tmp_path, test_fraction=1.5)
    run = tmp_path / "run"
    with pytest.raises(CliError, match="--data .* is not a folder"):
        train.main(["--data", str(tmp_path / "missing"), "--logdir", str(run)])
    assert not run.exists()  # nothing written before the data is known to be good
    with pytest.raises(CliError, match="--image-size must be >= 16"):
        train.main(["--image-size", "8", "--logdir", str(run)])


def test_offline_standin_is_real_photo_crops_and_says_so(tmp_path):
    listing = data.standin(per_class=4, side=32, root=tmp_path / "standin")
    assert listing.classes == ["temple", "flower"] and "NOT cats vs dogs" in listing.source
    assert len(listing.train) == 8 and len(listing.test) == 4
    crop = np.asarray(Image.open(listing.train[0][0]))
    assert crop.shape == (32, 32, 3) and crop.std() > 5  # a photo, not a blank


# -- training ---------------------------------------------------------------------------


def test_training_logs_the_lessons_layers_and_the_confusion_page(trained):
    _, run, stdout = trained
    assert "skipped 2 file(s)" in stdout and "[Test ] step:4" in stdout
    assert "1 test file(s) did not decode and were dropped" in stdout
    acc = event_accumulator.EventAccumulator(str(run), size_guidance={"tensors": 0})
    acc.Reload()
    tags = set(acc.Tags()["tensors"])
    for layer in layer_names() + ["fc1", "fc2", "fc3"]:
        assert f"{layer}/kernel/summaries/histogram" in tags, layer
        assert f"{layer}/kernel/gradients" in tags, layer
    # the lessons' tag scheme, and no folder TensorBoard would read as a checkpoint index
    assert {"train/accuracy", "train/loss", "test/accuracy", "test/loss"} <= tags
    assert not any(tag.startswith(("batch/", "epoch/")) for tag in tags)
    assert (run / "checkpoints" / train.STATE).is_file() and not (run / "checkpoint").exists()
    assert {"data/skipped_files", "input/images", "confusion"} <= tags
    undecodable = acc.Tensors("data/undecodable_test_files")
    assert [float(tensor_util.make_ndarray(e.tensor_proto)) for e in undecodable] == [1.0, 1.0]
    assert [e.step for e in acc.Tensors("train/accuracy")] == [1, 2, 3, 4]
    assert [e.step for e in acc.Tensors("test/accuracy")] == [2, 4]
    # one step axis (issue 28): the callback's summaries at each test's global step
    for tag in ("confusion", "confusion/examples", "fc3/kernel/summaries/histogram"):
        assert [e.step for e in acc.Tensors(tag)] == [2, 4], tag
    assert [e.step for e in acc.Tensors("input/images")] == [2]
    # the graph's scopes carry the layer names (Keras may add a _N suffix in a busy process)
    scopes = {re.sub(r"_\d+$", "", part) for n in acc.Graph().node for part in n.name.split("/")}
    assert set(layer_names()) | {"pool4", "fc2", "fc3"} <= scopes
    assert json.loads((run / train.LABELS_FILE).read_text()) == {
        "classes": CLASSES,
        "image_size": 16,
    }

    board = InProcessBoard(run.parent).reload()
    runs = board.plugin("position_confusion", "runs")["runs"]
    (entry,) = [t for r in runs for t in r["tags"] if r["run"] == "catsdogs"]
    assert entry["classes"] == CLASSES and entry["examples_tag"]
    assert entry["positions"] == ["all"]  # as the other lessons name a classifier's one position
    matrix = board.plugin("position_confusion", "matrix", run="catsdogs", tag="confusion")
    counts = np.asarray(matrix["pooled_counts"])
    assert counts.shape == (2, 2) and counts.sum() > 0
    wrong = [(t, p) for t in range(2) for p in range(2) if t != p and counts[t, p]]
    assert wrong, "a 4-step model should get some photos wrong"
    examples = board.plugin(
        "position_confusion",
        "examples",
        run="catsdogs",
        tag="confusion",
        true=wrong[0][0],
        predicted=wrong[0][1],
    )
    assert examples["stored"] >= 1 and examples["images"]
    status, body = board.get("/data/plugin/position_confusion/" + examples["images"][0]["url"])
    assert status == 200 and Image.open(io.BytesIO(body)).size == (16, 16)


def test_a_second_run_resumes_where_the_first_stopped(trained, tmp_path, capsys):
    root, first, _ = trained
    run = tmp_path / "catsdogs"
    shutil.copytree(first, run)
    # a run written before the folder was renamed resumes too, its folder moved
    (run / "checkpoints").rename(run / "checkpoint")
    assert train.main(["--data", str(root), "--logdir", str(run), *TINY[:1], "2", *TINY[2:]]) == 0
    assert "moved the checkpoint folder" in capsys.readouterr().out
    assert not (run / "checkpoint").exists()
    state = json.loads((run / "checkpoints" / train.STATE).read_text())
    assert state["step"] == 6 and state["epoch"] == 3
    acc = event_accumulator.EventAccumulator(str(run), size_guidance={"tensors": 0})
    acc.Reload()
    assert [e.step for e in acc.Tensors("test/accuracy")] == [2, 4, 6]
    assert [e.step for e in acc.Tensors("confusion")] == [2, 4, 6]  # resumed: steps go on

    assert train.main(["--data", str(root), "--logdir", str(run), *TINY, "--fresh"]) == 0
    assert json.loads((run / "checkpoints" / train.STATE).read_text())["step"] == 4
    acc = event_accumulator.EventAccumulator(str(run), size_guidance={"tensors": 0})
    acc.Reload()
    assert [e.step for e in acc.Tensors("test/accuracy")] == [2, 4]  # the old run is gone


def test_a_run_refuses_other_classes(trained, tmp_path):
    _, first, _ = trained
    run = tmp_path / "catsdogs"
    shutil.copytree(first, run)
    other = tmp_path / "other"
    for name in ("ant", "bee"):
        (other / name).mkdir(parents=True)
        for i in range(4):
            (other / name / f"{i}.jpg").write_bytes(photo(np.random.default_rng(i), 0))
    with pytest.raises(CliError, match="trained on"):
        train.main(["--data", str(other), "--logdir", str(run), *TINY])


# -- predict ----------------------------------------------------------------------------


def test_predict_copies_into_class_folders_with_a_csv(trained, tmp_path):
    _, run, _ = trained
    unlabelled = tmp_path / "test1"
    unlabelled.mkdir()
    rng = np.random.default_rng(7)
    for i in range(5):
        (unlabelled / f"{i}.jpg").write_bytes(photo(rng, i % 2))
    (unlabelled / "sub").mkdir()
    (unlabelled / "sub" / "0.jpg").write_bytes(photo(rng, 0))  # same name, other folder
    (unlabelled / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    before = sorted(p.relative_to(unlabelled) for p in unlabelled.rglob("*"))
    out = tmp_path / "sorted"

    assert predict.main([str(run), str(unlabelled), "--out", str(out)]) == 0
    assert sorted(p.relative_to(unlabelled) for p in unlabelled.rglob("*")) == before
    rows = list(csv.DictReader((out / predict.CSV_FILE).open()))
    assert [r["file"] for r in rows] == [
        "0.jpg",
        "1.jpg",
        "2.jpg",
        "3.jpg",
        "4.jpg",
        "broken.jpg",
        "sub/0.jpg",
    ]
    by_file = {r["file"]: r for r in rows}
    assert by_file["broken.jpg"]["class"] == predict.UNREADABLE
    copied = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg"))
    assert len(copied) == 6 and not (out / predict.UNREADABLE).exists()
    for name, row in by_file.items():
        if row["class"] in CLASSES:
            assert 0.5 <= float(row["confidence"]) <= 1.0
            target = out / row["class"] / name.replace("/", "__")
            assert target.read_bytes() == (unlabelled / name).read_bytes()

    with pytest.raises(CliError, match="--out .* is not empty"):
        predict.main([str(run), str(unlabelled), "--out", str(out)])
    assert predict.main([str(run), str(unlabelled), "--out", str(out), "--force"]) == 0


def test_predict_names_the_bad_argument(trained, tmp_path):
    _, run, _ = trained
    (tmp_path / "imgs").mkdir()
    with pytest.raises(CliError, match="MODEL"):
        predict.main([str(tmp_path), str(tmp_path / "imgs"), "--out", str(tmp_path / "o")])
    with pytest.raises(CliError, match="DIR .* is not a folder"):
        predict.main([str(run), str(tmp_path / "nope"), "--out", str(tmp_path / "o")])
    with pytest.raises(CliError, match="DIR .* holds no image files"):
        predict.main([str(run), str(tmp_path / "imgs"), "--out", str(tmp_path / "o")])
    (tmp_path / "imgs" / "1.jpg").write_bytes(photo(np.random.default_rng(0), 0))
    (tmp_path / "file").write_text("x")
    with pytest.raises(CliError, match="--out .* is a file"):
        predict.main([str(run), str(tmp_path / "imgs"), "--out", str(tmp_path / "file")])
    with pytest.raises(CliError, match="--out .* must not be inside DIR"):
        predict.main([str(run), str(tmp_path / "imgs"), "--out", str(tmp_path / "imgs" / "o")])
    assert not (tmp_path / "o").exists()  # nothing made for a refused command
