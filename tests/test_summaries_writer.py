"""The writer stack without TensorFlow: LogWriter (in place and in the background), the one
background writer thread, and logging faults that must never end training."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_file_loader

import summaries
from summaries import checks, pb
from summaries.writer import BackgroundWriter, LogWriter

REPO = Path(__file__).resolve().parents[1]


def events(logdir: Path) -> list[tuple[int, str]]:
    """(step, tag) of every summary value in the run, in file order."""
    out = []
    for path in sorted(logdir.glob("events.out.tfevents.*")):
        for event in event_file_loader.EventFileLoader(str(path)).Load():
            out += [(event.step, value.tag) for value in event.summary.value]
    return out


def matrix(step: int):
    return pb.confusion_pb("m", np.full((1, 2, 2), step), classes=["a", "b"])


@pytest.mark.parametrize("background", [False, True])
def test_both_modes_write_the_same_events_in_order(tmp_path, background):
    with LogWriter(tmp_path, background=background) as log:
        assert log.background is background
        for step in range(50):
            log.add(matrix(step), step)
        log.add_scalars("loss", [3.0, 2.0, 1.0], first_step=50)
        log.flush()
    assert events(tmp_path) == [(s, "m") for s in range(50)] + [(s, "loss") for s in (50, 51, 52)]
    with pytest.raises(ValueError, match="closed"):
        log.add(matrix(0), 0)


class SlowFile:
    """A file whose writes take `delay` seconds (a slow disk)."""

    def __init__(self, real, delay: float):
        self.real, self.delay, self.closed = real, delay, False

    def write(self, data: bytes) -> int:
        time.sleep(self.delay)
        return self.real.write(data)

    def flush(self) -> None:
        self.real.flush()

    def close(self) -> None:
        self.closed = True
        self.real.close()


def test_background_writes_do_not_wait_for_the_disk(tmp_path):
    with LogWriter(tmp_path, background=True) as log:
        log.drain()
        log._file = SlowFile(log._file, 0.2)
        start = time.perf_counter()
        for step in range(5):
            log.add(matrix(step), step)
        queued = time.perf_counter() - start
        log.drain()  # waits for the writes
        assert time.perf_counter() - start >= 5 * 0.2
    assert queued < 0.2, queued  # five writes of 0.2 s each were only queued
    assert [s for s, _ in events(tmp_path)] == list(range(5))


def test_background_writer_is_bounded_and_ordered():
    writer = BackgroundWriter(max_pending=2)
    gate, done, order = threading.Event(), [], []
    writer.submit(gate.wait)
    writer.submit(order.append, 1)
    third = threading.Thread(target=lambda: (writer.submit(order.append, 2), done.append(1)))
    third.start()
    time.sleep(0.3)
    assert done == []  # two jobs unfinished: the third waits for a slot
    gate.set()
    third.join(5)
    writer.drain()
    assert done == [1] and order == [1, 2]
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.submit(order.append, 3)


def test_a_failed_job_is_raised_on_the_callers_thread():
    writer = BackgroundWriter()

    def boom() -> None:
        raise KeyError("bug in a job")

    ran = []
    writer.submit(boom)
    writer.submit(ran.append, "later jobs still run")
    with pytest.raises(KeyError, match="bug in a job"):
        writer.drain()
    assert ran == ["later jobs still run"]
    writer.close()


class BrokenFile:
    """A file whose writes fail like a lost file system (`error` is raised)."""

    def __init__(self, error: OSError):
        self.error, self.closed, self.writes = error, False, 0

    def write(self, data: bytes) -> int:
        self.writes += 1
        raise self.error

    def flush(self) -> None:
        raise self.error

    def close(self) -> None:
        self.closed = True


FAULTS = {
    "full disk": OSError(errno.ENOSPC, "No space left on device"),
    "lost permission": PermissionError(errno.EACCES, "Permission denied"),
}


@pytest.mark.parametrize("background", [False, True])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_write_fault_warns_once_and_logging_stops(tmp_path, background, fault):
    log = LogWriter(tmp_path, background=background)
    log.drain()
    log._file.close()
    log._file = broken = BrokenFile(FAULTS[fault])
    with pytest.warns(RuntimeWarning, match="logging stopped") as caught:
        for step in range(20):  # a training loop that logs every step goes on
            summaries.write_confusion(
                log, "m", np.ones((1, 2, 2), int), classes=["a", "b"], step=step
            )
        log.flush()
        log.close()
    assert len([w for w in caught if "logging stopped" in str(w.message)]) == 1
    assert log.fault is FAULTS[fault] and broken.writes == 1  # nothing more was tried


def test_a_real_full_disk(tmp_path):
    """/dev/full fails every flush with ENOSPC, as a full disk does."""
    log = LogWriter(tmp_path, background=True)
    log.drain()
    log._file.close()
    log._file = open("/dev/full", "wb")  # noqa: SIM115 (the writer closes it)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(5):
            log.add(matrix(step), step)
            log.flush()
        log.close()
    assert log.fault is not None and log.fault.errno == errno.ENOSPC
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1


def test_unwritable_logdir_is_refused_before_anything_runs(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ValueError, match="logdir"):
        LogWriter(blocker / "run", background=True)
    with pytest.raises(TypeError, match="background"):
        LogWriter(tmp_path, background="yes")


def test_queued_events_reach_the_file_at_exit_without_close(tmp_path):
    script = textwrap.dedent(
        f"""
        import numpy as np
        from summaries import pb
        log = pb.LogWriter({str(tmp_path)!r}, background=True)
        for step in range(200):
            log.add(pb.confusion_pb("m", np.ones((1, 2, 2), int), classes=["a", "b"]), step)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [s for s, _ in events(tmp_path)] == list(range(200))


CHECKS = [
    (lambda: checks.check_tag("a//b"), ValueError, "name"),
    (lambda: checks.check_tag(3, "tag"), TypeError, "tag"),
    (lambda: checks.check_count("chunk", 0), ValueError, "chunk"),
    (lambda: checks.check_count("chunk", 1.5), TypeError, "chunk"),
    (lambda: checks.check_step(-1), ValueError, "step"),
    (lambda: checks.check_step("7"), TypeError, "step"),
    (lambda: checks.check_step(None), TypeError, "step"),
    (lambda: checks.check_names("classes", "abc"), TypeError, "classes"),
    (lambda: checks.check_names("positions", ["a"], 2), ValueError, "positions"),
    (lambda: checks.check_window([0, 1, 1, 0]), ValueError, "window"),
    (lambda: checks.check_window(None), TypeError, "window"),
    (lambda: checks.check_counts(np.zeros((2, 3))), ValueError, "counts"),
    (lambda: checks.check_writer(object()), TypeError, "writer"),
    (lambda: checks.check_buckets(0), ValueError, "buckets"),
]


@pytest.mark.parametrize("call, error, needle", CHECKS)
def test_each_check_names_its_argument(call, error, needle):
    with pytest.raises(error, match=needle):
        call()


def test_type_errors_are_value_errors_too():
    """Callers that catch ValueError for any bad argument (SummaryCallback's documented
    contract) catch the type errors as well."""
    with pytest.raises(ValueError, match="step"):
        checks.check_step(1.5)
    assert checks.check_step(np.int64(3)) == 3 and checks.check_step(None, optional=True) is None
