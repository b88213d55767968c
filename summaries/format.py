"""Flowscope's on-disk format: plugin names, versioned metadata and tensor layouts.

This module is the single source of truth shared by the writers in `summaries` and the
readers in `tb_plugin`. It imports only numpy and TensorBoard's protos, never TensorFlow.

Layouts (all summaries set `SummaryMetadata.data_class`, which TensorBoard back-fills only
for its own plugins):

optimizer_race (one run per racer, e.g. ``race/saddle/adam``)
  kind "trajectory": TENSOR, float64 [n, 4] rows of (step, x, y, loss); a long trajectory
      is written as consecutive chunks, each event's step is the first step in its chunk.
      content: race, optimizer, hyperparameters, surface, window [xmin, xmax, ymin, ymax],
      start [x, y], minima [[x, y], ...], basis (None, or a description of the 2-D
      projection), chunk (rows per chunk). Writers may add further JSON fields (e.g.
      tolerance, tuning); readers ignore the ones they do not know.
  kind "surface": TENSOR, float32 [ny, nx] loss values on a regular grid over `window`
      (rows follow y, columns follow x). content: race, surface, window, minima, log_scale.

position_confusion
  kind "matrix": TENSOR, int64 [P, K, K] counts, rows = true class, columns = predicted.
      content: positions [P names], classes [K names].
  kind "examples": BLOB_SEQUENCE, 1-D string tensor. Blob 0 is a UTF-8 JSON index
      {"cells": [[position, true, predicted], ...]} with one entry per following blob;
      blobs 1.. are PNG images. content: matrix_tag, cap_per_cell.
"""

from __future__ import annotations

import json
from typing import Any

from tensorboard.compat.proto import summary_pb2

RACE_PLUGIN = "optimizer_race"
CONFUSION_PLUGIN = "position_confusion"
VERSION = 1

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


class FormatError(ValueError):
    """Metadata that this version of Flowscope cannot read."""


def make_metadata(
    plugin_name: str, kind: str, content: dict[str, Any], description: str = ""
) -> summary_pb2.SummaryMetadata:
    """Build the SummaryMetadata for one Flowscope summary kind."""
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


def parse_content(content: bytes) -> dict[str, Any]:
    """Decode a plugin content blob; raise FormatError for unknown versions or garbage."""
    try:
        payload = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FormatError(f"metadata is not Flowscope JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise FormatError("metadata is not a JSON object")
    version = payload.get("version")
    if version != VERSION:
        raise FormatError(
            f"metadata version {version!r} is not supported (this Flowscope reads {VERSION})"
        )
    return payload
