"""Per-position confusion summaries: P x K x K counts plus the misclassified examples.

The naming scheme of every summary kind (see `summaries.format`):

* `confusion` writes to the default ``tf.summary`` writer (graph-compatible; the examples
  part encodes PNGs on the host: eagerly it runs directly, inside a `tf.function` through
  `tf.py_function`, CPU only, not exportable to a SavedModel);
* `confusion_pb` (in `summaries.protos`, re-exported by `summaries.pb`) builds the Summary
  with numpy only;
* `write_confusion` writes it to a `summaries.pb.LogWriter` (no TensorFlow).

`confusion_counts` takes numpy or tensors: numpy in, numpy out (TensorFlow not imported);
a tensor in gives TensorFlow ops. Old names: `counts_np` still works; `summaries_np` and
`examples_np` raise AttributeError naming their replacements.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from summaries import checks, protos
from summaries import format as fmt
from summaries._autograph import not_converted
from summaries._exports import lazy
from summaries.protos import confusion_pb

__all__ = ["confusion", "confusion_counts", "confusion_pb", "write_confusion"]

_RENAMED = {
    "summaries_np": "summaries_np is now summaries.confusion_pb (numpy; it also takes "
    "labels, predictions and images) or summaries.write_confusion (to a LogWriter)",
    "examples_np": "examples_np is now summaries.confusion_pb(..., labels=, predictions=, "
    "images=), which builds the examples with the matrix "
    "(the bare cells and PNGs: summaries.protos.misclassified)",
}


__getattr__ = lazy(globals(), {}, _RENAMED)[0]


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
        return _counts_tf(*_labels_predictions_tf(labels, predictions, k), k)
    return protos.counts_from_ids(*protos.class_ids(labels, predictions, k), k)


@not_converted
def counts_np(labels: Any, predictions: Any, num_classes: int) -> np.ndarray:
    """Old name: `confusion_counts` with numpy (a tensor in still gives numpy out)."""
    return confusion_counts(checks.host(labels), checks.host(predictions), num_classes)


@not_converted
def write_confusion(
    writer: Any,
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
    sequence_accuracy_tag: str | None = None,
) -> np.ndarray:
    """Write per-position confusion to a `summaries.pb.LogWriter` (no TensorFlow); returns
    the counts.

    Give either `counts` [P, K, K] or `labels` and `predictions` ([N] or [N, P] class ids,
    predictions may be scores with a trailing K axis). `images` [N, h, w(, c)] (needs
    labels and predictions) adds the misclassified examples under `name + "/examples"`.
    `sequence_accuracy_tag` names the scalar tag (same run, same steps) holding
    whole-sequence accuracy, which the Confusion page shows beside the matrix.
    """
    checks.check_writer(writer)
    checks.check_tag(name)
    step = checks.check_step(step)
    matrix, summary = protos.build_confusion(
        name,
        counts,
        classes=classes,
        positions=positions,
        labels=labels,
        predictions=predictions,
        images=images,
        cap_per_cell=cap_per_cell,
        sequence_accuracy_tag=sequence_accuracy_tag,
    )
    for value in summary.value:  # one event per tag, as the TensorFlow writer does
        writer.add(type(summary)(value=[value]), step=step)
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
    sequence_accuracy_tag: str | None = None,
) -> Any:
    """Write per-position confusion counts under `name` (and examples); returns the counts.

    With `images` [N, h, w(, c)], misclassified examples are written under
    `name + "/examples"`, each linked to its (position, true, predicted) cell, at most
    `cap_per_cell` per cell. `sequence_accuracy_tag` is the full tag of the scalar (same
    run, same steps) holding whole-sequence accuracy, shown beside the matrix.
    """
    import tensorflow as tf

    from summaries.basic import scope_tag

    tag = scope_tag(checks.check_tag(name))
    class_names = checks.check_names("classes", classes)
    k = len(class_names)
    cap = checks.check_count("cap_per_cell", cap_per_cell)
    step = checks.check_step(step, optional=True)
    lab, pred = _labels_predictions_tf(labels, predictions, k)
    p_static = lab.shape[1]
    if positions is None:
        if p_static is None:
            raise ValueError("positions must be given when the number of positions is unknown")
        position_names = protos.default_positions(p_static)
    else:
        position_names = checks.check_names("positions", positions, p_static)
    content = protos.matrix_content(position_names, class_names, sequence_accuracy_tag)
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
    matrix_meta = fmt.make_metadata(fmt.CONFUSION_PLUGIN, fmt.MATRIX, content)
    tf.summary.write(tag=tag, tensor=counts, step=step, metadata=matrix_meta)
    if image_tensor is not None:

        def serialized(lab_v, pred_v, images_v) -> bytes:
            lab_n, pred_n = checks.host(lab_v), checks.host(pred_v)
            images_n = checks.host(images_v)
            if len(images_n) != len(lab_n):
                raise ValueError(f"images must have N = {len(lab_n)} entries, got {len(images_n)}")
            cells, pngs = protos.misclassified(lab_n, pred_n, images_n, cap)
            return protos.examples_pb(
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
