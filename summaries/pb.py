"""The public numpy-only facade of Flowscope's writers (no TensorFlow).

Like TensorBoard's `*_pb` functions, the builders here return `Summary` protos, and
`LogWriter` writes them to an event file, so a PyTorch or plain-numpy loop can log races
and confusion. The code lives in focused modules; this one re-exports it:

* `summaries.checks`: the argument checks (`check_tag`, `check_logdir`, `host`, ...)
* `summaries.protos`: the proto builders (`confusion_pb`, `examples_pb`, `image_pb`, ...)
* `summaries.records`: TFRecord framing and its CRC32C
* `summaries.writer`: `LogWriter` and its background writer thread
* `summaries.race.summary`: the race's builders (`trajectory_pb`, `surface_pb`, ...)
"""

from __future__ import annotations

from typing import Any

from summaries.checks import (
    check_count,
    check_logdir,
    check_names,
    check_step,
    check_tag,
    check_text,
    check_writer,
    host,
)
from summaries.protos import confusion_pb, encode_png, examples_pb, image_pb
from summaries.records import masked_crc32c as _masked_crc32c  # noqa: F401 (old private name)
from summaries.writer import BackgroundWriter, LogWriter

__all__ = [
    "BackgroundWriter",
    "LogWriter",
    "check_count",
    "check_logdir",
    "check_names",
    "check_step",
    "check_tag",
    "check_text",
    "check_writer",
    "confusion_pb",
    "encode_png",
    "examples_pb",
    "host",
    "image_pb",
]

# Old names whose meaning moved: using one raises AttributeError naming the new one.
_RENAMED = {
    "trajectory_pb": (
        "summaries.pb.trajectory_pb (which built one chunk) is now "
        "summaries.race.trajectory_chunk_pb; summaries.trajectory_pb builds a whole "
        "trajectory as (step, Summary) pairs"
    ),
    "confusion_counts": (
        "summaries.pb.confusion_counts (which checked a [P, K, K] counts array) is now "
        "summaries.checks.check_counts; counts from labels and predictions are "
        "summaries.confusion_counts"
    ),
}


# The race's builders live in `summaries.race.summary`; these names keep working (loaded on
# first use: the race module imports `summaries.checks`).
_RACE_NAMES = {
    "trajectory_events": "trajectory_pb",
    "trajectory_chunks": "trajectory_chunks",
    "surface_pb": "surface_pb",
    "DEFAULT_CHUNK": "DEFAULT_CHUNK",
    "TRAJECTORY_FIELDS": "TRAJECTORY_FIELDS",
}


def __getattr__(name: str) -> Any:
    if name in _RACE_NAMES:
        from summaries.race import summary

        return getattr(summary, _RACE_NAMES[name])
    if name in _RENAMED:
        raise AttributeError(_RENAMED[name])
    raise AttributeError(f"module 'summaries.pb' has no attribute {name!r}")
