"""`SummaryCallback` on every Keras backend (TensorFlow, JAX, PyTorch): training is never
broken or changed, and the same parts are logged where the backend allows (docs/callback.md,
"On every Keras backend").

A backend is chosen before Keras is imported, so each backend runs in one child process
(``KERAS_BACKEND`` set) that fits a small two-head CNN (batch normalization and dropout
give it non-trainable and random-state variables) on each kind of data that backend's
`fit` takes: arrays, a `tf.data.Dataset` (TensorFlow and JAX), a `keras.utils.PyDataset`,
a Python generator, and a `torch.utils.data.DataLoader` (PyTorch). The parent reads the
runs back through TensorBoard's `event_accumulator`.
"""

from __future__ import annotations

import importlib.util

import pytest
from conftest import run_child
from tensorboard.backend.event_processing import event_accumulator

pytestmark = pytest.mark.slow  # one child process per backend

BACKENDS = ("tensorflow", "jax", "torch")
EPOCHS, BATCHES = 2, 4  # 64 training examples in batches of 16; 32 validation examples

CHILD = r"""
import json, os, random, sys, warnings
import numpy as np
import keras

BACKEND = keras.backend.backend()
ROOT = sys.argv[1]
rng = np.random.default_rng(0)
x = rng.random((64, 8, 8, 1), dtype=np.float32)
y = {"a": rng.integers(0, 3, 64), "b": rng.integers(0, 2, 64)}
xv = rng.random((32, 8, 8, 1), dtype=np.float32)
yv = {"a": rng.integers(0, 3, 32), "b": rng.integers(0, 2, 32)}


def seed():
    # no keras.utils.set_random_seed: it imports TensorFlow on every backend
    random.seed(0)
    np.random.seed(0)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        tf.random.set_seed(0)
    elif BACKEND == "torch":
        import torch

        torch.manual_seed(0)


def model():
    seed()
    layers = keras.layers
    init = keras.initializers.GlorotUniform(seed=1)
    inputs = keras.Input((8, 8, 1), name="image")
    h = layers.Conv2D(4, 3, activation="relu", kernel_initializer=init, name="conv")(inputs)
    h = layers.BatchNormalization(name="bn")(h)
    h = layers.Flatten(name="flatten")(h)
    h = layers.Dropout(0.25, seed=2, name="drop")(h)
    h = layers.Dense(8, activation="relu", kernel_initializer=init, name="fc")(h)
    a = layers.Dense(3, activation="softmax", kernel_initializer=init, name="a")(h)
    b = layers.Dense(2, activation="softmax", kernel_initializer=init, name="b")(h)
    m = keras.Model(inputs, {"a": a, "b": b})
    m.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss={"a": "sparse_categorical_crossentropy", "b": "sparse_categorical_crossentropy"},
        metrics={"a": ["accuracy"], "b": ["accuracy"]},
    )
    return m


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x) // 16

    def __getitem__(self, i):
        s = slice(16 * i, 16 * (i + 1))
        return self.x[s], {k: v[s] for k, v in self.y.items()}


def generator():
    while True:
        for i in range(0, 64, 16):
            yield x[i : i + 16], {k: v[i : i + 16] for k, v in y.items()}


def tf_datasets():
    import tensorflow as tf

    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    return train, tf.data.Dataset.from_tensor_slices((xv, yv)).batch(16)


def torch_loaders():
    import torch

    class Pairs(torch.utils.data.Dataset):
        def __init__(self, x, y):
            self.x, self.y = x, y

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i], {k: v[i] for k, v in self.y.items()}

    loader = torch.utils.data.DataLoader
    return loader(Pairs(x, y), batch_size=16), loader(Pairs(xv, yv), batch_size=16)


def fit_args(kind):
    # (fit's arguments, SummaryCallback's extra arguments)
    if kind == "arrays":  # hparams= too
        fit = dict(x=x, y=y, batch_size=16, validation_data=(xv, yv), shuffle=True)
        return fit, {"hparams": {"learning_rate": 0.01, "optimizer": "adam"}}
    if kind == "dataset":
        train, val = tf_datasets()
        return dict(x=train, validation_data=val), {}
    if kind == "pydataset":  # neither can be read twice: no sample, no validation
        return dict(x=Batches(x, y), validation_data=Batches(xv, yv)), {}
    if kind == "generator":  # the sample given, the validation data fit's arrays
        extra = {"data": (x[:16], {k: v[:16] for k, v in y.items()})}
        return dict(x=generator(), steps_per_epoch=4, validation_data=(xv, yv)), extra
    if kind == "dataloader":  # the validation examples given
        train, val = torch_loaders()
        return dict(x=train, validation_data=val), {"validation_data": (xv, yv)}
    raise ValueError(kind)


from summaries import SummaryCallback  # noqa: E402

kinds = ["arrays", "generator", "pydataset"]
kinds += {"tensorflow": ["dataset"], "jax": ["dataset"], "torch": ["dataloader"]}[BACKEND]
result = {"backend": BACKEND}
for kind in kinds:
    args, extra = fit_args(kind)
    baseline = model().fit(**args, epochs=2, verbose=0)
    args, extra = fit_args(kind)  # fresh iterators
    m = model()
    logdir = os.path.join(ROOT, kind)
    callback = SummaryCallback(logdir, flush_batches=2, **extra)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = m.fit(**args, epochs=2, verbose=0, callbacks=[callback])
        evaluated = m.evaluate(xv, yv, verbose=0, return_dict=True, callbacks=[callback])
        predicted = m.predict(xv, verbose=0, callbacks=[callback])
    plain = m.evaluate(xv, yv, verbose=0, return_dict=True)
    same = all(
        np.allclose(history.history[k], baseline.history[k], rtol=1e-4, atol=1e-5)
        for k in baseline.history
    )
    result[kind] = {
        "keys": sorted(history.history),
        "baseline_keys": sorted(baseline.history),
        "same_values": same,
        "histories": None if same else [baseline.history, history.history],
        "evaluate_same": all(np.isclose(evaluated[k], plain[k]) for k in plain),
        "predict_shapes": {k: list(np.shape(v)) for k, v in predicted.items()},
        "warnings": [
            str(w.message) for w in caught if str(w.message).startswith("SummaryCallback")
        ],
        "logdir": logdir,
        "tensorflow_imported": "tensorflow" in sys.modules,
    }
print(json.dumps(result))
"""


def _missing(backend: str) -> str | None:
    """Why `backend` cannot run here, or None."""
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    if importlib.util.find_spec(module) is None:
        setup = "./setup.sh --test installs it" if backend != "tensorflow" else "a dependency"
        return f"{module} cannot be imported ({setup})"
    return None


@pytest.fixture(scope="module", params=BACKENDS)
def run(request, tmp_path_factory) -> dict:
    """The child's result on one backend (one process for all its kinds of data)."""
    backend = request.param
    if (reason := _missing(backend)) is not None:
        pytest.skip(f"the {backend} backend: {reason}")
    root = tmp_path_factory.mktemp(f"backend-{backend}")
    env = {"KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu"}
    if backend == "jax":  # ten fits of one model: XLA compiles each step function once, not
        # once per fit (JAX's persistent cache; the child's 20 s of CPU become 10)
        env |= {
            "JAX_COMPILATION_CACHE_DIR": str(root / "xla-cache"),
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
        }
    result = run_child(CHILD, str(root), env=env, timeout=400)
    assert result["backend"] == backend
    return result


def _kinds(result: dict) -> list[str]:
    return [k for k in ("arrays", "generator", "pydataset", "dataset", "dataloader") if k in result]


def _read(logdir: str) -> tuple[set[str], bool, event_accumulator.EventAccumulator]:
    """(tags, whether a graph was written, the loaded accumulator) of one run."""
    acc = event_accumulator.EventAccumulator(
        logdir, size_guidance={event_accumulator.TENSORS: 0, event_accumulator.SCALARS: 0}
    )
    acc.Reload()
    tags = acc.Tags()
    return set(tags["tensors"]) | set(tags["scalars"]), bool(tags["graph"]), acc


# What every run has: batch and epoch scalars, weight histograms (batch-norm statistics
# too), update ratios, optimizer slots.
ALWAYS = {
    "batch/loss",
    "batch/a_accuracy",
    "batch/learning_rate",
    "epoch/loss",
    "epoch/val_b_loss",
    "epoch/learning_rate",
    "conv/kernel/summaries/histogram",
    "conv/kernel/summaries/stddev",
    "bn/moving_mean/summaries/mean",
    "bn/gamma/summaries/histogram",
    "fc/update_ratio",
    "conv/update_ratio",
    "fc/optimizer/momentum_norm",
    "optimizer/velocity_norm",
}
# What needs a sample batch (gradients, images) and validation examples (confusion)
SAMPLE = {"conv/kernel/gradients", "a/bias/gradients", "fc/gradient_norm", "input/images"}
CONFUSION = {"confusion/3_classes", "confusion/2_classes", "confusion/3_classes/examples"}
# kind -> what it logs beyond ALWAYS
EXPECTED = {
    "arrays": SAMPLE | CONFUSION,
    "dataset": SAMPLE | CONFUSION,
    "generator": SAMPLE | CONFUSION,
    "dataloader": SAMPLE | CONFUSION,
    "pydataset": set(),
}


def test_training_is_unchanged(run):
    """fit completes with the history keys and values it has without the callback;
    evaluate and predict with the callback give what they give without it."""
    for kind in _kinds(run):
        got = run[kind]
        assert got["keys"] == got["baseline_keys"], kind
        assert "val_loss" in got["keys"] and "a_accuracy" in got["keys"], kind
        assert got["same_values"], f"{kind}: the history differs from the fit without callback"
        assert got["evaluate_same"], kind
        assert got["predict_shapes"] == {"a": [32, 3], "b": [32, 2]}, kind


def test_parts_logged(run):
    """Every part the table in docs/callback.md promises for the backend and the data."""
    backend = run["backend"]
    for kind in _kinds(run):
        tags, graph, acc = _read(run[kind]["logdir"])
        missing = (ALWAYS | EXPECTED[kind]) - tags
        assert not missing, f"{backend}/{kind}: missing {sorted(missing)}"
        if not EXPECTED[kind]:
            assert not (SAMPLE | CONFUSION) & tags, f"{backend}/{kind}"
        # the op graph: TensorFlow only, traced on the sample batch
        wanted = backend == "tensorflow" and bool(EXPECTED[kind])
        assert graph == wanted, f"{backend}/{kind}: graph {graph}"
        # every batch and epoch logged (mid-epoch reads of the JAX trainer's state too)
        steps = [e.step for e in acc.Tensors("batch/learning_rate")]
        assert steps == list(range(1, EPOCHS * BATCHES + 1)), f"{backend}/{kind}: {steps}"
        # one step axis: an epoch's summaries at the step of its last batch
        ends = [BATCHES * (epoch + 1) for epoch in range(EPOCHS)]
        assert [e.step for e in acc.Tensors("epoch/loss")] == ends, f"{backend}/{kind}"
        for tag in ("fc/gradient_norm", "a/bias/summaries/mean", "confusion/3_classes"):
            if tag in tags:
                assert [e.step for e in acc.Tensors(tag)] == ends, f"{backend}/{kind}: {tag}"


def test_same_parts_as_tensorflow(run):
    """On arrays, every backend logs the same tags (the op graph aside)."""
    tags = _read(run["arrays"]["logdir"])[0]
    assert len(tags) > 90
    assert "_hparams_/session_start_info" in tags
    _TAGS.setdefault("arrays", {})[run["backend"]] = tags
    seen = _TAGS["arrays"]
    first = next(iter(seen.values()))
    for backend, other in seen.items():
        assert other == first, f"{backend}: {sorted(other ^ first)}"


_TAGS: dict[str, dict[str, set[str]]] = {}


def test_no_tensorflow_on_other_backends(run):
    """On JAX and PyTorch the callback imports no TensorFlow (a local log_dir, hparams=):
    only fit on a tf.data.Dataset does (Keras imports it), the last kind the child runs."""
    if run["backend"] == "tensorflow":
        pytest.skip("TensorFlow is the backend")
    for kind in _kinds(run):
        if kind != "dataset":
            assert run[kind]["tensorflow_imported"] is False, kind


def test_one_warning_per_part(run):
    """A part that cannot run warns once, saying which part and why; the op graph's absence
    is said once on JAX and PyTorch."""
    backend = run["backend"]
    for kind in _kinds(run):
        warned = run[kind]["warnings"]
        assert len(warned) == len(set(warned)), f"{backend}/{kind}: {warned}"
        graph = [w for w in warned if "no op graph" in w]
        assert len(graph) == (backend != "tensorflow"), f"{backend}/{kind}: {warned}"
        if backend != "tensorflow":
            assert f"on the {backend} backend" in graph[0]
        others = [w for w in warned if "no op graph" not in w]
        if kind == "pydataset":
            assert any("gradients skipped" in w for w in others), others
            assert any("no graph" in w for w in others) == (backend == "tensorflow"), others
            assert any("confusion matrices skipped" in w for w in others), others
        else:
            assert not others, others


def test_numpy_buckets_match_tensorboard():
    """The large-array histogram of the JAX and PyTorch backends (numpy's bincount) has
    TensorBoard's buckets (its `histogram_pb`'s one-hot), edge cases included."""
    import numpy as np
    from tensorboard.plugins.histogram import summary_v2
    from tensorboard.util import tensor_util

    from summaries.keras.histograms import numpy_buckets

    rng = np.random.default_rng(0)
    cases = [
        rng.normal(size=5000),
        rng.integers(0, 7, 3000).astype(np.float64),  # values on bucket edges
        np.full(100, 2.5),
        np.array([]),
        np.array([-1.0, 1.0]),
    ]
    for data in cases:
        for k in (1, 7, 30):
            proto = summary_v2.histogram_pb("h", data, buckets=k)
            want = tensor_util.make_ndarray(proto.value[0].tensor)
            np.testing.assert_allclose(numpy_buckets(data, k), want, rtol=1e-12, atol=0)
