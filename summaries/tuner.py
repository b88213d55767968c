"""Keras Tuner searches with `SummaryCallback`: one run per trial, and the HParams tab.

Keras Tuner (1.4) deep-copies a search's callbacks for every execution of every trial, and
gives only a callback whose class is *named* ``TensorBoard`` a folder of its own per trial
(``<log_dir>/<trial_id>/execution<i>``), beside which it appends TensorBoard's `hparams`
Keras callback (a second, tf.summary, event file in that folder). A `SummaryCallback` is
deep-copyable, but Keras Tuner does not recognise it: each trial would write into the same
run.

`SummaryTuner`, mixed into a tuner class, meets the same layout through Keras Tuner's
public hooks (`run_trial`, `on_trial_end`), with no tf.summary writer:

* each `SummaryCallback` in the search's callbacks is replaced, for the trial, by one whose
  copies (one per execution) write into ``<log_dir>/<trial_id>/execution<i>``, every
  Flowscope part included;
* each such run holds the trial's HParams session: its hyper-parameter values (grouped by
  trial id), ``objective/<name>``, the best epoch value of each tuner objective (Keras
  Tuner's score of the trial), and a session end when `fit` returns;
* after the first trial with results, ``<log_dir>`` itself gets the experiment config: the
  search space's hyper-parameters with their domains, and as metrics the objectives and
  the trial's ``epoch/*`` scalars (not every Flowscope scalar).

    class Search(SummaryTuner, keras_tuner.RandomSearch):
        pass

    tuner = Search(build_model, objective="val_accuracy", max_trials=8, directory="kt")
    tuner.search(x, y, validation_data=(x_val, y_val), epochs=5,
                 callbacks=[SummaryCallback("logs/search")])

Keras Tuner is not imported here: the hooks use its objects (trial, hyper-parameters,
oracle) through their documented attributes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from summaries.callback import SummaryCallback
from summaries.hparams import Discrete, IntInterval, RealInterval, log_experiment
from summaries.keras.tags import clean

__all__ = ["SummaryTuner"]


class SummaryTuner:
    """Mix in before a Keras Tuner class (``class S(SummaryTuner, kt.RandomSearch)``): every
    `SummaryCallback` of a search writes one run per trial execution with the trial's
    hyper-parameters and objective, and the search's root folder gets the HParams
    experiment config."""

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
        """Keras Tuner's `run_trial`, with each `SummaryCallback` bound to the trial."""
        callbacks = kwargs.get("callbacks")
        if callbacks:
            kwargs["callbacks"] = [
                self._summary_trial(cb, trial) if isinstance(cb, SummaryCallback) else cb
                for cb in callbacks
            ]
        return super().run_trial(trial, *args, **kwargs)

    def on_trial_end(self, trial: Any) -> None:
        """Keras Tuner's `on_trial_end`; then, once per search root, the experiment config."""
        super().on_trial_end(trial)
        roots = self.__dict__.setdefault("_summary_roots", {})
        metrics = getattr(getattr(trial, "metrics", None), "metrics", None) or {}
        pending = [root for root, written in roots.items() if not written]
        if not pending or not metrics:
            return  # a failed trial: the next one with results writes it
        hparams = _domains(self.oracle.get_space())
        shown = {f"objective/{clean(name)}": f"{name} (objective)" for name, _ in _objectives(self)}
        shown.update({f"epoch/{clean(key)}": key for key in sorted(metrics)})
        for root in pending:
            log_experiment(root, hparams, shown)
            roots[root] = True

    def _summary_trial(self, callback: SummaryCallback, trial: Any) -> SummaryCallback:
        root = callback.log_dir.rstrip("/")
        self.__dict__.setdefault("_summary_roots", {}).setdefault(root, False)
        trial_id = str(trial.trial_id)
        values = _values(trial.hyperparameters)
        return callback._for_trial(f"{root}/{trial_id}", values, trial_id, _objectives(self))


def _objectives(tuner: Any) -> list[tuple[str, str]]:
    """(log name, "min" | "max") of the tuner's objective(s)."""
    objective = getattr(getattr(tuner, "oracle", None), "objective", None)
    if objective is None:
        return []
    parts = getattr(objective, "objectives", None) or [objective]
    out = []
    for part in parts:
        name, direction = getattr(part, "name", None), getattr(part, "direction", None)
        if isinstance(name, str) and name != "default_objective" and direction in ("min", "max"):
            out.append((name, direction))
    return out


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _values(hyperparameters: Any) -> dict[str, Any]:
    """The trial's active hyper-parameter values, as the HParams tab takes them."""
    values = {}
    for hp in hyperparameters.space:
        try:
            if not hyperparameters.is_active(hp):
                continue
            value = _plain(hyperparameters.get(hp.name))
        except (KeyError, ValueError):
            continue
        if isinstance(value, bool | int | float | str):
            values[hp.name] = value
        elif value is not None:
            values[hp.name] = str(value)
    return values


def _domain(hp: Any) -> Any:
    """A Keras Tuner hyper-parameter's domain for the HParams tab (as Keras Tuner gives it
    for TensorBoard), or None."""
    kind = type(hp).__name__
    try:
        if kind == "Choice":
            return Discrete([_plain(v) for v in hp.values])
        if kind == "Boolean":
            return Discrete([True, False])
        if kind == "Fixed":
            return Discrete([_plain(hp.value)])
        low, high, step = hp.min_value, hp.max_value, getattr(hp, "step", None)
        if kind == "Int":
            if step is not None and step != 1:
                return Discrete(list(range(low, high + 1, step)))
            return IntInterval(low, high)
        if kind == "Float":
            if step is not None:
                return Discrete(np.arange(low, high + 1e-7, step).tolist())
            return RealInterval(float(low), float(high))
    except (AttributeError, TypeError, ValueError):
        return None
    return None


def _domains(hyperparameters: Any) -> dict[str, Any]:
    return {hp.name: _domain(hp) for hp in hyperparameters.space}
