"""Race plugin routes in-process (TensorBoard's WSGI app and data provider) on logs written here.

The helpers at the top also write the logs of the race page tests (test_race_page.py).
Racers in these logs follow heavy-ball gradient descent with numerical gradients of the
library's numpy surfaces: real paths with arrivals and divergences, without TensorFlow.
Both loaders of the real program are covered by test_plugins_live.py and the page tests.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest
from plugin_harness import InProcessBoard
from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins import base_plugin
from tensorboard.util import tensor_util

from summaries import format as fmt
from summaries import pb
from summaries.race import DEFAULT_CHUNK, write_surface, write_trajectory
from summaries.race.metrics import trajectory_metrics
from summaries.race.summary import trajectory_pb
from summaries.race.surfaces import SURFACES
from summaries.race.upgrade import upgrade
from tb_plugin.race_geometry import contour_levels, lttb_indices

PLUGIN = "optimizer_race"
NAMES = [
    "sgd", "momentum", "nag", "adagrad", "rmsprop", "adadelta",
    "adam", "adamax", "nadam", "adamw", "lion", "ftrl",
]  # fmt: skip
MOMENTUM_OPTIMIZERS = ("momentum", "nag", "rmsprop")


# -- log writers (shared with test_race_page.py) ---------------------------------------
def heavy_ball(surface_name: str, lrs, momenta, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions [k, steps+1, 2] and losses [k, steps+1] of k heavy-ball racers at once."""
    surface = SURFACES[surface_name]
    lr = np.asarray(lrs, dtype=np.float64)[:, None]
    mom = np.asarray(momenta, dtype=np.float64)[:, None]
    pos = np.zeros((len(lr), steps + 1, 2))
    pos[:, 0] = surface.start
    vel = np.zeros((len(lr), 2))
    h = 1e-5
    with np.errstate(all="ignore"):
        for i in range(steps):
            x, y = pos[:, i, 0], pos[:, i, 1]
            gx = (surface.value(x + h, y) - surface.value(x - h, y)) / (2 * h)
            gy = (surface.value(x, y + h) - surface.value(x, y - h)) / (2 * h)
            vel = mom * vel - lr * np.column_stack([gx, gy])
            pos[:, i + 1] = pos[:, i] + vel
        losses = surface.value(pos[..., 0], pos[..., 1])
    return pos, losses


def write_race(
    logdir: Path,
    race: str,
    surface_name: str,
    lrs,
    momenta=None,
    *,
    steps: int = 200,
    names=None,
    grid: int = 81,
    chunk: int = DEFAULT_CHUNK,
    with_surface: bool = True,
    basis: dict | None = None,
    one_run: bool = False,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The racers of one race and its surface; {racer id: (pos, loss)}.

    `one_run`: Flowscope's layout (format version 3), one run `<race>` holding every racer as
    `race/trajectory/<name>` (+ `race/loss/<name>` scalars), so the racer id is `<race>/<name>`;
    else one run `<race>/<name>` per racer (tag `race/trajectory`), whose id is that run.
    """
    surface = SURFACES[surface_name]
    momenta = [0.0] * len(lrs) if momenta is None else list(momenta)
    names = names or NAMES[: len(lrs)]
    pos, losses = heavy_ball(surface_name, lrs, momenta, steps)
    written = {}
    writers = {}
    try:
        for i, name in enumerate(names):
            run = race if one_run else f"{race}/{name}"
            hyper = {"learning_rate": float(lrs[i])}
            if name in MOMENTUM_OPTIMIZERS:
                hyper["momentum"] = float(momenta[i])
            if run not in writers:  # one writer (one event file) per run
                writers[run] = pb.LogWriter(str(logdir / run))
            writer = writers[run]
            if i == 0 and with_surface:
                _, _, values = surface.grid(grid)
                write_surface(
                    writer, "race/surface", values, race=race, surface=surface_name,
                    window=surface.window, minima=surface.minima, log_scale=surface.log_scale,
                )  # fmt: skip
            write_trajectory(
                writer, fmt.race_tag("trajectory", name if one_run else None),
                np.arange(steps + 1), pos[i], losses[i],
                race=race, optimizer=name, surface=surface_name, window=surface.window,
                start=surface.start, minima=surface.minima, hyperparameters=hyper,
                tolerance=surface.tolerance, chunk=chunk, basis=basis,
                racer=name if one_run else None,
            )  # fmt: skip
            if one_run:
                with np.errstate(over="ignore"):  # a diverged racer's loss is inf in float32
                    writer.add_scalars(fmt.race_tag("loss", name), losses[i].tolist())
            written[f"{race}/{name}"] = (pos[i], losses[i])
    finally:
        for writer in writers.values():
            writer.close()
    return written


def where(racer_id: str) -> dict[str, str]:
    """The /trajectory query (run, tag) of a racer written by `write_race(..., one_run=True)`."""
    run, name = racer_id.rsplit("/", 1)
    return {"run": run, "tag": fmt.race_tag("trajectory", name)}


def write_big_race(logdir: Path, race: str = "big", steps: int = 10_000) -> dict:
    """12 racers x `steps` on Rosenbrock; the largest learning rates diverge."""
    lrs = [*np.geomspace(2e-5, 2e-3, 10).tolist(), 6e-3, 1e-2]
    momenta = [0.0, 0.9, 0.5, 0.0, 0.8, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    return write_race(logdir, race, "rosenbrock", lrs, momenta, steps=steps, grid=121)


# -- fixtures ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """A logdir with four races, and what was written (for exact comparisons)."""
    logdir = tmp_path_factory.mktemp("race-routes") / "logs"
    written = {}
    # saddle and rosen in Flowscope's layout (one run per race), the others one run per racer
    written.update(
        write_race(logdir, "saddle", "saddle", [0.05, 0.02, 0.1], [0.0, 0.9, 0.0],
                   names=["sgd", "momentum", "adam"], steps=120, one_run=True)
    )  # fmt: skip
    # Rosenbrock: sgd arrives slowly, adam (lr 0.01) flies off within a few steps
    written.update(
        write_race(logdir, "rosen", "rosenbrock", [1e-3, 2e-4, 1e-2], [0.0, 0.9, 0.0],
                   names=["sgd", "momentum", "adam"], steps=3000, chunk=256, one_run=True)
    )  # fmt: skip
    written.update(write_race(logdir, "bare", "himmelblau", [0.01], with_surface=False))
    written.update(
        write_race(logdir, "plane", "quadratic", [0.05], names=["sgd"],
                   basis={"kind": "plane through the initial weights"})
    )  # fmt: skip
    # "grow": the first 201 of 401 rows; test_trajectory_cache_follows_a_growing_run adds more
    pos, loss = heavy_ball("quadratic", [0.01], [0.0], 400)
    with pb.LogWriter(str(logdir / "grow/sgd")) as writer:
        write_trajectory(writer, "race/trajectory", np.arange(201), pos[0, :201], loss[0, :201],
                         **GROW)  # fmt: skip
    written["grow/sgd"] = (pos[0], loss[0])
    return logdir, written


GROW = dict(race="grow", optimizer="sgd", surface="quadratic", window=SURFACES["quadratic"].window,
            minima=SURFACES["quadratic"].minima, tolerance=0.05, chunk=100)  # fmt: skip


@pytest.fixture(scope="module")
def board(logs):
    """TensorBoard's own app and data provider over the logs, in this process."""
    board = InProcessBoard(logs[0])
    assert len(board.plugin(PLUGIN, "races")["races"]) == 5
    return board


# -- pure functions ----------------------------------------------------------------------
def test_lttb_keeps_ends_mandatory_rows_and_the_path_shape():
    n = 2000
    t = np.linspace(0, 1, n)
    rows = np.column_stack([np.arange(n), t, np.zeros(n), 1 + t])
    rows[700, 2] = 5.0  # a one-row excursion of the path: a shape LTTB must keep
    rows[1500:, 1:] = np.nan  # the racer diverged at row 1500
    index = lttb_indices(rows, 100, keep=[1499, 1500])
    assert len(index) <= 100 and index[0] == 0 and index[-1] == n - 1
    assert {700, 1499, 1500} <= set(index.tolist())
    assert not set(index.tolist()) & set(range(1501, n - 1))  # no NaN rows picked
    assert np.all(np.diff(index) > 0)
    assert lttb_indices(rows[:50], 100).tolist() == list(range(50))


def test_contour_levels_log_spaced_when_flagged_or_wide():
    rosen = SURFACES["rosenbrock"].grid(101)[2]
    saddle = SURFACES["saddle"].grid(101)[2]
    levels, scale = contour_levels(rosen, 12, log_scale=False)  # the range test decides
    assert scale == "log" and np.all(np.diff(np.log(levels - rosen.min())) > 0)
    ratios = np.diff(np.log(levels - rosen.min()))
    assert np.allclose(ratios, ratios[0])  # evenly spaced in log
    levels, scale = contour_levels(saddle, 12, log_scale=False)
    assert scale == "linear" and np.allclose(np.diff(levels), np.diff(levels)[0])
    assert contour_levels(saddle, 12, log_scale=True)[1] == "log"


# -- routes ------------------------------------------------------------------------------
def test_races_lists_every_race_with_its_racers(board):
    races = {r["race"]: r for r in board.plugin(PLUGIN, "races")["races"]}
    assert sorted(races) == ["bare", "grow", "plane", "rosen", "saddle"]
    assert sorted(r["optimizer"] for r in races["rosen"]["racers"]) == ["adam", "momentum", "sgd"]
    assert races["rosen"]["surface"] == "rosenbrock" and races["rosen"]["log_scale"] is True
    assert races["rosen"]["title"] == "Rosenbrock" and races["rosen"]["tolerance"] == 0.05
    assert races["rosen"]["minima"] == [[1.0, 1.0]] and races["rosen"]["start"] == [-2.0, 2.0]
    assert races["saddle"]["whatif"] is True and races["rosen"]["whatif"] is True
    assert races["plane"]["whatif"] is False  # a projected (basis) race cannot be re-run
    (plane_racer,) = races["plane"]["racers"]  # and says why, for the race and each racer
    assert plane_racer["whatif"] is False and "analytic surface" in plane_racer["whatif_reason"]
    assert races["plane"]["whatif_reason"] == plane_racer["whatif_reason"]
    # the same reason as a code the page words in its own language
    why = {"code": "projected", "surface": races["plane"]["surface"]}
    assert plane_racer["whatif_why"] == races["plane"]["whatif_why"] == why
    assert races["rosen"]["whatif_why"] is None
    assert races["bare"]["surface_series"] is None and races["saddle"]["surface_series"]
    hyper = {r["optimizer"]: r["hyperparameters"] for r in races["saddle"]["racers"]}
    assert hyper["momentum"] == {"learning_rate": 0.02, "momentum": 0.9}


def test_surface_grid_contours_and_minima(board):
    rosen = board.plugin(PLUGIN, "surface", race="rosen", levels=10)
    assert rosen["scale"] == "log" and len(rosen["levels"]) == 10
    assert rosen["minima"] == [[1.0, 1.0]] and rosen["window"] == [-2.0, 2.0, -1.0, 3.0]
    assert rosen["grid"]["nx"] == rosen["grid"]["ny"] == 81
    value = SURFACES["rosenbrock"].value
    xmin, xmax, ymin, ymax = rosen["window"]
    for contour in rosen["contours"]:
        assert contour["lines"], contour["level"]
        for xs, ys in contour["lines"]:
            x, y = np.array(xs, float), np.array(ys, float)
            assert (x >= xmin - 1e-6).all() and (x <= xmax + 1e-6).all()
            assert (y >= ymin - 1e-6).all() and (y <= ymax + 1e-6).all()
    # points on a contour line lie on that level (up to the grid's linear interpolation)
    mid = rosen["contours"][5]
    xs, ys = (np.array(v, float) for v in mid["lines"][0])
    assert np.median(np.abs(value(xs, ys) / mid["level"] - 1)) < 0.05
    saddle = board.plugin(PLUGIN, "surface", race="saddle")
    assert saddle["scale"] == "linear" and saddle["minima"] == []
    assert saddle["zmin"] == pytest.approx(-2.25) and saddle["zmax"] == pytest.approx(2.25)


def test_trajectory_full_and_downsampled_keep_first_last_and_divergence(board, logs):
    _, written = logs
    pos, loss = written["rosen/momentum"]
    full = board.plugin(PLUGIN, "trajectory", **where("rosen/momentum"), points=5000)
    assert full["id"] == "rosen/momentum" and full["run"] == "rosen"
    assert full["total_points"] == full["points"] == 3001 and full["downsampling"] == "none"
    assert full["step"] == list(range(3001))
    np.testing.assert_allclose(full["x"], pos[:, 0], rtol=1e-6)
    np.testing.assert_allclose(full["loss"], loss, rtol=1e-6)
    assert full["optimizer"] == "momentum" and full["hyperparameters"]["momentum"] == 0.9

    small = board.plugin(PLUGIN, "trajectory", **where("rosen/momentum"), points=40)
    assert small["points"] == len(small["step"]) <= 40 and small["downsampling"] == "lttb"
    assert small["step"][0] == 0 and small["step"][-1] == 3000
    assert small["step"] == sorted(set(small["step"]))
    i = small["step"].index(1500) if 1500 in small["step"] else None
    assert i is None or small["x"][i] == pytest.approx(pos[1500, 0], rel=1e-6)

    pos, loss = written["rosen/adam"]
    expected = trajectory_metrics(pos, loss, minima=[[1, 1]], window=[-2, 2, -1, 3],
                                  tolerance=0.05)  # fmt: skip
    assert expected["diverged"]
    div = board.plugin(PLUGIN, "trajectory", **where("rosen/adam"), points=10)
    assert div["diverged_step"] == expected["diverged_step"]
    assert div["step"][div["diverged_index"]] == expected["diverged_step"]
    assert {0, 3000, expected["diverged_step"], expected["diverged_step"] - 1} <= set(div["step"])
    assert len(div["step"]) <= 10


def test_leaderboard_has_one_row_per_racer_with_the_metrics(board, logs):
    _, written = logs
    body = board.plugin(PLUGIN, "leaderboard", race="rosen")
    rows = {row["optimizer"]: row for row in body["rows"]}
    assert sorted(rows) == ["adam", "momentum", "sgd"] and body["tolerance"] == 0.05
    for name, row in rows.items():
        pos, loss = written[f"rosen/{name}"]
        expected = trajectory_metrics(pos, loss, minima=[[1, 1]], window=[-2, 2, -1, 3],
                                      tolerance=0.05)  # fmt: skip
        assert row["error"] is None
        for key in ("first_entry_step", "settled_step", "diverged", "diverged_step", "reason"):
            assert row[key] == expected[key], (name, key)
        for key in ("best_loss", "final_loss", "distance_to_minimum"):
            if expected[key] is None:
                assert row[key] is None
            else:
                assert row[key] == pytest.approx(expected[key], rel=1e-9), (name, key)
    assert rows["adam"]["diverged"] and not rows["sgd"]["diverged"]
    saddle = board.plugin(PLUGIN, "leaderboard", race="saddle")["rows"]
    assert len(saddle) == 3 and all(r["tolerance_kind"] == "loss" for r in saddle)


def test_bad_parameters_are_400_and_unknown_names_404(board):
    for route, params in [
        ("trajectory", {**where("rosen/sgd"), "points": "1"}),
        ("trajectory", {**where("rosen/sgd"), "points": "5001"}),
        ("trajectory", {**where("rosen/sgd"), "points": "many"}),
        ("trajectory", {"run": "rosen"}),  # a run holding three racers: which one?
        ("whatif", {"race": "saddle", "run": "saddle", "learning_rate": "0.1"}),
        ("whatif", {"race": "saddle", "racer": "saddle/sgd", "run": "rosen",
                    "learning_rate": "0.1"}),
        ("trajectory", {}),
        ("surface", {}),
        ("surface", {"race": "rosen", "levels": "1000"}),
        ("leaderboard", {}),
        ("whatif", {"race": "saddle", "optimizer": "sgd"}),
        ("whatif", {"race": "saddle", "optimizer": "sgd", "learning_rate": "0"}),
        ("whatif", {"race": "saddle", "optimizer": "sgd", "learning_rate": "nan"}),
        ("whatif", {"race": "saddle", "optimizer": "sgd", "learning_rate": "100"}),
        ("whatif", {"race": "saddle", "optimizer": "sgd", "learning_rate": "0.1",
                    "momentum": "1.5"}),
        ("whatif", {"race": "saddle", "optimizer": "adam", "learning_rate": "0.1",
                    "momentum": "0.5"}),  # adam has no momentum
        ("whatif", {"race": "plane", "optimizer": "sgd", "learning_rate": "0.1"}),
        ("whatif", {"race": "saddle", "optimizer": "sgd", "learning_rate": "0.1",
                    "steps": "0"}),
    ]:  # fmt: skip
        body = board.plugin(PLUGIN, route, expect=400, **params)
        assert body["error"], (route, params)
    for route, params in [
        ("trajectory", {"run": "nope/sgd"}),
        ("trajectory", {"run": "rosen", "tag": "race/nope"}),
        ("trajectory", {"run": "rosen/sgd"}),  # a racer's id is not a run
        ("whatif", {"race": "saddle", "racer": "saddle/lion", "learning_rate": "0.1"}),
        ("whatif", {"race": "saddle", "racer": "rosen/sgd", "learning_rate": "0.1"}),
        ("surface", {"race": "nope"}),
        ("surface", {"race": "bare"}),  # a race without a surface summary
        ("leaderboard", {"race": "nope"}),
        ("whatif", {"race": "nope", "optimizer": "sgd", "learning_rate": "0.1"}),
        ("whatif", {"race": "saddle", "optimizer": "lion", "learning_rate": "0.1"}),
    ]:
        body = board.plugin(PLUGIN, route, expect=404, **params)
        assert body["error"], (route, params)


def test_trajectory_cache_follows_a_growing_run(board, logs):
    logdir, written = logs
    pos, loss = written["grow/sgd"]
    first = board.plugin(PLUGIN, "trajectory", run="grow/sgd", points=5000)
    assert first["total_points"] == 201
    assert board.plugin(PLUGIN, "trajectory", run="grow/sgd", points=5000) == first
    time.sleep(1.1)  # event file names carry seconds: the new file must sort last
    with pb.LogWriter(str(logdir / "grow/sgd")) as writer:
        write_trajectory(
            writer, "race/trajectory", np.arange(201, 401), pos[201:], loss[201:], **GROW
        )
    body = board.reload().plugin(PLUGIN, "trajectory", run="grow/sgd", points=5000)
    assert body["total_points"] == 401
    np.testing.assert_allclose(body["y"], pos[:, 1], rtol=1e-6)
    assert board.plugin(PLUGIN, "leaderboard", race="grow")["rows"][0]["steps"] == 400


def test_whatif_reruns_the_real_optimizer(board, logs):
    logged = board.plugin(PLUGIN, "trajectory", **where("saddle/momentum"), points=5000)
    # the logged values first: that re-run traces the racer's loop, so the timed one does not
    assert board.plugin(PLUGIN, "whatif", race="saddle", optimizer="momentum",
                        learning_rate=0.02)["whatif"]  # fmt: skip
    started = time.monotonic()
    body = board.plugin(PLUGIN, "whatif", race="saddle", optimizer="momentum",
                        learning_rate=0.05, momentum=0.5)  # fmt: skip
    elapsed = time.monotonic() - started
    print(f"what-if after warm-up: {elapsed * 1000:.0f} ms")
    assert body["whatif"] is True
    assert body["hyperparameters"]["learning_rate"] == 0.05
    assert body["hyperparameters"]["momentum"] == 0.5
    assert body["logged_hyperparameters"] == {"learning_rate": 0.02, "momentum": 0.9}
    assert set(logged) <= set(body) | {"logged_hyperparameters"}
    assert body["step"][0] == 0 and (body["x"][0], body["y"][0]) == pytest.approx((1.0, 0.001))
    # heavy ball with the same settings, as a cross-check of the Keras SGD(momentum) update
    pos, _ = heavy_ball("saddle", [0.05], [0.5], 120)
    n = min(len(body["x"]), 30)
    np.testing.assert_allclose(body["x"][:n], pos[0, :n, 0], rtol=1e-3, atol=1e-5)
    assert body["x"][5] != pytest.approx(logged["x"][5])
    # the saddle pushes y away: it leaves the window, and the route reports where
    assert body["diverged_step"] is not None
    assert body["step"][body["diverged_index"]] == body["diverged_step"]
    assert math.isfinite(body["metrics"]["best_loss"])
    # repeats come from the cache, downsampled per `points` (never another size's answer)
    again = dict(race="saddle", optimizer="momentum", learning_rate=0.05, momentum=0.5)
    small = board.plugin(PLUGIN, "whatif", points=20, **again)
    assert small["points"] == 20 and small["total_points"] == body["total_points"]
    assert board.plugin(PLUGIN, "whatif", **again) == body


def test_racers_sharing_an_optimizer_are_told_apart_by_run(tmp_path):
    """Two `momentum` racers in one race (momentum 0.9 for 60 steps, 0.5 for 40): a what-if
    by run re-runs that racer's own settings; the optimizer name alone is ambiguous."""
    bowl = SURFACES["quadratic"]
    twins = {
        "twin/heavy": (0.02, 0.9, 60),
        "twin/light": (0.05, 0.5, 40),
        "twin/sgd": (0.05, 0.0, 50),
    }
    for run, (lr, mom, steps) in twins.items():
        optimizer = "sgd" if run == "twin/sgd" else "momentum"
        hyper = {"learning_rate": lr, **({"momentum": mom} if optimizer == "momentum" else {})}
        pos, loss = heavy_ball("quadratic", [lr], [mom], steps)
        with pb.LogWriter(str(tmp_path / run)) as writer:
            write_trajectory(
                writer, "race/trajectory", np.arange(steps + 1), pos[0], loss[0], race="twin",
                optimizer=optimizer, surface="quadratic", window=bowl.window, start=bowl.start,
                hyperparameters=hyper,
            )  # fmt: skip
    board = InProcessBoard(tmp_path)
    (race,) = board.plugin(PLUGIN, "races")["races"]
    assert sorted(r["run"] for r in race["racers"] if r["optimizer"] == "momentum") == [
        "twin/heavy", "twin/light",
    ]  # fmt: skip
    for run, (_, mom, steps) in twins.items():
        if run == "twin/sgd":
            continue
        body = board.plugin(PLUGIN, "whatif", race="twin", run=run, learning_rate=0.03)
        assert body["run"] == run and body["optimizer"] == "momentum"
        assert body["logged_hyperparameters"]["momentum"] == mom
        assert body["hyperparameters"] == {"learning_rate": 0.03, "momentum": mom}
        assert body["total_points"] == steps + 1  # as many steps as that racer logged
        pos, _ = heavy_ball("quadratic", [0.03], [mom], steps)  # that racer's momentum, new lr
        n = min(len(body["x"]), 20)
        np.testing.assert_allclose(body["x"][:n], pos[0, :n, 0], rtol=1e-3, atol=1e-5)
    # the optimizer name alone: fine where one racer uses it, 400 naming `run` where several
    sgd = board.plugin(PLUGIN, "whatif", race="twin", optimizer="sgd", learning_rate=0.03)
    assert sgd["run"] == "twin/sgd"
    body = board.plugin(PLUGIN, "whatif", expect=400, race="twin", optimizer="momentum",
                        learning_rate=0.03)  # fmt: skip
    assert "'racer'" in body["error"] and "twin/heavy" in body["error"], body
    for params, status in [
        ({}, 400),  # neither run nor optimizer
        ({"run": "twin/heavy", "optimizer": "sgd"}, 400),  # not that racer's optimizer
        ({"run": "twin/nope"}, 404),
        ({"run": "rosen/sgd"}, 404),  # a run of another race
    ]:
        body = board.plugin(PLUGIN, "whatif", expect=status, race="twin", learning_rate=0.03,
                            **params)  # fmt: skip
        assert body["error"], params
    assert "'run'" in board.plugin(PLUGIN, "whatif", expect=400, race="twin",
                                   learning_rate=0.03)["error"]  # fmt: skip


# -- logs written by older versions and by other writers -------------------------------
def _v1_value(tag: str, array: np.ndarray, content: dict, version: int = 1) -> summary_pb2.Summary:
    """A Summary as Flowscope 0.1 wrote it: version-1 JSON content, no display fields."""
    metadata = summary_pb2.SummaryMetadata(data_class=summary_pb2.DATA_CLASS_TENSOR)
    metadata.plugin_data.plugin_name = fmt.RACE_PLUGIN
    metadata.plugin_data.content = json.dumps({"version": version, **content}).encode()
    summary = summary_pb2.Summary()
    summary.value.add(tag=tag, metadata=metadata, tensor=tensor_util.make_tensor_proto(array))
    return summary


def _old_racer_run(
    writer: pb.LogWriter,
    version: int,
    race: str,
    surface_name: str,
    optimizer: str,
    rows: np.ndarray,
    hyperparameters: dict,
    *,
    surface_record: bool,
    surface_log_scale: bool,
    **fields: object,
) -> None:
    """One racer's run as format `version` (1 or 2) wrote it: the race's surface (when
    `surface_record`), then the trajectory `rows` with the version's fields plus `fields`."""
    surface = SURFACES[surface_name]
    if surface_record:
        writer.add(
            _v1_value("race/surface", surface.grid(21)[2].astype(np.float32), {
                "kind": "surface", "race": race, "surface": surface_name,
                "window": list(surface.window), "minima": surface.minima,
                "log_scale": surface_log_scale,
            }, version),
            step=0,
        )  # fmt: skip
    writer.add(
        _v1_value("race/trajectory", rows, {
            "kind": "trajectory", "race": race, "optimizer": optimizer,
            "hyperparameters": hyperparameters, "surface": surface_name,
            "window": list(surface.window), "start": list(surface.start),
            "minima": [list(m) for m in surface.minima],
            "basis": None, "chunk": 4096, **fields,
        }, version),
        step=0,
    )  # fmt: skip


def test_a_version_1_race_displays_as_before(tmp_path):
    surface = SURFACES["rosenbrock"]
    pos, losses = heavy_ball("rosenbrock", [1e-3, 2e-4], [0.0, 0.9], 60)
    for i, name in enumerate(["adam", "sgd"]):  # written in the "wrong" order on purpose
        with pb.LogWriter(str(tmp_path / "old" / name)) as writer:
            rows = np.column_stack([np.arange(61), pos[i], losses[i]])
            _old_racer_run(writer, 1, "old", "rosenbrock", name, rows, {"learning_rate": 0.001},
                           surface_record=i == 0, surface_log_scale=True)  # fmt: skip
    board = InProcessBoard(tmp_path)
    (race,) = board.plugin(PLUGIN, "races")["races"]
    assert race["race"] == "old" and race["title"] == "Rosenbrock"
    assert race["description"] == surface.description and race["formula"] == surface.formula
    assert race["tolerance"] == 0.05 and race["whatif"] is True and race["log_scale"] is True
    # the colour order of version 1: the library's optimizer order (SGD first, Adam 7th)
    assert [(r["optimizer"], r["palette_index"]) for r in race["racers"]] == [
        ("sgd", 0),
        ("adam", 6),
    ]
    assert [r["title"] for r in race["racers"]] == ["sgd", "adam"]  # v1 titles: the names
    body = board.plugin(PLUGIN, "leaderboard", race="old")
    assert body["tolerance"] == 0.05 and all(row["error"] is None for row in body["rows"])
    expected = trajectory_metrics(pos[1], losses[1], minima=surface.minima,
                                  window=surface.window, tolerance=0.05)  # fmt: skip
    row = next(r for r in body["rows"] if r["optimizer"] == "sgd")
    assert row["final_loss"] == pytest.approx(expected["final_loss"], rel=1e-9)
    trajectory = board.plugin(PLUGIN, "trajectory", run="old/sgd")
    assert trajectory["tolerance"] == 0.05 and trajectory["total_points"] == 61
    assert board.plugin(PLUGIN, "surface", race="old")["scale"] == "log"


def test_a_race_written_by_someone_else_shows_what_its_logs_say(tmp_path):
    window = [-3.0, 3.0, -3.0, 3.0]
    steps = np.arange(50)
    xs, ys = np.meshgrid(np.linspace(-3, 3, 31), np.linspace(-3, 3, 31))
    racers = {
        "heavy-ball": dict(optimizer_title="Heavy ball", order=None, decay=0.9),
        "adam": dict(optimizer_title="Adam (mine)", order=4, decay=0.8),
    }
    for name, given in racers.items():
        positions = np.column_stack([2.5 * given["decay"] ** steps, 1.5 * given["decay"] ** steps])
        with pb.LogWriter(str(tmp_path / "bowl" / name)) as writer:
            write_surface(writer, "race/surface", xs**2 + 2 * ys**2, race="my-bowl",
                          surface="bowl", window=window, minima=[[0, 0]])  # fmt: skip
            write_trajectory(
                writer, "race/trajectory", steps, positions,
                positions[:, 0] ** 2 + 2 * positions[:, 1] ** 2,
                race="my-bowl", optimizer=name, surface="bowl", window=window,
                minima=[[0.0, 0.0]], hyperparameters={"learning_rate": 0.1},
                optimizer_title=given["optimizer_title"], order=given["order"],
                surface_title="A bowl", description="x^2 + 2 y^2, minimum at the origin",
                formula="x^2 + 2 y^2", analytic=True, tolerance=0.2,
            )  # fmt: skip
    board = InProcessBoard(tmp_path)
    plugin = board.plugins[PLUGIN]
    (race,) = plugin.races_impl(board.context(), "")["races"]
    assert race["title"] == "A bowl" and race["formula"] == "x^2 + 2 y^2"
    assert race["description"] == "x^2 + 2 y^2, minimum at the origin"
    assert race["tolerance"] == 0.2 and race["log_scale"] is False
    # "analytic" is logged, but the library cannot re-run a surface it does not know
    assert race["whatif"] is False
    # the logged order and titles; the library's "Adam" (order 6) is not consulted
    assert [(r["optimizer"], r["title"], r["palette_index"]) for r in race["racers"]] == [
        ("adam", "Adam (mine)", 4),
        ("heavy-ball", "Heavy ball", None),
    ]
    leaderboard = plugin.leaderboard_impl(board.context(), "", race="my-bowl")
    assert leaderboard["tolerance"] == 0.2
    assert all(row["tolerance"] == 0.2 and row["settled_step"] is not None
               for row in leaderboard["rows"])  # fmt: skip
    body = board.plugin(PLUGIN, "whatif", expect=400, race="my-bowl", optimizer="adam",
                        learning_rate=0.1)  # fmt: skip
    assert "analytic" in body["error"]
    trajectory = plugin.trajectory_impl(board.context(), "", run="bowl/adam", points=10)
    assert trajectory["surface"] == "bowl" and trajectory["points"] <= 10


def test_racers_of_other_libraries_show_as_logged_without_a_whatif(tmp_path):
    """A PyTorch racer (optimizer "torch.optim.AdamW", torch's own hyper-parameter names)
    is listed, drawn and ranked; only its what-if is refused, saying why."""
    saddle = SURFACES["saddle"]
    pos, loss = heavy_ball("saddle", [0.05, 0.05], [0.0, 0.9], 60)
    racers = {  # run: (optimizer, hyperparameters as the library that ran it names them)
        "mixed/sgd": ("sgd", {"learning_rate": 0.05}),
        "mixed/adamw": ("torch.optim.AdamW", {"lr": 0.05, "weight_decay": 0.01}),
        "torch/adamw": ("torch.optim.AdamW", {"lr": 0.05, "weight_decay": 0.01}),
    }
    for i, (run, (optimizer, hyper)) in enumerate(racers.items()):
        with pb.LogWriter(str(tmp_path / run)) as writer:
            write_trajectory(
                writer, "race/trajectory", np.arange(61), pos[i % 2], loss[i % 2],
                race=run.split("/")[0], optimizer=optimizer, surface="saddle",
                window=saddle.window, hyperparameters=hyper,
            )  # fmt: skip
    board = InProcessBoard(tmp_path)
    races = {r["race"]: r for r in board.plugin(PLUGIN, "races")["races"]}
    mixed = {r["optimizer"]: r for r in races["mixed"]["racers"]}
    assert races["mixed"]["whatif"] is True and races["mixed"]["whatif_reason"] is None
    assert mixed["sgd"]["whatif"] is True and mixed["sgd"]["whatif_reason"] is None
    torch_racer = mixed["torch.optim.AdamW"]
    assert torch_racer["whatif"] is False
    assert torch_racer["hyperparameters"] == {"lr": 0.05, "weight_decay": 0.01}
    reason = torch_racer["whatif_reason"]
    assert reason.startswith("what-if can only re-run Keras optimizers")
    assert "'torch.optim.AdamW'" in reason and "adamw" in reason
    assert torch_racer["whatif_why"] == {"code": "optimizer", "optimizer": "torch.optim.AdamW"}
    assert mixed["sgd"]["whatif_why"] is None
    # a race of PyTorch racers only: no what-if at all, for the same reason
    assert races["torch"]["whatif"] is False and races["torch"]["whatif_reason"] == reason
    body = board.plugin(PLUGIN, "whatif", expect=400, race="mixed",
                        optimizer="torch.optim.AdamW", learning_rate=0.1)  # fmt: skip
    assert body == {"error": reason}
    # drawn and ranked like any other racer
    rows = {r["optimizer"]: r for r in board.plugin(PLUGIN, "leaderboard", race="mixed")["rows"]}
    assert rows["torch.optim.AdamW"]["error"] is None and rows["torch.optim.AdamW"]["steps"] == 60
    path = board.plugin(PLUGIN, "trajectory", run="mixed/adamw")
    assert path["hyperparameters"] == {"lr": 0.05, "weight_decay": 0.01} and path["points"] == 61


def test_leaderboard_ranks_by_arrival_with_ties_and_outcomes_in_the_lessons_terms(board, tmp_path):
    # the quadratic: two identical racers arrive first (a tie), one later, one never, one diverges
    lrs = [1e-4, 0.02, 0.03, 0.03, 0.05]
    write_race(tmp_path, "ties", "quadratic", lrs, steps=300, grid=21,
               names=["sgd", "adam", "nag", "rmsprop", "lion"])  # fmt: skip
    rows = InProcessBoard(tmp_path).plugin(PLUGIN, "leaderboard", race="ties")["rows"]
    got = [(r["optimizer"], r["rank"], r["outcome"]) for r in rows]
    assert got == [
        ("nag", 1, "arrived"),
        ("rmsprop", 1, "arrived"),
        ("adam", 3, "arrived"),
        ("sgd", 4, "not_arrived"),
        ("lion", 5, "diverged"),
    ]
    assert rows[0]["settled_step"] == rows[1]["settled_step"] < rows[2]["settled_step"]
    # on the saddle (unbounded below) every racer that leaves the window escaped: none diverged
    saddle = board.plugin(PLUGIN, "leaderboard", race="saddle")["rows"]
    assert {r["outcome"] for r in saddle} == {"escaped"}
    assert not any(r["diverged"] or r["diverged_step"] is not None for r in saddle)
    assert all(r["escaped_step"] is not None and r["reason"] == "left window" for r in saddle)
    assert [r["rank"] for r in saddle] == [1, 2, 3]  # all arrived; by settled step
    assert [r["settled_step"] for r in saddle] == sorted(r["settled_step"] for r in saddle)
    # the map's stop row is where the racer escaped
    path = board.plugin(PLUGIN, "trajectory", run=saddle[0]["run"], tag=saddle[0]["tag"])
    assert path["diverged_step"] == saddle[0]["escaped_step"] and path["id"] == saddle[0]["id"]


def test_unbounded_below_is_written_from_the_library_and_filled_in_for_version_1():
    content = {"kind": "trajectory", "race": "old", "optimizer": "sgd", "surface": "saddle",
               "window": [-1.5, 1.5, -1.5, 1.5], "minima": [], "basis": None}  # fmt: skip
    assert upgrade({**content, "version": 1})["unbounded_below"] is True
    assert upgrade({**content, "version": 1, "surface": "beale"})["unbounded_below"] is False
    assert upgrade({**content, "version": 2})["unbounded_below"] is False  # the default
    events = trajectory_pb(
        "race/trajectory", [0], [[1.0, 0.0]], [1.0], race="r", optimizer="sgd",
        surface="saddle", window=SURFACES["saddle"].window,
    )  # fmt: skip
    written = json.loads(events[0][1].value[0].metadata.plugin_data.content)
    assert written["version"] == fmt.VERSION and written["unbounded_below"] is True


# -- the race layout: one run per race (format version 3) ----------------------------------
def test_a_race_is_one_run_listing_every_racer_and_stock_tabs_list_one_run_per_race(tmp_path):
    """Seven racers in each of two races make two runs in TensorBoard's own run list (the one
    every stock tab shows); the race page still lists, draws, ranks and re-runs each racer."""
    names = ["sgd", "momentum", "nag", "adagrad", "rmsprop", "adadelta", "adam"]
    lrs, momenta = [0.01] * 7, [0.0, 0.5, 0.5, 0.0, 0.5, 0.0, 0.0]
    written = write_race(tmp_path, "race-quadratic", "quadratic", lrs, momenta, names=names,
                         steps=40, grid=21, one_run=True)  # fmt: skip
    written.update(write_race(tmp_path, "race-saddle", "saddle", lrs, momenta, names=names,
                              steps=40, grid=21, one_run=True))  # fmt: skip
    board = InProcessBoard(tmp_path, core=True)
    assert sorted(board.get_json("/data/runs")) == ["race-quadratic", "race-saddle"]
    races = {r["race"]: r for r in board.plugin(PLUGIN, "races")["races"]}
    assert sorted(races) == ["race-quadratic", "race-saddle"]
    racers = races["race-quadratic"]["racers"]
    assert [r["name"] for r in racers] == names  # in the library's colour order
    assert [r["id"] for r in racers] == [f"race-quadratic/{n}" for n in names]
    assert {r["run"] for r in racers} == {"race-quadratic"}
    assert [r["tag"] for r in racers] == [f"race/trajectory/{n}" for n in names]
    assert [r["palette_index"] for r in racers] == [NAMES.index(n) for n in names]
    assert races["race-quadratic"]["surface_series"] == {"run": "race-quadratic",
                                                         "tag": "race/surface"}  # fmt: skip
    # every racer's own path, leaderboard row and what-if, by its id
    rows = board.plugin(PLUGIN, "leaderboard", race="race-quadratic")["rows"]
    assert sorted(r["id"] for r in rows) == sorted(written)[: len(names)]
    for row in rows:
        pos, loss = written[row["id"]]
        path = board.plugin(PLUGIN, "trajectory", run=row["run"], tag=row["tag"], points=5000)
        assert path["id"] == row["id"] and path["optimizer"] == row["name"]
        np.testing.assert_allclose(path["x"], pos[:, 0], rtol=1e-6)
        assert row["final_loss"] == pytest.approx(loss[-1], rel=1e-9)
    body = board.plugin(PLUGIN, "whatif", race="race-quadratic", racer="race-quadratic/nag",
                        learning_rate=0.02)  # fmt: skip
    assert body["id"] == "race-quadratic/nag" and body["hyperparameters"]["momentum"] == 0.5
    assert body["logged_hyperparameters"]["learning_rate"] == 0.01
    # the losses are scalars of the race's run, one tag per racer: one Scalars section
    scalars = board.provider.list_scalars(board.context(), experiment_id="",
                                          plugin_name="scalars")  # fmt: skip
    assert sorted(scalars) == ["race-quadratic", "race-saddle"]
    assert sorted(scalars["race-saddle"]) == sorted(f"race/loss/{n}" for n in names)


def test_a_version_2_race_with_one_run_per_racer_displays_as_before(tmp_path):
    """A hand-built logdir of format version 2: one run `<race>/<optimizer>` per racer, tags
    race/trajectory, race/surface, race/loss; each racer is still its run, as before."""
    surface = SURFACES["quadratic"]
    pos, losses = heavy_ball("quadratic", [0.02, 0.01], [0.0, 0.5], 50)
    display = {
        "surface_title": surface.title, "description": surface.description,
        "formula": surface.formula, "analytic": True, "tolerance": 0.05, "log_scale": False,
        "tuning": None, "unbounded_below": False,
    }  # fmt: skip
    for i, name in enumerate(["sgd", "momentum"]):
        with pb.LogWriter(str(tmp_path / "race-quadratic" / name)) as writer:
            hyper = {"learning_rate": [0.02, 0.01][i], **({"momentum": 0.5} if i else {})}
            rows = np.column_stack([np.arange(51), pos[i], losses[i]])
            _old_racer_run(writer, 2, "race-quadratic", "quadratic", name, rows, hyper,
                           surface_record=True, surface_log_scale=False,
                           optimizer_title=name.title(),
                           order=NAMES.index(name), **display)  # fmt: skip
            writer.add_scalars("race/loss", losses[i].tolist())
    board = InProcessBoard(tmp_path, core=True)
    assert sorted(board.get_json("/data/runs")) == ["race-quadratic/momentum", "race-quadratic/sgd"]
    (race,) = board.plugin(PLUGIN, "races")["races"]
    got = [(r["id"], r["run"], r["tag"], r["name"], r["title"]) for r in race["racers"]]
    assert got == [
        ("race-quadratic/sgd", "race-quadratic/sgd", "race/trajectory", "sgd", "Sgd"),
        ("race-quadratic/momentum", "race-quadratic/momentum", "race/trajectory", "momentum",
         "Momentum"),
    ]  # fmt: skip
    assert race["title"] == surface.title and race["whatif"] is True
    path = board.plugin(PLUGIN, "trajectory", run="race-quadratic/momentum")  # tag: the default
    assert path["id"] == "race-quadratic/momentum" and path["total_points"] == 51
    rows = board.plugin(PLUGIN, "leaderboard", race="race-quadratic")["rows"]
    assert {r["id"] for r in rows} == {"race-quadratic/sgd", "race-quadratic/momentum"}
    assert all(r["error"] is None for r in rows)
    for params in ({"run": "race-quadratic/momentum"}, {"racer": "race-quadratic/momentum"}):
        body = board.plugin(PLUGIN, "whatif", race="race-quadratic", learning_rate=0.03, **params)
        assert body["id"] == "race-quadratic/momentum" and body["hyperparameters"] == {
            "learning_rate": 0.03, "momentum": 0.5,
        }  # fmt: skip
    upgraded = upgrade({"version": 2, "kind": "trajectory", "race": "r", "optimizer": "sgd"})
    assert upgraded["racer"] is None and upgraded["written_version"] == 2


def test_racer_ids_are_unique_even_where_a_run_is_named_like_another_runs_racer(tmp_path):
    """Run `r/adam` (one racer) beside run `r` holding `race/trajectory/adam`: both would be
    `r/adam`; the second listed becomes `RUN/TAG`, and each id finds its own racer."""
    bowl = SURFACES["quadratic"]
    pos, loss = heavy_ball("quadratic", [0.01, 0.02], [0.0, 0.0], 20)
    for i, (run, tag) in enumerate([("r", "race/trajectory/adam"), ("r/adam", "race/trajectory")]):
        with pb.LogWriter(str(tmp_path / run)) as writer:
            write_trajectory(writer, tag, np.arange(21), pos[i], loss[i], race="r",
                             optimizer="adam", surface="quadratic", window=bowl.window,
                             hyperparameters={"learning_rate": [0.01, 0.02][i]})  # fmt: skip
    board = InProcessBoard(tmp_path)
    (race,) = board.plugin(PLUGIN, "races")["races"]
    ids = {(r["run"], r["tag"]): r["id"] for r in race["racers"]}
    assert len(set(ids.values())) == 2 and ids[("r", "race/trajectory/adam")] == "r/adam"
    assert ids[("r/adam", "race/trajectory")] == "r/adam/race/trajectory"
    for (run, tag), racer in ids.items():
        body = board.plugin(PLUGIN, "whatif", race="r", racer=racer, learning_rate=0.05)
        assert (body["run"], body["tag"], body["id"]) == (run, tag, racer)
        assert board.plugin(PLUGIN, "trajectory", run=run, tag=tag)["id"] == racer


def test_race_tags_and_racer_names():
    assert fmt.race_tag("trajectory", "adam") == "race/trajectory/adam"
    assert fmt.race_tag("loss", "adam") == "race/loss/adam"
    assert fmt.race_tag("surface") == "race/surface" == fmt.RACE_TAGS["surface"]
    assert fmt.race_tag("trajectory") == "race/trajectory"  # version 2: one racer per run
    for kind, racer in [("trajectory", ""), ("loss", "/adam"), ("surface", "adam"),
                        ("nope", "adam")]:  # fmt: skip
        with pytest.raises(ValueError, match="racer|kind"):
            fmt.race_tag(kind, racer)
    with pytest.raises(TypeError, match="racer"):
        fmt.race_tag("trajectory", 3)
    assert fmt.racer_name("race-x", "race/trajectory/adam") == "adam"
    assert fmt.racer_name("race-x/adam", "race/trajectory") == "adam"
    assert fmt.racer_name("race-x", "paths/mine", {"racer": "Mine"}) == "Mine"
    assert fmt.racer_id("race-x/adam", "race/trajectory") == "race-x/adam"
    assert fmt.racer_id("race-x", "race/trajectory/adam") == "race-x/adam"
    assert fmt.racer_id("race-x", "paths/mine") == "race-x/paths/mine"
    # the writers check the name they store
    with pytest.raises(ValueError, match="racer"):
        trajectory_pb("race/trajectory/a", [0], [[0.0, 0.0]], [0.0], race="r", optimizer="a",
                      surface="s", window=[-1, 1, -1, 1], racer="/a/")  # fmt: skip
    with pytest.raises(TypeError, match="racer"):
        trajectory_pb("race/trajectory/a", [0], [[0.0, 0.0]], [0.0], race="r", optimizer="a",
                      surface="s", window=[-1, 1, -1, 1], racer=7)  # fmt: skip


def test_flowscope_race_writes_one_run_per_race_replacing_an_older_layout(tmp_path):
    """`flowscope race` over logs of the one-run-per-racer layout: the old racer runs go (they
    would list every racer twice), the race is one run, and TensorBoard's Custom Scalars tab
    gets one chart of its racers' losses."""
    import re

    from tensorboard.plugins.custom_scalar import custom_scalars_plugin

    from demo_models.race import cli as race_cli

    write_race(tmp_path, "race-saddle", "saddle", [0.05, 0.1], names=["sgd", "adam"], steps=20)
    assert (tmp_path / "race-saddle" / "sgd").is_dir()
    argv = ["--logdir", str(tmp_path), "--steps", "12", "--surfaces", "saddle", "--optimizers",
            "sgd", "adam", "lion", "--xla", "off"]  # fmt: skip
    assert race_cli.main(argv) == 0
    events = sorted(p.parent.name for p in tmp_path.rglob("events.out.tfevents.*"))
    assert events == ["race-saddle"]
    board = InProcessBoard(tmp_path, core=True)
    assert board.get_json("/data/runs") == ["race-saddle"]
    (race,) = board.plugin(PLUGIN, "races")["races"]
    assert [(r["id"], r["name"]) for r in race["racers"]] == [
        ("race-saddle/sgd", "sgd"), ("race-saddle/adam", "adam"), ("race-saddle/lion", "lion"),
    ]  # fmt: skip
    assert all(
        r["steps"] == 12 for r in board.plugin(PLUGIN, "leaderboard", race="race-saddle")["rows"]
    )
    context = base_plugin.TBContext(
        data_provider=board.provider, logdir=str(tmp_path), plugin_name_to_instance={}
    )
    plugin = custom_scalars_plugin.CustomScalarsPlugin(context)
    layout = json.loads(plugin.layout_impl(board.context(), ""))  # the /layout route's JSON
    (category,) = layout["category"]
    (chart,) = category["chart"]
    patterns = chart["multiline"]["tag"]
    scalars = board.provider.list_scalars(board.context(), experiment_id="",
                                          plugin_name="scalars")["race-saddle"]  # fmt: skip
    drawn = sorted(t for t in scalars if any(re.match(p, t) for p in patterns))
    assert drawn == ["race/loss/adam", "race/loss/lion", "race/loss/sgd"]


def test_the_map_axes_are_the_surfaces_own_parameters(tmp_path):
    """`axes` names the two parameters: from the library (linear regression: k, b; a v2 log
    without the field too), as a writer gives them, else null (the page says x and y)."""
    write_race(tmp_path, "race-linear", "linear_regression", [0.2], steps=20, one_run=True)
    write_race(tmp_path, "race-saddle", "saddle", [0.05], steps=20, one_run=True)
    window = [-1.0, 1.0, -1.0, 1.0]
    positions = np.column_stack([np.linspace(0.9, 0.1, 10), np.linspace(0.5, 0.0, 10)])
    with pb.LogWriter(str(tmp_path / "mine")) as writer:
        write_trajectory(
            writer, "race/trajectory", np.arange(10), positions, (positions**2).sum(axis=1),
            race="mine", optimizer="sgd", surface="bowl", window=window, axes=("w1", "w2"),
        )  # fmt: skip
    with pb.LogWriter(str(tmp_path / "bad")) as bad, pytest.raises(ValueError, match="axes"):
        write_trajectory(
            bad, "race/trajectory", np.arange(10), positions,
            positions[:, 0], race="bad", optimizer="sgd", surface="bowl", window=window,
            axes=("w1",),
        )  # fmt: skip
    board = InProcessBoard(tmp_path)
    races = {r["race"]: r for r in board.plugins[PLUGIN].races_impl(board.context(), "")["races"]}
    assert races["race-linear"]["axes"] == ["k", "b"]
    assert races["race-saddle"]["axes"] == ["x", "y"]
    assert races["mine"]["axes"] == ["w1", "w2"]
    assert "bad" not in races
    # a version-2 trajectory of a library surface, written before the field existed
    upgraded = upgrade({"kind": "trajectory", "version": 2, "surface": "linear_regression"})
    assert upgraded["axes"] == ["k", "b"]
    assert upgrade({"kind": "trajectory", "version": 2, "surface": "bowl"})["axes"] is None


def test_leaderboard_metrics_are_cached_by_version_when_trajectories_are_evicted(logs, monkeypatch):
    """A long race's rows may not fit the series cache; its metrics are kept by version."""
    from tb_plugin import race_track
    from tb_plugin.data import LRU

    computed = []
    metrics = race_track._metrics

    def counting(rows, content):
        computed.append(len(rows))
        return metrics(rows, content)

    monkeypatch.setattr(race_track, "_metrics", counting)
    board = InProcessBoard(logs[0])
    plugin = board.plugins[PLUGIN]
    plugin.data._series = LRU(1)  # no trajectory stays cached
    first = plugin.leaderboard_impl(board.context(), "", race="rosen")
    assert len(computed) == 3 and all(row["error"] is None for row in first["rows"])
    assert plugin.leaderboard_impl(board.context(), "", race="rosen") == first
    assert len(computed) == 3  # not recomputed: the series' versions did not change


# -- issue 28 item 8: a zoomed view's own levels; item 18: the library's display texts -------
def crossing(contours: list, view: list) -> int:
    """How many contour levels have a line point inside `view`."""
    x0, x1, y0, y1 = view
    count = 0
    for contour in contours:
        for xs, ys in contour["lines"]:
            x, y = np.array(xs, float), np.array(ys, float)
            if ((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)).any():
                count += 1
                break
    return count


def test_a_zoomed_view_gets_levels_and_colours_of_its_own(board):
    whole = board.plugin(PLUGIN, "surface", race="rosen")
    view = [0.6, 1.4, 0.6, 1.4]  # around the minimum (1, 1): a sliver of the whole range
    zoomed = board.plugin(PLUGIN, "surface", race="rosen", view=",".join(map(str, view)))
    # the library's closed form reproduces the logged grid: the view's grid is computed
    assert zoomed["source"] == "library" and zoomed["view"] == view
    assert zoomed["window"] == whole["window"] and zoomed["minima"] == whole["minima"]
    # the grid covers the view and a quarter of its span around it, inside the window
    assert zoomed["region"] == pytest.approx([0.4, 1.6, 0.4, 1.6])
    grid = zoomed["grid"]
    assert grid["nx"] == grid["ny"] == 121
    gx, gy = np.meshgrid(np.array(grid["x"], float), np.array(grid["y"], float))
    value = SURFACES["rosenbrock"].value
    assert np.allclose(np.array(grid["values"], float), value(gx, gy), rtol=1e-4, atol=1e-6)
    # levels and colour scale from the values inside the view only, so every level crosses it
    inside = value(*np.meshgrid(np.linspace(0.6, 1.4, 200), np.linspace(0.6, 1.4, 200)))
    assert (
        zoomed["zmax"] == pytest.approx(inside.max(), rel=0.02)
        and zoomed["zmax"] < whole["zmax"] / 10
    )
    assert zoomed["zmin"] <= 1e-3 and zoomed["scale"] == "log"
    assert len(zoomed["levels"]) == 18
    assert all(zoomed["zmin"] < v < zoomed["zmax"] for v in zoomed["levels"])
    assert crossing(zoomed["contours"], view) == 18 >= crossing(whole["contours"], view)
    # evenly spaced levels (the saddle): the whole surface's miss a small view entirely
    small = [-0.3, 0.3, -0.3, 0.3]
    saddle = board.plugin(PLUGIN, "surface", race="saddle")
    near = board.plugin(PLUGIN, "surface", race="saddle", view=",".join(map(str, small)))
    assert crossing(saddle["contours"], small) <= 2 and crossing(near["contours"], small) == 18
    assert near["scale"] == "linear" and -0.09 <= near["zmin"] < near["zmax"] <= 0.09
    # asked again: the same answer (cached)
    assert board.plugin(PLUGIN, "surface", race="rosen", view=",".join(map(str, view))) == zoomed
    # a view partly outside the window: its grid stays inside the window
    edge = board.plugin(PLUGIN, "surface", race="rosen", view="1.5,2.5,-1.5,-0.5")
    assert edge["region"][1] == 2.0 and edge["region"][2] == -1.0
    # a projected map ("plane": a basis) is never computed by the library: the logged grid,
    # interpolated
    plane = board.plugin(PLUGIN, "surface", race="plane", view="-0.5,0.5,-0.5,0.5")
    plane_whole = board.plugin(PLUGIN, "surface", race="plane")
    assert plane["source"] == "interpolated" and plane["zmax"] < plane_whole["zmax"] / 10
    for bad in ["1,2,3", "a,b,c,d", "1,0,0,1", "0,1,nan,1", "10,11,10,11"]:  # the last misses it
        body = board.plugin(PLUGIN, "surface", expect=400, race="rosen", view=bad)
        assert "view" in body["error"], bad


def test_a_grid_the_library_does_not_reproduce_is_interpolated(tmp_path):
    """A surface named like a library one ("beale") whose logged grid is another function:
    a zoomed view interpolates the logged grid (bilinear), never the library's Beale; and a
    title of the user's own is not the library's (the page shows it as written)."""
    window = [-3.0, 3.0, -3.0, 3.0]
    xs, ys = np.meshgrid(np.linspace(-3, 3, 31), np.linspace(-3, 3, 31))
    steps = np.arange(20)
    positions = np.column_stack([2.0 * 0.8**steps, 1.0 * 0.8**steps])
    with pb.LogWriter(str(tmp_path / "mine")) as writer:
        write_surface(writer, "race/surface", xs**2 + 2 * ys**2, race="mine", surface="beale",
                      window=window)  # fmt: skip
        write_trajectory(
            writer, fmt.race_tag("trajectory", "adam"), steps, positions,
            positions[:, 0] ** 2 + 2 * positions[:, 1] ** 2, race="mine", optimizer="adam",
            surface="beale", window=window, surface_title="My bowl", racer="adam",
        )  # fmt: skip
        write_trajectory(
            writer, fmt.race_tag("trajectory", "sgd"), steps, positions,
            positions[:, 0] ** 2 + 2 * positions[:, 1] ** 2, race="mine", optimizer="sgd",
            surface="beale", window=window, surface_title="My bowl", racer="sgd",
            optimizer_title="Plain SGD",
        )  # fmt: skip
    board = InProcessBoard(tmp_path)
    zoomed = board.plugin(PLUGIN, "surface", race="mine", view="0,1,0,1")
    assert zoomed["source"] == "interpolated"
    gx, gy = np.meshgrid(np.array(zoomed["grid"]["x"], float), np.array(zoomed["grid"]["y"], float))
    # bilinear between grid points 0.2 apart: within a cell's curvature error of x^2 + 2y^2
    assert np.allclose(np.array(zoomed["grid"]["values"], float), gx**2 + 2 * gy**2, atol=0.04)
    assert zoomed["zmax"] == pytest.approx(3.0, abs=0.02) and zoomed["zmin"] == pytest.approx(0)
    (race,) = board.plugin(PLUGIN, "races")["races"]
    # the description is the library's Beale's (filled in by the writer); the title is not
    assert race["title"] == "My bowl" and race["library_fields"] == ["description"]
    titles = {r["optimizer"]: (r["title"], r["library_fields"]) for r in race["racers"]}
    assert titles == {"adam": ("Adam", ["title"]), "sgd": ("Plain SGD", [])}


def test_library_texts_are_marked_for_the_page_to_translate(board):
    races = {r["race"]: r for r in board.plugin(PLUGIN, "races")["races"]}
    rosen = races["rosen"]
    assert (rosen["title"], rosen["library_fields"]) == ("Rosenbrock", ["title", "description"])
    assert all(r["library_fields"] == ["title"] for r in rosen["racers"])
