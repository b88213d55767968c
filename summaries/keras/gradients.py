"""The gradient probe: the fixed sample batch's loss and gradients in inference mode, as
Keras's `fit` does not expose its own, with each backend's own differentiation:

* TensorFlow: a `tf.GradientTape` over the model's call and `compute_loss`, traced once
  (on the callback's writer thread); its graph is the one the callback logs. Called on the
  training thread at an epoch's end, on the live variables.
* JAX: `jax.value_and_grad` over the JAX trainer's stateless loss
  (`model.compute_loss_and_updates`, the function Keras's own JAX train step
  differentiates), jitted once and called on the writer thread on host copies of the
  model's state taken at the epoch's end (the trainer's live state is consumed by the next
  train step, so it is never held).
* PyTorch: autograd (`torch.autograd.grad`, which leaves the parameters' ``.grad`` alone)
  over an eager forward pass on the training thread at the epoch's end; nothing traced.

TensorFlow is imported only by the TensorFlow functions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import partial
from typing import Any

import keras
import numpy as np

from summaries.keras import backend
from summaries.keras.samples import Batch


def compute_loss(model: Any, x: Any, y: Any, y_pred: Any, sw: Any) -> Any:
    """The model's `compute_loss` in inference mode (an override without the `training`
    argument called without it)."""
    try:
        return model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw, training=False)
    except TypeError:  # an override without the `training` argument
        return model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw)


@contextlib.contextmanager
def isolated(model: Any) -> Iterator[None]:
    """A Keras `StatelessScope` for the probe's forward pass and loss: the model's metric
    variables keep their values (`compute_loss` updates each output's loss tracker of a
    multi-output model: `fit`'s ``<output>_loss`` logs, and ``val_*`` if it ran beside
    validation), and losses the forward pass adds (`add_loss`) are collected in the scope
    for `compute_loss` instead of the layers' own lists."""
    mapping = [(v, v.value) for v in model.metrics_variables]
    with keras.StatelessScope(state_mapping=mapping, collect_losses=True):
        yield


# -- TensorFlow ---------------------------------------------------------------------------


def loss_and_gradients(model: Any, x: Any, y: Any, sw: Any) -> tuple[Any, list]:
    """The model's loss on (x, y, sw) in inference mode and its trainable variables'
    gradients (NaN and Nones for a model without a loss); TensorFlow backend."""
    import tensorflow as tf

    with tf.GradientTape() as tape, isolated(model):
        y_pred = model(x, training=False)
        loss = compute_loss(model, x, y, y_pred, sw)
    if loss is None:
        return tf.constant(float("nan")), [None] * len(model.trainable_variables)
    return loss, tape.gradient(loss, model.trainable_variables)


def trace_probe(model: Any, sample: Batch) -> Any:
    """`loss_and_gradients` traced for the sample's structure with any batch size (a
    concrete function); raises what tracing raises. TensorFlow backend."""
    import tensorflow as tf

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
    `probe` on the sample's `tensors`, else eagerly. TensorFlow backend."""
    if probe is not None:
        _, grads = probe(*tensors)
    else:
        _, grads = loss_and_gradients(model, *sample)
    variables = model.trainable_variables
    return {id(v): g for v, g in zip(variables, grads, strict=True) if g is not None}


# -- PyTorch ------------------------------------------------------------------------------


def torch_gradients(model: Any, sample: Batch) -> dict[int, np.ndarray]:
    """The sample batch's gradients by variable id, as host arrays, with PyTorch's
    autograd over an eager pass in inference mode; `torch.autograd.grad` returns them
    without touching the parameters' ``.grad`` (which Keras's train step uses)."""
    import torch

    x, y, sw = sample
    variables = list(model.trainable_variables)
    if not variables:
        return {}
    with torch.enable_grad():
        with isolated(model):
            y_pred = model(x, training=False)
            loss = compute_loss(model, x, y, y_pred, sw)
        if loss is None:
            return {}
        params = [v.value for v in variables]
        grads = torch.autograd.grad(loss, params, allow_unused=True)
    return {
        id(v): backend.to_numpy(g) for v, g in zip(variables, grads, strict=True) if g is not None
    }


# -- JAX ----------------------------------------------------------------------------------


class JaxProbe:
    """`jax.value_and_grad` of the JAX trainer's stateless loss in inference mode, traced
    and compiled on its first call (`backend.jax_compile`), on the thread that calls it:
    the callback's writer thread."""

    def __init__(self, model: Any):
        import jax

        if not hasattr(model, "compute_loss_and_updates"):
            raise TypeError("the model has no JAX trainer (compute_loss_and_updates)")
        self.model = model

        def loss(trainable: list, non_trainable: list, metrics: list, x, y, sw) -> Any:
            value, _ = model.compute_loss_and_updates(
                trainable, non_trainable, metrics, x, y, sw, training=False
            )
            return value

        self._function = jax.jit(jax.value_and_grad(loss))
        self._compiled: Any = None  # for the sample's shapes (see backend.jax_compile)
        # the loss's metric variables (a loss tracker): their updates are dropped
        self._metrics = [keras.ops.zeros(v.shape, v.dtype) for v in model.metrics_variables]

    def __call__(
        self, trainable: list[np.ndarray], non_trainable: list[np.ndarray], sample: Batch
    ) -> dict[int, np.ndarray]:
        """The sample's gradients by variable id, as host arrays, at the given values of
        `model.trainable_variables` and `model.non_trainable_variables`."""
        x, y, sw = sample
        args = (trainable, non_trainable, self._metrics, x, y, sw)
        if self._compiled is None:
            self._compiled = backend.jax_compile(self._function, *args)
        _, grads = self._compiled(*args)
        variables = self.model.trainable_variables
        return {id(v): np.asarray(g) for v, g in zip(variables, grads, strict=True)}
