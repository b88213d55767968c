"""`flowscope demo captcha`: train the captcha reader on CPU with full instrumentation.

The run directory holds the event file, `checkpoints/` (model + optimizer state + counters),
and after training `model.keras` and `labels.json`. Running the same command again resumes
from the checkpoint: step and epoch numbers continue where the last run stopped. (The folder
is not called `checkpoint`: TensorBoard reads a run's `checkpoint` as a TensorFlow checkpoint
index and warns "Checkpoint ignored" about a folder of that name on every reload.)

Tags follow the lessons' scheme: `train/loss`, `train/accuracy` (the four heads' mean),
`test/loss`, `test/accuracy` (per digit) and `test/sequence_accuracy` (whole captcha) on the
held-out validation captchas during training, `test/final_*` on the test set at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from demo_models import lesson, notes
from demo_models.captcha import data, model
from demo_models.runtime import (
    CHECKPOINT_DIR,
    OLD_CHECKPOINT_DIR,
    CliError,
    check_minimums,
    checkpoint_dir,
    writable_dir,
)

# Each preset: data sizes and the training recipe; explicit options override it.
PRESETS: dict[str, dict[str, Any]] = {
    # the course notes: 9,999 training and 100 test images, their 3-conv network
    "course": {
        "sizes": data.PRESETS["course"],
        "arch": "course",
        "epochs": 10,
        "batch_size": 64,
        "lr": 1e-3,
        "eval_every": 0,
        "cap_per_cell": 8,
    },
    # the tour: about a minute on 2 cores, >= 0.90 per digit, so its last errors are the
    # confusable pairs (4 epochs of 8,000 captchas at a high rate)
    "quick": {
        "sizes": data.PRESETS["quick"],
        "arch": "lite",
        "epochs": 4,
        "batch_size": 32,
        "lr": 3e-3,
        "eval_every": 50,
        "cap_per_cell": 4,
    },
    # the accuracy target: >= 0.99 per digit, >= 0.96 per captcha on fresh captchas
    "target": {
        "sizes": data.PRESETS["target"],
        "arch": "lite",
        "epochs": 3,
        "batch_size": 64,
        "lr": 2e-3,
        "eval_every": 500,
        "cap_per_cell": 8,
    },
}
STATE = "state.json"
CONFUSION_TAG = "confusion/test"  # on the validation captchas, as test/accuracy
MODEL_FILE = "model.keras"
LABELS_FILE = "labels.json"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flowscope demo captcha",
        description=(
            "Train a 4-digit captcha reader (convolutions + 4 softmax heads, one per digit) "
            "on seeded captchas, logging per-head loss/accuracy, whole-captcha accuracy, "
            "per-position confusion matrices and misclassified images. --preset course is "
            "the course notes' data and network. Running again resumes from the checkpoint "
            "with continuing step numbers."
        ),
    )
    p.add_argument("--logdir", default="runs/captcha", help="run directory (default %(default)s)")
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="target",
        help="data sizes and recipe: course = the notes' 9,999/100 images and network; "
        "quick = the tour (about 1 min); target = the accuracy target (default)",
    )
    p.add_argument("--quick", action="store_true", help="same as --preset quick")
    p.add_argument("--train-size", type=int, help="training captchas (per epoch with --fresh)")
    p.add_argument("--validation-size", type=int, help="validation captchas")
    p.add_argument("--test-size", type=int, help="test captchas evaluated at the end (0: none)")
    p.add_argument(
        "--arch",
        choices=sorted(model.ARCHS),
        help="network: lite (the presets' default), fast (wider, 2.3x the compute), "
        "course (the notes')",
    )
    bn = p.add_mutually_exclusive_group()
    bn.add_argument(
        "--batch-norm",
        dest="batch_norm",
        action="store_true",
        default=None,
        help="batch normalisation after each convolution (default: as the arch says)",
    )
    bn.add_argument("--no-batch-norm", dest="batch_norm", action="store_false")
    p.add_argument("--augment", action="store_true", help="random shifts/rotation/contrast")
    p.add_argument(
        "--fresh", action="store_true", help="new training captchas every epoch (never repeats)"
    )
    p.add_argument("--epochs", type=int, help="epochs to train in this run")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="Adam learning rate (cosine-decayed over the run)")
    p.add_argument(
        "--eval-every",
        type=int,
        help="validate (confusion + examples) every N steps as well as each epoch (0: epochs)",
    )
    p.add_argument("--scalar-every", type=int, default=10, help="train scalars every N steps")
    p.add_argument("--cap-per-cell", type=int, help="example images kept per cell (default 8)")
    p.add_argument("--seed", type=int, default=0, help="data and initialisation seed")
    p.add_argument(
        "--cache-dir", help="data cache (default $FLOWSCOPE_CACHE, else ~/.cache/flowscope)"
    )
    p.add_argument("--no-cache", action="store_true", help="generate data without caching it")
    p.add_argument("--workers", type=int, help="data generation processes (default: all cores)")
    p.add_argument(
        "--run-eagerly",
        action="store_true",
        help="no tf.function tracing: slower per step, but starts at once (debugging, tiny runs)",
    )
    p.add_argument(
        "--restart", action="store_true", help="discard this run's checkpoint and logs first"
    )
    lesson.add_guide_options(p)
    return p


def _options(argv: list[str]) -> argparse.Namespace:
    args = _parser().parse_args(argv)
    preset = PRESETS["quick" if args.quick else args.preset]
    if args.quick:
        args.preset = "quick"
    sizes = dict(zip(("train_size", "validation_size", "test_size"), preset["sizes"], strict=True))
    for key, value in {**sizes, **preset}.items():
        if key != "sizes" and getattr(args, key, None) is None:
            setattr(args, key, value)
    check_minimums(
        args,
        {
            "train_size": 1,
            "validation_size": 1,
            "test_size": 0,
            "epochs": 1,
            "batch_size": 1,
            "eval_every": 0,
            "scalar_every": 1,
            "cap_per_cell": 1,
            "seed": 0,
        },
    )
    if not args.lr > 0:
        raise CliError("--lr must be > 0")
    return args


def _clear(run: Path) -> None:
    """Remove what an earlier run of this command wrote (only Flowscope's own files)."""
    for folder in (CHECKPOINT_DIR, OLD_CHECKPOINT_DIR):
        shutil.rmtree(run / folder, ignore_errors=True)
    for name in (MODEL_FILE, LABELS_FILE):
        (run / name).unlink(missing_ok=True)
    for event in run.glob("events.out.tfevents.*"):
        event.unlink()


def _load_sets(args: argparse.Namespace) -> dict[str, data.CaptchaSet]:
    common = {
        "cache_dir": args.cache_dir,
        "use_cache": not args.no_cache,
        "workers": args.workers,
    }
    sets = {"validation": data.load(args.validation_size, args.seed, "validation", **common)}
    if args.test_size:
        sets["test"] = data.load(args.test_size, args.seed, "test", **common)
    return sets


def _train_set(args: argparse.Namespace, epoch: int) -> data.CaptchaSet:
    split = data.FRESH_BASE + epoch if args.fresh else "train"
    return data.load(
        args.train_size,
        args.seed,
        split,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache and not args.fresh,  # fresh sets are used once
        workers=args.workers,
    )


class Validator:
    """Predicts a held-out set and writes its loss, accuracies, confusion and examples."""

    def __init__(self, prefix: str, dataset: data.CaptchaSet, cap_per_cell: int):
        self.prefix = prefix  # "test/" or "test/final_"
        self.images = np.asarray(dataset.images)
        self.labels = np.asarray(dataset.labels, np.int64)
        self.cap = cap_per_cell

    def predict(self, keras_model) -> np.ndarray:
        """Softmax scores [N, 4, 10]."""
        out = keras_model.predict(self.images[..., None], batch_size=256, verbose=0)
        return np.stack([out[name] for name in model.head_names()], axis=1)

    def run(self, keras_model, step: int, *, confusion: bool = True) -> dict[str, float]:
        """Evaluate, write summaries at `step`, return the headline metrics."""
        import summaries

        scores = self.predict(keras_model)
        metrics = metrics_from_scores(scores, self.labels)
        for key, value in metrics.items():
            summaries.scalar(f"{self.prefix}{key}", value, step=step)
        if confusion:
            summaries.confusion(
                CONFUSION_TAG,
                self.labels,
                scores.argmax(-1),
                classes=list(data.DIGITS),
                positions=model.position_names(),
                step=step,
                images=self.images,
                cap_per_cell=self.cap,
                # the whole-captcha accuracy scalar written above, at the same steps
                sequence_accuracy_tag=f"{self.prefix}sequence_accuracy",
            )
        return metrics


def metrics_from_scores(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Per-head loss and accuracy, per-digit accuracy (`accuracy`) and whole-captcha accuracy
    (`sequence_accuracy`)."""
    predicted = scores.argmax(-1)
    correct = predicted == labels
    picked = np.take_along_axis(scores, labels[..., None], axis=-1)[..., 0]
    losses = -np.log(np.clip(picked, 1e-7, 1.0)).mean(axis=0)
    out: dict[str, float] = {}
    for i, head in enumerate(model.head_names()):
        out[f"{head}/loss"] = float(losses[i])
        out[f"{head}/accuracy"] = float(correct[:, i].mean())
    out["loss"] = float(losses.sum())
    out["accuracy"] = float(correct.mean())
    out["sequence_accuracy"] = float(correct.all(axis=1).mean())
    return out


def _summary_callback(writer, validator: Validator, args, state: dict):
    """A Keras callback: progress bar, train scalars, validation every N steps."""
    import keras
    import tensorflow as tf
    from tqdm.auto import tqdm

    import summaries

    class Instrument(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.bar = None

        def on_epoch_begin(self, epoch, logs=None):
            self.bar = tqdm(
                total=state["steps_per_epoch"],
                desc=f"epoch {epoch + 1}/{state['last_epoch']}",
                file=sys.stderr,
                disable=bool(os.environ.get("FLOWSCOPE_NO_PROGRESS")),
                leave=False,
            )

        def on_train_batch_end(self, batch, logs=None):
            step = int(self.model.optimizer.iterations.numpy())
            self.bar.update(1)
            if logs and "loss" in logs:
                self.bar.set_postfix(loss=f"{float(logs['loss']):.3f}", refresh=False)
            with writer.as_default():
                if step % args.scalar_every == 0 and logs:
                    # Keras reports running means over the epoch so far
                    for key, value in logs.items():
                        tag = key.replace("_loss", "/loss").replace("_accuracy", "/accuracy")
                        summaries.scalar(f"train/{tag}", float(value), step=step)
                    heads = [float(v) for k, v in logs.items() if k.endswith("_accuracy")]
                    if heads:  # the headline: per digit, like test/accuracy
                        summaries.scalar("train/accuracy", sum(heads) / len(heads), step=step)
                    lr = self.model.optimizer.learning_rate
                    summaries.scalar("train/learning_rate", float(tf.convert_to_tensor(lr)), step)
                # an epoch's last step is validated once, by the loop after fit()
                last = batch + 1 >= state["steps_per_epoch"]
                if args.eval_every and step % args.eval_every == 0 and not last:
                    validator.run(self.model, step)

        def on_epoch_end(self, epoch, logs=None):
            self.bar.close()

    return Instrument()


def _compile(keras_model, lr: float, total_steps: int) -> None:
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(lr, max(1, total_steps), alpha=0.02)
    keras_model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss={name: "sparse_categorical_crossentropy" for name in model.head_names()},
        metrics={name: ["accuracy"] for name in model.head_names()},
    )


def main(argv: list[str]) -> int:
    """Train (or resume) the captcha reader and write its logs, checkpoint and model."""
    args = _options(argv)
    run = writable_dir(args.logdir, "--logdir", local_only="the checkpoint and saved model")
    if args.restart:
        _clear(run)
    ckpt_dir = checkpoint_dir(run, STATE)
    state_file = ckpt_dir / STATE
    state = json.loads(state_file.read_text()) if state_file.is_file() else None

    started = time.time()
    # Data first: before TensorFlow starts its threads the generator may fork (faster).
    sets = _load_sets(args)
    first_train = _train_set(args, state["epoch"] if state else 0)
    data_seconds = time.time() - started

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    import summaries

    keras.utils.set_random_seed(args.seed)
    steps_per_epoch = -(-args.train_size // args.batch_size)
    if state:
        keras_model = keras.models.load_model(ckpt_dir / MODEL_FILE)
        first_epoch = int(state["epoch"])
        print(f"resuming {run} at epoch {first_epoch}, step {state['step']}")
    else:
        keras_model = model.build(
            args.arch, batch_norm=args.batch_norm, augment=args.augment, seed=args.seed
        )
        _compile(keras_model, args.lr, steps_per_epoch * args.epochs)
        first_epoch = 0
    keras_model.run_eagerly = args.run_eagerly
    last_epoch = first_epoch + args.epochs
    progress_state = {"steps_per_epoch": steps_per_epoch, "last_epoch": last_epoch}

    writer = tf.summary.create_file_writer(str(run))
    notes.write("captcha", int(keras_model.optimizer.iterations.numpy()), writer)  # Text tab
    validator = Validator("test/", sets["validation"], args.cap_per_cell)
    callback = _summary_callback(writer, validator, args, progress_state)
    config = {
        key: getattr(args, key)
        for key in (
            "preset arch batch_norm augment fresh train_size validation_size test_size "
            "batch_size lr seed"
        ).split()
    }
    print(
        f"captcha: {args.train_size} training ({'fresh each epoch' if args.fresh else 'fixed'}),"
        f" {args.validation_size} validation, {args.test_size} test captchas ready in "
        f"{data_seconds:.0f} s; training {args.epochs} epoch(s) of {steps_per_epoch} steps"
    )
    train_set = first_train
    metrics: dict[str, float] = {}
    for epoch in range(first_epoch, last_epoch):
        if epoch != first_epoch and args.fresh:
            train_set = _train_set(args, epoch)
        x = np.asarray(train_set.images)[..., None]
        y = {
            name: np.asarray(train_set.labels[:, i], np.int64)
            for i, name in enumerate(model.head_names())
        }
        keras_model.fit(
            x,
            y,
            batch_size=args.batch_size,
            epochs=epoch + 1,
            initial_epoch=epoch,
            shuffle=True,
            verbose=0,
            callbacks=[callback],
        )
        step = int(keras_model.optimizer.iterations.numpy())
        with writer.as_default():
            metrics = validator.run(keras_model, step)
            summaries.scalar("train/epoch", epoch + 1, step=step)
        writer.flush()
        ckpt_dir.mkdir(exist_ok=True)
        keras_model.save(ckpt_dir / MODEL_FILE)
        state_file.write_text(json.dumps({"epoch": epoch + 1, "step": step, "config": config}))
        print(
            f"epoch {epoch + 1}/{last_epoch} step {step}: validation loss {metrics['loss']:.3f}, "
            f"digit accuracy {metrics['accuracy']:.4f}, "
            f"captcha accuracy {metrics['sequence_accuracy']:.4f} "
            f"({time.time() - started:.0f} s)",
            flush=True,
        )

    keras_model.save(run / MODEL_FILE)
    (run / LABELS_FILE).write_text(json.dumps(model.label_spec(), indent=2))
    step = int(keras_model.optimizer.iterations.numpy())
    if "test" in sets:
        test = Validator("test/final_", sets["test"], args.cap_per_cell)
        with writer.as_default():
            result = test.run(keras_model, step, confusion=False)
        print(
            f"test ({len(sets['test'])} captchas): digit accuracy {result['accuracy']:.4f},"
            f" captcha accuracy {result['sequence_accuracy']:.4f}"
        )
    writer.close()
    print(f"saved {run / MODEL_FILE} and {run / LABELS_FILE} in {time.time() - started:.0f} s")
    lesson.print_guide("captcha", args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
