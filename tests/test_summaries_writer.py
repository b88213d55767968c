"""The writer stack without TensorFlow: LogWriter (in place and in the background), the one
background writer thread, and storage faults that pause logging but never end training."""

from __future__ import annotations

import errno
import gc
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import wait_for
from tensorboard.backend.event_processing import event_file_loader

import summaries
from summaries import checks, storage
from summaries import writer as writer_module
from summaries.position_confusion import confusion_pb
from summaries.writer import BackgroundWriter, LogWriter, UnclosedWriterWarning

REPO = Path(__file__).resolve().parents[1]


def events(logdir: Path) -> list[tuple[int, str]]:
    """(step, tag) of every summary value in the run, in file order."""
    out = []
    for path in sorted(logdir.glob("events.out.tfevents.*")):
        for event in event_file_loader.EventFileLoader(str(path)).Load():
            out += [(event.step, value.tag) for value in event.summary.value]
    return out


def matrix(step: int):
    return confusion_pb("m", np.full((1, 2, 2), step), classes=["a", "b"])


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


class HungFile(storage.LocalLogFile):
    """A local event file whose appends hang until `answer` is set (a stalled disk)."""

    def __init__(self, path: Path):
        super().__init__(path)
        self.hung, self.answer = threading.Event(), threading.Event()

    def append(self, data: bytes) -> None:
        self.hung.set()
        # not an OSError (a fault the writer would pause on): a caller that waited here fails
        if not self.answer.wait(60):
            raise AssertionError("the disk never answered: the caller waited for it")
        super().append(data)


def test_background_writes_do_not_wait_for_the_disk(tmp_path):
    # No clock: the disk hangs until the test lets it go, so only a queued write gets past.
    with LogWriter(tmp_path, background=True) as log:
        log.drain()
        log._file.close()
        disk = HungFile(log.path)
        log._file, log._new_file = disk, True
        for step in range(5):
            log.add(matrix(step), step)
            log.flush()  # each flush appends, and the disk does not answer
        # the caller has queued all five while the writer thread waits on the disk
        hung, written = disk.hung.wait(60), events(tmp_path)
        disk.answer.set()  # before asserting: a failed test must not leave the close hanging
        assert hung and written == []
        log.drain()  # waits for the writes
        assert [s for s, _ in events(tmp_path)] == list(range(5))
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


class FlakyFile(storage.LocalLogFile):
    """A local event file whose appends fail with `error` while `failing` is set, as a
    full disk or a lost permission does."""

    def __init__(self, path: Path, error: OSError):
        super().__init__(path)
        self.error, self.failing, self.attempts = error, True, 0

    def append(self, data: bytes) -> None:
        self.attempts += 1
        if self.failing:
            raise self.error
        super().append(data)


FAULTS = {
    "full disk": OSError(errno.ENOSPC, "No space left on device"),
    "lost permission": PermissionError(errno.EACCES, "Permission denied"),
}


def _flaky(log: LogWriter, error: OSError) -> FlakyFile:
    """Swap the writer's (empty, unwritten) file for a failing one at the same path."""
    log.drain()
    log._file.close()
    log._file = flaky = FlakyFile(log.path, error)
    log._new_file = True
    return flaky


@pytest.mark.parametrize("background", [False, True])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_write_fault_warns_once_pauses_and_resumes(tmp_path, background, fault):
    log = LogWriter(tmp_path, background=background, retry_secs=0.05)
    flaky = _flaky(log, FAULTS[fault])
    with pytest.warns(RuntimeWarning, match="logging paused") as caught:
        for step in range(20):  # a training loop that logs and flushes every step goes on
            summaries.write_confusion(
                log, "m", np.ones((1, 2, 2), int), classes=["a", "b"], step=step
            )
            log.flush()
        log.drain()
        assert log.fault is FAULTS[fault]
        # the back-off: 20 flushes in well under a second, far fewer attempts
        assert 1 <= flaky.attempts < 10, flaky.attempts
        flaky.failing = False  # space freed, permission back
        for step in range(20, 25):
            log.add(matrix(step), step)
            log.flush()

        def resumed() -> bool:  # a flush once the back-off (doubled while paused) has passed
            log.flush()
            log.drain()
            return log.fault is None

        wait_for(resumed, timeout=30, interval=0.05)
        log.close()
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1, messages
    assert str(log.path) in messages[0] and FAULTS[fault].strerror in messages[0]
    # nothing was lost: the paused events were kept and written on resume, in order
    assert [s for s, _ in events(tmp_path)] == list(range(25)) and log.dropped == 0


def test_a_long_fault_drops_events_beyond_the_pause_buffer(tmp_path):
    log = LogWriter(tmp_path, retry_secs=60)
    log.max_paused_bytes = 4096
    flaky = _flaky(log, FAULTS["full disk"])
    with pytest.warns(RuntimeWarning, match="logging paused"):
        for step in range(100):
            log.add(matrix(step), step)
            log.flush()
    assert flaky.attempts == 1 and log.dropped > 0  # one try, then the 60 s back-off
    flaky.failing = False
    log.close()  # close tries once more, whatever the back-off
    kept = [s for s, _ in events(tmp_path)]
    assert kept == list(range(100 - log.dropped)) and len(kept) > 5


def test_a_real_full_disk_goes_on_in_a_new_file(tmp_path):
    """/dev/full fails every write with ENOSPC and cannot be truncated back: the writer
    goes on in a new event file, which readers take up after the first."""
    log = LogWriter(tmp_path, background=True, retry_secs=0)
    log.drain()
    log._file.close()
    log._file, log._new_file = storage.LocalLogFile(Path("/dev/full")), True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(5):
            log.add(matrix(step), step)
            log.flush()
        log.close()
    warned = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(warned) == 1 and "No space left" in str(warned[0].message)
    assert log.fault is None and log.path.name.endswith(".0001")
    assert [s for s, _ in events(tmp_path)] == list(range(5))


class TornFile(storage.LocalLogFile):
    """A file whose appends fail and leave it in an unknown state (as a remote object's)."""

    failing = True

    def append(self, data: bytes) -> None:
        if TornFile.failing:
            self.torn = True
            raise OSError(errno.EIO, "Input/output error")
        super().append(data)


def test_a_torn_file_is_left_for_a_new_one_and_empty_ones_are_removed(tmp_path, monkeypatch):
    log = LogWriter(tmp_path, retry_secs=0)
    log.add(matrix(0), 0)
    log.flush()
    monkeypatch.setattr(storage, "open_log", TornFile)
    monkeypatch.setattr(TornFile, "failing", True)
    log._file.torn = True  # as after a failed remote flush: go on in a new file
    with pytest.warns(RuntimeWarning, match="Input/output error"):
        for step in range(1, 6):  # each flush tries a new file, which fails
            log.add(matrix(step), step)
            log.flush()
    TornFile.failing = False
    log.close()
    files = sorted(p.name for p in tmp_path.glob("events.out.tfevents.*"))
    assert len(files) == 2 and files[1] == files[0] + ".0006", files  # .0001-.0005 removed
    assert [s for s, _ in events(tmp_path)] == list(range(6))


def test_a_real_full_tmpfs_pauses_and_resumes_without_a_torn_record(small_disk):
    disk = small_disk("64k")
    filler = disk / "filler"
    filler.write_bytes(b"x" * (56 << 10))
    with pytest.warns(RuntimeWarning, match="No space left on device"):
        with LogWriter(disk / "run", background=True, retry_secs=0) as log:
            for step in range(120):  # 226 bytes per event: the disk fills mid-record
                log.add(matrix(step), step)
                log.flush()
            log.drain()
            assert log.fault is not None and log.fault.errno == errno.ENOSPC
            # what is on the disk now is whole records only, read without an error
            written = [s for s, _ in events(disk / "run")]
            assert 0 < len(written) < 120 and written == list(range(len(written)))
            filler.unlink()  # space freed: the next flush resumes
            log.add(matrix(120), 120)
            log.flush()
            log.drain()
            assert log.fault is None
    assert [s for s, _ in events(disk / "run")] == list(range(121))
    assert len(list((disk / "run").glob("events.out.tfevents.*"))) == 1  # cut back, kept


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


@pytest.mark.parametrize("how", ["with", "close"])
def test_a_background_writer_closed_ends_its_file_and_thread(tmp_path, how):
    if how == "with":
        with LogWriter(tmp_path, background=True) as log:
            log.add(matrix(0), 0)
            thread = log._thread._thread
    else:
        log = LogWriter(tmp_path, background=True)
        log.add(matrix(0), 0)
        thread = log._thread._thread
        log.close()
    assert thread is not None and not thread.is_alive()  # joined
    assert log.closed and not log.holds_file and not open_files_under(tmp_path)
    assert events(tmp_path) == [(0, "m")]


def test_release_ends_file_and_thread_and_the_next_write_appends(tmp_path):
    log = LogWriter(tmp_path, background=True)
    log.add(matrix(0), 0)
    thread = log._thread._thread
    log.release()
    assert not thread.is_alive() and not log._thread.running
    assert not log.holds_file and not open_files_under(tmp_path) and not log.closed
    log.add(matrix(1), 1)
    log.flush()
    log.drain()
    assert log.holds_file  # reopened by the write
    log.close()
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 1  # appended
    assert events(tmp_path) == [(0, "m"), (1, "m")]


def test_an_idle_writer_releases_its_file_and_thread_by_itself(tmp_path):
    log = LogWriter(tmp_path, background=True, idle_secs=0.05)
    for step in range(3):
        log.add(matrix(step), step)
        wait_for(lambda: not log.holds_file and not log._thread.running)
        assert not open_files_under(tmp_path)
        assert [s for s, _ in events(tmp_path)] == list(range(step + 1))  # flushed first
    log.close()
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 1
    with pytest.raises(ValueError, match="idle_secs"):
        LogWriter(tmp_path, idle_secs=1)  # a plain writer has no thread to end it
    with pytest.raises(ValueError, match="idle_secs"):
        LogWriter(tmp_path, background=True, idle_secs=-1)


def test_a_writer_collected_unclosed_is_closed_with_one_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_module, "_warned_unclosed", False)
    threads = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i, background in enumerate([True, False, True]):
            log = LogWriter(tmp_path / f"w{i}", background=background)
            log.add(matrix(i), i)
            log.drain()
            threads.append(log._thread._thread if background else None)
            del log
            gc.collect()
    unclosed = [w for w in caught if issubclass(w.category, UnclosedWriterWarning)]
    assert len(unclosed) == 1, [str(w.message) for w in unclosed]  # once per process
    assert str(tmp_path / "w0") in str(unclosed[0].message)
    for thread in threads:
        if thread is not None:
            thread.join(30)
            assert not thread.is_alive()
    assert not open_files_under(tmp_path)
    for i in range(3):
        assert events(tmp_path / f"w{i}") == [(i, "m")]  # what was buffered is written


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
        from summaries.position_confusion import confusion_pb
        log = pb.LogWriter({str(tmp_path)!r}, background=True)
        for step in range(200):
            log.add(confusion_pb("m", np.ones((1, 2, 2), int), classes=["a", "b"]), step)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [s for s, _ in events(tmp_path)] == list(range(200))
    assert "garbage-collected" not in done.stderr  # no warning for writers left to the exit


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
