"""The Confusion page as a student uses it (issue 17 items 3, 4, 6; issue 14 item 3), in real
Chromium over one real TensorBoard serving every check: compare mode coloured by meaning,
every panel comparing, runs with different positions comparable; a laptop's 1100 x 700 window
(controls in view, a clicked cell's images in view); state kept over a reload; TensorBoard's
dark theme; the keyboard; crisp 28 x 28 images; the chart's hover readout; Chinese and the
pseudo-language. Screenshots are kept under tests/artifacts (looked at when the page changes).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from conftest import TensorBoard, artifact, in_view, open_plugin_tab, visible_texts, wait_for
from test_confusion_routes import EXAMPLES_TAG, PLUGIN, TAG

from summaries import pb
from summaries.position_confusion import confusion_pb, examples_pb

pytestmark = pytest.mark.browser

DIGITS = [str(d) for d in range(10)]
STEPS_A = (0, 10, 20)
STEPS_B = (0, 10, 20, 30)


def key(run: str) -> str:
    return json.dumps([run, TAG], separators=(",", ":"))


def digits_counts(good: int, worse_class: int | None = None) -> np.ndarray:
    """100 samples per class: `good` right, the rest read as the next digit; `worse_class`
    (if any) gets 30 of them read as digit 5 instead."""
    counts = np.zeros((10, 10), np.int64)
    for t in range(10):
        counts[t, t] = good
        counts[t, (t + 1) % 10] = 100 - good
    if worse_class is not None:
        counts[worse_class] = 0
        counts[worse_class, worse_class] = 70
        counts[worse_class, 5] = 30
    return counts


def write_digits(logdir, run: str, steps, good, worse_class=None) -> None:
    """A one-position digit classifier with 28 x 28 example images at every step."""
    rng = np.random.default_rng(len(run))
    with pb.LogWriter(str(logdir / run)) as writer:
        for n, step in enumerate(steps):
            counts = digits_counts(good + n, worse_class)[None]
            writer.add(confusion_pb(TAG, counts, positions=["digit"], classes=DIGITS), step)
            cells = [[0, t, (t + 1) % 10] for t in range(10)]
            images = [rng.integers(0, 255, (28, 28), dtype=np.uint8) for _ in cells]
            writer.add(
                examples_pb(EXAMPLES_TAG, cells, images, matrix_tag=TAG, cap_per_cell=3), step
            )


def write_captcha(logdir, run: str, positions: int, good: int) -> None:
    """`positions` digits named "digit 1".. with the same 10 classes, two steps."""
    names = [f"digit {i + 1}" for i in range(positions)]
    with pb.LogWriter(str(logdir / run)) as writer:
        for n, step in enumerate((0, 5)):
            counts = np.stack([digits_counts(good + n + i) for i in range(positions)])
            writer.add(confusion_pb(TAG, counts, positions=names, classes=DIGITS), step)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """One TensorBoard (fast loader) for every check of this module."""
    logdir = tmp_path_factory.mktemp("views") / "logs"
    write_digits(logdir, "digits-a", STEPS_A, good=80)
    write_digits(logdir, "digits-b", STEPS_B, good=88, worse_class=3)
    write_captcha(logdir, "captcha-4", 4, good=70)
    write_captcha(logdir, "captcha-5", 5, good=75)
    with pb.LogWriter(str(logdir / "letters")) as writer:
        counts = np.eye(3, dtype=np.int64)[None] * 5
        writer.add(confusion_pb(TAG, counts, positions=["digit"], classes=["a", "b", "c"]), 0)
    tb = TensorBoard(logdir, load_fast=True)
    tb.wait_enabled(PLUGIN)
    wait_for(lambda: len(tb.plugin(PLUGIN, "runs")["runs"]) == 5, timeout=60)
    yield tb
    tb.stop()


def open_page(make_page, board, width=1400, height=1000, shell=False, **kwargs):
    page = make_page(width=width, height=height, **kwargs)
    frame = open_plugin_tab(page, board, PLUGIN, "Confusion", shell=shell)
    frame.wait_for_selector("#cm-run option", state="attached", timeout=30_000)
    frame.wait_for_selector(".cm-card rect.cm-cell", timeout=30_000)
    return page, frame


def choose(frame, run: str, compare: str = "") -> None:
    if frame.eval_on_selector("#cm-run", "s => s.value") != key(run):
        frame.select_option("#cm-run", value=key(run))
    wait_for(lambda: frame.evaluate("() => window.flowscopeConfusion.current") == key(run))
    wait_for(lambda: frame.evaluate("() => !!window.flowscopeConfusion.data.size"))
    frame.select_option("#cm-compare", value=key(compare) if compare else "")
    shown = "() => window.flowscopeConfusion.frame?.cmp?.series.key || ''"
    wait_for(lambda: frame.evaluate(shown) == (key(compare) if compare else ""))


def rgb(frame, selector: str) -> tuple[int, ...]:
    fill = frame.eval_on_selector(selector, "r => r.getAttribute('fill')")
    return tuple(int(v) for v in re.findall(r"\d+", fill))


CELL = '.cm-card[data-position="0"] rect.cm-cell[data-true="{}"][data-predicted="{}"]'


def test_compare_mode_colours_by_meaning_and_every_panel_compares(make_page, board):
    page, frame = open_page(make_page, board)
    # a run with other classes cannot be compared; same classes, other positions can
    choose(frame, "digits-a")
    disabled = frame.eval_on_selector_all(
        "#cm-compare option", "os => os.filter(o => o.disabled).map(o => o.value)"
    )
    assert disabled == [key("letters")]
    frame.click("#cm-norm-true")
    choose(frame, "digits-a", "digits-b")

    # B is better on the diagonal at class 0 and off it at 0 -> 1 (fewer errors): one colour
    # (blue); worse at 3 -> 3 (fewer right) and 3 -> 5 (more errors): the other (orange)
    for t, p in [(0, 0), (0, 1)]:
        r, _, b = rgb(frame, CELL.format(t, p))
        assert b > r + 20, (t, p, r, b)
    for t, p in [(3, 3), (3, 5)]:
        r, _, b = rgb(frame, CELL.format(t, p))
        assert r > b + 20, (t, p, r, b)
    ends = frame.locator(".fs-legend-ends span").all_text_contents()
    assert ends[0].startswith("◀ B worse") and ends[1].startswith("B better")
    # cells that did not change print "0", never a signed zero, anywhere on the page
    texts = visible_texts(frame, "confusion-page")
    assert not [s for s in texts if re.search(r"(^|[^\d.])[+−-]0(\.0+)?(?![\d.])", s)], texts
    values = frame.locator('.cm-card[data-position="0"] text.cm-value').all_text_contents()
    assert values[2] == "0"  # 0 -> 2: never confused by either run
    assert values[0] == "+8" and values[1] == "−8"  # 0 -> 0 better, 0 -> 1 fewer errors

    # accuracy: both runs in the table and on the chart, the change coloured by meaning
    heads = frame.locator("#cm-acc-table th").all_text_contents()
    assert heads[-2:] == ["B", "B − A"]
    assert (
        frame.locator("#cm-acc-table .cm-delta").first.get_attribute("class").endswith("cm-better")
    )
    lines = frame.eval_on_selector_all(".cm-chart-line", "ls => ls.map(l => l.dataset.name)")
    assert lines == ["A: digits-a", "B: digits-b"]
    # most confused pairs of either run, with both rates and the change
    wait_for(lambda: "A and B" in frame.locator("#cm-pairs h2").inner_text())
    heads = frame.locator("#cm-pairs-table th").all_text_contents()
    assert heads == ["true → predicted", "A, of true", "B, of true", "B − A"]
    row = frame.locator('#cm-pairs-table .cm-pair[data-true="3"][data-predicted="5"]')
    assert row.locator(".cm-delta").get_attribute("class").endswith("cm-worse")
    # per-class metrics: A's value and B's change under it
    wait_for(lambda: frame.locator("#cm-class-table .cm-delta").count() >= 30)
    recall3 = frame.locator('#cm-class-table .cm-class-row[data-class="3"] td').nth(2)
    assert "cm-worse" in recall3.locator(".cm-delta").get_attribute("class")
    assert "Each metric of A" in frame.locator("#cm-metrics-note").inner_text()
    page.mouse.move(5, 5)
    page.screenshot(path=artifact("confusion-compare-1400.png"))

    # 4 positions against 5: the four shared by name and the pooled counts compare
    choose(frame, "captcha-4", "captcha-5")
    note = frame.locator("#cm-compare-note").inner_text()
    assert "4 positions both runs have" in note and "A has 4, B has 5" in note
    assert frame.locator(".cm-card.cm-missing").count() == 0
    assert (
        frame.locator('.cm-card[data-position="pooled"] .cm-card-detail').inner_text().count("B ")
    )
    # the other way round, A's fifth position has no partner and says so
    choose(frame, "captcha-5", "captcha-4")
    assert frame.locator(".cm-card.cm-missing").count() == 1
    assert "not in B" in frame.locator('.cm-card[data-position="4"]').inner_text()
    assert page.errors == []


CONTROLS = ["#cm-run", "#cm-compare", "#cm-normalize", "#cm-errors", "#cm-play", "#cm-step",
            ".fs-language"]  # fmt: skip


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_laptop_window_keyboard_reload_and_theme(make_page, board, scheme):
    page, frame = open_page(make_page, board, 1100, 700, shell=True, color_scheme=scheme)
    theme = frame.evaluate("() => document.documentElement.dataset.theme")
    parent_dark = page.evaluate("() => document.body.classList.contains('dark-mode')")
    assert theme == ("dark" if parent_dark else "light")
    assert parent_dark == (scheme == "dark")
    background = frame.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert (background == "rgb(48, 48, 48)") == (scheme == "dark"), background
    # it follows TensorBoard's switch while open
    page.evaluate("() => document.body.classList.toggle('dark-mode')")
    wait_for(lambda: frame.evaluate("() => document.documentElement.dataset.theme") != theme)
    page.evaluate("() => document.body.classList.toggle('dark-mode')")
    wait_for(lambda: frame.evaluate("() => document.documentElement.dataset.theme") == theme)

    choose(frame, "digits-a", "digits-b")
    frame.click("#cm-norm-predicted")
    for selector in CONTROLS:
        assert in_view(frame, selector), selector
    # a clicked cell's images are in view (beside the map, or scrolled to)
    frame.locator(CELL.format(3, 4)).click()
    wait_for(lambda: frame.locator("#cm-example-grid img").count() == 1)
    wait_for(lambda: in_view(frame, "#cm-examples-title"))
    assert in_view(frame, "#cm-example-grid img")
    for selector in CONTROLS:  # the controls stay in view after it
        assert in_view(frame, selector), selector
    # 28 x 28 digits are drawn as pixels, not smoothed
    image = frame.locator("#cm-example-grid img").first
    wait_for(lambda: image.evaluate("i => i.complete && i.naturalWidth") == 28)
    assert image.evaluate("i => getComputedStyle(i).imageRendering") == "pixelated"
    frame.locator("#cm-step").fill("1")
    wait_for(lambda: frame.locator("#cm-step-label").inner_text().startswith("step 10 "))
    wait_for(lambda: frame.locator("#cm-examples-note").inner_text().startswith("step 10 "))
    page.screenshot(path=artifact(f"confusion-laptop-{scheme}.png"))

    # the keyboard: the map is one tab stop; arrows move, Enter opens the cell
    frame.focus('.cm-card[data-position="0"] svg.cm-heatmap')
    # (the cursor starts at the clicked cell: PageUp and Home take it to the first row and column)
    for k in ["PageUp", "Home", "ArrowDown", "ArrowDown", "ArrowRight", "ArrowRight", "ArrowRight"]:
        frame.press('.cm-card[data-position="0"] svg.cm-heatmap', k)
    tip = frame.locator("#cm-tooltip")
    wait_for(lambda: tip.is_visible() and "true 2 → predicted 3" in tip.inner_text())
    cursor = '.cm-card[data-position="0"] .cm-cursor'
    assert frame.eval_on_selector(cursor, "c => getComputedStyle(c).visibility") == "visible"
    assert frame.eval_on_selector(cursor, "c => [c.getAttribute('x'), c.getAttribute('y')]") == [
        str(3 * frame.evaluate("() => window.flowscopeConfusion.maps.heatmaps[0].cell")),
        str(2 * frame.evaluate("() => window.flowscopeConfusion.maps.heatmaps[0].cell")),
    ]
    frame.press('.cm-card[data-position="0"] svg.cm-heatmap', "Enter")
    title = frame.locator("#cm-examples-title")
    wait_for(lambda: title.inner_text() == "true 2 → predicted 3")
    # "+" zooms the single map and keeps the focus and the cursor; "fit" fits it again
    cell = "() => window.flowscopeConfusion.maps.heatmaps[0].cell"
    fitted = frame.evaluate(cell)
    frame.press('.cm-card[data-position="0"] svg.cm-heatmap', "+")
    wait_for(lambda: frame.evaluate(cell) > fitted)
    assert frame.evaluate("() => document.activeElement.classList.contains('cm-heatmap')")
    assert frame.evaluate("() => window.flowscopeConfusion.maps.heatmaps[0].cursor") == {
        "t": 2,
        "p": 3,
    }
    frame.click("#cm-zoom-fit")
    fits = "() => { const m = window.flowscopeConfusion.maps; return m.zoom === null"
    fits += " && m.heatmaps[0].cell === m.fit(m.boxHeight()); }"
    wait_for(lambda: frame.evaluate(fits))
    # the accuracy chart reads out every line's value under the pointer
    frame.hover(".cm-chart-hit")
    readout = frame.locator("#cm-chart-tip")
    wait_for(lambda: readout.is_visible())
    assert readout.inner_text().startswith("step ") and "digits-b" in readout.inner_text()

    # a reload (TensorBoard's, or a language switch) shows the same
    before = frame.evaluate(
        "() => [document.getElementById('cm-step-label').textContent,"
        " document.getElementById('cm-examples-title').textContent]"
    )
    page.reload(wait_until="domcontentloaded")
    page.goto(board.url + f"/#{PLUGIN}", wait_until="domcontentloaded")
    frame = page.wait_for_selector(f'iframe[src*="name={PLUGIN}"]').content_frame()
    frame.wait_for_selector("#cm-examples-title", timeout=30_000)
    wait_for(lambda: frame.evaluate("() => !!window.flowscopeConfusion.frame?.cmp"))
    assert frame.eval_on_selector("#cm-run", "s => s.value") == key("digits-a")
    assert frame.eval_on_selector("#cm-compare", "s => s.value") == key("digits-b")
    assert frame.get_attribute("#cm-norm-predicted", "aria-pressed") == "true"
    after = frame.evaluate(
        "() => [document.getElementById('cm-step-label').textContent,"
        " document.getElementById('cm-examples-title').textContent]"
    )
    assert after == before
    assert page.errors == []


def test_chinese_and_the_pseudo_language(make_page, board):
    page, frame = open_page(make_page, board, shell=True, locale="zh-CN")
    choose(frame, "captcha-4", "captcha-5")
    assert frame.locator("h1").inner_text() == "混淆矩阵"
    assert frame.locator("#cm-norm-true").inner_text() == "按真实类别（召回率）"
    assert "个位置" in frame.locator("#cm-info").inner_text()
    assert frame.eval_on_selector(".fs-language", "s => s.value") == "zh"
    page.mouse.move(5, 5)
    page.screenshot(path=artifact("confusion-zh-CN.png"))
    # the header's switch picks English, remembered; the reload keeps the chosen runs
    with frame.expect_navigation():  # the plugin's frame reloads in the new language
        frame.select_option(".fs-language", value="en")
    frame = page.wait_for_selector(f'iframe[src*="name={PLUGIN}"]').content_frame()
    frame.wait_for_selector("#cm-compare-note:not([hidden])", timeout=30_000)
    assert frame.locator("h1").inner_text() == "Confusion"
    assert frame.eval_on_selector("#cm-run", "s => s.value") == key("captcha-4")
    assert frame.eval_on_selector("#cm-compare", "s => s.value") == key("captcha-5")
    assert page.errors == []

    # en-XA: every label comes from the table (pseudo marks), and nothing overflows at 1100
    page = make_page(width=1100, height=700)
    page.add_init_script("localStorage.setItem('flowscope.lang', 'en-XA')")
    frame = open_plugin_tab(page, board, PLUGIN, "Confusion", shell=False)
    frame.wait_for_selector(".cm-card rect.cm-cell", timeout=30_000)
    choose(frame, "captcha-4", "captcha-5")
    wait_for(lambda: frame.locator("#cm-class-table").count() == 1)
    # log data (run / tag, position and class names) and numbers or symbols stay as they are
    data = re.compile(r"^([^A-Za-z]*|(captcha-\d / )?confusion/validation|captcha-\d|digit \d)$")
    unmarked = [
        s for s in visible_texts(frame, "confusion-page") if "⟦" not in s and not data.match(s)
    ]
    assert unmarked == [], unmarked
    overflow = frame.evaluate(
        """() => [...document.querySelectorAll(
          '#cm-controls label, #cm-controls button, .cm-panel h2, .cm-panel th, .fs-legend-title')]
          .filter((e) => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).textOverflow
            !== 'ellipsis').map((e) => e.textContent)"""
    )
    assert overflow == []
    wide = frame.evaluate(
        """() => [...document.querySelectorAll('.cm-panel, .cm-card, #cm-controls')]
          .filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.id || e.className)"""
    )
    assert wide == []
    assert frame.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
    page.screenshot(path=artifact("confusion-en-XA-1100.png"))
    assert page.errors == []
