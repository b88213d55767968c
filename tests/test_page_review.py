"""Issue 28's review of both pages, in headless Chromium over one small TensorBoard.

Playback that never gives the ending away (the Race page as of the shown step), neutral
step cursors, series colours that reach 3:1 against both themes, and the minor items.
The logs are written here with `summaries.pb` (no TensorFlow training), so the module
starts in seconds.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, TensorBoard, artifact, open_plugin_tab, wait_for
from test_confusion_page import write_captcha_like
from test_race_routes import heavy_ball, write_race

from summaries import pb
from summaries.position_confusion import confusion_pb
from summaries.race.metrics import ranks as metric_ranks
from summaries.race.metrics import trajectory_metrics
from summaries.race.surfaces import SURFACES

RACE = "optimizer_race"
CONFUSION = "position_confusion"
TAG = "confusion/validation"
QUAD = "quad"
# quadratic: momentum enters the tolerance at 57, swings in and out, and settles at 77;
# nag arrives at 80, sgd at 110; adam never arrives; rmsprop (lr above 2/50) diverges at step 19
QUAD_RACERS = ["sgd", "momentum", "nag", "adam", "rmsprop"]
QUAD_LRS = [0.03, 0.01, 0.02, 0.005, 0.0415]
QUAD_MOMENTA = [0.0, 0.9, 0.5, 0.0, 0.0]
QUAD_STEPS = 200
SADDLE = "saddle"  # every racer escapes (steps 47, 56, 89)

# WCAG 2.x relative luminance and contrast ratio, in the page (for computed CSS colours).
CONTRAST_JS = """
const lum = (c) => { const m = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map((v) => v / 255)
  .map((v) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]; };
const contrast = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05); };
"""


def write_single(logdir: Path, run: str, seed: int, steps: int = 3) -> None:
    """A single classifier (one position, 3 classes) improving over `steps` evaluations."""
    rng = np.random.default_rng(seed)
    with pb.LogWriter(str(logdir / run)) as writer:
        for s in range(steps):
            labels = rng.integers(0, 3, size=(60, 1))
            wrong = rng.random(labels.shape) > 0.4 + 0.25 * s
            preds = np.where(wrong, (labels + 1) % 3, labels)
            counts = np.zeros((1, 3, 3), np.int64)
            np.add.at(counts[0], (labels[:, 0], preds[:, 0]), 1)
            writer.add(confusion_pb(TAG, counts, positions=["all"], classes=["a", "b", "c"]), s)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("page-review") / "logs"
    logdir.mkdir()
    write_race(logdir, QUAD, "quadratic", QUAD_LRS, QUAD_MOMENTA, names=QUAD_RACERS,
               steps=QUAD_STEPS, grid=41, one_run=True)  # fmt: skip
    write_race(logdir, SADDLE, "saddle", [0.05, 0.02, 0.1], [0.0, 0.9, 0.0],
               names=["sgd", "momentum", "adam"], steps=120, grid=41, one_run=True)  # fmt: skip
    write_captcha_like(logdir, "captcha-a", seed=1)
    write_captcha_like(logdir, "captcha-b", seed=2)
    write_single(logdir, "single-a", seed=3)
    write_single(logdir, "single-b", seed=4)
    board = TensorBoard(logdir, load_fast=True)
    try:
        wait_for(lambda: len(board.plugin(RACE, "races")["races"]) == 2, timeout=90)
        wait_for(lambda: len(board.plugin(CONFUSION, "runs")["runs"]) == 4, timeout=90)
        yield board
    finally:
        board.stop()


def open_race(page, board, race: str, shell: bool = False):
    frame = open_plugin_tab(page, board, RACE, "Optimizer Race", shell=shell)
    frame.wait_for_selector("#race-leaderboard .lb-row", timeout=60_000)
    if frame.input_value("#race-picker") != race:
        frame.select_option("#race-picker", race)
    frame.wait_for_function(
        "race => document.querySelector('#race-picker').value === race && "
        "window.flowscopeRace.built && window.flowscopeRace.loaded === race",
        arg=race,
        timeout=60_000,
    )
    return frame


def scrub(frame, step: int) -> None:
    frame.eval_on_selector(
        "#race-scrubber",
        "(el, step) => { el.value = String(step); el.dispatchEvent(new Event('input')); }",
        step,
    )
    frame.wait_for_function(
        "s => document.querySelector('#race-step').textContent.includes(`step ${s} /`)",
        arg=step,
    )


def board_rows(frame) -> dict[str, dict]:
    """The leaderboard as shown: {optimizer: {rank, outcome, status, cells...}}."""
    return frame.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#race-leaderboard .lb-row')]
        .map((row) => {
          const cell = (k) => row.querySelector(`td[data-key="${k}"]`);
          const num = (k) => (cell(k).dataset.value === '' ? null : Number(cell(k).dataset.value));
          const badge = row.querySelector('.race-badge');
          return [row.dataset.optimizer, {
            rank: Number(row.querySelector('td.lb-rank').dataset.value),
            outcome: badge ? badge.dataset.outcome : null, status: badge ? badge.textContent : '',
            final_loss: num('final_loss'), best_loss: num('best_loss'),
            distance: num('distance_to_minimum'),
            first_entry_step: num('first_entry_step'), settled_step: num('settled_step')}];
        }))"""
    )


def expected_as_of(race: str, surface: str, lrs, momenta, steps: int, s: int) -> dict[str, dict]:
    """`trajectory_metrics` of each racer's rows up to step s: what has happened by then."""
    surf = SURFACES[surface]
    pos, loss = heavy_ball(surface, lrs, momenta, steps)
    out = {}
    for i in range(len(lrs)):
        out[i] = trajectory_metrics(
            pos[i, : s + 1], loss[i, : s + 1], minima=surf.minima, window=surf.window,
            tolerance=surf.tolerance if surf.tolerance is not None else -np.inf,
            unbounded_below=bool(surf.unbounded_below),
        )  # fmt: skip
    return out


# -- item 1: the Race page never gives the ending away ---------------------------------
def test_race_shows_only_what_has_happened_by_the_shown_step(board, page):
    frame = open_race(page, board, QUAD)
    # the finished race (the default): the verdict of the whole race
    final = board_rows(frame)
    assert final["momentum"]["status"] == "arrived at step 77", final
    assert final["adam"]["status"] == "not arrived in 200 steps", final
    assert final["rmsprop"]["outcome"] == "diverged", final
    assert "verdict" in frame.inner_text("#race-leaderboard-asof")
    assert float(frame.get_attribute("#race-loss-future", "width")) < 3

    for s in (10, 30, 60, 100):
        scrub(frame, s)
        shown = board_rows(frame)
        want = expected_as_of(QUAD, "quadratic", QUAD_LRS, QUAD_MOMENTA, QUAD_STEPS, s)
        want_ranks = metric_ranks([want[i] for i in range(len(QUAD_RACERS))])
        for i, name in enumerate(QUAD_RACERS):
            got, m = shown[name], want[i]
            outcome = "racing" if m["outcome"] == "not_arrived" else m["outcome"]
            assert got["outcome"] == outcome, (s, name, got, m)
            assert got["first_entry_step"] == m["first_entry_step"], (s, name, got, m)
            assert got["settled_step"] == m["settled_step"], (s, name, got, m)
            assert got["final_loss"] == pytest.approx(m["final_loss"], rel=1e-4), (s, name)
            assert got["best_loss"] == pytest.approx(m["best_loss"], rel=1e-4), (s, name)
            assert got["distance"] == pytest.approx(m["distance_to_minimum"], rel=1e-4), (s, name)
            assert got["rank"] == want_ranks[i], (s, name, shown, want_ranks)
            # no text on the page names a step after the shown one
            for number in re.findall(r"\d+", got["status"]):
                assert int(number) <= s, (s, name, got["status"])
        assert f"step {s} of 200" in frame.inner_text("#race-leaderboard-asof")
        # the racer list: a divergence badge only once the step reaches it (step 19)
        legend = frame.locator('.legend-row[data-optimizer="rmsprop"] .race-badge')
        assert legend.count() == (1 if s >= 19 else 0), s
        # the loss chart veils everything after the cursor
        cursor = float(frame.get_attribute("#race-loss-cursor", "x1"))
        veil_x = float(frame.get_attribute("#race-loss-future", "x"))
        veil_w = float(frame.get_attribute("#race-loss-future", "width"))
        assert veil_x == pytest.approx(cursor, abs=0.2) and veil_w > 50, (s, veil_x, veil_w)
    # momentum swings in and out from step 57: at 66 it has been inside since 65, so it has
    # arrived so far (the verdict, from the whole path, says 77)
    scrub(frame, 66)
    assert board_rows(frame)["momentum"]["status"] == "arrived at step 65"
    page.screenshot(path=artifact("review-race-quad-step66.png"))
    scrub(frame, QUAD_STEPS)
    assert board_rows(frame) == final
    assert page.errors == []


def test_saddle_rows_say_escaped_only_once_the_racer_has_escaped(board, page):
    frame = open_race(page, board, SADDLE)
    assert frame.locator(".legend-row .escaped-badge").count() == 3  # the finished race
    scrub(frame, 40)  # before every escape (47, 56, 89)
    assert frame.locator(".legend-row .race-badge").count() == 0
    assert frame.locator("#race-leaderboard .escaped-badge").count() == 0
    assert "escaped at" not in frame.inner_text("#race-page")
    scrub(frame, 60)  # adam (47) and momentum (56) are out, sgd (89) not yet
    escaped = frame.eval_on_selector_all(
        ".legend-row .escaped-badge",
        "bs => bs.map(b => b.closest('.legend-row').dataset.optimizer)",
    )
    assert sorted(escaped) == ["adam", "momentum"]
    assert frame.locator('.lb-row[data-optimizer="sgd"] .escaped-badge').count() == 0
    page.screenshot(path=artifact("review-race-saddle-step60.png"))
    assert page.errors == []


# -- items 2 and 3: neutral step cursors; series colours at 3:1 in both themes ---------------
def open_confusion(page, board, run: str, compare: str | None = None, shell: bool = False):
    frame = open_plugin_tab(page, board, CONFUSION, "Confusion", shell=shell)
    frame.wait_for_selector("#cm-run", timeout=60_000)
    frame.select_option("#cm-run", value=json.dumps([run, TAG], separators=(",", ":")))
    if compare:
        frame.select_option("#cm-compare", value=json.dumps([compare, TAG], separators=(",", ":")))
    frame.wait_for_selector("svg.cm-chart path.cm-chart-line", timeout=60_000)
    return frame


SERIES_JS = """(sel) => {
  CONTRAST
  // the colour a chart is drawn on: the first ancestor with a background
  const ground = (e) => { for (let n = e; n; n = n.parentElement) {
      const bg = getComputedStyle(n).backgroundColor;
      if (bg && !/rgba\\(.*, 0\\)$/.test(bg) && bg !== 'transparent') return bg; }
    return 'rgb(255, 255, 255)'; };
  const cursor = document.querySelector(sel.cursor);
  const cs = getComputedStyle(cursor);
  const lines = [...document.querySelectorAll(sel.lines)].map((e) => {
    const s = getComputedStyle(e);
    const colour = sel.fill ? s.fill : s.stroke;
    const under = ground(e.closest(sel.card));
    return {name: e.dataset.name || e.dataset.racer || e.dataset.optimizer || '', colour,
            ground: under, contrast: contrast(colour, under)};
  });
  return {cursor: cs.stroke, dash: cs.strokeDasharray, lines};
}""".replace("CONTRAST", CONTRAST_JS)


def neutral(colour: str) -> bool:
    r, g, b = (int(float(v)) for v in re.findall(r"[\d.]+", colour)[:3])
    return max(r, g, b) - min(r, g, b) <= 8


def check_chart(frame, cursor: str, lines: str, card: str, fill: bool = False) -> list[dict]:
    got = frame.evaluate(SERIES_JS, {"cursor": cursor, "lines": lines, "card": card, "fill": fill})
    assert got["lines"], lines
    assert neutral(got["cursor"]), got["cursor"]  # a grey, not a series colour
    assert got["dash"] not in ("none", ""), got["dash"]  # dashed
    assert all(line["colour"] != got["cursor"] for line in got["lines"]), got
    low = [line for line in got["lines"] if line["contrast"] < 3]
    assert low == [], low
    return got["lines"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_cursors_are_neutral_dashed_and_series_reach_3_to_1(board, make_page, scheme):
    page = make_page(color_scheme=scheme)
    frame = open_race(page, board, QUAD, shell=True)  # TensorBoard's theme switch below
    assert frame.evaluate("() => document.documentElement.dataset.theme") == scheme
    scrub(frame, 100)
    check_chart(frame, "#race-loss-cursor", ".race-loss-path", ".race-card")
    check_chart(frame, "#race-loss-cursor", ".race-path", ".race-card")
    check_chart(frame, "#race-loss-cursor", ".race-marker", ".race-card", fill=True)
    page.screenshot(path=artifact(f"review-race-{scheme}.png"))
    # TensorBoard switches theme: the racers take the other theme's colours at once
    before = frame.eval_on_selector_all(".race-path", "ps => ps.map(p => p.getAttribute('stroke'))")
    page.evaluate("() => document.body.classList.toggle('dark-mode')")
    other = "light" if scheme == "dark" else "dark"
    frame.wait_for_function(f"() => document.documentElement.dataset.theme === '{other}'")
    after = frame.eval_on_selector_all(".race-path", "ps => ps.map(p => p.getAttribute('stroke'))")
    assert set(before).isdisjoint(after), (before, after)
    check_chart(frame, "#race-loss-cursor", ".race-loss-path", ".race-card")
    check_chart(frame, "#race-loss-cursor", ".race-path", ".race-card")
    page.evaluate("() => document.body.classList.toggle('dark-mode')")

    # the Confusion page's accuracy chart: the cursor at the last step (the default) is the
    # neutral dashed line, never a line's colour (it looked like accuracy falling to zero)
    frame = open_confusion(page, board, "captcha-a", shell=True)
    lines = check_chart(frame, ".cm-chart-marker", ".cm-chart-line", ".cm-panel")
    assert len(lines) == 6  # four positions, pooled, whole captcha
    page.screenshot(path=artifact(f"review-confusion-{scheme}.png"))
    assert page.errors == []


def test_every_palette_entry_reaches_3_to_1_against_every_background_of_its_theme():
    """The series palettes of common/colors.js (read by node) against the background colours
    of common/style.css and the pages' own, in both themes; and none is a grey (the cursor's)."""
    colours = json.loads(
        subprocess.run(
            [
                "node",
                "--input-type=module",
                "-e",
                "import { SERIES } from './frontend/common/colors.js';"
                " console.log(JSON.stringify(SERIES));",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout  # fmt: skip
    )

    def variables(css: str, theme: str) -> dict[str, str]:
        block = (
            r":root\s*\{(.*?)\}" if theme == "light" else r':root\[data-theme="dark"\]\s*\{(.*?)\}'
        )
        body = re.search(block, css, re.S).group(1)
        return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})", body))

    def luminance(hex_colour: str) -> float:
        rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    def contrast(a: str, b: str) -> float:
        hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
        return (hi + 0.05) / (lo + 0.05)

    css = {name: (REPO / "frontend" / name).read_text() for name in
           ("common/style.css", "race/race.css", "confusion/style.css")}  # fmt: skip
    for theme in ("light", "dark"):
        common = variables(css["common/style.css"], theme)
        race = variables(css["race/race.css"], theme)
        grounds = {k: common[k] for k in ("--fs-bg", "--fs-bg-soft", "--fs-surface")}
        grounds["--race-page-bg"] = race["--race-page-bg"]
        assert len(colours[theme]) == 12
        low = [(c, k, round(contrast(c, g), 2)) for c in colours[theme]
               for k, g in grounds.items() if contrast(c, g) < 3]  # fmt: skip
        assert low == [], (theme, low)
        cursor = common["--fs-cursor"] if "--fs-cursor" in common else variables(
            css["common/style.css"], "light")["--fs-cursor"]  # fmt: skip
        for c in colours[theme]:
            r, g, b = (int(c[i : i + 2], 16) for i in (1, 3, 5))
            assert max(r, g, b) - min(r, g, b) > 40, (theme, c)  # a hue, not a grey
            assert c.lower() != cursor.lower()


# -- items 5 and 11: no toolbar in the error state; errors in words, in the page's language ---
@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_errors_say_what_happened_and_what_to_do_without_a_toolbar(board, make_page, locale):
    page = make_page(locale=locale)
    page.route("**/data/plugin/optimizer_race/races*",
               lambda route: route.fulfill(status=500, body="<html>oops</html>"))  # fmt: skip
    frame = open_plugin_tab(page, board, RACE, "Optimizer Race", shell=False)
    error = frame.wait_for_selector("#race-body .fs-error", timeout=60_000)
    text = error.inner_text()
    assert "not JSON" not in text and "races:" not in text, text
    if locale == "zh-CN":
        assert "无法加载竞赛" in text and "重新加载页面" in text and "HTTP 500" in text, text
    else:
        assert "Could not load the races" in text and "Reload the page" in text, text
    # the toolbar of a shown race (Play, speed, "step 0 / 0") is not there to click
    assert not frame.is_visible("#race-controls")
    assert not frame.is_visible("#race-play")
    page.unroute("**/data/plugin/optimizer_race/races*")

    # the Confusion page: an image request that fails keeps the panel's title and close button
    page.route("**/data/plugin/position_confusion/examples*",
               lambda route: route.fulfill(status=500, body="<html>oops</html>"))  # fmt: skip
    frame = open_confusion(page, board, "captcha-a")
    frame.click('.cm-card[data-position="0"] rect.cm-cell[data-true="0"][data-predicted="1"]')
    failed = frame.wait_for_selector("#cm-examples-error", timeout=30_000)
    assert "HTTP 500" in failed.inner_text()
    assert (
        "无法加载图像" if locale == "zh-CN" else "Could not load the images"
    ) in failed.inner_text()
    assert frame.is_visible("#cm-examples-title")
    frame.click("#cm-examples-close")
    frame.wait_for_selector("#cm-examples", state="hidden")
    page.screenshot(path=artifact(f"review-errors-{locale}.png"))


# -- item 9: the minimum's star on top; an × on the plot's edge shows whole -----------------
def test_star_above_markers_and_edge_marks_not_clipped(board, page):
    frame = open_race(page, board, QUAD)
    on_top = frame.evaluate(
        """() => { const star = document.querySelector('#race-map-overlay .race-minimum');
          const markers = [...document.querySelectorAll('#race-map-overlay .race-marker')];
          return Boolean(star) && markers.length > 0 && markers.every(
            (m) => m.compareDocumentPosition(star) & Node.DOCUMENT_POSITION_FOLLOWING); }"""
    )
    assert on_top
    frame = open_race(page, board, SADDLE)  # every racer escapes across the window's edge
    inside = frame.evaluate(
        """() => { const clip = document.querySelector('#race-overlay-clip rect').getBBox();
          const crosses = [...document.querySelectorAll('#race-map-overlay .race-diverged')]
            .filter((c) => c.getAttribute('visibility') === 'visible');
          return crosses.map((c) => { const b = c.getBBox();
            return b.x >= clip.x && b.y >= clip.y && b.x + b.width <= clip.x + clip.width
              && b.y + b.height <= clip.y + clip.height; }); }"""
    )
    assert inside and all(inside), inside
    assert page.errors == []


# -- items 7 and 15: the what-if banner shifts nothing; momentum on a log scale of 1 - momentum
def test_whatif_banner_shifts_nothing_and_momentum_slider_is_logarithmic(board, page):
    frame = open_race(page, board, QUAD)
    row = '.legend-row[data-optimizer="momentum"]'
    slider = f"{row} .whatif-momentum-slider"
    top = "sel => document.querySelector(sel).getBoundingClientRect().top + scrollY"
    before = frame.evaluate(top, slider)
    assert frame.locator("#race-whatif-banner.race-whatif-idle").is_visible()
    frame.fill(f"{row} .whatif-lr", "abc")  # a first what-if input (rejected: no request)
    frame.wait_for_selector("#race-whatif-banner:not(.race-whatif-idle)")
    assert "not for the values typed" in frame.inner_text("#race-whatif-banner")
    assert frame.evaluate(top, slider) == before  # the slider did not move under the pointer

    # 0.9 and 0.99 are a decade apart on the slider, as 0.99 and 0.999
    assert float(frame.input_value(slider)) == pytest.approx(1.0)  # logged momentum 0.9
    positions = {}
    for typed in ("0.99", "0.999", "0"):
        frame.fill(f"{row} .whatif-momentum", typed)
        frame.press(f"{row} .whatif-momentum", "Enter")
        positions[typed] = float(frame.input_value(slider))
    assert positions == pytest.approx({"0.99": 2.0, "0.999": 3.0, "0": 0.0})
    frame.eval_on_selector(slider, "s => { s.value = '1.5'; s.dispatchEvent(new Event('input')); }")
    assert frame.input_value(f"{row} .whatif-momentum") == "0.9684"
    assert frame.get_attribute(slider, "aria-valuetext") == "0.9684"


# -- item 13: one colour per series in compare mode -------------------------------------------
@pytest.mark.parametrize(("a", "b", "row"), [("single-a", "single-b", "0"),
                                              ("captcha-a", "captcha-b", "pooled")])  # fmt: skip
def test_compare_swatches_match_the_chart_lines(board, page, a, b, row):
    frame = open_confusion(page, board, a, compare=b)
    frame.wait_for_selector("#cm-chart-note")
    colours = frame.evaluate(
        """(row) => { const sw = document.querySelector(
            `#cm-acc-table tr[data-position="${row}"] .cm-swatch`);
          const lines = [...document.querySelectorAll('svg.cm-chart .cm-chart-line')];
          return {swatch: getComputedStyle(sw).getPropertyValue('--swatch').trim(),
                  dash: sw.classList.contains('cm-swatch-dash'),
                  a: lines.find((l) => l.dataset.name.startsWith('A')).style.stroke,
                  b: lines.find((l) => l.dataset.name.startsWith('B')).style.stroke}; }""",
        row,
    )
    # the row of what the chart draws as run A is in A's colour (solid, as A's line)
    rgb = frame.evaluate(
        "c => { const s = document.createElement('span'); s.style.color = c;"
        " document.body.append(s); const v = getComputedStyle(s).color; s.remove(); return v; }",
        colours["swatch"],
    )
    assert rgb == colours["a"] and not colours["dash"], colours
    assert colours["a"] != colours["b"]
    assert page.errors == []


def test_axis_ticks_sit_at_the_values_their_labels_show():
    """Ticks with a label resolution (whole percents, whole steps) are multiples of it, so a
    label names its tick's value exactly: 92.5 % was labelled "93 %" (issue 28, item 6)."""
    script = (
        "import { ticks } from './frontend/common/colormaps.js';"
        " console.log(JSON.stringify([[0.9, 1], [0.6, 1], [0.0, 1], [0.97, 1]].map("
        "([lo, hi]) => ticks(lo, hi, 4, 0.01)).concat([ticks(0, 3, 4, 1), ticks(7, 150, 4, 1)])));"
    )
    found = json.loads(
        subprocess.run(
            ["node", "--input-type=module", "-e", script],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    *percents, steps_small, steps_large = found
    for marks in percents:
        assert len(marks) >= 2, marks
        assert all(abs(v * 100 - round(v * 100)) < 1e-9 for v in marks), marks  # whole percents
    assert steps_small == [0, 1, 2, 3]
    assert all(float(v).is_integer() for v in steps_large) and len(steps_large) >= 2
    assert percents[0] != [0.9, 0.925, 0.95, 0.975, 1]  # the old ticks at 92.5 % and 97.5 %
