"""What both strategies share: the lesson's MNIST model, its replica step, data and logs.

The model is `mlp`'s 500/100 network with Adam 0.001 and its name scopes (`input`,
`model/hidden1` ..., `loss`, `train`, `accuracy`), built under a strategy's scope so that
its variables live where the strategy puts them (on the ps, or mirrored on every worker).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from demo_models import mlp, mnist

# the images shipped to the workers: the dataset travels inside the dataset function's graph,
# so the full 60,000-image MNIST is capped to keep that graph small
MAX_EXAMPLES = 12000
PS_DEVICE = "/job:ps/replica:0/task:{}/device:CPU:0"
WORKER_DEVICE = "/job:worker/replica:0/task:{}/device:CPU:0"
RESOURCE_OPS = ("ReadVariableOp", "AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp")


@dataclass(frozen=True)
class Options:
    """One distributed run's options, as passed from the command line to every task."""

    logdir: str
    steps: int
    batch_size: int = mlp.BATCH_SIZE
    log_every: int = 10
    seed: int = 0
    mnist: str | None = None
    workers: int = 2
    ps: int = 1
    cluster: dict | None = None  # job -> ["localhost:PORT", ...]
    index: int = 0  # this task's index (multiworker)
    kill_worker_at: int | None = None  # ps: SIGKILL the last worker after this step
    worker_pids: tuple[int, ...] = ()


def load_data(path: str | None) -> mnist.Digits:
    """The MNIST family's data (the offline stand-in without MNIST), capped for shipping."""
    data = mnist.load(path)
    return mnist.Digits(
        data.x_train[:MAX_EXAMPLES],
        data.y_train[:MAX_EXAMPLES],
        data.x_test,
        data.y_test,
        data.source,
        data.is_mnist,
    )


def global_batches(data: mnist.Digits, batch_size: int, seed: int):
    """The run's global batches (the same ones for every strategy and the single process)."""
    return data.next_batches(batch_size, seed=seed)


def build(pixels: int, seed: int) -> tuple[Any, Any, Any]:
    """The lesson's model, its Adam optimizer and `predict`, in the current strategy's scope."""
    model, optimizer, _, predict = mlp.build(pixels, seed)
    return model, optimizer, predict


def replica_step(model: Any, optimizer: Any, images: Any, labels: Any, global_batch: int):
    """One replica's step: loss over the global batch, Adam, and the number it got right.

    The loss is divided by the global batch size, so summing the replicas' gradients (as
    the strategies do) gives exactly the single-process gradient of the batch's mean loss.
    """
    import tensorflow as tf

    pixels = model.layers[0][0].shape[0]
    with tf.name_scope("input"):
        x = tf.reshape(images, [-1, pixels], name="x-input")
        y = tf.one_hot(labels, 10, name="y-input")
    with tf.GradientTape() as tape:
        logits = model(x)
        with tf.name_scope("loss"):
            per_example = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
    with tf.name_scope("train"):
        variables = model.trainable_variables
        optimizer.apply(tape.gradient(loss, variables), variables)
    with tf.name_scope("accuracy"):
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, 1), tf.argmax(y, 1)), tf.int64))
    return loss, correct


def log_weights(model: Any, step: int) -> None:
    """`mlp`'s weight and bias histograms, and hidden1's `variable_summaries`."""
    import tensorflow as tf

    import summaries

    mlp.log_weights(model, step)
    hidden1_weights = model.layers[model.names.index("hidden1")][0]
    with tf.name_scope("model"), tf.name_scope("hidden1"), tf.name_scope("weights"):
        summaries.variable_summaries(hidden1_weights.read_value(), name="", step=step)


def test_accuracy(predict: Any, data: mnist.Digits, step: int) -> float:
    """Accuracy on the test images, logged as `test/accuracy`."""
    import summaries

    accuracy = float(np.mean(predict(data.x_test).numpy() == data.y_test))
    summaries.scalar("test/accuracy", accuracy, step=step)
    return accuracy


def device_graph(concrete: Any, default_device: str) -> Any:
    """The step's GraphDef with every node's device: variables' where they live, else default.

    A traced function's nodes mostly carry no device (placement happens when it runs); the
    Graphs tab colours by device, so each variable's ops get its device (on the ps, or the
    worker's mirror) and the computation the device of the workers that run it.
    """
    graph_def = concrete.graph.as_graph_def()
    by_name = {}
    for external, internal in concrete.graph.captures:
        device = getattr(external, "device", "") or ""
        if device:
            by_name[internal.op.name] = device
    for node in graph_def.node:
        if node.name in by_name:
            node.device = by_name[node.name]
    for node in graph_def.node:
        if node.name in by_name:
            continue
        sources = [i.lstrip("^").split(":")[0] for i in node.input]
        owner = next((by_name[s] for s in sources if s in by_name), None)
        if owner and (node.op in RESOURCE_OPS or node.op.startswith("ResourceApply")):
            node.device = owner
        else:
            node.device = default_device
    return graph_def


def write_graph(graph_def: Any) -> None:
    """Write a GraphDef into the default writer's run (TensorBoard's Graphs tab)."""
    import tensorflow as tf

    tf.summary.graph(graph_def)
