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
