"""The one place Flowscope reads Keras's private state: the data of the running `fit`.

Keras 3 hands a callback no public route to the inputs of the `fit` it observes: `params`
holds only ``verbose``, ``epochs`` and ``steps``, `on_train_begin` gets no logs, the batch
and epoch logs hold only numbers, and the model keeps no reference to `x` or
`validation_data`. `SummaryCallback` falls back on the function below when its `data=` /
`validation_data=` arguments are not given. `tests/test_keras_internals.py` runs real `fit`
calls (arrays, a `tf.data.Dataset`) and fails when a Keras release changes what it reads.
"""

from __future__ import annotations

import sys
from typing import Any

# Data adapters that read their data again from the start (get_numpy_iterator) without
# consuming the user's iterator; a generator or a PyDataset cannot be read twice.
READABLE_ADAPTERS = ("ArrayDataAdapter", "TFDatasetAdapter")


def fit_adapter(model: Any, which: str) -> Any:
    """The data adapter of the running `fit`'s training (``"train"``) or validation
    (``"validation"``) data, if it can be read again; else None.

    It reads these private parts of Keras 3 (keras/src/backend/tensorflow/trainer.py and
    keras/src/trainers/epoch_iterator.py, checked on Keras 3.15):

    * training: `fit`'s local variable ``epoch_iterator`` (an `EpochIterator`), found by
      walking up at most 12 interpreter frames from the caller with `sys._getframe`
      (`fit` -> `CallbackList.on_train_begin` -> the callback's hook -> ... -> here);
    * validation: ``model._eval_epoch_iterator``, which `fit` makes at its first
      validation, before `on_epoch_end`, and deletes after its last epoch;
    * the iterator's ``data_adapter`` attribute, kept only when its class's name is
      ``ArrayDataAdapter`` or ``TFDatasetAdapter`` (both in ``keras.src``, so matched by
      name), whose `get_numpy_iterator()` the caller then uses to read examples.
    """
    if which == "validation":
        iterator = getattr(model, "_eval_epoch_iterator", None)
    else:
        iterator, frame = None, sys._getframe(1)
        for _ in range(12):  # fit() -> CallbackList.on_train_begin -> ... -> here
            if frame is None:
                break
            candidate = frame.f_locals.get("epoch_iterator")
            if candidate is not None and hasattr(candidate, "data_adapter"):
                iterator = candidate
                break
            frame = frame.f_back
    adapter = getattr(iterator, "data_adapter", None)
    return adapter if type(adapter).__name__ in READABLE_ADAPTERS else None
