"""Broken data in one run never breaks the others (both loaders)."""

from __future__ import annotations

import errno
import json
import re
import shutil
import uuid

import keras
import numpy as np
import pytest
from conftest import wait_for
from sample_logs import write_confusion, write_race
from tensorboard.compat.proto import event_pb2

from summaries import SummaryCallback, pb, storage
from summaries.position_confusion import confusion_pb


def _event_file(run_dir):
    return next(run_dir.glob("events.out.tfevents.*"))


def test_corrupt_truncated_empty_unknown_version_and_deleted_runs(tmp_path, tensorboard):
    # One TensorBoard per loader for every fault (each start costs seconds).
    logdir = tmp_path / "logs"
    write_race(logdir, race="good")
    write_race(logdir, race="doomed")
    write_confusion(logdir, run="good-confusion")
    # truncated: a copy of a good file cut mid-record
    write_race(logdir, race="truncated")
    for path in (logdir / "truncated").rglob("events.out.tfevents.*"):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    # corrupt: bytes flipped inside a record
    write_confusion(logdir, run="corrupt")
    path = _event_file(logdir / "corrupt")
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 40):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    # empty run directory and an empty event file
    (logdir / "empty").mkdir()
    (logdir / "empty-file").mkdir()
    (logdir / "empty-file" / "events.out.tfevents.0.empty").write_bytes(b"")
    # a summary from a future Flowscope (unknown metadata version)
    summary = confusion_pb(
        "confusion/validation", [[[1, 0], [0, 1]]], positions=["p"], classes=["a", "b"]
    )
    content = json.loads(summary.value[0].metadata.plugin_data.content)
    content["version"] = 99
    summary.value[0].metadata.plugin_data.content = json.dumps(content).encode()
    with pb.LogWriter(str(logdir / "future")) as writer:
        writer.add(summary, step=0)

    board = tensorboard(logdir)
    board.wait_enabled("optimizer_race", "position_confusion")

    def races():
        found = {r["race"]: r for r in board.plugin("optimizer_race", "races")["races"]}
        return found if {"good", "doomed"} <= set(found) else None

    found = wait_for(races)
    assert sorted(r["optimizer"] for r in found["good"]["racers"]) == ["adam", "sgd"]

    def runs():
        listed = {r["run"]: r for r in board.plugin("position_confusion", "runs")["runs"]}
        return listed if {"good-confusion", "future"} <= set(listed) else None

    listed = wait_for(runs)
    assert listed["good-confusion"]["tags"][0]["error"] is None
    assert "version 99" in listed["future"]["tags"][0]["error"]

    # A run deleted while served leaves the listing; the others stay.
    shutil.rmtree(logdir / "doomed")

    def doomed_gone():
        names = [r["race"] for r in board.plugin("optimizer_race", "races")["races"]]
        return "doomed" not in names and "good" in names

    wait_for(doomed_gone, timeout=60)


# -- storage faults while training


def _read_all(logdir: str) -> list[tuple[int, str]]:
    """(step, tag) of every value, read by TensorBoard's loader; a torn or corrupt record
    raises (RawEventFileLoader would only log and stop)."""
    import tensorflow as tf

    out = []
    for path in sorted(tf.io.gfile.glob(f"{logdir}/events.out.tfevents.*")):
        for raw in tf.data.TFRecordDataset(path).as_numpy_iterator():  # raises on DataLoss
            event = event_pb2.Event.FromString(raw)
            out += [(event.step, value.tag) for value in event.summary.value]
    return out


class _Then(keras.callbacks.Callback):
    """At the end of epoch `epoch`: wait for the summary writer, record its fault, then
    call `action` (free the space, give the permission back)."""

    def __init__(self, summary: SummaryCallback, epoch: int, action):
        super().__init__()
        self.summary, self.epoch, self.action, self.fault = summary, epoch, action, None

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.summary._writer.drain()
            self.fault = self.summary._writer.fault
            self.action()


def test_a_full_disk_mid_fit_pauses_logging_and_training_finishes(small_disk):
    disk = small_disk("256k")
    filler = disk / "filler"
    filler.write_bytes(b"x" * (200 << 10))  # ~50 KiB left: a few epochs of summaries
    run = disk / "run"
    then: list[_Then] = []

    def extra(callback):
        then.append(_Then(callback, 5, filler.unlink))
        return then

    with pytest.warns(RuntimeWarning) as caught:
        history, callback = _fit_with(run, 8, extra)
    assert history.model is not None and len(history.history["loss"]) == 8  # fit finished
    messages = [str(w.message) for w in caught if "Flowscope LogWriter" in str(w.message)]
    assert len(messages) == 1, messages  # one warning, naming the path and the error
    assert str(run) in messages[0] and "No space left on device" in messages[0]
    assert then[0].fault is not None and then[0].fault.errno == errno.ENOSPC
    assert callback._writer.fault is None  # resumed once the space was freed
    callback.close()
    tags = _read_all(str(run))  # every record whole
    # none lost (8 batches an epoch: at the global step of each epoch's end)
    assert [s for s, t in tags if t == "epoch/loss"] == list(range(8, 8 * 8 + 1, 8))
    assert [s for s, t in tags if t == "batch/loss"] == list(range(1, 8 * 8 + 1))


class _FailingRemoteFile:
    """A gfile file of the ram:// store whose writes and flushes fail while `down` is set,
    as a remote store that went away (TensorFlow raises UnavailableError)."""

    down = True

    def __init__(self, real):
        self.real = real

    def write(self, data: bytes) -> None:
        self._check()
        self.real.write(data)

    def flush(self) -> None:
        self._check()
        self.real.flush()

    def close(self) -> None:
        self.real.close()

    def _check(self) -> None:
        import tensorflow as tf

        if _FailingRemoteFile.down:
            raise tf.errors.UnavailableError(None, None, "connection reset by the store")


def test_a_failing_remote_store_pauses_logging_and_resumes(monkeypatch):
    real_open = storage.open_remote
    monkeypatch.setattr(
        storage, "open_remote", lambda uri, mode: _FailingRemoteFile(real_open(uri, mode))
    )
    monkeypatch.setattr(_FailingRemoteFile, "down", False)
    run = f"ram://flowscope-faults/{uuid.uuid4().hex[:8]}/run"

    stages: list[_Then] = []

    def extra(callback):
        def store_down():
            _FailingRemoteFile.down = True
            callback._writer.retry_secs = 0  # retry at every flush: many failed files

        def store_back():
            _FailingRemoteFile.down = False

        stages.extend([_Then(callback, 1, store_down), _Then(callback, 4, store_back)])
        return stages

    with pytest.warns(RuntimeWarning) as caught:
        history, callback = _fit_with(run, 7, extra)
    assert len(history.history["loss"]) == 7
    assert history.model is not None and isinstance(callback._writer.path, storage.RemotePath)
    messages = [str(w.message) for w in caught if "Flowscope LogWriter" in str(w.message)]
    assert len(messages) == 1 and run in messages[0] and "connection reset" in messages[0]
    assert stages[0].fault is None and stages[1].fault is not None  # paused while down
    assert callback._writer.fault is None
    callback.close()
    tags = _read_all(run)
    assert [s for s, t in tags if t == "epoch/loss"] == list(range(8, 7 * 8 + 1, 8))
    # the file written before the fault, and the one logging resumed in (a remote file
    # that failed is in an unknown state; files that never took a record are removed)
    first, resumed = [p.name for p in storage.RemotePath(run).glob("events.out.tfevents.*")]
    assert re.fullmatch(re.escape(first) + r"\.\d{4}", resumed), (first, resumed)
    assert [s for s, t in tags if t == "batch/loss"] == list(range(1, 7 * 8 + 1))


def _fit_with(log_dir, epochs: int, extra):
    """A small Keras fit logging through a SummaryCallback into `log_dir`, with the callbacks
    `extra(callback)` makes from it: (history, callback)."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(256, 8)).astype("float32"), rng.integers(0, 3, 256)
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(3)]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    callback = SummaryCallback(str(log_dir), write_graph=False)
    history = model.fit(
        x, y, epochs=epochs, batch_size=32, validation_data=(x[:64], y[:64]), verbose=0,
        callbacks=[callback, *extra(callback)],
    )  # fmt: skip
    return history, callback
