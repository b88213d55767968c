"""Issue 28's minor items 8, 10, 12, 14, 17 and 18 in headless Chromium over one small
TensorBoard: a zoomed race map with levels and colours of its own, keys that work as soon as
a tab is shown, compare mode that hides the maps B lacks and drops a stale selection, one
colour scale per series in count mode, example images that open at their own size, Chinese
table headers that never break inside a word, and the library's surface and optimizer texts
in the page's language (a user's own as written).
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
from summaries import race as race_summaries
from summaries.position_confusion import confusion_pb, examples_pb
from summaries.race.surfaces import SURFACES

pytestmark = pytest.mark.browser

RACE = "optimizer_race"
CONFUSION = "position_confusion"
TAG = "confusion/validation"
EXAMPLES_TAG = "confusion/validation/examples"
LINEAR = "linear"  # the course's linear regression: its paths sit in a corner of its window
OWN = "own-bowl"
OWN_TITLE = "My bowl (lab 3)"
OWN_DESCRIPTION = "our own words: x^2 + 2 y^2"


def write_own_race(logdir: Path) -> None:
    """A race on a surface of the user's own ("bowl"), its titles and description in the
    user's words, and a library optimizer ("adam") under a title of the user's own."""
    window = [-3.0, 3.0, -3.0, 3.0]
    xs, ys = np.meshgrid(np.linspace(-3, 3, 31), np.linspace(-3, 3, 31))
    steps = np.arange(30)
    positions = np.column_stack([2.5 * 0.85**steps, 1.5 * 0.85**steps])
    with pb.LogWriter(str(logdir / OWN)) as writer:
        race_summaries.write_surface(writer, "race/surface", xs**2 + 2 * ys**2, race=OWN,
                                     surface="bowl", window=window)  # fmt: skip
        race_summaries.write_trajectory(
            writer, race_summaries.race_tag("trajectory", "adam"), steps, positions,
            positions[:, 0] ** 2 + 2 * positions[:, 1] ** 2, race=OWN, optimizer="adam",
            surface="bowl", window=window, racer="adam", hyperparameters={"learning_rate": 0.1},
            surface_title=OWN_TITLE, description=OWN_DESCRIPTION, optimizer_title="Adam (ours)",
        )  # fmt: skip


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
    write_race(logdir, "beale", "beale", [0.01, 0.001], [0.0, 0.9], names=["adam", "momentum"],
               steps=60, grid=41, one_run=True)  # fmt: skip
    write_race(logdir, LINEAR, "linear_regression", [0.2, 0.05], [0.0, 0.9],
               names=["sgd", "momentum"], steps=60, grid=81, one_run=True)  # fmt: skip
    write_own_race(logdir)
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
        wait_for(lambda: len(board.plugin(RACE, "races")["races"]) == 4, timeout=90)
        yield board
    finally:
        board.stop()


def key(run: str) -> str:
    return json.dumps([run, TAG], separators=(",", ":"))


def open_confusion(page, board, run: str):
    frame = open_plugin_tab(page, board, CONFUSION, "Confusion", shell=False)
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
    frame = open_plugin_tab(page, board, RACE, "Optimizer Race", shell=False)
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
    frame = open_plugin_tab(page, board, CONFUSION, "Confusion", shell=False)
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


# -- the race page ---------------------------------------------------------------------------
def open_race(page, board, race: str):
    frame = open_plugin_tab(page, board, RACE, "Optimizer Race", shell=False)
    frame.wait_for_function("() => window.flowscopeRace && window.flowscopeRace.built",
                            timeout=60_000)  # fmt: skip
    if frame.input_value("#race-picker") != race:
        frame.select_option("#race-picker", race)
    frame.wait_for_function(
        "race => window.flowscopeRace.built && window.flowscopeRace.race.race === race",
        arg=race, timeout=60_000,
    )  # fmt: skip
    return frame


# What the map shows: its view, the levels and colour scale drawn, whether they are the
# view's own (the answer for this very view) or the whole surface's, the colour bar's tick
# labels, and how many levels have a contour line inside the view.
MAP_LEVELS = r"""() => {
  const m = window.flowscopeRace.map;
  const [x0, x1, y0, y1] = m.view;
  const inside = (px, py) => px >= m.sx(x0) && px <= m.sx(x1) && py >= m.sy(y1) && py <= m.sy(y0);
  const crossing = [...document.querySelectorAll('#race-map-svg .race-contour')].filter((p) => {
    const d = p.getAttribute('d') || '';
    return [...d.matchAll(/[ML]([-\d.]+) ([-\d.]+)/g)].some(([, px, py]) => inside(+px, +py));
  }).length;
  return {
    view: m.view, own: m.active.key === m.view.join(','), whole: m.active === m.whole,
    source: m.active.source, zmin: m.active.zmin, zmax: m.active.zmax, levels: m.active.levels,
    wholeLevels: m.whole.levels, crossing,
    bar: [...document.querySelectorAll('#race-colorbar .race-tick-label')]
      .map((e) => e.textContent),
    drawn: document.querySelectorAll('#race-map-svg .race-contour').length,
    caption: document.querySelector('#race-map-caption').textContent,
  };
}"""


def linear_range(view: list) -> tuple[float, float]:
    """The linear regression's loss range inside a view (the library's closed form)."""
    x0, x1, y0, y1 = view
    gx, gy = np.meshgrid(np.linspace(x0, x1, 301), np.linspace(y0, y1, 301))
    values = SURFACES["linear_regression"].value(gx, gy)
    return float(values.min()), float(values.max())


# -- item 8: a zoomed map gets contour levels and a colour scale of its own ----------------
def test_a_zoomed_map_gets_levels_and_colours_of_its_own(board, page):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "surface?" in r.url else None)
    frame = open_race(page, board, LINEAR)
    whole = frame.evaluate(MAP_LEVELS)
    assert whole["whole"] and len(whole["levels"]) == 18, whole
    assert whole["crossing"] == 18  # the whole surface: every level has a line on the map
    frame.click("#race-zoom-fit")
    frame.wait_for_function(
        "() => { const m = window.flowscopeRace.map; return m.active.key === m.view.join(','); }"
    )
    fit = frame.evaluate(MAP_LEVELS)
    lo, hi = linear_range(fit["view"])
    # the paths sit in a corner: the view is a small part of the window...
    assert (fit["view"][1] - fit["view"][0]) < 0.3 * (1.2 - -1.0), fit["view"]
    # ...and it shows as many levels as the whole map did, all inside the visible values
    assert fit["source"] == "library" and len(fit["levels"]) == 18
    assert fit["crossing"] >= 17, fit
    assert lo - 1e-6 <= fit["zmin"] < fit["zmax"] <= hi * 1.01, (fit, lo, hi)
    assert all(lo <= v <= hi for v in fit["levels"]), (fit["levels"], lo, hi)
    # the colour bar spans the visible values: its labels are the view's levels
    assert all(float(label) <= hi for label in fit["bar"]), (fit["bar"], hi)
    assert fit["bar"] != whole["bar"]
    assert "for this view" in fit["caption"], fit["caption"]
    page.screenshot(path=artifact("review-race-zoom-fit.png"))
    # a wheel zoom refines too, once the wheel stops (not per wheel event)
    box = frame.locator("#race-map-overlay").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    asked = len(requests)
    for _ in range(6):
        page.mouse.wheel(0, -120)
    frame.wait_for_function(
        "v => { const m = window.flowscopeRace.map; return m.view[1] - m.view[0] < v"
        " && m.active.key === m.view.join(','); }",
        arg=(fit["view"][1] - fit["view"][0]) * 0.9,
    )
    wheel = frame.evaluate(MAP_LEVELS)
    lo, hi = linear_range(wheel["view"])
    assert wheel["zmax"] <= hi * 1.01 and wheel["crossing"] >= 17, wheel
    # a drag pans with many moves and asks once it stops
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5 + 80, box["y"] + box["height"] * 0.5 + 40,
                    steps=20)  # fmt: skip
    page.mouse.up()
    frame.wait_for_function(
        "() => { const m = window.flowscopeRace.map; return m.active.key === m.view.join(','); }"
    )
    assert len(requests) - asked <= 4, requests[asked:]
    # "Whole surface": the whole surface's levels and colour bar again, at once
    frame.click("#race-zoom-reset")
    back = frame.evaluate(MAP_LEVELS)
    assert back["whole"] and back["levels"] == whole["levels"] and back["bar"] == whole["bar"]
    assert back["crossing"] == 18 and "for this view" not in back["caption"]
    assert page.errors == []


# -- item 18: the library's surface and optimizer texts in the page's language --------------
def test_library_surfaces_and_optimizers_speak_chinese_the_users_own_stay(board, make_page):
    page = make_page(width=1400, height=1000, locale="zh-CN", color_scheme="dark")
    frame = open_race(page, board, LINEAR)
    chip = frame.inner_text("#race-surface-name")
    assert chip == "曲面：线性回归 (k, b)", chip
    about = frame.get_attribute("#race-surface-name", "title")
    assert "课程笔记中的第一个模型" in about and "first model" not in about, about
    # the what-if is off on the linear regression: why, in Chinese, naming the surface so
    off = frame.inner_text("#race-whatif-help")
    assert off.startswith("这场竞赛不能做假设实验") and "线性回归 (k, b)" in off, off
    assert "linear_regression" not in off and "What-if" not in off, off
    # the library's optimizers by their Chinese names: legend and leaderboard
    legend = frame.eval_on_selector_all(
        ".legend-row .race-name", "es => es.map(e => e.textContent)"
    )
    assert legend == ["SGD", "动量法"], legend
    board_names = frame.eval_on_selector_all(
        ".lb-row .race-name", "es => es.map(e => e.textContent)"
    )
    assert sorted(board_names) == sorted(legend), board_names
    page.screenshot(path=artifact("review-race-zh-linear-dark.png"))
    # Beale: the chip's tooltip (title, formula, description)
    frame.select_option("#race-picker", "beale")
    frame.wait_for_function(
        "() => window.flowscopeRace.built && window.flowscopeRace.race.race === 'beale'"
    )
    assert frame.inner_text("#race-surface-name") == "曲面：Beale 函数"
    about = frame.get_attribute("#race-surface-name", "title")
    assert "平坦的高原与陡峭的山脊" in about and "flat plateaus" not in about, about
    assert "f(x, y) = (1.5 - x + x y)^2" in about  # the formula is mathematics: as logged
    # a surface, a description and an optimizer title of the user's own: as written
    frame.select_option("#race-picker", OWN)
    frame.wait_for_function(
        "r => window.flowscopeRace.built && window.flowscopeRace.race.race === r", arg=OWN
    )
    assert frame.inner_text("#race-surface-name") == f"曲面：{OWN_TITLE}"
    assert OWN_DESCRIPTION in frame.get_attribute("#race-surface-name", "title")
    legend = frame.eval_on_selector_all(
        ".legend-row .race-name", "es => es.map(e => e.textContent)"
    )
    assert legend == ["Adam (ours)"], legend
    assert page.errors == []

    # in English the library's texts read as the library wrote them
    page = make_page(width=1400, height=1000, locale="en-US", color_scheme="light")
    frame = open_race(page, board, "beale")
    assert frame.inner_text("#race-surface-name") == "surface: Beale"
    assert "flat plateaus and sharp ridges" in frame.get_attribute("#race-surface-name", "title")
    legend = frame.eval_on_selector_all(
        ".legend-row .race-name", "es => es.map(e => e.textContent)"
    )
    assert sorted(legend) == ["Adam", "Momentum"], legend
    page.screenshot(path=artifact("review-race-en-beale-light.png"))
    assert page.errors == []
