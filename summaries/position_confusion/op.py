"""`confusion`: per-position confusion written to the default ``tf.summary`` writer.

Graph-compatible: the counts are TensorFlow ops; the examples part encodes PNGs on the
host (eagerly it runs directly, inside a `tf.function` through `tf.py_function`, CPU only,
not exportable to a SavedModel). TensorFlow is imported when it runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from summaries import checks
from summaries import format as fmt
from summaries._autograph import not_converted
from summaries.position_confusion.arguments import ConfusionArgs
from summaries.position_confusion.counts import counts_tf, labels_predictions_tf, sparse_rows_tf
from summaries.position_confusion.examples import misclassified


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

    args = ConfusionArgs(
        scope_tag(checks.check_tag(name)),
        classes,
        positions,
        cap_per_cell,
        sequence_accuracy_tag,
    )
    step = checks.check_step(step, optional=True)
    lab, pred = labels_predictions_tf(labels, predictions, args.num_classes)
    matrix_meta = args.matrix_metadata(lab.shape[1])
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
    counts = counts_tf(lab, pred, args.num_classes)
    sparse = json.loads(matrix_meta.plugin_data.content)["layout"] == fmt.SPARSE
    stored = sparse_rows_tf(counts) if sparse else counts  # the layout `format` documents
    tf.summary.write(tag=args.tag, tensor=stored, step=step, metadata=matrix_meta)
    if image_tensor is not None:

        def serialized(lab_v, pred_v, images_v) -> bytes:
            lab_n, pred_n = checks.host(lab_v), checks.host(pred_v)
            images_n = checks.host(images_v)
            if len(images_n) != len(lab_n):
                raise ValueError(f"images must have N = {len(lab_n)} entries, got {len(images_n)}")
            cells, pngs = misclassified(lab_n, pred_n, images_n, args.cap_per_cell)
            return args.examples_pb(cells, pngs).SerializeToString()

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
