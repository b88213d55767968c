"""Flowscope's on-disk format: plugin names, versioned metadata and tensor layouts.

This module is the single source of truth shared by the writers in `summaries` and the
readers in `tb_plugin`; every field a page shows is listed here. It imports only the
standard library and TensorBoard's protos (never TensorFlow, never numpy), because
TensorBoard loads it at start-up.

Every summary sets `SummaryMetadata.data_class` (TensorBoard back-fills it only for its own
plugins) and carries a UTF-8 JSON `plugin_data.content` with ``version`` and ``kind``.
Readers accept every version in `READABLE`; `parse_content` upgrades older metadata to
the current layout (a race's through `summaries.race.upgrade`, which adds what only the
race library knows), so readers only ever see version `VERSION`. Writers may add further
JSON fields; readers ignore the ones they do not know.

optimizer_race (since version 3: one run per race, e.g. ``race-saddle``, holding every racer)
  Layout of Flowscope's writers (`race_tag`): the race's surface ``race/surface``, and per
  racer NAME a trajectory ``race/trajectory/NAME`` and a loss scalar ``race/loss/NAME`` (so a
  race adds one run to TensorBoard's run lists, and its losses sit side by side in one
  Scalars section). Versions 1 and 2 wrote one run per racer (``race-saddle/adam``) with the
  tags ``race/trajectory``, ``race/surface``, ``race/loss``; readers accept both, and any
  other layout: races are grouped by the ``race`` field, never by run or tag.
  A racer is one trajectory series, identified by (run, tag); `racer_id` gives it one string
  and `racer_name` its name within the race.
  kind "trajectory": TENSOR, float64 [n, 4] rows of (step, x, y, loss); a long trajectory
      is written as consecutive chunks, each event's step is the first step in its chunk.
      content:
        race              name of the race the racer belongs to (racers are grouped by it)
        optimizer         optimizer name, e.g. "adam"
        hyperparameters   {name: value} the racer ran with (learning_rate, momentum, ...)
        surface           surface name, e.g. "rosenbrock"
        window            [xmin, xmax, ymin, ymax] of the map
        start             [x, y] of the race's first step, or null
        minima            [[x, y], ...] known minima (may be empty)
        basis             null, or a description of the 2-D projection of a model's weights
                          (free JSON; an own-model race's also says `method`, `explained`
                          per direction, `captured`, `axes`: `summaries.race.model_race`)
        chunk             rows per chunk
        -- display fields (version 2; defaults in `TRAJECTORY_DEFAULTS`) --
        optimizer_title   the optimizer's label on the page
        surface_title     the surface's label on the page
        description       one sentence about the surface (shown as the surface's tooltip)
        formula           the surface's closed form as plain text, or null
        analytic          true when `surface` names a closed-form surface of
                          `summaries.race.SURFACES` that the what-if can re-run
        tolerance         arrival radius around a minimum (with minima) or loss threshold
                          (without); null: 1 % of the window diagonal with minima, else none
        order             the racer's place in the race's colour order (0, 1, ...), or null
        log_scale         whether the surface reads best on a log scale
        tuning            null, or how the hyper-parameters were tuned (budget, method, ...)
        unbounded_below   true when the surface has no lower bound (the saddle): leaving
                          its window is an escape, not a divergence (default false)
        racer             (version 3) the racer's name within its race, e.g. "adam"; null:
                          named by its tag or run (`racer_name`)
        axes              [x name, y name] of the surface's two parameters (the map's axes,
                          e.g. ["k", "b"]); null: "x" and "y" (filled from the library on
                          reading when the surface is one of its own)
        model_metrics     (version 5) null, or an own-model racer's leaderboard, computed
                          by the writer (`summaries.race.metrics.model_metrics`; the page
                          shows these values and never reads them off tag names):
            ranked_by       what the race ranks by: "val_loss" (best validation loss),
                            "val_<metric>" (best value of a compiled metric on the validation
                            data) or "loss" (final training loss: no validation data)
            goal            "min" or "max": which way `ranked_by` is better
            score, score_step   the racer's value of `ranked_by` and its step (null: none)
            best_val_loss, best_val_loss_step, final_val_loss   (null without validation)
            target          the value of `ranked_by` whose first reaching is timed, or null
            target_rule     "given" (set by the user) or "default" (90 % of the way from
                            the racers' common value at step 0 to the best score of any
                            racer: `summaries.race.metrics.default_target`)
            target_step     the first step at which `ranked_by` reached `target` (validation
                            steps for "val_*", every step for "loss"), or null
            target_seconds  the racer's own update time (s) up to `target_step`, or null
            ms_per_step     the racer's mean wall time per update (ms)
            timed_steps     the updates measured
            timing          "sequential" (the racer's own compiled step, racers one after
                            another on each batch) or "batched" (one compiled step of all
                            racers: the whole step's time)
            history         {"val_loss": [[step, value], ...], `ranked_by`: ...}: the
                            validation series shown (at most about 1,000 points each; {}
                            without validation), for the page's race as of a step
            tags            {"loss": tag, "val_loss": tag, "val_<metric>": tag, ...}: the
                            scalar tags, in the same run, of this racer's series
  kind "surface": TENSOR, float32 [ny, nx] loss values on a regular grid over `window`
      (rows follow y, columns follow x). content: race, surface, window, minima, log_scale.

position_confusion
  kind "matrix": TENSOR, the [P, K, K] counts (rows = true class, columns = predicted) in
      one of two layouts, named by ``layout`` (version 4; earlier versions are "dense"):
        "dense"    int64 [P, K, K] counts. Flowscope's writers use it while P x K x K is at
                   most `DENSE_MAX_CELLS` (a small matrix reads as-is in any tool).
        "sparse"   int32 [n, 4] rows (position, true, predicted, count) of the non-zero
                   cells, sorted, counts > 0 (int64 rows if a count exceeds 2^31 - 1). Its
                   size grows with the samples, not with K^2: a 1,000-class validation pass
                   of 50,000 samples is at most 50,000 rows (800 KB), where the dense
                   tensor is 1,000,000 cells (8 MB) at every step.
      Readers tell the layouts apart by rank (3: dense, 2: sparse), so any step reads
      whatever ``layout`` says (`summaries.position_confusion.counts.dense_counts`).
      content:
        positions               [P names]
        classes                 [K names]
        sequence_accuracy_tag   (version 2) the scalar tag, in the same run and at the same
                                steps, holding whole-sequence accuracy (all P positions
                                right); null when none is logged
        layout                  (version 4) "dense" or "sparse", as above
  kind "examples": BLOB_SEQUENCE, 1-D string tensor. Blob 0 is a UTF-8 JSON index
      {"cells": [[position, true, predicted], ...]} with one entry per following blob;
      blobs 1.. are PNG images. content: matrix_tag, cap_per_cell.

Version 1 (Flowscope 0.1) had no display fields and no ``sequence_accuracy_tag``; version 2
wrote one run per racer and had no ``racer``; versions 1 to 3 wrote every matrix dense (no
``layout``; a race's metadata is the same in versions 3 and 4); versions 1 to 4 had no
trajectory ``model_metrics`` (read as null: ranked by arrival; a matrix's metadata is the
same in versions 4 and 5); see `upgrade` (and, for the fields of a race trajectory that the
race library knows, `summaries.race.upgrade`) for how such metadata is read.
"""

from __future__ import annotations

import json
from typing import Any

from tensorboard.compat.proto import summary_pb2

RACE_PLUGIN = "optimizer_race"
CONFUSION_PLUGIN = "position_confusion"
VERSION = 5
READABLE = (1, 2, 3, 4, 5)

TRAJECTORY = "trajectory"
SURFACE = "surface"
MATRIX = "matrix"
EXAMPLES = "examples"

_KINDS = {RACE_PLUGIN: (TRAJECTORY, SURFACE), CONFUSION_PLUGIN: (MATRIX, EXAMPLES)}
_DATA_CLASS = {
    TRAJECTORY: summary_pb2.DATA_CLASS_TENSOR,
    SURFACE: summary_pb2.DATA_CLASS_TENSOR,
    MATRIX: summary_pb2.DATA_CLASS_TENSOR,
    EXAMPLES: summary_pb2.DATA_CLASS_BLOB_SEQUENCE,
}

# Display fields of a trajectory and their values when a writer leaves them out.
# None for a title means "the name itself" (optimizer or surface).
TRAJECTORY_DEFAULTS: dict[str, Any] = {
    "optimizer_title": None,
    "surface_title": None,
    "description": None,
    "formula": None,
    "analytic": False,
    "tolerance": None,
    "order": None,
    "log_scale": False,
    "tuning": None,
    "unbounded_below": False,
    "racer": None,
    "axes": None,
    "model_metrics": None,
}
DENSE = "dense"
SPARSE = "sparse"
MATRIX_LAYOUTS = (DENSE, SPARSE)
# Flowscope's writers store a matrix dense up to this many cells (P x K x K: 32 KiB of int64
# per step, e.g. 4 x 32 x 32 or 1 x 64 x 64), sparse beyond.
DENSE_MAX_CELLS = 4096
MATRIX_DEFAULTS: dict[str, Any] = {"sequence_accuracy_tag": None, "layout": DENSE}

# Tags of the race layout that Flowscope's own writers use (per racer: `race_tag`); readers
# find series by plugin and kind, and use these only to name racers and to prefer one tag.
RACE_TAGS = {"trajectory": "race/trajectory", "surface": "race/surface", "loss": "race/loss"}

# Version 1 carried no sequence_accuracy_tag; its writers logged whole-sequence accuracy
# under one of these scalar names (last tag component, any case, Keras's "epoch_" prefix
# dropped). Only version-1 metadata is matched against them.
V1_SEQUENCE_ACCURACY_NAMES = frozenset(
    {
        "sequence_accuracy",
        "whole_accuracy",
        "whole_sequence_accuracy",
        "captcha_accuracy",
        "whole_captcha_accuracy",
        "exact_match",
    }
)


class FormatError(ValueError):
    """Metadata that this version of Flowscope cannot read."""


def matrix_layout(positions: int, classes: int) -> str:
    """The layout Flowscope's writers give a [P, K, K] matrix: dense up to
    `DENSE_MAX_CELLS` cells, sparse beyond."""
    return DENSE if positions * classes * classes <= DENSE_MAX_CELLS else SPARSE


def race_tag(kind: str, racer: str | None = None) -> str:
    """The tag of one series of the race layout: ``race/surface``, ``race/trajectory/NAME``,
    ``race/loss/NAME`` (without `racer`: the version-2 tag of a run holding one racer)."""
    if kind not in RACE_TAGS:
        raise ValueError(f"kind must be one of {sorted(RACE_TAGS)}, got {kind!r}")
    if racer is None:
        return RACE_TAGS[kind]
    if kind == "surface":
        raise ValueError("racer must be None for the surface tag (one surface per race)")
    if not isinstance(racer, str):
        raise TypeError(f"racer must be a string or None, got {racer!r}")
    if not racer.strip("/") or racer != racer.strip("/ "):
        raise ValueError(f"racer must be a non-empty name without outer slashes, got {racer!r}")
    return f"{RACE_TAGS[kind]}/{racer}"


def racer_name(run: str, tag: str, content: dict[str, Any] | None = None) -> str:
    """A racer's name within its race: the logged ``racer``, else the part of its tag after
    ``race/trajectory/``, else (a version-2 run of one racer) its run's last component."""
    logged = (content or {}).get("racer")
    if isinstance(logged, str) and logged:
        return logged
    if tag == RACE_TAGS["trajectory"]:
        return run.rstrip("/").rsplit("/", 1)[-1] or run
    return _tag_racer(tag)


def racer_id(run: str, tag: str) -> str:
    """One string for the racer (run, tag): the run itself for the version-2 layout (tag
    ``race/trajectory``), else ``RUN/NAME`` (NAME the tag after ``race/trajectory/``, or the
    whole tag). Unique as long as no run is named like another run's racer; readers make it
    unique where one is."""
    if tag == RACE_TAGS["trajectory"]:
        return run
    return f"{run}/{_tag_racer(tag)}"


def _tag_racer(tag: str) -> str:
    """The part of a trajectory tag after ``race/trajectory/``, else the whole tag."""
    prefix = RACE_TAGS["trajectory"] + "/"
    return tag[len(prefix) :] if tag.startswith(prefix) and len(tag) > len(prefix) else tag


def make_metadata(
    plugin_name: str, kind: str, content: dict[str, Any], description: str = ""
) -> summary_pb2.SummaryMetadata:
    """Build the SummaryMetadata (current version) for one Flowscope summary kind."""
    if plugin_name not in _KINDS:
        raise ValueError(f"plugin_name must be one of {sorted(_KINDS)}, got {plugin_name!r}")
    if kind not in _KINDS[plugin_name]:
        raise ValueError(f"kind must be one of {_KINDS[plugin_name]}, got {kind!r}")
    payload = {"version": VERSION, "kind": kind, **content}
    metadata = summary_pb2.SummaryMetadata(
        summary_description=description, data_class=_DATA_CLASS[kind]
    )
    metadata.plugin_data.plugin_name = plugin_name
    metadata.plugin_data.content = json.dumps(payload, allow_nan=False).encode("utf-8")
    return metadata


def decode_content(content: bytes) -> dict[str, Any]:
    """Decode a plugin content blob as written (any version in `READABLE`), not upgraded.

    Raises FormatError for garbage or a version this Flowscope cannot read.
    """
    try:
        payload = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"metadata is not Flowscope JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise FormatError("metadata is not a JSON object")
    version = payload.get("version")
    if isinstance(version, bool) or version not in READABLE:
        raise FormatError(
            f"metadata version {version!r} is not supported (this Flowscope reads "
            f"{', '.join(map(str, READABLE))})"
        )
    return payload


def parse_content(content: bytes) -> dict[str, Any]:
    """Decode a plugin content blob into current-version fields (`upgrade`).

    Raises FormatError for garbage or a version this Flowscope cannot read. A race
    trajectory's fields that only the race library knows are filled by
    `summaries.race.upgrade.parse_content`.
    """
    return upgrade(decode_content(content))


def upgrade(payload: dict[str, Any]) -> dict[str, Any]:
    """Fill the fields of the current version into `payload` (a decoded content dict).

    Fields a version lacks take their defaults (`TRAJECTORY_DEFAULTS`, `MATRIX_DEFAULTS`:
    a matrix before version 4 is dense). A version-1 matrix gets ``sequence_accuracy_tag``
    null and ``v1_sequence_accuracy_names`` to match scalars by. Version 2 differs from 3
    only in layout (one run per racer): its trajectories get ``racer`` null, so readers name
    each racer by its run (`racer_name`); version 4 added the matrix ``layout``, version 5
    the trajectory ``model_metrics`` (null before: a race ranked by arrival). Raises
    FormatError for a matrix layout this Flowscope cannot read. What version 1 left out of a
    trajectory and the race library knows (its surfaces' and optimizers' display fields) is
    filled first by
    `summaries.race.upgrade.upgrade`, which then calls this.
    """
    kind = payload.get("kind")
    version = payload.get("version")
    if kind == TRAJECTORY:
        for key, value in TRAJECTORY_DEFAULTS.items():
            payload.setdefault(key, value)
    elif kind == MATRIX:
        if version == 1:
            payload["v1_sequence_accuracy_names"] = sorted(V1_SEQUENCE_ACCURACY_NAMES)
        for key, value in MATRIX_DEFAULTS.items():
            payload.setdefault(key, value)
        if payload["layout"] not in MATRIX_LAYOUTS:
            raise FormatError(
                f"matrix layout {payload['layout']!r} is not supported (this Flowscope reads "
                f"{', '.join(MATRIX_LAYOUTS)})"
            )
    if version != VERSION:
        payload["written_version"] = version
        payload["version"] = VERSION
    return payload
