"""What the MNIST classifier lessons (softmax, mlp, lenet5, regularized) share.

Their runs start alike (the lesson's options with `--mnist`, then the digits), their graphs
open with the lesson's `input` scope and score with a softmax cross entropy and an
`accuracy` scope, and their training loops draw a batch for every step, log the training
scalars every few steps and evaluate on the test set less often.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any, NamedTuple

from demo_models import lesson, mnist

CLASSES = 10
LOG_POINTS = 20  # a short run still logs its training scalars this often ...
EVAL_POINTS = 4  # ... and evaluates on the test set this often


def start(
    name: str, doc: str, argv: list[str], **length: int
) -> tuple[argparse.Namespace, mnist.Digits]:
    """Lesson `name`'s options (described by its `doc`'s first line; `length`: `steps` or
    `epochs`, and `quick_steps`), parsed, and the digits `--mnist` names."""
    args = lesson.parse(lesson.parser(name, doc.splitlines()[0], mnist=True, **length), argv)
    return args, mnist.load(args.mnist)


def inputs(images: Any, labels: Any, shape: list[int]) -> tuple[Any, Any]:
    """Scope `input`: the lesson's `x-input` (the images reshaped to `shape`) and `y-input`
    (the labels one-hot)."""
    import tensorflow as tf

    with tf.name_scope("input"):
        x = tf.reshape(images, shape, name="x-input")
        y = tf.one_hot(labels, CLASSES, name="y-input")
    return x, y


def cross_entropy(y: Any, logits: Any) -> Any:
    """The lessons' loss: the mean softmax cross entropy of `logits` against one-hot `y`."""
    import tensorflow as tf

    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))


def accuracy(logits: Any, y: Any) -> Any:
    """Scope `accuracy`: the share of rows whose largest logit is one-hot `y`'s class."""
    import tensorflow as tf

    with tf.name_scope("accuracy"):
        correct = tf.equal(tf.argmax(logits, 1), tf.argmax(y, 1))
        return tf.reduce_mean(tf.cast(correct, tf.float32))


class Step(NamedTuple):
    """One training step: its number, its batch, and what to log there."""

    step: int
    images: Any
    labels: Any
    log: bool  # the training scalars
    evaluate: bool  # the test set


def training(
    run: lesson.Run,
    data: mnist.Digits,
    steps: int,
    batch_size: int,
    seed: int,
    *,
    log_every: int,
    eval_every: int,
) -> Iterator[Step]:
    """The run's next `steps` steps, each with its batch; `log` every `log_every` steps and
    `evaluate` every `eval_every`, both more often in a short run, and both at the last step.

    Where the digits came from and a few of them are logged at once, before the first step."""
    batches = lesson.mnist_batches(run, data, batch_size, seed)
    last = run.start + steps - 1
    log_every = lesson.interval(steps, log_every, LOG_POINTS)
    eval_every = lesson.interval(steps, eval_every, EVAL_POINTS)

    def loop() -> Iterator[Step]:
        for step in run.steps(steps):
            images, labels = next(batches)
            yield Step(
                step,
                images,
                labels,
                log=lesson.every(step, log_every, last),
                evaluate=lesson.every(step, eval_every, last),
            )

    return loop()
