"""What every lesson demo shares: options, and one run's writer, checkpoint, step and graph.

The TF1 lessons did this with `tf.summary.FileWriter('logs/', sess.graph)`,
`tf.train.Saver` and a `global_step` variable. Here a `Run` holds the TF2 equivalents:
a summary writer for the run directory, a `tf.train.Checkpoint` (with `CheckpointManager`)
that restores the previous run so step numbers continue, and `call_with_graph`, which
records the op graph of the `tf.function` training step for TensorBoard's Graphs tab.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from demo_models import notes
from demo_models.runtime import CliError, progress, writable_dir
from summaries import storage
from summaries.storage import RemotePath

CHECKPOINTS = "checkpoints"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parser(
    name: str,
    description: str,
    *,
    steps: int | None = None,
    epochs: int | None = None,
    quick_steps: int,
    mnist: bool = False,
) -> argparse.ArgumentParser:
    """The options every demo takes (`--logdir`, `--steps`, `--quick`, `--fresh`, ...).

    The default length is the lesson's: `steps`, or `epochs` passes over the training data.
    """
    p = argparse.ArgumentParser(
        prog=f"flowscope demo {name}",
        description=description,
        epilog="Running again resumes from the run's checkpoint and continues its step "
        "numbers; --fresh starts over.",
    )
    p.add_argument(
        "--logdir",
        default=f"runs/{name}",
        help="run directory for event files and checkpoints (default: %(default)s)",
    )
    default = f"{steps} steps" if epochs is None else f"{epochs} epochs, as in the lesson"
    length = p.add_mutually_exclusive_group()
    length.add_argument(
        "--steps",
        type=_positive,
        help=f"training steps to run now (default: {default}; with --quick: {quick_steps})",
    )
    p.add_argument(
        "--quick", action="store_true", help=f"a short run ({quick_steps} steps) for a first look"
    )
    p.add_argument(
        "--fresh",
        action="store_true",
        help="delete the run directory's logs and checkpoint first and start at step 0",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    if mnist:
        length.add_argument(
            "--epochs", type=_positive, help="passes over the training data to run now"
        )
        p.add_argument(
            "--mnist",
            metavar="PATH",
            help="a Keras-format mnist.npz (default: ~/.keras/datasets/mnist.npz when present, "
            "else scikit-learn's bundled 8x8 digits, offline)",
        )
    add_guide_options(p)
    p.set_defaults(default_steps=steps, default_epochs=epochs, quick_steps=quick_steps)
    return p


def _language(text: str) -> str:
    # CliError, not argparse's error: one line, like every other bad option value
    if text not in notes.LANGUAGES:
        raise CliError(f"--lang must be one of {', '.join(notes.LANGUAGES)}, got {text!r}")
    return text


def add_lang(p: argparse.ArgumentParser, help_text: str) -> None:
    """Add `--lang {en,zh}` (default en) to a parser; any other value is a one-line CliError."""
    p.add_argument(
        "--lang",
        type=_language,
        default="en",
        metavar="{" + ",".join(notes.LANGUAGES) + "}",
        help=help_text,
    )


def add_guide_options(p: argparse.ArgumentParser) -> None:
    """Add the options of the guide every demo prints when it ends: `--lang`, `--no-guide`."""
    add_lang(
        p,
        "language of the guide printed at the end (what the lesson teaches, which "
        "TensorBoard tabs and tags to open, the tensorboard command): en or zh (Simplified "
        "Chinese); default %(default)s. Progress lines stay English.",
    )
    p.add_argument(
        "--no-guide",
        action="store_true",
        help="do not print that guide (the tour prints one table for all its demos)",
    )


def print_guide(name: str, args: argparse.Namespace) -> None:
    """Print lesson `name`'s closing guide in `args.lang` for the run in `args.logdir`,
    unless `args.no_guide`."""
    if not args.no_guide:
        print(f"\n{notes.note(name).closing(args.lang, args.logdir)}", flush=True)


def parse(p: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse argv and prepare the run directory (or raise CliError)."""
    return prepare(p.parse_args(argv))


def prepare(args: argparse.Namespace) -> argparse.Namespace:
    """Clear the run directory with --fresh, then make sure it is writable (or CliError)."""
    if args.fresh:
        clear_run(args.logdir)
    args.logdir = writable_dir(args.logdir, "--logdir")
    return args


def step_count(args: argparse.Namespace, examples: int = 0, batch_size: int = 1) -> int:
    """Steps to run now: --steps, else --epochs, else the quick or the lesson's default."""
    epochs = getattr(args, "epochs", None)
    if args.steps is not None:
        return args.steps
    if epochs is None and args.quick:
        return args.quick_steps
    epochs = epochs or args.default_epochs
    if epochs is not None:
        return max(1, -(-epochs * examples // batch_size))
    return args.default_steps


def has_event_files(path: Path | RemotePath) -> bool:
    """Whether a directory holds TensorBoard event files (it is, or contains, a run)."""
    return any(path.rglob("events.out.tfevents.*"))


def clear_run(path: str | Path | RemotePath, name: str = "--logdir") -> None:
    """Delete a previous run directory (local or a URI); refuse one that holds no event
    files (not a run)."""
    try:
        path = storage.log_path(path, name)
        if not path.exists():
            return
        if path.is_symlink() or not path.is_dir():
            raise CliError(f"{path} is not a run directory; refusing to delete it")
        if any(path.iterdir()) and not has_event_files(path):
            raise CliError(f"{path} holds no TensorBoard event files; refusing to delete it")
        storage.rmtree(path)
    except OSError as exc:
        raise CliError(f"cannot clear {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CliError(str(exc)) from None


def say(message: str) -> None:
    """Print a line without tearing an active progress bar."""
    from tqdm.auto import tqdm

    tqdm.write(message, file=sys.stdout)


def global_step() -> Any:
    """A fresh int64 step counter, like the lesson's `tf.Variable(0, trainable=False)`."""
    import tensorflow as tf

    return tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")


class Run:
    """One demo run: summary writer, checkpoint of `trackables`, global step, graph tracing.

    `name` is the lesson (its note goes into the run); `label` names the run in progress
    lines (default: the lesson's name)."""

    def __init__(
        self,
        name: str,
        logdir: Path | RemotePath,
        step: Any = None,
        *,
        label: str | None = None,
        **trackables: Any,
    ) -> None:
        import tensorflow as tf

        self.name = name
        self.label = label or name
        # a URI stays one (summary writer and checkpoints go through tf.io.gfile)
        self.logdir = storage.log_path(logdir, "--logdir")
        # the lesson's `global_step`; a model that needs it in its graph passes its own
        self.step = step if step is not None else global_step()
        self.checkpoint = tf.train.Checkpoint(step=self.step, **trackables)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(self.logdir / CHECKPOINTS), max_to_keep=2
        )
        self.writer = tf.summary.create_file_writer(str(self.logdir))
        self.start = 0
        self._writer_context = None

    def __enter__(self) -> Run:
        latest = self.manager.latest_checkpoint
        if latest:
            # expect_partial: objects created lazily (optimizer slots) may restore later
            self.checkpoint.restore(latest).expect_partial()
            self.start = int(self.step.numpy())
            say(f"{self.label}: resuming from {latest} at step {self.start}")
        else:
            say(f"{self.label}: new run in {self.logdir}")
        self._writer_context = self.writer.as_default()
        self._writer_context.__enter__()
        notes.write(self.name, step=self.start)  # what the run teaches (the Text tab)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None or exc_type is KeyboardInterrupt:
            path = self.manager.save(checkpoint_number=int(self.step.numpy()))
            say(f"{self.label}: saved {path} (step {int(self.step.numpy())})")
        self._writer_context.__exit__(exc_type, exc, tb)
        self.writer.flush()
        self.writer.close()

    def note(self, tag: str, text: str) -> None:
        """Print a line and keep it in the run as a text summary (TensorBoard's Text tab)."""
        import tensorflow as tf

        say(f"{self.label}: {text}")
        tf.summary.text(tag, text, step=self.start)

    def steps(self, count: int) -> Iterator[int]:
        """Global step numbers for `count` more steps, with a progress bar; advances `step`."""
        for step in progress(range(self.start, self.start + count), desc=self.label, total=count):
            yield step
            self.step.assign(step + 1)

    def train(self, step: int, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a training step; the run's first call also writes its graph (Graphs tab)."""
        if step == self.start:
            return self.call_with_graph(fn, *args)
        return fn(*args)

    def call_with_graph(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call a tf.function, first writing its op graph into the run (the Graphs tab)."""
        import tensorflow as tf

        # The concrete function's own graph, so the lesson's scopes are the top-level boxes.
        # (`trace_on`/`trace_export` would also collect every other function the process
        # ran, e.g. earlier demos of a tour, each as a `graph_N` box around its scopes.)
        tf.summary.graph(fn.get_concrete_function(*args).graph)
        return fn(*args)


def interval(steps: int, base: int, points: int) -> int:
    """Log every `base` steps, or more often when a short run would get fewer than `points`."""
    return max(1, min(base, steps // points))


def plot_fit(
    x: np.ndarray, y: np.ndarray, curve_x: np.ndarray, curve_y: np.ndarray, title: str
) -> np.ndarray:
    """Render data points and a model's curve with matplotlib; returns RGB uint8 [h, w, 3]."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.8, 3.6), dpi=80)  # no pyplot: no global state, no window
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(x, y, s=8, color="#0072B2", label="data")  # Okabe-Ito blue / vermillion
    ax.plot(curve_x, curve_y, color="#D55E00", lw=3, label="model")
    ax.set_title(title)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="upper center")
    fig.subplots_adjust(
        left=0.16, right=0.97, bottom=0.14, top=0.9
    )  # tight_layout: +0.2 s a figure
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def every(step: int, interval: int, last: int) -> bool:
    """Whether to log at `step`: every `interval` steps and at the run's last step."""
    return step % interval == 0 or step == last


def log_training(step: int, **values: Any) -> None:
    """The lessons' training scalars, `train/<name>` (`train/loss`, `train/accuracy`, ...): one
    tag scheme for every lesson, so one Scalars chart compares the course's models."""
    import summaries

    for name, value in values.items():
        summaries.scalar(f"train/{name}", value, step=step)


def log_classifier(
    step: int, labels: np.ndarray, predictions: np.ndarray, images: np.ndarray
) -> None:
    """The Confusion page's data: one matrix over the test images, classes '0'..'9'."""
    import summaries

    summaries.confusion(
        "confusion/test",
        np.asarray(labels),
        np.asarray(predictions),
        classes=[str(i) for i in range(10)],
        step=step,
        images=(np.clip(images, 0, 1) * 255).astype(np.uint8),
        cap_per_cell=4,
    )


def mnist_batches(run: Run, data: Any, batch_size: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """Note where the digits came from, log a few of them, and return the run's batches."""
    import tensorflow as tf

    import summaries

    run.note("about/data", data.source)
    with tf.name_scope("input"):
        summaries.image("images", data.x_train[:8, :, :, None], step=run.start, max_outputs=8)
    return data.next_batches(batch_size, seed=seed + run.start)


def evaluate(
    step: int,
    predict: Callable[[Any], Any],
    images: np.ndarray,
    labels: np.ndarray,
    tag: str = "test/accuracy",
) -> float:
    """Test accuracy of `predict`, logged as `tag` (the lessons' `test/accuracy`) with the
    confusion matrix."""
    import summaries

    predicted = predict(images).numpy()
    accuracy = float(np.mean(predicted == labels))
    summaries.scalar(tag, accuracy, step=step)
    log_classifier(step, labels, predicted, images)
    return accuracy
