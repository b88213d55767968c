"""`summaries.keras.internals.fit_adapter`, the one function reading Keras's private state
(the running `fit`'s data adapters), on real `fit` calls: these tests fail when a Keras
release changes what it reads (`fit`'s local ``epoch_iterator``,
``model._eval_epoch_iterator``, ``data_adapter`` and the adapters' class names)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from summaries.keras import samples  # noqa: E402
from summaries.keras.internals import fit_adapter  # noqa: E402


class Finder(keras.callbacks.Callback):
    """What `fit_adapter` and `samples.from_fit` find in the hooks where the callback
    calls them: training data at `on_train_begin`, validation data at `on_epoch_end`."""

    def on_train_begin(self, logs=None):
        self.train = fit_adapter(self.model, "train")
        self.train_sample = samples.from_fit(self.model, "train", 5)

    def on_epoch_end(self, epoch, logs=None):
        self.validation = fit_adapter(self.model, "validation")
        self.validation_sample = samples.from_fit(self.model, "validation", 5)


def _fit(x, y=None, validation_data=None) -> Finder:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    finder = Finder()
    model.fit(
        x,
        y,
        batch_size=None if y is None else 4,
        epochs=1,
        shuffle=False,
        validation_data=validation_data,
        callbacks=[finder],
        verbose=0,
    )
    return finder


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, 3)).astype("float32"), rng.random((n, 2)).astype("float32")


def test_fit_adapter_finds_array_data():
    x, y = _data(12, 0)
    vx, vy = _data(8, 1)
    finder = _fit(x, y, validation_data=(vx, vy))
    assert type(finder.train).__name__ == "ArrayDataAdapter"
    assert type(finder.validation).__name__ == "ArrayDataAdapter"
    np.testing.assert_array_equal(finder.train_sample[0], x[:5])
    np.testing.assert_array_equal(finder.train_sample[1], y[:5])
    np.testing.assert_array_equal(finder.validation_sample[0], vx[:5])
    np.testing.assert_array_equal(finder.validation_sample[1], vy[:5])


def test_fit_adapter_finds_a_tf_data_dataset():
    x, y = _data(12, 0)
    vx, vy = _data(8, 1)
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(3)
    validation = tf.data.Dataset.from_tensor_slices((vx, vy)).batch(3)
    finder = _fit(train, validation_data=validation)
    assert type(finder.train).__name__ == "TFDatasetAdapter"
    assert type(finder.validation).__name__ == "TFDatasetAdapter"
    # read again from the start, over several batches, without consuming fit's data
    np.testing.assert_array_equal(finder.train_sample[0], x[:5])
    np.testing.assert_array_equal(finder.validation_sample[1], vy[:5])


@pytest.mark.filterwarnings("ignore:Your input ran out of data")
@pytest.mark.parametrize("hook", ["train", "validation"])
def test_fit_adapter_leaves_a_generator_alone(hook):
    """A generator cannot be read twice: no adapter, no sample."""
    x, y = _data(12, 0)

    def batches():
        for start in range(0, 12, 4):
            yield x[start : start + 4], y[start : start + 4]

    finder = _fit(batches(), validation_data=batches())
    assert getattr(finder, hook) is None
    assert getattr(finder, f"{hook}_sample") is None
