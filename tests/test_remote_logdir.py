"""Logdirs that are URIs: every writer goes through tf.io.gfile to where it is pointed
(`ram://`, TensorFlow's in-memory filesystem, standing in for `gs://`; and `file://`), and
TensorBoard's own readers read it back; a scheme nobody knows, or a URI without
TensorFlow, is a clear error before any training."""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import keras  # noqa: E402
import numpy as np
import pytest
import tensorflow as tf  # noqa: E402
from conftest import REPO
from plugin_harness import InProcessBoard
from tensorboard.backend.event_processing import event_file_loader  # noqa: E402

from demo_models.runtime import CliError  # noqa: E402
from summaries import SummaryCallback, checks, storage  # noqa: E402
from summaries.position_confusion import confusion_pb  # noqa: E402
from summaries.writer import LogWriter  # noqa: E402


def ram(name: str) -> str:
    """A fresh ram:// directory (the in-memory filesystem lives as long as the process)."""
    return f"ram://flowscope-tests/{name}-{uuid.uuid4().hex[:8]}"


def event_files(logdir: str) -> list[str]:
    """The run's event files, in the order TensorBoard reads them."""
    return sorted(tf.io.gfile.glob(f"{logdir}/events.out.tfevents.*"))


def events(logdir: str) -> list[tuple[int, str]]:
    """(step, tag) of every summary value, read by TensorBoard's loader (through gfile)."""
    out = []
    for path in event_files(logdir):
        for event in event_file_loader.EventFileLoader(path).Load():
            out += [(event.step, value.tag) for value in event.summary.value]
    return out


def _write_some(log: LogWriter) -> None:
    for step in range(30):
        summary = confusion_pb("m", np.full((1, 2, 2), step), classes=["a", "b"])
        log.add(summary, step, wall_time=1000.0 + step)
        if step % 10 == 0:
            log.flush()


def test_log_writer_writes_the_same_bytes_to_ram_as_to_a_local_file(tmp_path):
    remote = ram("writer")
    with LogWriter(remote) as log:
        assert isinstance(log.path, storage.RemotePath)
        _write_some(log)
    with LogWriter(tmp_path) as local:
        _write_some(local)
    assert not list(Path.cwd().glob("ram:*"))  # never a local folder named "ram:"
    (path,) = event_files(remote)
    remote_bytes = tf.io.gfile.GFile(path, "rb").read()
    local_bytes = local.path.read_bytes()
    # the same records after the first (its wall time is the file's creation time)
    header = 16 + struct.unpack("<Q", local_bytes[:8])[0]  # TFRecord: length, crc, data, crc
    assert remote_bytes[:header] != local_bytes[:header]  # (the test can tell them apart)
    assert remote_bytes[header:] == local_bytes[header:] and len(remote_bytes) > header
    assert events(remote) == [(s, "m") for s in range(30)]


def test_a_file_uri_is_the_local_folder(tmp_path):
    with LogWriter(f"file://{tmp_path}/run") as log:
        log.add_scalars("loss", [1.0, 0.5])
    assert [s for s, _ in events(str(tmp_path / "run"))] == [0, 1]


def test_a_released_remote_writer_goes_on_in_a_new_file():
    """An object store cannot append: after release() (a fit's end) the next write opens a
    successor event file, which sorts after the first, as readers expect."""
    run = ram("release")
    log = LogWriter(run, background=True)
    log.add_scalars("loss", [1.0, 0.5])
    log.release()
    assert not log.holds_file
    log.add_scalars("loss", [0.25], first_step=2)
    log.close()
    files = event_files(run)
    assert len(files) == 2 and files[1].startswith(files[0])
    assert events(run) == [(0, "loss"), (1, "loss"), (2, "loss")]


def test_summary_callback_writes_to_ram_and_the_plugins_read_it():
    logdir = ram("callback")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 3, 64)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    callback = SummaryCallback(f"{logdir}/run", write_graph=False)
    model.fit(x, y, epochs=2, batch_size=16, validation_data=(x, y), verbose=0,
              callbacks=[callback])  # fmt: skip
    callback.close()
    tags = events(f"{logdir}/run")
    assert [s for s, t in tags if t == "epoch/loss"] == [4, 8]  # the global step
    assert [s for s, t in tags if t == "batch/loss"] == list(range(1, 9))
    board = InProcessBoard(logdir)  # TensorBoard's data provider over the ram:// logdir
    runs = board.plugin("position_confusion", "runs")["runs"]
    assert [r["run"] for r in runs] == ["run"] and runs[0]["tags"][0]["error"] is None


def test_a_flowscope_command_writes_to_ram():
    from demo_models.race import cli

    logdir = ram("race")
    argv = f"--steps 10 --surfaces saddle --optimizers sgd adam --logdir {logdir}".split()
    assert cli.main(argv) == 0
    races = InProcessBoard(logdir).plugin("optimizer_race", "races")["races"]
    assert [r["race"] for r in races] == ["race-saddle"]
    assert sorted(r["optimizer"] for r in races[0]["racers"]) == ["adam", "sgd"]


def test_a_lesson_demo_resumes_from_its_remote_checkpoint():
    from demo_models import linear

    logdir = ram("linear")
    assert linear.main(["--steps", "3", "--logdir", logdir]) == 0
    assert linear.main(["--steps", "2", "--logdir", logdir]) == 0  # resumes at step 3
    assert sorted(s for s, t in events(logdir) if t == "train/k") == [0, 1, 2, 3, 4]
    assert tf.io.gfile.glob(f"{logdir}/checkpoints/ckpt-5*")


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda: LogWriter("zz://bucket/run"), r"logdir 'zz://bucket/run'.*zz://.*knows.*gs://"),
        (lambda: SummaryCallback("zz://bucket/run"), r"log_dir 'zz://bucket/run'.*zz://"),
        (lambda: SummaryCallback("ram:/logs/run"), r"log_dir 'ram:/logs/run'.*slash missing"),
        (lambda: checks.check_logdir("s3://bucket/run", "logdir"), r"s3://.*plugin"),
        # a store that cannot be written: the probe write fails before training
        (lambda: SummaryCallback("file:///proc/flowscope/run"), r"log_dir .* is not writable"),
    ],
)
def test_an_unknown_scheme_is_a_value_error_naming_the_argument(make, needle):
    with pytest.raises(ValueError, match=needle):
        make()
    assert not list(Path.cwd().glob("zz:*")) and not list(Path.cwd().glob("ram:*"))


def test_commands_name_their_option():
    from demo_models import linear
    from demo_models.captcha import train
    from demo_models.race import cli

    with pytest.raises(CliError, match="--logdir 'zz://x'"):
        cli.main("--steps 5 --logdir zz://x".split())
    with pytest.raises(CliError, match="--logdir 'zz://x'"):
        linear.main(["--logdir", "zz://x"])
    with pytest.raises(CliError, match="--logdir must be a local path.*saved model"):
        train.main(["--quick", "--logdir", ram("captcha")])


def test_without_tensorflow_local_paths_work_and_uris_are_refused(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["tensorflow"] = None  # TensorFlow cannot be imported
        import numpy as np
        from summaries import pb
        from summaries.position_confusion import confusion_pb
        with pb.LogWriter({str(tmp_path)!r}) as log:
            log.add(confusion_pb("m", np.ones((1, 2, 2), int), classes=["a", "b"]), 0)
        try:
            pb.LogWriter("gs://bucket/run")
        except ValueError as exc:
            print("refused:", exc)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused: logdir 'gs://bucket/run' is a URI" in done.stdout
    assert "TensorFlow cannot be imported" in done.stdout
    assert [s for s, _ in events(str(tmp_path))] == [0]
