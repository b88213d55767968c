"""`flowscope bench callback`: what logging costs during `model.fit`, side by side.

Fits a small CNN and an MLP on the same data, epochs and seeds three ways in one process:
no callback, Keras's `TensorBoard(histogram_freq=1, update_freq="batch")`, and
`SummaryCallback` at its defaults. Each repeat fits every configuration once, in a rotating
order, after a garbage collection. The table shows median fit times and, as the ratio, the
median over repeats of each fit's time divided by the no-callback fit of the same repeat:
fits minutes apart on a shared machine can differ by a third, fits side by side much less.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CONFIGS = ("none", "keras", "summary")
LABELS = {
    "none": "no callback",
    "keras": 'keras TensorBoard(histogram_freq=1, update_freq="batch")',
    "summary": "SummaryCallback() defaults",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowscope bench callback",
        description="Fit time with no callback, Keras's TensorBoard callback and "
        "SummaryCallback, on a small CNN and an MLP.",
    )
    parser.add_argument("--epochs", type=int, default=3, help="epochs per fit (default 3)")
    parser.add_argument(
        "--samples", type=int, default=9000, help="training examples (default 9000)"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--repeats", type=int, default=11, help="fits per configuration (11)")
    parser.add_argument(
        "--models", default="cnn,mlp", help="comma-separated subset of cnn,mlp (default both)"
    )
    parser.add_argument("--seed", type=int, default=0, help="data and weight seed (default 0)")
    return parser


def _data(samples: int, seed: int):
    """8 x 8 digit images (scikit-learn's offline set) with noise, 10 % held out."""
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(digits.target), size=samples + samples // 9)
    x = (digits.images[index] / 16.0).astype("float32")[..., None]
    x = np.clip(x + rng.normal(0, 0.1, x.shape).astype("float32"), 0, 1)
    y = digits.target[index].astype("int64")
    return (x[:samples], y[:samples]), (x[samples:], y[samples:])


def _model(kind: str, seed: int):
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    if kind == "cnn":
        body = [
            layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            layers.MaxPooling2D(name="pool1"),
            layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            layers.Flatten(name="flatten"),
            layers.Dense(64, activation="relu", name="fc1"),
        ]
    else:
        body = [
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="fc1"),
            layers.Dense(64, activation="relu", name="fc2"),
        ]
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), *body, layers.Dense(10, activation="softmax", name="logits")],
        name=kind,
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
)


# SummaryCallback's jobs on its writer thread (they overlap training)
WRITER_JOBS = ("_write_batches", "_write_epoch")


def _timed(base: type, hook_times: dict[str, float]) -> type:
    """A subclass of `base` adding the wall time of every hook it overrides, and of its
    writer-thread jobs, to hook_times."""
    import keras

    namespace = {}
    for hook in (*HOOKS, *WRITER_JOBS):
        if not hasattr(base, hook):
            continue
        if getattr(base, hook) is getattr(keras.callbacks.Callback, hook, None):
            continue  # an un-overridden hook stays the default (Keras checks for that)

        def timed(self, *args, _hook=hook, **kwargs):
            start = time.perf_counter()
            getattr(base, _hook)(self, *args, **kwargs)
            hook_times[_hook] = hook_times.get(_hook, 0.0) + time.perf_counter() - start

        namespace[hook] = timed
    return type(f"Timed{base.__name__}", (base,), namespace)


def _callbacks(config: str, log_dir: Path, hook_times: dict[str, float] | None) -> list:
    import keras

    from summaries.callback import SummaryCallback

    if config == "none":
        return []
    base = keras.callbacks.TensorBoard if config == "keras" else SummaryCallback
    cls = base if hook_times is None else _timed(base, hook_times)
    if config == "keras":
        return [cls(str(log_dir), histogram_freq=1, update_freq="batch")]
    return [cls(log_dir)]


def _fit(kind: str, config: str, data, args, log_dir: Path, hook_times=None):
    """(wall seconds, process CPU seconds) of one fit."""
    (x, y), validation = data
    model = _model(kind, args.seed)
    callbacks = _callbacks(config, log_dir, hook_times)
    gc.collect()  # not the previous fit's garbage on this fit's clock
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(
        x,
        y,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_data=validation,
        callbacks=callbacks,
        verbose=0,
        shuffle=True,
    )
    return time.perf_counter() - wall, time.process_time() - cpu


def _count_events(log_dir: Path) -> tuple[int, int]:
    """(scalar points, histograms) written under log_dir, read back with TensorBoard."""
    from tensorboard.backend.event_processing import event_file_loader

    scalars = histograms = 0
    for path in log_dir.rglob("events.out.tfevents.*"):
        for event in event_file_loader.EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                scalars += plugin == "scalars" or value.HasField("simple_value")
                histograms += plugin == "histograms"
    return scalars, histograms


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; returns 0."""
    from demo_models.runtime import CliError

    args = _parser().parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not models or any(m not in ("cnn", "mlp") for m in models):
        raise CliError(f"--models must be a comma-separated subset of cnn,mlp, got {args.models}")
    for name in ("epochs", "samples", "batch_size", "repeats"):
        if getattr(args, name) < 1:
            raise CliError(f"--{name.replace('_', '-')} must be >= 1")

    import tensorflow as tf

    data = _data(args.samples, args.seed)
    root = Path(tempfile.mkdtemp(prefix="flowscope-bench-callback-"))
    print(
        f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs; {args.samples} examples 8x8, "
        f"{args.epochs} epochs, batch {args.batch_size}, {args.repeats} repeats (median)"
    )
    try:
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        hooks: dict[tuple[str, str], dict[str, float]] = {}
        logged: dict[tuple[str, str], tuple[int, int]] = {}
        for kind in models:
            _fit(kind, "none", data, argparse.Namespace(**{**vars(args), "epochs": 1}), root)
            for repeat in range(args.repeats):
                order = CONFIGS[repeat % 3 :] + CONFIGS[: repeat % 3]
                for config in order:
                    log_dir = root / f"{kind}-{config}-{repeat}"
                    results.setdefault((kind, config), []).append(
                        _fit(kind, config, data, args, log_dir)
                    )
                    if repeat == 0 and config != "none":
                        logged[(kind, config)] = _count_events(log_dir)
                    shutil.rmtree(log_dir, ignore_errors=True)
            # extra fits, not in the table: the time spent inside each callback's hooks
            for config in ("keras", "summary"):
                hooks[(kind, config)] = {}
                log_dir = root / f"{kind}-{config}-timed"
                _fit(kind, config, data, args, log_dir, hooks[(kind, config)])
                shutil.rmtree(log_dir, ignore_errors=True)
        _report(models, results, logged, hooks, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


def _paired(results, kind: str, config: str, column: int) -> list[float]:
    """Each fit's time (column 0 wall, 1 CPU) over the no-callback fit of its own repeat."""
    base = results[(kind, "none")]
    return [t[column] / b[column] for t, b in zip(results[(kind, config)], base, strict=True)]


def _report(models, results, logged, hooks, args) -> None:
    median = statistics.median
    print()
    print(
        f"{'model':5}  {'configuration':58}  {'wall s':>6} {'ratio':>6}  "
        f"{'CPU s':>6} {'ratio':>6}  {'in hooks':>8}"
    )
    for kind in models:
        for config in CONFIGS:
            times = results[(kind, config)]
            wall, cpu = median(t[0] for t in times), median(t[1] for t in times)
            wall_ratio = median(_paired(results, kind, config, 0))
            cpu_ratio = median(_paired(results, kind, config, 1))
            timed = hooks.get((kind, config), {})
            in_hooks = sum(v for k, v in timed.items() if k not in WRITER_JOBS)
            hook_text = f"{in_hooks:7.2f}s" if config != "none" else f"{'':8}"
            print(
                f"{kind:5}  {LABELS[config]:58}  {wall:6.2f} {wall_ratio:5.2f}x  "
                f"{cpu:6.2f} {cpu_ratio:5.2f}x  {hook_text}"
            )
    print()
    print("Every fit (wall s / CPU s), repeat by repeat:")
    for (kind, config), times in results.items():
        fits = " ".join(f"{w:.2f}/{c:.2f}" for w, c in times)
        print(f"  {kind:4} {config:8} {fits}")
    print()
    print("Paired wall-time ratios (fit / no-callback fit of its repeat): quartiles and range")
    for kind, config in results:
        if config == "none":
            continue
        ratios = _paired(results, kind, config, 0)
        if len(ratios) > 1:
            q1, q2, q3 = statistics.quantiles(ratios, n=4, method="inclusive")
        else:
            q1 = q2 = q3 = ratios[0]
        print(
            f"  {kind:4} {config:8} min {min(ratios):.2f}  q1 {q1:.2f}  median {q2:.2f}  "
            f"q3 {q3:.2f}  max {max(ratios):.2f}"
        )
    print()
    for (kind, config), (scalars, histograms) in logged.items():
        print(f"{kind} {config} wrote {scalars} scalar points and {histograms} histograms")
    batches = (args.samples + args.batch_size - 1) // args.batch_size * args.epochs
    print()
    print("SummaryCallback's hooks on the training thread, split (one extra fit per model),")
    print("and its writer thread's jobs, which run while training goes on:")
    for kind in models:
        t = hooks[(kind, "summary")]
        per_batch = t.get("on_train_batch_begin", 0) + t.get("on_train_batch_end", 0)
        per_epoch = t.get("on_epoch_begin", 0) + t.get("on_epoch_end", 0)
        once = t.get("on_train_begin", 0) + t.get("on_train_end", 0)
        writer = sum(t.get(job, 0) for job in WRITER_JOBS)
        print(
            f"  {kind}: once {once:.3f} s, per epoch {per_epoch / args.epochs * 1e3:.0f} ms, "
            f"per batch {per_batch / batches * 1e6:.0f} us; writer thread {writer:.3f} s"
        )
