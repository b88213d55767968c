"""`flowscope bench callback`: what logging costs during `model.fit`, side by side.

Fits a small CNN and an MLP on the same data, epochs and seeds three ways in one process:
no callback, Keras's `TensorBoard(histogram_freq=1, update_freq="batch")`, and
`SummaryCallback` at its defaults. Each repeat fits every configuration once, in a rotating
order, after a garbage collection. The table shows median fit times and, as the ratio, the
median over repeats of each fit's time divided by the no-callback fit of the same repeat
(fits minutes apart on a shared machine can differ by a third, fits side by side much
less), with a bootstrap interval over the repeats and what it means: a cost, within noise,
or (below 1.0x, never a speed-up) noise. Extra timed fits give each callback's time in its
hooks on the training thread and SummaryCallback's fixed cost per fit. `--backend jax` or
`--backend torch` runs every fit on that Keras backend (both callbacks on the same one).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from demo_models.bench.stats import RESAMPLES, Ratio, paired_ratio  # noqa: E402
from demo_models.runtime import CliError, check_minimums, command_parser  # noqa: E402

CONFIGS = ("none", "keras", "summary")
BACKENDS = ("tensorflow", "jax", "torch")
TIMED_FITS = 3  # extra fits per model and callback that time the hooks (at most --repeats)
LABELS = {
    "none": "no callback",
    "keras": 'keras TensorBoard(histogram_freq=1, update_freq="batch")',
    "summary": "SummaryCallback() defaults",
}


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "bench callback",
        "Fit time with no callback, Keras's TensorBoard callback and "
        "SummaryCallback, on a small CNN and an MLP.",
    )
    parser.add_argument("--epochs", type=int, default=3, help="epochs per fit (default 3)")
    parser.add_argument(
        "--samples", type=int, default=9000, help="training examples (default 9000)"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=11,
        help="fits per configuration (default 11; >= 5 gives a meaningful interval)",
    )
    parser.add_argument(
        "--models", default="cnn,mlp", help="comma-separated subset of cnn,mlp (default both)"
    )
    parser.add_argument("--seed", type=int, default=0, help="data and weight seed (default 0)")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="Keras backend for every fit (default: $KERAS_BACKEND, else tensorflow); "
        "Keras's TensorBoard callback needs TensorFlow installed on every backend",
    )
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
WRITER_JOBS = ("_prepare_job", "_write_batches", "_write_epoch")


def _timed(base: type, hook_times: dict[str, list[float]]) -> type:
    """A subclass of `base` recording the wall time of every call of each hook it overrides,
    and of its writer-thread jobs, in hook_times[hook]."""
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
            hook_times.setdefault(_hook, []).append(time.perf_counter() - start)

        namespace[hook] = timed
    return type(f"Timed{base.__name__}", (base,), namespace)


def _callbacks(config: str, log_dir: Path, hook_times: dict[str, list[float]] | None) -> list:
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
    args = _parser().parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not models or any(m not in ("cnn", "mlp") for m in models):
        raise CliError(f"--models must be a comma-separated subset of cnn,mlp, got {args.models}")
    check_minimums(args, {"epochs": 1, "samples": 1, "batch_size": 1, "repeats": 1})
    backend = args.backend or os.environ.get("KERAS_BACKEND") or "tensorflow"
    if _keras_backend() not in (None, backend):
        return _in_child(backend, argv)
    os.environ["KERAS_BACKEND"] = backend  # before Keras is imported

    import keras
    import tensorflow as tf

    versions = f"Keras {keras.__version__} on {keras.backend.backend()}"
    if backend == "jax":
        import jax

        versions += f" (JAX {jax.__version__})"
    elif backend == "torch":
        import torch

        versions += f" (PyTorch {torch.__version__})"
    data = _data(args.samples, args.seed)
    root = Path(tempfile.mkdtemp(prefix="flowscope-bench-callback-"))
    print(
        f"{versions}, TensorFlow {tf.__version__}, {os.cpu_count()} CPUs; {args.samples} "
        f"examples 8x8, {args.epochs} epochs, batch {args.batch_size}, {args.repeats} "
        "repeats (median)"
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
                hooks[(kind, config)] = []
                for _ in range(min(TIMED_FITS, args.repeats)):
                    log_dir = root / f"{kind}-{config}-timed"
                    times: dict[str, list[float]] = {}
                    _fit(kind, config, data, args, log_dir, times)
                    hooks[(kind, config)].append(times)
                    shutil.rmtree(log_dir, ignore_errors=True)
        _report(models, results, logged, hooks, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


def _keras_backend() -> str | None:
    """The backend of the Keras this process has imported, None before its import."""
    keras = sys.modules.get("keras")
    return None if keras is None else keras.backend.backend()


def _in_child(backend: str, argv: list[str] | None) -> int:
    """The benchmark in a fresh Python on `backend` (this process imported Keras on
    another; a backend is chosen before Keras's import); returns its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--backend" not in argv and not any(a.startswith("--backend=") for a in argv):
        argv += ["--backend", backend]
    code = "import sys; from demo_models.bench.callback import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "KERAS_BACKEND": backend}
    return subprocess.run([sys.executable, "-c", code, *argv], env=env, check=False).returncode


def _paired(results, kind: str, config: str, column: int) -> Ratio:
    """Each fit's time (column 0 wall, 1 CPU) over the no-callback fit of its own repeat:
    their median and a bootstrap interval."""
    times = [t[column] for t in results[(kind, config)]]
    return paired_ratio(times, [b[column] for b in results[(kind, "none")]])


# Hooks Keras calls on the training thread (the batch-end hooks of an `async_safe`
# callback run on Keras's worker threads instead).
TRAINING_THREAD = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
)


def fixed_cost(hook_times: dict[str, list[float]]) -> float:
    """Seconds a fit spends in a callback's training-thread hooks beyond their steady state.

    A hook called once per fit counts whole; for a per-epoch hook, the first call's excess
    over the median of the later ones (with one epoch, the whole call); for a per-batch
    hook, the first two calls' excess over the median of all of them.
    """
    total = 0.0
    for hook in TRAINING_THREAD:
        calls = hook_times.get(hook, [])
        if not calls:
            continue
        if hook == "on_train_batch_begin":
            steady = statistics.median(calls)
            total += sum(max(0.0, c - steady) for c in calls[:2])
        elif len(calls) == 1:
            total += calls[0]
        else:
            total += max(0.0, calls[0] - statistics.median(calls[1:]))
    return total


def _in_hooks(hook_times: dict[str, list[float]]) -> float:
    """Seconds in every hook (writer-thread jobs left out)."""
    return sum(sum(v) for k, v in hook_times.items() if k not in WRITER_JOBS)


def _per_epoch(hook_times: dict[str, list[float]]) -> float:
    """Median seconds of an epoch-hook call, the first on_epoch_end call (fixed cost) left out."""
    ends = hook_times.get("on_epoch_end", []) + hook_times.get("on_epoch_begin", [])
    return statistics.median(ends[1:] or ends) if ends else 0.0


def _per_batch(hook_times: dict[str, list[float]]) -> float:
    """Seconds in the batch hooks per batch."""
    begins = hook_times.get("on_train_batch_begin", [])
    ends = hook_times.get("on_train_batch_end", [])
    return (sum(begins) + sum(ends)) / max(1, len(begins))


def _writer(hook_times: dict[str, list[float]]) -> float:
    """Seconds in the writer thread's jobs."""
    return sum(sum(hook_times.get(job, [])) for job in WRITER_JOBS)


def _median_of(fits: Sequence[dict[str, list[float]]], value) -> float:
    return statistics.median(value(times) for times in fits)


def _report(models, results, logged, hooks, args) -> None:
    median = statistics.median
    print()
    print(
        f"{'model':5}  {'configuration':58}  {'wall s':>6}  {'CPU s':>6}  {'in hooks':>8}  "
        "wall ratio [95 % interval]: meaning"
    )
    for kind in models:
        for config in CONFIGS:
            times = results[(kind, config)]
            wall, cpu = median(t[0] for t in times), median(t[1] for t in times)
            fits = hooks.get((kind, config))
            hook_text = f"{_median_of(fits, _in_hooks):7.2f}s" if fits else f"{'':8}"
            meaning = (
                "(baseline)" if config == "none" else _paired(results, kind, config, 0).describe()
            )
            print(f"{kind:5}  {LABELS[config]:58}  {wall:6.2f}  {cpu:6.2f}  {hook_text}  {meaning}")
    print()
    print("Every fit (wall s / CPU s), repeat by repeat:")
    for (kind, config), times in results.items():
        fits = " ".join(f"{w:.2f}/{c:.2f}" for w, c in times)
        print(f"  {kind:4} {config:8} {fits}")
    print()
    print(
        f"Paired ratios (fit / no-callback fit of its repeat), median of {args.repeats} with a "
        f"95 % bootstrap interval ({RESAMPLES} resamples); below 1.00x is noise, never a "
        "speed-up:"
    )
    for kind, config in results:
        if config == "none":
            continue
        wall = _paired(results, kind, config, 0)
        cpu = _paired(results, kind, config, 1)
        ratios = sorted(
            t[0] / b[0]
            for t, b in zip(results[(kind, config)], results[(kind, "none")], strict=True)
        )
        print(
            f"  {kind:4} {config:8} wall {wall.describe()}; CPU {cpu.median:.2f}x "
            f"[{cpu.low:.2f}-{cpu.high:.2f}]; range {ratios[0]:.2f}-{ratios[-1]:.2f}"
        )
    print()
    for (kind, config), (scalars, histograms) in logged.items():
        print(f"{kind} {config} wrote {scalars} scalar points and {histograms} histograms")
    batches = (args.samples + args.batch_size - 1) // args.batch_size
    print()
    print(
        f"SummaryCallback on the training thread (median of {len(hooks[(models[0], 'summary')])} "
        "extra fits per model): "
        "its fixed cost per fit (see fixed_cost), per epoch and per batch; and its writer "
        "thread's jobs, which run while training goes on:"
    )
    for kind in models:
        fits = hooks[(kind, "summary")]
        fixed = [fixed_cost(t) for t in fits]
        print(
            f"  {kind}: fixed {median(fixed):.3f} s per fit (fits: "
            f"{', '.join(f'{f:.3f}' for f in fixed)}), per epoch "
            f"{_median_of(fits, _per_epoch) * 1e3:.0f} ms, per batch "
            f"{_median_of(fits, _per_batch) * 1e6:.0f} us ({batches} batches an epoch); "
            f"writer thread {_median_of(fits, _writer):.3f} s"
        )
