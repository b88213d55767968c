"""The lesson's head on cached bottlenecks, and what the run logs (scalars to Projector).

The lesson's `inference`: `layer1` and `layer2` fully connected with ReLU, then `logits`;
softmax cross entropy; `GradientDescentOptimizer`; each step a random batch of cached
bottleneck vectors (`get_random_cached_bottlenecks`). Two departures, both so that plain
gradient descent moves: weights start at truncated normal with stddev sqrt(2 / fan-in)
(the slides' 0.001 leaves three layers' gradients near zero), and `logits` has no ReLU
(a ReLU there clips every negative score and can stall a class for good).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from demo_models import lesson
from summaries import storage

LAYERS = (256, 64)  # layer1, layer2 units
NAMES = ("layer1", "layer2", "logits")
BATCH_SIZE = 100
LOG_EVERY = 50
EVAL_EVERY = 500
PROJECTOR_MAX = 2000  # vectors shown in the Projector (the sprite holds one thumbnail each)


@dataclass(frozen=True)
class Bottlenecks:
    """Cached vectors and labels of one task, split into training and test images."""

    x_train: np.ndarray  # float32 [n, dim]
    y_train: np.ndarray  # int64 [n]
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    test_images: np.ndarray  # uint8 [n_test, h, w(, c)]: the Confusion page's examples


def build(dim: int, classes: int, learning_rate: float, seed: int = 0):
    """The head and its `train_step` and `predict` tf.functions (plain gradient descent)."""
    import tensorflow as tf

    class Head(tf.Module):
        """relu(relu(x W1 + b1) W2 + b2) W3 + b3, one name scope per layer."""

        names = NAMES

        def __init__(self) -> None:
            super().__init__(name="head")
            init = tf.random.Generator.from_seed(seed)
            sizes = (dim, *LAYERS, classes)
            self.layers = [
                (
                    tf.Variable(
                        init.truncated_normal([n_in, n_out], stddev=(2.0 / n_in) ** 0.5),
                        name="weights",
                    ),
                    tf.Variable(tf.zeros([n_out]), name="biases"),
                )
                for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
            ]

        def __call__(self, x):
            for name, (weights, biases) in zip(self.names, self.layers, strict=True):
                with tf.name_scope(name):
                    x = tf.matmul(x, weights) + biases
                    if name != "logits":
                        x = tf.nn.relu(x)
            return x

    head = Head()
    rate = tf.constant(learning_rate, tf.float32)

    @tf.function(autograph=False)  # plain Python control flow: no AutoGraph needed
    def train_step(bottlenecks, labels):
        with tf.name_scope("input"):
            x = tf.identity(bottlenecks, name="bottleneck_input")
            y = tf.one_hot(labels, classes, name="ground_truth_input")
        with tf.GradientTape() as tape:
            logits = head(x)
            with tf.name_scope("cross_entropy"):
                loss = tf.reduce_mean(
                    tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits)
                )
        with tf.name_scope("train"):  # GradientDescentOptimizer: v -= rate * gradient
            variables = head.trainable_variables
            for variable, gradient in zip(variables, tape.gradient(loss, variables), strict=True):
                variable.assign_sub(rate * gradient)
        with tf.name_scope("accuracy"):
            correct = tf.equal(tf.argmax(logits, 1), tf.argmax(y, 1))
            accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
        return loss, accuracy

    @tf.function(autograph=False)
    def predict(bottlenecks):
        return tf.argmax(head(bottlenecks), 1)

    return head, train_step, predict


def train(
    run: lesson.Run,
    data: Bottlenecks,
    model: tuple[Any, Any, Any],
    steps: int,
    seed: int = 0,
    batch_size: int = BATCH_SIZE,
) -> float:
    """Train `model` (what `build` returns) in `run` on random batches of cached bottlenecks;
    returns the test accuracy.

    Logs cross entropy and train accuracy, weight histograms, test accuracy and the test
    set's confusion matrix with its misclassified images (the Confusion page).
    """
    import tensorflow as tf

    import summaries

    head, train_step, predict = model
    rng = np.random.default_rng(seed + run.start)
    last = run.start + steps - 1
    log_every = lesson.interval(steps, LOG_EVERY, 20)
    eval_every = lesson.interval(steps, EVAL_EVERY, 4)
    accuracy = float("nan")
    for step in run.steps(steps):
        # get_random_cached_bottlenecks: random images, with replacement
        take = rng.integers(0, len(data.y_train), batch_size)
        loss, train_accuracy = run.train(step, train_step, data.x_train[take], data.y_train[take])
        if lesson.every(step, log_every, last):  # the lessons' tags: train/..., test/...
            summaries.scalar("train/loss", loss, step=step)
            summaries.scalar("train/accuracy", train_accuracy, step=step)
        if lesson.every(step, eval_every, last):
            for name, (weights, biases) in zip(head.names, head.layers, strict=True):
                with tf.name_scope(name):
                    summaries.histogram("weights", weights, step=step)
                    summaries.histogram("biases", biases, step=step)
            predicted = predict(data.x_test).numpy()
            accuracy = float(np.mean(predicted == data.y_test))
            summaries.scalar("test/accuracy", accuracy, step=step)
            summaries.confusion(
                "confusion/test",
                data.y_test,
                predicted,
                classes=data.classes,
                step=step,
                images=data.test_images,
                cap_per_cell=4,
            )
            lesson.say(f"step {step}: test accuracy {accuracy:.4f} ({len(data.y_test)} images)")
    return accuracy


def sprite(thumbnails: np.ndarray) -> tuple[bytes, int]:
    """One PNG of `thumbnails` [n, s, s(, 3)] uint8 in a square grid; returns it and s."""
    from PIL import Image

    n, side = len(thumbnails), thumbnails.shape[1]
    if thumbnails.ndim == 3:
        thumbnails = np.repeat(thumbnails[..., None], 3, axis=-1)
    columns = int(np.ceil(np.sqrt(n)))
    grid = np.full((columns * side, columns * side, 3), 255, np.uint8)
    for i, thumb in enumerate(thumbnails):
        row, col = divmod(i, columns)
        grid[row * side : (row + 1) * side, col * side : (col + 1) * side] = thumb[..., :3]
    buffer = io.BytesIO()
    Image.fromarray(grid).save(buffer, format="PNG")
    return buffer.getvalue(), side


def _tsv_cell(text: str) -> str:
    return " ".join(str(text).split())  # no tabs or newlines inside a cell


def write_projector(
    logdir: Any,
    vectors: np.ndarray,
    labels: list[str],
    groups: list[str],
    thumbnails: np.ndarray,
    name: str = "bottlenecks",
) -> None:
    """Put `vectors` in TensorBoard's Projector: checkpoint, labels TSV, sprite, config.

    `labels` colour the points (the class), `groups` is a second column (e.g. train/test);
    `thumbnails` [n, s, s(, 3)] uint8 make the sprite, so points can show as images.
    """
    import tensorflow as tf
    from tensorboard.plugins import projector

    n = len(vectors)
    if not (len(labels) == len(groups) == len(thumbnails) == n):
        raise ValueError(
            f"labels, groups and thumbnails must have {n} entries (one per vector), got "
            f"{len(labels)}, {len(groups)} and {len(thumbnails)}"
        )
    path = storage.log_path(logdir, "logdir")
    rows = ["class\tsplit"] + [
        f"{_tsv_cell(label)}\t{_tsv_cell(group)}"
        for label, group in zip(labels, groups, strict=True)
    ]
    png, side = sprite(thumbnails)
    for file, content in (("metadata.tsv", ("\n".join(rows) + "\n").encode()), ("sprite.png", png)):
        with tf.io.gfile.GFile(str(path / file), "wb") as f:  # local paths and URIs alike
            f.write(content)
    # TensorBoard finds the vectors through the run directory's `checkpoint` file
    variable = tf.Variable(np.asarray(vectors, np.float32), name=name)
    checkpoint = tf.train.Checkpoint(**{name: variable})
    tf.train.CheckpointManager(checkpoint, str(path), max_to_keep=1, checkpoint_name=name).save()
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = f"{name}/.ATTRIBUTES/VARIABLE_VALUE"
    embedding.metadata_path = "metadata.tsv"
    embedding.sprite.image_path = "sprite.png"
    embedding.sprite.single_image_dim.extend([side, side])
    projector.visualize_embeddings(str(path), config)


def projector_sample(n: int, seed: int = 0, limit: int = PROJECTOR_MAX) -> np.ndarray:
    """Indices of at most `limit` of `n` items, sorted (all of them when n <= limit)."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))
