"""The logdir `flowscope bench serve` times: race and confusion runs with the numpy writers.

Race runs follow Flowscope's tag layout (`summaries.format.RACE_TAGS`); confusion runs log
a [P, K, K] matrix per step, example images, and a whole-sequence accuracy scalar that the
matrix's metadata names (`sequence_accuracy_tag`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summaries.format import RACE_TAGS

LOSS_TAG = RACE_TAGS["loss"]
TRAJECTORY_TAG = RACE_TAGS["trajectory"]
SURFACE_TAG = RACE_TAGS["surface"]
MATRIX_TAG = "confusion/validation"
EXAMPLES_TAG = "confusion/validation/examples"
SEQUENCE_TAG = "validation/sequence_accuracy"
SURFACES = ("beale", "rosenbrock", "himmelblau", "quadratic")
OPTIMIZERS = (
    ("sgd", 0.001),
    ("momentum", 0.001),
    ("adagrad", 0.5),
    ("rmsprop", 0.01),
    ("adam", 0.05),
)


@dataclass
class Sizes:
    """How big the benchmark's logdir is, and how many rounds, start-ups and moves it times."""

    race_runs: int = 20
    race_steps: int = 10_000
    confusion_runs: int = 5
    confusion_steps: int = 200
    positions: int = 4
    classes: int = 10
    rounds: int = 30
    starts: int = 5
    large_steps: int = 1_000_000
    large_positions: int = 8
    large_classes: int = 36
    large_confusion_steps: int = 1000
    sampled_steps: int = 10  # confusion steps per run that /matrix, /examples, /image rotate over
    large_repeats: int = 4
    slider_moves: int = 12


QUICK = Sizes(
    race_runs=4,
    race_steps=2000,
    confusion_runs=2,
    confusion_steps=20,
    rounds=3,
    starts=1,
    large_steps=100_000,
    large_confusion_steps=200,  # more than /series sends at 8 x 36 (192): thinning happens
    sampled_steps=3,
    large_repeats=2,
    slider_moves=6,
)


def _path(surface, steps: int, rng, speed: float) -> tuple[Any, Any]:
    """A plausible optimizer path: a damped spiral from the start into a minimum, plus noise."""
    import numpy as np

    start = np.array(surface.start)
    goal = np.array(surface.minima[0] if surface.minima else surface.start)
    t = np.arange(steps) / max(steps - 1, 1)
    decay = np.exp(-speed * 8 * t)[:, None]
    angle = speed * 25 * t
    spin = np.column_stack([np.cos(angle), np.sin(angle)]) * np.linalg.norm(start - goal) * 0.3
    path = goal + (start - goal) * decay + spin * decay * np.sin(np.pi * t)[:, None]
    path += rng.normal(0, 0.002, size=path.shape) * decay
    return path, surface.value(path[:, 0], path[:, 1])


def _png_pool(count: int, rng) -> list[bytes]:
    from summaries.protos import encode_png

    return [encode_png(rng.integers(0, 255, size=(24, 72), dtype="uint8")) for _ in range(count)]


def _write_racer(writer, surface, race: str, optimizer: str, lr: float, positions, losses):
    """One racer's loss surface and whole trajectory (steps 0, 1, ...) into `writer`."""
    import numpy as np

    from summaries import race as race_summaries

    race_summaries.write_surface(
        writer,
        SURFACE_TAG,
        surface.grid(101)[2],
        race=race,
        surface=surface.name,
        window=surface.window,
        minima=surface.minima,
        log_scale=surface.log_scale,
    )
    race_summaries.write_trajectory(
        writer,
        TRAJECTORY_TAG,
        np.arange(len(losses)),
        positions,
        losses,
        race=race,
        optimizer=optimizer,
        surface=surface.name,
        window=surface.window,
        hyperparameters={"learning_rate": lr},
        start=surface.start,
        minima=surface.minima,
        tolerance=surface.tolerance,
    )


def write_race_runs(logdir: Path, runs: int, steps: int, seed: int = 0) -> list[dict]:
    """`runs` racers (surfaces x optimizers), each with a trajectory, a surface and race/loss."""
    import numpy as np
    from tensorboard.plugins.scalar import summary_v2 as scalar_summary

    from summaries.pb import LogWriter
    from summaries.race.surfaces import SURFACES as ALL_SURFACES

    rng = np.random.default_rng(seed)
    made = []
    for i in range(runs):
        surface = ALL_SURFACES[SURFACES[i // len(OPTIMIZERS) % len(SURFACES)]]
        optimizer, lr = OPTIMIZERS[i % len(OPTIMIZERS)]
        block = i // (len(OPTIMIZERS) * len(SURFACES))
        race = f"bench-{surface.name}" + (f"-{block}" if block else "")
        run = f"{race}/{optimizer}"
        positions, losses = _path(surface, steps, rng, 0.5 + 0.1 * (i % len(OPTIMIZERS)))
        with LogWriter(str(logdir / run)) as writer:
            _write_racer(writer, surface, race, optimizer, lr, positions, losses)
            scalar = scalar_summary.scalar_pb(LOSS_TAG, 0.0)  # a template: only the value changes
            for step, loss in enumerate(losses.tolist()):
                scalar.value[0].tensor.float_val[0] = loss
                writer.add(scalar, step=step)
        made.append({"run": run, "race": race, "optimizer": optimizer, "lr": lr})
    return made


def _counts(rng, positions: int, classes: int, accuracy: float, samples: int):
    """[P, K, K] counts: `samples` per position spread evenly over true classes."""
    import numpy as np

    per_class = max(samples // classes, 1)
    wrong = rng.binomial(per_class, 1 - accuracy, size=(positions, classes))
    spread = rng.multinomial(wrong, rng.dirichlet(np.ones(classes - 1)))  # [P, K, K-1]
    counts = np.zeros((positions, classes, classes), np.int64)
    counts[:, ~np.eye(classes, dtype=bool)] = spread.reshape(positions, -1)
    counts[:, np.arange(classes), np.arange(classes)] = per_class - wrong
    return counts


def write_confusion_run(
    logdir: Path,
    run: str,
    steps: int,
    positions: int,
    classes: int,
    rng,
    pool: list[bytes],
    examples_every: int = 1,
    images: int = 24,
) -> None:
    """One confusion run: a [P, K, K] matrix per step, example images, sequence accuracy."""
    import numpy as np
    from tensorboard.plugins.scalar import summary_v2 as scalar_summary

    from summaries import pb
    from summaries.position_confusion import confusion_pb, examples_pb

    position_names = [f"digit {p + 1}" for p in range(positions)]
    class_names = [str(c) if c < 10 else chr(ord("A") + c - 10) for c in range(classes)]
    with pb.LogWriter(str(logdir / run)) as writer:
        for step in range(steps):
            accuracy = 0.5 + 0.45 * step / max(steps - 1, 1)
            counts = _counts(rng, positions, classes, accuracy, 25 * classes)
            writer.add(
                confusion_pb(
                    MATRIX_TAG,
                    counts,
                    positions=position_names,
                    classes=class_names,
                    sequence_accuracy_tag=SEQUENCE_TAG,
                ),
                step=step,
            )
            if step % examples_every == 0:
                off = np.argwhere(counts * (1 - np.eye(classes, dtype=np.int64)) > 0)
                cells = off[rng.permutation(len(off))[:images]].tolist()
                blobs = [pool[(step + j) % len(pool)] for j in range(len(cells))]
                writer.add(
                    examples_pb(EXAMPLES_TAG, cells, blobs, matrix_tag=MATRIX_TAG, cap_per_cell=4),
                    step=step,
                )
            writer.add(scalar_summary.scalar_pb(SEQUENCE_TAG, accuracy**positions), step=step)


def write_confusion_runs(logdir: Path, sizes: Sizes, seed: int = 1) -> list[str]:
    """`sizes.confusion_runs` confusion runs (captcha-0, ...); returns their names."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pool = _png_pool(48, rng)
    runs = [f"captcha-{i}" for i in range(sizes.confusion_runs)]
    for run in runs:
        write_confusion_run(
            logdir, run, sizes.confusion_steps, sizes.positions, sizes.classes, rng, pool
        )
    return runs


def write_large(logdir: Path, sizes: Sizes, seed: int = 2) -> dict[str, Any]:
    """A long trajectory (one racer) and a wide 8 x 36 confusion series."""
    import numpy as np

    from summaries.pb import LogWriter
    from summaries.race.surfaces import SURFACES as ALL_SURFACES

    rng = np.random.default_rng(seed)
    surface = ALL_SURFACES["rosenbrock"]
    race, run = "large-race", "large-race/adam"
    positions, losses = _path(surface, sizes.large_steps, rng, 0.7)
    with LogWriter(str(logdir / run)) as writer:
        _write_racer(writer, surface, race, "adam", 0.05, positions, losses)
    confusion_run = "large-captcha"
    write_confusion_run(
        logdir,
        confusion_run,
        sizes.large_confusion_steps,
        sizes.large_positions,
        sizes.large_classes,
        rng,
        _png_pool(48, rng),
        examples_every=max(sizes.large_confusion_steps // 20, 1),
        images=60,
    )
    return {"race": race, "run": run, "confusion_run": confusion_run}
