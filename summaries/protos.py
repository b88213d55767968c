"""numpy builders of Flowscope's Summary protos (no TensorFlow).

Like TensorBoard's `*_pb` functions, each builder returns a `Summary` proto that a
`summaries.pb.LogWriter` writes; the TensorFlow writers build the same protos, so there is
one format. Scalars and histograms use TensorBoard's own layouts; the confusion matrix and
its examples use `summaries.format`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from tensorboard.compat.proto import summary_pb2, tensor_pb2, tensor_shape_pb2, types_pb2
from tensorboard.plugins.histogram import metadata as histogram_metadata
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.util import tensor_util

from summaries import checks
from summaries import format as fmt

_SCALAR_META = scalar_metadata.create_summary_metadata(display_name=None, description=None)
_HISTOGRAM_META = histogram_metadata.create_summary_metadata(display_name=None, description=None)
_SCALAR_SHAPE = tensor_shape_pb2.TensorShapeProto()


def summary(tag: str, array: np.ndarray, metadata: summary_pb2.SummaryMetadata) -> Any:
    """A Summary with one value: `array` as a tensor under `tag`."""
    checks.check_text("tag", tag)
    out = summary_pb2.Summary()
    out.value.add(tag=tag, metadata=metadata, tensor=tensor_util.make_tensor_proto(array))
    return out


# -- scalars and histograms (TensorBoard's layouts) ------------------------------------


def scalar_value(tag: str, value: float) -> summary_pb2.Summary.Value:
    """One scalar Summary value (float32, as `tf.summary.scalar`)."""
    tensor = tensor_pb2.TensorProto(
        dtype=types_pb2.DT_FLOAT, tensor_shape=_SCALAR_SHAPE, float_val=[value]
    )
    return summary_pb2.Summary.Value(tag=tag, metadata=_SCALAR_META, tensor=tensor)


def histogram_value(tag: str, buckets: np.ndarray) -> summary_pb2.Summary.Value:
    """One histogram Summary value from [k, 3] (left, right, count) buckets."""
    tensor = tensor_util.make_tensor_proto(np.asarray(buckets, np.float64))
    return summary_pb2.Summary.Value(tag=tag, metadata=_HISTOGRAM_META, tensor=tensor)


class ScalarRows:
    """Serialized Summary protos holding one scalar per tag of a fixed tag list, one per
    step, built from a [steps, tags] array without touching protobuf.

    For a fixed tag list the serialized protos differ only in each value's 4 float bytes,
    so one template is serialized with distinct sentinel floats, and copies of its bytes
    get the real floats at the sentinels' offsets: a flush of 100 steps costs tens of
    microseconds instead of milliseconds of Python (which would hold the GIL the training
    loop needs).
    """

    def __init__(self, tags: Sequence[str]):
        rng = np.random.default_rng(0)
        while True:  # sentinels whose bytes occur once each in the template
            marks = rng.uniform(1e3, 1e6, len(tags)).astype("<f4")
            proto = summary_pb2.Summary(
                value=[scalar_value(tag, float(m)) for tag, m in zip(tags, marks, strict=True)]
            )
            template = proto.SerializeToString()
            if all(template.count(m.tobytes()) == 1 for m in marks):
                break
        self._template = np.frombuffer(template, np.uint8)
        offsets = np.array([template.find(m.tobytes()) for m in marks])
        self._columns = offsets[:, None] + np.arange(4)  # [tags, 4] byte positions

    def blobs(self, values: np.ndarray) -> list[bytes]:
        """One serialized Summary per row of `values` [steps, tags]."""
        floats = np.ascontiguousarray(values, "<f4")
        rows = np.tile(self._template, (len(floats), 1))
        rows[:, self._columns] = floats.view(np.uint8).reshape(*floats.shape, 4)
        return [row.tobytes() for row in rows]


# -- images -----------------------------------------------------------------------------


def encode_png(image: Any) -> bytes:
    """PNG bytes of a [h, w], [h, w, 1|3|4] image (uint8, or float in [0, 1])."""
    from PIL import Image

    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ValueError(f"image must have shape [h, w] or [h, w, 1|3|4], got {list(array.shape)}")
    if array.dtype != np.uint8:
        array = (
            (np.clip(np.nan_to_num(array.astype(np.float64)), 0, 1) * 255).round().astype(np.uint8)
        )
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def image_pb(tag: str, images: Any) -> summary_pb2.Summary:
    """Images [k, h, w, c] (uint8, or floats in [0, 1]) in TensorBoard's Images format:
    a string tensor [width, height, png_1, ..., png_k]."""
    from tensorboard.plugins.image import metadata as image_metadata

    array = np.asarray(images)
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4) or not len(array):
        raise ValueError(f"images must have shape [k, h, w, 1|3|4], got {list(array.shape)}")
    height, width = array.shape[1:3]
    strings = [str(width).encode(), str(height).encode(), *(encode_png(i) for i in array)]
    metadata = image_metadata.create_summary_metadata(display_name=None, description=None)
    return summary(tag, np.array(strings, dtype=object), metadata)


# -- confusion: class ids and counts ------------------------------------------------------


def default_positions(count: int) -> list[str]:
    """Position names when none are given: "all" for one, else "position 1", ..."""
    return ["all"] if count == 1 else [f"position {i + 1}" for i in range(count)]


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


def image_stack(images: Any, count: int) -> np.ndarray:
    """Images [N, h, w] or [N, h, w, 1|3|4] with N = `count`, as a numeric array."""
    try:
        array = np.asarray(checks.host(images))
    except (TypeError, ValueError) as exc:
        raise checks.ArgumentTypeError(
            "images must be a numeric array [N, h, w] or [N, h, w, c]"
        ) from exc
    if array.dtype.kind not in "iuf" and array.dtype != bool:
        raise checks.ArgumentTypeError(f"images must be numeric, got dtype {array.dtype}")
    if array.ndim not in (3, 4) or len(array) != count:
        raise ValueError(
            f"images must have shape [N, h, w] or [N, h, w, c] with N = {count}, "
            f"got {list(array.shape)}"
        )
    if array.ndim == 4 and array.shape[-1] not in (1, 3, 4):
        raise ValueError(f"images must have 1, 3 or 4 channels, got {array.shape[-1]}")
    return array


def _png_ready(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    if image.dtype.kind in "iub":
        return np.clip(image, 0, 255).astype(np.uint8)
    return image  # floats in [0, 1]: encode_png scales them


def misclassified(
    labels: np.ndarray, predictions: np.ndarray, images: np.ndarray, cap_per_cell: int
) -> tuple[list[list[int]], list[bytes]]:
    """(cells, PNGs) of misclassified examples, at most `cap_per_cell` per
    (position, true, predicted) cell, from checked ids [N, P] and images [N, ...]."""
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
        pngs.append(encode_png(_png_ready(images[n])))
    return cells, pngs


# -- confusion: protos ----------------------------------------------------------------------


def matrix_content(
    positions: list[str], classes: list[str], sequence_accuracy_tag: str | None
) -> dict[str, Any]:
    """The JSON content of a confusion matrix (see `summaries.format`)."""
    if sequence_accuracy_tag is not None:
        checks.check_tag(sequence_accuracy_tag, "sequence_accuracy_tag")
    return {
        "positions": positions,
        "classes": classes,
        "sequence_accuracy_tag": sequence_accuracy_tag,
    }


def examples_pb(
    tag: str,
    cells: Any,
    images: Sequence[Any],
    *,
    matrix_tag: str,
    cap_per_cell: int,
) -> summary_pb2.Summary:
    """Misclassified examples: one image per (position, true, predicted) cell entry.

    At most `cap_per_cell` images are kept per cell (the first ones given).
    """
    cells_a = (
        np.asarray(cells, dtype=np.int64).reshape(-1, 3)
        if len(cells)
        else np.zeros((0, 3), np.int64)
    )
    if len(cells_a) != len(images):
        raise ValueError(
            f"cells and images must have the same length, got {len(cells_a)} and {len(images)}"
        )
    if (cells_a < 0).any():
        raise ValueError("cells must not be negative")
    cap_per_cell = checks.check_count("cap_per_cell", cap_per_cell)
    kept_cells, blobs, seen = [], [], {}
    for cell, image in zip(cells_a.tolist(), images, strict=True):
        key = tuple(cell)
        if seen.get(key, 0) >= cap_per_cell:
            continue
        seen[key] = seen.get(key, 0) + 1
        kept_cells.append(cell)
        blobs.append(image if isinstance(image, bytes) else encode_png(image))
    index = json.dumps({"cells": kept_cells}).encode("utf-8")
    array = np.array([index, *blobs], dtype=object)
    content = {"matrix_tag": str(matrix_tag), "cap_per_cell": int(cap_per_cell)}
    return summary(tag, array, fmt.make_metadata(fmt.CONFUSION_PLUGIN, fmt.EXAMPLES, content))


def build_confusion(
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
) -> tuple[np.ndarray, summary_pb2.Summary]:
    """The counts [P, K, K] and the Summary of `confusion_pb` (everything checked first)."""
    checks.check_tag(tag, "tag")
    class_names = checks.check_names("classes", classes)
    k = len(class_names)
    cap = checks.check_count("cap_per_cell", cap_per_cell)
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
    position_names = (
        default_positions(matrix.shape[0])
        if positions is None
        else checks.check_names("positions", positions, matrix.shape[0])
    )
    content = matrix_content(position_names, class_names, sequence_accuracy_tag)
    out = summary(tag, matrix, fmt.make_metadata(fmt.CONFUSION_PLUGIN, fmt.MATRIX, content))
    if stack is not None:
        cells, pngs = misclassified(lab, pred, stack, cap)
        examples = examples_pb(
            f"{tag}/{fmt.EXAMPLES}", cells, pngs, matrix_tag=tag, cap_per_cell=cap
        )
        out.value.extend(examples.value)
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
    return build_confusion(
        tag,
        counts,
        classes=classes,
        positions=positions,
        labels=labels,
        predictions=predictions,
        images=images,
        cap_per_cell=cap_per_cell,
        sequence_accuracy_tag=sequence_accuracy_tag,
    )[1]
