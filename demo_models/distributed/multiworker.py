"""The MultiWorkerMirroredStrategy run: every worker process runs this same loop.

Each worker holds a mirror of every variable, takes its slice of each global batch, and
the workers all-reduce their gradients every step (synchronous data parallelism), so the
run computes what one process would on the whole batch. Worker 0 is the chief: it alone
writes summaries; the others run the same steps (the all-reduces need them) and write
nothing. `train` with the default strategy is that one process, for comparison.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from demo_models import notes
from demo_models.distributed import model as shared
from demo_models.distributed.model import WORKER_DEVICE, Options
from demo_models.lesson import log_training, say


def train(strategy: Any, opts: Options, *, shard: int, shards: int, write: bool) -> dict:
    """Run `opts.steps` steps on `shard` of `shards` of every global batch; returns a summary."""
    import tensorflow as tf

    import summaries

    data = shared.load_data(opts.mnist)
    with strategy.scope():
        model, optimizer, predict = shared.build(data.pixels, opts.seed)
    local = opts.batch_size // shards

    @tf.function
    def step(images, labels):
        loss, correct = strategy.run(
            lambda x, y: shared.replica_step(model, optimizer, x, y, opts.batch_size),
            args=(images, labels),
        )
        reduce = tf.distribute.ReduceOp.SUM
        return strategy.reduce(reduce, loss, axis=None), strategy.reduce(reduce, correct, None)

    @tf.function
    def gather(values):
        return strategy.reduce(
            tf.distribute.ReduceOp.SUM, strategy.run(tf.identity, (values,)), None
        )

    writer = (
        tf.summary.create_file_writer(opts.logdir) if write else tf.summary.create_noop_writer()
    )
    batches = shared.global_batches(data, opts.batch_size, opts.seed)
    last = opts.steps - 1
    losses: list[float] = []
    with writer.as_default():
        if write:
            say(f"distributed: {data.source}; {shards} worker(s) of {local} examples a step")
            tf.summary.text("about/run", f"{data.source}; {shards} worker(s)", step=0)
            notes.write("distributed")  # the lesson note (Text tab)
        began, since = time.monotonic(), 0
        for number in range(opts.steps):
            images, labels = next(batches)
            x = images[shard * local : (shard + 1) * local]
            y = labels[shard * local : (shard + 1) * local]
            if number == 0 and write:
                concrete = step.get_concrete_function(x, y)
                shared.write_graph(shared.device_graph(concrete, WORKER_DEVICE.format(shard)))
            loss, correct = step(x, y)
            losses.append(float(loss))
            if number % opts.log_every == 0 or number == last:
                if write:
                    say(f"distributed: step {number + 1} of {opts.steps}, loss {float(loss):.4f}")
                    log_training(
                        number, loss=float(loss), accuracy=float(correct) / opts.batch_size
                    )
                rates = np.zeros(shards, np.float32)
                rates[shard] = (number + 1 - since) / max(time.monotonic() - began, 1e-9)
                rates = gather(tf.constant(rates)).numpy()  # every worker's own rate
                began, since = time.monotonic(), number + 1
                if write:
                    with tf.name_scope("cluster"):
                        for index, rate in enumerate(rates):
                            summaries.scalar(f"steps_per_second/worker_{index}", rate, step=number)
                    shared.log_weights(model, number)
        accuracy = shared.test_accuracy(predict, data, last) if write else float("nan")
    writer.close()
    if write:
        say(
            f"distributed: {opts.steps} steps, final loss {losses[-1]:.4f}, "
            f"test accuracy {accuracy:.4f}"
        )
    return {"losses": losses, "accuracy": accuracy}


def worker_main(options: dict, on_ready: Callable[[], None]) -> int:
    """One worker process: join the cluster through TF_CONFIG, then train."""
    opts = Options(**options)
    os.environ["TF_CONFIG"] = json.dumps(
        {"cluster": opts.cluster, "task": {"type": "worker", "index": opts.index}}
    )
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    on_ready()
    train(strategy, opts, shard=opts.index, shards=opts.workers, write=opts.index == 0)
    return 0
