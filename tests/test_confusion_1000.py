"""The Confusion page at ImageNet size (issue 24, item 2), in headless Chromium over a real
TensorBoard: a 1,000-class run drawn to a canvas, every step played (each fetched page by page
through `/series?from_step=`), a class found by name, the largest confusions zoomed to, the
side tables paged. Frame times while playing are measured and reported, not asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import TensorBoard, artifact, open_plugin_tab, wait_for

from summaries import pb
from summaries.position_confusion import write_confusion

pytestmark = pytest.mark.browser

PLUGIN = "position_confusion"
TAG = "confusion/validation"
K = 1000
STEPS = (0, 10, 20, 30, 40, 50)
RUN = "imagenet"


def write_imagenet(logdir: Path) -> None:
    """K = 1,000 classes, 20,000 samples a step, accuracy rising; class 7 is mostly taken for
    class 3 (the largest confusion)."""
    classes = [f"class {i:04d}" for i in range(K)]
    classes[427] = "tabby cat"
    with pb.LogWriter(str(logdir / RUN)) as writer:
        for n, step in enumerate(STEPS):
            rng = np.random.default_rng(step)
            labels = rng.integers(0, K, 20_000)
            wrong = rng.random(labels.size) > 0.3 + 0.1 * n
            predictions = np.where(wrong, rng.integers(0, K, labels.size), labels)
            predictions[labels == 7] = 3
            write_confusion(writer, TAG, classes=classes, labels=labels, predictions=predictions,
                            step=step)  # fmt: skip


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("confusion-1000") / "logs"
    logdir.mkdir()
    write_imagenet(logdir)
    board = TensorBoard(logdir, load_fast=True)
    try:

        def listed():
            runs = board.plugin(PLUGIN, "runs")["runs"]
            return runs and runs[0]["tags"][0]["max_step"] == STEPS[-1]

        wait_for(listed, timeout=120)
        wait_for(lambda: board.plugin(PLUGIN, "series", run=RUN, tag=TAG, counts="none")["steps"]
                 == list(STEPS), timeout=120)  # fmt: skip
        yield board
    finally:
        board.stop()


def open_page(page, board):
    frame = open_plugin_tab(page, board, PLUGIN, "Confusion", shell=False)
    frame.wait_for_selector("canvas.cm-canvas", timeout=60_000)
    frame.wait_for_function(
        "() => { const a = window.flowscopeConfusion; return a && a.frame && a.metrics; }",
        timeout=60_000,
    )
    return frame


# Long tasks (PerformanceObserver 'longtask': main-thread work over 50 ms) and the gaps
# between animation frames, collected while the page plays.
MEASURE_JS = """() => {
  const m = window.__measure = {longtasks: [], frames: [], labels: [], drawn: new Set()};
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) m.longtasks.push(e.duration); })
    .observe({entryTypes: ['longtask']});
  let last = performance.now();
  const tick = (now) => {
    m.frames.push(now - last); last = now; if (!m.stop) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  const label = document.querySelector('#cm-step-label');
  new MutationObserver(() => m.labels.push(label.textContent)).observe(label,
    {childList: true, characterData: true, subtree: true});
  const app = window.flowscopeConfusion;
  const draw = app.maps.draw.bind(app.maps);
  app.maps.draw = (f, o) => { m.drawn.add(f.data.steps[f.index]); return draw(f, o); };
}"""


def test_a_1000_class_run_plays_every_step_and_finds_a_class(board, page):
    frame = open_page(page, board)
    # a canvas, not a million SVG rectangles
    assert frame.locator("rect.cm-cell").count() == 0
    assert frame.get_attribute("canvas.cm-canvas", "data-k") == str(K)
    info = frame.evaluate(
        """() => { const d = window.flowscopeConfusion.data.values().next().value;
          return {paged: Boolean(d.paged), steps: d.steps, loaded: d.counts.filter(Boolean).length,
                  accuracy: d.pooled_accuracy.length}; }"""
    )
    # every step is on the slider (not the 2 that one /series answer holds), with its accuracy
    assert info["paged"] and info["steps"] == list(STEPS) and info["accuracy"] == len(STEPS), info
    assert info["loaded"] < len(STEPS), info
    assert frame.get_attribute("#cm-step", "max") == str(len(STEPS) - 1)
    page.screenshot(path=artifact("confusion-1000.png"))

    # play from the first step to the last: each step's label and maps are shown
    frame.eval_on_selector(
        "#cm-step", "s => { s.value = '0'; s.dispatchEvent(new Event('input')); }"
    )
    frame.wait_for_function(
        "() => !document.querySelector('#cm-maps').classList.contains('cm-pending')",
                            timeout=60_000)  # fmt: skip
    frame.evaluate(MEASURE_JS)
    frame.click("#cm-play")
    frame.wait_for_function(
        "n => window.__measure.drawn.size >= n && !window.flowscopeConfusion.steps.playing",
        arg=len(STEPS) - 1,
        timeout=120_000,
    )
    measured = frame.evaluate(
        """() => { const m = window.__measure; m.stop = true;
          return {longtasks: m.longtasks, frames: m.frames, labels: m.labels,
                  drawn: [...m.drawn]}; }"""
    )
    labels = "\n".join(measured["labels"])
    for step in STEPS[1:]:
        assert f"step {step} (" in labels, (step, measured["labels"])
    assert set(measured["drawn"]) >= set(STEPS[1:]), measured["drawn"]
    report = {
        "longest_task_ms": max(measured["longtasks"], default=0),
        "long_tasks": len(measured["longtasks"]),
        "longest_frame_ms": max(measured["frames"], default=0),
        "frames": len(measured["frames"]),
        "frames_over_100ms": sum(f > 100 for f in measured["frames"]),
    }
    artifact("confusion-1000-frames.json").write_text(json.dumps(report, indent=1))
    print("K=1000 playback:", report)

    # find a class by name: its table row is shown and marked, its diagonal cell zoomed to
    frame.fill("#cm-find", "tabby")
    frame.press("#cm-find", "Enter")
    frame.wait_for_function(
        "() => document.querySelector('#cm-find-note').textContent.includes('tabby cat')"
    )
    assert frame.get_attribute("#cm-find", "data-found") == "427"
    row = frame.locator('#cm-class-table .cm-class-row[data-class="427"]')
    row.wait_for(timeout=30_000)
    assert "cm-found" in row.get_attribute("class")
    assert "401–500 of 1,000" in frame.inner_text("#cm-class-pager-range")
    r0, c0, n = map(int, frame.get_attribute("canvas.cm-canvas", "data-view").split(","))
    assert n < K and r0 <= 427 < r0 + n and c0 <= 427 < c0 + n, (r0, c0, n)
    frame.fill("#cm-find", "no such class")
    frame.press("#cm-find", "Enter")
    frame.wait_for_function(
        "() => document.querySelector('#cm-find-note').textContent.includes('No class')"
    )

    # the whole matrix again, then the largest confusion from the list: 7 taken for 3
    frame.click("#cm-zoom-fit")
    assert frame.get_attribute("canvas.cm-canvas", "data-view") == f"0,0,{K}"
    first = frame.locator("#cm-pairs-table .cm-pair").first
    assert first.get_attribute("data-true") == "7" and first.get_attribute("data-predicted") == "3"
    assert frame.locator("#cm-pairs-table .cm-pair").count() == 10  # paged, 10 at a time
    frame.click("#cm-pairs-pager-next")
    frame.wait_for_function(
        "() => document.querySelector('#cm-pairs-pager-range').textContent.startsWith('11')"
    )
    frame.click("#cm-pairs-pager-prev")
    frame.locator("#cm-pairs-table .cm-pair").first.click()
    frame.wait_for_selector("#cm-examples-title")
    r0, c0, n = map(int, frame.get_attribute("canvas.cm-canvas", "data-view").split(","))
    assert n < 100 and r0 <= 7 < r0 + n and c0 <= 3 < c0 + n, (r0, c0, n)
    # wheel zoom out about the pointer, then a hover readout names the cell in full
    box = frame.locator("canvas.cm-canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 3)
    page.mouse.wheel(0, 400)
    frame.wait_for_function(
        "n => Number(document.querySelector('canvas.cm-canvas').dataset.view.split(',')[2]) > n",
        arg=n,
    )
    page.mouse.move(box["x"] + box["width"] / 2 + 3, box["y"] + box["height"] / 3 + 3)
    frame.wait_for_selector("#cm-tooltip:not([hidden])")
    assert "true class" in frame.inner_text("#cm-tooltip")
    page.screenshot(path=artifact("confusion-1000-zoomed.png"))
    assert page.errors == []


def test_the_1000_class_page_in_chinese_and_dark(board, make_page):
    page = make_page(width=1100, height=700, locale="zh-CN", color_scheme="dark")
    frame = open_page(page, board)
    assert "一个色标" in frame.inner_text("#cm-legends") or "共用" in frame.inner_text(
        "#cm-legends"
    )
    frame.fill("#cm-find", "tabby")
    frame.press("#cm-find", "Enter")
    frame.wait_for_function(
        "() => document.querySelector('#cm-find-note').textContent.includes('tabby cat')"
    )
    assert "第 427 类" in frame.inner_text("#cm-find-note")
    page.screenshot(path=artifact("confusion-1000-zh-dark.png"))
    assert page.errors == []
