"""The examples the epoch summaries are computed on: the fixed sample batch (gradients,
images, the graph) and the validation examples (confusion matrices)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from summaries.keras.internals import fit_adapter

# (x, y, sample_weight); y and sample_weight may be None
Batch = tuple[Any, Any, Any]


def check_data(name: str, value: Any) -> Batch | None:
    """`value`, an (x, y) or (x, y, sample_weight) of non-empty arrays of one length, as
    (x, y, sample_weight); None for None; ValueError naming `name` otherwise."""
    if value is None:
        return None
    if not isinstance(value, tuple | list) or len(value) not in (2, 3):
        raise ValueError(f"{name} must be a tuple (x, y) or (x, y, sample_weight)")
    x, y, sw = (*value, None) if len(value) == 2 else value
    lengths = {len(t) for t in keras.tree.flatten((x, y, sw)) if hasattr(t, "__len__")}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"{name} arrays must be non-empty with the same first dimension")
    return x, y, sw


def as_tensors(structure: Any) -> Any:
    """Every array of `structure` as a TensorFlow tensor (None kept): the TensorFlow
    backend's traced functions take them."""
    import tensorflow as tf

    return keras.tree.map_structure(
        lambda value: None if value is None else tf.convert_to_tensor(value), structure
    )


def take(structure: Any, count: int) -> Any:
    """The first `count` examples of every array of `structure` (None kept)."""
    return keras.tree.map_structure(lambda t: None if t is None else t[:count], structure)


def concat(parts: list[Any]) -> Any:
    """Structures of arrays joined along their first axis."""
    return keras.tree.map_structure(lambda *ts: np.concatenate(ts, axis=0), *parts)


def read_adapter(adapter: Any, count: int) -> Batch | None:
    """The first `count` examples a Keras data adapter yields, as host arrays. numpy's
    global random state is left as it was: an array adapter draws its shuffle from it
    (`np.random.permutation`), as the JAX and PyTorch backends' training iterators do, so
    reading would change the order of the batches `fit` trains on."""
    parts, total = [], 0
    state = np.random.get_state()
    try:
        for batch in adapter.get_numpy_iterator():
            x, y, sw = keras.utils.unpack_x_y_sample_weight(batch)
            parts.append((x, y, sw))
            total += len(keras.tree.flatten(x)[0])
            if total >= count:
                break
    finally:
        np.random.set_state(state)
    if not parts:
        return None
    if len(parts) == 1:
        return take(parts[0], count)
    xs = concat([p[0] for p in parts])
    ys = None if parts[0][1] is None else concat([p[1] for p in parts])
    sws = None if parts[0][2] is None else concat([p[2] for p in parts])
    return take((xs, ys, sws), count)


def from_fit(model: Any, which: str, count: int) -> Batch | None:
    """The first `count` examples of the running `fit`'s training (``"train"``) or
    validation (``"validation"``) data; None where Keras's adapter cannot be read again."""
    adapter = fit_adapter(model, which)
    return None if adapter is None else read_adapter(adapter, count)
