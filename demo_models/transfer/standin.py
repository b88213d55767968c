"""The offline stand-in: a base Flowscope trains itself on digits 0-4, transferred to 5-9.

Without Inception-V3's weights nothing here is Inception-V3. The lesson's idea is kept:
a small CNN (`conv1`, `pool1`, `conv2`, `pool2`) is trained on one task, scikit-learn's
digits 0-4 (upsampled to 28 x 28 as in the MNIST lessons, each seen at several small
shifts, as a big base has seen its subjects in many places); its flattened pooled output
(`bottleneck`, 800-d, as Inception's bottleneck is its pooled last block) is then the frozen
feature extractor for a related task, digits 5-9, where only a few labelled images per
class are given. The lesson's table is reproduced in miniature: test accuracy
on digits 5-9 with transfer (cached bottlenecks + the lesson's head) against the same
network trained from scratch on the same few images, and from scratch on all of them.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from demo_models import mnist
from demo_models.transfer.cache import BottleneckCache, content_key, file_key

SOURCE = (0, 1, 2, 3, 4)  # the task the base is trained on
TARGET = (5, 6, 7, 8, 9)  # the related task it is transferred to
CLASSES = [str(d) for d in TARGET]
DIM = 5 * 5 * 32  # the base's bottleneck: pool2 flattened
TARGET_TEST = 300  # held-out target images every accuracy is measured on
LABELS_PER_CLASS = 10  # the "few labelled images" of the target task
SHIFT = 2  # the base sees each source digit moved by up to this many pixels ...
COPIES = 8  # ... this many times (random shifts)
BASE_EPOCHS = 8
QUICK_BASE_EPOCHS = 3
SCRATCH_STEPS = 600  # Adam steps for each from-scratch model (its whole network)
FORMAT = 1  # bump when the base's recipe changes: its cached weights are then retrained


@dataclass(frozen=True)
class Tasks:
    """Digits split into the source task and the target task's labelled pool and test set."""

    source_x: np.ndarray  # float32 [n, 28, 28] in [0, 1]
    source_y: np.ndarray  # int64, 0..4
    pool_x: np.ndarray  # target images with labels available
    pool_y: np.ndarray  # int64, 0..4 standing for digits 5..9
    test_x: np.ndarray
    test_y: np.ndarray

    def few(self, per_class: int, seed: int = 0) -> np.ndarray:
        """Indices into the pool: `per_class` labelled images of each target class."""
        rng = np.random.default_rng(seed)
        picks = [
            rng.permutation(np.flatnonzero(self.pool_y == c))[:per_class]
            for c in range(len(TARGET))
        ]
        return np.sort(np.concatenate(picks))


def tasks(seed: int = 0) -> Tasks:
    """scikit-learn's 1,797 digits: 0-4 for the base, 5-9 split into pool and test."""
    digits = mnist.load_sklearn_digits(test_size=0)
    x, y = digits.x_train, digits.y_train
    source = np.isin(y, SOURCE)
    target = np.flatnonzero(~source)
    order = np.random.default_rng(seed).permutation(target)
    test, pool = order[:TARGET_TEST], order[TARGET_TEST:]
    shift = TARGET[0]
    return Tasks(x[source], y[source], x[pool], y[pool] - shift, x[test], y[test] - shift)


def network(classes: int, seed: int, head: tuple[int, ...] = ()) -> Any:
    """The base's layers (`conv1` ... `bottleneck`), optional dense layers, logits."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = [
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(16, 3, activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(name="pool1"),
        keras.layers.Conv2D(32, 3, activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(name="pool2"),
        keras.layers.Flatten(name="bottleneck"),
        *(keras.layers.Dense(n, activation="relu", name=f"dense{i}") for i, n in enumerate(head)),
        keras.layers.Dense(classes, name="logits"),
    ]
    model = keras.Sequential(layers, name="digits_cnn")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def fit(
    model: Any, x: np.ndarray, y: np.ndarray, steps: int, batch_size: int = 32, seed: int = 0
) -> None:
    """`steps` Adam steps over (x, y), reshuffled each pass, as one Keras epoch (a few
    images make many passes; one epoch each would cost Keras's per-epoch overhead)."""
    import tensorflow as tf

    batches = (
        tf.data.Dataset.from_tensor_slices((x[..., None], y))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .repeat()
        .batch(batch_size)
    )
    model.fit(batches, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)


def accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Share of `x` the model classifies as `y` (a few hundred digits: one eager call, not
    `predict`, whose per-model `tf.function` TensorFlow would warn about as retracing from
    the fifth model of the run on)."""
    scores = np.asarray(model(x[..., None], training=False))
    return float(np.mean(scores.argmax(-1) == y))


def shifted(images: np.ndarray, seed: int, most: int = SHIFT) -> np.ndarray:
    """Each image moved by a random (dy, dx) in [-most, most] (the 4-pixel border is empty)."""
    rng = np.random.default_rng(seed)
    out = np.empty_like(images)
    for i, (dy, dx) in enumerate(rng.integers(-most, most + 1, (len(images), 2))):
        out[i] = np.roll(images[i], (dy, dx), axis=(0, 1))
    return out


def trained_base(data: Tasks, cache_root: Path, epochs: int, seed: int) -> tuple[Any, Path, float]:
    """The base trained on digits 0-4 (cached as a weights file); its held-out accuracy."""
    held = np.random.default_rng(seed).permutation(len(data.source_y))
    cut = len(held) // 5
    test, train = held[:cut], held[cut:]
    model = network(len(SOURCE), seed)
    folder = cache_root / "transfer"
    path = folder / f"digits0-4-base-v{FORMAT}-e{epochs}-s{seed}.weights.h5"
    loaded = False
    if path.is_file():
        try:
            model.load_weights(path)
            loaded = True
        except (OSError, ValueError, KeyError):
            loaded = False  # a damaged file: train again and replace it
    if not loaded:
        x = shifted(np.repeat(data.source_x[train], COPIES, axis=0), seed)
        y = np.repeat(data.source_y[train], COPIES)
        fit(model, x, y, epochs * -(-len(x) // 32), seed=seed)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".weights.h5")
        os.close(fd)
        try:
            model.save_weights(tmp)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    return model, path, accuracy(model, data.source_x[test], data.source_y[test])


def bottlenecks(
    base: Any, weights: Path, images: np.ndarray, cache_root: Path
) -> tuple[np.ndarray, BottleneckCache]:
    """The base's `bottleneck` vectors of `images`, cached like Inception's."""
    import keras

    extractor = keras.Model(base.inputs[0], base.get_layer("bottleneck").output)
    cache = BottleneckCache(cache_root, file_key(weights, "digits base bottleneck"), DIM)
    keys = [content_key(np.ascontiguousarray(image, np.float32).tobytes()) for image in images]
    vectors = cache.vectors(
        keys,
        lambda idx: np.asarray(extractor(images[idx][..., None], training=False)),
        batch_size=256,
    )
    return vectors, cache


def scratch(data: Tasks, take: np.ndarray | None, seed: int, steps: int = SCRATCH_STEPS) -> float:
    """Test accuracy of the base's network plus a head like the lesson's, all trained from
    random weights on the pool images `take` (all of the pool when None)."""
    from demo_models.transfer.head import LAYERS

    x = data.pool_x if take is None else data.pool_x[take]
    y = data.pool_y if take is None else data.pool_y[take]
    model = network(len(TARGET), seed, head=LAYERS)
    fit(model, x, y, steps, seed=seed)
    return accuracy(model, data.test_x, data.test_y)


def table(rows: list[tuple[str, int, float]]) -> str:
    """The comparison as a Markdown table (TensorBoard's Text tab renders it)."""
    lines = [
        "| digits 5-9 | labelled images | test accuracy |",
        "|---|---:|---:|",
        *(f"| {what} | {n} | {acc:.3f} |" for what, n, acc in rows),
    ]
    return "\n".join(lines)
