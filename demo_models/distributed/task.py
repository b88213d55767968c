"""One task of the local cluster, run as `python -m demo_models.distributed.task`.

`server`: a `tf.distribute.Server` for a ps or worker task (the coordinator sends it work).
`coordinator`: the parameter-server run's chief, which schedules the steps and writes the run.
`multiworker`: a worker of the MultiWorkerMirroredStrategy run, which trains itself.
Each prints READY once up, and exits when its parent process is gone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

from demo_models.distributed import stacks
from demo_models.distributed.cluster import READY

# Optional packages that TensorFlow and Keras import at start-up whenever they are installed
# (TF Lite's JAX converter, Keras's plots and data adapters) and a task never uses. A None
# entry in sys.modules makes their `import` raise ImportError, which those importers catch:
# `import tensorflow` then costs a server 3.0 s of CPU and the chief 4.0 s instead of 5.3 s
# (benchmarks page): a cluster of four starts ~8 s of CPU sooner. Servers load no data;
# the chief and the multi-worker tasks may read the digits stand-in, which needs
# scikit-learn (and SciPy).
UNUSED = ("jax", "matplotlib", "pandas")
UNUSED_BY_SERVERS = (*UNUSED, "scipy", "sklearn")


def skip_unused_imports(names: tuple[str, ...]) -> None:
    """Mark `names` absent for this process (those already imported stay)."""
    for name in names:
        sys.modules.setdefault(name, None)


def watch_parent(parent: int) -> None:
    """Exit at once when `parent` is no longer this process's parent (it died)."""

    def loop() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=loop, name="watch-parent", daemon=True).start()


def ready() -> None:
    """Tell the parent this task is up, in one write (the relay drops it whole)."""
    sys.stdout.flush()
    # print() under PYTHONUNBUFFERED writes the line and its newline apart: a chunk may split
    os.write(sys.stdout.fileno(), f"{READY}\n".encode())


def serve(spec: dict, job: str, index: int) -> None:
    """Run a TensorFlow server for task `job` `index` until killed."""
    import tensorflow as tf

    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(spec), task_type=job, task_id=index, rpc_layer="grpc"
    )
    server = tf.distribute.Server(
        resolver.cluster_spec(), job_name=job, task_index=index, protocol="grpc", start=True
    )
    ready()
    server.join()


def main(argv: list[str]) -> int:
    """Parse a task's options and run it."""
    p = argparse.ArgumentParser(prog="python -m demo_models.distributed.task")
    p.add_argument("--parent", type=int, required=True)
    sub = p.add_subparsers(dest="mode", required=True)
    server = sub.add_parser("server")
    server.add_argument("--cluster", required=True)
    server.add_argument("--job", required=True, choices=["ps", "worker"])
    server.add_argument("--index", type=int, required=True)
    for mode in ("coordinator", "multiworker"):
        sub.add_parser(mode).add_argument("--options", required=True, help="Options as JSON")
    args = p.parse_args(argv)
    stacks.listen()  # before TensorFlow starts its threads: they inherit the blocked signal
    watch_parent(args.parent)
    skip_unused_imports(UNUSED_BY_SERVERS if args.mode == "server" else UNUSED)
    if args.mode == "server":
        serve(json.loads(args.cluster), args.job, args.index)
        return 0
    if args.mode == "coordinator":
        from demo_models.distributed import ps
        from demo_models.distributed.model import Options

        ready()
        return ps.train(Options(**json.loads(args.options)))
    from demo_models.distributed import multiworker

    return multiworker.worker_main(json.loads(args.options), on_ready=ready)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
