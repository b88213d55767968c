"""Racing `torch.optim` optimizers on a PyTorch model (docs/examples/pytorch_model_race.py,
`summaries.race.race_landscape`): the recipe runs on the CPU wheel in a Python where
TensorFlow cannot be imported, and the Optimizer Race page's routes show its run as an
own-model race: every racer, points that are its weights' projections, a surface that is
the loss function on the plane, a PCA basis and a ranked leaderboard."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REPO
from plugin_harness import InProcessBoard
from test_torch import needs_torch, without_tensorflow

RECIPE = REPO / "docs" / "examples" / "pytorch_model_race.py"
RACE = "optimizer_race"
STEPS, GRID = 40, 5
CHECKED_STEPS = [0, 7, STEPS]  # snapshots whose projection the test recomputes
GRID_POINTS = [(0, 0), (2, 3), (4, 1)]  # (row, column) cells whose loss it recomputes

# In the child: run the recipe small, then hand back the snapshots, the plane, and the
# loss function's values at a few grid points (recomputed here, not taken from the race).
RUN_RECIPE = f"""
import runpy
from pathlib import Path

import numpy as np

recipe = runpy.run_path({str(RECIPE)!r})
race, snapshots, loss_at = recipe["race_torch_model"](Path(sys.argv[1]), steps={STEPS},
                                                      grid={GRID})
xs = np.linspace(race.window[0], race.window[1], {GRID})
ys = np.linspace(race.window[2], race.window[3], {GRID})
d = race.directions.astype(np.float64)
points = [(race.origin + xs[c] * d[:, 0] + ys[r] * d[:, 1]).astype(np.float32)
          for r, c in {GRID_POINTS!r}]
result = {{
    "snapshots": {{name: s.tolist() for name, s in snapshots.items()}},
    "origin": race.origin.tolist(),
    "directions": race.directions.tolist(),
    "losses": [loss_at(p) for p in points],
    "ranked": [r.name for r in race.ranked()],
}}
"""


@pytest.fixture(scope="module")
def torch_race(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("torch-model-race")
    return logdir, without_tensorflow(RUN_RECIPE, str(logdir))


@needs_torch
def test_a_torch_model_race_shows_like_a_keras_one(torch_race):
    logdir, child = torch_race
    board = InProcessBoard(logdir)
    (race,) = board.plugin(RACE, "races")["races"]
    assert race["race"] == "torch-mlp" and race["whatif"] is False
    names = ["sgd", "momentum", "rmsprop", "adam"]
    assert [r["name"] for r in race["racers"]] == names
    assert race["racers"][1]["optimizer"] == "torch.optim.SGD"
    assert race["racers"][1]["hyperparameters"] == {"learning_rate": 0.05, "momentum": 0.9}

    # the plane: the first two principal directions of all displacements from the start
    snapshots = {k: np.array(v) for k, v in child["snapshots"].items()}
    origin, directions = np.array(child["origin"]), np.array(child["directions"])
    assert all(np.array_equal(s[0], origin) for s in snapshots.values())  # a shared start
    moved = np.concatenate([s - origin for s in snapshots.values()])
    singular = np.linalg.svd(moved, compute_uv=False) ** 2
    shares = singular[:2] / singular.sum()
    basis = race["basis"]
    assert basis["method"] == "pca" and basis["axes"][0].startswith("PC1 (")
    np.testing.assert_allclose(basis["explained"], shares, rtol=1e-4)
    assert basis["captured"] == pytest.approx(shares.sum(), rel=1e-4)
    assert basis["parameters"] == origin.size == 4 * 16 + 16 + 16 * 2 + 2
    np.testing.assert_allclose(directions.T @ directions, np.eye(2), atol=1e-5)

    # every point is its snapshot's least-squares projection on the plane
    for name, weights in snapshots.items():
        path = board.plugin(RACE, "trajectory", run="torch-mlp", tag=f"race/trajectory/{name}")
        assert path["step"] == list(range(STEPS + 1)) and path["downsampling"] == "none"
        for step in CHECKED_STEPS:
            coords = np.linalg.lstsq(directions, weights[step] - origin, rcond=None)[0]
            shown = [path["x"][step], path["y"][step]]
            np.testing.assert_allclose(shown, coords, rtol=1e-5, atol=1e-6)

    # the surface is the loss function at the grid's points (rows follow the second axis)
    surface = board.plugin(RACE, "surface", race="torch-mlp")
    values = np.array(surface["grid"]["values"], dtype=float)  # 5 significant digits
    assert values.shape == (GRID, GRID)
    for (row, column), loss in zip(GRID_POINTS, child["losses"], strict=True):
        assert values[row, column] == pytest.approx(loss, rel=1e-4)

    # the leaderboard ranks by the best validation loss, as the library ranked them
    rows = board.plugin(RACE, "leaderboard", race="torch-mlp")["rows"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert [r["name"] for r in rows] == child["ranked"]
    assert {r["ranked_by"] for r in rows} == {"val_loss"}
    assert all(r["score"] > 0 and r["ms_per_step"] > 0 for r in rows)


def test_race_landscape_takes_a_batched_loss_and_refuses_bad_input(tmp_path):
    """numpy only: a quadratic bowl, two racers; one call per grid row with `batched`."""
    from summaries.race import race_landscape

    start = np.array([1.0, -1.0, 0.5], np.float32)
    paths = {
        "fast": start * np.linspace(1, 0, 6)[:, None],
        "slow": start * np.linspace(1, 0.5, 6)[:, None] + [0, 0, 0.1] * np.arange(6)[:, None],
    }
    paths["slow"][0] = start
    losses = {k: (p**2).sum(axis=1) for k, p in paths.items()}
    calls = []

    def bowl(points):
        calls.append(points.shape)
        return (points.astype(np.float64) ** 2).sum(axis=-1)

    one = race_landscape(paths, losses, bowl, grid=4)
    rows = race_landscape(paths, losses, bowl, batched=True, grid=4, logdir=tmp_path, name="b")
    assert calls[-4:] == [(4, 3)] * 4 and calls[0] == (3,)  # one call per row when batched
    np.testing.assert_array_equal(one.grid, rows.grid)
    assert rows.ranked_by == "loss" and [r.name for r in rows.ranked()] == ["fast", "slow"]
    assert (tmp_path / "b").is_dir()
    bad = [
        ({"losses": {"fast": losses["fast"]}}, "same racers"),
        ({"snapshots": {**paths, "slow": paths["slow"] + 1}}, "same start"),
        ({"grid": 1}, "grid must be between"),
        ({"rank_by": "accuracy", "validation": {"fast": {"val_loss": [(0, 1.0)]}}}, "accuracy"),
        ({"batched": True, "loss_at": lambda p: [1.0]}, "must return 4 losses"),
    ]
    for change, message in bad:
        kwargs = {"snapshots": paths, "losses": losses, "loss_at": bowl, "grid": 4, **change}
        with pytest.raises(ValueError, match=message):
            race_landscape(**kwargs)
