"""`flowscope demo multitask`: the course's week 10, TFRecord input and multi-task learning.

The weekly notes end (section 十, "多任务学习及验证码识别") with two ideas:

* TFRecord files (10.1): convert the raw data once into TFRecord files, then read them
  through an input pipeline that prefetches in parallel with training, so that the network
  never waits for its data. Here the captchas of the captcha lesson's cache become sharded
  files of `tf.train.Example` records (`records.py`), read by `tf.data` (parallel
  interleave over the shards, shuffle, parallel PNG decoding, batch, prefetch).
* Multi-task learning (10.2): several similar tasks with several data sets are trained
  alternately; several tasks that share one data set are trained jointly.

The captcha reader (the `lite` network of the captcha lesson: one convolutional trunk and
four softmax heads) is split into two tasks: reading digits 1-2 and reading digits 3-4.
Both runs start from the same weights and train the same number of steps, each into its
own run under --logdir:

* `joint`: one data set (every shard, all four labels); each step minimises the sum of the
  four heads' losses with one optimizer.
* `alternate`: each task its own data set (the first half of the shards is labelled for
  digits 1-2 only, the second half for digits 3-4 only: two different sets of captchas);
  steps take turns, each minimising one task's loss with that task's own optimizer, like
  two TF1 `train_op`s run in turn.

This split keeps the comparison fair (the same trunk, heads and test captchas; accuracy per
task means the same thing in both runs) and makes the tasks as similar as the notes ask
(the same glyphs at other places), so the only difference is how the steps are shared.

Logged in each run: `train/loss/<task>`, `train/accuracy/<task>`, `train/loss` (their
sum) and `train/learning_rate` (a cosine over the command's steps); `test/accuracy/<task>`
and `test/loss/<task>` beside the captcha lesson's `test/` tags and `confusion/test` (the
Confusion page; compare the two runs); the input pipeline's
`input/images_per_second/tfrecord` and `/memory` (measured side by side on the same
captchas before training), `input/images_per_second/training` and `input/step_wait_ms`
(how long each step waited for its batch); the training step's graph with the scopes
`trunk`, `heads/<task>`, `loss` and `train`.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from demo_models import lesson
from demo_models.captcha import data, model, records
from demo_models.runtime import CliError, check_minimums

TASKS = {"digits_1_2": (0, 1), "digits_3_4": (2, 3)}  # task -> the digit positions it reads
MODES = ("joint", "alternate")
ARCH = "lite"
STEPS = 1200
QUICK_STEPS = 400
BATCH_SIZE = 32
LEARNING_RATE = 3e-3
TRAIN_SIZE, TEST_SIZE = data.PRESETS["quick"][:2]  # the captcha tour's sets: one cache
SHARDS = 8
LR_FLOOR = 0.02  # the cosine schedule ends at this fraction of --lr
LOG_EVERY = 10
EVAL_EVERY = 100
CAP_PER_CELL = 4


def _parser() -> argparse.ArgumentParser:
    p = lesson.parser(
        "multitask",
        "The course's week 10: captchas written once as sharded TFRecord files and read "
        "by a tf.data pipeline; the captcha reader trained two ways from the same start, "
        "jointly (one data set, the sum of the heads' losses) and alternately (each task its "
        "own data set, one task per step), each into its own run under --logdir.",
        steps=STEPS,
        quick_steps=QUICK_STEPS,
    )
    p.add_argument(
        "--train-size",
        type=int,
        default=TRAIN_SIZE,
        help="training captchas, written as TFRecord shards (default %(default)s)",
    )
    p.add_argument(
        "--test-size", type=int, default=TEST_SIZE, help="test captchas (default %(default)s)"
    )
    p.add_argument(
        "--shards",
        type=int,
        default=SHARDS,
        help="TFRecord files the training captchas are split into; the alternate run gives "
        "each task half of them (default %(default)s)",
    )
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="default %(default)s")
    p.add_argument(
        "--lr", type=float, default=LEARNING_RATE, help="Adam's learning rate (%(default)s)"
    )
    p.add_argument(
        "--cache-dir", help="data cache (default $FLOWSCOPE_CACHE, else ~/.cache/flowscope)"
    )
    p.add_argument("--workers", type=int, help="captcha generation processes (default: all)")
    return p


def _options(argv: list[str]) -> argparse.Namespace:
    args = _parser().parse_args(argv)
    check_minimums(args, {"train_size": 2, "test_size": 1, "shards": 2, "batch_size": 1, "seed": 0})
    if args.workers is not None:
        check_minimums(args, {"workers": 1})
    if args.shards > args.train_size:
        raise CliError(f"--shards must be <= --train-size ({args.train_size}), got {args.shards}")
    if args.batch_size > args.train_size:
        raise CliError(
            f"--batch-size must be <= --train-size ({args.train_size}), got {args.batch_size}"
        )
    if not args.lr > 0:
        raise CliError(f"--lr must be > 0, got {args.lr}")
    return lesson.prepare(args)


@dataclass
class Stream:
    """One data set and what it trains: its tasks, shard files, optimizer and step."""

    name: str
    tasks: tuple[str, ...]
    files: list
    positions: tuple[int, ...] = ()
    optimizer: Any = None
    step: Any = None
    batches: Any = None


def streams(mode: str, files: list) -> list[Stream]:
    """The data sets of a mode: joint, one for every task; alternate, one per task."""
    if mode == "joint":
        return [Stream("joint", tuple(TASKS), list(files))]
    half = len(files) // 2
    parts = (files[:half], files[half:])
    return [Stream(task, (task,), list(part)) for task, part in zip(TASKS, parts, strict=True)]


def make_step(trunk, heads, stream: Stream, variables: list):
    """The training step of one stream: its tasks' summed loss, one optimizer update."""
    import keras
    import tensorflow as tf

    names = model.head_names()
    columns = {task: [stream.positions.index(p) for p in TASKS[task]] for task in stream.tasks}

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            with tf.name_scope("trunk"):
                features = trunk(images, training=True)
            losses, accuracies = {}, {}
            with tf.name_scope("heads"):
                for task in stream.tasks:
                    with tf.name_scope(task):
                        task_losses, hits = [], []
                        for column, position in zip(columns[task], TASKS[task], strict=True):
                            scores = heads[names[position]](features, training=True)
                            truth = labels[:, column]
                            task_losses.append(
                                tf.reduce_mean(
                                    keras.losses.sparse_categorical_crossentropy(truth, scores)
                                )
                            )
                            hits.append(tf.equal(tf.argmax(scores, -1), truth))
                        losses[task] = tf.add_n(task_losses)
                        accuracies[task] = tf.reduce_mean(tf.cast(tf.stack(hits), tf.float32))
            with tf.name_scope("loss"):  # joint: the tasks' losses summed
                total = tf.reduce_sum(tf.stack(list(losses.values())), name="total")
        with tf.name_scope("train"):
            gradients = tape.gradient(total, variables)
            stream.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return losses, accuracies

    return train_step


def prepare(plan: list[Stream], keras_model, lr: float) -> None:
    """Give each stream its label columns, its own Adam and its training step."""
    import keras

    trunk, heads = model.split(keras_model)
    names = model.head_names()
    for stream in plan:
        stream.positions = tuple(p for task in stream.tasks for p in TASKS[task])
        variables = list(trunk.trainable_variables)
        for position in stream.positions:
            variables += heads[names[position]].trainable_variables
        stream.optimizer = keras.optimizers.Adam(lr, name=f"adam_{stream.name}")
        stream.optimizer.build(variables)  # its slots exist before a checkpoint restores them
        stream.step = make_step(trunk, heads, stream, variables)


class Interval:
    """The steps since the last log: their losses per task, images, time and data waits."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start a new interval."""
        self.started = time.perf_counter()
        self.images, self.steps, self.waited = 0, 0, 0.0
        self.sums: dict[str, list[float]] = {}  # task -> [loss sum, accuracy sum, steps]

    def add(self, losses: dict, accuracies: dict, images: int, waited: float) -> None:
        """Count one training step (its tasks' loss and accuracy, its batch, its wait)."""
        for task, loss in losses.items():
            sums = self.sums.setdefault(task, [0.0, 0.0, 0])
            sums[0] += float(loss)
            sums[1] += float(accuracies[task])
            sums[2] += 1
        self.images += images
        self.steps += 1
        self.waited += waited

    def log(self, step: int) -> None:
        """Write the interval's means at `step`, then start a new interval."""
        import summaries

        total = 0.0
        for task, (loss, accuracy, count) in self.sums.items():
            summaries.scalar(f"train/loss/{task}", loss / count, step=step)
            summaries.scalar(f"train/accuracy/{task}", accuracy / count, step=step)
            total += loss / count
        summaries.scalar("train/loss", total, step=step)  # the tasks' losses, summed
        seconds = max(time.perf_counter() - self.started, 1e-9)
        summaries.scalar("input/images_per_second/training", self.images / seconds, step=step)
        summaries.scalar("input/step_wait_ms", 1000 * self.waited / max(1, self.steps), step)
        self.reset()


def learning_rate(base: float, done: int, steps: int) -> float:
    """The rate after `done` of this command's `steps`: a cosine from `base` to LR_FLOOR *
    base, the same at the same step in both runs (a rerun starts a new cosine)."""
    fraction = min(1.0, done / max(1, steps - 1))
    return base * (LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * fraction)))


def evaluate(keras_model, validator, step: int) -> dict[str, float]:
    """Test the reader: the captcha lesson's `test/` tags and confusion, plus per task."""
    import summaries

    metrics = validator.run(keras_model, step)
    names = model.head_names()
    for task, positions in TASKS.items():
        accuracy = float(np.mean([metrics[f"{names[p]}/accuracy"] for p in positions]))
        loss = float(sum(metrics[f"{names[p]}/loss"] for p in positions))
        summaries.scalar(f"test/accuracy/{task}", accuracy, step=step)
        summaries.scalar(f"test/loss/{task}", loss, step=step)
        metrics[f"{task}/accuracy"] = accuracy
    return metrics


def train(
    mode: str,
    args: argparse.Namespace,
    files: list,
    validator,
    start_weights: list,
    steps: int,
    throughput: dict[str, float],
) -> dict[str, Any]:
    """Train one mode into `<logdir>/<mode>` and return its evaluations and timings."""
    import tensorflow as tf

    import summaries

    keras_model = model.build(ARCH, seed=args.seed)
    keras_model.set_weights(start_weights)  # both modes start from the same weights
    plan = streams(mode, files)
    prepare(plan, keras_model, args.lr)
    optimizers = {f"optimizer_{stream.name}": stream.optimizer for stream in plan}
    evaluations: dict[int, dict[str, float]] = {}
    waits: list[float] = []
    trained = 0.0  # seconds of training steps, their waits for data included
    with lesson.Run(
        "multitask", args.logdir / mode, label=f"multitask/{mode}", model=keras_model, **optimizers
    ) as run:
        for index, stream in enumerate(plan):
            pipeline = records.dataset(
                stream.files,
                args.batch_size,
                positions=stream.positions,
                seed=args.seed + index + run.start,
            )
            stream.batches = records.batches(pipeline, stream.files)
        for name, value in throughput.items():
            summaries.scalar(f"input/images_per_second/{name}", value, step=run.start)
        run.note(
            "about/data",
            ", ".join(
                f"{stream.name} reads {len(stream.files)} shard(s), labels of digit(s) "
                + " and ".join(str(p + 1) for p in stream.positions)
                for stream in plan
            ),
        )
        last = run.start + steps - 1
        log_every = lesson.interval(steps, LOG_EVERY, 20)
        eval_every = lesson.interval(steps, EVAL_EVERY, 4)
        interval = Interval()
        for step in run.steps(steps):
            stream = plan[step % len(plan)]  # alternate: the tasks take turns
            asked = time.perf_counter()
            images, labels = next(stream.batches)
            waited = time.perf_counter() - asked
            if step == run.start:
                with tf.name_scope("input"):  # decoded from the TFRecord files
                    summaries.image("images", images[:8], step=step, max_outputs=8)
            rate = learning_rate(args.lr, step - run.start, steps)
            stream.optimizer.learning_rate.assign(rate)
            losses, accuracies = run.train(step, stream.step, images, labels)
            interval.add(losses, accuracies, int(images.shape[0]), waited)
            if step >= run.start + len(plan):  # not a stream's first step (tracing, start-up)
                trained += time.perf_counter() - asked
                waits.append(waited)
            if lesson.every(step, log_every, last):
                interval.log(step)
                summaries.scalar("train/learning_rate", rate, step=step)
            if lesson.every(step, eval_every, last):
                metrics = evaluate(keras_model, validator, step)
                evaluations[step + 1] = metrics  # after step + 1 training steps
                lesson.say(
                    f"multitask/{mode} step {step}: test accuracy "
                    + ", ".join(f"{task} {metrics[f'{task}/accuracy']:.3f}" for task in TASKS)
                    + f", whole captcha {metrics['sequence_accuracy']:.3f}"
                )
    return {
        "evaluations": evaluations,
        "wait_ms": 1000 * float(np.mean(waits)) if waits else 0.0,
        "steps_per_second": len(waits) / max(trained, 1e-9),
    }


def _row(label: str, metrics: dict[str, float], extra: str = "") -> str:
    tasks = "".join(f"{metrics[f'{task}/accuracy']:12.3f}" for task in TASKS)
    whole = f"{metrics['accuracy']:11.3f}{metrics['sequence_accuracy']:15.3f}"
    return f"  {label:<22}{tasks}{whole}{extra}"


def report(results: dict[str, dict], throughput: dict[str, float], args, test_size: int) -> None:
    """Print the comparison: both modes' test accuracy at equal steps, and the pipeline's."""
    say = lesson.say
    last = {mode: max(result["evaluations"]) for mode, result in results.items()}
    final = {mode: results[mode]["evaluations"][step] for mode, step in last.items()}
    say(
        f"\nmultitask: test accuracy on {test_size:,} captchas, both runs from the same start, "
        f"batches of {args.batch_size}"
    )
    say(
        f"  {'run (steps)':<22}" + "".join(f"{t:>12}" for t in TASKS) + "  per digit  whole captcha"
    )
    for mode, result in results.items():
        speed = result["steps_per_second"]
        extra = f"   {speed:.1f} steps/s, {result['wait_ms']:.2f} ms a step waiting for data"
        say(_row(f"{mode} ({last[mode]})", final[mode], extra))
    joint = results["joint"]["evaluations"]
    half = last["alternate"] // 2  # alternate trained each head on half its steps
    near = min(joint, key=lambda k: abs(k - half))
    if near != last["joint"] and abs(near - half) <= max(1, half // 20):
        say(_row(f"joint ({near})", joint[near], "   as many updates per head as alternate's"))
    gaps = []
    for task in TASKS:
        gap = final["joint"][f"{task}/accuracy"] - final["alternate"][f"{task}/accuracy"]
        gaps.append(f"{gap:+.3f} on {task}")
    say(f"  joint minus alternate at equal steps: {', '.join(gaps)}")
    used = max(r["steps_per_second"] for r in results.values()) * args.batch_size
    say(
        f"input pipeline, the same {args.train_size:,} captchas in batches of {args.batch_size}: "
        f"TFRecord {throughput['tfrecord']:,.0f} images/s, in memory (.npy) "
        f"{throughput['memory']:,.0f} images/s; training took {used:,.0f} images/s, "
        f"{throughput['tfrecord'] / max(used, 1e-9):.1f}x less than the TFRecord pipeline gives"
    )


def main(argv: list[str]) -> int:
    """Write the TFRecord shards, measure the pipeline, train both modes, compare them."""
    args = _options(argv)
    steps = lesson.step_count(args)
    common = {"cache_dir": args.cache_dir, "workers": args.workers}
    # the captchas first: before TensorFlow starts its threads the generator may fork
    train_set = data.load(args.train_size, args.seed, "train", **common)
    test_set = data.load(args.test_size, args.seed, "validation", **common)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from demo_models.captcha.train import Validator

    where = records.folder(args.train_size, args.seed, "train", args.shards, args.cache_dir)
    files = records.ensure(train_set, where, args.shards, lesson.say)
    throughput = records.compare_throughput(files, train_set, args.batch_size, seed=args.seed)
    lesson.say(
        f"multitask: {len(files)} TFRecord shards in {where}; reading them: "
        f"{throughput['tfrecord']:,.0f} images/s, from memory {throughput['memory']:,.0f}"
    )
    keras.utils.set_random_seed(args.seed)
    start_weights = model.build(ARCH, seed=args.seed).get_weights()
    validator = Validator("test/", test_set, CAP_PER_CELL)
    results = {
        mode: train(mode, args, files, validator, start_weights, steps, throughput)
        for mode in MODES
    }
    report(results, throughput, args, len(test_set))
    lesson.print_guide("multitask", args)
    return 0
