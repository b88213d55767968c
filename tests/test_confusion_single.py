"""The Confusion page for a plain classifier (one position) in real Chromium over a real
TensorBoard: 3, 10 and 100 classes, one TensorBoard and one page for all three.

One position draws one large matrix (no "all positions pooled" copy of it), sized to the
panel; few classes get big cells with their values printed, 100 classes stay navigable
(zoom, scrolling inside the map's box, full class names in the tooltip), and the side
tables show class names in full. The logs are written with `summaries.write_confusion`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import artifact, open_plugin_tab, wait_for
from test_confusion_page import OVERLAPS_JS
from test_confusion_routes import PLUGIN, TAG

import summaries
from summaries import pb

pytestmark = pytest.mark.browser

CLASSES = {
    3: ["negative", "neutral", "positive"],
    10: ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    100: [f"class_{c}" for c in range(100)],
}
MIN_CELL = 40  # px: the smallest cell the page may draw for 3 or 10 classes

# Every class name in the side tables: its text, whether CSS cut it and whether it wrapped.
SIDE_NAMES_JS = """
(sel) => [...document.querySelectorAll(sel)].map((n) => ({
  text: n.textContent,
  cut: n.scrollWidth > n.clientWidth + 1 || n.scrollHeight > n.clientHeight + 1,
  wrapped: n.getBoundingClientRect().height > 1.6 * parseFloat(getComputedStyle(n).fontSize),
}))
"""

# The texts of row t's and column p's axis labels if both lie inside the map's scroll box.
LABELS_SHOWN_JS = """
([t, p]) => {
  const box = document.querySelector('.cm-plot').getBoundingClientRect();
  const inside = (r) => r.left >= box.left - 1 && r.right <= box.right + 1
    && r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
  return [['y', t], ['x', p]].map(([axis, i]) => {
    const label = document.querySelector(`.cm-labels-${axis} text[data-class="${i}"]`);
    return label && inside(label.getBoundingClientRect()) ? label.textContent : null;
  });
}
"""

# Labels of the same axis whose text boxes intersect by more than a hair; [] when none do.
LABEL_OVERLAPS_JS = """
() => ['x', 'y'].flatMap((axis) => {
  const boxes = [...document.querySelectorAll(`.cm-labels-${axis} text`)]
    .map((t) => [t.textContent, t.getBoundingClientRect()]);
  const hits = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const [a, r] = boxes[i], [b, s] = boxes[j];
    const w = Math.min(r.right, s.right) - Math.max(r.left, s.left);
    const h = Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top);
    if (w > 0.5 && h > 0.5) hits.push(`${a} / ${b}`);
  }
  return hits;
})
"""


def write_classifier(logdir: Path, k: int, steps: int = 3, n: int = 1200) -> np.ndarray:
    """A classifier of `k` classes improving over `steps` evaluations, with its misclassified
    images; returns the last step's counts [1, k, k]."""
    rng = np.random.default_rng(k)
    with pb.LogWriter(str(logdir / f"classes-{k}")) as writer:
        for step in range(steps):
            labels = rng.integers(0, k, n)
            wrong = rng.random(n) > 0.4 + 0.2 * step
            # mistakes go to the next few classes, so some pairs stand out
            preds = np.where(wrong, (labels + rng.integers(1, min(k, 4), n)) % k, labels)
            images = rng.integers(0, 255, (n, 8, 8), dtype=np.uint8)
            counts = summaries.write_confusion(
                writer,
                TAG,
                labels=labels,
                predictions=preds,
                classes=CLASSES[k],
                images=images,
                cap_per_cell=2,
                step=step,
            )
    return counts


def cell(frame, t: int, p: int):
    return frame.locator(f'.cm-card rect.cm-cell[data-true="{t}"][data-predicted="{p}"]')


def cell_size(frame) -> float:
    return cell(frame, 0, 0).evaluate("r => r.getBoundingClientRect().width")


def plot_box(frame) -> dict:
    return frame.eval_on_selector(
        ".cm-plot",
        "b => ({sw: b.scrollWidth, cw: b.clientWidth, sh: b.scrollHeight, ch: b.clientHeight,"
        " top: b.scrollTop, left: b.scrollLeft})",
    )


def show_run(frame, k: int) -> None:
    """Pick the k-class run and wait until its map and tables are drawn."""
    frame.select_option("#cm-run", value=json.dumps([f"classes-{k}", TAG], separators=(",", ":")))
    info = frame.locator("#cm-info")
    wait_for(lambda: info.inner_text().endswith(f": {k} classes, 3 steps"))  # no "1 positions"
    wait_for(lambda: frame.locator('.cm-card[data-position="0"] rect.cm-cell').count() == k * k)
    wait_for(lambda: frame.locator("#cm-class-table .cm-class-row").count() == k)
    wait_for(lambda: frame.locator("#cm-pairs-table .cm-pair").count() > 0)


def check_one_map_and_full_names(frame, classes: list[str]) -> None:
    """One map and no pooled duplicate; the side tables name the classes in full (these
    names are short enough for one line each)."""
    assert frame.locator(".cm-card").count() == 1
    assert frame.locator('.cm-card[data-position="pooled"]').count() == 0
    assert frame.locator(".fs-legend").count() == 1
    assert frame.locator("#cm-acc-table .cm-acc-row").count() == 1
    assert frame.locator(".cm-chart-line").count() == 1
    assert frame.locator("#cm-metrics-position").count() == 0
    assert "pooled" not in frame.locator("#confusion-page").inner_text()
    assert frame.locator("#cm-pairs-table th").all_text_contents()[0] == "true → predicted"
    pairs = frame.evaluate(SIDE_NAMES_JS, "#cm-pairs-table .cm-name")
    assert pairs and all(p["text"] in classes for p in pairs), pairs
    rows = frame.evaluate(SIDE_NAMES_JS, "#cm-class-table .cm-class-row .cm-name")
    assert [r["text"] for r in rows] == classes
    assert not any(n["cut"] or n["wrapped"] for n in pairs + rows), pairs + rows


def check_few_classes(frame, counts: np.ndarray) -> None:
    """Big cells with their counts printed; the whole map fits its box (no scrolling)."""
    assert cell_size(frame) >= MIN_CELL
    values = frame.locator("text.cm-value").all_text_contents()
    assert values == [str(v) for v in counts.ravel()]
    box = plot_box(frame)
    assert box["sw"] <= box["cw"] and box["sh"] <= box["ch"], box
    assert frame.evaluate(OVERLAPS_JS) == []


def check_refit(frame, page) -> None:
    """A narrower, lower window (the side panel moves below): the map is fitted again."""
    big = cell_size(frame)
    page.set_viewport_size({"width": 900, "height": 800})
    wait_for(lambda: cell_size(frame) < big)
    box = plot_box(frame)
    assert box["sw"] <= box["cw"] and box["sh"] <= box["ch"], box
    page.set_viewport_size({"width": 1400, "height": 950})
    wait_for(lambda: cell_size(frame) == big)


def check_many_classes(frame, page, classes: list[str], counts: np.ndarray) -> None:
    """The map scrolls inside its box; zoom shows every label; hover and click still work."""
    fitted = cell_size(frame)
    box = plot_box(frame)
    assert box["sh"] > box["ch"], box  # taller than the window: it scrolls in its box
    x_labels = frame.locator(".cm-labels-x text")
    assert 0 < x_labels.count() < len(classes)  # thinned so they do not overlap
    assert frame.evaluate(OVERLAPS_JS) == []
    for _ in range(3):
        frame.click("#cm-zoom-in")
    wait_for(lambda: cell_size(frame) >= 14)
    assert x_labels.count() == frame.locator(".cm-labels-y text").count() == len(classes)
    box = plot_box(frame)
    assert box["sw"] > box["cw"] and box["sh"] > box["ch"], box
    # (pinned axes pass over the cells and over each other's ends: compare one axis at a time)
    assert frame.evaluate(LABEL_OVERLAPS_JS) == []

    # Hover a confusion right of the diagonal near row 70 (so the box scrolls both ways, and
    # not to its end): the tooltip names both classes in full.
    rows, cols = np.nonzero((counts >= 2) & np.triu(np.ones_like(counts, dtype=bool), 1))
    t, p = min(zip(rows.tolist(), cols.tolist(), strict=True), key=lambda c: abs(c[0] - 70))
    target = cell(frame, t, p)
    target.scroll_into_view_if_needed()
    target.hover()
    tip = frame.locator("#cm-tooltip")
    wait_for(lambda: tip.is_visible())
    assert f"true {classes[t]} → predicted {classes[p]}" in tip.inner_text()
    assert f"count {counts[t, p]}" in tip.inner_text()
    # The box has scrolled and its axes stay pinned: the cell's row and column labels show.
    box = plot_box(frame)
    assert box["left"] > 0 and 0 < box["top"] < box["sh"] - box["ch"], box
    assert frame.evaluate(LABELS_SHOWN_JS, [t, p]) == [classes[t], classes[p]]
    page.screenshot(path=artifact("confusion-single-100-zoomed.png"))

    # Clicking the cell still opens its examples (the writer kept 2 per cell).
    target.click()
    title = frame.locator("#cm-examples-title")
    wait_for(lambda: title.is_visible())
    assert title.inner_text() == f"true {classes[t]} → predicted {classes[p]}"
    wait_for(lambda: frame.locator("#cm-example-grid img").count() == 2)
    assert "(at most 2 per cell)" in frame.locator("#cm-examples-note").inner_text()

    frame.click("#cm-zoom-fit")
    wait_for(lambda: cell_size(frame) == fitted)


@pytest.mark.parametrize("load_fast", [True], indirect=True)
def test_single_classifier_at_3_10_and_100_classes(tmp_path, tensorboard, page):
    logdir = tmp_path / "logs"
    last = {k: write_classifier(logdir, k) for k in CLASSES}
    board = tensorboard(logdir)
    board.wait_enabled(PLUGIN)
    frame = open_plugin_tab(page, board, PLUGIN, "Confusion")
    wait_for(lambda: frame.locator("#cm-run option").count() == len(CLASSES))
    for k, classes in CLASSES.items():
        show_run(frame, k)
        check_one_map_and_full_names(frame, classes)
        if k <= 10:
            check_few_classes(frame, last[k][0])
            if k == 10:
                check_refit(frame, page)
        else:
            check_many_classes(frame, page, classes, last[k][0])
        page.mouse.move(5, 5)
        page.screenshot(path=artifact(f"confusion-single-{k}.png"))
    assert page.errors == []
