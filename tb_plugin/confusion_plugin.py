"""The per-position Confusion plugin: confusion matrices over training and their examples.

Routes are documented in `confusion_http_api.md` beside this file. Matrices are read once
per (run, tag) version and kept in a small byte-bounded cache, so the step slider and the
per-step metrics do not re-read every step's tensor; example images are read lazily, one
blob per request, and each step's JSON index of examples is decoded once.

Every data-provider call costs a round trip (a gRPC call to the Rust data server with
`--load_fast=true`), so listings are kept for LISTING_TTL_S and everything read after them
(matrices, example sequences, the sequence-accuracy scalar, /series bodies) is cached by
the version the listing reports (max step and wall time): a steady request makes no
provider call at all, and new data shows up at most LISTING_TTL_S later.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from tensorboard import errors as tb_errors
from tensorboard.data import provider
from werkzeug import wrappers

from summaries import format as fmt
from tb_plugin.base import (
    ALL_SAMPLES,
    FlowscopePlugin,
    arg_int,
    arg_str,
    bad_request,
    json_response,
    not_found,
    route,
)

NORMALIZATIONS = ("count", "true", "predicted")
MAX_TOP = 1000
DEFAULT_TOP = 10
# /series answers at most this many matrix cells (steps x P x K x K); longer series are
# thinned to evenly spaced steps that always include the first and the last one.
SERIES_MAX_CELLS = 2_000_000
SERIES_DEFAULT_STEPS = 1000
MAX_EXAMPLES = 1000
MATRIX_CACHE_BYTES = 64 * 2**20
INDEX_CACHE_ENTRIES = 4096
# Listings are reused this long: well within TensorBoard's reload interval (5 s by default).
LISTING_TTL_S = 1.0
LISTING_CACHE_ENTRIES = 256
BLOB_CACHE_REFS = 500_000  # blob references (example images) of the cached example series
SEQUENCE_CACHE_ENTRIES = 256
BODY_CACHE_BYTES = 32 * 2**20  # encoded /series answers
IMAGE_CACHE_BYTES = 16 * 2**20  # example PNGs are a few KB; repeat views skip the provider
SERIES_ENCODINGS = ("json", "base64")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SCALARS_PLUGIN = "scalars"
# Scalar tags (last path component, case-insensitive, Keras' "epoch_" prefix dropped) that
# hold whole-sequence accuracy. It cannot be derived from per-position confusions (which
# positions fail together is lost), so the page shows it only when a writer logged it.
SEQUENCE_ACCURACY_NAMES = frozenset(
    {
        "sequence_accuracy",
        "whole_accuracy",
        "whole_sequence_accuracy",
        "captcha_accuracy",
        "whole_captcha_accuracy",
        "exact_match",
    }
)


# -- pure computations (numpy) ----------------------------------------------------------


def normalize(counts: np.ndarray, mode: str) -> np.ndarray:
    """Normalise [..., K, K] counts: "count" as is, "true" by row sums, "predicted" by columns.

    Rows (or columns) without any sample give NaN, which the JSON layer turns into null.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if mode == "count":
        return counts
    axis = -1 if mode == "true" else -2
    totals = counts.sum(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, counts / np.where(totals > 0, totals, 1), np.nan)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def accuracy(counts: np.ndarray) -> np.ndarray:
    """Accuracy (trace / total) of each [..., K, K] matrix; NaN where there is no sample."""
    counts = np.asarray(counts)
    return _ratio(np.trace(counts, axis1=-2, axis2=-1), counts.sum(axis=(-2, -1)))


def class_metrics(matrix: np.ndarray) -> dict[str, Any]:
    """Per-class precision, recall, F1 and support of one [K, K] matrix, plus macro means."""
    matrix = np.asarray(matrix, dtype=np.int64)
    tp = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(
            np.isnan(precision) | np.isnan(recall),
            np.nan,
            np.where(
                precision + recall > 0,
                2 * precision * recall / np.where(precision + recall > 0, precision + recall, 1),
                0.0,
            ),
        )

    def macro(values: np.ndarray) -> float | None:
        defined = values[~np.isnan(values)]
        return float(defined.mean()) if defined.size else None

    return {
        "precision": _rounded(precision),
        "recall": _rounded(recall),
        "f1": _rounded(f1),
        "support": support.tolist(),
        "predicted": predicted.tolist(),
        "macro": {"precision": macro(precision), "recall": macro(recall), "f1": macro(f1)},
    }


def confused_pairs(counts: np.ndarray, top: int) -> list[dict[str, Any]]:
    """The `top` largest off-diagonal cells of [P, K, K] counts, largest count first."""
    counts = np.asarray(counts, dtype=np.int64)
    k = counts.shape[-1]
    off = counts * (1 - np.eye(k, dtype=np.int64))
    flat = off.ravel()
    nonzero = np.flatnonzero(flat)
    if nonzero.size == 0 or top <= 0:
        return []
    rows = counts.sum(axis=-1)  # [P, K] samples per true class
    # Largest count first; ties by position, true, predicted (stable, reproducible order).
    order = nonzero[np.lexsort((nonzero, -flat[nonzero]))][:top]
    pairs = []
    for index in order.tolist():
        p, t, q = np.unravel_index(index, off.shape)
        count = int(flat[index])
        pairs.append(
            {
                "position": int(p),
                "true": int(t),
                "predicted": int(q),
                "count": count,
                "rate": round(count / int(rows[p, t]), 6),
            }
        )
    return pairs


def _rounded(values: np.ndarray, digits: int = 6) -> list:
    """Floats rounded for compact JSON; NaN stays NaN (null in JSON)."""
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


def thin_steps(n: int, keep: int) -> np.ndarray:
    """Indices of `keep` evenly spaced items out of `n`, always the first and the last."""
    if keep >= n:
        return np.arange(n)
    if keep <= 1:
        return np.array([n - 1])
    return np.unique(np.round(np.linspace(0, n - 1, keep)).astype(np.int64))


# -- caches -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixSeries:
    """All readable steps of one matrix series."""

    positions: list[str]
    classes: list[str]
    steps: np.ndarray  # [S] int64
    wall_times: np.ndarray  # [S] float64
    counts: np.ndarray  # [S, P, K, K], smallest unsigned dtype that holds the counts
    skipped_steps: list[int]

    def index_of(self, step: int | None) -> int:
        """Index of `step` (the latest when None); 404 when the series has no such step."""
        if step is None:
            return len(self.steps) - 1
        found = np.searchsorted(self.steps, step)
        if found >= len(self.steps) or self.steps[found] != step:
            raise not_found(f"no matrix at step {step} (steps {_span(self.steps)})")
        return int(found)


def _span(steps: np.ndarray) -> str:
    return f"{int(steps[0])}..{int(steps[-1])}, {len(steps)} in all" if len(steps) else "none"


class _LRU:
    """A thread-safe LRU dictionary bounded by a total cost."""

    def __init__(self, budget: int):
        self._budget = budget
        self._items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key, value, cost: int = 1) -> None:
        if cost > self._budget:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._used -= old[1]
            self._items[key] = (value, cost)
            self._used += cost
            while self._used > self._budget:
                _, (_, dropped) = self._items.popitem(last=False)
                self._used -= dropped


class _TTL:
    """A thread-safe dictionary whose entries expire `ttl` seconds after they were put."""

    def __init__(self, ttl: float, size: int):
        self._ttl = ttl
        self._size = size
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            item = self._items.get(key)
            return item[1] if item is not None and item[0] > time.monotonic() else None

    def put(self, key, value) -> None:
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = (time.monotonic() + self._ttl, value)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


def _encoded_counts(counts: np.ndarray) -> dict[str, Any]:
    """[S, N] counts as little-endian bytes in base64 (far cheaper than JSON numbers)."""
    if counts.dtype.kind != "u":  # beyond uint32: float64 is exact up to 2^53
        counts = counts.astype(np.float64)
    data = counts.astype(counts.dtype.newbyteorder("<"), copy=False).tobytes()
    return {
        "dtype": counts.dtype.name,
        "shape": list(counts.shape),
        "base64": base64.b64encode(data).decode("ascii"),
    }


def _int_rows_json(rows: np.ndarray) -> str:
    """JSON text of a 2-D array of non-negative integers, about 4x faster than json.dumps
    for the small counts of a confusion series (each number's text is made once)."""
    top = int(rows.max()) if rows.size else 0
    if rows.dtype.kind != "u" or top > 65535:
        return json.dumps(rows.tolist(), separators=(",", ":"))
    words = np.array([str(i) for i in range(top + 1)], dtype=object)
    return "[" + ",".join("[" + ",".join(words[row].tolist()) + "]" for row in rows) + "]"


def _compact(counts: np.ndarray) -> np.ndarray:
    top = int(counts.max()) if counts.size else 0
    for dtype in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(dtype).max:
            return counts.astype(dtype)
    return counts.astype(np.int64)


def _sequence_tag(scalar_tags: list[str], matrix_tag: str) -> str | None:
    """The scalar tag holding whole-sequence accuracy, nearest to the matrix tag's scope."""

    def name(tag: str) -> str:
        base = tag.rsplit("/", 1)[-1].lower()
        return base[len("epoch_") :] if base.startswith("epoch_") else base

    candidates = [t for t in scalar_tags if name(t) in SEQUENCE_ACCURACY_NAMES]
    if not candidates:
        return None
    # Prefer the scope of the matrix (e.g. "validation/..." for "confusion/validation").
    scope = set(matrix_tag.split("/"))

    def shared(tag: str) -> int:
        return len(set(tag.split("/")[:-1]) & scope)

    return sorted(candidates, key=lambda t: (-shared(t), len(t), t))[0]


# -- the plugin -------------------------------------------------------------------------


class ConfusionPlugin(FlowscopePlugin):
    plugin_name = fmt.CONFUSION_PLUGIN
    tab_name = "Confusion"
    page = "confusion"

    def __init__(self, context):
        super().__init__(context)
        self._matrices = _LRU(MATRIX_CACHE_BYTES)
        self._indexes = _LRU(INDEX_CACHE_ENTRIES)
        self._listings = _TTL(LISTING_TTL_S, LISTING_CACHE_ENTRIES)
        self._blobs = _LRU(BLOB_CACHE_REFS)
        self._sequences = _LRU(SEQUENCE_CACHE_ENTRIES)
        self._bodies = _LRU(BODY_CACHE_BYTES)
        self._images = _LRU(IMAGE_CACHE_BYTES)

    def routes(self):
        return {
            "/runs": self._serve_runs,
            "/matrix": self._serve_matrix,
            "/series": self._serve_series,
            "/examples": self._serve_examples,
            "/image": self._serve_image,
        }

    # -- provider access -------------------------------------------------------------
    def _call(self, method: str, request, **kwargs):
        """Call the data provider; its public errors become 404/400 answers."""
        ctx, eid = self.context(request)
        try:
            return getattr(self._provider, method)(ctx, experiment_id=eid, **kwargs)
        except tb_errors.NotFoundError as exc:
            raise not_found(str(exc) or "not found") from None
        except tb_errors.PublicError as exc:
            raise bad_request(str(exc) or type(exc).__name__) from None

    def _listing(self, request, method: str, plugin_name: str, run: str | None = None) -> dict:
        """A provider listing ({run: {tag: metadata}}, of one run or all), kept LISTING_TTL_S."""
        _, eid = self.context(request)
        key = (eid, method, plugin_name, run)
        listing = self._listings.get(key)
        if listing is None:
            runs = None if run is None else provider.RunTagFilter(runs=[run])
            listing = self._call(method, request, plugin_name=plugin_name, run_tag_filter=runs)
            self._listings.put(key, listing)
        return listing

    def _catalog(self, request, blobs: bool = False) -> dict[str, dict[str, tuple]]:
        """{run: {tag: (content | None, error | None, metadata)}} of this plugin's series
        (tensors, or blob sequences), parsed once per listing."""
        _, eid = self.context(request)
        key = (eid, "catalog", blobs)
        catalog = self._listings.get(key)
        if catalog is not None:
            return catalog
        method = "list_blob_sequences" if blobs else "list_tensors"
        catalog = {}
        for run, tags in self._listing(request, method, self.plugin_name).items():
            for tag, meta in tags.items():
                try:
                    entry = (fmt.parse_content(meta.plugin_content), None, meta)
                except fmt.FormatError as exc:
                    entry = (None, str(exc), meta)
                catalog.setdefault(run, {})[tag] = entry
        self._listings.put(key, catalog)
        return catalog

    def _matrix_content(self, request, run: str, tag: str):
        """(content, time series metadata) of a matrix series; 404 when absent or unreadable."""
        entry = self._catalog(request).get(run, {}).get(tag)
        if entry is None:
            raise not_found(f"no confusion matrices for run {run!r}, tag {tag!r}")
        content, error, meta = entry
        if error is not None:
            raise not_found(f"run {run!r}, tag {tag!r}: {error}")
        if content.get("kind") != fmt.MATRIX:
            raise not_found(f"run {run!r}, tag {tag!r} is not a confusion matrix series")
        return content, meta

    def _series(self, request, run: str, tag: str) -> MatrixSeries:
        """The whole matrix series, from the cache unless the run has new data."""
        content, meta = self._matrix_content(request, run, tag)
        _, eid = self.context(request)
        key = (eid, run, tag, meta.max_step, meta.max_wall_time, meta.plugin_content)
        cached = self._matrices.get(key)
        if cached is not None:
            return cached
        data = self.read_series(request, run, tag)
        positions = content.get("positions") or []
        classes = content.get("classes") or []
        shape = None
        if positions and classes:
            shape = (len(positions), len(classes), len(classes))
        kept, skipped = [], []
        for datum in data:
            array = np.asarray(datum.numpy)
            ok = array.ndim == 3 and array.shape[1] == array.shape[2] and array.dtype.kind in "iu"
            ok = ok and (shape is None or array.shape == shape) and bool((array >= 0).all())
            if ok:
                shape = shape or array.shape
                kept.append(datum)
            else:
                skipped.append(datum.step)
        if not kept:
            raise not_found(
                f"run {run!r}, tag {tag!r}: no readable [P, K, K] count matrix"
                + (f" (skipped steps {skipped[:10]})" if skipped else "")
            )
        p, k, _ = shape
        series = MatrixSeries(
            positions=[str(v) for v in positions] or [f"position {i + 1}" for i in range(p)],
            classes=[str(v) for v in classes] or [str(i) for i in range(k)],
            steps=np.array([d.step for d in kept], dtype=np.int64),
            wall_times=np.array([d.wall_time for d in kept], dtype=np.float64),
            counts=_compact(np.stack([np.asarray(d.numpy) for d in kept])),
            skipped_steps=[int(s) for s in skipped],
        )
        self._matrices.put(key, series, series.counts.nbytes + 1024)
        return series

    def _sequence_accuracy(self, request, run: str, tag: str) -> tuple[str | None, dict, Any]:
        """(scalar tag, {step: value}, version) of the logged whole-sequence accuracy, if any.

        The values are read again only when the scalar's listing shows new data.
        """
        scalars = self._listing(request, "list_scalars", SCALARS_PLUGIN, run).get(run, {})
        scalar_tag = _sequence_tag(sorted(scalars), tag)
        if scalar_tag is None:
            return None, {}, None
        meta = scalars[scalar_tag]
        _, eid = self.context(request)
        version = (eid, run, scalar_tag, meta.max_step, meta.max_wall_time)
        by_step = self._sequences.get(version)
        if by_step is None:
            data = self._call(
                "read_scalars",
                request,
                plugin_name=SCALARS_PLUGIN,
                downsample=ALL_SAMPLES,
                run_tag_filter=provider.RunTagFilter(runs=[run], tags=[scalar_tag]),
            )
            by_step = {d.step: d.value for d in data.get(run, {}).get(scalar_tag, [])}
            self._sequences.put(version, by_step)
        return scalar_tag, by_step, version

    def _examples_series(self, request, run: str) -> dict[str, tuple[dict, Any]]:
        """{tag: (content, metadata)} of the readable examples series of `run`, sorted by tag."""
        tags = self._catalog(request, blobs=True).get(run, {})
        return {
            tag: (content, meta)
            for tag, (content, _, meta) in sorted(tags.items())
            if content is not None and content.get("kind") == fmt.EXAMPLES
        }

    def _blob_data(self, request, run: str, tag: str, meta) -> tuple[list, dict]:
        """(BlobSequenceDatum sorted by step, {step: datum}) of an examples series, read again
        only when its listing metadata shows new data."""
        _, eid = self.context(request)
        key = (eid, run, tag, meta.max_step, meta.max_wall_time)
        cached = self._blobs.get(key)
        if cached is not None:
            return cached
        data = self._call(
            "read_blob_sequences",
            request,
            plugin_name=self.plugin_name,
            downsample=ALL_SAMPLES,
            run_tag_filter=provider.RunTagFilter(runs=[run], tags=[tag]),
        )
        ordered = sorted(data.get(run, {}).get(tag, []), key=lambda d: d.step)
        cached = (ordered, {d.step: d for d in ordered})
        self._blobs.put(key, cached, 1 + sum(len(d.values) for d in ordered))
        return cached

    def _read_blob(self, request, key: str) -> bytes:
        ctx, _ = self.context(request)
        try:
            return self._provider.read_blob(ctx, blob_key=key)
        except tb_errors.NotFoundError as exc:
            raise not_found(str(exc) or "blob not found") from None
        except tb_errors.PublicError as exc:
            raise bad_request(str(exc) or type(exc).__name__) from None

    def _cells(self, request, run: str, tag: str, datum) -> np.ndarray:
        """The decoded [n, 3] (position, true, predicted) index of one examples step."""
        _, eid = self.context(request)
        key = (eid, run, tag, datum.step, datum.wall_time, len(datum.values))
        cells = self._indexes.get(key)
        if cells is not None:
            return cells
        cells = np.zeros((0, 3), np.int64)
        if datum.values:
            try:
                index = json.loads(self._read_blob(request, datum.values[0].blob_key))
                parsed = np.asarray(index["cells"], dtype=np.int64).reshape(-1, 3)
                # One index entry per following blob; anything else is unusable.
                if len(parsed) == len(datum.values) - 1:
                    cells = parsed
            except (ValueError, TypeError, KeyError, UnicodeDecodeError):
                pass
        self._indexes.put(key, cells)
        return cells

    # -- routes ----------------------------------------------------------------------
    @route
    def _serve_runs(self, request):
        """Runs with confusion matrices: tags, position and class names."""
        examples: dict[tuple[str, str], str] = {}
        for run in self._catalog(request, blobs=True):
            for tag, (c, _) in self._examples_series(request, run).items():
                if "matrix_tag" in c:
                    examples.setdefault((run, c["matrix_tag"]), tag)
        runs = []
        for run, tags in sorted(self._catalog(request).items()):
            # Matrix series, and series whose metadata cannot be read (to say why).
            listed = [
                (tag, c or {}, error, meta)
                for tag, (c, error, meta) in sorted(tags.items())
                if error is not None or c.get("kind") == fmt.MATRIX
            ]
            if not listed:
                continue
            runs.append(
                {
                    "run": run,
                    "tags": [
                        {
                            "tag": tag,
                            "positions": c.get("positions", []),
                            "classes": c.get("classes", []),
                            "max_step": meta.max_step,
                            "examples_tag": examples.get((run, tag)),
                            "error": error,
                        }
                        for tag, c, error, meta in listed
                    ],
                }
            )
        return {"runs": runs}

    @route
    def _serve_matrix(self, request):
        """Counts at one step with normalised values, accuracies, class metrics, top pairs."""
        run, tag = arg_str(request, "run"), arg_str(request, "tag")
        step = arg_int(request, "step", default=-1, lo=-1, hi=2**63 - 1)
        mode = arg_str(request, "normalize", default="count", max_len=20)
        if mode not in NORMALIZATIONS:
            raise bad_request(f"normalize must be one of {list(NORMALIZATIONS)}, got {mode!r}")
        top = arg_int(request, "top", default=DEFAULT_TOP, lo=0, hi=MAX_TOP)
        series = self._series(request, run, tag)
        i = series.index_of(None if step < 0 else step)
        counts = series.counts[i].astype(np.int64)
        pooled = counts.sum(axis=0)
        step_value = int(series.steps[i])
        scalar_tag, by_step, _ = self._sequence_accuracy(request, run, tag)
        acc = accuracy(counts)
        return {
            "run": run,
            "tag": tag,
            "step": step_value,
            "wall_time": float(series.wall_times[i]),
            "steps": series.steps.tolist(),
            "skipped_steps": series.skipped_steps,
            "positions": series.positions,
            "classes": series.classes,
            "normalize": mode,
            "counts": counts.tolist(),
            "pooled_counts": pooled.tolist(),
            "values": _rounded(normalize(counts, mode)),
            "pooled_values": _rounded(normalize(pooled, mode)),
            "totals": counts.sum(axis=(1, 2)).tolist(),
            "accuracy": {
                "positions": _rounded(acc),
                "pooled": _rounded(accuracy(pooled)),
                "mean": float(np.nanmean(acc)) if not np.isnan(acc).all() else None,
            },
            "sequence_accuracy": (
                None
                if scalar_tag is None
                else {"tag": scalar_tag, "step": step_value, "value": by_step.get(step_value)}
            ),
            "class_metrics": {
                "positions": [class_metrics(m) for m in counts],
                "pooled": class_metrics(pooled),
            },
            "confused_pairs": confused_pairs(counts, top),
            "pooled_confused_pairs": [
                {**pair, "position": None} for pair in confused_pairs(pooled[None], top)
            ],
        }

    @route
    def _serve_series(self, request):
        """Every step's counts at once (flattened), with per-step accuracies."""
        run, tag = arg_str(request, "run"), arg_str(request, "tag")
        max_steps = arg_int(request, "max_steps", default=SERIES_DEFAULT_STEPS, lo=1, hi=100_000)
        encoding = arg_str(request, "encoding", default="json", max_len=20)
        if encoding not in SERIES_ENCODINGS:
            raise bad_request(f"encoding must be one of {list(SERIES_ENCODINGS)}, got {encoding!r}")
        _, meta = self._matrix_content(request, run, tag)
        scalar_tag, by_step, seq_version = self._sequence_accuracy(request, run, tag)
        _, eid = self.context(request)
        key = (eid, run, tag, meta.max_step, meta.max_wall_time, meta.plugin_content)
        key += (max_steps, encoding, seq_version)
        body = self._bodies.get(key)
        if body is None:
            # Encoding dominates a large answer (2M numbers): each version is encoded once.
            payload, compact = self._series_payload(request, run, tag, max_steps)
            if scalar_tag is not None:
                values = [by_step.get(s) for s in payload["steps"]]
                payload["sequence_accuracy"] = {"tag": scalar_tag, "values": values}
            if encoding == "base64":
                payload["counts"] = _encoded_counts(compact)
                body = json_response(payload).get_data()
            else:  # the counts' JSON text goes in as the last member
                head = json_response(payload).get_data(as_text=True)
                body = f'{head[:-1]},"counts":{_int_rows_json(compact)}}}'.encode()
            self._bodies.put(key, body, len(body))
        response = json_response(None)
        response.set_data(body)
        return response

    def _series_payload(self, request, run: str, tag: str, max_steps: int):
        """The /series answer without its counts, and the chosen steps' [S, P*K*K] counts."""
        series = self._series(request, run, tag)
        _, p, k, _ = series.counts.shape
        keep = min(max_steps, max(1, SERIES_MAX_CELLS // (p * k * k)))
        chosen = thin_steps(len(series.steps), keep)
        compact = series.counts[chosen].reshape(len(chosen), -1)
        counts = compact.astype(np.int64).reshape(len(chosen), p, k, k)
        return {
            "run": run,
            "tag": tag,
            "positions": series.positions,
            "classes": series.classes,
            "total_steps": len(series.steps),
            "downsampled": len(chosen) < len(series.steps),
            "skipped_steps": series.skipped_steps,
            "steps": series.steps[chosen].tolist(),
            "wall_times": series.wall_times[chosen].tolist(),
            "accuracy": _rounded(accuracy(counts)),
            "pooled_accuracy": _rounded(accuracy(counts.sum(axis=1))),
            "sequence_accuracy": None,
        }, compact

    @route
    def _serve_examples(self, request):
        """Example images of one (position, true, predicted) cell at a step, or the nearest."""
        run, tag = arg_str(request, "run"), arg_str(request, "tag")
        step = arg_int(request, "step", default=-1, lo=-1, hi=2**63 - 1)
        limit = arg_int(request, "limit", default=100, lo=1, hi=MAX_EXAMPLES)
        series = self._series(request, run, tag)
        p, k = len(series.positions), len(series.classes)
        raw_position = request.args.get("position", "all")
        position = None if raw_position == "all" else arg_int(request, "position", hi=p - 1)
        true = arg_int(request, "true", hi=k - 1)
        predicted = arg_int(request, "predicted", hi=k - 1)
        requested = int(series.steps[series.index_of(None if step < 0 else step)])
        answer = {
            "run": run,
            "tag": tag,
            "position": position,
            "true": true,
            "predicted": predicted,
            "requested_step": requested,
            "examples_tag": None,
            "cap_per_cell": None,
            "step": None,
            "exact": False,
            "count": None,
            "stored": 0,
            "images": [],
        }
        listing = self._examples_series(request, run)
        found = [(t, c, m) for t, (c, m) in listing.items() if c.get("matrix_tag") == tag]
        if not found:
            return answer
        examples_tag, content, meta = found[0]
        answer.update(examples_tag=examples_tag, cap_per_cell=content.get("cap_per_cell"))
        data, _ = self._blob_data(request, run, examples_tag, meta)
        if not data:
            return answer
        # The nearest logged step (ties go to the earlier one).
        datum = min(data, key=lambda d: (abs(d.step - requested), d.step))
        cells = self._cells(request, run, examples_tag, datum)
        match = (cells[:, 1] == true) & (cells[:, 2] == predicted)
        if position is not None:
            match &= cells[:, 0] == position
        hits = np.flatnonzero(match)[:limit]
        count = None
        at = int(np.searchsorted(series.steps, datum.step))
        if at < len(series.steps) and series.steps[at] == datum.step:
            cell = series.counts[at][:, true, predicted].astype(np.int64)
            count = int(cell.sum() if position is None else cell[position])
        images = []
        for i in hits.tolist():
            query = urllib.parse.urlencode(
                {"run": run, "tag": examples_tag, "step": datum.step, "index": i + 1}
            )
            images.append({"index": i + 1, "position": int(cells[i, 0]), "url": f"image?{query}"})
        return {
            **answer,
            "examples_tag": examples_tag,
            "step": int(datum.step),
            "exact": int(datum.step) == requested,
            "count": count,
            "stored": int(match.sum()),
            "images": images,
        }

    @route
    def _serve_image(self, request):
        """One example image (PNG bytes) of an examples series."""
        run, tag = arg_str(request, "run"), arg_str(request, "tag")
        step = arg_int(request, "step", hi=2**63 - 1)
        index = arg_int(request, "index", lo=1, hi=2**31)
        found = self._examples_series(request, run).get(tag)
        if found is None:
            raise not_found(f"no example images for run {run!r}, tag {tag!r}")
        _, by_step = self._blob_data(request, run, tag, found[1])
        datum = by_step.get(step)
        if datum is None:
            raise not_found(f"no example images at step {step} for run {run!r}, tag {tag!r}")
        if index >= len(datum.values):
            raise not_found(f"step {step} has {len(datum.values) - 1} images, not {index}")
        # wall_time in the key: a run rewritten with the same steps gets fresh images
        key = (self.context(request)[1], run, tag, step, datum.wall_time, index)
        body = self._images.get(key)
        if body is None:
            body = self._read_blob(request, datum.values[index].blob_key)
            if not body.startswith(PNG_SIGNATURE):
                raise not_found(f"blob {index} at step {step} is not a PNG image")
            self._images.put(key, body, len(body))
        return wrappers.Response(
            body,
            content_type="image/png",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=300"},
        )
