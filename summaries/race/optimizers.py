"""The racing optimizers: real `keras.optimizers`, with defaults chosen for the toy surfaces.

Keras' own defaults (e.g. learning rate 0.001 everywhere) barely move on a 2-D test
function in a few hundred steps, so each racer gets a default suited to these surfaces;
every value can be overridden. Options that would couple the rows of a batched variable
(clipnorm, global_clipnorm) or change what a step is (EMA, gradient accumulation, loss
scaling) are not offered.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any

# Constructor arguments never exposed: see the module docstring.
_EXCLUDED = {
    "name",
    "kwargs",
    "clipnorm",
    "global_clipnorm",
    "use_ema",
    "ema_momentum",
    "ema_overwrite_frequency",
    "loss_scale_factor",
    "gradient_accumulation_steps",
}


@dataclass(frozen=True)
class OptimizerSpec:
    """One racer: a Keras optimizer class, fixed arguments and default hyper-parameters."""

    name: str
    title: str
    keras_class: str
    defaults: dict[str, Any]
    fixed: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def tunable(self) -> tuple[str, ...]:
        """Hyper-parameters `--tune` searches: the learning rate, and momentum if it has one."""
        return ("learning_rate", "momentum") if "momentum" in self.defaults else ("learning_rate",)

    def allowed(self) -> dict[str, Any]:
        """Settable hyper-parameters with Keras' own defaults."""
        import keras

        cls = getattr(keras.optimizers, self.keras_class)
        params = inspect.signature(cls).parameters
        return {
            key: p.default
            for key, p in params.items()
            if key not in _EXCLUDED and key not in self.fixed
        }


OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec
    for spec in [
        OptimizerSpec(
            "sgd", "SGD", "SGD", {"learning_rate": 0.001}, {"momentum": 0.0, "nesterov": False}
        ),
        OptimizerSpec(
            "momentum",
            "Momentum",
            "SGD",
            {"learning_rate": 0.001, "momentum": 0.9},
            {"nesterov": False},
            "SGD(momentum=...)",
        ),
        OptimizerSpec(
            "nag",
            "NAG",
            "SGD",
            {"learning_rate": 0.001, "momentum": 0.9},
            {"nesterov": True},
            "SGD(momentum=..., nesterov=True)",
        ),
        OptimizerSpec("adagrad", "Adagrad", "Adagrad", {"learning_rate": 0.5}),
        OptimizerSpec("rmsprop", "RMSprop", "RMSprop", {"learning_rate": 0.01, "momentum": 0.0}),
        OptimizerSpec("adadelta", "Adadelta", "Adadelta", {"learning_rate": 1.0, "epsilon": 1e-6}),
        OptimizerSpec("adam", "Adam", "Adam", {"learning_rate": 0.05}),
        OptimizerSpec("adamax", "Adamax", "Adamax", {"learning_rate": 0.05}),
        OptimizerSpec("nadam", "Nadam", "Nadam", {"learning_rate": 0.05}),
        OptimizerSpec("adamw", "AdamW", "AdamW", {"learning_rate": 0.05, "weight_decay": 0.004}),
        OptimizerSpec("lion", "Lion", "Lion", {"learning_rate": 0.005}),
        OptimizerSpec("ftrl", "Ftrl", "Ftrl", {"learning_rate": 0.5}),
    ]
}


def get_spec(name: str, argument: str = "optimizer") -> OptimizerSpec:
    """The racer called `name`, or ValueError naming the argument."""
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise ValueError(f"{argument} must be one of {', '.join(OPTIMIZERS)}; got {name!r}")
    return OPTIMIZERS[name]


def resolve(
    name: str,
    hyperparameters: dict[str, Any] | None = None,
    surface_defaults: dict[str, dict[str, Any]] | None = None,
    argument: str = "hyperparameters",
) -> dict[str, Any]:
    """Racer defaults, then the surface's defaults, then `hyperparameters`, checked."""
    spec = get_spec(name)
    merged = dict(spec.defaults)
    merged.update((surface_defaults or {}).get(name, {}))
    if hyperparameters is None:
        hyperparameters = {}
    if not isinstance(hyperparameters, dict):
        raise ValueError(f"{argument} must be a dict, got {type(hyperparameters).__name__}")
    allowed = spec.allowed()
    for key, value in hyperparameters.items():
        if key not in allowed:
            raise ValueError(
                f"{argument}: {name} has no hyper-parameter {key!r} "
                f"(allowed: {', '.join(sorted(allowed))})"
            )
        merged[key] = _check_value(f"{argument}[{key!r}]", key, value, allowed[key])
    return merged


def _check_value(argument: str, key: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{argument} must be true or false, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{argument} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{argument} must be finite, got {value}")
    if key == "learning_rate" and value <= 0:
        raise ValueError(f"{argument} must be > 0, got {value}")
    if key in ("momentum", "rho", "beta_1", "beta_2") and not 0 <= value < 1:
        raise ValueError(f"{argument} must be in [0, 1), got {value}")
    if key in ("epsilon", "weight_decay", "initial_accumulator_value", "clipvalue") and value < 0:
        raise ValueError(f"{argument} must be >= 0, got {value}")
    return value


def make(name: str, hyperparameters: dict[str, Any]) -> Any:
    """A fresh Keras optimizer for resolved hyper-parameters."""
    import keras

    spec = get_spec(name)
    cls = getattr(keras.optimizers, spec.keras_class)
    try:
        return cls(**spec.fixed, **hyperparameters)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"hyperparameters rejected by keras.optimizers.{cls.__name__}: {exc}"
        ) from None


def parse_overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    """Parse `opt.key=value` strings (value: number, true or false) into {opt: {key: value}}."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        head, sep, raw = item.partition("=")
        opt, dot, key = head.strip().partition(".")
        if not sep or not dot or not opt or not key:
            raise ValueError(f"--hp must look like OPTIMIZER.NAME=VALUE, got {item!r}")
        get_spec(opt, "--hp optimizer")
        raw = raw.strip()
        if raw.lower() in ("true", "false"):
            value: Any = raw.lower() == "true"
        else:
            try:
                value = float(raw)
            except ValueError:
                raise ValueError(
                    f"--hp value must be a number, true or false, got {item!r}"
                ) from None
        resolve(opt, {key: value}, argument="--hp")  # check the key and value now
        out.setdefault(opt, {})[key] = value
    return out
