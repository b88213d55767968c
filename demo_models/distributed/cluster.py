"""A local TensorFlow cluster as real processes on loopback, and never an orphan left behind.

Every task runs `python -m demo_models.distributed.task ...` in one process group of its
own. `LocalCluster` picks free loopback ports, starts the tasks, waits until each says it
is serving (or fails fast with its stderr tail), and stops them all on exit: SIGTERM to the
group, then SIGKILL after a grace period. It is a context manager and also registers
`atexit` and SIGINT/SIGTERM handlers, and each task watches its parent and exits when the
parent is gone (a SIGKILLed parent runs no handlers).

TensorFlow's gRPC server binds every interface whatever host the cluster spec names, so
`run_isolated` runs the launcher and with it the whole cluster in a private network
namespace whose only interface is loopback (`unshare -n`, or `unshare -rn` through a user
namespace); `isolation` says why when that cannot be done.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from demo_models.distributed import stacks
from demo_models.runtime import CliError

HOST = "localhost"  # the spec's host; the servers still bind every interface (see isolation)
READY = "FLOWSCOPE-TASK-READY"
START_TIMEOUT = 90.0  # seconds for a task to import TensorFlow and start serving
STOP_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
REPORT_TIMEOUT = 10.0  # seconds for a task to answer a request for its stacks
TAIL = 1500  # characters of a failed task's stderr shown to the user

REPO = Path(__file__).resolve().parents[2]
ISOLATION_ENV = "FLOWSCOPE_CLUSTER_ISOLATION"  # "0": run the cluster in this network namespace
INSIDE_ENV = "FLOWSCOPE_CLUSTER_NETNS"  # set (to the outer pid) inside the private namespace
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1


def isolation(logdir: str) -> tuple[list[str] | None, str]:
    """The `unshare` prefix that gives a private loopback-only network, or None and why not."""
    if os.environ.get(ISOLATION_ENV, "1") == "0":
        return None, f"{ISOLATION_ENV}=0"
    if "://" in logdir:
        return None, "--logdir is a URI, and the chief needs the network to reach it"
    unshare = shutil.which("unshare")
    if unshare is None:
        return None, "no `unshare` command to make a private network namespace"
    # root can make a network namespace itself; anyone else needs a user namespace too
    tries = [["-n"], ["-rn"]] if os.geteuid() == 0 else [["-rn"]]
    error = ""
    for flags in tries:
        try:
            probe = subprocess.run(
                [unshare, *flags, "true"], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            error = str(exc)
            continue
        if probe.returncode == 0:
            return [unshare, *flags, "--"], ""
        lines = probe.stderr.strip().splitlines()
        error = lines[-1] if lines else f"exit status {probe.returncode}"
    return None, f"`unshare {' '.join(tries[-1])}` failed ({error})"


def loopback_up() -> None:
    """Bring up `lo`, down in a new network namespace (an ioctl: no `ip` command needed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def enter_isolated() -> None:
    """Inside the namespace: bring up loopback, and end (as if SIGTERMed) when the outer
    launcher is gone, so that a SIGKILLed launcher leaves no cluster behind."""
    try:
        loopback_up()
    except OSError as exc:
        raise CliError(
            f"cannot bring up loopback in the cluster's network namespace ({exc}); "
            f"{ISOLATION_ENV}=0 runs the cluster without one"
        ) from exc
    outer = int(os.environ[INSIDE_ENV])

    def watch() -> None:
        while os.getppid() == outer:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="watch-launcher", daemon=True).start()


def run_isolated(prefix: list[str], argv: list[str]) -> int:
    """Run `flowscope demo distributed ARGV` again under `prefix` (unshare), passing on
    SIGINT and SIGTERM, and return its exit status; it prints its own lines and errors."""
    sys.stdout.flush()
    sys.stderr.flush()
    command = [*prefix, sys.executable, "-m", "demo_models.cli", "demo", "distributed", *argv]
    env = {**os.environ, "PYTHONPATH": task_env()["PYTHONPATH"], INSIDE_ENV: str(os.getpid())}
    # a group of its own: a Ctrl-C at the terminal reaches this process only, passed on once
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, env=env, process_group=0)

    def forward(signum: int, frame) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread
            previous[sig] = signal.signal(sig, forward)
    try:
        status = process.wait()
    finally:
        if process.poll() is None:  # this process is ending some other way: end it too
            process.terminate()
            try:
                process.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):  # TypeError: None, set from C
                signal.signal(sig, handler)
    return 128 - status if status < 0 else status


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


def interop_threads(tasks: int) -> int:
    """Inter-op threads for each task of a `tasks`-task cluster: the user's setting, raised to
    a floor where it is lower.

    A task's remote eager service runs each request it is sent (a step from the coordinator,
    a worker's part of a step on the ps) on the task's inter-op thread pool and holds that
    thread until the request's function has finished, while the function's own kernels need
    threads from the same pool. A pool no larger than the requests in flight at once leaves
    none for the kernels: every task then waits, using no CPU, with the coordinator's step in
    flight forever (TF_NUM_INTEROP_THREADS=1 does it every time; TensorFlow's default, one
    thread per core, did it now and then on 2 cores). Every other task may have a request in
    flight at one task, so each gets that many threads plus room for the kernels.
    """
    floor = max(8, 2 * tasks)
    given = os.environ.get("TF_NUM_INTEROP_THREADS", "")
    return max(floor, int(given)) if given.isdigit() else floor


def task_env(tasks: int = 1) -> dict[str, str]:
    """The environment of a task of a `tasks`-task cluster: this one, CPU only, quiet
    TensorFlow, enough inter-op threads (see `interop_threads`), this checkout first."""
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        "TF_NUM_INTEROP_THREADS": str(interop_threads(tasks)),
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
    cpu: float = 0.0  # CPU seconds at the last reading

    @property
    def name(self) -> str:
        return f"{self.job} {self.index}"

    def cpu_seconds(self) -> float:
        """CPU time the task has used so far (the last reading once it is gone; 0.0 where
        there is no /proc)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            # fields 14 and 15 of stat(5) (utime, stime), counted after the command's ")"
            self.cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            pass
        return self.cpu

    def stderr_text(self) -> str:
        """Everything the task wrote to stderr so far ("" when unreadable)."""
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stderr_tail(self) -> str:
        """The last lines of the task's stderr (TensorFlow's log noise and stack reports
        removed)."""
        text = stacks.without_reports(self.stderr_text())
        lines = [ln for ln in text.splitlines() if not ln.startswith(("I0000", "W0000"))]
        return "\n".join(lines)[-TAIL:]


class LocalCluster:
    """Tasks started as child processes in one process group; `stop()` ends them all."""

    def __init__(self, size: int = 1) -> None:
        self.size = size  # the tasks it will start (their thread pools are sized for it)
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
                env=env or task_env(self.size),
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

    def cpu_seconds(self) -> float:
        """CPU time the tasks have used so far, together."""
        return sum(t.cpu_seconds() for t in self.tasks)

    def stacks(self, task: Task, timeout: float = REPORT_TIMEOUT) -> list[str] | None:
        """Ask a live task for its threads' stacks (see `stacks`); None if no report came."""
        before = task.stderr_text().count(stacks.END)
        with contextlib.suppress(ProcessLookupError):
            task.process.send_signal(stacks.SIGNAL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and task.process.poll() is None:
            text = task.stderr_text()
            if text.count(stacks.END) > before:
                return stacks.parse(text)
            time.sleep(0.1)
        return None

    def kill(self, task: Task) -> None:
        """SIGKILL one task (a lost machine), and reap it."""
        with contextlib.suppress(ProcessLookupError):
            task.process.kill()
        task.process.wait(timeout=STOP_GRACE)
        task.lost_at = time.monotonic()

    def stop(self) -> None:
        """End every task: SIGTERM to the group, SIGKILL after `STOP_GRACE` s; idempotent.

        SIGCONT follows the SIGTERM, as service managers do: a stopped task (Ctrl-Z, a
        debugger, a frozen container) would otherwise hold its SIGTERM, and the stop, for
        the whole grace period."""
        if self._pgid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._pgid, signal.SIGTERM)
                os.killpg(self._pgid, signal.SIGCONT)
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
