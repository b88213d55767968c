"""`flowscope bench writers`: what logging one confusion step costs on a 1,000-class head,
as a share of the validation pass it summarises.

A small CNN with a K-way softmax head (K = 1,000 by default) on generated 16 x 16 images,
in one process. Each repeat times every task once, in a rotating order, after a garbage
collection:

* the validation pass, `model.evaluate` on the validation set (what `fit` runs each epoch);
* `write_confusion` (the numpy writer) of that whole pass: labels and scores [N, K], to a
  `summaries.pb.LogWriter`, flushed; and with the misclassified images of the callback's
  `confusion_samples` examples (PNGs, `cap_per_cell` 4, as the callback logs them);
* what a competent user writes instead: `tf.math.confusion_matrix` and `tf.summary.write`
  of the dense K x K counts to a `tf.summary` file writer, flushed;
* SummaryCallback's confusion step, in its two parts: the forward pass on
  `confusion_samples` examples (the training thread) and the summaries made from it
  (counts, sparse rows, PNGs, protos: the writer thread);
* a `fit` of one epoch with the validation data: with no callback, with a `SummaryCallback`
  that logs only confusion, and with one at its defaults (each callback warmed by a first
  fit, so the figure is an epoch's, not a fit's one-off tracing).

Each task's share is its time over the validation pass of the same repeat; a callback's
share is its fit's extra time over the no-callback fit of the same repeat, over that pass.
The median share has a bootstrap interval over the repeats; an interval that holds 0 % is
said to be within noise.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from demo_models.bench.stats import RESAMPLES, paired_ratio  # noqa: E402
from demo_models.runtime import CliError, check_minimums, command_parser  # noqa: E402

GOAL = 0.05  # the bound: a logged step in at most ~5 % of a validation pass
SIZE = 16  # image side
CAP = 4  # SummaryCallback's default cap_per_cell

# (key, label): the timed tasks, in the table's order, and one derived row ("step": the
# callback's two parts together, repeat by repeat)
ROWS = (
    ("validation", "validation pass: model.evaluate"),
    ("write", "write_confusion, the whole pass (labels + scores [N, K])"),
    ("write_images", "write_confusion + images of {cs} examples (cap 4)"),
    ("tf_write", "competent: tf.math.confusion_matrix + tf.summary.write"),
    ("forward", "callback part: forward pass on {cs} examples"),
    ("summaries", "callback part: confusion summaries of {cs} examples"),
    ("step", "callback: both parts, one confusion step"),
    ("fit_none", "fit, 1 epoch: no callback"),
    ("fit_confusion", "fit, 1 epoch: SummaryCallback, confusion only (extra)"),
    ("fit_defaults", "fit, 1 epoch: SummaryCallback() defaults (extra)"),
)
# the denominators, whose share would say nothing
BASES = {"validation": "(the denominator)", "fit_none": "(the callbacks' baseline)"}
# a callback's fit is counted as its extra time over the no-callback fit of its repeat
EXTRA = ("fit_confusion", "fit_defaults")


def _parser():
    parser = command_parser(
        "bench writers",
        "The cost of logging one confusion step of a K-class head (write_confusion, "
        "SummaryCallback) as a share of the validation pass's time.",
    )
    add = parser.add_argument
    add("--classes", type=int, default=1000, help="K, classes of the softmax head (default 1000)")
    add("--val-samples", type=int, default=10000, help="validation examples (default 10000)")
    add("--train-samples", type=int, default=1024, help="training examples (default 1024)")
    add("--confusion-samples", type=int, default=1000, help="SummaryCallback's (default 1000)")
    add("--batch-size", type=int, default=32, help="batch size of fit and evaluate (default 32)")
    add("--repeats", type=int, default=9, help="times each task runs (default 9)")
    add("--seed", type=int, default=0, help="data and weight seed (default 0)")
    add("--json", help="also write the results to this JSON file")
    return parser


def _data(classes: int, count: int, seed: int):
    """`count` noisy images of `classes` random prototypes (learnable, far from learnt)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    prototypes = rng.normal(0, 1, (classes, SIZE, SIZE, 1)).astype("float32")
    y = rng.integers(0, classes, count)
    noise = rng.normal(0, 0.2, (count, SIZE, SIZE, 1)).astype("float32")
    x = np.clip(0.5 + 0.15 * prototypes[y] + noise, 0, 1).astype("float32")
    return x, y.astype("int64")


def _model(classes: int, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 1)),
            layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            layers.MaxPooling2D(name="pool1"),
            layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            layers.MaxPooling2D(name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="fc"),
            layers.Dense(classes, activation="softmax", name="head"),
        ],
        name="writers",
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _timed(task: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, process CPU seconds, every thread) of one call of `task`."""
    gc.collect()  # not the previous task's garbage on this task's clock
    wall, cpu = time.perf_counter(), time.process_time()
    task()
    return time.perf_counter() - wall, time.process_time() - cpu


def _tasks(args, root: Path) -> tuple[dict[str, Callable[[], Any]], Callable[[], None]]:
    """The timed tasks by row key, each warmed once; and what closes their writers."""
    import keras
    import tensorflow as tf
    from tensorboard.compat.proto import summary_pb2

    from summaries import SummaryCallback, write_confusion
    from summaries.keras import confusion
    from summaries.pb import LogWriter

    if keras.backend.backend() != "tensorflow":
        raise CliError(
            f"bench writers runs on the tensorflow backend, not {keras.backend.backend()}"
        )
    k, cs = args.classes, args.confusion_samples
    x_train, y_train = _data(k, args.train_samples, args.seed)
    x_val, y_val = _data(k, args.val_samples, args.seed + 1)
    model = _model(k, args.seed)
    scores = model.predict(x_val, batch_size=1024, verbose=0)  # the pass's predictions
    classes = [str(i) for i in range(k)]
    numpy_writer = LogWriter(root / "write_confusion")
    tf_writer = tf.summary.create_file_writer(str(root / "tf_summary"))
    steps = {"write": 0, "write_images": 0, "tf_write": 0}
    x_cs, y_cs = x_val[:cs], y_val[:cs]
    predictor = confusion.trace_predictor(model, tf.convert_to_tensor(x_cs[:32]))
    outputs: dict[str, Any] = {}

    def write() -> None:
        steps["write"] += 1
        write_confusion(
            numpy_writer, "confusion", classes=classes, labels=y_val, predictions=scores,
            step=steps["write"],
        )  # fmt: skip
        numpy_writer.flush()

    def write_images() -> None:
        steps["write_images"] += 1
        write_confusion(
            numpy_writer, "confusion_images", classes=classes, labels=y_cs,
            predictions=scores[:cs], images=x_cs, cap_per_cell=CAP, step=steps["write_images"],
        )  # fmt: skip
        numpy_writer.flush()

    def tf_write() -> None:
        steps["tf_write"] += 1
        counts = tf.math.confusion_matrix(y_val, tf.argmax(scores, -1), num_classes=k)
        with tf_writer.as_default():
            tf.summary.write("confusion", counts, step=steps["tf_write"])
        tf_writer.flush()

    def forward() -> None:
        preds, _ = confusion.predict(model, x_cs, predictor)
        outputs["last"] = (x_cs, y_cs, preds, confusion.head_names(model, len(preds)))

    def summaries() -> None:
        values = confusion.confusion_values(
            model, outputs["last"], class_names=None, position_names=None,
            cap_per_cell=CAP, sequence_accuracy=None,
        )  # fmt: skip
        for value in values:  # as the writer thread serialises them
            summary_pb2.Summary(value=[value]).SerializeToString()

    only_confusion = {f: 0 for f in ("batch_freq", "epoch_freq", "histogram_freq")}
    only_confusion |= {"gradient_freq": 0, "ratio_freq": 0, "optimizer_freq": 0, "image_freq": 0}
    callbacks = {
        "fit_none": [],
        "fit_confusion": [
            SummaryCallback(root / "confusion_only", **only_confusion, write_graph=False)
        ],
        "fit_defaults": [SummaryCallback(root / "defaults")],
    }

    def fit(key: str) -> Callable[[], None]:
        def run() -> None:
            model.fit(
                x_train, y_train, batch_size=args.batch_size, epochs=1,
                validation_data=(x_val, y_val), callbacks=callbacks[key], verbose=0,
            )  # fmt: skip

        return run

    tasks = {
        "validation": lambda: model.evaluate(x_val, y_val, batch_size=args.batch_size, verbose=0),
        "write": write,
        "write_images": write_images,
        "tf_write": tf_write,
        "forward": forward,
        "summaries": summaries,
        **{key: fit(key) for key in callbacks},
    }
    for task in tasks.values():  # tracing and first-call costs, off the clock
        task()

    def close() -> None:
        numpy_writer.close()
        tf_writer.close()

    return tasks, close


def measure(args, root: Path) -> dict[str, list[tuple[float, float]]]:
    """{row key: [(wall s, CPU s) per repeat]}, the tasks in a rotating order."""
    tasks, close = _tasks(args, root)
    keys = list(tasks)
    times: dict[str, list[tuple[float, float]]] = {key: [] for key in keys}
    try:
        for repeat in range(args.repeats):
            shift = repeat % len(keys)
            for key in keys[shift:] + keys[:shift]:
                times[key].append(_timed(tasks[key]))
    finally:
        close()
    return times


def series(times, key: str) -> list[tuple[float, float]]:
    """Per repeat, (wall s, CPU s) of a row: a task's, the step's parts summed, or a
    callback fit's extra over the no-callback fit of the same repeat."""
    if key == "step":
        parts = zip(times["forward"], times["summaries"], strict=True)
        return [(f[0] + s[0], f[1] + s[1]) for f, s in parts]
    if key in EXTRA:
        pairs = zip(times[key], times["fit_none"], strict=True)
        return [(t[0] - b[0], t[1] - b[1]) for t, b in pairs]
    return times[key]


def share(times, key: str, column: int) -> tuple[float, float, float]:
    """The row's time (column 0 wall, 1 CPU) over the validation pass's, repeat by repeat:
    (median, low, high), the interval a bootstrap over the repeats."""
    row = [t[column] for t in series(times, key)]
    ratio = paired_ratio(row, [v[column] for v in times["validation"]])
    return ratio.median, ratio.low, ratio.high


def meaning(median: float, low: float, high: float) -> str:
    """What a share and its interval say, against 0 % (no cost) and the 5 % goal."""
    if low <= 0.0 <= high:
        return "within noise (the interval holds 0 %), no cost measurable"
    if high < 0.0:
        return "below 0 %: noise (order, load), not a saving"
    if high <= GOAL:
        return f"a cost, under {100 * GOAL:.0f} %"
    if low > GOAL:
        return f"a cost, over {100 * GOAL:.0f} %"
    return f"a cost; the interval straddles {100 * GOAL:.0f} %"


def results(args, times) -> list[dict[str, Any]]:
    """Every row: its median wall ms and, but for the denominators, its wall and CPU
    shares of the validation pass, each (median, low, high), and what they mean."""
    cs = min(args.confusion_samples, args.val_samples)
    rows = []
    for key, label in ROWS:
        row: dict[str, Any] = {"key": key, "task": label.format(cs=f"{cs:,}")}
        row["wall_ms"] = 1e3 * statistics.median(t[0] for t in series(times, key))
        if key in BASES:
            row["meaning"] = BASES[key]
        else:
            row["wall_share"] = share(times, key, 0)
            row["cpu_share"] = share(times, key, 1)
            row["meaning"] = meaning(*row["wall_share"])
        rows.append(row)
    return rows


def report(args, times, rows, load: tuple[tuple[float, ...], tuple[float, ...]]) -> list[str]:
    """The printed table and the raw repeats."""
    lines = [
        "",
        f"{'task':58} {'wall ms':>8} {'share of val pass, wall [95 %]':>31} "
        f"{'CPU share [95 %]':>22}  meaning (wall)",
    ]
    for row in rows:
        wall_text = cpu_text = ""
        if "wall_share" in row:
            m, low, high = (100 * v for v in row["wall_share"])
            wall_text = f"{m:6.2f} % [{low:6.2f} - {high:6.2f}]"
            m, low, high = (100 * v for v in row["cpu_share"])
            cpu_text = f"{m:5.1f} % [{low:5.1f}-{high:5.1f}]"
        lines.append(
            f"{row['task']:58} {row['wall_ms']:8.1f} {wall_text:>31} {cpu_text:>22}  "
            f"{row['meaning']}"
        )
    lines += [
        "",
        f"Shares: median of {args.repeats} repeats, 95 % bootstrap interval ({RESAMPLES} "
        "resamples); a callback's fit row is its fit less the no-callback fit of the same "
        "repeat. Load average (1, 5, 15 min): before "
        + ", ".join(f"{v:.2f}" for v in load[0])
        + "; after "
        + ", ".join(f"{v:.2f}" for v in load[1]),
        "",
        "Every repeat (wall ms / CPU ms):",
    ]
    for key in times:
        row = " ".join(f"{1e3 * w:.1f}/{1e3 * c:.1f}" for w, c in times[key])
        lines.append(f"  {key:14} {row}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table; returns 0."""
    args = _parser().parse_args(argv)
    check_minimums(
        args,
        {
            "classes": 2,
            "val_samples": 1,
            "train_samples": 1,
            "confusion_samples": 1,
            "batch_size": 1,
            "repeats": 1,
        },
    )
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # before Keras is imported
    import keras
    import tensorflow as tf

    load_before = os.getloadavg()
    print(
        f"Keras {keras.__version__}, TensorFlow {tf.__version__}, {os.cpu_count()} CPUs; "
        f"K = {args.classes:,} classes, {args.val_samples:,} validation and "
        f"{args.train_samples:,} training images {SIZE} x {SIZE}, batch {args.batch_size}, "
        f"confusion_samples {args.confusion_samples:,}, {args.repeats} repeats",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="flowscope-bench-writers-") as tmp:
        times = measure(args, Path(tmp))
    load = (load_before, os.getloadavg())
    rows = results(args, times)
    out = {"args": vars(args), "load": load, "rows": rows, "times": times}
    print("\n".join(report(args, times, rows, load)))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
