"""`flowscope bench serve --quick --large` runs end to end and serves large inputs bounded.

The benchmark's figures are timings (not asserted); what is asserted is behaviour: every
Flowscope data route is measured against the scalars baseline, both pages render in
Chromium without errors, a long trajectory is downsampled to what the page asks for, a
wide confusion series is thinned as documented, and serving them grows TensorBoard's
process tree by less than the bound the benchmark states.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.plugins import base_plugin

import frontend
from demo_models.bench.serve_browser import HEADLESS_SHELL
from tb_plugin import loaders

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def race_page_points() -> int:
    """Rows per trajectory the race page asks for, read from the page's own source."""
    source = (frontend.ASSET_DIR / "race" / "data.js").read_text(encoding="utf-8")
    return int(re.search(r"^const POINTS = (\d+);", source, re.MULTILINE).group(1))


def flowscope_command() -> list[str]:
    script = Path(sys.executable).with_name("flowscope")
    return [str(script)] if script.exists() else [sys.executable, "-m", "demo_models.cli"]


def data_routes() -> set[str]:
    """'race /races', 'confusion /matrix', ...: every data route the plugins serve."""
    context = base_plugin.TBContext(logdir=None, data_provider=None, flags=None)
    names = set()
    for family, loader in (("race", loaders.RaceLoader), ("confusion", loaders.ConfusionLoader)):
        for route in loader().load(context).get_plugin_apps():
            if route not in ("/index.js", "/static/*"):
                names.add(f"{family} {route}")
    return names


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    work = tmp_path_factory.mktemp("bench-serve")
    out = work / "results.json"
    command = [
        *flowscope_command(),
        "bench",
        "serve",
        "--quick",
        "--large",
        "--no-tensorflow",
        "--rounds",
        "2",
        "--reload-interval",
        "1",  # the large runs are read a second after they are written
        "--workdir",
        str(work),
        "--json",
        str(out),
    ]
    # the figures are not asserted here: the pages render in the tests' browser
    env = {**os.environ, "FLOWSCOPE_NO_PROGRESS": "1", "FLOWSCOPE_CHROMIUM": HEADLESS_SHELL}
    done = subprocess.run(command, capture_output=True, text=True, timeout=400, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def test_every_data_route_is_timed_against_the_scalars_route(results):
    data, report = results
    timed = {r["route"] for r in data["routes"]}
    # /whatif and /warmup run the optimizer (TensorFlow in TensorBoard's process), and /family
    # serves what the warm-up computes ("warming" until then): off in --quick
    whatif = {"race /whatif", "race /warmup", "race /family"}
    assert data_routes() - whatif <= timed
    assert {"scalars (10k points)", "scalars (200 points)"} <= timed
    for route in data["routes"]:
        assert route["n"] == 2 * data["rounds"]  # 2 requests per route and round
        assert 0 < route["p50_ms"] <= route["p95_ms"]
    for name in data_routes() - whatif:
        line = next(line for line in report.splitlines() if line.startswith(name + " "))
        assert "x " in line and "target p95 <= 1.5x" in line  # the ratios are printed


def test_start_up_and_memory_are_measured_with_and_without_flowscope(results):
    data, report = results
    assert len(data["start_seconds"]["with"]) == len(data["start_seconds"]["without"]) == 1
    for key in (
        "without_rss_idle_mb",
        "without_rss_page_mb",
        "with_rss_idle_mb",
        "with_rss_pages_mb",
    ):
        assert data[key] > 10
    assert "start -> /data/plugins_listing" in report
    assert data["page_errors"] == []
    assert data["pages"]["race"]["render_ms"] > 0 and data["pages"]["confusion"]["render_ms"] > 0


def test_large_inputs_are_downsampled_and_memory_stays_bounded(results):
    data, _ = results
    large, sizes = data["large"], data["sizes"]
    trajectory = large["routes"]["trajectory"]
    assert trajectory["total_points"] == sizes["large_steps"]
    assert data["page_points"] == race_page_points()  # the bench asks what the page asks
    assert trajectory["points"] <= race_page_points()
    assert trajectory["downsampling"] == "lttb"
    series = large["routes"]["series"]
    p, k = sizes["large_positions"], sizes["large_classes"]
    assert series["total_steps"] == sizes["large_confusion_steps"]
    assert series["downsampled"] and series["steps"] <= 2_000_000 // (p * k * k)
    assert large["growth_mb"] <= large["growth_bound_mb"]
    assert large["page_errors"] == []
    moves = sizes["slider_moves"]
    assert len(large["race_slide_ms"]) == len(large["confusion_slide_ms"]) == moves
