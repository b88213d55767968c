"""One copy of every argument check in `summaries` (numpy only; TensorFlow never imported).

Each check returns the value in the form the writers use, or raises TypeError (wrong kind of
value) or ValueError (right kind, bad value) with a message that names the argument.
"""

from __future__ import annotations

import json
import math
import operator
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from summaries import storage

MAX_BUCKETS = 100_000


class ArgumentTypeError(TypeError, ValueError):
    """A value of the wrong type: a TypeError, and a ValueError for callers that catch
    ValueError for any bad argument (as `SummaryCallback` documents)."""


def is_tensor(value: Any) -> bool:
    """Whether `value` is a TensorFlow tensor or variable (False without importing TF)."""
    tf = sys.modules.get("tensorflow")
    if tf is None or not hasattr(tf, "is_tensor"):
        return False
    return bool(tf.is_tensor(value)) or isinstance(value, tf.Variable)


def host(value: Any) -> Any:
    """numpy view of a tensor, or the value itself."""
    if callable(getattr(value, "detach", None)) and callable(getattr(value, "cpu", None)):
        value = value.detach().cpu()  # a torch tensor: `.numpy()` refuses grads and devices
    if hasattr(value, "numpy") and callable(value.numpy):
        return value.numpy()
    return value


def check_tag(name: Any, argument: str = "name") -> str:
    """A summary name: a non-empty string without empty path segments."""
    if not isinstance(name, str):
        raise ArgumentTypeError(f"{argument} must be a string, got {type(name).__name__}")
    if not name or name.startswith("/") or name.endswith("/") or "//" in name:
        raise ValueError(f"{argument} must be a non-empty tag without empty segments, got {name!r}")
    return name


def check_text(argument: str, value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise ArgumentTypeError(f"{argument} must be a non-empty string, got {value!r}")
    return value


def check_description(value: Any) -> str | None:
    """None or a string (a summary's description)."""
    if value is not None and not isinstance(value, str):
        raise ArgumentTypeError(f"description must be a string, got {type(value).__name__}")
    return value


def check_secs(argument: str, value: Any) -> float:
    """A number of seconds (not a bool) >= 0, as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ArgumentTypeError(f"{argument} must be a number, got {type(value).__name__}")
    if not value >= 0:
        raise ValueError(f"{argument} must be >= 0, got {value}")
    return float(value)


def check_count(argument: str, value: Any, minimum: int = 1) -> int:
    """An integer (not a bool) >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ArgumentTypeError(
            f"{argument} must be an integer >= {minimum}, got {type(value).__name__} {value!r}"
        )
    if value < minimum:
        raise ValueError(f"{argument} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_flag(argument: str, value: Any) -> bool:
    """True or False (not a truthy stand-in)."""
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"{argument} must be True or False, got {value!r}")
    return value


def check_step(step: Any, *, optional: bool = False) -> Any:
    """A non-negative integer step; with `optional`, also None (the default step) or a
    tensor, which TensorFlow checks when it runs."""
    if optional and (step is None or is_tensor(step)):
        return step
    if isinstance(step, bool):
        raise ArgumentTypeError("step must be an integer, got bool")
    try:
        value = operator.index(step)
    except TypeError:
        raise ArgumentTypeError(f"step must be an integer, got {type(step).__name__}") from None
    if value < 0:
        raise ValueError(f"step must be a non-negative integer, got {step!r}")
    return value


def check_buckets(buckets: Any) -> int:
    """A histogram bucket count: a Python int in [1, MAX_BUCKETS]."""
    if isinstance(buckets, bool) or not isinstance(buckets, int):
        raise ArgumentTypeError(f"buckets must be an integer, got {type(buckets).__name__}")
    if not 1 <= buckets <= MAX_BUCKETS:
        raise ValueError(f"buckets must be in [1, {MAX_BUCKETS}], got {buckets}")
    return buckets


def check_names(argument: str, values: Any, length: int | None = None) -> list[str]:
    """A non-empty sequence of names (positions, classes...), as strings; `length` entries
    when given."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise ArgumentTypeError(
            f"{argument} must be a sequence of names, got {type(values).__name__}"
        )
    names = [str(v) for v in values]
    if length is not None and len(names) != length:
        raise ValueError(f"{argument} must have {length} entries, got {len(names)}")
    if not names:
        raise ValueError(f"{argument} must not be empty")
    return names


def float_array(argument: str, value: Any, ndim: int, width: int | None = None) -> np.ndarray:
    """A float64 array of rank `ndim` (and last axis `width` when given)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(f"{argument} must be numeric, got {type(value).__name__}") from exc
    if array.ndim != ndim or (width is not None and array.shape[-1] != width):
        want = f"[n, {width}]" if width else f"rank {ndim}"
        raise ValueError(f"{argument} must have shape {want}, got {list(array.shape)}")
    return array


def check_window(window: Any) -> list[float]:
    """A map window [xmin, xmax, ymin, ymax]: four finite numbers, min < max."""
    try:
        w = [float(v) for v in window]
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(f"window must be four numbers, got {window!r}") from exc
    if len(w) != 4 or not all(map(math.isfinite, w)) or w[0] >= w[1] or w[2] >= w[3]:
        raise ValueError(f"window must be finite [xmin, xmax, ymin, ymax], got {window!r}")
    return w


def check_points(argument: str, points: Any) -> list[list[float]]:
    """Finite (x, y) points as lists; None or empty gives []."""
    if points is None or len(points) == 0:
        return []
    array = float_array(argument, points, 2, 2)
    if not np.isfinite(array).all():
        raise ValueError(f"{argument} must be finite")
    return array.tolist()


def check_json(argument: str, value: Any) -> Any:
    """`value` as plain JSON data (numpy scalars and arrays converted; finite numbers)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False, default=_to_builtin))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{argument} must be JSON-serialisable with finite numbers: {exc}"
        ) from exc


def _to_builtin(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__}")


def check_counts(counts: Any, argument: str = "counts") -> np.ndarray:
    """Confusion counts: a [P, K, K] array of non-negative whole numbers, as int64."""
    try:
        array = np.asarray(host(counts))
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(f"{argument} must be a numeric array") from exc
    if array.dtype.kind not in "iuf" and array.dtype != bool:
        raise ArgumentTypeError(f"{argument} must be numeric, got dtype {array.dtype}")
    if array.ndim != 3 or array.shape[1] != array.shape[2]:
        raise ValueError(f"{argument} must have shape [P, K, K], got {list(array.shape)}")
    if array.dtype.kind == "f" and not (
        np.isfinite(array).all() and (array == np.round(array)).all()
    ):
        raise ValueError(f"{argument} must hold whole numbers")
    if (array < 0).any():
        raise ValueError(f"{argument} must not be negative")
    return array.astype(np.int64)


def check_writer(writer: Any) -> Any:
    """Something with `add(summary, step)`, such as a `summaries.pb.LogWriter`."""
    if not callable(getattr(writer, "add", None)):
        raise ArgumentTypeError(
            f"writer must be a summaries.pb.LogWriter, got {type(writer).__name__}"
        )
    return writer


def check_logdir(path: Any, name: str = "log_dir") -> Path | storage.RemotePath:
    """Create `path` if needed and prove it is writable, or raise ValueError naming `name`.

    A local path gives a `Path`; a ``scheme://`` URI a `storage.RemotePath` written through
    tf.io.gfile (an unknown scheme, or a URI without TensorFlow, is a ValueError).
    """
    try:
        target = storage.log_path(path, name)
    except TypeError as exc:
        raise ArgumentTypeError(str(exc)) from None
    try:
        target.mkdir(parents=True, exist_ok=True)
        probe = target / f".flowscope-write-test-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"{name} {str(target)!r} is not writable: {exc.strerror or exc}") from exc
    return target
