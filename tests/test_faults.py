"""Broken data in one run never breaks the others (both loaders)."""

from __future__ import annotations

import json
import shutil

from conftest import wait_for
from sample_logs import write_confusion, write_race

from summaries import pb


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
    for run_dir in (logdir / "truncated").iterdir():
        data = _event_file(run_dir).read_bytes()
        _event_file(run_dir).write_bytes(data[: len(data) // 2])
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
    summary = pb.confusion_pb(
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
