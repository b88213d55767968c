"""Event files without TensorFlow: `LogWriter` and the one background writer thread.

TensorBoard's own `EventFileWriter` imports TensorFlow whenever it is installed (for
`tf.io.gfile`), which costs a PyTorch or numpy loop seconds and hundreds of MB; `LogWriter`
frames TFRecords itself (`summaries.records`) into a plain local file.

`LogWriter(logdir, background=True)` hands every write to a `BackgroundWriter`: one thread
that runs jobs in order, with a bounded queue, so a training loop never waits on file I/O
unless the disk falls behind by `max_pending` jobs. `SummaryCallback` runs its summary
work on the same thread through `LogWriter.submit`.

A logging fault never ends training: when a write or flush fails (full disk, a file
system that went away...), the writer warns once, keeps the error in `LogWriter.fault` and
drops later writes; training goes on. Other errors in a background job (bugs) are raised
on the caller's thread at its next call.
"""

from __future__ import annotations

import atexit
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

from summaries import checks, records

# Background jobs a LogWriter queues before `add` waits for the oldest one.
DEFAULT_MAX_PENDING = 256

_OPEN: weakref.WeakSet[LogWriter] = weakref.WeakSet()


class BackgroundWriter:
    """One thread that runs jobs one at a time, in the order they were submitted.

    At most `max_pending` jobs are unfinished at once: `submit` waits for the oldest
    beyond that (so a slow disk cannot pile captured data up in memory). An exception in a
    job is raised on the caller's thread by the next `submit`, `drain` or `close`.
    """

    def __init__(self, max_pending: int = 4, name: str = "flowscope-writer"):
        self.max_pending = checks.check_count("max_pending", max_pending)
        self._name = name
        self._slots = threading.BoundedSemaphore(self.max_pending)
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._idle = threading.Condition()
        self._unfinished = 0
        self._errors: list[BaseException] = []
        self._thread: threading.Thread | None = None
        self._closed = False

    def on_thread(self) -> bool:
        """Whether the caller is this writer's thread (its jobs may write directly)."""
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, job: Callable[..., Any], *args: Any) -> None:
        """Queue `job(*args)`; raise the first failure of an earlier job, if any."""
        if self._closed:
            raise ValueError("writer is closed")
        self._raise_errors()
        if self.on_thread():  # a job queuing more work runs it in place (no self-wait)
            job(*args)
            return
        if self._thread is None:
            # A daemon thread: an atexit hook drains it, and it never blocks a crash exit.
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        self._slots.acquire()
        with self._idle:
            self._unfinished += 1
        self._jobs.put((job, args))

    def drain(self) -> None:
        """Wait until every queued job has run; raise the first failure, if any."""
        if not self.on_thread():
            with self._idle:
                self._idle.wait_for(lambda: self._unfinished == 0)
        self._raise_errors()

    def close(self) -> None:
        """Run what is queued, then stop the thread (raising the first failure, if any)."""
        if self._closed:
            return
        try:
            self.drain()
        finally:
            self._closed = True
            if self._thread is not None:
                self._jobs.put(None)
                if not self.on_thread():
                    self._thread.join()

    def _raise_errors(self) -> None:
        if self._errors:
            error = self._errors.pop(0)
            raise error

    def _run(self) -> None:
        while (item := self._jobs.get()) is not None:
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

    With `background=True` the framing and file writes run on a `BackgroundWriter` thread
    (at most `max_pending` queued jobs); otherwise on the caller's thread. Either way, a
    failed write warns once and stops logging instead of raising (see `fault`).
    """

    def __init__(
        self,
        logdir: Any,
        flush_secs: float = 10,
        *,
        background: bool = False,
        max_pending: int = DEFAULT_MAX_PENDING,
    ):
        directory = checks.check_logdir(logdir, "logdir")
        if isinstance(flush_secs, bool) or not isinstance(flush_secs, int | float):
            raise checks.ArgumentTypeError(
                f"flush_secs must be a number, got {type(flush_secs).__name__}"
            )
        checks.check_flag("background", background)
        host, pid, unique = socket.gethostname(), os.getpid(), uuid.uuid4().hex[:8]
        name = f"events.out.tfevents.{int(time.time()):010d}.{host}.{pid}.{unique}"
        self.path = directory / name
        #: the OSError that stopped logging, or None
        self.fault: OSError | None = None
        self._warned = False
        self._closed = False
        self._flush_secs = float(flush_secs)
        self._last_flush = time.monotonic()
        self._thread = BackgroundWriter(max_pending, "LogWriter") if background else None
        self._file = open(self.path, "wb")  # noqa: SIM115 (closed in close())
        first = event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")
        self._append([first.SerializeToString()])
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
        if self.fault is not None or self._file.closed:
            return
        try:
            self._file.write(records.records(events))
            if time.monotonic() - self._last_flush >= self._flush_secs:
                self._flush_now()
        except OSError as exc:
            self._stop(exc)

    def _flush_now(self) -> None:
        if self.fault is None and not self._file.closed:
            try:
                self._file.flush()
            except OSError as exc:
                self._stop(exc)
        self._last_flush = time.monotonic()

    def _close_now(self) -> None:
        try:
            self._file.close()  # flushes what is buffered
        except OSError as exc:
            self._stop(exc)

    def _stop(self, exc: OSError) -> None:
        """Logging stops at the first I/O fault: a partly written record would make the
        rest of the file unreadable, and training must go on."""
        if self.fault is None:
            self.fault = exc
        self._warn_fault()

    def _warn_fault(self) -> None:
        """Warn once, on the caller's thread (the writer thread's fault waits for it)."""
        if self._thread is not None and self._thread.on_thread():
            return
        if self.fault is not None and not self._warned:
            self._warned = True
            warnings.warn(
                f"Flowscope LogWriter: writing {self.path} failed "
                f"({self.fault.strerror or self.fault}); logging stopped, training goes on",
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

    def flush(self) -> None:
        """Write buffered events to the file (queued after earlier writes when background)."""
        if self._closed:
            return
        if self._thread is None or self._thread.on_thread():
            self._flush_now()
        else:
            self._thread.submit(self._flush_now)
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
            if not self._file.closed:
                self._close_now()
        self._warn_fault()

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@atexit.register
def _flush_open_writers() -> None:
    """At exit, events still queued or buffered reach their files."""
    for writer in list(_OPEN):
        try:
            if writer._thread is not None and not writer._closed:
                writer._thread.submit(writer._flush_now)
                writer._thread.drain()
            elif not writer._closed:
                writer._flush_now()
        except Exception:  # noqa: S112 (one writer's failure must not stop the others)
            continue
