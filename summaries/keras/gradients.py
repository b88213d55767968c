"""The gradient probe: the fixed sample batch's loss and gradients in inference mode, as
Keras's `fit` does not expose its own; traced once, its graph is the one the callback logs."""

from __future__ import annotations

from functools import partial
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from summaries.keras.samples import Batch


def loss_and_gradients(model: Any, x: Any, y: Any, sw: Any) -> tuple[Any, list]:
    """The model's loss on (x, y, sw) in inference mode and its trainable variables'
    gradients (NaN and Nones for a model without a loss)."""
    with tf.GradientTape() as tape:
        y_pred = model(x, training=False)
        try:
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw, training=False)
        except TypeError:  # an override without the `training` argument
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw)
    if loss is None:
        return tf.constant(float("nan")), [None] * len(model.trainable_variables)
    return loss, tape.gradient(loss, model.trainable_variables)


def trace_probe(model: Any, sample: Batch) -> Any:
    """`loss_and_gradients` traced for the sample's structure with any batch size (a
    concrete function); raises what tracing raises."""

    def spec(t: Any) -> Any:
        if t is None:
            return None
        return tf.TensorSpec([None, *np.shape(t)[1:]], tf.as_dtype(np.asarray(t).dtype))

    specs = keras.tree.map_structure(spec, sample)
    function = tf.function(partial(loss_and_gradients, model), autograph=False)
    return function.get_concrete_function(*specs)


def warm_up(probe: Any, args: Batch) -> None:
    """The probe's first call, whose one-off preparation (graph optimisation, ~20-30 ms)
    would otherwise fall on the training thread at the first epoch's end. The result is
    dropped: training moves the weights meanwhile."""
    try:
        probe(*args)
    except Exception:  # noqa: S110 (the real call, on the training thread, reports it)
        pass


def sample_gradients(model: Any, probe: Any, sample: Batch, tensors: Batch) -> dict[int, Any]:
    """The sample batch's gradients by variable id (immutable tensors): through the traced
    `probe` on the sample's `tensors`, else eagerly."""
    if probe is not None:
        _, grads = probe(*tensors)
    else:
        _, grads = loss_and_gradients(model, *sample)
    variables = model.trainable_variables
    return {id(v): g for v, g in zip(variables, grads, strict=True) if g is not None}
