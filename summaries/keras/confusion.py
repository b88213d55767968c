"""Confusion matrices on validation data: the model's forward pass (traced once, called in
chunks), its classification heads, and one P x K x K summary per class count K.

The forward pass per backend: TensorFlow, a `tf.function` traced on the writer thread and
called on the training thread at an epoch's end; JAX, `model.stateless_call` jitted and
called on the writer thread on host copies of the model's state (`JaxForward`); PyTorch,
Keras's eager call without autograd (`backend.no_grad`) on the training thread.
TensorFlow is imported only by the TensorFlow functions."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from summaries import confusion_pb
from summaries.keras import backend
from summaries.keras.images import as_unit_images, image_like
from summaries.keras.samples import concat
from summaries.protos import scalar_value

# The scalar under a confusion tag holding its whole-sequence accuracy (all positions right)
SEQUENCE_ACCURACY = "sequence_accuracy"
# Examples per call of the forward pass
_CHUNK = 1024
# (x, y, the model's outputs on x by head, head names)
Outputs = tuple[Any, Any, list[np.ndarray], list[str]]
# The name of a single classifier's one position, as the lessons' classifiers name theirs
SINGLE_POSITION = "all"
# The names Keras gives a model the user did not name (keras.Sequential, a functional
# keras.Model, a bare Model), with the suffix it adds to repeats
_AUTOMATIC_MODEL_NAME = re.compile(r"(sequential|functional|model)(_\d+)?")


def trace_predictor(model: Any, x: Any) -> Any:
    """The forward pass (inference mode), traced for the structure of the tensors `x` with
    any batch size, and called once on them. TensorFlow backend."""
    import tensorflow as tf

    specs = keras.tree.map_structure(lambda t: tf.TensorSpec([None, *t.shape[1:]], t.dtype), x)
    forward = tf.function(lambda inputs: model(inputs, training=False), autograph=False)
    predictor = forward.get_concrete_function(specs)
    predictor(x)
    return predictor


def predict(model: Any, x: Any, predictor: Any) -> tuple[list[np.ndarray], bool]:
    """(the model's outputs on `x`, by head, as host arrays; whether `predictor` refused
    inputs unlike those it was traced for), in chunks: through `predictor` (the traced
    forward pass, if any) while it takes them, else Keras's eager call."""
    outputs, refused = [], False
    for chunk in _chunks(x):
        out = None
        if predictor is not None and not refused:
            import tensorflow as tf

            try:
                out = predictor(keras.tree.map_structure(tf.convert_to_tensor, chunk))
            except (TypeError, ValueError, tf.errors.InvalidArgumentError):
                refused = True  # inputs unlike the sample's: the eager pass
        if out is None:
            with backend.no_grad():
                out = model(chunk, training=False)
        outputs.append(keras.tree.map_structure(backend.to_numpy, out))
    return flat_outputs(model, concat(outputs)), refused


def _chunks(x: Any) -> list[Any]:
    """`x` in chunks of at most `_CHUNK` examples."""
    count = len(keras.tree.flatten(x)[0])
    return [
        keras.tree.map_structure(lambda t, s=start: t[s : s + _CHUNK], x)
        for start in range(0, count, _CHUNK)
    ]


class JaxForward:
    """The model's forward pass in inference mode, `model.stateless_call` traced and
    compiled (`backend.jax_compile`) on its first call for each chunk shape, on the thread
    that calls it (the callback's writer thread); called on host copies of the model's
    state."""

    def __init__(self, model: Any):
        import jax

        self.model = model

        def forward(trainable: list, non_trainable: list, inputs: Any) -> Any:
            return model.stateless_call(trainable, non_trainable, inputs, training=False)[0]

        self._function = jax.jit(forward)
        self._compiled: dict[tuple, Any] = {}  # by the chunk's shapes and dtypes

    def __call__(
        self, trainable: list[np.ndarray], non_trainable: list[np.ndarray], x: Any
    ) -> list[np.ndarray]:
        """The model's outputs on `x`, by head, as host arrays."""
        outputs = []
        for chunk in _chunks(x):
            key = tuple((np.shape(t), str(np.asarray(t).dtype)) for t in keras.tree.flatten(chunk))
            if key not in self._compiled:
                args = (trainable, non_trainable, chunk)
                self._compiled[key] = backend.jax_compile(self._function, *args)
            out = self._compiled[key](trainable, non_trainable, chunk)
            outputs.append(keras.tree.map_structure(np.asarray, out))
        return flat_outputs(self.model, concat(outputs))


def flat_outputs(model: Any, structure: Any) -> list[Any]:
    """The model's outputs (or labels) as a list, by head, in the order of its outputs."""
    names = list(getattr(model, "output_names", None) or [])
    if isinstance(structure, dict) and names and set(names) <= set(structure):
        return [structure[n] for n in names]
    return keras.tree.flatten(structure)


def head_names(model: Any, count: int) -> list[str]:
    """The outputs' names (their layers' names for a Sequential model)."""
    names = list(getattr(model, "output_names", None) or [])
    if len(names) != count:
        try:  # symbolic outputs know the layer that made them
            names = [t._keras_history.operation.name for t in model.outputs]
        except (AttributeError, TypeError, ValueError):
            names = []
    return names if len(names) == count else [f"output_{i}" for i in range(count)]


def single_position_name(model: Any) -> str:
    """The name of the one position of a model with one classification head of one
    position: the model's name where the user gave it one (``keras.Sequential(...,
    name="digits")``), else ``"all"``; the output's name (often a layer's, such as
    ``dense_2``) would say nothing the page does not."""
    name = getattr(model, "name", None)
    if not isinstance(name, str) or not name or _AUTOMATIC_MODEL_NAME.fullmatch(name):
        return SINGLE_POSITION
    return name


def class_ids(label: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Labels and predicted ids [N, P] for a classification head, else None."""
    label = np.asarray(label)
    pred = np.asarray(pred)
    if pred.ndim < 2 or label.dtype.kind not in "iufb" or pred.dtype.kind != "f":
        return None
    k = pred.shape[-1]
    if k >= 2:
        if label.shape == pred.shape[:-1] or label.shape == (*pred.shape[:-1], 1):
            ids = label.reshape(pred.shape[:-1])
            if not (np.all(ids == np.round(ids)) and ids.min() >= 0 and ids.max() < k):
                return None
            ids = ids.astype(np.int64)
        elif label.shape == pred.shape:
            if not (np.isin(label, (0, 1)).all() and np.all(label.sum(-1) == 1)):
                return None
            ids = label.argmax(-1)
        else:
            return None
        predicted = pred.argmax(-1)
    else:  # one sigmoid unit: a binary head
        if label.size != pred.size or not np.isin(label, (0, 1)).all():
            return None
        if pred.min() < 0 or pred.max() > 1:
            return None
        ids = label.reshape(pred.shape[:-1]).astype(np.int64)
        predicted = (pred[..., 0] >= 0.5).astype(np.int64)
    ids = ids.reshape(len(ids), -1)
    predicted = predicted.reshape(len(predicted), -1)
    return ids, predicted


def sequence_accuracy_tag(option: str | bool | None, tag: str, positions: int) -> str | None:
    """The scalar tag the matrix names as its whole-sequence accuracy, if any: the
    callback's `sequence_accuracy_tag` `option` (a tag, None for its own, False)."""
    if isinstance(option, str):
        return option
    if option is None and positions > 1:
        return f"{tag}/{SEQUENCE_ACCURACY}"
    return None


def confusion_values(
    model: Any,
    outputs: Outputs,
    *,
    class_names: Sequence[str] | None,
    position_names: Sequence[str] | None,
    cap_per_cell: int,
    sequence_accuracy: str | bool | None,
) -> list:
    """One P x K x K summary (and its examples) per class count K, and the whole-sequence
    accuracy scalar where the callback logs its own.

    Positions are named `position_names` where they fit the positions, else after the
    heads (``<head>[j]`` for a head of several), except the one position of a model with
    a single classification head of one position (`single_position_name`)."""
    x, y, preds, names = outputs
    labels = flat_outputs(model, y) if len(preds) > 1 else keras.tree.flatten(y)
    if len(labels) != len(preds):
        return []
    groups: dict[int, dict[str, list]] = {}
    for name, label, pred in zip(names, labels, preds, strict=True):
        ids = class_ids(label, pred)
        if ids is None:
            continue
        k = max(2, pred.shape[-1])
        group = groups.setdefault(k, {"labels": [], "preds": [], "positions": []})
        group["labels"].append(ids[0])
        group["preds"].append(ids[1])
        p = ids[0].shape[1]
        group["positions"] += [name] if p == 1 else [f"{name}[{j}]" for j in range(p)]
    if sum(len(group["positions"]) for group in groups.values()) == 1:
        (group,) = groups.values()
        group["positions"] = [single_position_name(model)]
    images = None
    if groups and (image_like(x) or (isinstance(x, np.ndarray) and x.ndim == 3)):
        images = as_unit_images(x)
    values = []
    for k, group in groups.items():
        tag = "confusion" if len(groups) == 1 else f"confusion/{k}_classes"
        classes = (
            class_names if class_names and len(class_names) == k else [str(i) for i in range(k)]
        )
        positions = group["positions"]
        if position_names and len(position_names) == len(positions):
            positions = position_names
        lab = np.concatenate(group["labels"], axis=1)
        pred = np.concatenate(group["preds"], axis=1)
        sequence_tag = sequence_accuracy_tag(sequence_accuracy, tag, lab.shape[1])
        if sequence_tag == f"{tag}/{SEQUENCE_ACCURACY}":  # the callback's own scalar
            whole = float(np.mean(np.all(lab == pred, axis=1))) if len(lab) else math.nan
            values.append(scalar_value(sequence_tag, whole))
        summary = confusion_pb(
            tag,
            classes=classes,
            positions=positions,
            labels=lab,
            predictions=pred,
            images=images,
            cap_per_cell=cap_per_cell,
            sequence_accuracy_tag=sequence_tag,
        )
        values += list(summary.value)
    return values
