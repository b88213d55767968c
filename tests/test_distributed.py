"""`flowscope demo distributed`: a real local cluster (ps, workers, chief) on loopback.

Each run is bounded (timeouts), uses free ports, and must leave no task process behind.
The parameter-server run loses a worker mid-run and still reaches its step count; the
MultiWorkerMirroredStrategy run logs what one process computes on the same batches.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util

from demo_models import cli
from demo_models.distributed import cluster as cluster_lib
from demo_models.distributed.cluster import LocalCluster
from demo_models.distributed.task import UNUSED
from demo_models.runtime import CliError

FLOWSCOPE = str(Path(sys.executable).with_name("flowscope"))
ENV = {**os.environ, "FLOWSCOPE_NO_PROGRESS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
TIMEOUT = 120  # a run takes 20-40 s on 2 busy cores; a hang must still end the test


def values(run: Path) -> tuple[event_accumulator.EventAccumulator, dict[str, list]]:
    acc = event_accumulator.EventAccumulator(str(run), size_guidance={"tensors": 0})
    acc.Reload()
    series = {
        tag: [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)]
        for tag in acc.Tags()["tensors"]
    }
    return acc, series


def task_processes(marker: str) -> list[int]:
    """Pids of live cluster tasks whose command line holds `marker` (e.g. their chief's port)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "demo_models.distributed.task" in command and marker in command and state != "Z":
            found.append(int(entry.name))
    return found


def cluster_marker(stdout: str) -> str:
    """The first task address the demo printed: every task's command line holds it."""
    match = re.search(r"(?:chief|worker): (localhost:\d+)", stdout)
    assert match, stdout
    return match.group(1)


def cluster_ports(stdout: str) -> set[int]:
    """Every task port in the demo's `starting` line."""
    line = next(ln for ln in stdout.splitlines() if ln.startswith("distributed: starting"))
    return {int(p) for p in re.findall(r"localhost:(\d+)", line)}


def listening_ports() -> set[int]:
    """TCP ports in LISTEN state (0A) in this process's network namespace, IPv4 and IPv6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                found.add(int(fields[1].rsplit(":", 1)[1], 16))
    return found


FALLBACK = "distributed: the cluster's servers listen on all interfaces"


def demo(*args: str, timeout: float = TIMEOUT, env: dict | None = None):
    return subprocess.run(
        [FLOWSCOPE, "demo", "distributed", *args],
        capture_output=True,
        text=True,
        env=env or ENV,
        timeout=timeout,
    )


# -- bad input: refused before any process starts ------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (["--workers", "0"], "--workers must be >= 1, got 0"),
        (["--strategy", "multiworker", "--workers", "3"], "--workers must divide"),
        (["--strategy", "multiworker", "--kill-worker-at", "3"], "--kill-worker-at applies"),
        (["--workers", "1", "--kill-worker-at", "3"], "--kill-worker-at needs --workers 2"),
        (["--steps", "0"], "--steps must be >= 1"),
        (["--stall-timeout", "0"], "--stall-timeout must be > 0, got 0"),
        (["--logdir", "ram://runs/d"], "--logdir ram://... is the memory of one process"),
    ],
)
def test_bad_options_are_clear_errors(tmp_path, capsys, args, message):
    assert cli.main(["demo", "distributed", "--logdir", str(tmp_path / "run"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before anything was made


def test_busy_port_and_unwritable_logdir_are_refused_before_starting(tmp_path, capsys):
    import socket

    def free(port: int) -> bool:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
        return True

    # The second port of the range is busy: a listener on P whose neighbour P - 1 is free
    # (other tests hold ports of their own, so look until one such pair turns up).
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen()
            port = sock.getsockname()[1]
            if not free(port - 1):
                continue
            busy = rf"--port {port - 1}: port {port} is already in use"
            with pytest.raises(CliError, match=busy):
                cluster_lib.pick_ports(4, port - 1)
            break
    else:
        pytest.fail("no listening port with a free neighbour in 50 tries")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    began = time.monotonic()
    assert cli.main(["demo", "distributed", "--logdir", str(blocker / "run")]) == 2
    assert "--logdir" in capsys.readouterr().err
    assert time.monotonic() - began < 5  # no cluster was started


def test_a_task_that_cannot_start_fails_fast_with_its_stderr():
    with LocalCluster() as cluster:
        task = cluster.start("worker", 0, ["server", "--cluster", "{}", "--job", "chief"])
        began = time.monotonic()
        with pytest.raises(CliError, match=r"(?s)worker 0 failed to start.*invalid choice"):
            cluster.wait_ready(timeout=30)
        assert time.monotonic() - began < 10
    assert task.process.poll() is not None


def test_stopping_ends_a_stopped_task_without_waiting_out_the_grace(monkeypatch):
    """A task stopped by SIGSTOP (Ctrl-Z, a debugger) holds a SIGTERM until it is continued:
    stop() continues it. With a 600 s grace, a stop that waited for the SIGKILL would still
    be running when the 120 s safety net ends the wait."""
    monkeypatch.setattr(cluster_lib, "STOP_GRACE", 600.0)
    cluster = LocalCluster()
    task = cluster.start("worker", 0, ["server", "--cluster", "{}", "--job", "worker"])
    os.kill(task.process.pid, signal.SIGSTOP)
    stopping = threading.Thread(target=cluster.stop, daemon=True)
    stopping.start()
    stopping.join(timeout=120)
    alive = stopping.is_alive()
    if alive:  # end it for the next tests, then fail
        os.killpg(task.process.pid, signal.SIGKILL)
    assert not alive, "stop() waited for the grace period"
    assert task.process.returncode == -signal.SIGTERM


def test_isolation_says_why_it_cannot_be_had(tmp_path, monkeypatch):
    monkeypatch.delenv(cluster_lib.ISOLATION_ENV, raising=False)
    assert cluster_lib.isolation("gs://bucket/run") == (
        None,
        "--logdir is a URI, and the chief needs the network to reach it",
    )
    monkeypatch.setenv(cluster_lib.ISOLATION_ENV, "0")
    assert cluster_lib.isolation(str(tmp_path)) == (None, "FLOWSCOPE_CLUSTER_ISOLATION=0")
    monkeypatch.setenv(cluster_lib.ISOLATION_ENV, "1")
    monkeypatch.setenv("PATH", str(tmp_path))  # no unshare there
    assert cluster_lib.isolation(str(tmp_path))[0] is None
    assert "no `unshare` command" in cluster_lib.isolation(str(tmp_path))[1]


def test_the_namespace_has_loopback_up_and_nothing_else():
    prefix, why = cluster_lib.isolation("runs/x")
    if prefix is None:
        pytest.skip(f"no private network namespace here: {why}")
    probe = (
        "import socket; from demo_models.distributed.cluster import loopback_up; loopback_up(); "
        "s = socket.create_server(('127.0.0.1', 0)); socket.create_connection(s.getsockname()); "
        "print(sorted(n for _, n in socket.if_nameindex()))"
    )
    result = subprocess.run(
        [*prefix, sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(cluster_lib.REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['lo']"


# -- real clusters ---------------------------------------------------------------------


@pytest.mark.slow
def test_ps_run_survives_a_lost_worker_and_writes_one_run(tmp_path):
    """Also with TF_NUM_INTEROP_THREADS=1 in the environment (as `flowscope race` runs
    TensorFlow), which left every ps run with its first step in flight forever: the worker's
    one inter-op thread held by the request, none left for the step's kernels. The tasks
    now get their own floor (`cluster.interop_threads`)."""
    run = tmp_path / "ps"
    env = {**ENV, "TF_NUM_INTEROP_THREADS": "1"}
    result = demo(
        "--quick", "--steps", "30", "--kill-worker-at", "10", "--logdir", str(run), env=env
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "distributed: step 30 of 30" in result.stdout and "stalled" not in result.stdout
    assert task_processes(cluster_marker(result.stdout)) == []  # no task left running
    isolated = cluster_lib.isolation(str(run))[0] is not None
    assert (FALLBACK in result.stdout) != isolated  # the line says so when not isolated
    assert "killed worker 1 after step 10" in result.stdout
    assert re.search(r"worker 1 \(localhost:\d+\) lost by step \d+", result.stdout)
    assert len(list(run.glob("events.out.tfevents.*"))) == 1  # the chief's, only
    assert [p.name for p in run.iterdir()] == [next(run.glob("events.*")).name]

    acc, series = values(run)
    losses = series["train/loss"]
    assert [step for step, _ in losses] == list(range(30))  # every step, none lost
    loss = np.array([float(v) for _, v in losses])
    assert np.all(np.isfinite(loss)) and loss[-5:].mean() < 0.7 * loss[:5].mean()
    assert float(series["test/accuracy"][-1][1]) > 0.5  # the offline digits
    live = [int(v) for _, v in series["cluster/live_workers"]]
    assert live[0] == 2 and live[-1] == 1 and sorted(live, reverse=True) == live
    lost_at = series["cluster/events"][0][0]
    assert b"worker 1" in series["cluster/events"][0][1].item()
    after = [float(v) for s, v in series["cluster/steps_per_second/worker_1"] if s > lost_at]
    assert after and max(after) == 0.0  # the lost worker ran nothing more ...
    assert min(float(v) for _, v in series["cluster/steps_per_second/worker_0"]) > 0  # ... w0 did
    for tag in ("model/hidden1/weights", "model/output/biases"):
        assert np.all(np.isfinite(series[tag][-1][1]))
    assert "model/hidden1/weights/summaries/stddev" in series

    devices = {node.device for node in acc.Graph().node}
    assert "/job:ps/replica:0/task:0/device:CPU:0" in devices
    assert any(d.startswith("/job:worker") for d in devices)
    ps_ops = {n.op for n in acc.Graph().node if n.device.startswith("/job:ps")}
    assert "ReadVariableOp" in ps_ops and "MatMul" not in ps_ops


def test_a_stalled_cluster_says_where_it_waits_is_started_again_once_then_is_an_error(tmp_path):
    """A real stall: the workers are stopped (SIGSTOP) mid-run, so the coordinator's step
    never returns and no task computes. After --stall-timeout the launcher prints each main
    task's threads, says in its message which worker holds the step, ends the cluster and
    starts a new one; stalled again, it is a one-line error with no task left running.
    One worker (a cluster of three tasks, not four): two clusters start here, and each task
    started costs some 4 s of CPU importing TensorFlow."""
    process = subprocess.Popen(
        [FLOWSCOPE, "demo", "distributed", "--quick", "--steps", "400", "--stall-timeout", "5"]
        + ["--workers", "1", "--logdir", str(tmp_path / "stalled")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    lines: list[str] = []
    stopped: list[int] = []
    try:
        deadline = time.monotonic() + 2 * TIMEOUT
        for _ in range(2):  # each cluster: wait for its first step, then stop its workers
            while time.monotonic() < deadline:
                line = process.stdout.readline()
                assert line, "the demo ended early:\n" + "".join(lines) + process.stderr.read()
                lines.append(line)
                if line.startswith("distributed: step "):
                    break
            starting = [ln for ln in lines if ln.startswith("distributed: starting")][-1]
            workers = [
                pid
                for pid in task_processes(cluster_marker(starting))
                if "--job worker" in Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
            ]
            assert len(workers) == 1, workers
            for pid in workers:
                os.kill(pid, signal.SIGSTOP)
            stopped += workers
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        for pid in stopped:  # a stopped task the launcher missed would stay forever
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
            process.wait()
    stdout = "".join(lines) + out
    assert process.returncode == 2, err[-3000:]
    stalled = (
        "chief 0 printed nothing and the cluster computed nothing for 5 s: the cluster stalled"
    )
    restarted = [ln for ln in stdout.splitlines() if ln.endswith("; starting a new cluster")]
    assert len(restarted) == 1 and restarted[0].startswith(f"distributed: {stalled} ("), restarted
    error = err.strip().splitlines()[-1]
    assert error.startswith(f"flowscope: error: {stalled} (chief 0 waits: MainThread: "), error
    # where: the chief's own innermost call and TensorFlow's beneath it (which depends on
    # the moment the workers stopped: a step's join, or weights read after a block), the
    # worker's closure thread, and the coordinator's queue
    assert re.search(r"MainThread: \w+ \([\w/]+\.py:\d+\) -> \w+", error), error
    assert "WorkerClosureProcessingLoop-0: " in error
    assert re.search(r"coordinator: \d+ step\(s\) queued, \d+ in flight", error), error
    assert stdout.count("chief 0's threads when it stalled:") == 2
    starts = [ln for ln in stdout.splitlines() if ln.startswith("distributed: starting")]
    assert len(starts) == 2  # the first cluster, then the new one
    for address in re.findall(r"localhost:\d+", " ".join(starts)):
        assert task_processes(address) == []  # both clusters' tasks ended


def test_tasks_get_enough_inter_op_threads_whatever_the_environment_says(monkeypatch):
    """Each task's remote requests hold inter-op threads until their functions end: the pool
    is raised to a floor above what a cluster can have in flight at one task."""
    monkeypatch.setenv("TF_NUM_INTEROP_THREADS", "1")
    assert cluster_lib.task_env(4)["TF_NUM_INTEROP_THREADS"] == "8"
    assert cluster_lib.task_env(6)["TF_NUM_INTEROP_THREADS"] == "12"
    monkeypatch.setenv("TF_NUM_INTEROP_THREADS", "32")  # more is the user's to choose
    assert cluster_lib.task_env(4)["TF_NUM_INTEROP_THREADS"] == "32"
    monkeypatch.delenv("TF_NUM_INTEROP_THREADS")
    assert cluster_lib.task_env(4)["TF_NUM_INTEROP_THREADS"] == "8"


@pytest.mark.slow
@pytest.mark.slow
def test_multiworker_run_logs_what_one_process_computes(tmp_path):
    run = tmp_path / "multi"
    # without the private network namespace (as where it cannot be had): the same run
    shared = {**ENV, cluster_lib.ISOLATION_ENV: "0"}
    result = demo("--strategy", "multiworker", "--steps", "12", "--logdir", str(run), env=shared)
    assert result.returncode == 0, result.stderr[-3000:]
    fallback = [line for line in result.stdout.splitlines() if line.startswith(FALLBACK)]
    assert fallback == [
        f"{FALLBACK} (TensorFlow's gRPC server binds every address; no private network "
        "namespace: FLOWSCOPE_CLUSTER_ISOLATION=0)"
    ]
    assert task_processes(cluster_marker(result.stdout)) == []
    assert len(list(run.glob("events.out.tfevents.*"))) == 1

    import tensorflow as tf

    from demo_models.distributed import multiworker
    from demo_models.distributed.main import LOG_EVERY
    from demo_models.distributed.model import Options
    from demo_models.lesson import interval

    single = tmp_path / "single"
    opts = Options(logdir=str(single), steps=12, log_every=interval(12, LOG_EVERY, 10))
    multiworker.train(tf.distribute.get_strategy(), opts, shard=0, shards=1, write=True)
    _, distributed = values(run)
    _, alone = values(single)
    for tag in ("train/loss", "train/accuracy", "test/accuracy"):
        assert [s for s, _ in distributed[tag]] == [s for s, _ in alone[tag]], tag
    compared = [t for t in alone if t.startswith(("train/", "test/", "model/"))]
    assert len(compared) >= 12
    for tag in compared:
        ours = np.array([v for _, v in distributed[tag]], np.float64)
        theirs = np.array([v for _, v in alone[tag]], np.float64)
        if ours.ndim == 3:  # histograms: same edges; an element on an edge may switch bucket
            np.testing.assert_allclose(ours[..., :2], theirs[..., :2], rtol=1e-5, atol=1e-6)
            assert np.abs(ours[..., 2] - theirs[..., 2]).sum(axis=-1).max() <= 2, tag
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6, err_msg=tag)
    rates = {t for t in distributed if t.startswith("cluster/steps_per_second/")}
    assert rates == {"cluster/steps_per_second/worker_0", "cluster/steps_per_second/worker_1"}


@pytest.mark.slow
def test_ctrl_c_ends_every_task(tmp_path):
    process = subprocess.Popen(
        [FLOWSCOPE, "demo", "distributed", "--steps", "100000", "--workers", "1"]
        + ["--logdir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        lines = []
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:  # the coordinator prints once it is training
            line = process.stdout.readline()
            lines.append(line)
            if "cluster: chief" in line or not line:
                break
        marker = cluster_marker("".join(lines))
        tasks = task_processes(marker)
        assert len(tasks) == 3, "the cluster should be running"
        # no task loaded what TensorFlow and Keras import only when installed (task.UNUSED)
        for pid in tasks:
            mapped = Path(f"/proc/{pid}/maps").read_text()
            loaded = {name for name in UNUSED if f"/site-packages/{name}" in mapped}
            assert not loaded, (pid, loaded)
        ports = cluster_ports("".join(lines))
        assert len(ports) == 3  # chief, ps, worker; the servers are serving by now
        if cluster_lib.isolation(str(tmp_path))[0] is not None:
            # TensorFlow binds every interface: none of it shows in this network namespace
            assert not ports & listening_ports()
        else:
            assert FALLBACK in "".join(lines)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
        assert "interrupted" in process.stderr.read()
        assert task_processes(marker) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
