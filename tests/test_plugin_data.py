"""tb_plugin.data, the data-access layer of both plugins, on TensorBoard's own data provider."""

from __future__ import annotations

import json
import time
from collections import Counter

import numpy as np
import pytest
from conftest import wait_for
from plugin_harness import InProcessBoard
from sample_logs import write_confusion, write_race
from tensorboard import errors as tb_errors

from summaries import format as fmt
from summaries import pb
from summaries.position_confusion import confusion_pb
from tb_plugin.base import HttpError
from tb_plugin.data import LRU, TTL, PluginData, estimate_bytes

MATRIX_TAG = "confusion/validation"


class CountingProvider:
    """Wraps a data provider and counts the calls of each method."""

    def __init__(self, inner):
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name):
        method = getattr(self.inner, name)

        def counted(*args, **kwargs):
            self.calls[name] += 1
            return method(*args, **kwargs)

        return counted


def write_future(logdir, run: str = "future") -> None:
    """A matrix series whose metadata has a version this Flowscope cannot read."""
    summary = confusion_pb(MATRIX_TAG, [[[1, 0], [0, 1]]], positions=["p"], classes=["a", "b"])
    content = json.loads(summary.value[0].metadata.plugin_data.content)
    content["version"] = 99
    summary.value[0].metadata.plugin_data.content = json.dumps(content).encode()
    with pb.LogWriter(str(logdir / run)) as writer:
        writer.add(summary, step=0)


@pytest.fixture
def logdir(tmp_path):
    logdir = tmp_path / "logs"
    write_confusion(logdir, steps=2)
    write_race(logdir, steps=20)
    write_future(logdir)
    return logdir


def test_catalog_parses_once_and_keeps_unreadable_metadata_as_an_error(logdir):
    board = InProcessBoard(logdir)
    counting = CountingProvider(board.provider)
    data = PluginData(counting, fmt.CONFUSION_PLUGIN)
    ctx = board.context()
    catalog = data.catalog(ctx, "")
    assert sorted(catalog) == ["captcha-toy", "future"]
    good = catalog["captcha-toy"][MATRIX_TAG]
    assert good.kind == fmt.MATRIX and good.error is None and good.max_step == 1
    assert good.content["version"] == fmt.VERSION and good.content["classes"] == ["a", "b", "c"]
    future = catalog["future"][MATRIX_TAG]
    assert future.content is None and future.kind is None and "version 99" in future.error
    assert data.catalog(ctx, "") is catalog  # within the listing TTL: no provider call
    assert counting.calls["list_tensors"] == 1
    blobs = data.catalog(ctx, "", blobs=True)["captcha-toy"]
    assert [s.kind for s in blobs.values()] == [fmt.EXAMPLES] and all(
        s.blobs for s in blobs.values()
    )

    assert data.series(ctx, "", "captcha-toy", MATRIX_TAG, kind=fmt.MATRIX) is good
    for run, tag, kind, words in [
        ("nope", MATRIX_TAG, None, "no data series"),
        ("future", MATRIX_TAG, fmt.MATRIX, "version 99"),
        ("captcha-toy", MATRIX_TAG, fmt.EXAMPLES, "is not a examples series"),
    ]:
        with pytest.raises(HttpError) as err:
            data.series(ctx, "", run, tag, kind=kind)
        assert err.value.code == 404 and words in err.value.message


def test_reads_are_cached_by_the_version_the_listing_reports(logdir):
    board = InProcessBoard(logdir)
    counting = CountingProvider(board.provider)
    data = PluginData(counting, fmt.CONFUSION_PLUGIN, listing_ttl_s=60)
    ctx = board.context()
    decoded = []

    def stack(series, points):
        decoded.append(series.version)
        return np.stack([p.numpy for p in points])

    series = data.series(ctx, "", "captcha-toy", MATRIX_TAG)
    first = data.read(ctx, "", series, stack)
    assert first.shape == (2, 2, 3, 3) and data.read(ctx, "", series, stack) is first
    raw = data.read(ctx, "", series)  # another decoding is another cache entry
    assert [d.step for d in raw] == [0, 1]
    assert counting.calls["read_tensors"] == 2 and len(decoded) == 1

    # New steps: the cached listing still says max_step 1 until it is refreshed. (An event
    # file named in a later second: the Python loader reads a run's files in name order.)
    time.sleep(1.1)
    write_confusion(logdir, run="captcha-toy", steps=3)
    board.reload()
    assert data.read(ctx, "", data.series(ctx, "", "captcha-toy", MATRIX_TAG), stack) is first
    data.refresh()
    newer = data.series(ctx, "", "captcha-toy", MATRIX_TAG)
    assert newer.max_step == 2 and newer.version != series.version
    assert data.read(ctx, "", newer, stack).shape[0] > 2 and len(decoded) == 2

    # Scalars: (value, version), read again only when the scalar listing changes.
    assert data.scalars(ctx, "", "captcha-toy") == {}
    with pytest.raises(HttpError) as err:
        data.read_scalars(ctx, "", "captcha-toy", "validation/accuracy")
    assert err.value.code == 404


def test_blobs_cached_under_their_version(logdir):
    board = InProcessBoard(logdir)
    counting = CountingProvider(board.provider)
    data = PluginData(counting, fmt.CONFUSION_PLUGIN)
    ctx = board.context()
    examples = data.series(ctx, "", "captcha-toy", "confusion/validation/examples", blobs=True)
    steps = data.read(ctx, "", examples)
    key = steps[-1].values[1].blob_key
    body = data.blob(ctx, "", key, version=("png", 1))
    assert body.startswith(b"\x89PNG") and data.blob(ctx, "", key, ("png", 1)) == body
    assert counting.calls["read_blob"] == 1
    data.blob(ctx, "", key)  # no version: never cached
    data.blob(ctx, "", key)
    assert counting.calls["read_blob"] == 3


class FailingProvider:
    """A provider whose every call raises the given TensorBoard error."""

    def __init__(self, error: Exception):
        self.error = error

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise self.error

        return fail


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (tb_errors.NotFoundError("no such experiment"), 404),
        (tb_errors.InvalidArgumentError("bad filter"), 400),
        (tb_errors.PermissionDeniedError("go away"), 400),
    ],
)
def test_provider_errors_become_4xx(error, code):
    data = PluginData(FailingProvider(error), fmt.RACE_PLUGIN)
    for call in (
        lambda: data.catalog(None, "e"),
        lambda: data.scalars(None, "e", "run"),
        lambda: data.blob(None, "e", "key", version=1),
    ):
        with pytest.raises(HttpError) as err:
            call()
        assert err.value.code == code and str(error.args[0]) in err.value.message
    with pytest.raises(ValueError, match="kind"):
        data.listing(None, "e", kind="images")
    with pytest.raises(ValueError, match="plugin_name"):
        PluginData(FailingProvider(error), "")


def test_plugin_routes_answer_provider_errors_as_json(tmp_path):
    board = InProcessBoard(tmp_path)
    plugin = board.plugins[fmt.CONFUSION_PLUGIN]
    plugin.data.provider = FailingProvider(tb_errors.NotFoundError("experiment gone"))
    status, body = board.get(f"/data/plugin/{fmt.CONFUSION_PLUGIN}/runs")
    assert status == 404 and "experiment gone" in json.loads(body)["error"]


def test_lru_bounded_by_cost_and_ttl_by_time():
    cache = LRU(10)
    cache.put("a", 1, 4)
    cache.put("b", 2, 4)
    assert cache.get("a") == 1  # now "b" is the least recently used
    cache.put("c", 3, 4)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    cache.put("huge", 4, 11)  # over the whole budget: not kept, nothing dropped
    assert cache.get("huge") is None and len(cache) == 2

    ttl = TTL(60, size=2)  # long enough that no entry expires on a loaded machine
    ttl.put("x", 1)
    ttl.put("y", 2)
    ttl.put("z", 3)
    assert ttl.get("x") is None and ttl.get("y") == 2 and ttl.get("z") == 3
    short = TTL(0.05, size=2)
    put_at = time.monotonic()
    short.put("z", 3)
    fresh = short.get("z")
    if time.monotonic() - put_at < 0.05:  # read within the TTL (not a given under load)
        assert fresh == 3
    wait_for(lambda: short.get("z") is None, timeout=10, interval=0.01)
    assert time.monotonic() - put_at >= 0.05  # expired, and not before its time
    assert estimate_bytes(np.zeros(1000, np.uint8)) >= 1000
