"""Class ids -> [P, K, K] confusion counts, with numpy or with TensorFlow ops, and the
counts' two on-disk layouts (`summaries.format`): `sparse_rows` (and `sparse_rows_tf`) make
the sparse one, `dense_counts` reads either.

The numpy path (`class_ids`, `counts_from_ids`) never imports TensorFlow; the TensorFlow
path (`labels_predictions_tf`, `counts_tf`) is graph-compatible and gives the numpy path's
messages, word for word, where it can check eagerly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from summaries import checks
from summaries._autograph import not_converted


@not_converted
def confusion_counts(labels: Any, predictions: Any, num_classes: int) -> Any:
    """[P, K, K] int64 confusion counts (rows true class, columns predicted).

    `labels` are class ids [N, P] (or [N] for one position); `predictions` are class ids of
    the same shape or scores with a trailing axis of size K (argmax is taken). numpy (or
    lists) in, a numpy array out, without TensorFlow; a tensor in, TensorFlow ops out
    (graph-compatible: inside a `tf.function` out-of-range ids fail when it runs).
    """
    k = checks.check_count("num_classes", num_classes)
    if checks.is_tensor(labels) or checks.is_tensor(predictions):
        return counts_tf(*labels_predictions_tf(labels, predictions, k), k)
    return counts_from_ids(*class_ids(labels, predictions, k), k)


# -- numpy --------------------------------------------------------------------------------


def _ids_array(argument: str, values: Any) -> np.ndarray:
    try:
        array = np.asarray(checks.host(values))
    except (TypeError, ValueError) as exc:
        raise checks.ArgumentTypeError(f"{argument} must be a numeric array") from exc
    if array.dtype.kind not in "iuf" and array.dtype != bool:
        raise checks.ArgumentTypeError(
            f"{argument} must be numeric class ids, got dtype {array.dtype}"
        )
    return array


def _ids_shape(argument: str, array: np.ndarray, rank: int | None, num_classes: int):
    """Normalise ids to [N, P]; `rank` is the labels' rank once known (scores add one)."""
    if array.dtype.kind == "f" and rank is not None and array.ndim == rank + 1:
        if array.shape[-1] != num_classes:
            raise ValueError(
                f"{argument} scores must have {num_classes} classes on the last axis, "
                f"got shape {list(array.shape)}"
            )
        array = array.argmax(-1)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"{argument} must have shape [N] or [N, P], got {list(array.shape)}")
    if array.dtype.kind == "f":
        if not np.isfinite(array).all() or (array != np.round(array)).any():
            raise ValueError(f"{argument} must hold whole class ids")
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(
            f"{argument} must be class ids in [0, {num_classes}), got values in "
            f"[{array.min()}, {array.max()}]"
        )
    return array


def class_ids(labels: Any, predictions: Any, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions as int64 class ids [N, P].

    `labels` are ids [N] or [N, P]; `predictions` are ids of the same shape or scores with
    a trailing axis of size `num_classes` (argmax is taken).
    """
    raw_labels = _ids_array("labels", labels)
    lab = _ids_shape("labels", raw_labels, None, num_classes)
    pred = _ids_shape(
        "predictions", _ids_array("predictions", predictions), raw_labels.ndim, num_classes
    )
    if lab.shape != pred.shape:
        raise ValueError(
            f"labels and predictions must have the same shape [N, P], got "
            f"{list(lab.shape)} and {list(pred.shape)}"
        )
    return lab, pred


def counts_from_ids(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """[P, K, K] int64 counts from checked class ids [N, P] (rows true, columns predicted)."""
    k = num_classes
    p = labels.shape[1]
    flat = (np.arange(p)[None, :] * k + labels) * k + predictions
    return np.bincount(flat.ravel(), minlength=p * k * k).reshape(p, k, k).astype(np.int64)


INT32_MAX = 2**31 - 1


def sparse_rows(counts: np.ndarray) -> np.ndarray:
    """The sparse layout of [P, K, K] counts: [n, 4] rows (position, true, predicted, count)
    of the non-zero cells, sorted; int32 (int64 when a count exceeds 2^31 - 1)."""
    counts = np.asarray(counts)
    where = np.nonzero(counts)
    values = counts[where]
    top = int(values.max()) if values.size else 0
    dtype = np.int32 if top <= INT32_MAX else np.int64
    rows = np.empty((values.size, 4), dtype)
    for column, index in enumerate(where):
        rows[:, column] = index
    rows[:, 3] = values
    return rows


def flat_cells(tensor: Any, positions: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The non-zero cells of counts in either layout (`summaries.format`) as (flat index
    ``(p * K + true) * K + predicted``, count), both int64 [n], sorted by index.

    Raises ValueError for anything else (wrong rank, shape or dtype, negative counts, a
    cell outside P x K x K); readers skip such a step.
    """
    array = np.asarray(tensor)
    if array.dtype.kind not in "iu":
        raise ValueError(f"counts must be integers, got dtype {array.dtype}")
    if array.ndim == 3:
        if array.shape != (positions, classes, classes) or (array < 0).any():
            raise ValueError(
                f"dense counts must be non-negative [{positions}, {classes}, {classes}], "
                f"got {list(array.shape)}"
            )
        flat = array.reshape(-1)
        index = np.flatnonzero(flat)
        return index.astype(np.int64), flat[index].astype(np.int64)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"sparse counts must be [n, 4] rows, got {list(array.shape)}")
    rows = array.astype(np.int64, copy=False)
    if len(rows) and (
        (rows < 0).any() or (rows[:, 0] >= positions).any() or (rows[:, 1:3] >= classes).any()
    ):
        raise ValueError("sparse counts hold a negative value or a cell outside P x K x K")
    index = (rows[:, 0] * classes + rows[:, 1]) * classes + rows[:, 2]
    keep = rows[:, 3] > 0
    index, values = index[keep], rows[keep, 3]
    if len(index) > 1 and not (np.diff(index) > 0).all():  # unsorted or repeated cells
        index, where = np.unique(index, return_inverse=True)
        values = np.bincount(where, weights=values).astype(np.int64)
    return index, values


def dense_counts(tensor: Any, positions: int, classes: int) -> np.ndarray:
    """[P, K, K] int64 counts from either layout (`flat_cells`)."""
    index, values = flat_cells(tensor, positions, classes)
    out = np.zeros(positions * classes * classes, np.int64)
    out[index] = values
    return out.reshape(positions, classes, classes)


# -- TensorFlow ---------------------------------------------------------------------------


def _ids_tf(argument: str, values: Any, label_rank: int | None, num_classes: int):
    import tensorflow as tf

    from summaries.basic import numeric_tensor

    ids = "numeric class ids"
    tensor = numeric_tensor(values, argument, ids, ids)
    dtype = tensor.dtype
    rank = tensor.shape.rank
    if rank is None:
        raise ValueError(f"{argument} must have a known rank ([N] or [N, P])")
    if dtype.is_floating and label_rank is not None and rank == label_rank + 1:
        if tensor.shape[-1] is not None and tensor.shape[-1] != num_classes:
            raise ValueError(
                f"{argument} scores must have {num_classes} classes on the last axis, "
                f"got shape {tensor.shape.as_list()}"
            )
        tensor = tf.argmax(tensor, axis=-1)
        rank -= 1
    if rank == 1:
        tensor = tensor[:, tf.newaxis]
    elif rank != 2:
        raise ValueError(f"{argument} must have shape [N] or [N, P], got {tensor.shape.as_list()}")
    return tf.cast(tensor, tf.int64)


def labels_predictions_tf(labels: Any, predictions: Any, num_classes: int):
    """Labels and predictions as int64 class-id tensors [N, P] (checked eagerly, or by
    assertions the ids depend on inside a graph)."""
    import tensorflow as tf

    lab = _ids_tf("labels", labels, None, num_classes)
    label_rank = tf.convert_to_tensor(labels).shape.rank
    pred = _ids_tf("predictions", predictions, label_rank, num_classes)
    if not lab.shape.is_compatible_with(pred.shape):
        raise ValueError(
            f"labels and predictions must have the same shape [N, P], got "
            f"{lab.shape.as_list()} and {pred.shape.as_list()}"
        )
    if tf.executing_eagerly():
        for argument, ids in (("labels", lab), ("predictions", pred)):
            if tf.size(ids) == 0:
                continue
            low, high = int(tf.reduce_min(ids)), int(tf.reduce_max(ids))
            if low < 0 or high >= num_classes:  # the numpy path's message, word for word
                raise ValueError(
                    f"{argument} must be class ids in [0, {num_classes}), got values in "
                    f"[{low}, {high}]"
                )
        if lab.shape != pred.shape:
            raise ValueError(
                f"labels and predictions must have the same shape [N, P], got "
                f"{lab.shape.as_list()} and {pred.shape.as_list()}"
            )
        return lab, pred
    asserts = [
        tf.debugging.assert_equal(
            tf.shape(lab), tf.shape(pred), message="labels and predictions shapes differ"
        ),
        tf.debugging.assert_non_negative(lab, message="labels must be class ids >= 0"),
        tf.debugging.assert_less(
            lab, tf.constant(num_classes, tf.int64), message="labels must be < num_classes"
        ),
        tf.debugging.assert_non_negative(pred, message="predictions must be class ids >= 0"),
        tf.debugging.assert_less(
            pred, tf.constant(num_classes, tf.int64), message="predictions must be < num_classes"
        ),
    ]
    with tf.control_dependencies(asserts):
        return tf.identity(lab), tf.identity(pred)


def counts_tf(lab: Any, pred: Any, k: int) -> Any:
    """[P, K, K] int64 counts (a tensor) from class-id tensors [N, P]."""
    import tensorflow as tf

    p = tf.shape(lab, out_type=tf.int64)[1]
    flat = (tf.range(p, dtype=tf.int64)[tf.newaxis, :] * k + lab) * k + pred
    size = p * k * k
    counts = tf.math.bincount(
        tf.reshape(flat, [-1]), minlength=size, maxlength=size, dtype=tf.int64
    )
    return tf.reshape(counts, tf.stack([p, k, k]))


def sparse_rows_tf(counts: Any) -> Any:
    """The sparse layout of a [P, K, K] counts tensor: int32 [n, 4] rows (position, true,
    predicted, count) of its non-zero cells, in row-major order."""
    import tensorflow as tf

    where = tf.where(counts > 0)  # [n, 3] int64, row-major
    values = tf.gather_nd(counts, where)[:, tf.newaxis]
    return tf.cast(tf.concat([where, values], axis=1), tf.int32)
