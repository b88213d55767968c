"""`flowscope race`: one run per race, what the logs hold, tuning records and one-line errors."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("FLOWSCOPE_NO_PROGRESS", "1")

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.util import tensor_util

from demo_models import cli as flowscope
from demo_models.race import cli as race_cli
from summaries import format as fmt
from summaries.race.optimizers import OPTIMIZERS
from summaries.race.surfaces import SURFACES


def read_run(path):
    acc = ea.EventAccumulator(str(path), size_guidance={ea.TENSORS: 0, ea.SCALARS: 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()["tensors"]:
        events = acc.Tensors(tag)
        content = acc.SummaryMetadata(tag).plugin_data.content
        arrays = [tensor_util.make_ndarray(e.tensor_proto) for e in events]
        meta = json.loads(content) if content else None
        out[tag] = (meta, arrays, [e.step for e in events])
    return out


@pytest.fixture(scope="module")
def raced(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("race")
    argv = ["--logdir", str(logdir), "--steps", "40", "--optimizers", "sgd", "adam", "lion"]
    argv += ["--surfaces", "rosenbrock", "nn_plane", "--hp", "adam.learning_rate=0.02"]
    assert race_cli.main(argv) == 0
    return logdir


def test_one_run_per_race_holding_every_racer(raced):
    runs = sorted(str(p.parent.relative_to(raced)) for p in raced.rglob("events.out.tfevents.*"))
    assert runs == ["race-nn_plane", "race-rosenbrock"]
    tags = read_run(raced / "race-rosenbrock")
    names = ("adam", "lion", "sgd")
    assert sorted(t for t in tags if t.startswith("race/")) == sorted(
        ["race/surface", *(f"race/{kind}/{o}" for kind in ("loss", "trajectory") for o in names)]
    )
    assert "custom_scalars__config__" in tags  # the Custom Scalars layout: losses on one chart


def test_trajectory_surface_and_loss_scalars(raced):
    run = read_run(raced / "race-rosenbrock")
    meta, (rows,), steps = run["race/trajectory/adam"]
    assert meta["race"] == "race-rosenbrock" and meta["optimizer"] == "adam"
    assert meta["racer"] == "adam"
    assert meta["hyperparameters"] == {"learning_rate": 0.02}  # the --hp override
    assert meta["tolerance"] == SURFACES["rosenbrock"].tolerance
    assert meta["tuning"] is None and meta["keras_class"] == "keras.optimizers.Adam"
    # every display field of the format, passed by the command itself
    rosen = SURFACES["rosenbrock"]
    assert meta["version"] == fmt.VERSION and set(fmt.TRAJECTORY_DEFAULTS) <= set(meta)
    assert meta["optimizer_title"] == "Adam" and meta["order"] == list(OPTIMIZERS).index("adam")
    assert meta["surface_title"] == rosen.title and meta["formula"] == rosen.formula
    assert meta["description"] == rosen.description and meta["analytic"] is True
    assert meta["log_scale"] is True
    assert rows.shape == (41, 4) and steps == [0]
    np.testing.assert_array_equal(rows[:, 0], np.arange(41))
    np.testing.assert_allclose(rows[0, 1:3], SURFACES["rosenbrock"].start)
    # the loss column is the surface's loss at the recorded position
    np.testing.assert_allclose(
        rows[:, 3], SURFACES["rosenbrock"].value(rows[:, 1], rows[:, 2]), rtol=1e-4
    )
    smeta, (grid,), _ = run["race/surface"]
    assert smeta["window"] == list(SURFACES["rosenbrock"].window) and smeta["log_scale"]
    np.testing.assert_allclose(grid, SURFACES["rosenbrock"].grid(race_cli.GRID)[2], rtol=1e-6)
    acc = ea.EventAccumulator(str(raced / "race-rosenbrock"), {ea.TENSORS: 0})
    acc.Reload()
    # scalars written as tensors by the v2 format
    losses = [
        float(tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors("race/loss/adam")
    ]
    np.testing.assert_allclose(losses, rows[:, 3], rtol=1e-6)


def test_network_racer_records_its_plane(raced):
    run = read_run(raced / "race-nn_plane")
    meta, (rows,), _ = run["race/trajectory/sgd"]
    assert meta["basis"]["parameters"] == SURFACES["nn_plane"].size
    assert "filter-normalised" in meta["basis"]["directions"]
    assert meta["tolerance_kind"] == "loss" and meta["minima"] == []
    assert meta["analytic"] is False and meta["formula"] is None  # a model's loss
    # a basis keeps the writer from filling in the library's fields: the command writes them
    plane = SURFACES["nn_plane"].display_fields()
    assert {key: meta[key] for key in plane} == plane and meta["surface_title"]
    assert rows[-1, 3] < rows[0, 3]  # the network learned
    assert np.abs(rows[-1, 1:3]).max() > 1e-3  # and its projection moved
    _, (grid,), _ = run["race/surface"]
    assert grid.shape == (race_cli.GRID_MODEL, race_cli.GRID_MODEL)
    # the grid centre is the initial weights, whose loss is the first recorded loss
    centre = race_cli.GRID_MODEL // 2
    assert grid[centre, centre] == pytest.approx(rows[0, 3], rel=1e-4)


def test_leaderboard_printed_per_surface(raced, capsys):
    # (re-run small to capture the output; re-running replaces the race's logs)
    argv = ["--logdir", str(raced), "--steps", "40", "--optimizers", "sgd", "adam", "lion"]
    assert race_cli.main([*argv, "--surfaces", "rosenbrock"]) == 0
    out = capsys.readouterr().out
    assert "keras.optimizers.Adam(learning_rate=0.05)" in out  # defaults stated
    board = out[out.index("race-rosenbrock: Rosenbrock") :]
    assert all(name in board for name in ("SGD", "Adam", "Lion"))
    assert len(list((raced / "race-rosenbrock").glob("events.out.tfevents.*"))) == 1


def test_tune_records_search_and_flags_the_edge(tmp_path, capsys):
    argv = ["--logdir", str(tmp_path), "--steps", "30", "--tune", "--trials", "3"]
    argv += ["--optimizers", "momentum", "adam", "--surfaces", "quadratic"]
    assert race_cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "objective:" in out and "search space:" in out and "3 trials" in out
    tuned = read_run(tmp_path / "tuned-quadratic")
    meta = tuned["race/trajectory/momentum"][0]
    tuning = meta["tuning"]
    assert tuning["budget"] == 3 and len(tuning["trials"]) == 3
    assert set(tuning["search_space"]) == {"learning_rate", "momentum"}
    best = tuning["trials"][tuning["best"]]["hyperparameters"]
    assert meta["hyperparameters"]["learning_rate"] == pytest.approx(best["learning_rate"])
    adam = tuned["race/trajectory/adam"][0]["tuning"]
    assert set(adam["search_space"]) == {"learning_rate"}
    # every optimizer tried the same learning rates
    rates = [t["hyperparameters"]["learning_rate"] for t in tuning["trials"]]
    assert sorted(rates) == sorted(t["hyperparameters"]["learning_rate"] for t in adam["trials"])
    lrs = sorted(rates)
    for record in (tuning, adam):
        chosen = record["trials"][record["best"]]["hyperparameters"]["learning_rate"]
        assert ("learning_rate" in record["at_edge"]) == (chosen in (lrs[0], lrs[-1]))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--surfaces", "moon"], "unknown surface: moon"),
        (["--optimizers", "adamm"], "unknown optimizer: adamm"),
        (["--hp", "adam.learning_rat=0.1"], "no hyper-parameter 'learning_rat'"),
        (["--hp", "adam.learning_rate=fast"], "--hp value must be a number"),
        (["--steps", "0"], "--steps must be between"),
    ],
)
def test_bad_arguments_are_one_line_errors(argv, message, tmp_path, capsys):
    assert flowscope.main(["race", "--logdir", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("flowscope: error:") and message in err and "\n" not in err


def test_unwritable_logdir_is_a_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert flowscope.main(["race", "--logdir", str(blocker / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--logdir" in err and "not writable" in err and "\n" not in err


def test_the_race_process_starts_tensorflow_lean_and_leaves_callers_alone(monkeypatch):
    """`flowscope race` itself starts TensorFlow without oneDNN and with one thread (a
    variable the user set wins); a process that calls `main` (the tour, a test) keeps its own."""
    import types

    for name in race_cli.RUNTIME:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "2")
    # the module's view of the process, not the real sys: this process's TensorFlow stays
    # imported for any thread that uses it meanwhile
    process = types.SimpleNamespace(argv=["pytest", "tests"], modules={})
    monkeypatch.setattr(race_cli, "sys", process)
    race_cli._race_runtime()
    assert "TF_ENABLE_ONEDNN_OPTS" not in os.environ
    process.argv = ["flowscope", "race", "--steps", "10"]
    race_cli._race_runtime()
    assert (
        os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0" and os.environ["TF_NUM_INTEROP_THREADS"] == "1"
    )
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == "2"  # the user's
    # TensorFlow started already (it reads them once): nothing to set
    for name in race_cli.RUNTIME:
        monkeypatch.delenv(name, raising=False)
    process.modules["tensorflow"] = object()
    race_cli._race_runtime()
    assert not set(race_cli.RUNTIME) & set(os.environ)
