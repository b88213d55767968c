"""The lesson demos: MNIST loading, checkpoints that continue step numbers, clear errors.

What every demo writes (graph, scalars, histograms, images, confusion) is checked on the
tour's output in test_tour.py; here are the parts a tour cannot show.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from demo_models import lesson, mnist, notes
from demo_models.runtime import CliError


def write_mnist(path: Path, n_train: int = 64, n_test: int = 24, seed: int = 0) -> Path:
    """A small Keras-format mnist.npz: uint8 [N, 28, 28] images, uint8 labels."""
    rng = np.random.default_rng(seed)
    np.savez(
        path,
        x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, n_train).astype(np.uint8),
        x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, n_test).astype(np.uint8),
    )
    return path


def accumulator(run: Path) -> event_accumulator.EventAccumulator:
    acc = event_accumulator.EventAccumulator(str(run), size_guidance={"tensors": 0})
    acc.Reload()
    return acc


# -- data --------------------------------------------------------------------------------


def test_mnist_npz_is_loaded_scaled_and_named(tmp_path):
    path = write_mnist(tmp_path / "mnist.npz")
    data = mnist.load(path)
    with np.load(path) as raw:
        np.testing.assert_allclose(data.x_train, raw["x_train"] / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(data.y_test, raw["y_test"])
    assert data.x_train.shape == (64, 28, 28) and data.x_train.dtype == np.float32
    assert data.x_test.shape == (24, 28, 28) and data.y_train.dtype == np.int64
    assert data.is_mnist and str(path) in data.source and "64 training / 24 test" in data.source
    assert data.pixels == 784


def test_keras_cache_is_used_when_present(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert not mnist.load().is_mnist  # nothing cached: the offline stand-in
    (tmp_path / "keras" / "datasets").mkdir(parents=True)
    write_mnist(tmp_path / "keras" / "datasets" / "mnist.npz", n_train=10, n_test=5)
    data = mnist.load()
    assert data.is_mnist and len(data.x_train) == 10 and "keras" in data.source


def test_offline_stand_in_says_so_and_looks_like_mnist(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    data = mnist.load()
    assert not data.is_mnist
    assert "scikit-learn" in data.source and "NOT MNIST" in data.source
    assert data.x_train.shape[1:] == (28, 28) and len(data.x_train) + len(data.x_test) == 1797
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    # MNIST's layout: the digit in the centre, a 4-pixel empty border
    assert data.x_train[:, :4].max() == 0 and data.x_train[:, :, -4:].max() == 0
    assert set(np.unique(data.y_train)) == set(range(10))


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x_train": np.zeros((2, 28, 28))}, "missing y_train, x_test, y_test"),
        (
            {
                "x_train": np.zeros((2, 28)),
                "y_train": np.zeros(2),
                "x_test": np.zeros((1, 2, 2)),
                "y_test": np.zeros(1),
            },
            "x_train must be [N, H, W]",
        ),
        (
            {
                "x_train": np.zeros((2, 2, 2)),
                "y_train": np.array([0, 12]),
                "x_test": np.zeros((1, 2, 2)),
                "y_test": np.zeros(1),
            },
            "digits 0..9",
        ),
    ],
)
def test_malformed_npz_is_a_clear_error(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(CliError, match=message.replace("[", r"\[").replace("]", r"\]")):
        mnist.load(path)


def test_missing_or_garbage_file_is_a_clear_error(tmp_path):
    with pytest.raises(CliError, match="no such file"):
        mnist.load(tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(CliError, match="not a readable .npz"):
        mnist.load(tmp_path / "junk.npz")


def test_next_batches_cover_each_epoch_once(tmp_path):
    data = mnist.load(write_mnist(tmp_path / "m.npz", n_train=10))
    batches = data.next_batches(5, seed=1)
    seen = np.concatenate([next(batches)[1] for _ in range(2)])
    assert sorted(seen) == sorted(data.y_train)  # one epoch = every example once


# -- runs: checkpoints, continuing steps, the lesson's graph ------------------------------


# The name scopes of each lesson's graph, as the lesson writes them.
LESSON_SCOPES = {
    "linear": {"model", "loss", "train"},
    "nonlinear": {"input", "layer1/weights", "layer1/Wx_plus_b", "layer1/tanh", "layer2", "loss"},
    "softmax": {
        "input",
        "layer/weights",
        "layer/biases",
        "layer/xw_plus_b",
        "layer/softmax",
        "loss",
        "train",
        "accuracy/correct_prediction",
        "accuracy/accuracy",
    },
    "mlp": {"input", "model/hidden1", "model/hidden2", "model/output", "loss", "train", "accuracy"},
    "regularized": {"input", "layer1", "layer2", "loss", "train", "accuracy"},
    "lenet5": {
        "input",
        "layer1-conv1",
        "layer2-pool1",
        "layer3-conv2",
        "layer4-pool2",
        "layer5-fc1",
        "layer6-fc2",
        "loss",
        "train",
        "accuracy",
    },
}


def graph_scopes(graph_def) -> set[str]:
    """Every name scope of a GraphDef's nodes ('a/b/op' gives 'a' and 'a/b')."""
    scopes = set()
    for node in graph_def.node:
        parts = node.name.split("/")[:-1]
        scopes.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return scopes


def scalar_steps(acc, tag: str) -> list[int]:
    return [event.step for event in acc.Tensors(tag)]


def test_softmax_on_mnist_npz_resumes_with_continuing_steps(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_NO_PROGRESS", "1")
    from demo_models import softmax

    data = write_mnist(tmp_path / "mnist.npz")
    run = tmp_path / "softmax"
    args = ["--mnist", str(data), "--logdir", str(run)]
    assert softmax.main([*args, "--steps", "6"]) == 0
    assert softmax.main([*args, "--steps", "4"]) == 0
    acc = accumulator(run)
    assert scalar_steps(acc, "train/loss") == list(range(10))  # 0..5, then 6..9: no restart
    assert LESSON_SCOPES["softmax"] <= graph_scopes(acc.Graph())
    assert (run / "checkpoints" / "ckpt-10.index").exists()
    texts = [e.tensor_proto.string_val[0].decode() for e in acc.Tensors("about/data")]
    assert all(str(data) in text for text in texts)

    assert softmax.main([*args, "--steps", "2", "--fresh"]) == 0
    assert scalar_steps(accumulator(run), "train/loss") == [0, 1]  # --fresh starts over


def test_regularized_resume_restores_moving_averages_and_learning_rate(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_NO_PROGRESS", "1")
    import tensorflow as tf

    from demo_models import regularized

    data = write_mnist(tmp_path / "mnist.npz", n_train=200)
    run = tmp_path / "reg"
    args = ["--mnist", str(data), "--logdir", str(run)]
    assert regularized.main([*args, "--steps", "5"]) == 0
    first = tf.train.load_checkpoint(str(run / "checkpoints"))
    assert regularized.main([*args, "--steps", "3"]) == 0
    second = tf.train.load_checkpoint(str(run / "checkpoints"))
    names = second.get_variable_to_shape_map()
    step_key = next(k for k in names if k.startswith("step/"))
    iterations = next(k for k in names if "iterations" in k)
    assert first.get_tensor(step_key) == 5 and second.get_tensor(step_key) == 8
    assert second.get_tensor(iterations) == 8  # the decay schedule continues, too
    shadows = [k for k in names if k.startswith("averages/")]
    assert len(shadows) == 4  # w1, b1, w2, b2 moving averages are saved
    acc = accumulator(run)
    rates = {
        e.step: float(tf.make_ndarray(e.tensor_proto)) for e in acc.Tensors("train/learning_rate")
    }
    # 200 examples / 100 per batch: the staircase decays by 0.99 every 2 steps
    base = regularized.LEARNING_RATE_BASE
    assert rates[0] == pytest.approx(base) and rates[7] == pytest.approx(base * 0.99**3)
    assert {"test/accuracy", "test/accuracy_raw_weights"} <= set(acc.Tags()["tensors"])


def test_fresh_refuses_to_delete_a_directory_that_is_not_a_run(tmp_path):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("...")
    with pytest.raises(CliError, match="no TensorBoard event files"):
        lesson.clear_run(precious)
    assert (precious / "chapter1.tex").exists()


def test_demo_with_unwritable_logdir_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = subprocess.run(
        [sys.executable, "-m", "demo_models", "demo", "linear", "--logdir", str(blocker / "x")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("flowscope: error:")
    assert "not writable" in result.stderr and "Traceback" not in result.stderr


# -- lesson notes ---------------------------------------------------------------------------

CJK = re.compile("[\u4e00-\u9fff]")


def test_every_demo_and_race_has_a_note_in_both_languages():
    from demo_models.cli import DEMOS
    from demo_models.tour import NAMES

    assert set(DEMOS) | set(NAMES) <= set(notes.NAMES)
    for name, note in notes.all_notes().items():
        assert note.source in notes.SOURCES, name
        for english, chinese in [
            (note.title_en, note.title_zh),
            (note.en, note.zh),
            *((look.en, look.zh) for look in note.looks),
        ]:
            assert english and not CJK.search(english), (name, english)
            assert CJK.search(chinese), (name, chinese)
        text = note.markdown()
        english_title, chinese_title = notes.SOURCES[note.source]
        assert note.en in text and note.zh in text
        assert english_title in text and chinese_title in text  # the source, by its title
        assert not re.search(r"\d{3}_[0-9a-f]{16}", text)  # never by a hashed file name
        # a tag appears in backticks exactly when a Look names it: the test on the tour's
        # runs checks those tags, so the prose cannot name one that is not checked
        shown = set(re.findall(r"`([^`]+)`", text))
        assert shown == {tag for tags in note.tags().values() for tag in tags}, name
    assert notes.note("race:rosenbrock") == notes.all_notes()["race"]  # no note of its own
    with pytest.raises(ValueError, match="name must be one of"):
        notes.note("nope")
    with pytest.raises(TypeError, match="name must be a string"):
        notes.note(3)


def test_note_is_a_text_summary_for_both_writers(tmp_path):
    """`write` (tf.summary) and `note_pb` (LogWriter, no TensorFlow) give the same summary."""
    import tensorflow as tf

    from summaries.pb import LogWriter

    writer = tf.summary.create_file_writer(str(tmp_path / "tf"))
    notes.write("mlp", step=3, writer=writer)
    writer.close()
    with LogWriter(str(tmp_path / "pb")) as log:
        log.add(notes.note_pb("race:saddle"), step=0)
    for run, name, step in (("tf", "mlp", 3), ("pb", "race:saddle", 0)):
        acc = accumulator(tmp_path / run)
        (event,) = acc.Tensors(notes.TAG)
        assert acc.SummaryMetadata(notes.TAG).plugin_data.plugin_name == "text"
        assert event.step == step
        assert event.tensor_proto.string_val[0].decode() == notes.note(name).markdown()


def test_race_notes_tell_what_the_tours_race_shows():
    """The race notes' claims hold at the tour's settings (RACE_QUICK)."""
    from demo_models.race import cli
    from demo_models.tour import RACE_QUICK

    steps = int(RACE_QUICK[RACE_QUICK.index("--steps") + 1])
    assert "1,000 steps" in notes.note("race:saddle").en and steps == 1000
    names = ["sgd", "momentum", "nag", "adagrad", "rmsprop", "adadelta", "adam"]
    results = cli.run(names, ["saddle", "beale", "linear_regression"], steps)
    got = {
        (r["trajectory"].racer.surface, r["trajectory"].racer.optimizer): r["metrics"]
        for r in results
    }
    saddle = {name: got["saddle", name] for name in names}
    # plain SGD creeps the whole race; momentum escapes later than every adaptive method
    assert saddle["sgd"]["outcome"] == "not_arrived"
    escaped = {n: m["first_entry_step"] for n, m in saddle.items() if m["outcome"] == "escaped"}
    assert set(escaped) == set(names) - {"sgd"}
    adaptive = ["adagrad", "adadelta", "rmsprop", "adam"]
    assert max(escaped[n] for n in adaptive) < min(escaped["momentum"], escaped["nag"])
    # Beale: five arrive, SGD and Adadelta do not
    arrived = {n for n in names if got["beale", n]["outcome"] == "arrived"}
    assert arrived == {"rmsprop", "adam", "adagrad", "momentum", "nag"}
    # the linear-regression bowl: plain SGD settles first
    settled = {n: got["linear_regression", n]["settled_step"] for n in names}
    assert min(settled, key=lambda n: settled[n] if settled[n] is not None else 1e9) == "sgd"
    momentum = got["linear_regression", "momentum"]
    assert momentum["first_entry_step"] < momentum["settled_step"]  # in, out again, settled


def test_notes_quote_the_code():
    """The numbers a note quotes are the code's (a changed recipe must change its note)."""
    from demo_models import lenet5, linear, nonlinear, regularized

    assert f"learning rate {linear.LEARNING_RATE}, {linear.STEPS} steps" in notes.note("linear").en
    assert f"learning rate {nonlinear.LEARNING_RATE})" in notes.note("nonlinear").en
    lenet = notes.note("lenet5")
    quick = lenet5.QUICK_STEPS, lenet5.QUICK_BATCH_SIZE, lenet5.QUICK_LEARNING_RATE
    assert "{} steps of {} at learning rate {}".format(*quick) in lenet.en
    assert "学习率 {2}、每批 {1} 张训练 {0} 步".format(*quick) in lenet.zh
    lesson_recipe = lenet5.TRAINING_STEPS, lenet5.BATCH_SIZE, lenet5.LEARNING_RATE_BASE
    assert "{:,} steps of {} at {}".format(*lesson_recipe) in lenet.en
    from demo_models.captcha.train import PRESETS

    quick = PRESETS["quick"]
    captcha = notes.note("captcha")
    assert f"{quick['epochs']} epochs of {quick['sizes'][0]:,} captchas" in captcha.en
    assert f"{quick['sizes'][0]:,} 张验证码上训练 {quick['epochs']} 个 epoch" in captcha.zh
    reg = notes.note("regularized")
    assert f"decays by {regularized.LEARNING_RATE_DECAY} per" in reg.en
    assert f"(decay {regularized.MOVING_AVERAGE_DECAY})" in reg.en


def guide_tags(guide: str, note: notes.Note, lang: str) -> dict[str, set[str]]:
    """The tags each `  * Tab tag, tag: ...` line of a printed guide names, by tab."""
    head = notes.HEADS[lang]
    found: dict[str, set[str]] = {}
    for line in guide.splitlines():
        tab = next((look.tab for look in note.looks if line.startswith(f"  * {look.tab}")), None)
        if tab is not None:
            where = line.removeprefix(f"  * {tab}").split(head["colon"])[0].strip()
            found.setdefault(tab, set()).update(filter(None, where.split(head["sep"])))
    return found


def test_demo_prints_its_guide_in_the_language_of_lang(tmp_path, monkeypatch, capsys):
    """`flowscope demo linear --lang zh` ends with the lesson's guide in Chinese: what it
    teaches, the tabs and tags to open (tags its run has), the tensorboard command. English
    by default; none with --no-guide (what the tour passes)."""
    from demo_models import cli

    monkeypatch.setenv("FLOWSCOPE_NO_PROGRESS", "1")
    run, note = tmp_path / "my run", notes.note("linear")
    argv = ["demo", "linear", "--logdir", str(run)]
    assert cli.main([*argv, "--steps", "3", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    guide = out[out.index(f"== {note.title_zh} ==") :].strip()
    assert f"本课要点：{note.zh}" in guide
    assert all(look.zh in guide for look in note.looks)
    assert guide.splitlines()[-1].endswith(f"tensorboard --logdir '{run}'")  # quoted: a space
    assert not [text for text in (note.en, *(look.en for look in note.looks)) if text in out]
    shown = guide_tags(guide, note, "zh")
    assert shown == {tab: set(tags) for tab, tags in note.tags().items() if tags}
    have = set(accumulator(run).Tags()["tensors"])
    assert {tag for tags in shown.values() for tag in tags} <= have  # no Graphs look here

    assert cli.main([*argv, "--steps", "1"]) == 0  # resumes; the guide in English
    out = capsys.readouterr().out
    assert f"== {note.title_en} ==" in out and f"What it teaches: {note.en}" in out
    assert not CJK.search(out)
    assert cli.main([*argv, "--steps", "1", "--no-guide"]) == 0
    assert note.title_en not in capsys.readouterr().out
    with pytest.raises(ValueError, match="lang must be one of en, zh, got 'fr'"):
        note.closing("fr", run)


@pytest.mark.slow
def test_quick_lenet5_beats_quick_mlp(tmp_path, monkeypatch):
    """The tour's LeNet-5 ends above its MLP on test/accuracy, as the lesson says a CNN should
    (the offline digits, both in their --quick mode)."""
    monkeypatch.setenv("FLOWSCOPE_NO_PROGRESS", "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no MNIST: the stand-in
    from demo_models import lenet5, mlp

    final = {}
    for name, demo in (("mlp", mlp), ("lenet5", lenet5)):
        assert demo.main(["--quick", "--logdir", str(tmp_path / name)]) == 0
        acc = accumulator(tmp_path / name)
        final[name] = float(tensor_util.make_ndarray(acc.Tensors("test/accuracy")[-1].tensor_proto))
    assert final["lenet5"] >= 0.97 and final["lenet5"] > final["mlp"] + 0.01, final
