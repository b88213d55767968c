"""The Confusion page's normalisations (frontend/confusion/normalise.js) in headless Chromium.

The plugin sends counts only; the page computes every normalised view. These are the checks
the plugin's Python `normalize` had (row sums, column sums, no value for an empty row or
column, count mode unchanged), run on the page's own module, served from frontend/ by a
local HTTP server.
"""

from __future__ import annotations

import functools
import http.server
import threading

import numpy as np
import pytest
from test_confusion_routes import ALNUM, alnum_counts, toy_counts

import frontend

pytestmark = pytest.mark.browser

# Runs the page's modules: normalise() on each matrix, or countsOf() (pooling) then normalise().
NORMALISE_JS = """
async ({ matrices, k, mode, pooled }) => {
  const { normalise } = await import("/confusion/normalise.js");
  const { countsOf } = await import("/confusion/data.js");
  if (pooled) {
    const data = { classes: Array(k).fill(""), positions: matrices, counts: [matrices.flat()] };
    return [normalise(countsOf(data, 0, null), k, mode)];
  }
  return matrices.map((m) => normalise(Uint16Array.from(m), k, mode));
}
"""


class _Frontend(http.server.SimpleHTTPRequestHandler):
    """frontend/'s files, and at / an empty page (with no favicon request) to run them from."""

    def do_GET(self) -> None:
        if self.path != "/":
            return super().do_GET()
        body = b'<!doctype html><link rel="icon" href="data:,"><title>normalise</title>'
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def frontend_url():
    """frontend/ served over HTTP on a free local port (ES modules need http, not file:)."""
    handler = functools.partial(_Frontend, directory=str(frontend.ASSET_DIR))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def normalise(page, frontend_url):
    """normalise(counts [P, K, K], mode, pooled=False) -> [P, K, K] floats (NaN = no value)."""
    page.goto(frontend_url + "/", wait_until="domcontentloaded")

    def call(counts: np.ndarray, mode: str, pooled: bool = False) -> np.ndarray:
        k = counts.shape[-1]
        matrices = counts.reshape(-1, k * k).astype(int).tolist()
        out = page.evaluate(
            NORMALISE_JS, {"matrices": matrices, "k": k, "mode": mode, "pooled": pooled}
        )
        return np.array(out, dtype=float).reshape(-1, k, k)

    return call


def test_count_mode_is_the_counts(normalise, page):
    counts = toy_counts(20)
    assert np.array_equal(normalise(counts, "count"), counts)
    assert page.errors == []


def test_by_true_class_divides_by_row_sums(normalise):
    counts = toy_counts(20)
    by_true = normalise(counts, "true")
    assert np.allclose(by_true, counts / counts.sum(2, keepdims=True), atol=1e-6)
    assert np.allclose(by_true.sum(axis=2), 1, atol=1e-5)


def test_by_predicted_class_divides_by_column_sums_empty_columns_have_no_value(normalise):
    c0 = toy_counts(0)
    # Position 1 never predicts class "b" at step 0: that column has no value (NaN, not 0).
    assert c0[1].sum(axis=0)[1] == 0
    got = normalise(c0, "predicted")
    expected = c0 / np.where(c0.sum(1, keepdims=True) > 0, c0.sum(1, keepdims=True), np.nan)
    assert np.allclose(got, expected, atol=1e-6, equal_nan=True)
    assert np.isnan(got[1, :, 1]).all() and not np.isnan(got[0]).any()
    assert np.allclose(got.sum(axis=1)[0], 1, atol=1e-6)


def test_pooled_matrix_is_normalised_after_summing_the_positions(normalise):
    c0 = toy_counts(0)
    pooled = normalise(c0, "predicted", pooled=True)[0]
    assert np.allclose(pooled, c0.sum(0) / c0.sum(0).sum(0, keepdims=True), atol=1e-6)
    counts = normalise(c0, "count", pooled=True)[0]
    assert np.array_equal(counts, c0.sum(0))


def test_empty_rows_have_no_value_and_share_sums_to_one(normalise):
    counts = np.array([[[0, 0, 0], [2, 6, 0], [1, 0, 3]]])
    by_true = normalise(counts, "true")[0]
    assert np.isnan(by_true[0]).all()
    assert np.allclose(by_true[1:], [[0.25, 0.75, 0], [0.25, 0, 0.75]])
    share = normalise(counts, "share")[0]
    assert share.sum() == pytest.approx(1) and share[1, 1] == pytest.approx(6 / 12)
    assert np.isnan(normalise(np.zeros((1, 3, 3)), "share")).all()


def test_6x36_alphanumeric_rows_sum_to_one(normalise):
    counts = alnum_counts(1)
    assert counts.shape == (6, len(ALNUM), len(ALNUM))
    by_true = normalise(counts, "true")
    assert np.allclose(by_true.sum(axis=2), 1, atol=1e-4)
    assert np.allclose(by_true, counts / counts.sum(2, keepdims=True), atol=1e-6)


def test_bad_arguments_raise_naming_the_argument(page, frontend_url):
    page.goto(frontend_url + "/", wait_until="domcontentloaded")
    errors = page.evaluate(
        """async () => {
          const { normalise } = await import("/confusion/normalise.js");
          const attempt = (...args) => {
            try { normalise(...args); return null; } catch (e) { return `${e.name}: ${e.message}`; }
          };
          return [attempt([1, 2, 3, 4], 2, "rows"), attempt([1, 2, 3], 2, "true"),
            attempt([1], 0, "count")];
        }"""
    )
    assert errors[0].startswith("RangeError: mode must be one of count, true, predicted, share")
    assert errors[1].startswith("RangeError: counts must hold k * k = 4 values, got 3")
    assert errors[2].startswith("RangeError: k must be a positive integer")
