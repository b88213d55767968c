"""Small logdirs for tests, written with the TensorFlow-free writers (no TensorFlow start-up)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from summaries import pb
from summaries import race as race_summaries
from summaries.format import race_tag
from summaries.position_confusion import confusion_pb, examples_pb
from summaries.race import surface_pb

SADDLE_WINDOW = [-2.0, 2.0, -2.0, 2.0]


def write_race(
    logdir: Path, race: str = "saddle-race", steps: int = 50, one_run: bool = True
) -> list[str]:
    """A race of two racers on the saddle x^2 - y^2; returns the run names.

    `one_run`: Flowscope's layout (format version 3), one run `<race>` holding both racers
    (`race/trajectory/<name>`); else the version-2 layout, one run `<race>/<name>` per racer.
    """
    xs, ys = np.meshgrid(np.linspace(-2, 2, 41), np.linspace(-2, 2, 41))
    surface = surface_pb(
        "race/surface", xs**2 - ys**2, race=race, surface="saddle", window=SADDLE_WINDOW
    )
    runs: dict[str, list] = {}
    for name, lr in (("sgd", 0.05), ("adam", 0.1)):
        pos = np.zeros((steps, 2))
        pos[0] = (1.0, 1e-3)
        for i in range(1, steps):
            x, y = pos[i - 1]
            pos[i] = (x - lr * 2 * x, y + lr * 2 * y)
        loss = pos[:, 0] ** 2 - pos[:, 1] ** 2
        events = race_summaries.trajectory_pb(
            race_tag("trajectory", name) if one_run else race_tag("trajectory"),
            np.arange(steps),
            pos,
            loss,
            race=race,
            optimizer=name,
            racer=name if one_run else None,
            surface="saddle",
            window=SADDLE_WINDOW,
            hyperparameters={"learning_rate": lr},
            chunk=16,
        )
        runs.setdefault(race if one_run else f"{race}/{name}", []).extend(events)
    for run, events in runs.items():
        with pb.LogWriter(str(logdir / run)) as writer:  # one event file per run
            writer.add(surface, step=0)
            for first, summary in events:
                writer.add(summary, step=first)
    return list(runs)


def write_confusion(logdir: Path, run: str = "captcha-toy", steps: int = 3) -> str:
    """A 2-position x 3-class confusion series with a few example images."""
    rng = np.random.default_rng(0)
    with pb.LogWriter(str(logdir / run)) as writer:
        for step in range(steps):
            counts = rng.integers(0, 5, size=(2, 3, 3)) + np.eye(3, dtype=int) * (10 + 10 * step)
            writer.add(
                confusion_pb(
                    "confusion/validation",
                    counts,
                    positions=["digit 1", "digit 2"],
                    classes=["a", "b", "c"],
                ),
                step=step,
            )
            cells = [[0, 0, 1], [0, 0, 1], [1, 2, 0]]
            images = [rng.integers(0, 255, size=(12, 20), dtype=np.uint8) for _ in cells]
            writer.add(
                examples_pb(
                    "confusion/validation/examples",
                    cells,
                    images,
                    matrix_tag="confusion/validation",
                    cap_per_cell=4,
                ),
                step=step,
            )
    return run
