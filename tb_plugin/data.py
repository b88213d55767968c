"""One data-access layer for both Flowscope plugins: listings and series through the provider.

A plugin makes one `PluginData(context.data_provider, plugin_name)` and reads only through it:

* `listing(ctx, eid, kind, plugin_name=None, run=None)`: the provider's raw listing
  ({run: {tag: time series metadata}}) of "tensors", "blob_sequences" or "scalars", kept
  `LISTING_TTL_S` (every provider call is a round trip: a gRPC call to the Rust data server
  under ``--load_fast=true``).
* `catalog(ctx, eid, blobs=False)`: this plugin's tensor (or blob sequence) series as
  {run: {tag: Series}}, parsed once per listing with `summaries.format.parse_content` (the
  race's with `summaries.race.upgrade.parse_content`, which fills what its older versions
  left out from the race library).
  Unreadable metadata gives a `Series` with `content=None` and `error` set, so a page can say
  what is wrong with that run while the other runs keep working.
* `series(ctx, eid, run, tag, kind=None, blobs=False)`: one `Series`; 404 when it is absent,
  unreadable or not of `kind`.
* `read(ctx, eid, series, decode=None, cost=None, downsample=ALL_SAMPLES)`: every datum of a
  series (TensorDatum or BlobSequenceDatum, sorted by step; at most `downsample` steps, the
  latest among them), or `decode(series, data)` of them, cached by the
  series' `version` (max step, max wall time, metadata) in one byte-bounded LRU (`cost(value)`
  bytes, `estimate_bytes` by default): a steady request makes no provider call, and new data
  is read once the listing shows it. Keep only the decoded form (a stacked array, ...):
  `decode` must be a long-lived callable (a module function or a bound method), it is part
  of the cache key; an HttpError it raises is answered and nothing is cached.
* `scalars(ctx, eid, run)` / `read_scalars(ctx, eid, run, tag, decode=None)`: the run's
  scalar listing, and one scalar series (ScalarDatum sorted by step, or `decode(data)`)
  cached the same way; it returns (value, version).
* `blob(ctx, eid, blob_key, version=None)`: one blob's bytes, cached when `version` (e.g.
  run, tag, step, wall time) says when it would change.
* `call(method, ctx, eid, **kwargs)`: any provider method; TensorBoard's public errors become
  HttpError 404 (NotFoundError) or 400 (any other PublicError), answered as JSON by `route`.

`LRU` (cost-bounded) and `TTL` (time-bounded) are the caches; plugins use them too for what
they derive from the data (encoded answers, decoded indexes).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from tensorboard import errors as tb_errors
from tensorboard.data import provider

from summaries import format as fmt
from summaries.race import upgrade as race_upgrade
from tb_plugin.base import bad_request, not_found

# TensorBoard's data provider needs an explicit sample count; our loaders keep every
# event, so ask for all of them.
ALL_SAMPLES = 1_000_000_000
# Listings are reused this long: well within TensorBoard's reload interval (5 s by default).
LISTING_TTL_S = 1.0
LISTING_CACHE_ENTRIES = 256
SERIES_CACHE_BYTES = 128 * 2**20  # decoded series of both kinds, scalars included
BLOB_CACHE_BYTES = 16 * 2**20  # example PNGs are a few KB; repeat views skip the provider
SCALARS_PLUGIN = "scalars"
KINDS = ("tensors", "blob_sequences", "scalars")
# Each plugin's metadata reader: the race kind's home fills what its older versions left out.
_PARSERS: dict[str, Callable[[bytes], dict[str, Any]]] = {
    fmt.RACE_PLUGIN: race_upgrade.parse_content
}


class LRU:
    """A thread-safe LRU dictionary bounded by a total cost (bytes, entries, ...)."""

    def __init__(self, budget: int):
        self._budget = budget
        self._items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        """The value under `key` (now the most recently used), or None."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: Hashable, value: Any, cost: int = 1) -> None:
        """Keep `value`, dropping the least recently used entries beyond the budget."""
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

    def __len__(self) -> int:
        return len(self._items)


class TTL:
    """A thread-safe dictionary whose entries expire `ttl` seconds after they were put."""

    def __init__(self, ttl: float, size: int):
        self._ttl = ttl
        self._size = size
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        """The value under `key` if it has not expired, else None."""
        with self._lock:
            item = self._items.get(key)
            return item[1] if item is not None and item[0] > time.monotonic() else None

    def put(self, key: Hashable, value: Any) -> None:
        """Keep `value` for the next `ttl` seconds (the oldest entry goes beyond `size`)."""
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = (time.monotonic() + self._ttl, value)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry (the next read asks the provider)."""
        with self._lock:
            self._items.clear()


@dataclass(frozen=True)
class Series:
    """One listed series of a Flowscope plugin: parsed metadata and its version."""

    run: str
    tag: str
    content: dict[str, Any] | None  # current-version fields; None when unreadable
    error: str | None  # why the metadata cannot be read, else None
    max_step: int
    max_wall_time: float
    plugin_content: bytes
    blobs: bool  # a blob sequence series (else a tensor series)

    @property
    def kind(self) -> str | None:
        """The summary kind ("trajectory", "matrix", ...), None when unreadable."""
        return None if self.content is None else self.content.get("kind")

    @property
    def version(self) -> tuple:
        """Changes whenever the series gets new data or new metadata."""
        return (self.max_step, self.max_wall_time, self.plugin_content)


def estimate_bytes(value: Any) -> int:
    """Rough memory cost of a decoded value, for the byte-bounded caches."""
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes + 64
    if isinstance(value, dict):
        return 64 + sum(estimate_bytes(v) + 64 for v in value.values())
    if isinstance(value, list | tuple):
        return 64 + sum(estimate_bytes(v) for v in value)
    numpy = getattr(value, "numpy", None)  # TensorDatum
    if numpy is not None:
        return 64 + int(getattr(numpy, "nbytes", 8))
    values = getattr(value, "values", None)  # BlobSequenceDatum: blob references
    if isinstance(values, list | tuple):
        return 64 + 96 * len(values)
    if isinstance(value, bytes | str):
        return 64 + len(value)
    return 64


class PluginData:
    """Cached reads of one plugin's data (and of scalars) through TensorBoard's data provider."""

    def __init__(
        self,
        data_provider: provider.DataProvider,
        plugin_name: str,
        listing_ttl_s: float = LISTING_TTL_S,
        series_bytes: int = SERIES_CACHE_BYTES,
        blob_bytes: int = BLOB_CACHE_BYTES,
    ):
        if not plugin_name:
            raise ValueError("plugin_name must be a non-empty string")
        self.provider = data_provider
        self.plugin_name = plugin_name
        self._listings = TTL(listing_ttl_s, LISTING_CACHE_ENTRIES)
        self._series = LRU(series_bytes)
        self._blobs = LRU(blob_bytes)

    # -- provider calls ----------------------------------------------------------------
    def call(self, method: str, ctx: Any, eid: str, **kwargs: Any) -> Any:
        """Call a data-provider method; its public errors become 404/400 HttpErrors."""
        try:
            return getattr(self.provider, method)(ctx, experiment_id=eid, **kwargs)
        except tb_errors.NotFoundError as exc:
            raise not_found(str(exc) or "not found") from None
        except tb_errors.PublicError as exc:
            raise bad_request(str(exc) or type(exc).__name__) from None

    def refresh(self) -> None:
        """Forget the cached listings, so the next request sees the provider's latest data."""
        self._listings.clear()

    # -- listings ----------------------------------------------------------------------
    def listing(
        self,
        ctx: Any,
        eid: str,
        kind: str = "tensors",
        plugin_name: str | None = None,
        run: str | None = None,
    ) -> dict[str, dict[str, Any]]:
        """The provider's {run: {tag: metadata}} of one kind (of one run or all), kept briefly."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
        plugin_name = plugin_name or self.plugin_name
        key = (eid, kind, plugin_name, run)
        found = self._listings.get(key)
        if found is None:
            runs = None if run is None else provider.RunTagFilter(runs=[run])
            found = self.call(
                f"list_{kind}", ctx, eid, plugin_name=plugin_name, run_tag_filter=runs
            )
            self._listings.put(key, found)
        return found

    def catalog(self, ctx: Any, eid: str, blobs: bool = False) -> dict[str, dict[str, Series]]:
        """{run: {tag: Series}} of this plugin's tensor (or blob sequence) series."""
        key = (eid, "catalog", blobs)
        found = self._listings.get(key)
        if found is not None:
            return found
        listed = self.listing(ctx, eid, "blob_sequences" if blobs else "tensors")
        parse = _PARSERS.get(self.plugin_name, fmt.parse_content)
        found = {}
        for run, tags in listed.items():
            for tag, meta in tags.items():
                try:
                    content, error = parse(meta.plugin_content), None
                except fmt.FormatError as exc:
                    content, error = None, str(exc)
                found.setdefault(run, {})[tag] = Series(
                    run=run,
                    tag=tag,
                    content=content,
                    error=error,
                    max_step=int(meta.max_step),
                    max_wall_time=float(meta.max_wall_time),
                    plugin_content=bytes(meta.plugin_content),
                    blobs=blobs,
                )
        self._listings.put(key, found)
        return found

    def series(
        self,
        ctx: Any,
        eid: str,
        run: str,
        tag: str,
        kind: str | None = None,
        blobs: bool = False,
    ) -> Series:
        """One listed series; 404 when absent, unreadable, or not of `kind`."""
        found = self.catalog(ctx, eid, blobs).get(run, {}).get(tag)
        if found is None:
            raise not_found(f"no {kind or 'data'} series for run {run!r}, tag {tag!r}")
        if found.error is not None:
            raise not_found(f"run {run!r}, tag {tag!r}: {found.error}")
        if kind is not None and found.kind != kind:
            raise not_found(f"run {run!r}, tag {tag!r} is not a {kind} series")
        return found

    # -- series reads ------------------------------------------------------------------
    def read(
        self,
        ctx: Any,
        eid: str,
        series: Series,
        decode: Callable[[Series, list], Any] | None = None,
        cost: Callable[[Any], int] | None = None,
        downsample: int = ALL_SAMPLES,
    ) -> Any:
        """Every datum of `series` sorted by step, or `decode(series, data)`, cached by version.

        `downsample` asks the provider for at most that many steps (the latest always among
        them, the others its own deterministic pick): what bounds one answer's size.
        """
        if downsample < 1:
            raise ValueError(f"downsample must be at least 1, got {downsample}")
        method = "read_blob_sequences" if series.blobs else "read_tensors"
        key = (eid, method, series.run, series.tag, series.version, decode, downsample)
        convert = None if decode is None else (lambda data: decode(series, data))
        return self._cached_read(
            key,
            ctx,
            eid,
            method,
            self.plugin_name,
            series.run,
            series.tag,
            convert,
            cost,
            downsample,
        )

    def scalars(self, ctx: Any, eid: str, run: str) -> dict[str, Any]:
        """{tag: ScalarTimeSeries} of the scalars ("scalars" plugin) logged in `run`."""
        return self.listing(ctx, eid, "scalars", SCALARS_PLUGIN, run).get(run, {})

    def read_scalars(
        self,
        ctx: Any,
        eid: str,
        run: str,
        tag: str,
        decode: Callable[[list], Any] | None = None,
    ) -> tuple[Any, tuple]:
        """(ScalarDatum list sorted by step, through `decode`; its version) of one scalar."""
        meta = self.scalars(ctx, eid, run).get(tag)
        if meta is None:
            raise not_found(f"no scalar series for run {run!r}, tag {tag!r}")
        version = (int(meta.max_step), float(meta.max_wall_time))
        key = (eid, "read_scalars", run, tag, version, decode)
        value = self._cached_read(key, ctx, eid, "read_scalars", SCALARS_PLUGIN, run, tag, decode)
        return value, version

    def blob(self, ctx: Any, eid: str, blob_key: str, version: Hashable | None = None) -> bytes:
        """One blob's bytes; kept in a byte-bounded LRU under `version` when given."""
        key = (eid, version)
        if version is not None:
            found = self._blobs.get(key)
            if found is not None:
                return found
        try:
            body = self.provider.read_blob(ctx, blob_key=blob_key)
        except tb_errors.NotFoundError as exc:
            raise not_found(str(exc) or "blob not found") from None
        except tb_errors.PublicError as exc:
            raise bad_request(str(exc) or type(exc).__name__) from None
        if version is not None:
            self._blobs.put(key, body, len(body) + 64)
        return body

    def _cached_read(
        self,
        key: tuple,
        ctx: Any,
        eid: str,
        method: str,
        plugin_name: str,
        run: str,
        tag: str,
        decode: Callable[[list], Any] | None,
        cost: Callable[[Any], int] | None = None,
        downsample: int = ALL_SAMPLES,
    ) -> Any:
        found = self._series.get(key)
        if found is not None:
            return found
        data = self.call(
            method,
            ctx,
            eid,
            plugin_name=plugin_name,
            downsample=downsample,
            run_tag_filter=provider.RunTagFilter(runs=[run], tags=[tag]),
        )
        points = data.get(run, {}).get(tag)
        if points is None:
            raise not_found(f"no data for run {run!r}, tag {tag!r}")
        value = sorted(points, key=lambda d: d.step)
        if decode is not None:
            value = decode(value)
        self._series.put(key, value, (cost or estimate_bytes)(value))
        return value


__all__ = [
    "ALL_SAMPLES",
    "LISTING_TTL_S",
    "LRU",
    "TTL",
    "PluginData",
    "Series",
    "estimate_bytes",
]
