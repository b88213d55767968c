"""The Confusion page in real Chromium over a real TensorBoard (fast loader).

The captcha run is written by the real `flowscope demo captcha --quick`, made smaller with
its size options to fit the test budget; a second captcha-shaped run (for comparison), a
6 x 36 run, a 2 x 3 run and an unreadable run are written with `summaries.pb`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from conftest import artifact, open_plugin_tab, wait_for
from test_confusion_routes import (
    EXAMPLES_TAG,
    PLUGIN,
    TAG,
    scalar_pb,
    write_alnum,
    write_broken,
    write_toy,
)

from summaries import pb
from summaries.position_confusion import confusion_pb, examples_pb

pytestmark = pytest.mark.browser

DIGITS = [str(d) for d in range(10)]
POSITIONS = [f"digit {i + 1}" for i in range(4)]
# 2,000-character names; a run name is a relative path (directory names stop at 255 bytes).
LONG_RUN = "/".join(["long-" + "r" * 245] * 8)
LONG_POSITIONS = [f"position {i} " + "p" * 1990 for i in range(3)]
LONG_CLASSES = [f"class {c} " + "c" * 1992 for c in range(4)]

# Text boxes of every heat map (labels, axis titles, in-cell values) that intersect by more
# than a hair; [] means nothing overlaps.
OVERLAPS_JS = """
() => [...document.querySelectorAll('svg.cm-heatmap')].flatMap((map) => {
  const boxes = [...map.querySelectorAll('text')].filter((t) => t.textContent)
    .map((t) => [t.textContent, t.getBoundingClientRect()]);
  const hits = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const [a, r] = boxes[i], [b, s] = boxes[j];
    const w = Math.min(r.right, s.right) - Math.max(r.left, s.left);
    const h = Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top);
    if (w > 0.5 && h > 0.5) hits.push(`${map.closest('.cm-card').dataset.position}: ${a} / ${b}`);
  }
  return hits;
})
"""


def start_captcha_demo(tmp_path: Path, logdir: Path) -> subprocess.Popen:
    """`flowscope demo captcha --quick`, smaller: 128 training and 64 validation captchas."""
    script = Path(sys.executable).with_name("flowscope")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "demo_models"]
    options = (
        "--train-size 128 --validation-size 64 --test-size 0 --epochs 1 --batch-size 32 "
        "--eval-every 1 --workers 1"
    ).split()
    return subprocess.Popen(
        [
            *command,
            "demo",
            "captcha",
            "--quick",
            "--logdir",
            str(logdir),
            "--cache-dir",
            str(tmp_path / "cache"),
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )


def write_captcha_like(logdir: Path, run: str, seed: int, steps: int = 3) -> None:
    """A 4-digit, 10-class recognizer improving over `steps` evaluations (no examples)."""
    rng = np.random.default_rng(seed)
    with pb.LogWriter(str(logdir / run)) as writer:
        for s in range(steps):
            labels = rng.integers(0, 10, size=(100, 4))
            wrong = rng.random(labels.shape) > 0.3 + 0.2 * s
            preds = np.where(wrong, (labels + rng.integers(1, 10, labels.shape)) % 10, labels)
            counts = np.zeros((4, 10, 10), np.int64)
            for p in range(4):
                np.add.at(counts[p], (labels[:, p], preds[:, p]), 1)
            matrix = confusion_pb(
                TAG,
                counts,
                positions=POSITIONS,
                classes=DIGITS,
                sequence_accuracy_tag="validation/captcha_accuracy",
            )
            writer.add(matrix, 4 * s)
            writer.add(
                scalar_pb("validation/captcha_accuracy", (preds == labels).all(1).mean()), 4 * s
            )


def write_long_names(logdir: Path) -> None:
    """3 positions x 4 classes with 2,000-character run, position and class names."""
    counts = np.arange(48).reshape(3, 4, 4) % 5 + 10 * np.eye(4, dtype=np.int64)
    with pb.LogWriter(str(logdir / LONG_RUN)) as writer:
        writer.add(confusion_pb(TAG, counts, positions=LONG_POSITIONS, classes=LONG_CLASSES), 0)
        image = np.full((12, 30), 128, np.uint8)
        writer.add(
            examples_pb(EXAMPLES_TAG, [[0, 0, 1]], [image], matrix_tag=TAG, cap_per_cell=2), 0
        )


def route(board, name: str, **params):
    return board.plugin(PLUGIN, name, **params)


def cell_texts(frame, position: str) -> list[str]:
    return frame.locator(f'.cm-card[data-position="{position}"] text.cm-value').all_text_contents()


def set_step(frame, index: int) -> None:
    frame.eval_on_selector(
        "#cm-step",
        "(el, i) => { el.value = String(i); el.dispatchEvent(new Event('input')); }",
        index,
    )


@pytest.mark.slow
@pytest.mark.parametrize("load_fast", [True], indirect=True)
def test_confusion_page_end_to_end(tmp_path, tensorboard, page):
    logdir = tmp_path / "logs"
    captcha_run = "captcha"
    demo = start_captcha_demo(tmp_path, logdir / captcha_run)
    try:
        write_captcha_like(logdir, "captcha-variant", seed=2)
        write_alnum(logdir, steps=(0, 1))
        write_toy(logdir)
        write_broken(logdir)
        write_long_names(logdir)
        board = tensorboard(logdir)
        output = demo.communicate(timeout=300)[0].decode(errors="replace")
    finally:
        demo.kill()
    assert demo.returncode == 0, output[-3000:]
    board.wait_enabled(PLUGIN)
    wait_for(lambda: len(route(board, "runs")["runs"]) == 6, timeout=60)
    runs = {r["run"]: r["tags"] for r in route(board, "runs")["runs"]}
    assert runs[captcha_run][0]["positions"] == POSITIONS
    # the demo's own tags (its matrix, the examples beside it, the whole-captcha scalar)
    captcha_tag = runs[captcha_run][0]["tag"]
    assert runs[captcha_run][0]["examples_tag"] == f"{captcha_tag}/examples"
    series = route(board, "series", run=captcha_run, tag=captcha_tag)
    steps = series["steps"]
    sequence_tag = series["sequence_accuracy"]["tag"]
    assert len(steps) >= 3 and sequence_tag.endswith("accuracy")

    frame = open_plugin_tab(page, board, PLUGIN, "Confusion")
    frame.wait_for_selector("#cm-run", timeout=30_000)
    # The unreadable series says why; the others keep working.
    # (the notice is filled in after the run list, so wait for it rather than read it once)
    wait_for(lambda: "version 99" in frame.locator("#cm-unreadable").inner_text(), timeout=30)
    frame.select_option(
        "#cm-run", value=json.dumps([captcha_run, captcha_tag], separators=(",", ":"))
    )
    wait_for(lambda: "4 positions x 10 classes" in frame.locator("#cm-info").inner_text())

    # One heat map per position plus the pooled one, 10 x 10 cells each, values printed.
    cards = frame.locator(".cm-card")
    assert cards.count() == 5
    names = frame.locator(".cm-card-name").all_text_contents()
    assert names == [*POSITIONS, "All positions pooled"]
    assert frame.locator('.cm-card[data-position="0"] rect.cm-cell').count() == 100
    assert frame.eval_on_selector_all(".fs-legend", "ls => ls.map(l => l.dataset.scale)") == [
        "sequential",
        "sequential",
    ]

    # The page opens at the latest step; its printed counts are the route's counts.
    last = len(steps) - 1
    assert frame.locator("#cm-step-label").inner_text().startswith(f"step {steps[last]} ")
    latest = np.reshape(series["counts"][last], (4, 10, 10))
    assert cell_texts(frame, "0") == [str(v) for v in latest[0].ravel()]

    # The slider changes the shown step (label and values).
    first = np.reshape(series["counts"][0], (4, 10, 10))
    changed = [p for p in range(4) if not np.array_equal(first[p], latest[p])]
    assert changed, "training must change the confusion between the first and last step"
    q = changed[0]
    set_step(frame, 0)
    wait_for(lambda: frame.locator("#cm-step-label").inner_text().startswith(f"step {steps[0]} "))
    assert cell_texts(frame, str(q)) == [str(v) for v in first[q].ravel()]

    # Normalisation by true class: printed values become row percentages, which the page
    # computes from the counts (normalise.js; the plugin sends counts only).
    frame.click("#cm-norm-true")
    assert frame.get_attribute("#cm-norm-true", "aria-pressed") == "true"
    rows = first[q].sum(axis=1, keepdims=True)
    ratios = np.divide(first[q], rows, out=np.full((10, 10), np.nan), where=rows > 0)
    shown = frame.evaluate("(q) => window.flowscopeConfusion.frame.maps[q].values", q)
    assert np.allclose(np.array(shown, dtype=float), ratios.ravel(), equal_nan=True)
    # JavaScript's Math.round(x) is floor(x + 0.5), not Python's round-half-even.
    expected = ["" if np.isnan(v) else str(int(np.floor(v * 100 + 0.5))) for v in ratios.ravel()]
    wait_for(lambda: cell_texts(frame, str(q)) == expected, timeout=10)
    assert expected != [str(v) for v in first[q].ravel()]
    frame.click("#cm-norm-count")

    # Hover shows the exact count; click on an off-diagonal cell shows its images.
    set_step(frame, last)
    pos, true, pred = max(
        ((p, t, q) for p in range(4) for t in range(10) for q in range(10) if t != q),
        key=lambda c: latest[c],
    )
    cell = frame.locator(
        f'.cm-card[data-position="{pos}"] rect.cm-cell[data-true="{true}"][data-predicted="{pred}"]'
    )
    cell.hover()
    tip = frame.locator("#cm-tooltip")
    wait_for(lambda: tip.is_visible())
    assert f"true {true} → predicted {pred}" in tip.inner_text()
    assert f"count {latest[pos, true, pred]}" in tip.inner_text()
    cell.click()
    title = frame.locator("#cm-examples-title")
    wait_for(lambda: title.is_visible())
    assert title.inner_text() == f"{POSITIONS[pos]}: true {true} → predicted {pred}"
    examples = route(
        board,
        "examples",
        run=captcha_run,
        tag=captcha_tag,
        step=steps[last],
        position=pos,
        true=true,
        predicted=pred,
    )
    assert examples["images"], "the busiest confusion must have stored images"
    images = frame.locator("#cm-example-grid img")
    wait_for(lambda: images.count() == len(examples["images"]))
    wait_for(lambda: all(images.evaluate_all("ims => ims.map(i => i.complete && i.naturalWidth)")))
    assert images.evaluate_all("ims => ims.map(i => i.naturalWidth)") == [160] * images.count()
    src = urllib.parse.parse_qs(urllib.parse.urlparse(images.first.get_attribute("src")).query)
    assert src["step"] == [str(steps[last])] and src["tag"] == [f"{captcha_tag}/examples"]
    note = frame.locator("#cm-examples-note").inner_text()
    assert f"step {steps[last]}" in note and f"{latest[pos, true, pred]} misclassified" in note
    assert sequence_tag in frame.locator("#cm-sequence-note").inner_text()
    page.mouse.move(5, 5)
    page.screenshot(path=artifact("confusion-page.png"))

    # Per-class table and top pairs for the shown step.
    assert frame.locator("#cm-class-table .cm-class-row").count() == 10
    first_pair = frame.locator("#cm-pairs-table .cm-pair").first
    assert first_pair.get_attribute("data-true") is not None

    # Play walks through training from the start.
    set_step(frame, 0)
    frame.click("#cm-play")
    wait_for(lambda: frame.locator("#cm-step-label").inner_text().startswith(f"step {steps[1]} "))
    frame.click("#cm-play")

    # Compare two runs: a diverging legend and signed differences of the normalised matrices.
    set_step(frame, last)
    frame.click("#cm-norm-true")
    frame.select_option(
        "#cm-compare", value=json.dumps(["captcha-variant", TAG], separators=(",", ":"))
    )
    wait_for(
        lambda: (
            frame.eval_on_selector_all(".fs-legend", "ls => ls.map(l => l.dataset.scale)")
            == ["diverging"]
        )
    )
    other = route(board, "series", run="captcha-variant", tag=TAG)
    b_index = int(np.argmin([abs(b - steps[last]) for b in other["steps"]]))
    b_counts = np.reshape(other["counts"][b_index], (4, 10, 10))[0]
    t = next(t for t in range(10) if latest[0][t].sum() and b_counts[t].sum())
    # B − A, rounded to whole points; a change that rounds to nothing is "0", never "+0" / "−0"
    diff = b_counts[t, 0] / b_counts[t].sum() - latest[0][t, 0] / latest[0][t].sum()
    r = int(np.floor(abs(diff) * 100 + 0.5))  # JavaScript's Math.round of the magnitude
    wanted = "0" if r == 0 else f"{'+' if diff > 0 else '−'}{r}"
    assert cell_texts(frame, "0")[t * 10] == wanted
    assert f"B at step {other['steps'][b_index]}" in frame.locator("#cm-step-label").inner_text()
    assert frame.locator("#cm-acc-table th").all_text_contents()[-1] == "B − A"
    assert frame.evaluate(OVERLAPS_JS) == []
    page.screenshot(path=artifact("confusion-compare.png"))

    # 6 x 36 alphanumeric: in-cell text is hidden, labels are thinned, nothing overlaps.
    frame.select_option("#cm-compare", value="")
    frame.select_option("#cm-run", value=json.dumps(["alnum", TAG], separators=(",", ":")))
    wait_for(lambda: "6 positions x 36 classes" in frame.locator("#cm-info").inner_text())
    assert frame.locator(".cm-card").count() == 7
    assert frame.locator("text.cm-value").count() == 0
    x_labels = frame.locator('.cm-card[data-position="0"] .cm-labels-x text').all_text_contents()
    assert 9 <= len(x_labels) <= 36 and x_labels[0] == "0"
    assert frame.evaluate(OVERLAPS_JS) == []
    page.screenshot(path=artifact("confusion-36.png"))

    # 2 x 3 toy: small enough to print, nothing overlaps either.
    frame.click("#cm-norm-count")
    frame.select_option("#cm-run", value=json.dumps(["toy", TAG], separators=(",", ":")))
    wait_for(lambda: "2 positions x 3 classes" in frame.locator("#cm-info").inner_text())
    assert cell_texts(frame, "0") == ["25", "3", "0", "1", "26", "0", "2", "1", "24"]
    assert frame.evaluate(OVERLAPS_JS) == []
    # Step 10 logged no images: the panel shows the nearest step that has some, and says so.
    set_step(frame, 1)
    frame.locator('.cm-card[data-position="0"] rect[data-true="0"][data-predicted="1"]').click()
    note = frame.locator("#cm-examples-note")
    wait_for(lambda: "nearest step with images; none at step 10" in note.inner_text())
    assert note.inner_text().startswith("step 0 ")
    wait_for(lambda: frame.locator("#cm-example-grid img").count() == 2)

    # 2,000-character names are cut (full text in title attributes); the page never widens.
    frame.select_option("#cm-run", value=json.dumps([LONG_RUN, TAG], separators=(",", ":")))
    wait_for(lambda: "3 positions x 4 classes" in frame.locator("#cm-info").inner_text())
    frame.locator('.cm-card[data-position="0"] rect[data-true="0"][data-predicted="1"]').click()
    wait_for(lambda: frame.locator("#cm-example-grid img").count() == 1)
    wait_for(lambda: frame.locator("#cm-class-table .cm-class-row").count() == 4)
    assert frame.locator(".cm-card-name").first.get_attribute("title") == LONG_POSITIONS[0]
    assert frame.locator("#cm-run").get_attribute("title") == f"{LONG_RUN} — {TAG}"
    widths = frame.evaluate(
        "() => [document.documentElement.scrollWidth, innerWidth,"
        " document.getElementById('cm-side').scrollWidth,"
        " document.getElementById('cm-side').clientWidth]"
    )
    assert widths[0] <= widths[1] and widths[2] <= widths[3], widths
    page.screenshot(path=artifact("confusion-long-names.png"))
    assert page.errors == []
