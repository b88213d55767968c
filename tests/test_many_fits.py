"""Many fits in one process (issue 26): nothing a SummaryCallback opens outlives `fit` (fit
returning, raising or interrupted; evaluate and predict open nothing), a second fit
continues the run, Keras Tuner searches give each trial its own run and HParams session,
and sweeps without Keras Tuner reach the HParams tab through `summaries.hparams`."""

from __future__ import annotations

import argparse
import copy
import json
import os
import textwrap
import threading
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import run_child, wait_for
from tensorboard.backend import application
from tensorboard.backend.event_processing import (
    data_ingester,
    event_file_loader,
    plugin_event_multiplexer,
)
from tensorboard.backend.event_processing.data_provider import MultiplexerDataProvider
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import hparams_plugin
from werkzeug import test as werkzeug_test

from summaries import SummaryCallback, hparams
from summaries.tuner import SummaryTuner

FITS = 100


def event_tags(run: Path) -> list[tuple[int, str]]:
    """(step, tag) of every summary value in the run's event files, in file order."""
    out = []
    for path in sorted(run.glob("events.out.tfevents.*")):
        for event in event_file_loader.EventFileLoader(str(path)).Load():
            out += [(event.step, value.tag) for value in event.summary.value]
    return out


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "LogWriter"]


def open_files_under(folder: Path) -> list[str]:
    """This process's open file descriptors that point into `folder`."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            out.append(target)
    return out


# ---------------------------------------------------------------------------------------
# nothing outlives fit: 100 fits under a file limit of 64 (4 open after the first fit, so
# one file kept per fit runs out at the 61st), in a child process

CHILD = textwrap.dedent(
    r"""
    import gc, json, os, resource, sys, threading, time

    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))  # this process only
    import keras
    import numpy as np

    from summaries import SummaryCallback

    root, fits = sys.argv[1], int(sys.argv[2])


    def counts():
        return len(os.listdir("/proc/self/fd")), threading.active_count()


    def settle(base, writer, timeout=120.0):
        # wait (gc between polls) until the writer has let its file and thread go and the
        # open files and threads are back at base (+1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            gc.collect()  # Keras's callback executor of a failed fit goes with its frames
            now = counts()
            released = not writer.holds_file and not writer._thread.running
            if released and now[0] <= base[0] + 1 and now[1] <= base[1] + 1:
                return now
            time.sleep(0.1)
        return counts()


    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = rng.integers(0, 2, 32)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    # every part in the first fits; then the writer alone (batch and epoch scalars)
    light = dict(write_graph=False, histogram_freq=0, gradient_freq=0, ratio_freq=0,
                 optimizer_freq=0, confusion_freq=0)
    before = counts()
    seen = []
    for i in range(fits):
        full = i < 3
        model.fit(x, y, epochs=1, batch_size=16, verbose=0,
                  validation_data=(x, y) if full else None,
                  callbacks=[SummaryCallback(f"{root}/r{i}", **({} if full else light))])
        if i == 0:
            base = counts()
        seen.append(counts())
    after = counts()

    callback = SummaryCallback(f"{root}/eval")
    model.evaluate(x, y, verbose=0, callbacks=[callback])
    model.predict(x, verbose=0, callbacks=[callback])
    evaluated = counts()


    class Raise(keras.callbacks.Callback):
        def __init__(self, error):
            super().__init__()
            self.error = error

        def on_epoch_end(self, epoch, logs=None):
            raise self.error


    raised = {}
    for name, error in (("error", RuntimeError("boom")), ("interrupt", KeyboardInterrupt())):
        callback = SummaryCallback(f"{root}/{name}", idle_secs=0.5)
        caught = None
        try:
            model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[callback, Raise(error)])
        except (RuntimeError, KeyboardInterrupt) as exc:
            caught = type(exc).__name__
        writer = callback._writer
        settled = settle(base, writer)
        raised[name] = {"caught": caught, "settled": settled, "holds_file": writer.holds_file,
                        "thread": writer._thread.running}
    print(json.dumps({"before": before, "base": base, "after": after, "seen": seen,
                      "evaluated": evaluated, "raised": raised}))
    """
)


@pytest.mark.slow
def test_many_fits_leave_no_open_files_or_threads(tmp_path):
    result = run_child(CHILD, str(tmp_path), str(FITS), timeout=600)
    print("open files, threads: before", result["before"], "after the first fit", result["base"])
    print(f"after {FITS} fits", result["after"], "evaluate/predict", result["evaluated"])
    print("fits that raised", result["raised"])
    (files, threads) = result["base"]
    for seen_files, seen_threads in result["seen"]:
        assert abs(seen_files - files) <= 1 and abs(seen_threads - threads) <= 1, result["seen"]
    assert abs(result["evaluated"][0] - files) <= 1 and abs(result["evaluated"][1] - threads) <= 1
    # every fit trains the same model 2 steps on: the failed fits come after the others
    for fit, (name, caught) in enumerate(
        (("error", "RuntimeError"), ("interrupt", "KeyboardInterrupt")), FITS + 1
    ):
        state = result["raised"][name]
        assert state["caught"] == caught
        assert not state["holds_file"] and not state["thread"], state
        assert state["settled"][0] <= files + 1 and state["settled"][1] <= threads + 1, state
        # what the failed fit logged reached the file before it was closed
        assert (2 * fit, "epoch/loss") in event_tags(tmp_path / name)
    assert not list((tmp_path / "eval").glob("events.out.tfevents.*"))  # evaluate wrote nothing
    for i in (0, FITS // 2, FITS - 1):
        run = tmp_path / f"r{i}"
        assert len(list(run.glob("events.out.tfevents.*"))) == 1
        # the global step: 2 batches of 16 per fit of the same model
        assert [s for s, t in event_tags(run) if t == "epoch/loss"] == [2 * (i + 1)]
    assert any(t.endswith("/gradients") for _, t in event_tags(tmp_path / "r0"))


def _tiny_model() -> keras.Model:
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="out")])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_a_second_fit_appends_to_the_run_and_each_fit_ends_its_thread(tmp_path):
    model = _tiny_model()
    x = np.random.default_rng(1).random((32, 4)).astype("float32")
    callback = SummaryCallback(tmp_path, write_graph=False, confusion_freq=0)
    model.fit(x, x[:, :2], batch_size=8, epochs=1, verbose=0, callbacks=[callback])
    assert not callback._writer.holds_file and not callback._writer._thread.running
    assert not writer_threads() and not open_files_under(tmp_path)
    model.fit(x, x[:, :2], batch_size=8, epochs=2, initial_epoch=1, verbose=0, callbacks=[callback])
    assert not writer_threads() and not open_files_under(tmp_path)
    files = list(tmp_path.glob("events.out.tfevents.*"))
    assert len(files) == 1  # the second fit appended to the same event file
    tags = event_tags(tmp_path)
    assert [s for s, t in tags if t == "batch/loss"] == list(range(1, 9))  # steps go on
    assert [s for s, t in tags if t == "epoch/loss"] == [4, 8]  # at the steps of the epochs' ends
    callback.close()  # after close(), a fit opens a new event file
    model.fit(x, x[:, :2], batch_size=8, epochs=1, verbose=0, callbacks=[callback])
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 2
    assert not writer_threads() and not open_files_under(tmp_path)


def test_a_callback_deep_copies_to_a_fresh_one_with_the_same_arguments(tmp_path):
    x = np.random.default_rng(2).random((16, 4)).astype("float32")
    callback = SummaryCallback(
        tmp_path / "a", batch_freq=3, buckets=7, hparams={"lr": 0.1}, confusion_freq=0
    )
    _tiny_model().fit(x, x[:, :2], batch_size=8, epochs=1, verbose=0, callbacks=[callback])
    clone = copy.deepcopy(callback)  # after a fit: writer, lock, traced functions
    assert type(clone) is SummaryCallback and clone is not callback
    assert clone._config == callback._config and clone.freqs["batch_freq"] == 3
    assert clone.log_dir == callback.log_dir and clone.hparams == {"lr": 0.1}
    assert clone._writer is None and clone._probe is None and clone._lock is not callback._lock
    [copied] = copy.deepcopy([callback])
    assert copied.buckets == 7

    trial = callback._for_trial(str(tmp_path / "7"), {"units": 4}, "7", [("val_loss", "min")])
    copies = [copy.deepcopy(trial) for _ in range(2)]  # Keras Tuner: one per execution
    assert [Path(c.log_dir).name for c in copies] == ["execution0", "execution1"]
    assert all(c.hparams == {"units": 4} and c._hparams_group == "7" for c in copies)


def test_copied_by_keras_tuner_without_the_mixin_warns(tmp_path):
    callback = SummaryCallback(tmp_path)
    namespace = {"__name__": "keras_tuner.src.engine.tuner", "copy": copy, "cb": callback}
    with pytest.warns(UserWarning, match="SummaryTuner"):
        exec("copy.deepcopy([cb])", namespace)


# ---------------------------------------------------------------------------------------
# the HParams tab, read by TensorBoard's own hparams plugin


class HParamsView:
    """TensorBoard's hparams plugin over `logdir` (Python loader), in this process."""

    def __init__(self, logdir: Path):
        mux = plugin_event_multiplexer.EventMultiplexer(
            size_guidance=data_ingester.DEFAULT_SIZE_GUIDANCE,
            tensor_size_guidance=data_ingester.DEFAULT_TENSOR_SIZE_GUIDANCE,
        )
        mux.AddRunsFromDirectory(str(logdir))
        mux.Reload()
        provider = MultiplexerDataProvider(mux, str(logdir))
        context = base_plugin.TBContext(
            data_provider=provider, logdir=str(logdir), flags=argparse.Namespace()
        )
        app = application.TensorBoardWSGI(
            [hparams_plugin.HParamsPlugin(context)], data_provider=provider
        )
        self.client = werkzeug_test.Client(app)

    def _post(self, route: str, body: dict) -> dict:
        answer = self.client.post(f"/data/plugin/hparams/{route}", data=json.dumps(body))
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return json.loads(answer.get_data())

    def experiment(self) -> dict:
        return self._post("experiment", {"experimentName": ""})

    def groups(self) -> dict[str, dict]:
        """Session groups by name: hparams, {metric tag: value}, sessions."""
        statuses = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]
        body = {"experimentName": "", "allowedStatuses": statuses, "startIndex": 0,
                "sliceSize": 100, "aggregationType": "AGGREGATION_AVG"}  # fmt: skip
        out = {}
        for group in self._post("session_groups", body).get("sessionGroups", []):
            metrics = {m["name"]["tag"]: m["value"] for m in group.get("metricValues", [])}
            out[group["name"]] = {**group, "metrics": metrics}
        return out


def test_a_hand_written_sweep_reaches_the_hparams_tab(tmp_path):
    x = np.random.default_rng(4).random((32, 4)).astype("float32")
    for lr in (0.01, 0.1):
        run = tmp_path / f"lr={lr}"
        callback = SummaryCallback(
            run, hparams={"lr": lr, "optimizer": "sgd"}, write_graph=False, confusion_freq=0
        )
        model = _tiny_model()
        model.optimizer.learning_rate = lr
        model.fit(x, x[:, :2], batch_size=8, epochs=2, verbose=0, callbacks=[callback])
    hparams.log_hparams(
        tmp_path / "numpy-loop", {"lr": 0.5, "optimizer": "adam"}, {"final/loss": 0.25}, step=9
    )
    hparams.log_experiment(
        tmp_path,
        {"lr": [0.01, 0.1, 0.5], "optimizer": ["sgd", "adam"]},
        {"epoch/loss": "loss", "final/loss": "final loss"},
    )
    view = HParamsView(tmp_path)
    experiment = view.experiment()
    assert {h["name"] for h in experiment["hparamInfos"]} == {"lr", "optimizer"}
    assert [m["name"]["tag"] for m in experiment["metricInfos"]] == ["epoch/loss", "final/loss"]
    groups = view.groups()
    by_lr = {g["hparams"]["lr"]: g for g in groups.values()}
    assert set(by_lr) == {0.01, 0.1, 0.5}
    assert by_lr[0.1]["hparams"]["optimizer"] == "sgd" and "epoch/loss" in by_lr[0.1]["metrics"]
    assert by_lr[0.5]["metrics"] == {"final/loss": 0.25}
    assert all(g["sessions"][0]["status"] == "STATUS_SUCCESS" for g in groups.values())


@pytest.mark.parametrize(
    "call, error, needle",
    [
        (lambda: hparams.session_start_pb([1, 2]), TypeError, "hparams"),
        (lambda: hparams.session_start_pb({"lr": [1]}), TypeError, r"hparams\['lr'\]"),
        (lambda: hparams.session_start_pb({"lr": float("nan")}), ValueError, "finite"),
        (lambda: hparams.session_end_pb("done"), ValueError, "status"),
        (lambda: hparams.experiment_pb({"lr": 3}, ["loss"]), TypeError, r"hparams\['lr'\]"),
        (lambda: hparams.experiment_pb({"lr": []}, ["loss"]), ValueError, "at least one"),
        (lambda: hparams.experiment_pb({"lr": None}, "loss"), TypeError, "metrics"),
        (lambda: hparams.log_hparams("/tmp", {"a": 1}, [0.5]), TypeError, "metrics"),
        (lambda: SummaryCallback("/tmp/x", hparams=[("a", 1)]), ValueError, "hparams"),
        (lambda: SummaryCallback("/tmp/x", idle_secs=-1), ValueError, "idle_secs"),
    ],
)
def test_hparams_arguments_are_checked(call, error, needle):
    with pytest.raises(error, match=needle):
        call()


# ---------------------------------------------------------------------------------------
# a real Keras Tuner search


def test_a_keras_tuner_search_gives_each_trial_a_run_and_an_hparams_session(tmp_path):
    kt = pytest.importorskip("keras_tuner")
    rng = np.random.default_rng(0)
    x = rng.random((48, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 48)

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Conv2D(hp.Int("filters", 2, 4, step=2), 3, name="conv"),
                keras.layers.Flatten(),
                keras.layers.Dense(hp.Choice("units", [4, 8]), activation="relu", name="hidden"),
                keras.layers.Dense(3, activation="softmax", name="out"),
            ]
        )
        rate = hp.Float("lr", 1e-3, 1e-1, sampling="log")
        model.compile(
            keras.optimizers.Adam(rate), "sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        return model

    class Search(SummaryTuner, kt.RandomSearch):
        pass

    tuner = Search(
        build,
        objective="val_accuracy",
        max_trials=3,
        directory=str(tmp_path / "kt"),
        project_name="search",
        overwrite=True,
        seed=1,
    )
    logdir = tmp_path / "logs"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tuner.search(x, y, validation_data=(x, y), epochs=2, batch_size=16, verbose=0,
                     callbacks=[SummaryCallback(logdir)])  # fmt: skip
    assert not [w for w in caught if "SummaryTuner" in str(w.message)]  # recognised per trial
    trials = {t.trial_id: t for t in tuner.oracle.trials.values()}
    assert len(trials) == 3 and all(t.status == "COMPLETED" for t in trials.values())
    assert not writer_threads() and not open_files_under(logdir)
    for trial_id in trials:
        tags = {t for _, t in event_tags(logdir / trial_id / "execution0")}
        # every Flowscope part, per trial
        assert {"epoch/val_accuracy", "confusion", "input/images", "hidden/gradient_norm"} <= tags
        assert "hidden/kernel/gradients" in tags and "objective/val_accuracy" in tags

    view = HParamsView(logdir)
    experiment = view.experiment()
    assert {h["name"] for h in experiment["hparamInfos"]} == {"filters", "units", "lr"}
    metrics = {m["name"]["tag"] for m in experiment["metricInfos"]}
    assert {"objective/val_accuracy", "epoch/val_accuracy", "epoch/loss"} <= metrics
    assert not any(m.endswith("/gradient_norm") for m in metrics)  # epoch scalars only
    groups = view.groups()
    assert set(groups) == set(trials)
    for trial_id, trial in trials.items():
        group = groups[trial_id]
        values = trial.hyperparameters.values  # numbers come back as floats
        assert group["hparams"] == pytest.approx({k: float(v) for k, v in values.items()})
        assert group["metrics"]["objective/val_accuracy"] == pytest.approx(trial.score)
        [session] = group["sessions"]
        assert session["name"] == f"{trial_id}/execution0" and session["status"] == "STATUS_SUCCESS"


def test_writer_threads_end_when_a_fit_raises(tmp_path):
    """In this process too (the child above counts them): the thread of a failed fit closes
    the file and ends once idle, and the next fit reopens it."""

    class Raise(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise RuntimeError("boom")

    model = _tiny_model()
    x = np.random.default_rng(5).random((16, 4)).astype("float32")
    callback = SummaryCallback(tmp_path, write_graph=False, confusion_freq=0, idle_secs=0.2)
    with pytest.raises(RuntimeError, match="boom"):
        model.fit(x, x[:, :2], batch_size=8, epochs=2, verbose=0, callbacks=[callback, Raise()])
    wait_for(lambda: not writer_threads() and not open_files_under(tmp_path))
    assert not callback._writer.holds_file
    model.fit(x, x[:, :2], batch_size=8, epochs=1, verbose=0, callbacks=[callback])
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 1
    # the step goes on: the second fit's epoch 0 is not written over the first's
    assert [s for s, t in event_tags(tmp_path) if t == "epoch/loss"] == [2, 4]
