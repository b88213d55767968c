"""`flowscope demo distributed`: the lesson's ps/worker training as real processes on loopback.

This process starts the cluster's tasks as children, relays the chief's lines, and ends
them all however the run ends; it imports no TensorFlow itself. Bad options, a busy
`--port` and an unwritable `--logdir` are refused before any process starts. The cluster
runs in a private network namespace (see `cluster.isolation`): this command runs itself
again there, and that inner launcher starts the tasks.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import select
import sys
import time

from demo_models import lesson
from demo_models.distributed import stacks
from demo_models.distributed.cluster import (
    INSIDE_ENV,
    READY,
    LocalCluster,
    Task,
    cluster_spec,
    enter_isolated,
    isolation,
    pick_ports,
    run_isolated,
    spec_json,
)
from demo_models.distributed.model import Options
from demo_models.distributed.ps import describe
from demo_models.runtime import CliError, writable_dir

STEPS = 1000
QUICK_STEPS = 40
LOG_EVERY = 50
# A stalled cluster (--stall-timeout): this long without a line from the chief (it prints
# one per block of steps) while the tasks together use less than WORKING seconds of CPU.
# Silence alone is not enough: on a slow or busy machine the chief's start (importing
# TensorFlow, connecting, building the model) can take minutes of CPU before its first line,
# and that is work, not a stall; a cluster waiting on a lost RPC uses next to no CPU.
STALL_SECONDS = 120.0
WORKING = 1.0


class Stalled(CliError):
    """The cluster's main tasks printed nothing for too long: TensorFlow's distributed
    runtime stalled (e.g. a remote call that never returned)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flowscope demo distributed",
        description="Train the lesson's MNIST model on a local TensorFlow cluster (real "
        "processes on loopback ports) and write one run, from the chief.",
    )
    p.add_argument(
        "--strategy",
        choices=["ps", "multiworker"],
        default="ps",
        help="ps: ParameterServerStrategy with a coordinator, ps and worker tasks; "
        "multiworker: MultiWorkerMirroredStrategy over the worker tasks (default: %(default)s)",
    )
    p.add_argument("--workers", type=int, default=2, help="worker tasks (default: %(default)s)")
    p.add_argument(
        "--ps", type=int, default=1, help="parameter-server tasks (default: %(default)s)"
    )
    p.add_argument(
        "--steps", type=int, help=f"training steps (default: {STEPS}; --quick: {QUICK_STEPS})"
    )
    p.add_argument("--quick", action="store_true", help=f"a short run ({QUICK_STEPS} steps)")
    p.add_argument("--logdir", default="runs/distributed", help="the run (default: %(default)s)")
    p.add_argument(
        "--fresh", action="store_true", help="replace the run already in --logdir, if any"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument(
        "--mnist", metavar="PATH", help="a Keras-format mnist.npz (default: as `demo mlp`)"
    )
    p.add_argument(
        "--port",
        type=int,
        help="first of the consecutive loopback ports to use (default: any free ports)",
    )
    p.add_argument(
        "--kill-worker-at",
        type=int,
        metavar="STEP",
        help="ps only: SIGKILL the last worker process once step STEP is done, to watch "
        "the coordinator carry on with the others",
    )
    p.add_argument(
        "--stall-timeout",
        type=float,
        default=STALL_SECONDS,
        metavar="SECONDS",
        help="seconds in which the training prints no line and the cluster computes nothing "
        "that mean it stalled: it is ended and started once more (default: %(default)g)",
    )
    lesson.add_guide_options(p)
    return p


def check(args: argparse.Namespace) -> int:
    """Validate the options (CliError naming the option); returns the number of steps."""
    steps = args.steps if args.steps is not None else QUICK_STEPS if args.quick else STEPS
    if steps < 1:
        raise CliError(f"--steps must be >= 1, got {steps}")
    if args.workers < 1:
        raise CliError(f"--workers must be >= 1, got {args.workers}")
    if args.strategy == "ps" and args.ps < 1:
        raise CliError(f"--ps must be >= 1, got {args.ps}")
    if args.strategy == "multiworker" and args.ps != 1:
        raise CliError("--ps applies to --strategy ps only")
    if args.strategy == "multiworker" and lesson_batch() % args.workers:
        raise CliError(f"--workers must divide the batch of {lesson_batch()}, got {args.workers}")
    if not args.stall_timeout > 0:
        raise CliError(f"--stall-timeout must be > 0, got {args.stall_timeout:g}")
    if args.kill_worker_at is not None:
        if args.strategy != "ps":
            raise CliError("--kill-worker-at applies to --strategy ps only")
        if args.workers < 2:
            raise CliError("--kill-worker-at needs --workers 2 or more (one must remain)")
        if not 0 <= args.kill_worker_at < steps - 1:
            raise CliError(f"--kill-worker-at must be in 0..{steps - 2}, got {args.kill_worker_at}")
    return steps


def lesson_batch() -> int:
    """The global batch size: the lesson's 100 examples a step."""
    from demo_models import mlp

    return mlp.BATCH_SIZE


def supervise(
    cluster: LocalCluster, main: list[Task], tolerated: list[Task], stall: float = STALL_SECONDS
) -> None:
    """Relay the main tasks' lines until they end; a task failing (not tolerated) is an
    error, and so (`Stalled`) is `stall` seconds in which the main tasks print no line and
    the cluster's tasks together use less than `WORKING` seconds of CPU: a slow machine
    (tasks busy importing, tracing or training) is waited for, an idle cluster is not."""
    streams = {t.process.stdout.fileno(): t for t in cluster.tasks}
    reported: set[int] = set()
    heard = time.monotonic()
    spent = cluster.cpu_seconds()
    while True:
        readable, _, _ = select.select(list(streams), [], [], 0.2)
        for fd in readable:
            task = streams[fd]
            chunk = task.process.stdout.read1(65536)  # what is there; select saw the fd
            if not chunk:
                del streams[fd]
            elif task in main:
                _relay(chunk)
                heard = time.monotonic()
        if (now := cluster.cpu_seconds()) - spent >= WORKING:
            heard, spent = time.monotonic(), now
        if time.monotonic() - heard > stall:
            raise Stalled(stall_report(cluster, main, stall))
        for task in cluster.tasks:
            status = task.process.poll()
            if status is None or status == 0 and task in main:
                continue
            if task in tolerated and task.process.pid not in reported:
                reported.add(task.process.pid)
                print(f"distributed: {task.name} exited (status {status})", flush=True)
            elif task not in tolerated:
                raise CliError(
                    f"{task.name} failed (exit status {status}):\n{task.stderr_tail()}".rstrip()
                )
        if all(t.process.poll() == 0 for t in main):
            for task in list(streams.values()):  # what is left of the chief's lines
                if task in main:
                    _relay(task.process.stdout.read())
            return


def stall_report(cluster: LocalCluster, main: list[Task], stall: float) -> str:
    """The stall's one-line message: what each main task waits on, from its stacks (the
    full report is printed first), and which tasks have exited."""
    names = ", ".join(t.name for t in main)
    waits = []
    for task in main:
        report = cluster.stacks(task)
        if report is None:
            waits.append(f"{task.name} did not answer a request for its stacks")
            continue
        logged = task.stderr_tail().strip()
        if logged:
            print(f"distributed: {task.name}'s last log lines:\n{logged}", flush=True)
        print(f"distributed: {task.name}'s threads when it stalled:", flush=True)
        print("\n".join(f"  {line}" for line in stacks.trimmed(report)), flush=True)
        waits.append(f"{task.name} waits: " + stacks.gist(report).replace("\n", "; "))
    gone = [
        f"{t.name} (status {t.process.poll()})"
        for t in cluster.tasks
        if t.process.poll() is not None
    ]
    if gone:
        waits.append("exited: " + ", ".join(gone))
    return (
        f"{names} printed nothing and the cluster computed nothing for {stall:g} s: the "
        f"cluster stalled ({' | '.join(waits)})"
    )


def _relay(chunk: bytes) -> None:
    """Print a task's output here, without its READY line."""
    text = chunk.decode(errors="replace").replace(READY + "\n", "")
    sys.stdout.write(text)
    sys.stdout.flush()


def run_ps(args: argparse.Namespace, opts: Options) -> None:
    """Start ps and worker servers, then the coordinator, and supervise them."""
    jobs = {"chief": 1, "ps": args.ps, "worker": args.workers}
    spec = cluster_spec(pick_ports(sum(jobs.values()), args.port), jobs)
    print(f"distributed: starting {args.ps} ps and {args.workers} worker task(s): {describe(spec)}")
    with LocalCluster(size=sum(jobs.values())) as cluster:
        servers = [
            cluster.start(
                job, i, ["server", "--cluster", spec_json(spec), "--job", job, "--index", str(i)]
            )
            for job in ("ps", "worker")
            for i in range(jobs[job])
        ]
        cluster.wait_ready(servers)
        workers = [t for t in servers if t.job == "worker"]
        opts = dataclasses.replace(
            opts, cluster=spec, worker_pids=tuple(t.process.pid for t in workers)
        )
        coordinator = cluster.start("chief", 0, ["coordinator", "--options", _json(opts)])
        supervise(cluster, [coordinator], tolerated=workers, stall=args.stall_timeout)


def run_multiworker(args: argparse.Namespace, opts: Options) -> None:
    """Start the worker processes, which train together, and supervise them."""
    spec = cluster_spec(pick_ports(args.workers, args.port), {"worker": args.workers})
    print(
        f"distributed: starting {args.workers} MultiWorkerMirroredStrategy worker(s) on "
        f"loopback: {describe(spec)}"
    )
    with LocalCluster(size=args.workers) as cluster:
        workers = [
            cluster.start(
                "worker",
                i,
                [
                    "multiworker",
                    "--options",
                    _json(dataclasses.replace(opts, cluster=spec, index=i)),
                ],
            )
            for i in range(args.workers)
        ]
        supervise(cluster, workers, tolerated=[], stall=args.stall_timeout)


def _json(opts: Options) -> str:
    return json.dumps(dataclasses.asdict(opts), separators=(",", ":"))


def main(argv: list[str]) -> int:
    """Run the distributed demo."""
    args = _parser().parse_args(argv)
    steps = check(args)
    if args.logdir.lower().startswith("ram://"):  # each process has its own ram://
        raise CliError(
            "--logdir ram://... is the memory of one process; the chief is a separate "
            "process, so its run would be lost: use a local path or a shared URI (gs://...)"
        )
    if args.fresh:
        lesson.clear_run(args.logdir)
    logdir = writable_dir(args.logdir, "--logdir")
    if lesson.has_event_files(logdir):
        raise CliError(f"--logdir {logdir} already holds a run; pass --fresh to replace it")
    opts = Options(
        logdir=str(logdir),
        steps=steps,
        log_every=lesson.interval(steps, LOG_EVERY, 10),
        seed=args.seed,
        mnist=args.mnist,
        workers=args.workers,
        ps=args.ps,
        kill_worker_at=args.kill_worker_at,
    )
    if INSIDE_ENV in os.environ:
        enter_isolated()
    else:
        prefix, why = isolation(args.logdir)
        if prefix is not None:  # the same command again, in a loopback-only network namespace
            return run_isolated(prefix, argv)
        print(
            "distributed: the cluster's servers listen on all interfaces (TensorFlow's gRPC "
            f"server binds every address; no private network namespace: {why})",
            flush=True,
        )
    began = time.monotonic()
    run = run_ps if args.strategy == "ps" else run_multiworker
    try:
        run(args, opts)
    except Stalled as exc:
        # Rare, and seen only on a loaded machine: the tasks are ended (the cluster's `with`)
        # and a new cluster trains the run again from nothing; a second stall is the error.
        print(f"distributed: {exc}; starting a new cluster", flush=True)
        lesson.clear_run(logdir)
        run(args, opts)
    print(f"distributed: done in {time.monotonic() - began:.0f} s; the run is in {logdir}")
    lesson.print_guide("distributed", args)
    return 0
