"""The captcha demo end to end on a tiny data set: summaries, checkpoint resume, evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.util import tensor_util

from demo_models.captcha import evaluate, train
from demo_models.runtime import CliError
from summaries import format as fmt


def _events(run: Path, skip: set | frozenset = frozenset()) -> list[tuple]:
    """(tag, step, value, plugin name, plugin content) of every summary in the run."""
    out = []
    for path in sorted(set(run.glob("events.out.tfevents.*")) - set(skip)):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                array = tensor_util.make_ndarray(value.tensor) if value.HasField("tensor") else None
                plugin = value.metadata.plugin_data
                out.append((value.tag, event.step, array, plugin.plugin_name, plugin.content))
    return out


def _by_tag(events, tag):
    return [e for e in events if e[0] == tag]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """Train 1 epoch on 96 captchas, then resume for 1 more (module-wide: TF is slow).

    The resume starts from the checkpoint folder's old name, `checkpoint`, to prove that such
    runs still resume (their folder moved to `checkpoints`)."""
    import os

    os.environ["FLOWSCOPE_NO_PROGRESS"] = "1"
    root = tmp_path_factory.mktemp("captcha")
    run = root / "run"
    argv = [
        "--logdir", str(run),
        "--arch", "course",
        "--train-size", "96",
        "--validation-size", "40",
        "--test-size", "20",
        "--epochs", "1",
        "--batch-size", "32",
        "--eval-every", "2",
        "--cap-per-cell", "2",
        "--cache-dir", str(root / "cache"),
        "--workers", "1",
        "--scalar-every", "1",
        "--run-eagerly",  # 6 steps: tracing would cost more than it saves
    ]  # fmt: skip
    assert train.main(argv) == 0
    first = _events(run)
    first_files = set(run.glob("events.out.tfevents.*"))
    state_1 = json.loads((run / "checkpoints" / train.STATE).read_text())
    (run / "checkpoints").rename(run / "checkpoint")
    assert train.main(argv) == 0
    assert not (run / "checkpoint").exists()
    state_2 = json.loads((run / "checkpoints" / train.STATE).read_text())
    return {
        "run": run,
        "root": root,
        "first": first,
        "later": _events(run, skip=first_files),
        "all": _events(run),
        "states": (state_1, state_2),
    }


def test_confusion_and_examples_are_written_with_their_shapes(trained):
    matrices = _by_tag(trained["first"], train.CONFUSION_TAG)
    assert train.CONFUSION_TAG == "confusion/test" and matrices
    for _tag, _step, counts, plugin, content in matrices:
        assert plugin == fmt.CONFUSION_PLUGIN
        meta = fmt.parse_content(content)
        assert meta["kind"] == fmt.MATRIX
        assert meta["positions"] == ["digit 1", "digit 2", "digit 3", "digit 4"]
        assert meta["classes"] == list("0123456789")
        assert meta["sequence_accuracy_tag"] == "test/sequence_accuracy"  # logged too
        assert counts.shape == (4, 10, 10)
        assert (counts.sum(axis=(1, 2)) == 40).all()  # every validation captcha, per position
    # validated at steps 2 (every 2 steps) and 3 (end of the epoch: 96 / 32 steps)
    assert sorted({m[1] for m in matrices}) == [2, 3]

    examples = _by_tag(trained["first"], "confusion/test/examples")
    assert examples
    _tag, _step, blobs, plugin, content = examples[-1]
    meta = fmt.parse_content(content)
    assert plugin == fmt.CONFUSION_PLUGIN and meta["kind"] == fmt.EXAMPLES
    assert meta["matrix_tag"] == "confusion/test" and meta["cap_per_cell"] == 2
    cells = json.loads(blobs[0])["cells"]
    assert len(blobs) == len(cells) + 1 and cells  # an untrained model errs
    per_cell: dict[tuple, int] = {}
    for position, true, predicted in cells:
        assert 0 <= position < 4 and true != predicted and 0 <= true < 10 and 0 <= predicted < 10
        per_cell[(position, true, predicted)] = per_cell.get((position, true, predicted), 0) + 1
    assert max(per_cell.values()) <= 2
    assert all(blob[:8] == b"\x89PNG\r\n\x1a\n" for blob in blobs[1:])


def test_scalars_follow_the_lesson_tag_scheme(trained):
    tags = {e[0] for e in trained["first"] if e[3] == "scalars"}
    for head in ("digit_1", "digit_2", "digit_3", "digit_4"):
        assert f"train/{head}/loss" in tags and f"train/{head}/accuracy" in tags
        assert f"test/{head}/loss" in tags and f"test/{head}/accuracy" in tags
    scheme = {
        "train/loss",
        "train/accuracy",
        "test/loss",
        "test/accuracy",
        "test/sequence_accuracy",
    }
    assert scheme <= tags
    assert {"test/final_accuracy", "test/final_sequence_accuracy"} <= tags
    assert all(tag.startswith(("train/", "test/")) for tag in tags), tags
    # train/accuracy is the heads' mean, as test/accuracy pools the digits
    heads = [_by_tag(trained["first"], f"train/digit_{i}/accuracy")[-1][2] for i in (1, 2, 3, 4)]
    mean = _by_tag(trained["first"], "train/accuracy")[-1][2]
    assert float(mean) == pytest.approx(float(np.mean(heads)), abs=1e-6)
    for name in ("test/sequence_accuracy", "test/accuracy"):
        for _tag, _step, value, *_ in _by_tag(trained["first"], name):
            assert 0.0 <= float(value) <= 1.0


def test_resume_continues_steps_and_epochs(trained):
    state_1, state_2 = trained["states"]
    assert (state_1["epoch"], state_1["step"]) == (1, 3)
    assert (state_2["epoch"], state_2["step"]) == (2, 6)
    first_steps = {e[1] for e in trained["first"]}
    later = trained["later"]
    assert max(first_steps) == 3
    assert later and min(e[1] for e in later if e[0].startswith("train/")) > 3
    steps = sorted(e[1] for e in _by_tag(trained["all"], train.CONFUSION_TAG))
    assert steps == [2, 3, 4, 6]  # step 6 ends an epoch: validated once, not twice
    epochs = sorted(float(e[2]) for e in _by_tag(trained["all"], "train/epoch"))
    assert epochs == [1.0, 2.0]
    run = trained["run"]
    assert (run / "model.keras").is_file()
    spec = json.loads((run / "labels.json").read_text())
    assert spec["classes"] == list("0123456789") and len(spec["positions"]) == 4
    assert spec["image"] == {"height": 60, "width": 160, "channels": 1, "dtype": "uint8"}


def test_evaluate_prints_the_three_accuracies(trained, capsys):
    args = [str(trained["run"]), "--n", "30", "--seed", "9", "--cache-dir",
            str(trained["root"] / "cache"), "--workers", "1"]  # fmt: skip
    assert evaluate.main(args) == 0
    text = capsys.readouterr().out
    assert "per-position accuracy" in text and "digit 4:" in text
    assert "per-digit accuracy" in text and "/120 digits" in text
    assert "whole-captcha accuracy" in text and "/30 captchas" in text

    assert evaluate.main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 30 and set(result["per_position"]) == {f"digit {i}" for i in (1, 2, 3, 4)}
    positions = np.array(list(result["per_position"].values()))
    assert result["digit_accuracy"] == pytest.approx(positions.mean())
    assert 0 <= result["captcha_accuracy"] <= min(positions)


def test_accuracies_on_known_predictions():
    labels = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    predicted = np.array([[1, 2, 3, 4], [5, 6, 0, 8]])
    result = evaluate.accuracies(predicted, labels)
    assert result["captcha_accuracy"] == 0.5
    assert result["digit_accuracy"] == 7 / 8
    assert result["per_position"]["digit 3"] == 0.5
    assert result["per_class"]["7"] == 0.0 and result["per_class"]["0"] is None


def test_missing_model_and_bad_options_are_one_line_errors(tmp_path):
    with pytest.raises(CliError, match="does not exist"):
        evaluate.main([str(tmp_path / "nope")])
    with pytest.raises(CliError, match="--train-size must be >= 1"):
        train.main(["--logdir", str(tmp_path / "r"), "--train-size", "0"])


def test_presets_fill_unset_options():
    course = train._options(["--preset", "course"])
    assert (course.train_size, course.test_size, course.arch) == (9999, 100, "course")
    quick = train._options(["--quick", "--epochs", "5"])
    assert quick.preset == "quick" and quick.epochs == 5 and quick.arch == "lite"
    assert train._options([]).arch == "lite"  # the default (target) preset
    assert train._options(["--arch", "course"]).arch == "course"  # the notes' net stays


@pytest.mark.parametrize("arch,augment", [("course", False), ("fast", True), ("lite", False)])
def test_models_map_gray_images_to_four_softmax_heads(arch, augment):
    from demo_models.captcha import model

    net = model.build(arch, augment=augment)
    out = net(np.zeros((2, 60, 160, 1), np.uint8), training=True)
    assert sorted(out) == ["digit_1", "digit_2", "digit_3", "digit_4"]
    for scores in out.values():
        assert tuple(scores.shape) == (2, 10)
        assert np.allclose(np.asarray(scores).sum(axis=1), 1.0, atol=1e-5)


def test_fresh_training_data_differs_each_epoch_and_is_reproducible():
    args = train._options(["--fresh", "--train-size", "3", "--no-cache", "--workers", "1"])
    first, second = train._train_set(args, 0), train._train_set(args, 1)
    assert first.images.tobytes() != second.images.tobytes()
    assert train._train_set(args, 0).images.tobytes() == first.images.tobytes()
    fixed = train._options(["--train-size", "3", "--no-cache", "--workers", "1"])
    same = train._train_set(fixed, 0), train._train_set(fixed, 5)
    assert same[0].images.tobytes() == same[1].images.tobytes()


def test_tensorboard_finds_no_checkpoint_folder_to_warn_about(trained, tmp_path, caplog):
    # TensorBoard's Projector asks tf.train.latest_checkpoint about every run directory;
    # a folder named `checkpoint` there made it log "Checkpoint ignored" on every reload
    import logging

    import tensorflow as tf

    old_layout = tmp_path / "old"
    (old_layout / "checkpoint").mkdir(parents=True)
    with caplog.at_level(logging.WARNING):
        assert tf.train.latest_checkpoint(str(old_layout)) is None
        assert "Checkpoint ignored" in caplog.text  # what the old layout caused
        caplog.clear()
        assert tf.train.latest_checkpoint(str(trained["run"])) is None
    assert "Checkpoint ignored" not in caplog.text
    assert (trained["run"] / "checkpoints" / train.STATE).is_file()
