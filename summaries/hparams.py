"""Hyper-parameters and results for TensorBoard's HParams tab, without TensorFlow.

TensorBoard's HParams plugin reads three kinds of summary (its own protos, built here with
`tensorboard.plugins.hparams`' TensorFlow-free modules and written through a `LogWriter`):

* a **session start** in each run of the sweep (`session_start_pb`): the run's
  hyper-parameter values and its group (runs of one group, e.g. one Keras Tuner trial's
  executions, form one row);
* a **session end** (`session_end_pb`): the run's status and end time;
* one **experiment** config (`experiment_pb`), usually in the sweep's root folder: which
  hyper-parameters (with their domains) and which metrics (scalar tags in the runs) the tab
  shows. Without it TensorBoard lists every scalar tag of the runs as a metric.

A metric's value in the tab is the last value of its scalar tag in the run (or in the
run's sub-folder named by the metric's group). `SummaryCallback(hparams=...)` writes a
session into the callback's run; `log_hparams` writes one, with metric values, from any
loop; `log_experiment` writes the config once; `summaries.tuner` does all of it for Keras
Tuner searches.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from tensorboard.plugins.hparams.summary_v2 import (
    Discrete,
    Domain,
    HParam,
    IntInterval,
    Metric,
    RealInterval,
    hparams_config_pb,
    hparams_pb,
)

from summaries import checks
from summaries.protos import scalar_value
from summaries.writer import LogWriter

__all__ = [
    "Discrete",
    "HParam",
    "IntInterval",
    "Metric",
    "RealInterval",
    "check_hparams",
    "experiment_pb",
    "log_experiment",
    "log_hparams",
    "session_end_pb",
    "session_start_pb",
]

#: a session's status, by name (TensorBoard's `api_pb2.Status`)
STATUS = {
    "success": api_pb2.STATUS_SUCCESS,
    "failure": api_pb2.STATUS_FAILURE,
    "running": api_pb2.STATUS_RUNNING,
    "unknown": api_pb2.STATUS_UNKNOWN,
}

Value = bool | int | float | str


def _value(argument: str, value: Any) -> Value:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{argument} must be finite, got {value}")
        return value
    raise checks.ArgumentTypeError(
        f"{argument} must be a bool, int, float or str, got {type(value).__name__}"
    )


def check_hparams(value: Any, argument: str = "hparams") -> dict[str, Value]:
    """A {name: bool | int | float | str} dict (keys may be `HParam`s), checked."""
    if not isinstance(value, Mapping):
        raise checks.ArgumentTypeError(
            f"{argument} must be a dict of hyper-parameter values, got {type(value).__name__}"
        )
    out: dict[str, Value] = {}
    for key, item in value.items():
        name = key.name if isinstance(key, HParam) else key
        checks.check_text(f"{argument} keys", name)
        if name in out:
            raise ValueError(f"{argument} names {name!r} twice")
        out[name] = _value(f"{argument}[{name!r}]", item)
    return out


def _tensor_class(summary: summary_pb2.Summary) -> summary_pb2.Summary:
    # the data class TensorBoard's loaders give the hparams plugin's own summaries
    for value in summary.value:
        value.metadata.data_class = summary_pb2.DATA_CLASS_TENSOR
    return summary


def session_start_pb(
    hparams: Mapping[Any, Any], *, group: str | None = None, start_time: float | None = None
) -> summary_pb2.Summary:
    """A run's session start: its hyper-parameter values; runs with the same `group` (by
    default a hash of the values) form one row of the HParams table."""
    values = check_hparams(hparams)
    if group is not None:
        checks.check_text("group", group)
    return _tensor_class(hparams_pb(values, trial_id=group, start_time_secs=start_time))


def session_end_pb(
    status: str = "success", *, end_time: float | None = None
) -> summary_pb2.Summary:
    """A run's session end: `status` ("success", "failure", "running" or "unknown")."""
    if status not in STATUS:
        raise ValueError(f"status must be one of {sorted(STATUS)}, got {status!r}")
    info = plugin_data_pb2.SessionEndInfo(
        status=STATUS[status], end_time_secs=time.time() if end_time is None else end_time
    )
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=metadata.SESSION_END_INFO_TAG,
        metadata=metadata.create_summary_metadata(
            plugin_data_pb2.HParamsPluginData(session_end_info=info)
        ),
        tensor=metadata.NULL_TENSOR,
    )
    return _tensor_class(summary)


def _domain(name: str, spec: Any) -> Domain | None:
    if spec is None or isinstance(spec, Domain):
        return spec
    if isinstance(spec, Sequence | set | frozenset) and not isinstance(spec, str):
        values = [_value(f"hparams[{name!r}]", v) for v in spec]
        if not values:
            raise ValueError(f"hparams[{name!r}] must list at least one value")
        try:
            return Discrete(values)
        except ValueError as exc:  # mixed types
            raise ValueError(f"hparams[{name!r}]: {exc}") from None
    raise checks.ArgumentTypeError(
        f"hparams[{name!r}] must be a list of values, a Discrete / IntInterval / "
        f"RealInterval domain or None, got {type(spec).__name__}"
    )


def _hparam_list(hparams: Any) -> list[HParam]:
    if isinstance(hparams, Mapping):
        out = []
        for name, spec in hparams.items():
            checks.check_text("hparams keys", name)
            out.append(HParam(name, _domain(name, spec)))
        return out
    if isinstance(hparams, Sequence) and not isinstance(hparams, str):
        for item in hparams:
            if not isinstance(item, HParam):
                raise checks.ArgumentTypeError(
                    f"hparams must be a dict of domains or a list of HParam, "
                    f"got a {type(item).__name__} in the list"
                )
        return list(hparams)
    raise checks.ArgumentTypeError(
        f"hparams must be a dict of domains or a list of HParam, got {type(hparams).__name__}"
    )


def _metric_list(metrics: Any) -> list[Metric]:
    if isinstance(metrics, Mapping):
        out = []
        for tag, display in metrics.items():
            checks.check_tag(tag, "metrics keys")
            if display is not None:
                checks.check_text(f"metrics[{tag!r}]", display)
            out.append(Metric(tag, display_name=display))
        return out
    if isinstance(metrics, Sequence) and not isinstance(metrics, str):
        out = []
        for item in metrics:
            if isinstance(item, Metric):
                out.append(item)
            else:
                out.append(Metric(checks.check_tag(item, "metrics")))
        return out
    raise checks.ArgumentTypeError(
        f"metrics must be a list of scalar tags or a dict of tag -> display name, "
        f"got {type(metrics).__name__}"
    )


def experiment_pb(
    hparams: Any, metrics: Any, *, time_created: float | None = None
) -> summary_pb2.Summary:
    """The experiment config: `hparams` ({name: list of values | domain | None} or a list
    of `HParam`) and `metrics` (scalar tags, {tag: display name} or `Metric`s)."""
    return _tensor_class(
        hparams_config_pb(_hparam_list(hparams), _metric_list(metrics), time_created)
    )


def log_hparams(
    run_dir: Any,
    hparams: Mapping[Any, Any],
    metrics: Mapping[str, float] | None = None,
    *,
    group: str | None = None,
    step: int = 0,
    status: str = "success",
) -> None:
    """Write one run's session (hyper-parameter values, `status`) and its `metrics`
    ({scalar tag: value}, at `step`) into `run_dir`, for a loop without the callback."""
    start = session_start_pb(hparams, group=group)
    end = session_end_pb(status)
    step = checks.check_step(step)
    if metrics is not None and not isinstance(metrics, Mapping):
        raise checks.ArgumentTypeError(
            f"metrics must be a dict of scalar tag -> value, got {type(metrics).__name__}"
        )
    values = []
    for tag, value in (metrics or {}).items():
        checks.check_tag(tag, "metrics keys")
        number = _value(f"metrics[{tag!r}]", value)
        if isinstance(number, bool | str):
            raise checks.ArgumentTypeError(f"metrics[{tag!r}] must be a number, got {value!r}")
        values.append(scalar_value(tag, float(number)))
    with LogWriter(run_dir) as writer:
        writer.add(start, 0)
        if values:
            writer.add(summary_pb2.Summary(value=values), step)
        writer.add(end, 0)


def log_experiment(logdir: Any, hparams: Any, metrics: Any) -> None:
    """Write the experiment config (see `experiment_pb`) into `logdir`, the sweep's root
    folder, once per sweep."""
    summary = experiment_pb(hparams, metrics)
    with LogWriter(logdir) as writer:
        writer.add(summary, 0)
