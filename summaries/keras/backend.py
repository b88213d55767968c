"""What differs between Keras 3's backends (TensorFlow, JAX, PyTorch) when reading a model:
where a variable's current value lives during `fit`, and host copies of it.

Keras's JAX trainer keeps the model's state outside the `keras.Variable`s during `fit`
(keras/src/backend/jax/trainer.py, checked on Keras 3.15): at each epoch's first train
step it takes the variables' values (`_get_jax_state`) and empties the variables
(`_purge_model_variables`: their value is gone, reading one raises); each train step then
consumes (donates) the previous step's state and returns the next, which the trainer keeps
in ``model._jax_state`` (a dict of value lists, aligned with ``model.trainable_variables``,
``model.non_trainable_variables``, ``model.optimizer.variables`` and
``model.metrics_variables``) until `jax_state_sync` puts it back into the variables (after
each epoch's last step, before validation and ``on_epoch_end``; ``model._jax_state_synced``
says whether it has). So between two train steps (in ``on_train_batch_begin``) the live
values are those of ``model._jax_state``, valid until the next step donates them; here they
are copied to the host at once and never kept. TensorFlow and PyTorch update their
variables in place: their values are always the variables'. No TensorFlow is imported here.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np

# (key of model._jax_state, the variables its values are aligned with)
_STATE_KEYS = (
    ("trainable_variables", lambda m: m.trainable_variables),
    ("non_trainable_variables", lambda m: m.non_trainable_variables),
    ("optimizer_variables", lambda m: m.optimizer.variables),
    ("metrics_variables", lambda m: m.metrics_variables),
)


# JAX executables compiled for the callback's probe and forward pass, by the text of the
# lowered program: another fit of the same architecture in this process (a sweep, a notebook
# cell run again, the benchmark) reuses the compilation, which costs far more than tracing.
_COMPILED: OrderedDict[str, Any] = OrderedDict()
_COMPILED_MAX = 16
_COMPILED_LOCK = threading.Lock()
# XLA's quick compilation: a function called once per epoch needs no costly optimisation
# (on the 2-core development machine it halves the compile time; calls stay ~10 ms)
_QUICK_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def name() -> str:
    """Keras's backend: ``"tensorflow"``, ``"jax"``, ``"torch"`` (or ``"numpy"``, ...)."""
    return keras.backend.backend()


def is_tensorflow() -> bool:
    """Whether Keras runs on TensorFlow (the only backend with an op graph)."""
    return name() == "tensorflow"


def live_values(model: Any) -> dict[int, Any] | None:
    """The JAX trainer's state by variable id while `fit` keeps it outside the variables
    (between train steps of an epoch); None when the variables hold their values (any other
    backend, or the JAX state synced back). The values are valid until the next train step:
    copy them (`host`) before returning to Keras."""
    state = getattr(model, "_jax_state", None)
    if not state or getattr(model, "_jax_state_synced", True):
        return None
    values: dict[int, Any] = {}
    for key, variables in _STATE_KEYS:
        current = state.get(key)
        if not current:
            continue
        try:
            owners = variables(model)
        except AttributeError:  # no optimizer
            continue
        if len(owners) == len(current):
            values.update(zip(map(id, owners), current, strict=True))
    return values


def to_numpy(value: Any) -> np.ndarray:
    """A host copy of a backend tensor, array or variable."""
    if isinstance(value, keras.Variable):
        value = value.value  # (numpy 2 warns about a Variable's own __array__)
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu()  # (numpy 2 warns about a tensor's own __array__)
        if value.is_floating_point() and value.element_size() < 4:
            value = value.float()  # bfloat16 and float16: no numpy view of the former
        return value.numpy().copy()  # a copy: torch updates its parameters in place
    return np.asarray(keras.ops.convert_to_numpy(value))


def host(variable: Any, live: dict[int, Any] | None = None) -> np.ndarray:
    """A host copy of `variable`'s current value: from `live` (see `live_values`) if it
    holds the variable, else the variable's own."""
    if live:
        value = live.get(id(variable))
        if value is not None:
            return to_numpy(value)
    return to_numpy(variable)


def host_values(model: Any, variables: list[Any]) -> list[np.ndarray]:
    """Host copies of `variables`' current values (the JAX trainer's state where it holds
    them)."""
    live = live_values(model)
    return [host(v, live) for v in variables]


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """PyTorch's `no_grad` on the torch backend (an inference pass builds no autograd
    graph); nothing elsewhere."""
    if name() == "torch":
        import torch

        with torch.no_grad():
            yield
    else:
        yield


def jax_compile(function: Any, *args: Any) -> Any:
    """`function` (a `jax.jit` function) compiled for `args`: traced (lowered) here, and
    compiled with XLA's quick options unless this process compiled the same program
    before. Call the result with arguments of the same structure, shapes and dtypes."""
    lowered = function.lower(*args)
    key = lowered.as_text()
    with _COMPILED_LOCK:
        compiled = _COMPILED.get(key)
        if compiled is not None:
            _COMPILED.move_to_end(key)
            return compiled
    try:
        compiled = lowered.compile(compiler_options=_QUICK_COMPILE)
    except Exception:  # an XLA build without these options
        compiled = lowered.compile()
    with _COMPILED_LOCK:
        _COMPILED[key] = compiled
        while len(_COMPILED) > _COMPILED_MAX:
            _COMPILED.popitem(last=False)
    return compiled
