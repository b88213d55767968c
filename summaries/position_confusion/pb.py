"""Per-position confusion without TensorFlow: `confusion_pb` builds the Summary with numpy,
`write_confusion` writes it to a `summaries.pb.LogWriter`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from tensorboard.compat.proto import summary_pb2

from summaries import checks
from summaries import format as fmt
from summaries._autograph import not_converted
from summaries.position_confusion.arguments import ConfusionArgs
from summaries.position_confusion.counts import class_ids, counts_from_ids, sparse_rows
from summaries.position_confusion.examples import image_stack, misclassified
from summaries.protos import summary


def build_confusion(
    args: ConfusionArgs,
    counts: Any = None,
    labels: Any = None,
    predictions: Any = None,
    images: Any = None,
) -> tuple[np.ndarray, summary_pb2.Summary]:
    """The counts [P, K, K] and the Summary of `confusion_pb` (everything checked first;
    the counts are stored dense or sparse by their size, see `summaries.format`)."""
    k = args.num_classes
    lab = pred = stack = None
    if counts is not None:
        if labels is not None or predictions is not None:
            raise ValueError("give either counts or labels and predictions, not both")
        if images is not None:
            raise ValueError("images need labels and predictions to find the misclassified ones")
        matrix = checks.check_counts(counts)
        if matrix.shape[1] != k:
            raise ValueError(
                f"classes must have {matrix.shape[1]} entries (counts is "
                f"{list(matrix.shape)}), got {k}"
            )
    else:
        if labels is None or predictions is None:
            raise ValueError("give counts, or both labels and predictions")
        lab, pred = class_ids(labels, predictions, k)
        matrix = counts_from_ids(lab, pred, k)
        if images is not None:
            stack = image_stack(images, len(lab))
    metadata = args.matrix_metadata(matrix.shape[0])
    sparse = fmt.matrix_layout(matrix.shape[0], k) == fmt.SPARSE
    out = summary(args.tag, sparse_rows(matrix) if sparse else matrix, metadata)
    if stack is not None:
        cells, pngs = misclassified(lab, pred, stack, args.cap_per_cell)
        out.value.extend(args.examples_pb(cells, pngs).value)
    return matrix, out


def confusion_pb(
    tag: str,
    counts: Any = None,
    *,
    classes: Sequence[str],
    positions: Sequence[str] | None = None,
    labels: Any = None,
    predictions: Any = None,
    images: Any = None,
    cap_per_cell: int = 8,
    sequence_accuracy_tag: str | None = None,
) -> summary_pb2.Summary:
    """Per-position confusion as a Summary: the [P, K, K] counts under `tag` (rows true
    class, columns predicted) and, with `images`, the misclassified examples under
    ``tag + "/examples"`` as a second value.

    Give either `counts` or `labels` and `predictions` ([N] or [N, P] class ids;
    predictions may be scores with a trailing K axis). `positions` defaults to
    "position 1", ...; `sequence_accuracy_tag` names the scalar tag (same run, same
    steps) that holds whole-sequence accuracy, shown beside the matrix.
    """
    args = ConfusionArgs(tag, classes, positions, cap_per_cell, sequence_accuracy_tag)
    return build_confusion(args, counts, labels, predictions, images)[1]


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
    args = ConfusionArgs(name, classes, positions, cap_per_cell, sequence_accuracy_tag)
    matrix, built = build_confusion(args, counts, labels, predictions, images)
    for value in built.value:  # one event per tag, as the TensorFlow writer does
        writer.add(summary_pb2.Summary(value=[value]), step=step)
    return matrix
