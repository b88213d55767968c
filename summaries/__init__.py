"""Flowscope's instrumentation library.

Public names are imported lazily so that `summaries.format` (used by TensorBoard at
start-up) never pulls in TensorFlow.
"""

from __future__ import annotations

from summaries._exports import lazy

# public name -> module that defines it; each owner adds its names here
_EXPORTS: dict[str, str] = {
    # basic summaries (TensorFlow)
    "scalar": "summaries.basic",
    "histogram": "summaries.basic",
    "image": "summaries.basic",
    "histogram_buckets": "summaries.basic",
    "variable_summaries": "summaries.basic",
    "scope_tag": "summaries.basic",
    # optimizer races
    "trajectory": "summaries.race.summary",
    "trajectory_pb": "summaries.race.summary",
    "write_trajectory": "summaries.race.summary",
    "surface": "summaries.race.summary",
    "surface_pb": "summaries.race.summary",
    "write_surface": "summaries.race.summary",
    "trajectory_metrics": "summaries.race.metrics",
    # per-position confusion
    "confusion": "summaries.position_confusion",
    "confusion_counts": "summaries.position_confusion",
    "confusion_pb": "summaries.position_confusion",
    "write_confusion": "summaries.position_confusion",
    # writing event files without TensorFlow
    "LogWriter": "summaries.writer",
    # the one-line Keras callback
    "SummaryCallback": "summaries.callback",
}


__getattr__, __dir__ = lazy(globals(), _EXPORTS)


__all__ = sorted(_EXPORTS)
