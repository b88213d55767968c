"""Issue 28's minor items 10, 12, 14, 17 and 18 in headless Chromium over one small TensorBoard:
keys that work as soon as a tab is shown, compare mode that hides the maps B lacks and drops
a stale selection, one colour scale per series in count mode, example images that open at
their own size, and Chinese table headers that never break inside a word.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import TensorBoard, artifact, open_plugin_tab, wait_for
from test_confusion_page import DIGITS, write_captcha_like
from test_race_routes import write_race

from summaries import pb
from summaries.position_confusion import confusion_pb, examples_pb

pytestmark = pytest.mark.browser

RACE = "optimizer_race"
CONFUSION = "position_confusion"
TAG = "confusion/validation"
EXAMPLES_TAG = "confusion/validation/examples"


def write_digits(logdir: Path, run: str = "digits") -> None:
    """A one-position 10-digit classifier (as lenet5) with 48 x 48 example images whose count
    scale grows over the steps (its largest cell: 20, then 40, then 60)."""
    rng = np.random.default_rng(5)
    with pb.LogWriter(str(logdir / run)) as writer:
        for s in range(3):
            counts = rng.integers(0, 4, size=(1, 10, 10)) + np.eye(10, dtype=np.int64) * 20 * (
                s + 1
            )
            writer.add(confusion_pb(TAG, counts, positions=["all"], classes=DIGITS), s)
            image = np.zeros((48, 48, 3), np.uint8)
            image[:, :24] = (200, 40, 40)  # a half-red square: its size shows whether it is scaled
            rows = [[0, 1, 2], [0, 1, 2]]
            writer.add(
                examples_pb(EXAMPLES_TAG, rows, [image, image], matrix_tag=TAG, cap_per_cell=4), s
            )


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("page-review-minor") / "logs"
    logdir.mkdir()
    write_captcha_like(logdir, "captcha", seed=1)
    write_captcha_like(logdir, "captcha-b", seed=2)
    write_digits(logdir)
    write_race(logdir, "quad", "quadratic", [0.03, 0.01], [0.0, 0.9], names=["sgd", "momentum"],
               steps=60, grid=31, one_run=True)  # fmt: skip
    board = TensorBoard(logdir, load_fast=True)
    try:

        def loaded():  # every step of every run (the fast loader reads lazily)
            runs = {
                r["run"]: r["tags"][0]["max_step"] for r in board.plugin(CONFUSION, "runs")["runs"]
            }
            return runs == {"captcha": 8, "captcha-b": 8, "digits": 2} and all(
                len(board.plugin(CONFUSION, "series", run=run, tag=TAG)["steps"]) == 3
                for run in runs
            )

        wait_for(loaded, timeout=90)
        wait_for(lambda: board.plugin(CONFUSION, "examples", run="digits", tag=TAG, true=1,
                                      predicted=2, step=2)["exact"], timeout=90)  # fmt: skip
        wait_for(lambda: len(board.plugin(RACE, "races")["races"]) == 1, timeout=90)
        yield board
    finally:
        board.stop()


def key(run: str) -> str:
    return json.dumps([run, TAG], separators=(",", ":"))


def open_confusion(page, board, run: str):
    frame = open_plugin_tab(page, board, CONFUSION, "Confusion")
    frame.wait_for_selector("#cm-run", timeout=60_000)
    frame.select_option("#cm-run", value=key(run))
    frame.wait_for_selector("svg.cm-chart path.cm-chart-line", timeout=60_000)
    frame.wait_for_function("() => window.flowscopeConfusion.metrics !== null", timeout=60_000)
    return frame


def set_step(frame, index: int) -> None:
    frame.eval_on_selector(
        "#cm-step", "(s, i) => { s.value = String(i); s.dispatchEvent(new Event('input')); }", index
    )


def legend_top(frame) -> float:
    return float(frame.get_attribute("#cm-legends .fs-legend", "data-hi"))


# -- item 14: one colour scale for the whole series, per step as an option ------------------
def test_count_colours_keep_their_meaning_across_steps(board, page):
    frame = open_confusion(page, board, "digits")
    his = []
    for i in range(3):
        set_step(frame, i)
        frame.wait_for_function(
            "i => document.querySelector('#cm-step-label').textContent.includes(`(${i + 1} of 3)`)",
            arg=i,
        )
        his.append(legend_top(frame))
    # the series' largest count (step 2's diagonal: 60 and up) at every step
    assert his[0] == his[1] == his[2] >= 60, his
    assert "one scale for every step" in frame.inner_text("#cm-legends")
    # the option: each step its own scale
    frame.check("#cm-scale-step")
    per_step = []
    for i in range(3):
        set_step(frame, i)
        frame.wait_for_function(
            "i => document.querySelector('#cm-step-label').textContent.includes(`(${i + 1} of 3)`)",
            arg=i,
        )
        per_step.append(legend_top(frame))
    assert per_step[0] < per_step[1] < per_step[2] == his[2], per_step
    assert "this step's scale" in frame.inner_text("#cm-legends")
    frame.uncheck("#cm-scale-step")
    assert page.errors == []


# -- item 10: keys work as soon as the tab is shown; Space plays, Escape closes -------------
def test_confusion_keys_work_at_once_space_plays_escape_closes(board, page):
    frame = open_confusion(page, board, "digits")
    set_step(frame, 0)
    # TensorBoard's tab was clicked last: the page took the focus itself
    frame.wait_for_function(
        "() => document.hasFocus() && document.activeElement.id === 'confusion-page'"
    )
    page.keyboard.press("Space")
    frame.wait_for_function("() => window.flowscopeConfusion.steps.playing")
    page.keyboard.press("Space")
    frame.wait_for_function("() => !window.flowscopeConfusion.steps.playing")
    frame.click('.cm-card[data-position="0"] rect.cm-cell[data-true="1"][data-predicted="2"]')
    frame.wait_for_selector("#cm-examples", state="visible")
    frame.focus("#confusion-page")
    page.keyboard.press("Escape")
    frame.wait_for_selector("#cm-examples", state="hidden")
    assert frame.evaluate("() => window.flowscopeConfusion.selection") is None
    assert page.errors == []


def test_race_keys_work_at_once_and_worded_buttons_are_named_by_their_words(board, page):
    frame = open_plugin_tab(page, board, RACE, "Optimizer Race")
    frame.wait_for_function(
        "() => window.flowscopeRace && window.flowscopeRace.built", timeout=60_000
    )
    frame.wait_for_function(
        "() => document.hasFocus() && document.activeElement.id === 'race-page'"
    )
    frame.evaluate("() => window.flowscopeRace.setStep(0)")
    page.keyboard.press("Space")
    frame.wait_for_function("() => window.flowscopeRace.playing")
    page.keyboard.press("Space")
    # "Whole surface" and "Fit to paths" are named by what they show (label in name)
    for button, words in (
        ("#race-zoom-reset", "Whole surface"),
        ("#race-zoom-fit", "Fit to paths"),
    ):
        assert words in frame.inner_text(button)
        assert frame.get_by_role("button", name=words).count() == 1, words
    assert page.errors == []


# -- item 12: compare captcha with a one-position run: hidden maps, a cleared selection -----
def test_compare_hides_the_maps_b_lacks_and_clears_the_selection(board, page):
    frame = open_confusion(page, board, "captcha")
    frame.click('.cm-card[data-position="0"] rect.cm-cell[data-true="0"][data-predicted="1"]')
    frame.wait_for_selector("#cm-examples", state="visible")
    frame.select_option("#cm-compare", value=key("digits"))
    frame.wait_for_function("() => !document.querySelector('#cm-missing').hidden")
    # the four digit positions digits lacks hide behind one line; the pooled map compares
    assert frame.locator(".cm-card.cm-missing:visible").count() == 0
    assert frame.locator(".cm-card:visible").count() == 1
    line = frame.inner_text("#cm-missing")
    assert "4 maps hidden" in line and "digit 1" in line, line
    # what was clicked belonged to the comparison before: cell and images are gone
    assert frame.is_hidden("#cm-examples")
    assert frame.evaluate("() => window.flowscopeConfusion.selection") is None
    assert frame.locator(".cm-selection[visibility=visible]").count() == 0
    page.screenshot(path=artifact("review-compare-missing.png"))
    frame.click("#cm-missing-toggle")
    frame.wait_for_function("() => document.querySelectorAll('.cm-card.cm-missing').length === 4")
    assert frame.locator(".cm-card.cm-missing:visible").count() == 4
    frame.click("#cm-missing-toggle")
    assert frame.locator(".cm-card.cm-missing:visible").count() == 0
    assert page.errors == []


# -- item 17: an example image opens at its own size with its labels ------------------------
def test_an_example_image_opens_at_its_own_size(board, page):
    frame = open_confusion(page, board, "digits")
    frame.click('.cm-card[data-position="0"] rect.cm-cell[data-true="1"][data-predicted="2"]')
    frame.wait_for_selector("#cm-example-grid .cm-example-open img")
    frame.click("#cm-example-grid .cm-example-open >> nth=0")
    frame.wait_for_selector("#cm-viewer[open]")
    frame.wait_for_function("() => document.querySelector('#cm-viewer-image').naturalWidth === 48")
    size = frame.eval_on_selector(
        "#cm-viewer-image",
        "i => [i.getBoundingClientRect().width, i.getBoundingClientRect().height]",
    )
    assert size == [48, 48], size
    caption = frame.inner_text("#cm-viewer-caption")
    assert "true 1" in caption and "predicted 2" in caption, caption
    assert "48 × 48" in frame.inner_text("#cm-viewer-size")
    page.screenshot(path=artifact("review-example-viewer.png"))
    page.keyboard.press("Escape")  # closes the image, not the panel
    frame.wait_for_selector("#cm-viewer[open]", state="detached")
    assert frame.is_visible("#cm-examples")
    assert page.errors == []


# -- item 18: Chinese headers of the compare tables never break inside a word ---------------
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_chinese_compare_headers_keep_their_words_whole(board, make_page, scheme):
    page = make_page(width=1100, height=700, locale="zh-CN", color_scheme=scheme)
    frame = open_plugin_tab(page, board, CONFUSION, "Confusion")
    frame.wait_for_selector("#cm-run", timeout=60_000)
    frame.select_option("#cm-run", value=key("captcha"))
    frame.select_option("#cm-compare", value=key("captcha-b"))
    frame.wait_for_selector("#cm-pairs-table th", timeout=60_000)
    frame.wait_for_function(
        "() => document.querySelectorAll('#cm-pairs-table .cm-delta').length > 0"
    )
    # each header's words: a break only at a space or after punctuation, never inside 预测 / 类别
    broken = frame.evaluate(
        """() => [...document.querySelectorAll('#cm-pairs-table th, #cm-acc-table th')]
        .flatMap((th) => {
          const text = th.firstChild; if (!text) return [];
          const range = document.createRange(); const lines = [];
          for (let i = 0; i < text.length; i++) {
            range.setStart(text, i); range.setEnd(text, i + 1);
            const r = range.getClientRects()[0]; if (!r) continue;
            const top = Math.round(r.top);
            const last = lines[lines.length - 1];
            if (!last || Math.abs(last.top - top) > 3) lines.push({top, text: ''});
            lines[lines.length - 1].text += text.data[i];
          }
          const words = /[\\u4e00-\\u9fff]$/;
          return lines.slice(0, -1).filter((l, n) => words.test(l.text) &&
            /^[\\u4e00-\\u9fff]/.test(lines[n + 1].text)).map((l) => th.textContent);
        })"""
    )
    assert broken == [], broken
    heads = frame.locator("#cm-pairs-table th").all_text_contents()
    assert "预测" in " ".join(heads), heads
    page.screenshot(path=artifact(f"review-zh-compare-{scheme}.png"))
    assert page.errors == []
