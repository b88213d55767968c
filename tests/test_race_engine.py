"""The race engine against plain eager Keras loops, divergence handling and `simulate`."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from summaries.race import engine, optimizers
from summaries.race import metrics as race_metrics
from summaries.race.surfaces import SURFACES

DIRECT = [name for name, s in SURFACES.items() if s.direct]
STEPS = 12


def eager_reference(racer: engine.Racer, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """A plain eager loop: loss, gradient, `optimizer.apply_gradients`, one step at a time."""
    import tensorflow as tf

    surf = SURFACES[racer.surface]
    params = tf.Variable(surf.initial_params(racer.start))
    optimizer = optimizers.make(racer.optimizer, racer.hp)
    positions, losses = [], []
    for t in range(steps + 1):
        with tf.GradientTape() as tape:
            loss = surf.tf_loss(params)
        positions.append(surf.tf_position(params).numpy())
        losses.append(float(loss))
        if t < steps:
            optimizer.apply_gradients([(tape.gradient(loss, params), params)])
    return np.array(positions, dtype=np.float64), np.array(losses)


def assert_same(trajectory: engine.Trajectory, positions: np.ndarray, losses: np.ndarray):
    n = len(trajectory.positions)
    assert n == len(positions) or trajectory.diverged_step == n - 1
    # float32 arithmetic in a different program (XLA fuses ops): relative 1e-4
    np.testing.assert_allclose(trajectory.positions, positions[:n], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(trajectory.losses, losses[:n], rtol=1e-4, atol=1e-5)


RACERS = [engine.Racer.make(o, s) for s in DIRECT for o in optimizers.OPTIMIZERS]


@pytest.fixture(scope="module")
def eager_runs():
    return {racer: eager_reference(racer, STEPS) for racer in RACERS}


@pytest.fixture(scope="module", params=["xla", "graph"])
def whole_race(request):
    # Program directly, so that an XLA failure fails here instead of falling back
    return engine.Program(RACERS, jit=request.param == "xla").run(STEPS)


@pytest.mark.parametrize("surface", DIRECT)
def test_batched_race_equals_eager_apply_gradients(whole_race, eager_runs, surface):
    """Every optimizer on every 2-D surface, all in one compiled program (XLA or not)."""
    checked = 0
    for trajectory in whole_race:
        if trajectory.racer.surface != surface:
            continue
        assert_same(trajectory, *eager_runs[trajectory.racer])
        assert not np.allclose(trajectory.positions[-1], trajectory.positions[0])  # it moved
        checked += 1
    assert checked == len(optimizers.OPTIMIZERS)


def test_network_racers_equal_eager_training():
    """nn_plane: the full network trains as in an eager loop, projected onto the plane."""
    racers = [engine.Racer.make(o, "nn_plane") for o in ("momentum", "adam")]
    for trajectory in engine.race(racers, 8):
        positions, losses = eager_reference(trajectory.racer, 8)
        assert_same(trajectory, positions, losses)
        assert losses[-1] < losses[0]


def test_one_optimizer_per_optimizer_whatever_the_surface_rate_or_momentum():
    """Racers of one optimizer share one Keras optimizer across surfaces, learning rates and
    momenta (per-element vectors); a group with fewer racers on a surface than another is
    padded. Every racer still follows its own eager loop."""
    every = [engine.Racer.make(o, s) for s in SURFACES for o in optimizers.OPTIMIZERS]
    assert len(engine.Program(every, jit=False).groups) == len(optimizers.OPTIMIZERS)
    racers = [
        engine.Racer.make("rmsprop", "beale"),  # momentum 0 beside 0.5 and 0.9
        engine.Racer.make("rmsprop", "beale", {"momentum": 0.5, "learning_rate": 0.003}),
        engine.Racer.make("rmsprop", "nn_plane", {"momentum": 0.9}),
        engine.Racer.make("adam", "rosenbrock"),
        engine.Racer.make("adam", "rosenbrock", start=(0.5, -0.5)),
        engine.Racer.make("adam", "beale", {"learning_rate": 0.01}),
        engine.Racer.make("adam", "nn_plane"),
        engine.Racer.make("sgd", "linear_regression"),  # the surface's own rate, 0.2
    ]
    program = engine.Program(racers, jit=False)
    assert [g.racers[0].optimizer for g in program.groups] == ["rmsprop", "adam", "sgd"]
    for trajectory in program.run(8):
        assert_same(trajectory, *eager_reference(trajectory.racer, 8))


def test_simulate_equals_eager_and_reuses_its_program():
    hp = {"learning_rate": 0.001, "momentum": 0.5}
    result = engine.simulate("nag", hp, "rosenbrock", start=(0.0, 0.5), steps=STEPS)
    racer = engine.Racer.make("nag", "rosenbrock", hp, (0.0, 0.5))
    positions, losses = eager_reference(racer, STEPS)
    np.testing.assert_allclose(result["positions"], positions, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result["losses"], losses, rtol=1e-5, atol=1e-6)
    assert result["diverged_step"] is None
    # another learning rate and start reuse the compiled program and reset its state
    again = engine.simulate("nag", {**hp, "learning_rate": 0.0005}, "rosenbrock", steps=STEPS)
    racer = engine.Racer.make("nag", "rosenbrock", {**hp, "learning_rate": 0.0005})
    positions, _ = eager_reference(racer, STEPS)
    np.testing.assert_allclose(again["positions"], positions, rtol=1e-5, atol=1e-6)


def test_new_learning_rate_momentum_start_or_steps_never_retrace():
    """The what-if's loop reads learning rate and momentum from variables: one trace per
    optimizer, surface and other hyper-parameters, and each answer equals the eager loop."""
    before = engine.trace_count()
    engine.simulate("momentum", {"learning_rate": 0.002}, "quadratic", steps=STEPS)
    traced = engine.trace_count()
    assert traced <= before + 1  # 0: an earlier test in this process left it cached
    for hp, start, steps in [
        ({"learning_rate": 0.01, "momentum": 0.5}, None, STEPS),
        ({"learning_rate": 0.003, "momentum": 0.0}, (1.0, -1.0), STEPS + 5),  # plain SGD
        ({"learning_rate": 0.03, "momentum": 0.95}, None, 3),
    ]:
        result = engine.simulate("momentum", hp, "quadratic", start=start, steps=steps)
        positions, losses = eager_reference(
            engine.Racer.make("momentum", "quadratic", hp, start), steps
        )
        np.testing.assert_allclose(result["positions"], positions, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(result["losses"], losses, rtol=1e-5, atol=1e-6)
    assert engine.trace_count() == traced
    # RMSprop logs momentum 0 and offers it as a what-if: a momentum of 0.5 moves differently
    rms = engine.simulate("rmsprop", {"momentum": 0.0}, "quadratic", steps=STEPS)
    traced = engine.trace_count()
    moved = engine.simulate("rmsprop", {"momentum": 0.5}, "quadratic", steps=STEPS)
    assert engine.trace_count() == traced
    positions, _ = eager_reference(
        engine.Racer.make("rmsprop", "quadratic", {"momentum": 0.5}), STEPS
    )
    np.testing.assert_allclose(moved["positions"], positions, rtol=1e-5, atol=1e-6)
    assert not np.allclose(moved["positions"], rms["positions"])
    # another fixed hyper-parameter is another loop
    engine.simulate("rmsprop", {"rho": 0.8}, "quadratic", steps=STEPS)
    assert engine.trace_count() == traced + 1


def test_prepare_traces_once_and_is_idempotent():
    before = engine.trace_count()
    fixed = {"beta_1": 0.85}  # a loop no other test asks for
    assert engine.prepare("adamax", {"learning_rate": 0.02, **fixed}, "himmelblau") is False
    assert engine.prepare("adamax", {"learning_rate": 0.3, **fixed}, "himmelblau") is True
    engine.simulate("adamax", {"learning_rate": 0.1, **fixed}, "himmelblau", steps=STEPS)
    assert engine.trace_count() == before + 1


def test_divergence_freezes_only_the_diverged_racer():
    racers = [
        engine.Racer.make("sgd", "rosenbrock", {"learning_rate": 0.5}),  # flies off
        engine.Racer.make("sgd", "quadratic", {"learning_rate": 0.5}),  # same group, explodes
        engine.Racer.make("sgd", "linear_regression"),
        engine.Racer.make("adam", "rosenbrock"),
    ]
    wild, exploding, calm, adam = engine.race(racers, 200)
    for t in (wild, exploding):
        assert t.diverged_step is not None
        assert len(t.positions) == t.diverged_step + 1
        assert t.reason in (race_metrics.REASON_LEFT, race_metrics.REASON_INF)
        metrics = race_metrics.trajectory_metrics(
            t.positions,
            t.losses,
            minima=SURFACES[t.racer.surface].minima,
            window=SURFACES[t.racer.surface].window,
            tolerance=0.05,
        )
        assert metrics["diverged"] and metrics["diverged_step"] == t.diverged_step
    for t in (calm, adam):  # racers beside a diverged one race all their steps
        assert t.diverged_step is None and len(t.positions) == 201
        assert np.isfinite(t.losses).all() and t.losses[-1] < t.losses[0]
    # the calm racer shares its optimizer with the wild ones: identical to racing alone
    alone = engine.race([engine.Racer.make("sgd", "linear_regression")], 200)[0]
    np.testing.assert_allclose(calm.positions, alone.positions, rtol=1e-5)


def test_nan_is_caught_with_its_step():
    result = engine.simulate("sgd", {"learning_rate": 1e30}, "beale", steps=50)
    assert result["diverged_step"] is not None and result["diverged_step"] < 50
    assert len(result["positions"]) == result["diverged_step"] + 1
    assert result["reason"] in ("nan", "inf", "left window")


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"optimizer": "adamm"}, "optimizer"),
        ({"surface": "moon"}, "surface"),
        ({"hyperparameters": {"learning_rat": 0.1}}, "hyperparameters"),
        ({"hyperparameters": {"learning_rate": -1.0}}, "hyperparameters"),
        ({"hyperparameters": {"momentum": 0.5}}, "hyperparameters"),  # Adam has none
        ({"start": (0.0, float("nan"))}, "start"),
        ({"steps": 0}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"hyperparameters": {"learning_rate": "fast"}}, "hyperparameters"),
        ({"hyperparameters": [0.1]}, "hyperparameters"),
        ({"optimizer": None}, "optimizer"),
    ],
)
def test_simulate_rejects_bad_arguments_by_name(kwargs, argument):
    call = {"optimizer": "adam", "hyperparameters": {}, "surface": "beale", **kwargs}
    with pytest.raises(ValueError, match=argument):
        engine.simulate(**call)


@pytest.mark.parametrize("name", list(SURFACES))
def test_surface_numpy_and_tensorflow_agree(name):
    """value() (grids), tf_loss (racing) and the batched loss are the same function."""
    import tensorflow as tf

    surf = SURFACES[name]
    xmin, xmax, ymin, ymax = surf.window
    points = [surf.start, *surf.minima, (0.3 * xmin + 0.7 * xmax, 0.6 * ymin + 0.4 * ymax)]
    params = np.stack([surf.initial_params(p) for p in points])
    single = [float(surf.tf_loss(tf.constant(p))) for p in params]
    batched = surf.tf_batch_loss(tf.constant(params)).numpy()
    grid = surf.value(np.array([p[0] for p in points]), np.array([p[1] for p in points]))
    np.testing.assert_allclose(single, grid, rtol=2e-4, atol=1e-5)
    np.testing.assert_allclose(batched, grid, rtol=2e-4, atol=1e-5)
    # the map position of the parameters at a point is that point
    positions = surf.tf_batch_position(tf.constant(params)).numpy()
    np.testing.assert_allclose(positions, np.array(points), atol=1e-4)
    for minimum in surf.minima:  # known minima are (numerically) minima of the surface
        assert surf.value(*minimum) <= surf.value(*surf.start)
        assert surf.value(*minimum) < 1e-6
