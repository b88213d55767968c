"""The coordinator (chief) of the parameter-server run: it schedules steps and writes the run.

`ParameterServerStrategy` puts every variable on the ps task(s); `ClusterCoordinator`
queues each training step as a closure that the next free worker runs, asynchronously:
each worker reads the current weights from the ps, computes its batch's gradients and
sends Adam's update back, without waiting for the other workers. When a worker is lost,
its unfinished closures go back to the queue and the remaining workers run them.
Only this process writes summaries.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from typing import Any

from demo_models import notes
from demo_models.distributed import model as shared
from demo_models.distributed import stacks
from demo_models.distributed.model import Options
from demo_models.lesson import log_training, say


def reachable(address: str, timeout: float = 0.5) -> bool:
    """Whether a task's gRPC port still accepts connections (its process is alive)."""
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def worker_of(remote: Any) -> int | None:
    """The index of the worker that ran a finished closure (its result lives there)."""
    # RemoteValue's public API copies the result to the coordinator and forgets where it
    # came from; the tensors it holds before that copy still carry the worker's device
    values = remote._get_values()  # noqa: SLF001
    first = values[0] if isinstance(values, (tuple, list)) else values
    device = getattr(first, "device", "") or ""
    if "/job:worker" not in device or "/task:" not in device:
        return None
    return int(device.split("/task:")[1].split("/")[0])


def kill_worker(opts: Options) -> int:
    """SIGKILL the last worker process (the lesson's lost machine); returns its index."""
    import os
    import signal

    index = opts.workers - 1
    os.kill(opts.worker_pids[index], signal.SIGKILL)
    return index


def train(opts: Options) -> int:
    """Train on the cluster `opts.cluster` and write the run into `opts.logdir`."""
    import tensorflow as tf

    import summaries

    data = shared.load_data(opts.mnist)
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(opts.cluster), task_type="chief", task_id=0, rpc_layer="grpc"
    )
    strategy = tf.distribute.ParameterServerStrategy(resolver)
    coordinator = tf.distribute.coordinator.ClusterCoordinator(strategy)
    stacks.describe(lambda: coordinator_state(coordinator))
    with strategy.scope():
        model, optimizer, predict = shared.build(data.pixels, opts.seed)

    images, labels = data.x_train, data.y_train

    def dataset_fn(context):
        dataset = tf.data.Dataset.from_tensor_slices((images, labels))
        dataset = dataset.shuffle(len(images), seed=opts.seed).repeat()
        return dataset.batch(opts.batch_size, drop_remainder=True).prefetch(2)

    def per_worker_dataset():
        return strategy.distribute_datasets_from_function(dataset_fn)

    batches = iter(coordinator.create_per_worker_dataset(per_worker_dataset))

    @tf.function
    def step(iterator):
        batch_images, batch_labels = next(iterator)
        return strategy.run(
            lambda x, y: shared.replica_step(model, optimizer, x, y, opts.batch_size),
            args=(batch_images, batch_labels),
        )

    writer = tf.summary.create_file_writer(opts.logdir)
    lost: set[int] = set()
    addresses = opts.cluster["worker"]
    with writer.as_default():
        summaries_note(f"{data.source}; cluster: {describe(opts.cluster)}")
        notes.write("distributed")  # the lesson note (Text tab)
        concrete = step.get_concrete_function(batches)
        shared.write_graph(shared.device_graph(concrete, "/job:worker/device:CPU:0"))
        done = 0
        last_loss = float("nan")
        while done < opts.steps:
            chunk = min(opts.log_every, opts.steps - done)
            began = time.monotonic()
            remotes = [coordinator.schedule(step, args=(batches,)) for _ in range(chunk)]
            kill_at = opts.kill_worker_at
            if kill_at is not None and done <= kill_at < done + chunk:
                remotes[kill_at - done].fetch()  # that step is done; the rest are queued
                index = kill_worker(opts)
                say(f"distributed: killed worker {index} after step {kill_at}")
            coordinator.join()
            seconds = time.monotonic() - began
            ran = Counter(worker_of(r) for r in remotes)
            for offset, remote in enumerate(remotes):
                loss, correct = remote.fetch()
                last_loss = float(loss)
                log_training(
                    done + offset, loss=last_loss, accuracy=float(correct) / opts.batch_size
                )
            done += chunk
            say(f"distributed: step {done} of {opts.steps}, loss {last_loss:.4f}")
            with tf.name_scope("cluster"):
                for index in range(opts.workers):
                    summaries.scalar(
                        f"steps_per_second/worker_{index}", ran.get(index, 0) / seconds, step=done
                    )
                live = [i for i, a in enumerate(addresses) if i not in lost and reachable(a)]
                summaries.scalar("live_workers", len(live), step=done)
            for index in sorted(set(range(opts.workers)) - set(live) - lost):
                lost.add(index)
                text = (
                    f"worker {index} ({addresses[index]}) lost by step {done}; "
                    f"the steps it had not finished ran on worker(s) {live}"
                )
                say(f"distributed: {text}")
                tf.summary.text("cluster/events", text, step=done)
            shared.log_weights(model, done)
        accuracy = shared.test_accuracy(predict, data, done)
        say(
            f"distributed: {done} steps on {opts.workers} worker(s), "
            f"{len(lost)} lost; final loss {last_loss:.4f}, test accuracy {accuracy:.4f}"
        )
    writer.close()
    return 0


def coordinator_state(coordinator: Any) -> list[str]:
    """The coordinator's queue: steps queued and in flight, and workers it counts as failed
    (private attributes of TensorFlow's ClusterCoordinator, read for a stall report only)."""
    cluster = coordinator._cluster  # noqa: SLF001
    queue = cluster.closure_queue
    failed = [w.worker_index for w in cluster.workers if w._is_dead_with_error]  # noqa: SLF001
    return [
        f"coordinator: {queue._queue.qsize()} step(s) queued, "  # noqa: SLF001
        f"{queue.inflight_closure_count} in flight, failed workers {failed or 'none'}"
    ]


def describe(cluster: dict) -> str:
    """One line naming each job's tasks."""
    return "; ".join(f"{job}: {', '.join(tasks)}" for job, tasks in cluster.items())


def summaries_note(text: str) -> None:
    """Print a line and keep it in the run's Text tab."""
    import tensorflow as tf

    say(f"distributed: {text}")
    tf.summary.text("about/run", text, step=0)
