"""Optimizer-race summaries: chunked trajectories, surfaces, TF and TF-free writers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing import event_file_loader

import summaries
from summaries import format as fmt
from summaries import pb, race, records
from summaries.race import upgrade as race_upgrade
from summaries.race.optimizers import OPTIMIZERS
from summaries.race.surfaces import SURFACES

REPO = Path(__file__).resolve().parent.parent
WINDOW = [-2.0, 2.0, -1.0, 3.0]
META = dict(race="bowl", optimizer="adam", surface="quadratic", window=WINDOW)


def events(logdir: Path) -> list[tuple[int, str, dict, np.ndarray]]:
    """(step, tag, metadata content, array) of every Flowscope value under `logdir`."""
    out = []
    for path in sorted(logdir.rglob("events.out.tfevents.*")):
        for event in event_file_loader.EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != fmt.RACE_PLUGIN:
                    continue
                content = race_upgrade.parse_content(value.metadata.plugin_data.content)
                out.append((event.step, value.tag, content, tf.make_ndarray(value.tensor)))
    return out


def path(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    positions = np.cumsum(rng.normal(0, 0.01, (n, 2)), axis=0)
    return np.arange(n) * 3, positions, (positions**2).sum(1)


def test_trajectory_is_written_in_chunks_with_metadata(tmp_path):
    steps, positions, losses = path(10)
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default(), tf.name_scope("race"):
        ok = summaries.trajectory(
            "trajectory",
            tf.constant(steps),
            tf.constant(positions),
            losses,
            hyperparameters={"learning_rate": np.float32(0.5)},
            minima=[[0.0, 0.0]],
            chunk=4,
            tolerance=1e-3,
            tuning={"searched": ["learning_rate"]},
            **META,
        )
    writer.close()
    assert ok is True
    written = events(tmp_path)
    assert [(step, tag) for step, tag, _, _ in written] == [
        (0, "race/trajectory"),
        (12, "race/trajectory"),
        (24, "race/trajectory"),
    ]
    rows = np.concatenate([array for _, _, _, array in written])
    np.testing.assert_array_equal(rows, np.column_stack([steps, positions, losses]))
    content = written[0][2]
    assert content["kind"] == fmt.TRAJECTORY and content["chunk"] == 4
    assert content["hyperparameters"] == {"learning_rate": 0.5}
    assert content["tolerance"] == 1e-3 and content["tuning"] == {"searched": ["learning_rate"]}
    assert content["start"] == positions[0].tolist() and content["minima"] == [[0.0, 0.0]]
    assert {k: content[k] for k in META} == META


def test_numpy_writers_match_the_tensorflow_writers(tmp_path):
    steps, positions, losses = path(9, seed=2)
    grid = np.add.outer(np.linspace(-1, 3, 5) ** 2, np.linspace(-2, 2, 7) ** 2)
    writer = tf.summary.create_file_writer(str(tmp_path / "tf"))
    with writer.as_default():
        summaries.trajectory("t", steps, positions, losses, chunk=5, basis={"pca": 2}, **META)
        summaries.surface("s", grid, race="bowl", surface="quadratic", window=WINDOW, step=3)
    writer.close()
    with pb.LogWriter(str(tmp_path / "np")) as log:
        count = summaries.write_trajectory(
            log, "t", steps, positions, losses, chunk=5, basis={"pca": 2}, **META
        )
        summaries.write_surface(
            log, "s", grid, race="bowl", surface="quadratic", window=WINDOW, step=3
        )
    assert count == 2
    from_tf, from_np = events(tmp_path / "tf"), events(tmp_path / "np")
    assert len(from_tf) == len(from_np) == 3
    for (s1, t1, c1, a1), (s2, t2, c2, a2) in zip(from_tf, from_np, strict=True):
        assert (s1, t1, c1) == (s2, t2, c2)
        np.testing.assert_array_equal(a1, a2)
    surface = [e for e in from_np if e[1] == "s"][0]
    assert surface[0] == 3 and surface[2]["kind"] == fmt.SURFACE
    assert surface[3].dtype == np.float32 and surface[3].shape == (5, 7)


def test_numpy_writers_do_not_need_tensorflow(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        import summaries
        from summaries import pb
        with pb.LogWriter({str(tmp_path)!r}) as log:
            summaries.write_trajectory(log, "t", np.arange(3), np.zeros((3, 2)), np.ones(3),
                                       race="r", optimizer="o", surface="s",
                                       window=[0, 1, 0, 1])
            summaries.write_confusion(log, "c", labels=[0, 1], predictions=[1, 1],
                                      classes=["a", "b"], images=np.zeros((2, 3, 3)))
        assert "tensorflow" not in sys.modules, "TensorFlow was imported"
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_trajectory_refuses_to_run_inside_tf_function(tmp_path):
    @tf.function
    def inside():
        summaries.trajectory("t", [0, 1], [[0.0, 0.0], [1.0, 1.0]], [0.0, 1.0], **META)

    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default(), pytest.raises(RuntimeError, match="eagerly"):
        inside()


def test_no_default_writer_returns_false():
    assert summaries.trajectory("t", [0], [[0.0, 0.0]], [1.0], **META) is False


GOOD = dict(name="t", steps=[0, 1, 2], positions=[[0, 0], [1, 1], [2, 2]], losses=[0, 1, 2])


@pytest.mark.parametrize(
    "change, error, needle",
    [
        ({"positions": [[0, 0, 0]] * 3}, ValueError, "positions"),
        ({"positions": [["a", "b"]] * 3}, TypeError, "positions"),
        ({"losses": [0, 1]}, ValueError, "same non-zero length"),
        ({"steps": [0, 2, 1]}, ValueError, "steps"),
        ({"steps": [0, 1.5, 2]}, ValueError, "steps"),
        ({"steps": [-1, 0, 1]}, ValueError, "steps"),
        ({"steps": [[0, 1, 2]]}, ValueError, "steps"),
        ({"name": ""}, ValueError, "name"),
        ({"name": 5}, TypeError, "name"),
        ({"window": [1, 0, 0, 1]}, ValueError, "window"),
        ({"window": [0, 1, 0]}, ValueError, "window"),
        ({"chunk": 0}, ValueError, "chunk"),
        ({"chunk": 2.0}, TypeError, "chunk"),
        ({"race": ""}, TypeError, "race"),
        ({"optimizer": None}, TypeError, "optimizer"),
        ({"minima": [[0, np.nan]]}, ValueError, "minima"),
        ({"hyperparameters": {"lr": object()}}, ValueError, "hyperparameters"),
        ({"tolerance": float("nan")}, ValueError, "tolerance"),
        ({"version": 2}, ValueError, "reserved"),
    ],
)
def test_bad_trajectory_raises_and_writes_nothing(tmp_path, change, error, needle):
    args = {**GOOD, **META, **change}
    writer = tf.summary.create_file_writer(str(tmp_path / "tf"))
    with writer.as_default():
        summaries.trajectory("before", [0], [[0.0, 0.0]], [1.0], **META)
        with pytest.raises(error, match=needle):
            summaries.trajectory(**args)
    writer.close()
    with pb.LogWriter(str(tmp_path / "np")) as log:
        summaries.write_trajectory(log, "before", [0], [[0.0, 0.0]], [1.0], **META)
        with pytest.raises(error, match=needle):
            summaries.write_trajectory(log, **args)
    for run in ("tf", "np"):
        assert [tag for _, tag, _, _ in events(tmp_path / run)] == ["before"]


def test_a_bad_row_late_in_a_long_trajectory_writes_no_chunk(tmp_path):
    steps, positions, losses = path(100)
    steps = steps.astype(float)
    steps[-1] = np.nan
    with pb.LogWriter(str(tmp_path)) as log, pytest.raises(ValueError, match="steps"):
        summaries.write_trajectory(log, "t", steps, positions, losses, chunk=10, **META)
    assert events(tmp_path) == []


@pytest.mark.parametrize(
    "change, error, needle",
    [
        ({"grid": np.zeros(5)}, ValueError, "grid"),
        ({"grid": np.zeros((1, 5))}, ValueError, "grid"),
        ({"window": [0, 0, 0, 1]}, ValueError, "window"),
        ({"step": -1}, ValueError, "step"),
        ({"surface": 3}, TypeError, "surface"),
    ],
)
def test_bad_surface_raises(tmp_path, change, error, needle):
    args = {"grid": np.ones((3, 3)), "race": "r", "surface": "s", "window": WINDOW, **change}
    with pb.LogWriter(str(tmp_path)) as log, pytest.raises(error, match=needle):
        summaries.write_surface(log, "s", **args)


def test_trajectory_chunk_pb_builds_one_chunk_with_the_library_fields():
    summary = race.trajectory_chunk_pb("t", [0], [[0.0, 0.0]], [1.0], **META)
    content = json.loads(summary.value[0].metadata.plugin_data.content)
    assert content["version"] == fmt.VERSION
    # no tolerance was given: the library's "quadratic" surface supplies it
    assert content["tolerance"] == SURFACES["quadratic"].tolerance
    assert race.trajectory_summaries is race.trajectory_pb


def test_trajectory_pb_builds_every_chunk_of_the_whole_trajectory():
    steps, positions, losses = path(10)
    events = race.trajectory_pb("t", steps, positions, losses, chunk=4, **META)
    assert [step for step, _ in events] == [0, 12, 24]
    rows = np.concatenate([tf.make_ndarray(s.value[0].tensor) for _, s in events])
    np.testing.assert_array_equal(rows, np.column_stack([steps, positions, losses]))
    contents = {s.value[0].metadata.plugin_data.content for _, s in events}
    assert len(contents) == 1  # every chunk carries the race's metadata
    chunk = race.trajectory_chunk_pb("t", steps[4:8], positions[4:8], losses[4:8], **META)
    assert json.loads(chunk.value[0].metadata.plugin_data.content)["start"] == positions[4].tolist()


def _content(**kwargs) -> dict:
    ((_, summary),) = race.trajectory_pb("t", [0], [[0.0, 0.0]], [1.0], **kwargs)
    return json.loads(summary.value[0].metadata.plugin_data.content)


def test_display_fields_are_filled_from_the_library_surface_and_optimizer():
    content = _content(race="r", optimizer="nag", surface="rosenbrock", window=WINDOW)
    rosen = SURFACES["rosenbrock"]
    assert set(fmt.TRAJECTORY_DEFAULTS) <= set(content)
    assert content["surface_title"] == rosen.title and content["description"] == rosen.description
    assert content["formula"] == "(1 - x)^2 + 100 (y - x^2)^2" == rosen.formula
    assert content["analytic"] is True and content["log_scale"] is True
    assert content["tolerance"] == rosen.tolerance
    assert content["optimizer_title"] == "NAG" and content["order"] == list(OPTIMIZERS).index("nag")
    # given fields win over the library's
    given = _content(
        race="r", optimizer="nag", surface="rosenbrock", window=WINDOW,
        surface_title="My valley", tolerance=0.5, order=3, log_scale=False,
    )  # fmt: skip
    assert given["surface_title"] == "My valley" and given["tolerance"] == 0.5
    assert given["order"] == 3 and given["log_scale"] is False
    assert given["formula"] == rosen.formula


def test_display_fields_of_a_user_surface_or_a_projection_take_the_defaults():
    mine = _content(race="r", optimizer="my-sgd", surface="my-bowl", window=WINDOW)
    assert {k: mine[k] for k in fmt.TRAJECTORY_DEFAULTS} == fmt.TRAJECTORY_DEFAULTS
    # a projected model loss is not the library's closed-form surface, whatever its name
    plane = _content(race="r", optimizer="adam", surface="rosenbrock", window=WINDOW,
                     basis={"kind": "pca"})  # fmt: skip
    assert plane["analytic"] is False and plane["formula"] is None
    assert plane["surface_title"] is None and plane["tolerance"] is None
    assert plane["optimizer_title"] == "Adam" and plane["order"] == 6


@pytest.mark.parametrize(
    "change, error, needle",
    [
        ({"optimizer_title": 3}, TypeError, "optimizer_title"),
        ({"formula": ["x"]}, TypeError, "formula"),
        ({"analytic": "yes"}, TypeError, "analytic"),
        ({"log_scale": 1}, TypeError, "log_scale"),
        ({"tolerance": "0.1"}, TypeError, "tolerance"),
        ({"tolerance": float("inf")}, ValueError, "tolerance"),
        ({"order": -1}, ValueError, "order"),
        ({"order": 1.5}, TypeError, "order"),
        ({"tuning": {"x": object()}}, ValueError, "tuning"),
    ],
)
def test_bad_display_fields_are_refused_by_name(change, error, needle):
    with pytest.raises(error, match=needle):
        race.trajectory_pb("t", [0], [[0.0, 0.0]], [1.0], **META, **change)


def test_importing_the_race_library_is_light():
    script = textwrap.dedent(
        """
        import sys
        import summaries.race as race
        assert "numpy" not in sys.modules and "tensorflow" not in sys.modules
        assert race.TAGS["trajectory"] == race.TRAJECTORY_TAG == "race/trajectory"
        race.SURFACES, race.OPTIMIZERS, race.engine, race.trajectory_metrics
        assert "tensorflow" not in sys.modules, "TensorFlow was imported"
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_unwritable_logdir_is_refused_by_name(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(ValueError, match="logdir"):
        pb.LogWriter(str(blocker / "run"))
    assert blocker.read_text() == "not a directory"


def test_log_writer_file_is_read_by_tensorboard_loader(tmp_path):
    with pb.LogWriter(str(tmp_path)) as log:
        summaries.write_trajectory(log, "t", [0, 1], [[0, 0], [1, 1]], [1.0, 0.0], **META)
        name = log.path.name
    assert name.startswith("events.out.tfevents.")
    loaded = list(event_file_loader.EventFileLoader(str(tmp_path / name)).Load())
    assert loaded[0].file_version == "brain.Event:2" and len(loaded) == 2
    with pytest.raises(ValueError, match="closed"):
        log.add(race.surface_pb("s", np.ones((2, 2)), race="r", surface="s", window=WINDOW), 0)


def test_log_writer_checksums_match_tensorboards():
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    rng = np.random.default_rng(0)
    for size in (0, 1, 7, 8, 1000, 65_537):
        data = rng.bytes(size)
        assert records.masked_crc32c(data) == masked_crc32c(data), size
