"""The per-position Confusion plugin: confusion matrices over training and their examples.

Routes are documented in `confusion_http_api.md` beside this file. Matrices are read once
per (run, tag) version and kept in a small byte-bounded cache, so the step slider and the
per-step metrics do not re-read every step's tensor; example images are read lazily, one
blob per request, and each step's JSON index of examples is decoded once.
"""

from __future__ import annotations

import json
import threading
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

    def _matrix_content(self, request, run: str, tag: str):
        """(content, time series metadata) of a matrix series; 404 when absent or unreadable."""
        listing = self._call(
            "list_tensors",
            request,
            plugin_name=self.plugin_name,
            run_tag_filter=provider.RunTagFilter(runs=[run], tags=[tag]),
        )
        meta = listing.get(run, {}).get(tag)
        if meta is None:
            raise not_found(f"no confusion matrices for run {run!r}, tag {tag!r}")
        try:
            content = fmt.parse_content(meta.plugin_content)
        except fmt.FormatError as exc:
            raise not_found(f"run {run!r}, tag {tag!r}: {exc}") from None
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

    def _sequence_accuracy(self, request, run: str, tag: str) -> tuple[str | None, dict]:
        """(scalar tag, {step: value}) of the logged whole-sequence accuracy, if any."""
        listing = self._call(
            "list_scalars",
            request,
            plugin_name=SCALARS_PLUGIN,
            run_tag_filter=provider.RunTagFilter(runs=[run]),
        )
        scalar_tag = _sequence_tag(sorted(listing.get(run, {})), tag)
        if scalar_tag is None:
            return None, {}
        data = self._call(
            "read_scalars",
            request,
            plugin_name=SCALARS_PLUGIN,
            downsample=ALL_SAMPLES,
            run_tag_filter=provider.RunTagFilter(runs=[run], tags=[scalar_tag]),
        )
        return scalar_tag, {d.step: d.value for d in data.get(run, {}).get(scalar_tag, [])}

    def _blob_listing(self, request, run: str, tag: str | None = None) -> dict[str, dict]:
        """{tag: content} of the readable examples series of `run` (optionally one tag)."""
        listing = self._call(
            "list_blob_sequences",
            request,
            plugin_name=self.plugin_name,
            run_tag_filter=provider.RunTagFilter(runs=[run], tags=None if tag is None else [tag]),
        )
        result = {}
        for name, meta in sorted(listing.get(run, {}).items()):
            try:
                content = fmt.parse_content(meta.plugin_content)
            except fmt.FormatError:
                continue
            if content.get("kind") == fmt.EXAMPLES:
                result[name] = content
        return result

    def _blob_data(self, request, run: str, tag: str) -> list:
        """BlobSequenceDatum of an examples series, sorted by step."""
        data = self._call(
            "read_blob_sequences",
            request,
            plugin_name=self.plugin_name,
            downsample=ALL_SAMPLES,
            run_tag_filter=provider.RunTagFilter(runs=[run], tags=[tag]),
        )
        return sorted(data.get(run, {}).get(tag, []), key=lambda d: d.step)

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
        for run, tags in self.list_series(request, kind=fmt.EXAMPLES, blobs=True).items():
            for tag, c in sorted(tags.items()):
                if "matrix_tag" in c:
                    examples.setdefault((run, c["matrix_tag"]), tag)
        runs = []
        for run, tags in sorted(self.list_series(request, kind=fmt.MATRIX).items()):
            runs.append(
                {
                    "run": run,
                    "tags": [
                        {
                            "tag": tag,
                            "positions": c.get("positions", []),
                            "classes": c.get("classes", []),
                            "max_step": c["max_step"],
                            "examples_tag": examples.get((run, tag)),
                            "error": c.get("error"),
                        }
                        for tag, c in sorted(tags.items())
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
        scalar_tag, by_step = self._sequence_accuracy(request, run, tag)
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
        series = self._series(request, run, tag)
        _, p, k, _ = series.counts.shape
        keep = min(max_steps, max(1, SERIES_MAX_CELLS // (p * k * k)))
        chosen = thin_steps(len(series.steps), keep)
        counts = series.counts[chosen].astype(np.int64)
        steps = series.steps[chosen]
        scalar_tag, by_step = self._sequence_accuracy(request, run, tag)
        return {
            "run": run,
            "tag": tag,
            "positions": series.positions,
            "classes": series.classes,
            "total_steps": len(series.steps),
            "downsampled": len(chosen) < len(series.steps),
            "skipped_steps": series.skipped_steps,
            "steps": steps.tolist(),
            "wall_times": series.wall_times[chosen].tolist(),
            "counts": counts.reshape(len(chosen), -1).tolist(),
            "accuracy": _rounded(accuracy(counts)),
            "pooled_accuracy": _rounded(accuracy(counts.sum(axis=1))),
            "sequence_accuracy": (
                None
                if scalar_tag is None
                else {"tag": scalar_tag, "values": [by_step.get(int(s)) for s in steps]}
            ),
        }

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
        listing = self._blob_listing(request, run)
        found = [(t, c) for t, c in listing.items() if c.get("matrix_tag") == tag]
        if not found:
            return answer
        examples_tag, content = found[0]
        answer.update(examples_tag=examples_tag, cap_per_cell=content.get("cap_per_cell"))
        data = self._blob_data(request, run, examples_tag)
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
        if datum.step in set(series.steps.tolist()):
            cell = series.counts[series.index_of(datum.step)][:, true, predicted].astype(np.int64)
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
        if tag not in self._blob_listing(request, run, tag):
            raise not_found(f"no example images for run {run!r}, tag {tag!r}")
        data = self._blob_data(request, run, tag)
        datum = next((d for d in data if d.step == step), None)
        if datum is None:
            raise not_found(f"no example images at step {step} for run {run!r}, tag {tag!r}")
        if index >= len(datum.values):
            raise not_found(f"step {step} has {len(datum.values) - 1} images, not {index}")
        body = self._read_blob(request, datum.values[index].blob_key)
        if not body.startswith(PNG_SIGNATURE):
            raise not_found(f"blob {index} at step {step} is not a PNG image")
        return wrappers.Response(
            body,
            content_type="image/png",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=300"},
        )
