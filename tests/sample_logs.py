"""Small logdirs for tests, written with the TensorFlow-free writers (no TensorFlow start-up)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from summaries import pb
from summaries import race as race_summaries

SADDLE_WINDOW = [-2.0, 2.0, -2.0, 2.0]


def write_race(logdir: Path, race: str = "saddle-race", steps: int = 50) -> list[str]:
    """A race of two racers on the saddle x^2 - y^2; returns the run names."""
    xs, ys = np.meshgrid(np.linspace(-2, 2, 41), np.linspace(-2, 2, 41))
    runs = []
    for name, lr in (("sgd", 0.05), ("adam", 0.1)):
        run = f"{race}/{name}"
        pos = np.zeros((steps, 2))
        pos[0] = (1.0, 1e-3)
        for i in range(1, steps):
            x, y = pos[i - 1]
            pos[i] = (x - lr * 2 * x, y + lr * 2 * y)
        loss = pos[:, 0] ** 2 - pos[:, 1] ** 2
        with pb.LogWriter(str(logdir / run)) as writer:
            writer.add(
                pb.surface_pb(
                    "race/surface", xs**2 - ys**2, race=race, surface="saddle", window=SADDLE_WINDOW
                ),
                step=0,
            )
            events = race_summaries.trajectory_pb(
                "race/trajectory",
                np.arange(steps),
                pos,
                loss,
                race=race,
                optimizer=name,
                surface="saddle",
                window=SADDLE_WINDOW,
                hyperparameters={"learning_rate": lr},
                chunk=16,
            )
            for first, summary in events:
                writer.add(summary, step=first)
        runs.append(run)
    return runs


def write_confusion(logdir: Path, run: str = "captcha-toy", steps: int = 3) -> str:
    """A 2-position x 3-class confusion series with a few example images."""
    rng = np.random.default_rng(0)
    with pb.LogWriter(str(logdir / run)) as writer:
        for step in range(steps):
            counts = rng.integers(0, 5, size=(2, 3, 3)) + np.eye(3, dtype=int) * (10 + 10 * step)
            writer.add(
                pb.confusion_pb(
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
                pb.examples_pb(
                    "confusion/validation/examples",
                    cells,
                    images,
                    matrix_tag="confusion/validation",
                    cap_per_cell=4,
                ),
                step=step,
            )
    return run
