"""The optimizer race: a library for racing optimizers over 2-D loss surfaces and logging it.

Modules (each documented in its own docstring):

* `summary`: the race's summaries. `trajectory` / `surface` write to the default
  ``tf.summary`` writer; `trajectory_pb` / `surface_pb` build the protos with numpy only;
  `write_trajectory` / `write_surface` write them to a `summaries.pb.LogWriter`.
* `surfaces`: the loss surfaces (`SURFACES`): six analytic test functions with their
  closed-form `formula`, a linear regression and a small network's loss on a plane.
* `optimizers`: the racing Keras optimizers (`OPTIMIZERS`) and their default settings.
* `engine`: many optimizers stepping over surfaces in one compiled TensorFlow program
  (`race`), and `simulate` for one racer (what the Optimizer Race page's what-if runs).
* `tuning`: fair tuning (the same trials for every optimizer).
* `metrics`: arrival, settling and divergence of a trajectory (`trajectory_metrics`).
* `model_race`: `race_model`, optimizers racing on the user's own compiled Keras model,
  mapped on the plane of the racers' principal components (the model's real landscape).
* `landscape`: that map and its logs with numpy only (`race_landscape`): a PyTorch (or any)
  model's race from its racers' flat weights, losses and a loss function.
* `upgrade`: reading older race metadata (`upgrade.parse_content`), filling what version 1
  left out from the library.

Names are imported lazily, so ``import summaries.race`` loads neither TensorFlow nor numpy;
`engine` and `tuning` import TensorFlow only when a race runs. `TAGS` is the tag layout
Flowscope's own writers use (`summaries.format.RACE_TAGS`): a race is one run, each racer
NAME is a trajectory `race_tag("trajectory", NAME)` and a loss `race_tag("loss", NAME)`.
"""

from __future__ import annotations

import importlib
from typing import Any

from summaries._exports import lazy
from summaries.format import RACE_TAGS as TAGS

# The tag of each series in a racer's run (the same dict as `summaries.format.RACE_TAGS`).
TRAJECTORY_TAG: str = TAGS["trajectory"]
SURFACE_TAG: str = TAGS["surface"]
LOSS_TAG: str = TAGS["loss"]

_SUBMODULES = (
    "summary", "surfaces", "optimizers", "engine", "tuning", "metrics", "upgrade", "model_race",
    "landscape",
)  # fmt: skip

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # summaries: TensorFlow op, numpy protos, LogWriter writer
    "trajectory": "summaries.race.summary",
    "trajectory_pb": "summaries.race.summary",
    "trajectory_chunk_pb": "summaries.race.summary",
    "trajectory_chunks": "summaries.race.summary",
    "write_trajectory": "summaries.race.summary",
    "surface": "summaries.race.summary",
    "surface_pb": "summaries.race.summary",
    "write_surface": "summaries.race.summary",
    "trajectory_events": "summaries.race.summary",
    "trajectory_summaries": "summaries.race.summary",
    "DEFAULT_CHUNK": "summaries.race.summary",
    "TRAJECTORY_FIELDS": "summaries.race.summary",
    # the race layout: one run per race, one tag per racer (format version 3)
    "race_tag": "summaries.format",
    "loss_chart_pb": "summaries.race.summary",
    "racer_id": "summaries.format",
    # the library
    "SURFACES": "summaries.race.surfaces",
    "Surface": "summaries.race.surfaces",
    "get_surface": "summaries.race.surfaces",
    "OPTIMIZERS": "summaries.race.optimizers",
    "OptimizerSpec": "summaries.race.optimizers",
    "get_spec": "summaries.race.optimizers",
    "Racer": "summaries.race.engine",
    "Trajectory": "summaries.race.engine",
    "race": "summaries.race.engine",
    "simulate": "summaries.race.engine",
    "tune": "summaries.race.tuning",
    "trajectory_metrics": "summaries.race.metrics",
    # racing the user's own Keras model on its real loss landscape
    "race_model": "summaries.race.model_race",
    # the same for a model of any framework, from its racers' flat weights (numpy only)
    "race_landscape": "summaries.race.landscape",
}


_exported, _dir = lazy(globals(), _EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"summaries.race.{name}")
    return _exported(name)


def __dir__() -> list[str]:
    return sorted([*_dir(), *_SUBMODULES])


__all__ = sorted([*_EXPORTS, "TAGS", "TRAJECTORY_TAG", "SURFACE_TAG", "LOSS_TAG"])
