"""`flowscope demo catsdogs`: the course's cats-vs-dogs CNN on a folder of photos.

The lesson trains 10,000 steps, printing training accuracy every 100 steps and test
accuracy every 1,000. Here each 1,000-step stretch is one Keras epoch. The lessons' tags:
training loss and accuracy every 100 steps (``train/loss``, ``train/accuracy``, Keras's
running means, at the global step), the whole test set's accuracy and loss at each test
(``test/accuracy``, ``test/loss``, at the global step), as the lesson prints them.
`SummaryCallback` adds at each test the weight and gradient histograms, the optimizer's
state, sample inputs and the Confusion page with the misclassified photos (its one
position named "all", as in the other lessons), at the same global step as the test's
scalars.

The run directory holds the event files, ``checkpoints/`` (model, optimizer and counters,
saved after every test; not ``checkpoint/``, which TensorBoard reads as its own) and, at
the end, ``model.keras`` and ``labels.json`` for `flowscope predict catsdogs`. Running the
same command again resumes: steps continue.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from demo_models import lesson, notes
from demo_models.catsdogs import data, model
from demo_models.runtime import (
    CliError,
    check_minimums,
    checkpoint_dir,
    command_parser,
    writable_dir,
)

TRAINING_STEPS = 10_000  # the lesson's TRAIN_STEP
LOG_EVERY = 100  # training accuracy, as the lesson prints it
TEST_EVERY = 1_000  # test accuracy
BATCH_SIZE = 32
IMAGE_SIZE = 64  # the lesson's IMAGE_SIZE is not printed; 64 keeps a CPU run practical
QUICK = {"steps": 150, "log_every": 10, "test_every": 50, "batch_size": 16, "image_size": 48}
STANDIN_PER_CLASS = 400  # training crops per class of the offline stand-in
CONFUSION_SAMPLES = 400  # test photos in the Confusion page (held in memory)
STATE = "state.json"
MODEL_FILE = "model.keras"
LABELS_FILE = "labels.json"


def _parser() -> argparse.ArgumentParser:
    p = command_parser(
        "demo catsdogs",
        (
            "Train the course's cats-vs-dogs CNN (conv1_1..conv4_2, four poolings, fc 512/256/2 "
            "with dropout, Adam) on photos streamed from disk, logging scalars, histograms, "
            "sample inputs, the graph and the Confusion page with the misclassified photos. "
            "Without --data it runs offline on crops of two real photographs scikit-learn "
            "ships (NOT cats and dogs) and says so."
        ),
        epilog="Running again resumes from the run's checkpoint and continues its steps; "
        "--fresh starts over. Then: flowscope predict catsdogs RUN_DIR UNLABELLED --out SORTED",
    )
    p.add_argument(
        "--data",
        metavar="DIR",
        help="Kaggle layout (DIR/train/cat.1.jpg, dog.1.jpg) or class sub-folders "
        "(DIR/cat/*.jpg, DIR/dog/*.jpg); default: the offline stand-in",
    )
    p.add_argument("--logdir", default="runs/catsdogs", help="run directory (default %(default)s)")
    p.add_argument(
        "--steps",
        type=int,
        help=f"training steps to run now (default {TRAINING_STEPS}; --quick: {QUICK['steps']})",
    )
    p.add_argument("--quick", action="store_true", help="a short run with small images")
    p.add_argument("--batch-size", type=int, help=f"default {BATCH_SIZE} (--quick: 16)")
    p.add_argument(
        "--image-size", type=int, help=f"images are resized to N x N (default {IMAGE_SIZE})"
    )
    p.add_argument("--log-every", type=int, help=f"training scalars every N steps ({LOG_EVERY})")
    p.add_argument("--test-every", type=int, help=f"test every N steps (default {TEST_EVERY})")
    p.add_argument(
        "--test-fraction",
        type=float,
        default=0.1,
        help="labelled photos held out for testing (default %(default)s)",
    )
    p.add_argument("--lr", type=float, default=model.LEARNING_RATE, help="Adam's learning rate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--fresh", action="store_true", help="delete the run's logs and checkpoint first"
    )
    lesson.add_guide_options(p)
    return p


def _options(argv: list[str]) -> argparse.Namespace:
    args = _parser().parse_args(argv)
    defaults = (
        QUICK
        if args.quick
        else {
            "steps": TRAINING_STEPS,
            "log_every": LOG_EVERY,
            "test_every": TEST_EVERY,
            "batch_size": BATCH_SIZE,
            "image_size": IMAGE_SIZE,
        }
    )
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    check_minimums(
        args, {"steps": 1, "log_every": 1, "test_every": 1, "batch_size": 1, "image_size": 16}
    )
    if not args.lr > 0:
        raise CliError("--lr must be > 0")
    return args


def _clear(run: Path) -> None:
    lesson.clear_run(run)
    run.mkdir(parents=True, exist_ok=True)


def _listing(args: argparse.Namespace) -> data.Listing:
    if args.data:
        return data.scan(args.data, args.test_fraction)
    per_class = STANDIN_PER_CLASS // 4 if args.quick else STANDIN_PER_CLASS
    return data.standin(per_class=per_class, side=96, seed=0)


def _confusion_set(listing: data.Listing, side: int, seed: int) -> tuple[np.ndarray, ...]:
    # a seeded sample of the test photos, every class represented
    order = np.random.default_rng(seed).permutation(len(listing.test))
    files = [listing.test[i] for i in order[:CONFUSION_SAMPLES]]
    return data.load_array(files, side, CONFUSION_SAMPLES)


def evaluate(net, test_ds) -> dict[str, float]:
    """Accuracy and mean cross entropy over one pass of the test set (the lesson's test)."""
    # not `net.evaluate`: the pipeline's length is unknown (ignore_errors), which it warns on
    correct = total = 0
    loss = 0.0
    for images, labels in test_ds:
        logits = np.asarray(net.predict_on_batch(images), np.float64)
        labels = labels.numpy()
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss -= float(log_p[np.arange(len(labels)), labels].sum())
        correct += int((logits.argmax(axis=1) == labels).sum())
        total += len(labels)
    return {"accuracy": correct / max(total, 1), "loss": loss / max(total, 1), "images": total}


def train_scalars(writer: Any, every: int, first_step: int) -> Any:
    """A Keras callback writing ``train/loss`` and ``train/accuracy`` every `every` steps."""
    import keras

    import summaries

    class TrainScalars(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.step = first_step  # counted here: reading the optimizer's would sync

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.step += 1
            if self.step % every == 0 and logs:
                with writer.as_default():
                    for key in ("loss", "accuracy"):
                        if key in logs:
                            summaries.scalar(f"train/{key}", float(logs[key]), step=self.step)

    return TrainScalars()


def main(argv: list[str]) -> int:
    """Train (or resume) the cats-vs-dogs network and write its logs, checkpoint and model."""
    args = _options(argv)
    listing = _listing(args)  # a bad --data fails before anything is written
    run = writable_dir(args.logdir, "--logdir", local_only="the checkpoint and saved model")
    if args.fresh:
        _clear(run)
    ckpt = checkpoint_dir(run, STATE)
    state = json.loads((ckpt / STATE).read_text()) if (ckpt / STATE).is_file() else None
    side = args.image_size
    if state:
        if state["classes"] != listing.classes:
            raise CliError(
                f"--data holds classes {listing.classes}, but the run in {run} was trained on "
                f"{state['classes']}; use another --logdir or --fresh"
            )
        side = int(state["image_size"])
        if side != args.image_size:
            print(f"catsdogs: resuming with the run's image size {side}, not {args.image_size}")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    import summaries
    from summaries.callback import SummaryCallback

    description = listing.describe()
    print(f"catsdogs: {description}", flush=True)
    if state:
        net = keras.models.load_model(ckpt / MODEL_FILE)
        print(f"catsdogs: resuming {run} at step {state['step']} (test {state['epoch']})")
    else:
        net = model.build(side, len(listing.classes), seed=args.seed, lr=args.lr)
    first_epoch = int(state["epoch"]) if state else 0
    start_step = int(net.optimizer.iterations.numpy())

    # a resumed run draws a new order, not the first run's again
    train_ds = data.dataset(
        listing.train, side, args.batch_size, train=True, seed=args.seed + start_step
    )
    test_ds = data.dataset(listing.test, side, 64, train=False)
    confusion = _confusion_set(listing, side, args.seed)
    callback = SummaryCallback(
        run,
        batch_freq=0,  # train/loss and train/accuracy come from train_scalars (the tag scheme)
        epoch_freq=0,
        validation_data=confusion,
        confusion_samples=CONFUSION_SAMPLES,
        class_names=listing.classes,
        position_names=["all"],  # the lessons' name for a classifier's one position
        max_images=8,
        cap_per_cell=8,
    )
    writer = tf.summary.create_file_writer(str(run))
    scalars = train_scalars(writer, args.log_every, start_step)
    with writer.as_default():
        tf.summary.text("about/data", description, step=start_step)
        notes.write("catsdogs", start_step)  # the lesson note (Text tab)
        summaries.scalar("data/skipped_files", listing.skipped_total, step=start_step)

    chunks = [args.test_every] * (args.steps // args.test_every)
    if args.steps % args.test_every:
        chunks.append(args.steps % args.test_every)
    train_seconds = 0.0
    tested = {"accuracy": float("nan"), "loss": float("nan")}
    for i, chunk in enumerate(chunks):
        epoch = first_epoch + i
        began = time.perf_counter()
        net.fit(
            train_ds,
            steps_per_epoch=chunk,
            epochs=epoch + 1,
            initial_epoch=epoch,
            shuffle=False,  # the dataset shuffles its file list itself
            verbose=0,
            callbacks=[scalars, callback],
        )
        train_seconds += time.perf_counter() - began
        step = int(net.optimizer.iterations.numpy())
        tested = evaluate(net, test_ds)
        undecodable = len(listing.test) - tested["images"]
        if i == 0 and undecodable:
            print(f"catsdogs: {undecodable} test file(s) did not decode and were dropped")
        with writer.as_default():
            summaries.scalar("test/accuracy", float(tested["accuracy"]), step=step)
            summaries.scalar("test/loss", float(tested["loss"]), step=step)
            # files with an image header that still fail to decode (the pipeline drops them)
            summaries.scalar("data/undecodable_test_files", undecodable, step=step)
        writer.flush()
        ckpt.mkdir(exist_ok=True)
        net.save(ckpt / MODEL_FILE)
        (ckpt / STATE).write_text(
            json.dumps(
                {
                    "epoch": epoch + 1,
                    "step": step,
                    "classes": listing.classes,
                    "image_size": side,
                }
            )
        )
        print(
            f"[Test ] step:{step}, test accuracy {tested['accuracy']:.4f}, "
            f"loss {tested['loss']:.4f}",
            flush=True,
        )
    callback.close()
    speed = args.steps * args.batch_size / max(train_seconds, 1e-9)
    with writer.as_default():
        summaries.scalar("speed/train_images_per_second", speed, step=start_step + args.steps)
    writer.close()
    net.save(run / MODEL_FILE)
    (run / LABELS_FILE).write_text(
        json.dumps({"classes": listing.classes, "image_size": side}, indent=2)
    )
    print(
        f"catsdogs: {args.steps} steps of {args.batch_size} images in {train_seconds:.1f} s "
        f"({speed:.0f} images/s, data pipeline included); final test accuracy "
        f"{tested['accuracy']:.4f}; saved {run / MODEL_FILE}"
    )
    lesson.print_guide("catsdogs", args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
