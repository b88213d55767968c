"""Pure numpy computations of the Confusion plugin: accuracies, class metrics, top pairs.

Normalisation (counts by row or column) is not here: the page normalises every step it
shows from the /series counts, so it is written once, in the page's JavaScript.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def rounded(values: np.ndarray, digits: int = 6) -> list:
    """Floats rounded for compact JSON; NaN stays NaN (null in JSON)."""
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


def accuracy(counts: np.ndarray) -> np.ndarray:
    """Accuracy (trace / total) of each [..., K, K] matrix; NaN where there is no sample."""
    counts = np.asarray(counts)
    return _ratio(np.trace(counts, axis1=-2, axis2=-1), counts.sum(axis=(-2, -1)))


def class_metrics(matrix: np.ndarray) -> dict[str, Any]:
    """Per-class precision, recall, F1 and support of one [K, K] matrix, plus macro means."""
    matrix = np.asarray(matrix, dtype=np.int64)
    tp = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(
            np.isnan(precision) | np.isnan(recall),
            np.nan,
            np.where(
                precision + recall > 0,
                2 * precision * recall / np.where(precision + recall > 0, precision + recall, 1),
                0.0,
            ),
        )

    def macro(values: np.ndarray) -> float | None:
        defined = values[~np.isnan(values)]
        return float(defined.mean()) if defined.size else None

    return {
        "precision": rounded(precision),
        "recall": rounded(recall),
        "f1": rounded(f1),
        "support": support.tolist(),
        "predicted": predicted.tolist(),
        "macro": {"precision": macro(precision), "recall": macro(recall), "f1": macro(f1)},
    }


def confused_pairs(counts: np.ndarray, top: int) -> list[dict[str, Any]]:
    """The `top` largest off-diagonal cells of [P, K, K] counts, largest count first."""
    counts = np.asarray(counts, dtype=np.int64)
    k = counts.shape[-1]
    off = counts * (1 - np.eye(k, dtype=np.int64))
    flat = off.ravel()
    nonzero = np.flatnonzero(flat)
    if nonzero.size == 0 or top <= 0:
        return []
    rows = counts.sum(axis=-1)  # [P, K] samples per true class
    # Largest count first; ties by position, true, predicted (stable, reproducible order).
    order = nonzero[np.lexsort((nonzero, -flat[nonzero]))][:top]
    pairs = []
    for index in order.tolist():
        p, t, q = np.unravel_index(index, off.shape)
        count = int(flat[index])
        pairs.append(
            {
                "position": int(p),
                "true": int(t),
                "predicted": int(q),
                "count": count,
                "rate": round(count / int(rows[p, t]), 6),
            }
        )
    return pairs


def thin_steps(n: int, keep: int) -> np.ndarray:
    """Indices of `keep` evenly spaced items out of `n`, always the first and the last."""
    if keep >= n:
        return np.arange(n)
    if keep <= 1:
        return np.array([n - 1])
    return np.unique(np.round(np.linspace(0, n - 1, keep)).astype(np.int64))


def compact(counts: np.ndarray) -> np.ndarray:
    """Non-negative counts in the smallest unsigned dtype that holds them (int64 beyond)."""
    top = int(counts.max()) if counts.size else 0
    for dtype in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(dtype).max:
            return counts.astype(dtype)
    return counts.astype(np.int64)


def encoded_counts(counts: np.ndarray) -> dict[str, Any]:
    """[S, N] counts as little-endian bytes in base64 (far cheaper than JSON numbers)."""
    if counts.dtype.kind != "u":  # beyond uint32: float64 is exact up to 2^53
        counts = counts.astype(np.float64)
    data = counts.astype(counts.dtype.newbyteorder("<"), copy=False).tobytes()
    return {
        "dtype": counts.dtype.name,
        "shape": list(counts.shape),
        "base64": base64.b64encode(data).decode("ascii"),
    }


def int_rows_json(rows: np.ndarray) -> str:
    """JSON text of a 2-D array of non-negative integers, about 4x faster than json.dumps
    for the small counts of a confusion series (each number's text is made once)."""
    top = int(rows.max()) if rows.size else 0
    if rows.dtype.kind != "u" or top > 65535:
        return json.dumps(rows.tolist(), separators=(",", ":"))
    words = np.array([str(i) for i in range(top + 1)], dtype=object)
    return "[" + ",".join("[" + ",".join(words[row].tolist()) + "]" for row in rows) + "]"


def v1_sequence_tag(scalar_tags: list[str], matrix_tag: str, names: list[str]) -> str | None:
    """Version-1 logs only: the scalar tag holding whole-sequence accuracy, found by name.

    A tag matches when its last component (any case, Keras's "epoch_" prefix dropped) is one
    of `names`; among several, the one sharing most scope components with the matrix tag
    wins ("validation/..." for "confusion/validation"), then the shortest, then by name.
    """
    wanted = {n.lower() for n in names}

    def name(tag: str) -> str:
        base = tag.rsplit("/", 1)[-1].lower()
        return base[len("epoch_") :] if base.startswith("epoch_") else base

    candidates = [t for t in scalar_tags if name(t) in wanted]
    if not candidates:
        return None
    scope = set(matrix_tag.split("/"))

    def shared(tag: str) -> int:
        return len(set(tag.split("/")[:-1]) & scope)

    return sorted(candidates, key=lambda t: (-shared(t), len(t), t))[0]
