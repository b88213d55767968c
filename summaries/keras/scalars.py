"""The loss, metric and learning-rate scalars: per batch (buffered by the callback and
serialized here in bulk) and per epoch."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from summaries.keras.tags import clean
from summaries.protos import ScalarRows, scalar_value

# A buffered batch: (step, {log name: value}, learning rate or None, wall time)
BatchRecord = tuple[int, dict[str, float], float | None, float]


def numeric(logs: dict[str, Any]) -> dict[str, float]:
    """The entries of Keras logs that are numbers, as floats."""
    values = {}
    for key, value in logs.items():
        try:
            values[key] = float(value)
        except (TypeError, ValueError):
            continue
    return values


def epoch_scalars(logs: dict[str, Any], learning_rate: float | None) -> list:
    """``epoch/<name>`` for the epoch logs, and ``epoch/learning_rate`` if given."""
    values = [scalar_value(f"epoch/{clean(k)}", v) for k, v in numeric(logs).items()]
    if learning_rate is not None:
        values.append(scalar_value("epoch/learning_rate", learning_rate))
    return values


class BatchEvents:
    """Buffered batch records as serialized Summary protos, ``batch/<name>`` and
    ``batch/learning_rate``, one per step; one byte template per set of names."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, ...], ScalarRows] = {}

    def serialize(
        self,
        records: list[BatchRecord],
        schedule: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> tuple[list[bytes], list[int], list[float]]:
        """(protos, steps, wall times) in step order; `schedule` gives the learning rate of
        each step instead of the records' own."""
        records.sort(key=lambda r: r[0])
        steps = np.array([r[0] for r in records], np.int64)
        lrs: Sequence[float | None] = [r[2] for r in records]
        if schedule is not None:
            lrs = schedule(steps).tolist()
        rows = []
        for (_, values, _, _), lr in zip(records, lrs, strict=True):
            if lr is None:
                rows.append((tuple(values), list(values.values())))
            else:
                rows.append(((*values, "learning_rate"), [*values.values(), lr]))
        blobs: list[bytes] = []
        for names, run in itertools.groupby(rows, key=lambda row: row[0]):
            if names not in self._rows:
                self._rows[names] = ScalarRows([f"batch/{clean(n)}" for n in names])
            blobs += self._rows[names].blobs(np.array([v for _, v in run], np.float32))
        return blobs, steps.tolist(), [r[3] for r in records]
