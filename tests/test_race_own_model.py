"""Racing optimizers on the user's own Keras model (`summaries.race.model_race`,
`flowscope race --model`): logs read back, the model untouched, the same batches for
every racer, divergence frozen, and every bad input one line naming its option."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from summaries.race import model_race  # noqa: E402


def _data(n: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")
    return x, y


def _mlp(batch_norm: bool = False) -> keras.Model:
    keras.utils.set_random_seed(3)
    layers = [keras.Input((4,)), keras.layers.Dense(8, activation="relu")]
    if batch_norm:
        layers += [keras.layers.BatchNormalization(), keras.layers.Dropout(0.3)]
    model = keras.Sequential([*layers, keras.layers.Dense(2)])
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def _read(run_dir):
    from tensorboard.backend.event_processing import event_accumulator

    acc = event_accumulator.EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    acc.Reload()
    return acc


def _content(acc, tag):
    meta = acc.SummaryMetadata(tag)
    return json.loads(meta.plugin_data.content)


def test_race_model_logs_a_real_landscape_and_leaves_the_model_alone(tmp_path):
    from tensorboard.util import tensor_util

    x, y = _data()
    model = _mlp()
    before = [v.numpy().copy() for v in model.variables]
    race = model_race.race_model(
        model,
        x[:48],
        y[:48],
        ["sgd", ("sgd", {}), "adam", ("sgd", {"learning_rate": 1e6})],
        steps=20,
        batch_size=16,
        x_val=x[48:],
        y_val=y[48:],
        logdir=tmp_path,
        name="mlp",
        grid=5,
        sample=32,
        eval_every=5,
    )
    after = [v.numpy() for v in model.variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))

    by = {r.name: r for r in race.racers}
    assert list(by) == ["sgd", "sgd-2", "adam", "sgd-3"]
    # same batches in the same order, same start: the same path
    np.testing.assert_array_equal(by["sgd"].losses, by["sgd-2"].losses)
    np.testing.assert_array_equal(by["sgd"].positions, by["sgd-2"].positions)
    assert not np.array_equal(by["sgd"].losses, by["adam"].losses)
    # the diverged racer is frozen at its first non-finite loss
    frozen = by["sgd-3"]
    assert frozen.diverged_step is not None and frozen.diverged_step <= 20
    assert len(frozen.losses) == frozen.diverged_step + 1
    assert not np.isfinite(frozen.losses[-1]) and np.isfinite(frozen.losses[:-1]).all()
    assert by["sgd"].diverged_step is None and len(by["sgd"].losses) == 21
    assert [s for s, _ in by["adam"].validation["val_loss"]] == [0, 5, 10, 15, 20]
    assert "val_accuracy" in by["adam"].validation
    # step 0 is the model's own weights: what `evaluate` of the arrays gives (the race
    # evaluates one batched dataset, made once: the same batches)
    own = model.evaluate(x[48:], y[48:], batch_size=16, verbose=0, return_dict=True)
    for key in ("loss", "accuracy"):
        assert by["adam"].validation[f"val_{key}"][0][1] == pytest.approx(own[key], rel=1e-6)

    # the plane: PCA shares, fitted on the racers that did not diverge
    basis = race.basis
    assert basis["method"] == "pca" and basis["fitted_on"] == ["sgd", "sgd-2", "adam"]
    assert 0 < basis["explained"][1] <= basis["explained"][0] <= 1
    assert basis["captured"] == pytest.approx(sum(basis["explained"]), abs=1e-6)
    assert basis["axes"][0].startswith("PC1 (")
    assert race.grid.shape == (5, 5) and np.isfinite(race.grid).all()

    acc = _read(tmp_path / "mlp")
    tags = set(acc.Tags()["tensors"])
    assert {"race/surface", "race/trajectory/sgd", "race/trajectory/sgd-3"} <= tags
    assert "race/loss/adam" in tags and "race/val_loss/adam" in tags
    rows = np.concatenate(
        [tensor_util.make_ndarray(e.tensor_proto) for e in acc.Tensors("race/trajectory/sgd")]
    )
    assert rows[0, 0] == 0 and rows[-1, 0] == 20
    np.testing.assert_allclose(rows[0, 1:3], [0, 0], atol=1e-6)  # the start is the origin
    content = _content(acc, "race/trajectory/adam")
    assert content["basis"]["explained"] == basis["explained"]
    assert content["analytic"] is False and content["racer"] == "adam"
    assert content["hyperparameters"]["learning_rate"] == pytest.approx(0.001)
    grid = tensor_util.make_ndarray(acc.Tensors("race/surface")[0].tensor_proto)
    assert grid.shape == (5, 5)
    losses = [e.step for e in acc.Tensors("race/loss/sgd")]
    assert len(losses) == 21
    if (tmp_path / "mlp" / "hparams").exists():  # summaries.hparams is there
        assert sorted(p.name for p in (tmp_path / "mlp" / "hparams").iterdir() if p.is_dir()) == [
            "adam",
            "sgd",
            "sgd-2",
            "sgd-3",
        ]


def test_plugin_lists_a_model_race_with_what_if_off(tmp_path):
    from summaries.race.upgrade import parse_content
    from tb_plugin.data import Series
    from tb_plugin.race_listing import derive

    x, y = _data(32)
    model_race.race_model(
        _mlp(), x, y, ["sgd", "adam"], steps=6, batch_size=8, logdir=tmp_path, name="m",
        grid=3, sample=8,
    )  # fmt: skip
    acc = _read(tmp_path / "m")
    catalog = {"m": {}}
    for tag in acc.Tags()["tensors"]:
        meta = acc.SummaryMetadata(tag)
        if meta.plugin_data.plugin_name != "optimizer_race":
            continue
        content = parse_content(meta.plugin_data.content)
        catalog["m"][tag] = Series(
            run="m", tag=tag, content=content, error=None, max_step=6, max_wall_time=0.0,
            plugin_content=meta.plugin_data.content, blobs=False,
        )  # fmt: skip
    race = derive(catalog).race("m").to_json()
    assert race["whatif"] is False and race["whatif_why"]["code"] == "projected"
    assert race["axes"][0].startswith("PC1")


def test_batch_norm_and_dropout_racers_share_masks_and_random_planes(tmp_path):
    x, y = _data()
    model = _mlp(batch_norm=True)
    before = [v.numpy().copy() for v in model.variables]  # moving statistics included
    race = model_race.race_model(
        model, x, y, ["sgd", "sgd", "rmsprop"], steps=12, batch_size=16, grid=3, sample=16,
        directions="random",
    )  # fmt: skip
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, model.variables, strict=True))
    a, b, c = race.racers
    np.testing.assert_array_equal(a.losses, b.losses)  # same batches, same dropout masks
    assert not np.array_equal(a.losses, c.losses)
    assert race.basis["method"] == "random" and race.basis["explained"] is None
    assert 0 <= race.basis["captured"] <= 1
    assert race.basis["axes"] == ["direction 1", "direction 2"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": 0}, "steps must be between"),
        ({"optimizers": ["adam", "bogus"]}, "unknown optimizer 'bogus'"),
        ({"hp": {"adam": {"foo": 1.0}}}, "no hyper-parameter 'foo'"),
        ({"directions": "pcb"}, "directions must be"),
        ({"x_val": np.zeros((3, 4), "float32")}, "given together"),
        ({"rank_by": "accuracy"}, "measured on validation data"),
        ({"rank_by": "accuracy:up"}, "must be min or max"),
        ({"target": float("nan")}, "target must be finite"),
    ],
)
def test_race_model_bad_arguments(tmp_path, kwargs, message):
    x, y = _data(16)
    kwargs = {"steps": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        model_race.race_model(_mlp(), x, y, logdir=tmp_path / "logs", **kwargs)
    assert not (tmp_path / "logs").exists()


def test_uncompiled_and_misfit_models_are_refused():
    x, y = _data(16)
    bare = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="compiled"):
        model_race.check_inputs(bare, x, y)
    with pytest.raises(ValueError, match="^x does not fit"):
        model_race.check_inputs(_mlp(), x[:, :3], y)
    with pytest.raises(ValueError, match="same number of samples"):
        model_race.check_inputs(_mlp(), x, y[:5])


# -- the command -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    x, y = _data(80)
    _mlp().save(root / "mlp.keras")
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(root / "bare.keras")
    np.savez(root / "data.npz", x=x[:64], y=y[:64], x_val=x[64:], y_val=y[64:])
    np.savez(root / "narrow.npz", x=x[:, :3], y=y)
    np.savez(root / "short.npz", x=x, y=y[:7])
    np.savez(root / "nox.npz", y=y)
    (root / "text.keras").write_text("not a model")
    return root


def _cli(args, capsys):
    from demo_models.cli import main

    os.environ["FLOWSCOPE_NO_PROGRESS"] = "1"
    code = main(["race", *map(str, args)])
    return code, capsys.readouterr()


def test_cli_races_a_saved_model_without_changing_it(files, tmp_path, capsys):
    digest = hashlib.sha256((files / "mlp.keras").read_bytes()).hexdigest()
    code, out = _cli(
        ["--model", files / "mlp.keras", "--data", files / "data.npz", "--logdir", tmp_path,
         "--optimizers", "sgd", "adam", "--steps", "8", "--batch-size", "16", "--grid", "3",
         "--hp", "sgd.learning_rate=0.1"],
        capsys,
    )  # fmt: skip
    assert code == 0, out.err
    assert hashlib.sha256((files / "mlp.keras").read_bytes()).hexdigest() == digest
    assert "ranked by best validation loss" in out.out and "PC1" in out.out
    assert "to target" in out.out and "ms/step" in out.out
    acc = _read(tmp_path / "model-mlp")
    assert {"race/trajectory/sgd", "race/trajectory/adam", "race/surface"} <= set(
        acc.Tags()["tensors"]
    )
    assert _content(acc, "race/trajectory/sgd")["hyperparameters"]["learning_rate"] == 0.1


@pytest.mark.parametrize(
    ("model", "data", "extra", "option"),
    [
        ("text.keras", "data.npz", [], "--model"),
        ("bare.keras", "data.npz", [], "--model"),
        ("missing.keras", "data.npz", [], "--model"),
        ("mlp.keras", "narrow.npz", [], "--data"),
        ("mlp.keras", "short.npz", [], "--data"),
        ("mlp.keras", "nox.npz", [], "--data"),
        ("mlp.keras", "data.npz", ["--optimizers", "adam", "sgdd"], "--optimizers"),
        ("mlp.keras", "data.npz", ["--steps", "0"], "--steps"),
        ("mlp.keras", "data.npz", ["--steps", "100001"], "--steps"),
        ("mlp.keras", "data.npz", ["--hp", "adam.nope=1"], "--hp"),
        ("mlp.keras", "data.npz", ["--grid", "1"], "--grid"),
        ("mlp.keras", "data.npz", ["--rank-by", "bogus"], "--rank-by"),
    ],
)
def test_cli_bad_input_is_one_line_and_writes_nothing(
    files, tmp_path, capsys, model, data, extra, option
):
    logdir = tmp_path / "logs"
    argv = ["--model", files / model, "--data", files / data, *extra, "--logdir", logdir]
    code, out = _cli(argv, capsys)
    assert code == 2
    lines = [line for line in out.err.splitlines() if line.startswith("flowscope:")]
    assert len(lines) == 1 and option in lines[0], out.err
    assert not logdir.exists()


def test_random_plane_is_filter_normalised_on_conv_kernels():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6, 6, 2)), keras.layers.Conv2D(3, 3), keras.layers.Flatten(),
         keras.layers.Dense(2)]
    )  # fmt: skip
    basis = model_race.random_plane(model, seed=1)
    kernel = model.trainable_variables[0].numpy()  # [3, 3, 2, 3]
    d = basis[: kernel.size, 0].reshape(kernel.shape)
    np.testing.assert_allclose(
        np.sqrt((d**2).sum(axis=(0, 1, 2))), np.sqrt((kernel**2).sum(axis=(0, 1, 2))), rtol=1e-5
    )
    bias = model.trainable_variables[1].numpy()
    assert not basis[kernel.size : kernel.size + bias.size].any()  # biases not moved


# -- the leaderboard a user decides by (issue 27, item 3) ----------------------------------


def _scalars(acc, tag) -> list[tuple[int, float]]:
    from tensorboard.util import tensor_util

    return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]


def test_model_metrics_time_the_target_and_measure_each_racer():
    from summaries.race import metrics

    losses = [1.0, 0.8, 0.7, 0.5, 0.6, 0.4]  # 5 updates
    validation = {
        "val_loss": [(0, 1.1), (2, 0.75), (4, 0.65), (5, 0.7)],
        "val_accuracy": [(0, 0.5), (2, 0.6), (4, 0.8), (5, 0.75)],
    }
    seconds = [0.1, 0.2, 0.3, 0.4, 0.5]
    m = metrics.model_metrics(
        losses, validation, ranked_by="val_loss", goal="min", target=0.7, target_rule="given",
        step_seconds=seconds, tags={"val_loss": "race/val_loss/a"},
    )  # fmt: skip
    assert (m["score"], m["score_step"], m["final_val_loss"]) == (0.65, 4, 0.7)
    assert m["target_step"] == 4  # 0.75 at step 2 is not yet at the target
    assert m["target_seconds"] == pytest.approx(0.1 + 0.2 + 0.3 + 0.4)
    assert m["ms_per_step"] == pytest.approx(300.0) and m["timed_steps"] == 5
    assert m["history"]["val_loss"] == [[0, 1.1], [2, 0.75], [4, 0.65], [5, 0.7]]
    assert m["timing"] == "sequential" and m["tags"] == {"val_loss": "race/val_loss/a"}
    # a compiled metric that is better higher
    goal = metrics.metric_goal("val_accuracy")
    a = metrics.model_metrics(
        losses, validation, ranked_by="val_accuracy", goal=goal, target=0.6, step_seconds=seconds
    )
    assert goal == "max" and (a["score"], a["score_step"]) == (0.8, 4)
    assert a["target_step"] == 2 and a["target_seconds"] == pytest.approx(0.3)
    assert a["best_val_loss"] == 0.65 and a["best_val_loss_step"] == 4
    # without validation: the final training loss, and the target on the loss of every step
    t = metrics.model_metrics(losses, None, ranked_by="loss", goal="min", target=0.55)
    assert (t["score"], t["score_step"], t["target_step"]) == (0.4, 5, 3)
    assert t["best_val_loss"] is None and t["ms_per_step"] is None and t["history"] == {}
    assert [metrics.metric_goal(n) for n in ("val_loss", "mean_absolute_error", "auc")] == [
        "min",
        "min",
        "max",
    ]
    # the default target: 90 % of the way from the common start to the best of any racer
    assert metrics.default_target([0.65, 0.9, None], "min", 1.1) == pytest.approx(0.695)
    assert metrics.default_target([0.8, 0.7], "max", 0.5) == pytest.approx(0.77)
    assert metrics.default_target([None], "min", 1.0) is None
    # Keras computes in float32: an accuracy of 42 / 60 reaches a target of 0.7
    assert metrics.first_reaching([(0, 0.5), (3, float(np.float32(42 / 60)))], 0.7, "max") == 3


def test_the_page_ranks_a_logged_model_race_by_its_score_not_its_training_loss(tmp_path):
    """Hand-written logs: the racer with the lowest final training loss has the worst
    validation loss; the leaderboard ranks by the logged score, diverged last."""
    from plugin_harness import InProcessBoard

    from summaries import format as fmt
    from summaries import pb
    from summaries.race import metrics, write_trajectory
    from summaries.race.summary import trajectory_pb
    from summaries.race.upgrade import upgrade

    racers = {  # name: (final training loss, best validation loss, diverged)
        "overfit": (0.05, 0.9, False),
        "steady": (0.4, 0.3, False),
        "blowup": (float("nan"), 0.1, True),
        "middle": (0.2, 0.5, False),
    }
    with pb.LogWriter(str(tmp_path / "m")) as writer:
        for name, (final, best, _) in racers.items():
            losses = [1.0, 0.7, final]
            m = metrics.model_metrics(
                losses, {"val_loss": [(0, 1.2), (2, best)]}, ranked_by="val_loss",
                goal="min", target=0.6, step_seconds=[0.01, 0.02],
            )  # fmt: skip
            write_trajectory(
                writer, f"race/trajectory/{name}", [0, 1, 2], [[0, 0], [1, 1], [2, 2]], losses,
                race="m", racer=name, optimizer="sgd", surface="net", window=[-5, 5, -5, 5],
                basis={"method": "pca"}, model_metrics=m,
            )  # fmt: skip
    board = InProcessBoard(tmp_path)
    plugin = board.plugins["optimizer_race"]
    rows = plugin.leaderboard_impl(board.context(), "", race="m")["rows"]
    assert [r["name"] for r in rows] == ["steady", "middle", "overfit", "blowup"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert [r["score"] for r in rows] == [0.3, 0.5, 0.9, 0.1]
    assert {r["ranked_by"] for r in rows} == {"val_loss"}
    assert [r["target_step"] for r in rows] == [2, 2, None, 2]
    assert rows[0]["target_seconds"] == pytest.approx(0.03)
    assert rows[0]["ms_per_step"] == pytest.approx(15.0)
    # a racer of an older format version has no model_metrics: ranked by arrival as before
    old = upgrade({"version": 4, "kind": "trajectory", "race": "r", "optimizer": "sgd"})
    assert old["model_metrics"] is None and old["version"] == fmt.VERSION == 5
    assert metrics.model_row(None) == {} and metrics.model_row({"ranked_by": 3}) == {}
    with pytest.raises(ValueError, match="ranked_by"):  # the writers check what they write
        trajectory_pb(
            "race/trajectory/x", [0], [[0, 0]], [1.0], race="b", optimizer="sgd",
            surface="net", window=[-1, 1, -1, 1], model_metrics={"goal": "min"},
        )  # fmt: skip
    junk = metrics.model_row({"ranked_by": "val_loss", "score": "x", "goal": "up", "history": 1})
    assert junk["score"] is None and junk["goal"] == "min" and junk["history"] == {}


def test_model_race_logs_what_its_leaderboard_shows(tmp_path):
    """A real race: the metadata says what ranks (and which scalar tags hold it), each
    racer's best validation loss, its time to the default target and its wall time per step;
    the plugin's leaderboard ranks by best validation loss; HParams gets the same numbers."""
    from plugin_harness import InProcessBoard

    x, y = _data()
    race = model_race.race_model(
        _mlp(), x[:48], y[:48], ["sgd", "adam", ("sgd", {"learning_rate": 1e6}), "rmsprop"],
        steps=12, batch_size=16, x_val=x[48:], y_val=y[48:], logdir=tmp_path, name="mlp",
        grid=3, sample=16, eval_every=3,
    )  # fmt: skip
    acc = _read(tmp_path / "mlp")
    logged = {}
    for r in race.racers:
        content = _content(acc, f"race/trajectory/{r.name}")
        assert content["version"] == 5
        m = content["model_metrics"]
        assert m["ranked_by"] == "val_loss" and m["goal"] == "min" and m["timing"] == "sequential"
        assert m["tags"]["val_loss"] == f"race/val_loss/{r.name}"
        assert m["tags"]["val_accuracy"] == f"race/val_accuracy/{r.name}"
        points = _scalars(acc, m["tags"]["val_loss"])  # the tag the metadata names
        best = min(points, key=lambda p: p[1])
        assert m["score"] == pytest.approx(best[1], rel=1e-6) and m["score_step"] == best[0]
        assert m["best_val_loss"] == m["score"]
        assert [p[0] for p in m["history"]["val_loss"]] == [p[0] for p in points]
        assert m["ms_per_step"] > 0 and m["target_rule"] == "default"
        updates = 12 if r.diverged_step is None else r.diverged_step + 1
        assert m["timed_steps"] == updates == len(r.step_seconds)
        logged[r.name] = (m, points)
    start = logged["sgd"][1][0][1]  # every racer is validated on the same weights at step 0
    assert all(p[0] == (0, pytest.approx(start)) for _, p in logged.values())
    finite = [m["score"] for m, _ in logged.values()]
    target = start + 0.9 * (min(finite) - start)
    for m, points in logged.values():
        assert m["target"] == pytest.approx(target, rel=1e-6)
        reached = [s for s, v in points if np.float32(v) <= np.float32(m["target"])]
        assert m["target_step"] == (reached[0] if reached else None)
        if m["target_step"]:
            assert 0 < m["target_seconds"] <= m["ms_per_step"] * m["timed_steps"] / 1000 + 1e-9
    assert any(m["target_step"] for m, _ in logged.values())  # the best racer gets there

    rows = (
        InProcessBoard(tmp_path)
        .plugins["optimizer_race"]
        .leaderboard_impl(InProcessBoard.context(), "", race="mlp")["rows"]
    )
    diverged = [r.name for r in race.racers if r.diverged_step is not None]
    steady = sorted((n for n in logged if n not in diverged), key=lambda n: logged[n][0]["score"])
    assert diverged == ["sgd-2"]
    assert [r["name"] for r in rows] == [*steady, "sgd-2"] == [r.name for r in race.ranked()]
    assert [r["score"] for r in rows] == [logged[r["name"]][0]["score"] for r in rows]
    assert all(r["ms_per_step"] > 0 for r in rows)

    # the racers' hyper-parameters and final metrics in TensorBoard's HParams tab
    session = _read(tmp_path / "mlp" / "hparams" / "adam")
    tags = [t for t in session.Tags()["tensors"] if t.startswith("hparams/")]
    numbers = {tag: _scalars(session, tag)[0][1] for tag in tags}
    adam = logged["adam"][0]
    assert numbers["hparams/best_val_loss"] == pytest.approx(adam["score"], rel=1e-6)
    assert numbers["hparams/ms_per_step"] == pytest.approx(adam["ms_per_step"], rel=1e-6)
    if adam["target_step"] is not None:
        assert numbers["hparams/target_step"] == adam["target_step"]


def test_rank_by_a_compiled_metric_with_a_given_target(tmp_path):
    x, y = _data(80)
    race = model_race.race_model(
        _mlp(), x[:64], y[:64], ["sgd", "adam", "rmsprop"], steps=10, batch_size=16,
        x_val=x[64:], y_val=y[64:], grid=3, sample=16, eval_every=2, rank_by="accuracy",
        target=0.7,
    )  # fmt: skip
    assert (race.ranked_by, race.goal, race.target, race.target_rule) == (
        "val_accuracy",
        "max",
        0.7,
        "given",
    )
    best = {r.name: max(v for _, v in r.validation["val_accuracy"]) for r in race.racers}
    scores = [r.metrics["score"] for r in race.ranked()]
    assert scores == sorted(scores, reverse=True) and scores == sorted(best.values())[::-1]
    for r in race.racers:
        # compared in float32, as Keras computes it (42 / 60 is 0.69999999 and reaches 0.7)
        reached = [s for s, v in r.validation["val_accuracy"] if np.float32(v) >= np.float32(0.7)]
        assert r.metrics["target_step"] == (reached[0] if reached else None)
    with pytest.raises(ValueError, match="rank_by: the model computes no 'auc'"):
        model_race.check_inputs(_mlp(), x, y, x_val=x[64:], y_val=y[64:], rank_by="auc")


@pytest.fixture(scope="module")
def model_board(tmp_path_factory):
    """TensorBoard over one small own-model race (four racers, one of them diverging)."""
    from conftest import TensorBoard, wait_for

    logdir = tmp_path_factory.mktemp("own-page") / "logs"
    x, y = _data(80)
    race = model_race.race_model(
        _mlp(), x[:64], y[:64], ["sgd", "momentum", "adam", ("sgd", {"learning_rate": 1e6})],
        steps=16, batch_size=16, x_val=x[64:], y_val=y[64:], logdir=logdir, name="own-mlp",
        grid=5, sample=32, eval_every=4,
    )  # fmt: skip
    board = TensorBoard(logdir, load_fast=True)
    try:
        wait_for(lambda: board.plugin("optimizer_race", "races")["races"], timeout=60)
        yield board, race
    finally:
        board.stop()


@pytest.mark.browser
def test_the_page_shows_an_own_model_race_ranked_by_best_validation_loss(model_board, make_page):
    from conftest import artifact
    from test_race_page import open_race, scrub

    board, race = model_board
    page = make_page()
    frame = open_race(page, board, "own-mlp")
    keys = frame.eval_on_selector_all("#race-leaderboard th", "ths => ths.map(t => t.dataset.key)")
    assert keys == [
        "rank", "optimizer", "hyper", "final_loss", "best_val_loss", "target_step",
        "target_seconds", "ms_per_step", "status",
    ]  # fmt: skip
    heads = frame.eval_on_selector_all(
        "#race-leaderboard th .race-sort", "bs => bs.map(b => b.firstChild.textContent)"
    )
    assert heads[4:8] == ["best val loss", "steps to target", "s to target", "ms/step"]

    def column(key):
        return frame.eval_on_selector_all(
            f'.lb-row td[data-key="{key}"]', "cs => cs.map(c => c.dataset.value)"
        )

    racers = frame.eval_on_selector_all(".lb-row", "rows => rows.map(r => r.dataset.racer)")
    expected = [f"own-mlp/{r.name}" for r in race.ranked()]
    assert racers == expected and expected[-1] == "own-mlp/sgd-2"  # the diverged one last
    ranks = frame.eval_on_selector_all(".lb-row td.lb-rank", "cs => cs.map(c => c.textContent)")
    assert ranks == ["1", "2", "3", "4"]
    by_id = {f"own-mlp/{r.name}": r for r in race.racers}
    shown = [float(v) for v in column("best_val_loss")]
    assert shown == pytest.approx([by_id[i].best("val_loss") for i in racers], rel=1e-6)
    assert shown[:3] == sorted(shown[:3])
    assert all(float(v) > 0 for v in column("ms_per_step"))
    targets = [by_id[i].metrics["target_step"] for i in racers]
    assert column("target_step") == ["" if s is None else str(s) for s in targets]
    assert targets[0] is not None  # the winner reached the default target
    note = frame.inner_text("#race-leaderboard-note")
    assert "ranks by best validation loss (lowest first)" in note and "90 %" in note
    assert frame.locator('.race-badge[data-outcome="finished"]').count() == 3
    frame.locator("#race-leaderboard-card").screenshot(
        path=artifact("race-own-model-leaderboard.png")
    )

    # as of step 0 every racer is at the common start: nothing reached yet, same best
    scrub(frame, 0)
    at_start = [float(v) for v in column("best_val_loss")]
    assert at_start == pytest.approx([at_start[0]] * 4)
    assert column("target_step") == ["0" if s == 0 else "" for s in targets]
    assert any(s for s in targets)  # so at least one cell changed
    scrub(frame, 16)
    assert column("target_step") == ["" if s is None else str(s) for s in targets]
    assert page.errors == []

    # in Chinese: the same columns, in the page's words
    zh = make_page(locale="zh-CN")
    frame = open_race(zh, board, "own-mlp")
    heads = frame.eval_on_selector_all(
        "#race-leaderboard th .race-sort", "bs => bs.map(b => b.firstChild.textContent)"
    )
    assert heads[3:8] == ["最终训练损失", "最佳验证损失", "达标步数", "达标用时（秒）", "毫秒/步"]
    assert "按最佳验证损失排名（越低越靠前）" in frame.inner_text("#race-leaderboard-note")
    frame.locator("#race-leaderboard-card").screenshot(
        path=artifact("race-own-model-leaderboard-zh.png")
    )
    assert zh.errors == []


def test_many_racers_trace_once_each_without_a_retracing_warning(caplog):
    """Each racer's step is one `tf.function` of one Python function: tracing on a call would
    count against all of them, and from the fifth racer on TensorFlow warns the user of
    "excessive retracing" (it did, at the racers' last, loss-only step)."""
    x, y = _data(32)
    with caplog.at_level("WARNING", logger="tensorflow"):
        race = model_race.race_model(
            _mlp(), x, y, ["sgd", "momentum", "nag", "adam", "rmsprop", "adagrad"],
            steps=3, batch_size=8, grid=2, sample=8,
        )  # fmt: skip
    assert all(np.isfinite(r.losses).all() for r in race.racers)
    assert not [r.getMessage() for r in caplog.records if "retracing" in r.getMessage()]


def test_tune_gives_every_optimizer_the_same_trials_and_races_the_best(tmp_path):
    """`tune=T`: each optimizer tries the same T learning rates on the same batches (validated
    as the race is), and the racer that races is its best trial, with the trials recorded."""
    x, y = _data(64)
    race = model_race.race_model(
        _mlp(), x[:48], y[:48], ["sgd", "adam"], steps=4, batch_size=16, x_val=x[48:],
        y_val=y[48:], tune=3, grid=2, sample=8,
    )  # fmt: skip
    rates = []
    for r in race.racers:
        record = r.tuning
        assert record["budget"] == 3 and len(record["trials"]) == 3
        assert record["objective"] == "lowest validation loss"
        tried = [t["hyperparameters"]["learning_rate"] for t in record["trials"]]
        rates.append(tried)
        scores = [t["score"] for t in record["trials"]]
        assert record["best"] == scores.index(min(scores))
        assert r.hyperparameters["learning_rate"] == tried[record["best"]]
    assert rates[0] == rates[1]  # the same budget of learning rates for every optimizer
    assert "tuning" in race.seconds
