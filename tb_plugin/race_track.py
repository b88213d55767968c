"""A racer's path as the race plugin serves it: rows, their metrics and downsampled answers.

A `Track` is the rows (step, x, y, loss) of a logged trajectory (`decode_trajectory`, read
through `tb_plugin.data`) or of a simulated what-if (`tb_plugin.race_whatif`), with the
metadata that measures it (window, minima, tolerance); `path_json` is the answer of
/trajectory and /whatif built from one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from summaries.race.metrics import model_row, trajectory_metrics
from tb_plugin import race_geometry as geometry
from tb_plugin.base import not_found
from tb_plugin.data import LRU, Series

_SAMPLES_PER_PATH = 8  # downsampled answers kept per trajectory or what-if (one per `points`)

# Fields of the trajectory metadata repeated in /trajectory and /whatif answers.
DESCRIPTION = (
    "race",
    "optimizer",
    "surface",
    "window",
    "start",
    "minima",
    "basis",
    "tolerance",
    "tuning",
)


class Track:
    """Rows (step, x, y, loss) of a trajectory or what-if, with what is derived from them."""

    def __init__(self, rows: np.ndarray, content: dict[str, Any]):
        self.rows = rows
        self.content = content
        self._metrics: dict[str, Any] | None = None
        self._samples = LRU(_SAMPLES_PER_PATH)

    @property
    def last_step(self) -> int:
        """The step of the last row."""
        return int(self.rows[-1, 0])

    def metrics(self) -> dict[str, Any]:
        """trajectory_metrics of the rows (a leaderboard row, steps as logged)."""
        if self._metrics is None:
            self._metrics = _metrics(self.rows, self.content)
        return self._metrics

    def sample(self, points: int) -> dict[str, Any]:
        """The rows downsampled to at most `points` (LTTB), cached per `points`."""
        found = self._samples.get(points)
        if found is None:
            found = geometry.sample(self.rows, self.metrics(), points)
            self._samples.put(points, found)
        return found


def decode_trajectory(series: Series, data: list) -> Track:
    """A trajectory's chunks as one step-sorted Track (404 when no row is readable)."""
    rows = geometry.stack_rows([d.numpy for d in data])
    if rows is None:
        raise not_found(f"run {series.run!r} has no trajectory data yet")
    return Track(rows, series.content or {})


def track_cost(track: Track) -> int:
    """Bytes a cached Track holds: its rows, plus the samples and metrics kept with them."""
    return track.rows.nbytes * 4 + 4096


def path_json(
    head: dict[str, Any], content: dict[str, Any], track: Track, points: int, **hyper: Any
) -> dict[str, Any]:
    """A /trajectory or /whatif answer: `head` (id, run, tag, whatif), the description
    fields of the logged `content`, the `hyper`-parameters, the rows and their metrics."""
    return {
        **head,
        **{k: content.get(k) for k in DESCRIPTION},
        **hyper,
        **track.sample(points),
        "metrics": track.metrics(),
    }


def _metrics(rows: np.ndarray, content: dict[str, Any]) -> dict[str, Any]:
    """trajectory_metrics of one trajectory (the leaderboard row, steps as logged), with an
    own-model racer's logged leaderboard fields (`model_metrics`, read by `model_row`)."""
    tolerance = content.get("tolerance")
    if not isinstance(tolerance, int | float) or isinstance(tolerance, bool):
        tolerance = geometry.default_tolerance(content.get("window"), content.get("minima"))
    metrics = trajectory_metrics(
        rows[:, 1:3],
        rows[:, 3],
        minima=content.get("minima") or [],
        window=content.get("window"),
        tolerance=-math.inf if tolerance is None else float(tolerance),  # never arrives
        steps=rows[:, 0],
        unbounded_below=content.get("unbounded_below") is True,
    )
    row = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in metrics.items()}
    return {**row, **model_row(content.get("model_metrics"))}
