"""`flowscope bench race`: its baselines compute the same race as the engine, and its ratios
say when they are within noise (the timings themselves are never asserted)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from demo_models.bench import race as bench
from demo_models.runtime import CliError
from summaries.race import engine

RACERS = [
    engine.Racer.make("momentum", "rosenbrock"),
    engine.Racer.make("adam", "himmelblau"),
    engine.Racer.make("ftrl", "quadratic"),
]
STEPS = 20


def test_competent_and_naive_loops_race_the_engines_race():
    import tensorflow as tf

    raced = engine.race(RACERS, STEPS, jit=False)
    competent = [f(tf.constant(STEPS)).numpy() for f in bench.competent_loops(RACERS, jit=False)]
    naive, seconds = bench.naive_eager(RACERS, STEPS + 1)
    assert seconds > 0
    for t, rows, eager in zip(raced, competent, naive, strict=True):
        assert rows.shape == (STEPS + 1, 3) and eager.shape == (STEPS + 1, 3)
        np.testing.assert_allclose(rows[:, :2], t.positions, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(rows[:, 2], t.losses, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(eager[:, :2], t.positions, rtol=1e-5, atol=1e-6)
    assert bench._agreement(raced, competent, STEPS) < 1e-5


@pytest.mark.parametrize(
    ("ratios", "says", "never"),
    [
        ([0.9, 1.2, 1.4], "within noise", "slower"),
        ([2.0, 3.0, 2.5], "2.5x", "noise"),
        ([0.2, 0.3, 0.25], "slower", "noise"),
    ],
)
def test_ratios_say_when_they_are_noise_or_slower(ratios, says, never):
    text = bench._ratio_text(ratios)
    assert says in text and never not in text


@pytest.mark.parametrize(
    "argv",
    [
        ["--eager-steps", "50"],
        ["--steps", "1"],
        ["--repeats", "0"],
        ["--whatif", "--surface", "nn_plane"],
    ],
)
def test_bad_options_are_one_line_errors(argv):
    with pytest.raises(CliError):
        bench.main(argv)
