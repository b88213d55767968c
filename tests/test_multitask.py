"""`flowscope demo multitask`: TFRecord shards, joint vs alternate training, bad input.

The command runs here at a tiny size (64 captchas in 2 shards, 6 steps of 8 per mode), so
the module's few TensorFlow runs fit a loaded 2-core machine; no test depends on speed.
"""

from __future__ import annotations

import errno
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from test_demos import graph_scopes
from test_tour import check_note, load

from demo_models import cli, notes
from demo_models.captcha import data, multitask, records
from demo_models.runtime import CliError
from summaries import format as fmt

TINY = [
    "--train-size", "64",
    "--test-size", "32",
    "--shards", "2",
    "--batch-size", "8",
    "--steps", "6",
    "--workers", "1",
]  # fmt: skip
TASK_TAGS = [
    f"{kind}/{task}" for kind in ("train/loss", "test/accuracy") for task in multitask.TASKS
]
INPUT_TAGS = [
    "input/images_per_second/tfrecord",
    "input/images_per_second/memory",
    "input/images_per_second/training",
    "input/step_wait_ms",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    """The command once at the tiny size (module-wide: TensorFlow is slow to start)."""
    import contextlib
    import io
    import os

    os.environ["FLOWSCOPE_NO_PROGRESS"] = "1"
    root = tmp_path_factory.mktemp("multitask")
    argv = [*TINY, "--logdir", str(root / "runs"), "--cache-dir", str(root / "cache")]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert multitask.main([*argv, "--lang", "zh"]) == 0
    return {"root": root, "argv": argv, "out": out.getvalue()}


@pytest.mark.slow  # the module fixture trains the captcha reader twice
def test_both_runs_carry_the_lessons_tags(tiny):
    runs = tiny["root"] / "runs"
    for mode in multitask.MODES:
        acc = load(runs / mode)
        tags = set(acc.Tags()["tensors"])
        missing = {*TASK_TAGS, *INPUT_TAGS, "test/accuracy", "confusion/test"} - tags
        assert not missing, f"{mode} lacks {missing}"
        assert [e.step for e in acc.Tensors("train/loss")] == list(range(6))  # every step
        confusion = acc.SummaryMetadata("confusion/test").plugin_data
        assert confusion.plugin_name == fmt.CONFUSION_PLUGIN  # the Confusion page, per run
        assert len(fmt.parse_content(confusion.content)["positions"]) == 4
        check_note(runs / mode, "multitask")  # and every tag the note points to is here
        # the graph: the shared trunk and the task heads under their scopes
        graph = graph_scopes(acc.Graph())
        assert {"trunk", "heads", "heads/digits_1_2", "loss", "train"} <= graph
        assert ("heads/digits_3_4" in graph) == (mode == "joint")  # alternate: one task a step


def test_the_runs_start_alike_and_train_differently(tiny):
    runs = tiny["root"] / "runs"
    joint, alternate = load(runs / "joint"), load(runs / "alternate")
    # the same start: the same pipeline figures (measured once) in both runs
    for tag in INPUT_TAGS[:2]:
        assert joint.Tensors(tag)[0].tensor_proto == alternate.Tensors(tag)[0].tensor_proto
    # a joint step trains both tasks, an alternate step one: the tasks take turns
    for task, steps in (("digits_1_2", [0, 2, 4]), ("digits_3_4", [1, 3, 5])):
        assert [e.step for e in joint.Tensors(f"train/loss/{task}")] == list(range(6))
        assert [e.step for e in alternate.Tensors(f"train/loss/{task}")] == steps
    out = tiny["out"]
    assert "joint minus alternate at equal steps" in out
    assert "TFRecord" in out and "images/s" in out and "in memory" in out
    assert notes.note("multitask").title_zh in out  # --lang zh: the guide in Chinese


def test_shards_are_examples_with_the_png_and_labels(tiny):
    import tensorflow as tf

    where = records.folder(64, 0, "train", 2, tiny["root"] / "cache")
    manifest = json.loads((where / records.MANIFEST).read_text())
    assert [e["records"] for e in manifest["shards"]] == [32, 32]
    captchas = data.load(64, 0, "train", cache_dir=tiny["root"] / "cache")
    first = next(iter(tf.data.TFRecordDataset(str(where / manifest["shards"][0]["file"]))))
    example = tf.train.Example.FromString(first.numpy())
    png = example.features.feature["image"].bytes_list.value[0]
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    image = tf.io.decode_png(png).numpy()[..., 0]
    assert np.array_equal(image, captchas.images[0])  # lossless
    labels = list(example.features.feature["labels"].int64_list.value)
    assert labels == captchas.labels[0].tolist()


def test_a_truncated_shard_is_named_and_made_again_on_the_next_run(tiny, capsys):
    where = records.folder(64, 0, "train", 2, tiny["root"] / "cache")
    shard = where / records.shard_name(1, 2)
    good = shard.read_bytes()
    shard.write_bytes(good[: len(good) // 2])
    assert multitask.main([*tiny["argv"], "--no-guide"]) == 0  # resumes both runs
    out = capsys.readouterr().out
    assert (
        f"{shard} is truncated ({len(good) // 2:,} of {len(good):,} bytes); making it again" in out
    )
    assert "wrote 1 of 2 shards" in out
    assert shard.read_bytes() == good  # the same records as before
    for mode in multitask.MODES:  # the step numbers continued
        assert (tiny["root"] / "runs" / mode / "checkpoints" / "ckpt-12.index").exists()


@pytest.fixture
def small_set(tmp_path) -> tuple[data.CaptchaSet, Path]:
    captchas = data.load(12, 3, "train", cache_dir=tmp_path / "cache", workers=1)
    return captchas, records.folder(12, 3, "train", 3, tmp_path / "cache")


def test_corrupt_shards_and_manifests_are_detected(small_set):
    captchas, where = small_set
    said: list[str] = []
    files = records.ensure(captchas, where, 3, said.append)
    assert len(files) == 3 and said[-1].startswith("captcha records: wrote 3 of 3 shards")
    said.clear()
    assert records.ensure(captchas, where, 3, said.append) == files and said == []  # cached

    blob = bytearray(files[0].read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # one flipped byte, same size
    files[0].write_bytes(bytes(blob))
    assert records.damaged(files) == {files[0]: "corrupt (its SHA-256 differs from the manifest's)"}
    records.ensure(captchas, where, 3, said.append)
    assert said[0] == (
        f"captcha records: {files[0]} is corrupt (its SHA-256 differs from the manifest's); "
        "making it again"
    )
    assert records.damaged(files) == {}

    files[2].unlink()
    (where / records.MANIFEST).write_text("{not json")
    said.clear()
    records.ensure(captchas, where, 3, said.append)
    assert "unreadable; making every shard again" in said[0] and "wrote 3 of 3" in said[-1]
    assert records.damaged(files) == {}


def test_a_shard_damaged_while_reading_stops_with_its_name_never_a_hang(small_set):
    captchas, where = small_set
    files = records.ensure(captchas, where, 3, lambda _: None)
    good = files[1].read_bytes()
    files[1].write_bytes(good[:-7])  # truncated inside its last record
    outcome: dict = {}

    def read() -> None:
        try:
            pipeline = records.dataset(files, 4, seed=0)
            for _ in records.batches(pipeline, files):
                pass
        except CliError as exc:
            outcome["error"] = str(exc)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(120)
    assert not worker.is_alive(), "reading a truncated shard hung"
    message = outcome["error"]
    assert str(files[1]) in message and "truncated" in message
    assert "run the command again" in message


def test_a_full_disk_is_one_clear_error(small_set, monkeypatch):
    import tensorflow as tf

    captchas, where = small_set

    class FullDisk:
        def __init__(self, path: str) -> None:
            self.file = open(path, "wb")  # closed in __exit__

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.file.close()

        def write(self, record: bytes) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tf.io, "TFRecordWriter", FullDisk)
    with pytest.raises(CliError) as caught:
        records.ensure(captchas, where, 3, lambda _: None)
    message = str(caught.value)
    assert message.startswith(f"cannot write the TFRecord cache {where}: No space left on device")
    assert "free some space" in message and "--cache-dir" in message
    assert not list(where.iterdir())  # no half-written file left behind


def test_a_cache_that_is_a_file_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    argv = ["demo", "multitask", *TINY, "--logdir", str(tmp_path / "runs")]
    with pytest.warns(UserWarning, match="could not cache captchas"):  # the .npy cache
        assert cli.main([*argv, "--cache-dir", str(blocker)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"flowscope: error: cannot write the TFRecord cache {blocker}")
    assert "Traceback" not in "\n".join(err)


@pytest.mark.parametrize(
    "options, message",
    [
        (["--train-size", "1"], "--train-size must be >= 2"),
        (["--shards", "1"], "--shards must be >= 2"),
        (["--train-size", "8", "--shards", "9"], "--shards must be <= --train-size (8), got 9"),
        (["--batch-size", "0"], "--batch-size must be >= 1"),
        (["--train-size", "8", "--batch-size", "9"], "--batch-size must be <= --train-size"),
        (["--test-size", "0"], "--test-size must be >= 1"),
        (["--lr", "0"], "--lr must be > 0, got 0.0"),
        (["--workers", "0"], "--workers must be >= 1"),
    ],
)
def test_bad_options_are_one_line(tmp_path, capsys, options, message):
    argv = ["demo", "multitask", "--logdir", str(tmp_path / "runs"), *options]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("flowscope: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()  # nothing made before the options are checked


def test_steps_of_zero_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["demo", "multitask", "--steps", "0"])
    assert exited.value.code == 2
    assert "--steps: must be >= 1, got 0" in capsys.readouterr().err


def test_the_note_and_the_tour_agree_with_the_code():
    from demo_models import tour

    note = notes.note("multitask")
    for steps in (multitask.STEPS, multitask.QUICK_STEPS):
        assert f"{steps:,} steps" in note.en and f"{steps:,} 步" in note.zh
    # not a tour stop (the tour's time budget); its closing lines name the command
    assert "multitask" not in tour.NAMES
    assert tour.MORE == "flowscope demo multitask --quick"
    for text in tour.MESSAGES.values():
        assert "{command}" in text["more"]
