"""Per-position confusion summaries: P x K x K counts plus the misclassified examples.

`confusion_counts` and the matrix part of `confusion` are TensorFlow ops (graph-compatible).
The examples part encodes PNGs on the host: eagerly it runs directly, inside a
`tf.function` it runs through `tf.py_function` (CPU, not exportable to a SavedModel).
`write_confusion` is the TensorFlow-free twin for a `pb.LogWriter`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from summaries import format as fmt
from summaries import pb
from summaries._autograph import not_converted

# -- shared checks (numpy) --------------------------------------------------------------


def _names(argument: str, values: Any, length: int | None = None) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray):
        raise TypeError(f"{argument} must be a sequence of names, got {type(values).__name__}")
    names = [str(v) for v in values]
    if length is not None and len(names) != length:
        raise ValueError(f"{argument} must have {length} entries, got {len(names)}")
    if not names:
        raise ValueError(f"{argument} must not be empty")
    return names


def _default_positions(count: int) -> list[str]:
    return ["all"] if count == 1 else [f"position {i + 1}" for i in range(count)]


def _ids_np(argument: str, values: Any, num_classes: int) -> np.ndarray:
    """Class ids [N, P] (int, or scores [N, P, K] reduced by argmax) as int64."""
    values = pb.host(values)
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{argument} must be a numeric array") from exc
    if array.dtype.kind not in "iuf" and array.dtype != bool:
        raise TypeError(f"{argument} must be numeric class ids, got dtype {array.dtype}")
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


def _labels_predictions_np(labels: Any, predictions: Any, num_classes: int):
    lab = _ids_np("labels", labels, num_classes)
    lab = _ids_shape("labels", lab, None, num_classes)
    pred = _ids_np("predictions", predictions, num_classes)
    original_rank = np.ndim(_ids_np("labels", labels, num_classes))
    pred = _ids_shape("predictions", pred, original_rank, num_classes)
    if lab.shape != pred.shape:
        raise ValueError(
            f"labels and predictions must have the same shape [N, P], got "
            f"{list(lab.shape)} and {list(pred.shape)}"
        )
    return lab, pred


@not_converted
def counts_np(labels: Any, predictions: Any, num_classes: int) -> np.ndarray:
    """[P, K, K] int64 confusion counts with numpy (rows true class, columns predicted)."""
    k = pb.check_count("num_classes", num_classes)
    lab, pred = _labels_predictions_np(labels, predictions, k)
    p = lab.shape[1]
    flat = (np.arange(p)[None, :] * k + lab) * k + pred
    return np.bincount(flat.ravel(), minlength=p * k * k).reshape(p, k, k).astype(np.int64)


def _image_stack(images: Any, count: int) -> np.ndarray:
    images = pb.host(images)
    try:
        array = np.asarray(images)
    except (TypeError, ValueError) as exc:
        raise TypeError("images must be a numeric array [N, h, w] or [N, h, w, c]") from exc
    if array.dtype.kind not in "iuf" and array.dtype != bool:
        raise TypeError(f"images must be numeric, got dtype {array.dtype}")
    if array.ndim not in (3, 4) or len(array) != count:
        raise ValueError(
            f"images must have shape [N, h, w] or [N, h, w, c] with N = {count}, "
            f"got {list(array.shape)}"
        )
    if array.ndim == 4 and array.shape[-1] not in (1, 3, 4):
        raise ValueError(f"images must have 1, 3 or 4 channels, got {array.shape[-1]}")
    return array


def _to_png_ready(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype.kind in "iub":
        return np.clip(image, 0, 255).astype(np.uint8)
    return image  # floats in [0, 1]: pb.encode_png scales them


def examples_np(
    labels: np.ndarray, predictions: np.ndarray, images: np.ndarray, cap_per_cell: int
) -> tuple[list[list[int]], list[bytes]]:
    """(cells, pngs) of misclassified examples, at most `cap_per_cell` per cell."""
    cells: list[list[int]] = []
    pngs: list[bytes] = []
    seen: dict[tuple[int, int, int], int] = {}
    wrong_n, wrong_p = np.nonzero(labels != predictions)
    for n, p in zip(wrong_n.tolist(), wrong_p.tolist(), strict=True):
        cell = (p, int(labels[n, p]), int(predictions[n, p]))
        if seen.get(cell, 0) >= cap_per_cell:
            continue
        seen[cell] = seen.get(cell, 0) + 1
        cells.append(list(cell))
        pngs.append(pb.encode_png(_to_png_ready(images[n])))
    return cells, pngs


def summaries_np(
    tag: str,
    counts: np.ndarray,
    classes: list[str],
    positions: list[str],
    labels: np.ndarray | None,
    predictions: np.ndarray | None,
    images: np.ndarray | None,
    cap_per_cell: int,
) -> list[Any]:
    """The matrix Summary and, with images, the examples Summary, from checked host arrays
    (labels and predictions are class ids [N, P])."""
    out = [pb.confusion_pb(tag, counts, positions=positions, classes=classes)]
    if images is not None:
        cells, pngs = examples_np(labels, predictions, images, cap_per_cell)
        out.append(
            pb.examples_pb(
                f"{tag}/{fmt.EXAMPLES}",
                cells,
                pngs,
                matrix_tag=tag,
                cap_per_cell=cap_per_cell,
            )
        )
    return out


@not_converted
def write_confusion(
    writer: pb.LogWriter,
    name: str,
    counts: Any = None,
    *,
    classes: Sequence[str],
    labels: Any = None,
    predictions: Any = None,
    positions: Sequence[str] | None = None,
    step: int = 0,
    images: Any = None,
    cap_per_cell: int = 8,
) -> np.ndarray:
    """Write per-position confusion to a `pb.LogWriter` (no TensorFlow); returns the counts.

    Give either `counts` [P, K, K] or `labels` and `predictions` ([N] or [N, P] class ids,
    predictions may be scores with a trailing K axis). `images` [N, h, w(, c)] (needs
    labels and predictions) adds the misclassified examples under `name + "/examples"`.
    """
    if not hasattr(writer, "add"):
        raise TypeError(f"writer must be a summaries.pb.LogWriter, got {type(writer).__name__}")
    pb.check_tag(name)
    if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 0:
        raise ValueError(f"step must be a non-negative integer, got {step!r}")
    class_names = _names("classes", classes)
    k = len(class_names)
    cap = pb.check_count("cap_per_cell", cap_per_cell)
    lab = pred = imgs = None
    if counts is not None:
        if labels is not None or predictions is not None:
            raise ValueError("give either counts or labels and predictions, not both")
        if images is not None:
            raise ValueError("images need labels and predictions to find the misclassified ones")
        matrix = pb.confusion_counts(pb.host(counts))
        if matrix.shape[1] != k:
            raise ValueError(
                f"classes must have {matrix.shape[1]} entries (counts is "
                f"{list(matrix.shape)}), got {k}"
            )
    else:
        if labels is None or predictions is None:
            raise ValueError("give counts, or both labels and predictions")
        lab, pred = _labels_predictions_np(labels, predictions, k)
        matrix = counts_np(lab, pred, k)
        if images is not None:
            imgs = _image_stack(images, len(lab))
    position_names = (
        _default_positions(matrix.shape[0])
        if positions is None
        else _names("positions", positions, matrix.shape[0])
    )
    summaries = summaries_np(name, matrix, class_names, position_names, lab, pred, imgs, cap)
    for summary in summaries:
        writer.add(summary, step=int(step))
    return matrix


# -- TensorFlow ---------------------------------------------------------------------------


def _ids_tf(argument: str, values: Any, label_rank: int | None, num_classes: int):
    import tensorflow as tf

    try:
        tensor = tf.convert_to_tensor(values)
    except (TypeError, ValueError) as exc:
        kind = type(values).__name__
        raise TypeError(f"{argument} must be numeric class ids, got {kind}") from exc
    dtype = tensor.dtype
    if not (dtype.is_integer or dtype.is_floating or dtype.is_bool):
        raise TypeError(f"{argument} must be numeric class ids, got dtype {dtype.name}")
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


def _labels_predictions_tf(labels: Any, predictions: Any, num_classes: int):
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
            if tf.size(ids) > 0 and (tf.reduce_min(ids) < 0 or tf.reduce_max(ids) >= num_classes):
                raise ValueError(f"{argument} must be class ids in [0, {num_classes})")
        if lab.shape != pred.shape:
            raise ValueError(
                f"labels and predictions must have the same shape [N, P], got "
                f"{lab.shape.as_list()} and {pred.shape.as_list()}"
            )
        return lab, pred
    checks = [
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
    with tf.control_dependencies(checks):
        return tf.identity(lab), tf.identity(pred)


@not_converted
def confusion_counts(labels: Any, predictions: Any, num_classes: int) -> Any:
    """[P, K, K] int64 confusion counts as TensorFlow ops (rows true class, columns predicted).

    `labels` are class ids [N, P] (or [N] for one position); `predictions` are class ids of
    the same shape or scores with a trailing axis of size K (argmax is taken).
    """

    k = pb.check_count("num_classes", num_classes)
    return _counts_tf(*_labels_predictions_tf(labels, predictions, k), k)


def _counts_tf(lab: Any, pred: Any, k: int) -> Any:
    import tensorflow as tf

    p = tf.shape(lab, out_type=tf.int64)[1]
    flat = (tf.range(p, dtype=tf.int64)[tf.newaxis, :] * k + lab) * k + pred
    size = p * k * k
    counts = tf.math.bincount(
        tf.reshape(flat, [-1]), minlength=size, maxlength=size, dtype=tf.int64
    )
    return tf.reshape(counts, tf.stack([p, k, k]))


@not_converted
def confusion(
    name: str,
    labels: Any,
    predictions: Any,
    *,
    classes: Sequence[str],
    positions: Sequence[str] | None = None,
    step: Any = None,
    images: Any = None,
    cap_per_cell: int = 8,
) -> Any:
    """Write per-position confusion counts under `name` (and examples); returns the counts.

    With `images` [N, h, w(, c)], misclassified examples are written under
    `name + "/examples"`, each linked to its (position, true, predicted) cell, at most
    `cap_per_cell` per cell.
    """
    import tensorflow as tf

    from summaries.basic import scope_tag

    tag = scope_tag(pb.check_tag(name))
    class_names = _names("classes", classes)
    k = len(class_names)
    cap = pb.check_count("cap_per_cell", cap_per_cell)
    if step is not None and not isinstance(step, tf.Tensor | tf.Variable):
        if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 0:
            raise ValueError(f"step must be a non-negative integer, got {step!r}")
        step = int(step)
    lab, pred = _labels_predictions_tf(labels, predictions, k)
    p_static = lab.shape[1]
    if positions is None:
        if p_static is None:
            raise ValueError("positions must be given when the number of positions is unknown")
        position_names = _default_positions(p_static)
    else:
        position_names = _names("positions", positions, p_static)
    image_tensor = None
    if images is not None:  # checked in full before anything is written
        image_tensor = tf.convert_to_tensor(images)
        shape = image_tensor.shape
        if shape.rank not in (3, 4) or (shape.rank == 4 and shape[-1] not in (1, 3, 4, None)):
            raise ValueError(
                f"images must have shape [N, h, w] or [N, h, w, c] with c in 1, 3, 4, got "
                f"{shape.as_list() if shape.rank is not None else 'unknown rank'}"
            )
        if not (image_tensor.dtype.is_integer or image_tensor.dtype.is_floating):
            raise TypeError(f"images must be numeric, got dtype {image_tensor.dtype.name}")
        if shape[0] is not None and lab.shape[0] is not None and shape[0] != lab.shape[0]:
            raise ValueError(f"images must have N = {lab.shape[0]} entries, got {shape[0]}")
        if not tf.executing_eagerly():
            same_n = tf.debugging.assert_equal(
                tf.shape(image_tensor)[0],
                tf.shape(lab)[0],
                message="images must have one entry per label",
            )
            with tf.control_dependencies([same_n]):
                lab = tf.identity(lab)
    counts = _counts_tf(lab, pred, k)
    matrix_meta = fmt.make_metadata(
        fmt.CONFUSION_PLUGIN, fmt.MATRIX, {"positions": position_names, "classes": class_names}
    )
    tf.summary.write(tag=tag, tensor=counts, step=step, metadata=matrix_meta)
    if image_tensor is not None:

        def serialized(lab_v, pred_v, images_v) -> bytes:
            lab_n, pred_n, images_n = pb.host(lab_v), pb.host(pred_v), pb.host(images_v)
            if len(images_n) != len(lab_n):
                raise ValueError(f"images must have N = {len(lab_n)} entries, got {len(images_n)}")
            cells, pngs = examples_np(lab_n, pred_n, images_n, cap)
            return pb.examples_pb(
                f"{tag}/{fmt.EXAMPLES}", cells, pngs, matrix_tag=tag, cap_per_cell=cap
            ).SerializeToString()

        write_step = step if step is not None else tf.summary.experimental.get_step()

        def write_examples() -> Any:
            if tf.executing_eagerly():
                blob = tf.constant(serialized(lab, pred, image_tensor))
            else:  # PNG encoding and the capped index are host work
                blob = tf.py_function(serialized, [lab, pred, image_tensor], tf.string)
            return tf.summary.experimental.write_raw_pb(blob, step=write_step)

        if tf.executing_eagerly():
            if bool(tf.summary.should_record_summaries()):
                write_examples()
        else:  # only when recording (e.g. replica 0 of a distribution strategy)
            tf.cond(
                tf.summary.should_record_summaries(), write_examples, lambda: tf.constant(False)
            )
    return counts
