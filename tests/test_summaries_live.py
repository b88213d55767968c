"""What the summaries library writes, the real TensorBoard serves (both loaders, default flags).

One logdir holds: a 100,000-step trajectory written by `summaries.trajectory` (TensorFlow),
a race and per-position confusion written by the TensorFlow-free writers, and scalars,
histograms and images written by the helpers. One TensorBoard per loader serves them all.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from conftest import wait_for

import summaries
from summaries import pb
from summaries.race import DEFAULT_CHUNK

LONG = 100_000
WINDOW = [-3.0, 3.0, -3.0, 3.0]


def long_trajectory():
    steps = np.arange(LONG)
    angle = steps * 1e-3
    radius = 2.0 * np.exp(-steps / 40_000)
    positions = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return steps, positions, radius**2


def write_logdir(logdir):
    steps, positions, losses = long_trajectory()
    writer = tf.summary.create_file_writer(str(logdir / "spiral" / "adam"))
    with writer.as_default(), tf.name_scope("race"):
        summaries.trajectory(
            "trajectory",
            steps,
            positions,
            losses,
            race="spiral",
            optimizer="adam",
            surface="bowl",
            window=WINDOW,
            minima=[[0.0, 0.0]],
            hyperparameters={"learning_rate": 0.01},
            tolerance=0.05,
        )
    writer.close()

    xs, ys = np.meshgrid(np.linspace(-3, 3, 31), np.linspace(-3, 3, 31))
    with pb.LogWriter(str(logdir / "numpy-race" / "sgd")) as log:
        summaries.write_surface(
            log, "race/surface", xs**2 + ys**2, race="numpy-race", surface="bowl", window=WINDOW
        )
        summaries.write_trajectory(
            log,
            "race/trajectory",
            np.arange(50),
            np.column_stack([np.linspace(2, 0, 50), np.linspace(-2, 0, 50)]),
            np.linspace(8, 0, 50),
            race="numpy-race",
            optimizer="sgd",
            surface="bowl",
            window=WINDOW,
            chunk=16,
        )

    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, (40, 2))
    predictions = np.where(rng.random((40, 2)) < 0.7, labels, (labels + 1) % 3)
    images = np.stack([np.full((6, 10), 6 * n, np.uint8) for n in range(40)])
    with pb.LogWriter(str(logdir / "numpy-confusion")) as log:
        counts = summaries.write_confusion(
            log,
            "confusion/validation",
            labels=labels,
            predictions=predictions,
            classes=["x", "y", "z"],
            positions=["digit 1", "digit 2"],
            images=images,
            step=7,
            cap_per_cell=3,
        )

    values = rng.standard_normal(1000).astype(np.float32)
    writer = tf.summary.create_file_writer(str(logdir / "basic"))
    with writer.as_default(), tf.name_scope("layer"):
        for step in range(2):
            summaries.scalar("loss", 1.0 / (step + 1), step=step)
            summaries.histogram("weights", values + step, step=step)
            summaries.image("input", np.full((1, 4, 4, 1), 0.5, np.float32), step=step)
    writer.close()
    return steps, positions, losses, counts, labels, predictions


def test_tensorboard_serves_everything_the_library_writes(tmp_path, tensorboard):
    logdir = tmp_path / "logs"
    steps, positions, losses, counts, labels, predictions = write_logdir(logdir)
    board = tensorboard(logdir)  # default flags: no --samples_per_plugin
    board.wait_enabled("optimizer_race", "position_confusion")

    # 100,000 steps in 25 chunks, served whole (the loaders keep every chunk)
    def whole_trajectory():
        data = board.plugin(
            "optimizer_race", "trajectory", run="spiral/adam", tag="race/trajectory", points=5000
        )
        return data if data["total_points"] == LONG else None

    trajectory = wait_for(whole_trajectory, timeout=120)
    served = np.array(trajectory["step"])
    assert served[0] == 0 and served[-1] == LONG - 1 and len(served) == 5000
    np.testing.assert_allclose(trajectory["x"], positions[served, 0], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(trajectory["y"], positions[served, 1], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(trajectory["loss"], losses[served], rtol=1e-6)
    races = {r["race"]: r for r in board.plugin("optimizer_race", "races")["races"]}
    assert set(races) >= {"spiral", "numpy-race"}
    [racer] = races["spiral"]["racers"]
    assert racer["max_step"] == (LONG - 1) // DEFAULT_CHUNK * DEFAULT_CHUNK
    assert racer["hyperparameters"] == {"learning_rate": 0.01}

    # the TensorFlow-free race
    small = board.plugin("optimizer_race", "trajectory", run="numpy-race/sgd")
    assert small["total_points"] == 50 and small["step"] == list(range(50))
    assert [r["optimizer"] for r in races["numpy-race"]["racers"]] == ["sgd"]

    # the TensorFlow-free confusion, with its examples
    [run] = [
        r
        for r in board.plugin("position_confusion", "runs")["runs"]
        if r["run"] == "numpy-confusion"
    ]
    assert run["tags"][0]["classes"] == ["x", "y", "z"]
    assert run["tags"][0]["positions"] == ["digit 1", "digit 2"]
    matrix = board.plugin(
        "position_confusion", "matrix", run="numpy-confusion", tag="confusion/validation"
    )
    assert matrix["step"] == 7 and matrix["counts"] == counts.tolist()
    p, true, predicted = (int(v) for v in np.argwhere(counts * (1 - np.eye(3)))[0])
    examples = board.plugin(
        "position_confusion",
        "examples",
        run="numpy-confusion",
        tag="confusion/validation",
        position=p,
        true=true,
        predicted=predicted,
    )
    assert examples["stored"] == min(3, counts[p, true, predicted]) == len(examples["images"])
    status, png = board.get("/data/plugin/position_confusion/" + examples["images"][0]["url"])
    assert status == 200 and png.startswith(b"\x89PNG")

    # TensorBoard's own Scalars, Histograms, Distributions and Images dashboards
    scalars = board.get_json("/data/plugin/scalars/scalars?run=basic&tag=layer/loss")
    assert [(s, v) for _, s, v in scalars] == [(0, 1.0), (1, 0.5)]
    histograms = board.get_json("/data/plugin/histograms/histograms?run=basic&tag=layer/weights")
    assert [h[1] for h in histograms] == [0, 1]
    buckets = histograms[1][2]
    assert len(buckets) == 30 and sum(count for _, _, count in buckets) == 1000
    distributions = board.get_json(
        "/data/plugin/distributions/distributions?run=basic&tag=layer/weights"
    )
    assert len(distributions) == 2
    images = board.get_json("/data/plugin/images/images?run=basic&tag=layer/input&sample=0")
    assert [i["step"] for i in images] == [0, 1]
    status, body = board.get("/data/plugin/images/individualImage?" + images[0]["query"])
    assert status == 200 and body.startswith(b"\x89PNG")
