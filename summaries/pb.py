"""TensorFlow-free builders for Flowscope's summaries (numpy + TensorBoard protos only).

Like TensorBoard's `*_pb` functions, each returns a `Summary` proto; `LogWriter` writes them
to an event file, so a PyTorch or plain-numpy loop can log races and confusion. The
TensorFlow writers in this package build the same protos, so there is one format.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tensorboard.compat.proto import event_pb2, summary_pb2, types_pb2
from tensorboard.util import tensor_util

from summaries import format as fmt

# Rows per trajectory event: 100,000 steps make 25 events, well inside any reservoir.
DEFAULT_CHUNK = 4096

# Metadata fields a trajectory writes itself; `extra` fields must not reuse them.
TRAJECTORY_FIELDS = frozenset(
    {"version", "kind", "race", "optimizer", "hyperparameters", "surface", "window"}
    | {"start", "minima", "basis", "chunk"}
)


def _summary(tag: str, array: np.ndarray, metadata) -> summary_pb2.Summary:
    if not isinstance(tag, str) or not tag:
        raise ValueError(f"tag must be a non-empty string, got {tag!r}")
    summary = summary_pb2.Summary()
    summary.value.add(tag=tag, metadata=metadata, tensor=tensor_util.make_tensor_proto(array))
    return summary


def check_tag(name: Any) -> str:
    """A summary name: a non-empty string without empty path segments."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if not name or name.startswith("/") or name.endswith("/") or "//" in name:
        raise ValueError(f"name must be a non-empty tag without empty segments, got {name!r}")
    return name


def check_count(argument: str, value: Any) -> int:
    """An integer >= 1 (not a bool), or TypeError/ValueError naming `argument`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{argument} must be an integer, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{argument} must be >= 1, got {value}")
    return int(value)


def check_text(argument: str, value: Any) -> str:
    """A non-empty string, or TypeError naming `argument`."""
    if not isinstance(value, str) or not value:
        raise TypeError(f"{argument} must be a non-empty string, got {value!r}")
    return value


def host(value: Any) -> Any:
    """numpy view of a tensor, or the value itself."""
    if hasattr(value, "numpy") and callable(value.numpy):
        return value.numpy()
    return value


def _float_array(name: str, value: Any, ndim: int, width: int | None = None) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric, got {type(value).__name__}") from exc
    if array.ndim != ndim or (width is not None and array.shape[-1] != width):
        want = f"[n, {width}]" if width else f"rank {ndim}"
        raise ValueError(f"{name} must have shape {want}, got {list(array.shape)}")
    return array


def _window(window: Sequence[float]) -> list[float]:
    w = [float(v) for v in window]
    if len(w) != 4 or not all(map(math.isfinite, w)) or w[0] >= w[1] or w[2] >= w[3]:
        raise ValueError(f"window must be finite [xmin, xmax, ymin, ymax], got {window!r}")
    return w


def _points(name: str, points: Sequence[Sequence[float]] | None) -> list[list[float]]:
    if points is None or len(points) == 0:
        return []
    array = _float_array(name, points, 2, 2)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite")
    return array.tolist()


def _trajectory_arrays(steps: Any, positions: Any, losses: Any) -> tuple[np.ndarray, ...]:
    """steps [n], positions [n, 2] and losses [n] as float64, with n > 0."""
    steps_a = _float_array("steps", steps, 1)
    pos = _float_array("positions", positions, 2, 2)
    loss = _float_array("losses", losses, 1)
    if not (len(steps_a) == len(pos) == len(loss)) or len(steps_a) == 0:
        raise ValueError(
            "steps, positions and losses must have the same non-zero length, got "
            f"{len(steps_a)}, {len(pos)}, {len(loss)}"
        )
    return steps_a, pos, loss


def trajectory_pb(
    tag: str,
    steps: Any,
    positions: Any,
    losses: Any,
    *,
    race: str,
    optimizer: str,
    surface: str,
    window: Sequence[float],
    hyperparameters: dict[str, Any] | None = None,
    start: Sequence[float] | None = None,
    minima: Sequence[Sequence[float]] | None = None,
    basis: dict[str, Any] | None = None,
    chunk: int = DEFAULT_CHUNK,
    **extra: Any,
) -> summary_pb2.Summary:
    """One chunk of an optimizer trajectory: rows (step, x, y, loss); NaN/Inf allowed.

    `extra` keyword arguments (e.g. ``tolerance=1e-3``) are stored as additional JSON
    metadata fields; they must be JSON-serialisable and must not reuse a reserved name.
    """
    steps_a, pos, loss = _trajectory_arrays(steps, positions, losses)
    content = {
        "race": str(race),
        "optimizer": str(optimizer),
        "hyperparameters": _jsonable("hyperparameters", hyperparameters or {}),
        "surface": str(surface),
        "window": _window(window),
        "start": _points("start", [start])[0] if start is not None else pos[0].tolist(),
        "minima": _points("minima", minima),
        "basis": _jsonable("basis", basis),
        "chunk": int(chunk),
    }
    clash = sorted(TRAJECTORY_FIELDS & set(extra))
    if clash:
        raise ValueError(f"extra metadata fields must not reuse reserved names: {clash}")
    content.update({key: _jsonable(key, value) for key, value in extra.items()})
    if not all(math.isfinite(v) for v in content["start"]):
        content["start"] = None
    rows = np.column_stack([steps_a, pos, loss])
    metadata = fmt.make_metadata(fmt.RACE_PLUGIN, fmt.TRAJECTORY, content)
    return _summary(tag, rows, metadata)


def trajectory_events(
    tag: str,
    steps: Any,
    positions: Any,
    losses: Any,
    *,
    race: str,
    optimizer: str,
    surface: str,
    window: Sequence[float],
    hyperparameters: dict[str, Any] | None = None,
    start: Sequence[float] | None = None,
    minima: Sequence[Sequence[float]] | None = None,
    basis: dict[str, Any] | None = None,
    chunk: int = DEFAULT_CHUNK,
    **extra: Any,
) -> list[tuple[int, summary_pb2.Summary]]:
    """Check a whole trajectory, then return its (first step, Summary) chunks.

    Everything is checked before any chunk is built, so a writer never gets half a race.
    """
    check_tag(tag)
    check_text("race", race)
    check_text("optimizer", optimizer)
    check_text("surface", surface)
    chunk = check_count("chunk", chunk)
    clash = sorted(TRAJECTORY_FIELDS & set(extra))
    if clash:
        raise ValueError(f"extra metadata fields must not reuse reserved names: {clash}")
    steps_a, pos, loss = _trajectory_arrays(host(steps), host(positions), host(losses))
    if not np.isfinite(steps_a).all() or (steps_a != np.round(steps_a)).any():
        raise ValueError("steps must be whole finite numbers")
    if (np.diff(steps_a) <= 0).any():
        raise ValueError("steps must be strictly increasing")
    if steps_a[0] < 0 or steps_a[-1] >= 2**63:
        raise ValueError("steps must be non-negative int64 values")
    if start is None:  # the whole race's start, not each chunk's first row
        start = pos[0] if np.isfinite(pos[0]).all() else None
    meta = dict(
        race=race,
        optimizer=optimizer,
        surface=surface,
        window=window,
        hyperparameters=hyperparameters,
        start=start,
        minima=minima,
        basis=basis,
        chunk=chunk,
        **extra,
    )
    return [
        (first, trajectory_pb(tag, s, p, lo, **meta))
        for first, s, p, lo in trajectory_chunks(steps_a, pos, loss, chunk)
    ]


def trajectory_chunks(
    steps: Any, positions: Any, losses: Any, chunk: int = DEFAULT_CHUNK
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """Split a whole trajectory into (first_step, steps, positions, losses) chunks."""
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    steps_a = _float_array("steps", steps, 1)
    pos = _float_array("positions", positions, 2, 2)
    loss = _float_array("losses", losses, 1)
    for i in range(0, len(steps_a), chunk):
        yield int(steps_a[i]), steps_a[i : i + chunk], pos[i : i + chunk], loss[i : i + chunk]


def surface_pb(
    tag: str,
    grid: Any,
    *,
    race: str,
    surface: str,
    window: Sequence[float],
    minima: Sequence[Sequence[float]] | None = None,
    log_scale: bool = False,
) -> summary_pb2.Summary:
    """A loss surface sampled on a regular [ny, nx] grid over `window`."""
    values = _float_array("grid", grid, 2).astype(np.float32)
    if min(values.shape) < 2:
        raise ValueError(f"grid must be at least 2 x 2, got {list(values.shape)}")
    content = {
        "race": str(race),
        "surface": str(surface),
        "window": _window(window),
        "minima": _points("minima", minima),
        "log_scale": bool(log_scale),
    }
    return _summary(tag, values, fmt.make_metadata(fmt.RACE_PLUGIN, fmt.SURFACE, content))


def _names(name: str, values: Sequence[str], length: int) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of strings")
    if len(values) != length:
        raise ValueError(f"{name} must have {length} entries, got {len(values)}")
    return [str(v) for v in values]


def confusion_counts(counts: Any, name: str = "counts") -> np.ndarray:
    """Validate a [P, K, K] tensor of non-negative integer counts."""
    try:
        array = np.asarray(counts)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array") from exc
    if array.dtype.kind not in "iuf" and array.dtype != bool:
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
    if array.ndim != 3 or array.shape[1] != array.shape[2]:
        raise ValueError(f"{name} must have shape [P, K, K], got {list(array.shape)}")
    if array.dtype.kind == "f" and not (
        np.isfinite(array).all() and (array == np.round(array)).all()
    ):
        raise ValueError(f"{name} must hold whole numbers")
    if (array < 0).any():
        raise ValueError(f"{name} must not be negative")
    return array.astype(np.int64)


def confusion_pb(
    tag: str, counts: Any, *, positions: Sequence[str], classes: Sequence[str]
) -> summary_pb2.Summary:
    """Per-position confusion counts [P, K, K] (rows true class, columns predicted)."""
    array = confusion_counts(counts)
    content = {
        "positions": _names("positions", positions, array.shape[0]),
        "classes": _names("classes", classes, array.shape[1]),
    }
    return _summary(tag, array, fmt.make_metadata(fmt.CONFUSION_PLUGIN, fmt.MATRIX, content))


def encode_png(image: Any) -> bytes:
    """PNG bytes of a [h, w], [h, w, 1|3|4] image (uint8, or float in [0, 1])."""
    from PIL import Image

    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ValueError(f"image must have shape [h, w] or [h, w, 1|3|4], got {list(array.shape)}")
    if array.dtype != np.uint8:
        array = (
            (np.clip(np.nan_to_num(array.astype(np.float64)), 0, 1) * 255).round().astype(np.uint8)
        )
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def image_pb(tag: str, images: Any) -> summary_pb2.Summary:
    """Images [k, h, w, c] (uint8, or floats in [0, 1]) in TensorBoard's Images format:
    a string tensor [width, height, png_1, ..., png_k]."""
    from tensorboard.plugins.image import metadata as image_metadata

    array = np.asarray(images)
    if array.ndim != 4 or array.shape[-1] not in (1, 3, 4) or not len(array):
        raise ValueError(f"images must have shape [k, h, w, 1|3|4], got {list(array.shape)}")
    height, width = array.shape[1:3]
    strings = [str(width).encode(), str(height).encode(), *(encode_png(i) for i in array)]
    metadata = image_metadata.create_summary_metadata(display_name=None, description=None)
    return _summary(tag, np.array(strings, dtype=object), metadata)


def examples_pb(
    tag: str,
    cells: Any,
    images: Sequence[Any],
    *,
    matrix_tag: str,
    cap_per_cell: int,
) -> summary_pb2.Summary:
    """Misclassified examples: one image per (position, true, predicted) cell entry.

    At most `cap_per_cell` images are kept per cell (the first ones given).
    """
    cells_a = (
        np.asarray(cells, dtype=np.int64).reshape(-1, 3)
        if len(cells)
        else np.zeros((0, 3), np.int64)
    )
    if len(cells_a) != len(images):
        raise ValueError(
            f"cells and images must have the same length, got {len(cells_a)} and {len(images)}"
        )
    if (cells_a < 0).any():
        raise ValueError("cells must not be negative")
    if cap_per_cell < 1:
        raise ValueError(f"cap_per_cell must be >= 1, got {cap_per_cell}")
    kept_cells, blobs, seen = [], [], {}
    for cell, image in zip(cells_a.tolist(), images, strict=True):
        key = tuple(cell)
        if seen.get(key, 0) >= cap_per_cell:
            continue
        seen[key] = seen.get(key, 0) + 1
        kept_cells.append(cell)
        blobs.append(image if isinstance(image, bytes) else encode_png(image))
    index = json.dumps({"cells": kept_cells}).encode("utf-8")
    array = np.array([index, *blobs], dtype=object)
    content = {"matrix_tag": str(matrix_tag), "cap_per_cell": int(cap_per_cell)}
    return _summary(tag, array, fmt.make_metadata(fmt.CONFUSION_PLUGIN, fmt.EXAMPLES, content))


def _jsonable(name: str, value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, allow_nan=False, default=_to_builtin))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be JSON-serialisable with finite numbers: {exc}") from exc


def _to_builtin(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__}")


def check_logdir(path: Any, name: str = "log_dir") -> Path:
    """Create `path` if needed and prove it is writable, or raise ValueError naming `name`."""
    target = Path(os.fspath(path)).expanduser()
    try:
        target.mkdir(parents=True, exist_ok=True)
        probe = target / f".flowscope-write-test-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"{name} {str(target)!r} is not writable: {exc.strerror or exc}") from exc
    return target


def _crc32c(data: bytes) -> int:
    try:
        import google_crc32c  # C implementation: pure-Python CRCs cost ~0.4 s per MB
    except ImportError:
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import crc32c

        return crc32c(data)
    return google_crc32c.value(data)


def _masked_crc32c(data: bytes) -> int:
    """The masked CRC32C of TFRecord framing."""
    crc = _crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _record(data: bytes) -> bytes:
    """One TFRecord: length, masked CRC of the length, data, masked CRC of the data."""
    header = struct.pack("<Q", len(data))
    return b"".join(
        [
            header,
            struct.pack("<I", _masked_crc32c(header)),
            data,
            struct.pack("<I", _masked_crc32c(data)),
        ]
    )


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class LogWriter:
    """Writes Summary protos to an event file without TensorFlow.

    TensorBoard's own `EventFileWriter` imports TensorFlow whenever it is installed (for
    `tf.io.gfile`), which costs a PyTorch or numpy loop seconds and hundreds of MB; this
    writer frames TFRecords itself into a plain local file.
    """

    def __init__(self, logdir: str, flush_secs: int = 10):
        import socket

        directory = check_logdir(logdir, "logdir")
        host, pid, unique = socket.gethostname(), os.getpid(), uuid.uuid4().hex[:8]
        name = f"events.out.tfevents.{int(time.time()):010d}.{host}.{pid}.{unique}"
        self.path = directory / name
        self._file = open(self.path, "wb")  # noqa: SIM115 (closed in close())
        self._flush_secs = flush_secs
        self._last_flush = time.monotonic()
        first = event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")
        self._append([first.SerializeToString()])
        self.flush()

    def _append(self, records: Sequence[bytes]) -> None:
        """Frame serialized Events as TFRecords; flush when `flush_secs` have passed."""
        if self._file.closed:
            raise ValueError("writer is closed")
        self._file.write(b"".join(_record(r) for r in records))
        if time.monotonic() - self._last_flush >= self._flush_secs:
            self.flush()

    def add(self, summary: summary_pb2.Summary, step: int, wall_time: float | None = None) -> None:
        """Append one event holding `summary` at `step`."""
        walls = None if wall_time is None else [wall_time]
        self.add_serialized([summary.SerializeToString()], [step], walls)

    def add_serialized(
        self,
        summaries: Sequence[bytes],
        steps: Sequence[int],
        wall_times: Sequence[float] | None = None,
    ) -> None:
        """Append one event per serialized Summary: summaries[i] at steps[i] (at
        wall_times[i], else now). For callers that build Summary bytes in bulk."""
        if len(summaries) != len(steps) or (
            wall_times is not None and len(wall_times) != len(steps)
        ):
            raise ValueError("summaries, steps and wall_times must have the same length")
        now = time.time()
        events = []
        for i, (blob, step) in enumerate(zip(summaries, steps, strict=True)):
            wall = now if wall_times is None else float(wall_times[i])
            head = event_pb2.Event(wall_time=wall, step=int(step)).SerializeToString()
            # Event.summary is field 5 (length-delimited): the Event's serialization is its
            # other fields' bytes followed by this field's tag, length and bytes.
            events.append(head + b"\x2a" + _varint(len(blob)) + blob)
        self._append(events)

    def add_graph(self, graph_def: bytes) -> None:
        """Append the event holding a serialized GraphDef (TensorBoard's Graphs tab)."""
        event = event_pb2.Event(wall_time=time.time(), graph_def=graph_def)
        self._append([event.SerializeToString()])

    def add_scalars(self, tag: str, values: Sequence[float], first_step: int = 0) -> None:
        """One scalar event per step from `first_step` (TensorBoard's scalar layout)."""
        from tensorboard.plugins.scalar import metadata

        meta = metadata.create_summary_metadata(display_name=tag, description="")
        meta.data_class = summary_pb2.DATA_CLASS_SCALAR
        now = time.time()
        events = []
        for i, value in enumerate(np.asarray(values, dtype=np.float32).tolist()):
            event = event_pb2.Event(step=first_step + i, wall_time=now)
            entry = event.summary.value.add(tag=tag)
            if i == 0:  # TensorBoard keeps the first metadata of a series
                entry.metadata.CopyFrom(meta)
            entry.tensor.dtype = types_pb2.DT_FLOAT
            entry.tensor.float_val.append(value)
            events.append(event.SerializeToString())
        self._append(events)
        self.flush()

    def flush(self) -> None:
        if not self._file.closed:
            self._file.flush()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            self._file.close()

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
