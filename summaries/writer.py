"""Event files without TensorFlow: `LogWriter` and the one background writer thread.

TensorBoard's own `EventFileWriter` imports TensorFlow whenever it is installed (for
`tf.io.gfile`), which costs a PyTorch or numpy loop seconds and hundreds of MB; `LogWriter`
frames TFRecords itself (`summaries.records`) into a plain local file, or through
`tf.io.gfile` for a URI logdir such as ``gs://bucket/run`` (`summaries.storage`; TensorFlow
is imported for URIs only).

`LogWriter(logdir, background=True)` hands every write to a `BackgroundWriter`: one thread
that runs jobs in order, with a bounded queue, so a training loop never waits on file I/O
unless the disk falls behind by `max_pending` jobs. `SummaryCallback` runs its summary
work on the same thread through `LogWriter.submit`. Nothing lingers: `close()` (or a
``with`` block) ends the file and the thread, `release()` ends them until the next write
(which reopens the file and appends), `idle_secs` makes the thread release them by itself
when idle, and a writer garbage-collected unclosed is closed then, with a warning.

A logging fault never ends training. Records are held in memory between flushes and
appended whole; when an append or flush fails (a full disk, a lost permission, a remote
store that went away) the file is cut back to its last whole record (or, where that is
not possible, the writer goes on in a new event file), the writer warns once, keeps the
error in `LogWriter.fault` and pauses: later events are kept (up to `max_paused_bytes`,
then dropped and counted in `dropped`) and the write is retried with a back-off from
`retry_secs` up to `max_retry_secs`; when it succeeds, logging resumes. Other errors in a
background job (bugs) are raised on the caller's thread at its next call.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import socket
import threading
import time
import uuid
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2, types_pb2

from summaries import checks, records, storage

# Background jobs a LogWriter queues before `add` waits for the oldest one.
DEFAULT_MAX_PENDING = 256
# An idle time beyond this is no idle time (a queue wait takes at most a few years)
_FOREVER = 1e8

_log = logging.getLogger(__name__)

_OPEN: weakref.WeakSet[LogWriter] = weakref.WeakSet()
# set by the atexit hook: writers collected at shutdown are closed without a warning
_EXITING = False
_warned_unclosed = False


class UnclosedWriterWarning(UserWarning):
    """A `LogWriter` was garbage-collected while it held an open event file or a thread."""


def _weak_call(owner: Any, method: str) -> Callable[[], None]:
    """`owner.method()` while `owner` lives, without keeping it alive (a thread's hook)."""
    ref = weakref.ref(owner)

    def call() -> None:
        target = ref()
        if target is not None:
            getattr(target, method)()

    return call


class _WriterThread(threading.Thread):
    """A `BackgroundWriter`'s thread; `owner` tells its jobs apart from other threads."""

    def __init__(self, owner: BackgroundWriter, previous: threading.Thread | None):
        super().__init__(target=owner._run, args=(previous,), name=owner._name, daemon=True)
        self.owner = owner


class BackgroundWriter:
    """One thread that runs jobs one at a time, in the order they were submitted.

    At most `max_pending` jobs are unfinished at once: `submit` waits for the oldest
    beyond that (so a slow disk cannot pile captured data up in memory). An exception in a
    job is raised on the caller's thread by the next `submit`, `drain` or `close`.

    The thread starts at the first `submit`. With `idle_secs`, it ends by itself once it has
    waited that long with no job queued, after calling `on_idle` (on the thread, with
    nothing else running); the next `submit` starts a new thread. `stop` ends it now;
    `close` ends it for good.
    """

    def __init__(
        self,
        max_pending: int = 4,
        name: str = "flowscope-writer",
        *,
        idle_secs: float | None = None,
        on_idle: Callable[[], Any] | None = None,
    ):
        self.max_pending = checks.check_count("max_pending", max_pending)
        if idle_secs is not None:
            idle_secs = checks.check_secs("idle_secs", idle_secs)
        # None (or infinity): the thread waits for jobs until stopped
        self.idle_secs = idle_secs if idle_secs is not None and idle_secs < _FOREVER else None
        self._on_idle = on_idle
        self._name = name
        self._slots = threading.BoundedSemaphore(self.max_pending)
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._idle = threading.Condition()  # guards _unfinished, _thread and _ending
        self._unfinished = 0
        self._errors: list[BaseException] = []
        self._thread: _WriterThread | None = None
        self._ending: threading.Thread | None = None  # a thread on its way out
        self._closed = False

    @property
    def running(self) -> bool:
        """Whether a writer thread is alive (running a job, waiting for one or ending)."""
        threads = (self._thread, self._ending)
        return any(thread is not None and thread.is_alive() for thread in threads)

    def on_thread(self) -> bool:
        """Whether the caller is this writer's thread (its jobs may write directly)."""
        thread = threading.current_thread()
        return isinstance(thread, _WriterThread) and thread.owner is self

    def submit(self, job: Callable[..., Any], *args: Any) -> None:
        """Queue `job(*args)`; raise the first failure of an earlier job, if any."""
        if self._closed:
            raise ValueError("writer is closed")
        self._raise_errors()
        if self.on_thread():  # a job queuing more work runs it in place (no self-wait)
            job(*args)
            return
        self._slots.acquire()
        try:
            with self._idle:
                if self._closed:
                    raise ValueError("writer is closed")
                if self._thread is None:
                    # A daemon thread: an atexit hook drains it, and it never blocks a crash
                    # exit. It waits for the thread before it (ending after idling) first.
                    self._thread = _WriterThread(self, self._ending)
                    self._thread.start()
                self._unfinished += 1
                self._jobs.put((job, args))
        except BaseException:
            self._slots.release()
            raise

    def drain(self) -> None:
        """Wait until every queued job has run; raise the first failure, if any."""
        if not self.on_thread():
            with self._idle:
                self._idle.wait_for(lambda: self._unfinished == 0)
        self._raise_errors()

    def stop(self) -> None:
        """Run what is queued, then end the thread and wait for it (raising the first
        failure, if any); a later `submit` starts a new one."""
        try:
            self.drain()
        finally:
            self._end_thread()

    def close(self) -> None:
        """Run what is queued, then stop the thread (raising the first failure, if any)."""
        if self._closed:
            return
        try:
            self.drain()
        finally:
            self._closed = True
            self._end_thread()

    def abandon(self) -> None:
        """Let the thread end after the job it is running, without waiting (for a
        finaliser, which may run on any thread); later submits are refused."""
        self._closed = True
        with self._idle:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._jobs.put(None)
                self._ending = thread

    def _end_thread(self) -> None:
        with self._idle:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._jobs.put(None)
                self._ending = thread
            ending = self._ending
        if ending is not None and ending is not threading.current_thread():
            ending.join()

    def _raise_errors(self) -> None:
        if self._errors:
            error = self._errors.pop(0)
            raise error

    def _run(self, previous: threading.Thread | None) -> None:
        if previous is not None:
            previous.join()  # it may still be in on_idle
        while True:
            try:
                item = self._jobs.get(timeout=self.idle_secs)
            except queue.Empty:
                with self._idle:
                    if self._unfinished or self._thread is not threading.current_thread():
                        continue  # a job was queued meanwhile, or the sentinel is coming
                    self._thread, self._ending = None, threading.current_thread()
                if self._on_idle is not None:
                    try:
                        self._on_idle()
                    except BaseException as exc:  # raised on the caller's thread instead
                        self._errors.append(exc)
                return
            if item is None:
                return
            job, args = item
            try:
                job(*args)
            except BaseException as exc:  # raised on the caller's thread instead
                self._errors.append(exc)
            finally:
                del job, args, item  # free captured data before waiting for the next job
                self._slots.release()
                with self._idle:
                    self._unfinished -= 1
                    self._idle.notify_all()


class LogWriter:
    """Writes Summary protos to a new event file in `logdir`, without TensorFlow.

    `logdir` is a local path (plain file I/O) or a URI such as ``gs://bucket/run``, written
    through tf.io.gfile (`summaries.storage`). With `background=True` the framing and file
    writes run on a `BackgroundWriter` thread (at most `max_pending` queued jobs);
    otherwise on the caller's thread. Either way a failed write never raises: it warns
    once, pauses logging and retries (see `fault`).

    `close()` (or leaving a ``with`` block) writes what is queued, closes the file and ends
    the thread. `release()` does the same but leaves the writer usable: the next write
    reopens the file, appending to it (a URI logdir goes on in a new event file, as object
    stores cannot append). With `idle_secs` (background only) the thread releases the writer
    by itself once it has been idle that long, so no file or thread outlives a loop that
    stopped without closing. A writer garbage-collected while it still holds its file or
    thread is closed then, with an `UnclosedWriterWarning` (once per process).
    """

    #: the longest wait between two retries after a fault, in seconds
    max_retry_secs = 60.0
    # warn when collected unclosed (an owner that relies on idle_secs switches it off)
    _gc_warning = True
    #: pending bytes held while logging is paused; events beyond it are dropped (`dropped`)
    max_paused_bytes = 32 << 20

    def __init__(
        self,
        logdir: Any,
        flush_secs: float = 10,
        *,
        background: bool = False,
        max_pending: int = DEFAULT_MAX_PENDING,
        retry_secs: float = 1.0,
        idle_secs: float | None = None,
    ):
        directory = checks.check_logdir(logdir, "logdir")
        flush_secs = checks.check_secs("flush_secs", flush_secs)
        retry_secs = checks.check_secs("retry_secs", retry_secs)
        checks.check_flag("background", background)
        if idle_secs is not None:
            idle_secs = checks.check_secs("idle_secs", idle_secs)
            if not background:
                raise ValueError("idle_secs needs background=True (the writer thread ends it)")
        host, pid, unique = socket.gethostname(), os.getpid(), uuid.uuid4().hex[:8]
        name = f"events.out.tfevents.{int(time.time()):010d}.{host}.{pid}.{unique}"
        #: the event file being written (a successor gets a numbered suffix, see `_open`)
        self.path = directory / name
        self._base = self.path
        self._files = 0
        #: the OSError that paused logging, or None while writes succeed
        self.fault: OSError | None = None
        #: events dropped because the store failed for longer than the pause buffer lasts
        self.dropped = 0
        self._warned = False
        self._unwarned: tuple[Any, OSError] | None = None  # the first fault, until warned
        self._closed = False
        self._flush_secs = float(flush_secs)
        #: the first wait before a retry after a fault (doubled up to `max_retry_secs`)
        self.retry_secs = float(retry_secs)
        self._backoff = 0.0
        self._retry_at = 0.0
        self._last_flush = time.monotonic()
        self._thread = None
        if background:
            on_idle = _weak_call(self, "_on_idle")  # the thread must not keep `self` alive
            self._thread = BackgroundWriter(
                max_pending, "LogWriter", idle_secs=idle_secs, on_idle=on_idle
            )
        # Whole framed records not yet in the file: appended at flushes, kept while paused.
        self._pending = bytearray()
        # the framed record every event file starts with
        self._header = records.record(
            event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString()
        )
        self._file: storage.LogFile | None = None
        self._new_file = True
        self._append_on_reopen = True  # whether a released file may be appended to
        self._flushed = False  # whether a flush of the current file has succeeded
        self._file = storage.open_log(self.path)  # an unwritable store raises here, once
        self.flush()
        _OPEN.add(self)

    @property
    def background(self) -> bool:
        """Whether writes run on the writer thread."""
        return self._thread is not None

    # -- queueing ---------------------------------------------------------------------------

    def submit(self, job: Callable[..., Any], *args: Any) -> None:
        """Run `job(*args)` after everything queued before it: on the writer thread when
        `background`, else now. Jobs may call this writer's methods."""
        self._check_open()
        if self._thread is None:
            job(*args)
        else:
            self._thread.submit(job, *args)

    def drain(self) -> None:
        """Wait until every queued write and job has run (background writers)."""
        if self._thread is not None:
            self._thread.drain()
        self._warn_fault()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("writer is closed")
        self._warn_fault()

    def _append(self, events: Sequence[bytes]) -> None:
        """Frame serialized Events as TFRecords, on the writer thread when there is one."""
        self._check_open()
        if self._thread is None or self._thread.on_thread():
            self._write(events)
        else:
            self._thread.submit(self._write, events)

    # -- file I/O (the writer thread when background) --------------------------------------

    def _write(self, events: Sequence[bytes]) -> None:
        data = records.records(events)
        if self.fault is not None and len(self._pending) + len(data) > self.max_paused_bytes:
            self.dropped += len(events)  # paused for long: memory stays bounded
            return
        self._pending += data
        due = time.monotonic() - self._last_flush >= self._flush_secs
        if due or len(self._pending) >= self._file_buffer():
            self._flush_now()

    def _file_buffer(self) -> int:
        return storage.LogFile.buffer_bytes if self._file is None else self._file.buffer_bytes

    def _flush_now(self, retry: bool = False) -> None:
        """Append the pending records and flush; on a fault, pause until the back-off ends
        (`retry` tries at once)."""
        self._last_flush = time.monotonic()
        if self._file is None and not self._pending:
            return  # released (or a new file failed to open): nothing to write yet
        if self.fault is not None and not retry and time.monotonic() < self._retry_at:
            return
        try:
            if self._file is None:
                self._reopen()
            elif self._file.torn:
                self._open()
            data = self._header + self._pending if self._new_file else self._pending
            if data:
                self._file.append(bytes(data))
                self._new_file = False
            self._file.flush()
        except OSError as exc:
            self._pause(exc)  # the records stay pending: whole, for the retry
            return
        self._pending.clear()
        self._flushed = True
        if self.fault is not None:
            self._resume()

    def _open(self) -> None:
        """Go on in a new event file: the last one may end in a partial record."""
        if self._file is not None:
            old, self._file = self._file, None
            with contextlib.suppress(OSError):
                old.close()
                if not self._flushed:  # an abandoned file that never took a record
                    self.path.unlink()
        self._files += 1
        self._flushed = False
        # the base name plus a suffix sorts after the files before it, as readers expect
        self.path = self._base.parent / f"{self._base.name}.{self._files:04d}"
        self._new_file = True
        self._file = storage.open_log(self.path)

    def _reopen(self) -> None:
        """Go on after a release: append to the file where the store allows it (a local
        file that ends in a whole record), else in a new event file."""
        if isinstance(self.path, storage.RemotePath) or not self._append_on_reopen:
            self._open()
            return
        self._file = storage.open_log(self.path, append=True)
        self._new_file = self._file.size == 0  # an empty file still needs its header

    def _release_file(self) -> None:
        """Flush and close the file until the next write (the writer thread, if any, idle)."""
        self._flush_now(retry=True)  # one last try, whatever the back-off
        if self._file is not None:
            file, self._file = self._file, None
            self._append_on_reopen = not file.torn
            try:
                file.close()
            except OSError as exc:
                self._pause(exc)

    def _on_idle(self) -> None:
        """The writer thread, idle for `idle_secs`: release the file before it ends."""
        if not self._closed:
            self._release_file()

    def _pause(self, exc: OSError) -> None:
        """Stop writing until the back-off ends; warn once (on the caller's thread)."""
        first = self.fault is None
        self.fault = exc
        self._backoff = min(self.max_retry_secs, max(self.retry_secs, 2 * self._backoff))
        self._retry_at = time.monotonic() + self._backoff
        if first and not self._warned and self._unwarned is None:
            # warned on the caller's thread, even if a retry succeeds before it looks
            self._unwarned = (self.path, exc)
        if first and self._warned:  # a later fault: the warning has been given
            _log.warning(
                "Flowscope LogWriter: writing %s failed again (%s); logging paused",
                self.path,
                exc.strerror or exc,
            )
        self._warn_fault()

    def _resume(self) -> None:
        _log.warning(
            "Flowscope LogWriter: writing %s works again; logging resumed "
            "(%d events dropped while paused)",
            self.path,
            self.dropped,
        )
        self.fault = None
        self._backoff = 0.0

    def _close_now(self) -> None:
        self._release_file()
        if self._pending:
            _log.warning(
                "Flowscope LogWriter: %d bytes of events could not be written to %s",
                len(self._pending),
                self.path,
            )
            self._pending.clear()

    def _warn_fault(self) -> None:
        """Warn once, on the caller's thread (the writer thread's fault waits for it)."""
        if self._thread is not None and self._thread.on_thread():
            return
        if self._unwarned is not None and not self._warned:
            self._warned = True
            path, fault = self._unwarned
            warnings.warn(
                f"Flowscope LogWriter: writing {path} failed "
                f"({fault.strerror or fault}); logging paused and retried, training goes on",
                RuntimeWarning,
                stacklevel=4,
            )

    # -- public writes ---------------------------------------------------------------------

    def add(self, summary: summary_pb2.Summary, step: int, wall_time: float | None = None) -> None:
        """Append one event holding `summary` at `step`."""
        walls = None if wall_time is None else [wall_time]
        self.add_serialized([summary.SerializeToString()], [step], walls)

    def add_serialized(
        self,
        summaries: Sequence[bytes],
        steps: Sequence[int],
        wall_times: Sequence[float] | None = None,
    ) -> None:
        """Append one event per serialized Summary: summaries[i] at steps[i] (at
        wall_times[i], else now). For callers that build Summary bytes in bulk."""
        if len(summaries) != len(steps) or (
            wall_times is not None and len(wall_times) != len(steps)
        ):
            raise ValueError("summaries, steps and wall_times must have the same length")
        now = time.time()
        walls = [now] * len(steps) if wall_times is None else [float(w) for w in wall_times]
        self._append(
            [
                records.summary_event(blob, step, wall)
                for blob, step, wall in zip(summaries, steps, walls, strict=True)
            ]
        )

    def add_graph(self, graph_def: bytes) -> None:
        """Append the event holding a serialized GraphDef (TensorBoard's Graphs tab)."""
        event = event_pb2.Event(wall_time=time.time(), graph_def=graph_def)
        self._append([event.SerializeToString()])

    def add_scalars(self, tag: str, values: Sequence[float], first_step: int = 0) -> None:
        """One scalar event per step from `first_step` (TensorBoard's scalar layout)."""
        from tensorboard.plugins.scalar import metadata

        meta = metadata.create_summary_metadata(display_name=tag, description="")
        meta.data_class = summary_pb2.DATA_CLASS_SCALAR
        now = time.time()
        events = []
        for i, value in enumerate(np.asarray(values, dtype=np.float32).tolist()):
            event = event_pb2.Event(step=first_step + i, wall_time=now)
            entry = event.summary.value.add(tag=tag)
            if i == 0:  # TensorBoard keeps the first metadata of a series
                entry.metadata.CopyFrom(meta)
            entry.tensor.dtype = types_pb2.DT_FLOAT
            entry.tensor.float_val.append(value)
            events.append(event.SerializeToString())
        self._append(events)
        self.flush()

    def flush(self, retry: bool = False) -> None:
        """Write buffered events to the file (queued after earlier writes when background).
        While logging is paused by a fault, a flush retries once the back-off has passed;
        `retry=True` retries now."""
        if self._closed:
            return
        if self._thread is None or self._thread.on_thread():
            self._flush_now(retry)
        else:
            self._thread.submit(self._flush_now, retry)
        self._warn_fault()

    @property
    def closed(self) -> bool:
        """Whether `close()` has run (a released writer is not closed)."""
        return self._closed

    @property
    def holds_file(self) -> bool:
        """Whether the event file is open now (False once released or closed)."""
        return self._file is not None

    def release(self) -> None:
        """Write everything queued, close the file and end the writer thread (waiting for
        it); the writer stays usable: the next write reopens the file (appending) and
        starts the thread again."""
        self._check_open()
        try:
            if self._thread is not None:
                self._thread.stop()  # queued jobs may still write
        finally:
            self._release_file()
        self._warn_fault()

    def close(self) -> None:
        """Write everything queued, close the file and stop the writer thread."""
        if self._closed:
            return
        _OPEN.discard(self)
        try:
            if self._thread is not None:
                self._thread.drain()  # queued jobs may still write
        finally:
            self._closed = True
            if self._thread is not None:
                self._thread.close()
            self._close_now()
        self._warn_fault()

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        # Garbage-collected unclosed: close now; warn (once) if that still freed something.
        if self.__dict__.get("_closed", True):
            return  # closed, or never fully made
        try:
            thread = self._thread
            held = self._file is not None or bool(self._pending)
            held = held or (thread is not None and thread.running)
            if thread is not None:
                thread.abandon()
            self._closed = True
            self._close_now()
            if held and self._gc_warning and not _EXITING:
                _warn_unclosed(self.path)
        except Exception:  # noqa: S110 (a finaliser must not raise; interpreter may be ending)
            pass


def _warn_unclosed(path: Any) -> None:
    global _warned_unclosed
    if _warned_unclosed:
        return
    _warned_unclosed = True
    warnings.warn(
        f"a summaries LogWriter writing to {path} was garbage-collected without close(); "
        "its event file is closed now. Close writers (or use `with LogWriter(...)`) so that "
        "no file or thread waits for the garbage collector (warned once per process)",
        UnclosedWriterWarning,
        stacklevel=2,
    )


@atexit.register
def _flush_open_writers() -> None:
    """At exit, events still queued or buffered reach their files."""
    global _EXITING
    _EXITING = True
    for writer in list(_OPEN):
        try:
            if writer._closed:
                continue
            if writer._thread is not None and writer._thread.running:
                writer._thread.submit(writer._flush_now)
                writer._thread.drain()
            else:  # no thread (or a released writer's ended one): nothing queued
                writer._flush_now()
        except Exception:  # noqa: S112 (one writer's failure must not stop the others)
            continue
