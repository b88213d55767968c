"""The misclassified examples beside a confusion matrix: at most `cap_per_cell` per
(position, true, predicted) cell, as PNGs and their Summary (numpy only)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from tensorboard.compat.proto import summary_pb2

from summaries import checks
from summaries import format as fmt
from summaries.protos import encode_png, encode_pngs, summary


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


def misclassified(
    labels: np.ndarray, predictions: np.ndarray, images: np.ndarray, cap_per_cell: int
) -> tuple[list[list[int]], list[bytes]]:
    """(cells, PNGs) of misclassified examples, at most `cap_per_cell` per
    (position, true, predicted) cell, from checked ids [N, P] and images [N, ...]."""
    cells: list[list[int]] = []
    kept: list[int] = []
    seen: dict[tuple[int, int, int], int] = {}
    wrong_n, wrong_p = np.nonzero(labels != predictions)
    true, predicted = labels[wrong_n, wrong_p].tolist(), predictions[wrong_n, wrong_p].tolist()
    for n, p, t, q in zip(wrong_n.tolist(), wrong_p.tolist(), true, predicted, strict=True):
        cell = (p, t, q)
        if seen.get(cell, 0) >= cap_per_cell:
            continue
        seen[cell] = seen.get(cell, 0) + 1
        cells.append(list(cell))
        kept.append(n)
    return cells, encode_pngs(np.asarray(images)[kept])


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
