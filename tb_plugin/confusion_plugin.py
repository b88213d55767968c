"""The per-position Confusion plugin: confusion matrices over training and their examples.

Routes are documented in `confusion_http_api.md` beside this file. Each route only parses
its query and calls one `*_impl(ctx, experiment_id, ...)` method, which returns a plain dict
(or bytes for /series and /image) and is tested in-process against TensorBoard's own data
provider. Everything is read through `tb_plugin.data.PluginData`: listings kept briefly,
matrices, example sequences and the sequence-accuracy scalar cached by the version the
listing reports, so a steady request makes no provider call. The /series answers (encoding
dominates a large one) and each step's decoded example index are cached here, by version.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from werkzeug import wrappers

from summaries import format as fmt
from summaries.position_confusion.counts import flat_cells
from tb_plugin.base import (
    FlowscopePlugin,
    arg_int,
    arg_str,
    bad_request,
    json_response,
    not_found,
    route,
)
from tb_plugin.confusion_metrics import (
    accuracy,
    class_metrics,
    compact,
    confused_pairs,
    encoded_counts,
    int_rows_json,
    rounded,
    thin_steps,
    v1_sequence_tag,
)
from tb_plugin.data import ALL_SAMPLES, LRU, PluginData, Series

MAX_TOP = 1000
DEFAULT_TOP = 10
# /series answers at most this many matrix cells (steps x P x K x K); longer series are
# thinned to evenly spaced steps that always include the first and the last one.
SERIES_MAX_CELLS = 2_000_000
SERIES_DEFAULT_STEPS = 1000
MAX_EXAMPLES = 1000
DEFAULT_EXAMPLES = 100
INDEX_CACHE_ENTRIES = 4096
BODY_CACHE_BYTES = 32 * 2**20  # encoded /series answers
# One data-provider answer of matrices holds at most this many bytes (half of gRPC's 256 MiB
# limit between TensorBoard and its Rust data server): a series that may be larger
# is read as that many steps (the latest among them, the provider picks the others).
READ_BYTES = 128 * 2**20
# A sparse series' step size is measured on this many of its steps (the latest among them),
# and taken as PROBE_MARGIN times the largest (early steps of training confuse more).
PROBE_STEPS = 8
PROBE_MARGIN = 2
SERIES_ENCODINGS = ("json", "base64")
COUNTS_CHOICES = ("all", "none")  # `counts=none`: the answer without its matrices
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_STEP = 2**63 - 1


@dataclass(frozen=True)
class MatrixSeries:
    """The readable steps of one matrix series, kept sparse: each step's non-zero cells as
    flat indices ``(p * K + true) * K + predicted`` and counts, so memory grows with the
    samples, not with K^2 (a 1,000-class matrix is 1,000,000 cells)."""

    positions: list[str]
    classes: list[str]
    steps: np.ndarray  # [S] int64
    wall_times: np.ndarray  # [S] float64
    offsets: np.ndarray  # [S + 1] int64: step i's cells are cells[offsets[i]:offsets[i + 1]]
    cells: np.ndarray  # [N] flat cell indices (int32 below 2^31 cells), sorted within a step
    values: np.ndarray  # [N] counts, smallest unsigned dtype that holds them
    skipped_steps: list[int]
    read: int  # steps the provider answered (readable or not)
    sampled: bool = False  # a bounded read: the provider may hold more steps

    @property
    def shape(self) -> tuple[int, int]:
        """(P, K)."""
        return len(self.positions), len(self.classes)

    def index_of(self, step: int | None) -> int:
        """Index of `step` (the latest when None); 404 when the series has no such step."""
        if step is None:
            return len(self.steps) - 1
        found = np.searchsorted(self.steps, step)
        if found >= len(self.steps) or self.steps[found] != step:
            raise not_found(f"no matrix at step {step} (steps {_span(self.steps)})")
        return int(found)

    def flat(self, indices: np.ndarray) -> np.ndarray:
        """[len(indices), P * K * K] counts of those steps, in the values' dtype."""
        p, k = self.shape
        out = np.zeros((len(indices), p * k * k), self.values.dtype)
        for row, i in enumerate(np.asarray(indices).tolist()):
            lo, hi = self.offsets[i], self.offsets[i + 1]
            out[row, self.cells[lo:hi]] = self.values[lo:hi]
        return out

    def dense(self, i: int) -> np.ndarray:
        """[P, K, K] int64 counts of step index `i`."""
        p, k = self.shape
        return self.flat(np.array([i]))[0].astype(np.int64).reshape(p, k, k)

    def cell(self, i: int, true: int, predicted: int) -> np.ndarray:
        """[P] int64 counts of one (true, predicted) cell at step index `i`."""
        p, k = self.shape
        cells = self.cells[self.offsets[i] : self.offsets[i + 1]]
        values = self.values[self.offsets[i] : self.offsets[i + 1]]
        out = np.zeros(p, np.int64)
        if len(cells):
            wanted = (np.arange(p) * k + true) * k + predicted
            at = np.minimum(np.searchsorted(cells, wanted), len(cells) - 1)
            hit = cells[at] == wanted
            out[hit] = values[at[hit]]
        return out

    def accuracy(self) -> tuple[np.ndarray, np.ndarray]:
        """([S, P] accuracy per step and position, [S] pooled), NaN where no sample."""
        p, k = self.shape
        s = len(self.steps)
        step_of = np.repeat(np.arange(s), np.diff(self.offsets))
        key = step_of * p + self.cells // (k * k)
        weights = self.values.astype(np.float64)
        diagonal = (self.cells // k) % k == self.cells % k
        totals = np.bincount(key, weights=weights, minlength=s * p).reshape(s, p)
        traces = np.bincount(key[diagonal], weights=weights[diagonal], minlength=s * p)
        traces = traces.reshape(s, p)
        with np.errstate(invalid="ignore", divide="ignore"):
            per = np.where(totals > 0, traces / np.where(totals > 0, totals, 1), np.nan)
            all_ = totals.sum(axis=1)
            pooled = np.where(all_ > 0, traces.sum(axis=1) / np.where(all_ > 0, all_, 1), np.nan)
        return per, pooled


def _span(steps: np.ndarray) -> str:
    return f"{int(steps[0])}..{int(steps[-1])}, {len(steps)} in all" if len(steps) else "none"


def _names(series: Series) -> tuple[list, list]:
    content = series.content or {}
    return content.get("positions") or [], content.get("classes") or []


def decode_matrices(series: Series, data: list) -> MatrixSeries:
    """The readable steps of a matrix series, dense or sparse (`summaries.format`), kept
    sparse; unreadable steps are skipped."""
    positions, classes = _names(series)
    shape = (len(positions), len(classes)) if positions and classes else None
    kept, cells, values, skipped = [], [], [], []
    for datum in data:
        array = np.asarray(datum.numpy)
        if shape is None and array.ndim == 3 and array.shape[1] == array.shape[2]:
            shape = (array.shape[0], array.shape[1])  # a dense matrix without names
        try:
            if shape is None:
                raise ValueError("a sparse matrix needs its positions and classes")
            index, counts = flat_cells(array, *shape)
        except ValueError:
            skipped.append(datum.step)
            continue
        kept.append(datum)
        cells.append(index)
        values.append(counts)
    if not kept:
        raise not_found(
            f"run {series.run!r}, tag {series.tag!r}: no readable [P, K, K] count matrix"
            + (f" (skipped steps {skipped[:10]})" if skipped else "")
        )
    p, k = shape
    sizes = [len(c) for c in cells]
    return MatrixSeries(
        positions=[str(v) for v in positions] or [f"position {i + 1}" for i in range(p)],
        classes=[str(v) for v in classes] or [str(i) for i in range(k)],
        steps=np.array([d.step for d in kept], dtype=np.int64),
        wall_times=np.array([d.wall_time for d in kept], dtype=np.float64),
        offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        cells=np.concatenate(cells).astype(np.int32 if p * k * k < 2**31 else np.int64),
        values=compact(np.concatenate(values)),
        skipped_steps=[int(s) for s in skipped],
        read=len(data),
    )


def _small_cost(value: Any) -> int:
    return 64


def _matrix_cost(series: MatrixSeries) -> int:
    return series.cells.nbytes + series.values.nbytes + series.offsets.nbytes + 1024


def step_bytes(series: Series, data: list) -> int:
    """The bytes one step of a matrix series is taken to need, from a few of its steps (the
    latest among them): the largest one's size x `PROBE_MARGIN`, but never more than a
    bound that holds for every step of a sparse series, 16 bytes x min(P x K x K, samples)
    (each int32 row counts at least one sample; an evaluation's sample count is taken as
    the latest step's); a dense tensor's own size."""
    if not data:
        return 1024
    arrays = [np.asarray(d.numpy) for d in data]
    latest = arrays[-1]
    largest = max(a.nbytes for a in arrays)
    if latest.ndim != 2 or latest.shape[1:] != (4,) or latest.dtype.kind not in "iu":
        return largest + 1024
    p, k = (len(names) for names in _names(series))
    samples = int(latest[:, 3].astype(np.int64).sum())
    bound = min(p * k * k, samples) if p and k else samples
    bound_bytes = max(bound, len(latest)) * 4 * latest.dtype.itemsize
    return int(min(bound_bytes, PROBE_MARGIN * largest)) + 1024


def decode_examples(series: Series, data: list) -> tuple[list, dict]:
    """(BlobSequenceDatum sorted by step, {step: datum}) of an examples series."""
    return data, {d.step: d for d in data}


def _examples_cost(value: tuple[list, dict]) -> int:
    return 1024 + 160 * sum(len(d.values) for d in value[0])


def _by_step(data: list) -> dict[int, float]:
    return {d.step: d.value for d in data}


def _in_range(name: str, value: int, size: int) -> int:
    if not 0 <= value < size:
        raise bad_request(f"query parameter {name!r} must be in [0, {size - 1}], got {value}")
    return value


class ConfusionPlugin(FlowscopePlugin):
    """Serves the Confusion page and its routes (see confusion_http_api.md)."""

    plugin_name = fmt.CONFUSION_PLUGIN
    tab_name = "Confusion"
    page = "confusion"

    def __init__(self, context):
        super().__init__(context)
        self.data = PluginData(context.data_provider, self.plugin_name)
        self._indexes = LRU(INDEX_CACHE_ENTRIES)
        self._bodies = LRU(BODY_CACHE_BYTES)

    def routes(self):
        return {
            "/runs": self._serve_runs,
            "/matrix": self._serve_matrix,
            "/series": self._serve_series,
            "/examples": self._serve_examples,
            "/image": self._serve_image,
        }

    # -- routes: parse the query, call the impl ------------------------------------------
    @route
    def _serve_runs(self, request):
        return self.runs_impl(*self.context(request))

    @route
    def _serve_matrix(self, request):
        if "normalize" in request.args:
            raise bad_request(
                "query parameter 'normalize' was removed: /matrix answers counts, and the page "
                "normalises them (by true or predicted class) itself"
            )
        body = self.matrix_body(
            *self.context(request),
            run=arg_str(request, "run"),
            tag=arg_str(request, "tag"),
            step=_step_arg(request),
            top=arg_int(request, "top", default=DEFAULT_TOP, lo=0, hi=MAX_TOP),
            counts=_counts_arg(request),
        )
        response = json_response(None)
        response.set_data(body)
        return response

    @route
    def _serve_series(self, request):
        run, tag = arg_str(request, "run"), arg_str(request, "tag")
        max_steps = arg_int(request, "max_steps", default=SERIES_DEFAULT_STEPS, lo=1, hi=100_000)
        encoding = arg_str(request, "encoding", default="json", max_len=20)
        if encoding not in SERIES_ENCODINGS:
            raise bad_request(f"encoding must be one of {list(SERIES_ENCODINGS)}, got {encoding!r}")
        start = arg_int(request, "from_step", default=-1, lo=-1, hi=MAX_STEP)
        start = None if start < 0 else start
        body = self.series_impl(
            *self.context(request), run, tag, max_steps, encoding, start, _counts_arg(request)
        )
        response = json_response(None)
        response.set_data(body)
        return response

    @route
    def _serve_examples(self, request):
        raw_position = request.args.get("position", "all")
        return self.examples_impl(
            *self.context(request),
            run=arg_str(request, "run"),
            tag=arg_str(request, "tag"),
            true=arg_int(request, "true"),
            predicted=arg_int(request, "predicted"),
            position=None if raw_position == "all" else arg_int(request, "position"),
            step=_step_arg(request),
            limit=arg_int(request, "limit", default=DEFAULT_EXAMPLES, lo=1, hi=MAX_EXAMPLES),
        )

    @route
    def _serve_image(self, request):
        body = self.image_impl(
            *self.context(request),
            run=arg_str(request, "run"),
            tag=arg_str(request, "tag"),
            step=arg_int(request, "step", hi=MAX_STEP),
            index=arg_int(request, "index", lo=1, hi=2**31),
        )
        return wrappers.Response(
            body,
            content_type="image/png",
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=300"},
        )

    # -- implementations -----------------------------------------------------------------
    def runs_impl(self, ctx, experiment_id: str) -> dict[str, Any]:
        """Runs with confusion matrices: tags, position and class names (or why unreadable)."""
        examples: dict[tuple[str, str], str] = {}
        for run in self.data.catalog(ctx, experiment_id, blobs=True):
            for tag, found in self._examples_series(ctx, experiment_id, run).items():
                if "matrix_tag" in found.content:
                    examples.setdefault((run, found.content["matrix_tag"]), tag)
        runs = []
        for run, tags in sorted(self.data.catalog(ctx, experiment_id).items()):
            # Matrix series, and series whose metadata cannot be read (to say why).
            listed = [
                s for _, s in sorted(tags.items()) if s.error is not None or s.kind == fmt.MATRIX
            ]
            if not listed:
                continue
            runs.append(
                {
                    "run": run,
                    "tags": [
                        {
                            "tag": s.tag,
                            "positions": (s.content or {}).get("positions", []),
                            "classes": (s.content or {}).get("classes", []),
                            "max_step": s.max_step,
                            "examples_tag": examples.get((run, s.tag)),
                            "error": s.error,
                        }
                        for s in listed
                    ],
                }
            )
        return {"runs": runs}

    def matrix_impl(
        self,
        ctx,
        experiment_id: str,
        run: str,
        tag: str,
        step: int | None = None,
        top: int = DEFAULT_TOP,
        counts: bool = True,
    ) -> dict[str, Any]:
        """Counts at one step (the latest when None), accuracies, class metrics, top pairs;
        without `counts` and `pooled_counts` when `counts` is False."""
        with_counts = counts
        listed, series = self._matrices(ctx, experiment_id, run, tag)
        i = series.index_of(step)
        counts = series.dense(i)
        pooled = counts.sum(axis=0)
        step_value = int(series.steps[i])
        scalar_tag, by_step, _ = self._sequence_accuracy(ctx, experiment_id, listed)
        acc = accuracy(counts)
        answer = {
            "run": run,
            "tag": tag,
            "step": step_value,
            "wall_time": float(series.wall_times[i]),
            "steps": series.steps.tolist(),
            "skipped_steps": series.skipped_steps,
            "steps_sampled": series.sampled,
            "positions": series.positions,
            "classes": series.classes,
            "counts": counts.tolist() if with_counts else None,
            "pooled_counts": pooled.tolist() if with_counts else None,
            "totals": counts.sum(axis=(1, 2)).tolist(),
            "accuracy": {
                "positions": rounded(acc),
                "pooled": rounded(accuracy(pooled)),
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
        if not with_counts:
            del answer["counts"], answer["pooled_counts"]
        return answer

    def matrix_body(self, ctx, experiment_id: str, run: str, tag: str, **query: Any) -> bytes:
        """The /matrix JSON body: `matrix_impl` (whose keywords `query` holds: step, top,
        counts), encoded once per series version: a 1,000-class answer is 2,000,000 counts,
        whose JSON text costs far more than a look-up."""

        def build(*_: Any) -> bytes:  # matrix_impl reads the sequence accuracy itself
            answer = self.matrix_impl(ctx, experiment_id, run, tag, **query)
            return json_response(answer).get_data()

        return self._body(ctx, experiment_id, run, tag, ("matrix", *sorted(query.items())), build)

    def series_impl(
        self,
        ctx,
        experiment_id: str,
        run: str,
        tag: str,
        max_steps: int = SERIES_DEFAULT_STEPS,
        encoding: str = "json",
        from_step: int | None = None,
        counts: bool = True,
    ) -> bytes:
        """The /series JSON body: the steps' counts (flattened) with per-step accuracies;
        evenly thinned over the series, or (`from_step`) one page of consecutive steps.
        Without `counts`, no matrices and no cell limit: every step's accuracy (up to
        `max_steps`), for a slider over a series too large to send at once."""
        if encoding not in SERIES_ENCODINGS:
            raise ValueError(f"encoding must be one of {list(SERIES_ENCODINGS)}, got {encoding!r}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {max_steps}")

        def build(scalar_tag: str | None, by_step: dict) -> bytes:
            _, series = self._matrices(ctx, experiment_id, run, tag)
            payload, chosen = _series_payload(series, run, tag, max_steps, from_step, counts)
            payload["steps_sampled"] = series.sampled
            if scalar_tag is not None:
                values = [by_step.get(s) for s in payload["steps"]]
                payload["sequence_accuracy"] = {"tag": scalar_tag, "values": values}
            if chosen is None:
                return json_response(payload).get_data()
            if encoding == "base64":
                payload["counts"] = encoded_counts(chosen)
                return json_response(payload).get_data()
            # the counts' JSON text goes in as the last member
            head = json_response(payload).get_data(as_text=True)
            return f'{head[:-1]},"counts":{int_rows_json(chosen)}}}'.encode()

        # Encoding dominates a large answer (2M numbers): each version is encoded once.
        query = ("series", max_steps, encoding, from_step, counts)
        return self._body(ctx, experiment_id, run, tag, query, build)

    def examples_impl(
        self,
        ctx,
        experiment_id: str,
        run: str,
        tag: str,
        true: int,
        predicted: int,
        position: int | None = None,
        step: int | None = None,
        limit: int = DEFAULT_EXAMPLES,
    ) -> dict[str, Any]:
        """Example images of one (position, true, predicted) cell at a step, or the nearest."""
        _, series = self._matrices(ctx, experiment_id, run, tag)
        p, k = len(series.positions), len(series.classes)
        if position is not None:
            _in_range("position", position, p)
        _in_range("true", true, k)
        _in_range("predicted", predicted, k)
        requested = int(series.steps[series.index_of(step)])
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
        listing = self._examples_series(ctx, experiment_id, run)
        found = [s for s in listing.values() if s.content.get("matrix_tag") == tag]
        if not found:
            return answer
        examples = found[0]
        answer.update(examples_tag=examples.tag, cap_per_cell=examples.content.get("cap_per_cell"))
        data, _ = self.data.read(ctx, experiment_id, examples, decode_examples, _examples_cost)
        if not data:
            return answer
        # The nearest logged step (ties go to the earlier one).
        datum = min(data, key=lambda d: (abs(d.step - requested), d.step))
        cells = self._cells(ctx, experiment_id, examples, datum)
        match = (cells[:, 1] == true) & (cells[:, 2] == predicted)
        if position is not None:
            match &= cells[:, 0] == position
        hits = np.flatnonzero(match)[:limit]
        count = None
        at = int(np.searchsorted(series.steps, datum.step))
        if at < len(series.steps) and series.steps[at] == datum.step:
            cell = series.cell(at, true, predicted)
            count = int(cell.sum() if position is None else cell[position])
        images = []
        for i in hits.tolist():
            query = urllib.parse.urlencode(
                {"run": run, "tag": examples.tag, "step": datum.step, "index": i + 1}
            )
            images.append({"index": i + 1, "position": int(cells[i, 0]), "url": f"image?{query}"})
        return {
            **answer,
            "step": int(datum.step),
            "exact": int(datum.step) == requested,
            "count": count,
            "stored": int(match.sum()),
            "images": images,
        }

    def image_impl(
        self, ctx, experiment_id: str, run: str, tag: str, step: int, index: int
    ) -> bytes:
        """One example image (PNG bytes) of an examples series; index 1 is the first image."""
        if index < 1:
            raise bad_request(f"query parameter 'index' must be at least 1, got {index}")
        examples = self._examples_series(ctx, experiment_id, run).get(tag)
        if examples is None:
            raise not_found(f"no example images for run {run!r}, tag {tag!r}")
        _, by_step = self.data.read(ctx, experiment_id, examples, decode_examples, _examples_cost)
        datum = by_step.get(step)
        if datum is None:
            raise not_found(f"no example images at step {step} for run {run!r}, tag {tag!r}")
        if index >= len(datum.values):
            raise not_found(f"step {step} has {len(datum.values) - 1} images, not {index}")
        # wall_time in the key: a run rewritten with the same steps gets fresh images
        version = ("image", run, tag, step, datum.wall_time, index)
        body = self.data.blob(ctx, experiment_id, datum.values[index].blob_key, version)
        if not body.startswith(PNG_SIGNATURE):
            raise not_found(f"blob {index} at step {step} is not a PNG image")
        return body

    # -- helpers -------------------------------------------------------------------------
    def _matrices(self, ctx, eid: str, run: str, tag: str) -> tuple[Series, MatrixSeries]:
        """The listed matrix series and its decoded steps; 404 when absent or unreadable.

        One provider answer holds at most `READ_BYTES` (gRPC's limit between TensorBoard and
        its Rust data server is 256 MiB): `_read_limit` steps, the latest among them.
        """
        listed = self.data.series(ctx, eid, run, tag, kind=fmt.MATRIX)
        limit = self._read_limit(ctx, eid, listed)
        series = self.data.read(ctx, eid, listed, decode_matrices, _matrix_cost, limit)
        if limit < ALL_SAMPLES and series.read >= limit:  # the provider may hold more
            series = dataclasses.replace(series, sampled=True)
        return listed, series

    def _read_limit(self, ctx, eid: str, listed: Series) -> int:
        """How many steps of a matrix series one provider answer may hold (`READ_BYTES`)."""
        p, k = (len(names) for names in _names(listed))
        if listed.content.get("layout") == fmt.DENSE and p and k:
            per_step = 8 * p * k * k + 1024  # int64, as every writer of the dense layout
        else:  # sparse: measured on a few steps (`step_bytes`; read once per version)
            per_step = self.data.read(ctx, eid, listed, step_bytes, _small_cost, PROBE_STEPS)
        return int(min(ALL_SAMPLES, max(1, READ_BYTES // per_step)))

    def _body(
        self, ctx, eid: str, run: str, tag: str, query: tuple, build: Callable[..., bytes]
    ) -> bytes:
        """A matrix series' JSON body for the route's parameters `query`, made by
        `build(sequence accuracy tag, {step: its value})` once per version of the series and
        of that scalar series (a cached one is answered as it is)."""
        listed = self.data.series(ctx, eid, run, tag, kind=fmt.MATRIX)
        scalar_tag, by_step, seq_version = self._sequence_accuracy(ctx, eid, listed)
        key = (eid, run, tag, listed.version, *query, scalar_tag, seq_version)
        body = self._bodies.get(key)
        if body is None:
            body = build(scalar_tag, by_step)
            self._bodies.put(key, body, len(body))
        return body

    def _sequence_accuracy(self, ctx, eid: str, listed: Series) -> tuple[str | None, dict, Any]:
        """(scalar tag, {step: value}, version) of the run's whole-sequence accuracy, if any.

        The matrix metadata names the scalar (`sequence_accuracy_tag`); only metadata
        upgraded from version 1 (which had no such field) is matched by scalar name.
        """
        content = listed.content or {}
        scalar_tag = content.get("sequence_accuracy_tag")
        names = content.get("v1_sequence_accuracy_names")
        if not isinstance(scalar_tag, str) and not names:
            return None, {}, None  # the writer logged none: no provider call at all
        scalars = self.data.scalars(ctx, eid, listed.run)
        if not isinstance(scalar_tag, str):
            scalar_tag = v1_sequence_tag(sorted(scalars), listed.tag, names)
        if scalar_tag is None or scalar_tag not in scalars:
            return None, {}, None
        by_step, version = self.data.read_scalars(ctx, eid, listed.run, scalar_tag, _by_step)
        return scalar_tag, by_step, version

    def _examples_series(self, ctx, eid: str, run: str) -> dict[str, Series]:
        """{tag: Series} of the readable examples series of `run`, sorted by tag."""
        tags = self.data.catalog(ctx, eid, blobs=True).get(run, {})
        return {tag: s for tag, s in sorted(tags.items()) if s.kind == fmt.EXAMPLES}

    def _cells(self, ctx, eid: str, examples: Series, datum) -> np.ndarray:
        """The decoded [n, 3] (position, true, predicted) index of one examples step."""
        key = (eid, examples.run, examples.tag, datum.step, datum.wall_time, len(datum.values))
        cells = self._indexes.get(key)
        if cells is not None:
            return cells
        cells = np.zeros((0, 3), np.int64)
        if datum.values:
            try:
                index = json.loads(self.data.blob(ctx, eid, datum.values[0].blob_key))
                parsed = np.asarray(index["cells"], dtype=np.int64).reshape(-1, 3)
                # One index entry per following blob; anything else is unusable.
                if len(parsed) == len(datum.values) - 1:
                    cells = parsed
            except (ValueError, TypeError, KeyError, UnicodeDecodeError):
                pass
        self._indexes.put(key, cells)
        return cells


def _counts_arg(request) -> bool:
    """The `counts` query parameter: True for `all` (the default), False for `none`."""
    choice = arg_str(request, "counts", default="all", max_len=10)
    if choice not in COUNTS_CHOICES:
        raise bad_request(f"counts must be one of {list(COUNTS_CHOICES)}, got {choice!r}")
    return choice == "all"


def _step_arg(request) -> int | None:
    """The `step` query parameter: None (the latest) when absent or -1."""
    step = arg_int(request, "step", default=-1, lo=-1, hi=MAX_STEP)
    return None if step < 0 else step


def _series_payload(
    series: MatrixSeries,
    run: str,
    tag: str,
    max_steps: int,
    from_step: int | None = None,
    with_counts: bool = True,
):
    """The /series answer without its counts, and the chosen steps' [S, P*K*K] counts
    (None without `with_counts`, which lifts the cell limit): evenly thinned over the
    series, or the page of consecutive steps from `from_step`."""
    p, k = series.shape
    keep = min(max_steps, max(1, SERIES_MAX_CELLS // (p * k * k))) if with_counts else max_steps
    total = len(series.steps)
    next_step = None
    if from_step is None:
        chosen = thin_steps(total, keep)
    else:
        start = int(np.searchsorted(series.steps, from_step))
        if start >= total:
            raise not_found(f"no matrix at or after step {from_step} (steps {_span(series.steps)})")
        chosen = np.arange(start, min(total, start + keep))
        if chosen[-1] + 1 < total:
            next_step = int(series.steps[chosen[-1] + 1])
    per_position, pooled = series.accuracy()
    return {
        "run": run,
        "tag": tag,
        "positions": series.positions,
        "classes": series.classes,
        "total_steps": total,
        "downsampled": len(chosen) < total,
        "from_step": from_step,
        "next_step": next_step,
        "skipped_steps": series.skipped_steps,
        "steps": series.steps[chosen].tolist(),
        "wall_times": series.wall_times[chosen].tolist(),
        "accuracy": rounded(per_position[chosen]),
        "pooled_accuracy": rounded(pooled[chosen]),
        "sequence_accuracy": None,
    }, (series.flat(chosen) if with_counts else None)
