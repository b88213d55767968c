"""The optimizer's state: its learning rate (a variable or a schedule) and the norms of
its slot variables (Adam's momentum and velocity, SGD's momentum, ...)."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from summaries.keras import backend
from summaries.keras.tags import clean
from summaries.keras.weights import LayerWeights
from summaries.protos import scalar_value

# (layer scope, slot kind, host copy)
Slot = tuple[str, str, np.ndarray]


def has_optimizer(model: Any) -> bool:
    """Whether the model is compiled with an optimizer."""
    return getattr(model, "optimizer", None) is not None


def learning_rate_kind(model: Any) -> str:
    """``"schedule"``, ``"variable"`` (a number to read) or ``"none"``."""
    if not has_optimizer(model):
        return "none"
    raw = getattr(model.optimizer, "_learning_rate", None)
    if isinstance(raw, keras.optimizers.schedules.LearningRateSchedule):
        return "schedule"
    return "none" if learning_rate(model) is None else "variable"


def learning_rate(model: Any) -> float | None:
    """The optimizer's current learning rate, or None. A learning-rate variable is read
    where its value lives (on JAX during `fit`, the trainer's state)."""
    try:
        raw = getattr(model.optimizer, "_learning_rate", None)
        if isinstance(raw, keras.Variable):
            return float(backend.host(raw, backend.live_values(model)))
        return float(np.asarray(model.optimizer.learning_rate))
    except (TypeError, ValueError, AttributeError):
        return None


def iterations(model: Any) -> int:
    """The optimizer's iteration count (0 without an optimizer)."""
    if not has_optimizer(model):
        return 0
    return int(backend.host(model.optimizer.iterations, backend.live_values(model)))


def schedule_rates(model: Any, steps: np.ndarray) -> np.ndarray:
    """The learning rate each batch used: schedule(iterations before the update)."""
    schedule = model.optimizer._learning_rate
    before = steps - 1
    try:
        if backend.is_tensorflow():
            import tensorflow as tf

            rates = schedule(tf.constant(before, tf.int64))
        else:  # the backend's own ops on a host array (no TensorFlow op)
            rates = schedule(before)
        lrs = np.asarray(backend.to_numpy(rates), np.float64).reshape(-1)
        if lrs.shape == before.shape:
            return lrs
    except Exception:  # a schedule that is not elementwise: one call per step
        pass
    return np.array([float(backend.to_numpy(schedule(int(s)))) for s in before], np.float64)


def read_slots(model: Any, layers: LayerWeights) -> list[Slot]:
    """(layer scope, slot kind, host copy) for every float optimizer slot of a layer."""
    if not has_optimizer(model):
        return []
    owners = {}
    for scope, _, var in layers.entries(trainable_only=True):
        path = str(getattr(var, "path", var.name)).replace("/", "_") + "_"
        owners[path] = scope
    keys = sorted(owners, key=len, reverse=True)
    slots = []
    live = backend.live_values(model)
    for slot in model.optimizer.variables:
        name = str(slot.name)
        owner = next((k for k in keys if name.startswith(k)), None)
        if owner is None or not keras.backend.is_float_dtype(slot.dtype):
            continue
        copy = backend.host(slot, live)  # a snapshot
        slots.append((owners[owner], clean(name[len(owner) :]), copy))
    return slots


def slot_summaries(slots: list[Slot]) -> list:
    """``<layer>/optimizer/<slot>_norm`` and ``optimizer/<slot>_norm`` (all layers)."""
    per_layer: dict[tuple[str, str], float] = {}
    for scope, kind, array in slots:
        sq = float(np.sum(np.square(array, dtype=np.float64)))
        per_layer[(scope, kind)] = per_layer.get((scope, kind), 0.0) + sq
    totals: dict[str, float] = {}
    values = []
    for (scope, kind), sq in sorted(per_layer.items()):
        values.append(scalar_value(f"{scope}/optimizer/{kind}_norm", math.sqrt(sq)))
        totals[kind] = totals.get(kind, 0.0) + sq
    values += [scalar_value(f"optimizer/{k}_norm", math.sqrt(v)) for k, v in totals.items()]
    return values
