"""A model's float weights by top-level layer, their host copies and the update ratios."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from summaries.keras import backend
from summaries.keras.tags import clean
from summaries.protos import scalar_value

# (layer scope, weight name, variable)
Entry = tuple[str, str, Any]


class LayerWeights:
    """The float weights of `model` as (layer scope, weight name, variable), by top-level
    layer (weights the model holds itself under the model's name), listed once: make a
    new one for each fit, as layers may change between fits."""

    def __init__(self, model: Any):
        self.model = model
        self._lists: dict[bool, list[Entry]] = {}

    def entries(self, trainable_only: bool) -> list[Entry]:
        """Every float weight (the trainable ones only if `trainable_only`)."""
        if trainable_only in self._lists:
            return self._lists[trainable_only]
        out, seen = [], set()
        owners = [(layer.name, layer) for layer in self.model.layers]
        owners.append((self.model.name, self.model))
        for owner, layer in owners:
            weights = layer.trainable_weights if trainable_only else layer.weights
            for var in weights:
                if id(var) in seen or not keras.backend.is_float_dtype(var.dtype):
                    continue
                seen.add(id(var))
                path = str(getattr(var, "path", var.name))
                marker = f"{owner}/"
                index = path.find("/" + marker)
                if path.startswith(marker):
                    rel = path[len(marker) :]
                elif index >= 0:
                    rel = path[index + len(marker) + 1 :]
                else:
                    rel = var.name
                out.append((clean(owner), clean(rel), var))
        self._lists[trainable_only] = out
        return out

    def read(
        self, trainable_only: bool, known: dict[int, np.ndarray] | None = None
    ) -> dict[int, np.ndarray]:
        """Host copies of the weights, by variable id: their current values (on JAX during
        `fit`, the trainer's state; see `summaries.keras.backend`), those in `known` (host
        copies already taken, by variable id) reused."""
        live = backend.live_values(self.model)
        known = known or {}
        return {
            id(v): known[id(v)] if id(v) in known else backend.host(v, live)
            for _, _, v in self.entries(trainable_only)
        }


def update_ratios(
    entries: list[Entry], before: dict[int, np.ndarray], after: dict[int, np.ndarray]
) -> list:
    """``<layer>/update_ratio``: ||w_after - w_before|| / ||w_before|| per layer, from two
    host copies."""
    delta, size = {}, {}
    for scope, _, var in entries:
        key = id(var)
        if key not in before or key not in after:
            continue
        w0 = before[key].astype(np.float64)
        delta[scope] = delta.get(scope, 0.0) + float(np.sum((after[key] - w0) ** 2))
        size[scope] = size.get(scope, 0.0) + float(np.sum(w0**2))
    return [
        scalar_value(f"{scope}/update_ratio", math.sqrt(delta[scope] / size[scope]))
        for scope in delta
        if size[scope] > 0
    ]
