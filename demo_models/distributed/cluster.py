"""A local TensorFlow cluster as real processes on loopback, and never an orphan left behind.

Every task runs `python -m demo_models.distributed.task ...` in one process group of its
own. `LocalCluster` picks free loopback ports, starts the tasks, waits until each says it
is serving (or fails fast with its stderr tail), and stops them all on exit: SIGTERM to the
group, then SIGKILL after a grace period. It is a context manager and also registers
`atexit` and SIGINT/SIGTERM handlers, and each task watches its parent and exits when the
parent is gone (a SIGKILLed parent runs no handlers).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from demo_models.runtime import CliError

HOST = "localhost"  # loopback only: nothing of the cluster listens beyond this machine
READY = "FLOWSCOPE-TASK-READY"
START_TIMEOUT = 90.0  # seconds for a task to import TensorFlow and start serving
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
TAIL = 1500  # characters of a failed task's stderr shown to the user

REPO = Path(__file__).resolve().parents[2]


def port_free(port: int) -> bool:
    """Whether `port` can be bound on loopback now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports(count: int, first: int | None = None) -> list[int]:
    """`count` free loopback ports: `first`, `first`+1, ... when given, else any free ones."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if first is None:
        import portpicker

        return [portpicker.pick_unused_port() for _ in range(count)]
    if not 1024 <= first <= 65535 - count + 1:
        raise CliError(
            f"--port must be in 1024..{65535 - count + 1} for {count} tasks, got {first}"
        )
    ports = list(range(first, first + count))
    busy = [p for p in ports if not port_free(p)]
    if busy:
        raise CliError(
            f"--port {first}: port {busy[0]} is already in use on {HOST} "
            f"(the cluster needs ports {ports[0]}..{ports[-1]}); pick another --port"
        )
    return ports


def cluster_spec(ports: list[int], jobs: dict[str, int]) -> dict[str, list[str]]:
    """A cluster spec dict ({"ps": ["localhost:P", ...], ...}) over `ports`, in job order."""
    if sum(jobs.values()) != len(ports):
        raise ValueError(f"{len(ports)} ports for {sum(jobs.values())} tasks")
    spec, at = {}, 0
    for job, count in jobs.items():
        spec[job] = [f"{HOST}:{port}" for port in ports[at : at + count]]
        at += count
    return spec


def task_env() -> dict[str, str]:
    """The environment of a task: this one, CPU only, quiet TensorFlow, this checkout first."""
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO),
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class Task:
    """One started task: its job name, index, process and stderr file."""

    job: str
    index: int
    process: subprocess.Popen
    stderr_path: Path
    ready: bool = False
    lost_at: float | None = field(default=None)

    @property
    def name(self) -> str:
        return f"{self.job} {self.index}"

    def stderr_tail(self) -> str:
        """The last lines of the task's stderr (TensorFlow's log noise removed)."""
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""
        lines = [ln for ln in text.splitlines() if not ln.startswith(("I0000", "W0000"))]
        return "\n".join(lines)[-TAIL:]


class LocalCluster:
    """Tasks started as child processes in one process group; `stop()` ends them all."""

    def __init__(self) -> None:
        self.tasks: list[Task] = []
        self._pgid: int | None = None
        self._logs = tempfile.TemporaryDirectory(prefix="flowscope-cluster-")
        self._previous: dict[int, object] = {}
        atexit.register(self.stop)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: atexit still runs
                self._previous[sig] = signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame) -> None:
        self.stop()
        previous = self._previous.get(signum)
        if callable(previous):
            previous(signum, frame)
        elif signum == signal.SIGINT:
            raise KeyboardInterrupt
        else:
            raise SystemExit(128 + signum)

    @property
    def pids(self) -> list[int]:
        """The process ids of every task started (for checks that none is left)."""
        return [t.process.pid for t in self.tasks]

    def start(
        self, job: str, index: int, argv: list[str], env: dict[str, str] | None = None
    ) -> Task:
        """Start `python -m demo_models.distributed.task ARGV` as task `job` `index`."""
        stderr_path = Path(self._logs.name) / f"{job}-{index}.stderr"
        command = [
            sys.executable,
            "-m",
            "demo_models.distributed.task",
            "--parent",
            str(os.getpid()),
            *argv,
        ]
        with open(stderr_path, "wb") as stderr:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env or task_env(),
                cwd=os.getcwd(),
                # all tasks in one new group: one signal ends them, and a Ctrl-C at the
                # terminal reaches only this process, which stops them in order
                process_group=0 if self._pgid is None else self._pgid,
            )
        if self._pgid is None:
            self._pgid = process.pid
        task = Task(job, index, process, stderr_path)
        self.tasks.append(task)
        return task

    def wait_ready(self, tasks: list[Task] | None = None, timeout: float = START_TIMEOUT) -> None:
        """Wait until each task prints READY; a task that exits or hangs is a CliError."""
        waiting = {t.process.stdout.fileno(): t for t in (tasks or self.tasks) if not t.ready}
        deadline = time.monotonic() + timeout
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                names = ", ".join(t.name for t in waiting.values())
                raise CliError(f"{names} did not start within {timeout:.0f} s")
            readable, _, _ = select.select(list(waiting), [], [], min(left, 0.5))
            for fd in readable:
                task = waiting[fd]
                line = task.process.stdout.readline().decode(errors="replace")
                if line.strip() == READY:
                    task.ready = True
                    del waiting[fd]
                elif not line:  # end of output: the task exited
                    self.fail(task)
            for task in list(waiting.values()):
                if task.process.poll() is not None:
                    self.fail(task)

    def fail(self, task: Task) -> None:
        """Raise a CliError saying that `task` failed, with its exit status and stderr tail."""
        status = task.process.wait(timeout=STOP_GRACE)
        raise CliError(
            f"{task.name} failed to start (exit status {status}):\n{task.stderr_tail()}".rstrip()
        )

    def kill(self, task: Task) -> None:
        """SIGKILL one task (a lost machine), and reap it."""
        with contextlib.suppress(ProcessLookupError):
            task.process.kill()
        task.process.wait(timeout=STOP_GRACE)
        task.lost_at = time.monotonic()

    def stop(self) -> None:
        """End every task: SIGTERM to the group, SIGKILL after `STOP_GRACE` s; idempotent."""
        if self._pgid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._pgid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE
            for task in self.tasks:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    task.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._pgid, signal.SIGKILL)
            for task in self.tasks:
                task.process.wait()
                if task.process.stdout:
                    task.process.stdout.close()
            self._pgid = None
        for sig, previous in self._previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, previous)
        self._previous = {}
        atexit.unregister(self.stop)
        self._logs.cleanup()

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def spec_json(spec: dict[str, list[str]]) -> str:
    """A cluster spec as the one-line JSON the tasks take."""
    return json.dumps(spec, separators=(",", ":"))
