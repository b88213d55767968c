"""The MNIST family's data: the real `mnist.npz` when there is one, else scikit-learn's digits.

The lessons load MNIST with `input_data.read_data_sets(..., one_hot=True)` and draw batches
with `mnist.train.next_batch(batch_size)`. Today the same data ships as Keras's `mnist.npz`
(arrays x_train, y_train, x_test, y_test; uint8 images 28 x 28, integer labels). Where it is
not on disk (`--mnist PATH`, or the Keras cache `~/.keras/datasets/mnist.npz`), the demos
work offline on scikit-learn's bundled 8 x 8 digits, upsampled to MNIST's 28 x 28 layout
(a 20 x 20 digit centred in a 4-pixel border), and say so. This module needs no TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from demo_models.runtime import CliError

KEYS = ("x_train", "y_train", "x_test", "y_test")
SIDE = 28  # MNIST images are 28 x 28 ...
DIGIT = 20  # ... with the digit inside a centred 20 x 20 box
CLASSES = [str(i) for i in range(10)]


@dataclass(frozen=True)
class Digits:
    """Images (float32 [N, 28, 28] in [0, 1]) and labels (int64 [N]) for training and test."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # one line for people: where the data came from
    is_mnist: bool = True  # False for the scikit-learn stand-in

    @property
    def pixels(self) -> int:
        """Input width of the fully connected models (784 for MNIST)."""
        return int(np.prod(self.x_train.shape[1:]))

    def next_batches(self, batch_size: int, seed: int = 0) -> Iterator[tuple[np.ndarray, ...]]:
        """Endless (images, labels) batches, reshuffled every epoch, like `next_batch`."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        rng = np.random.default_rng(seed)
        n = len(self.x_train)
        order = rng.permutation(n)
        at = 0
        while True:
            if at + batch_size > n:
                order, at = rng.permutation(n), 0
            take = order[at : at + batch_size]
            at += batch_size
            yield self.x_train[take], self.y_train[take]


def keras_cache() -> Path:
    """Where Keras caches `mnist.npz` (`$KERAS_HOME` or `~/.keras`, then `datasets/`)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "mnist.npz"


def load(path: str | os.PathLike | None = None) -> Digits:
    """MNIST from `path`, else from the Keras cache, else scikit-learn's digits (offline)."""
    if path is not None:
        if not Path(path).is_file():
            raise CliError(f"--mnist {path}: no such file")
        return load_npz(path)
    cached = keras_cache()
    if cached.is_file():
        return load_npz(cached)
    return load_sklearn_digits(
        note=f"no --mnist given and no {cached}; using scikit-learn's bundled 8x8 digits"
    )


def load_npz(path: str | os.PathLike) -> Digits:
    """Read a Keras-format `mnist.npz`; a malformed file gives a CliError naming the problem."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in KEYS if k not in data.files]
            if missing:
                raise CliError(f"{path} is not a Keras mnist.npz: missing {', '.join(missing)}")
            arrays = {k: np.asarray(data[k]) for k in KEYS}
    except CliError:
        raise
    except (OSError, ValueError) as exc:
        raise CliError(f"{path} is not a readable .npz file: {exc}") from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
            raise CliError(
                f"{path}: x_{split} must be [N, H, W] and y_{split} [N] with the same N > 0, "
                f"got {list(x.shape)} and {list(y.shape)}"
            )
        if y.min() < 0 or y.max() > 9:
            raise CliError(f"{path}: y_{split} must hold digits 0..9")
    scale = 255.0 if arrays["x_train"].dtype == np.uint8 or arrays["x_train"].max() > 1 else 1.0
    n_train, n_test = len(arrays["y_train"]), len(arrays["y_test"])
    return Digits(
        x_train=(arrays["x_train"] / scale).astype(np.float32),
        y_train=arrays["y_train"].astype(np.int64),
        x_test=(arrays["x_test"] / scale).astype(np.float32),
        y_test=arrays["y_test"].astype(np.int64),
        source=f"MNIST from {path} ({n_train} training / {n_test} test images)",
    )


def _resize_matrix(src: int, dst: int) -> np.ndarray:
    """[dst, src] matrix of linear interpolation between pixel centres."""
    centres = (np.arange(dst) + 0.5) * src / dst - 0.5
    return np.stack([np.interp(centres, np.arange(src), np.eye(src)[j]) for j in range(src)], 1)


def load_sklearn_digits(note: str = "", test_size: int = 300, seed: int = 0) -> Digits:
    """scikit-learn's 1,797 bundled 8 x 8 digits, upsampled and padded to 28 x 28."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = digits.images.astype(np.float32) / 16.0  # values 0..16
    resize = _resize_matrix(small.shape[1], DIGIT).astype(np.float32)
    big = np.einsum("ij,njk,lk->nil", resize, small, resize)
    pad = (SIDE - DIGIT) // 2
    images = np.clip(np.pad(big, ((0, 0), (pad, pad), (pad, pad))), 0.0, 1.0)
    order = np.random.default_rng(seed).permutation(len(images))
    test, train = order[:test_size], order[test_size:]
    labels = digits.target.astype(np.int64)
    source = (
        f"scikit-learn's 8x8 digits upsampled to 28x28 ({len(train)} training / "
        f"{len(test)} test images), NOT MNIST"
    )
    return Digits(
        images[train],
        labels[train],
        images[test],
        labels[test],
        f"{note}: {source}" if note else source,
        is_mnist=False,
    )
