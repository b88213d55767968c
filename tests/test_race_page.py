"""The Optimizer Race page in headless Chromium, on a race written by `flowscope race`.

One TensorBoard serves two races: a small one from the real CLI (4 Keras optimizers on the
saddle) and a big one written here (12 racers x 10,000 steps) for the smoothness check.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, TensorBoard, artifact, in_view, open_plugin_tab, visible_texts, wait_for
from test_race_routes import heavy_ball, write_big_race, write_race

from summaries import pb
from summaries import race as race_summaries

pytestmark = pytest.mark.browser

PLUGIN = "optimizer_race"
BIG = "tenk"  # races are listed by name: the CLI's "race-saddle" comes first, then this
CLI_OPTIMIZERS = ["sgd", "momentum", "rmsprop", "adam"]
LINEAR = "race-x-linear"  # the course's linear regression (its map is (k, b)), after the CLI's
CLI_STEPS = 150
# 2,000-character names (sorting between BIG and the unreadable "zz-future/sgd" race)
WIDE = "wide " + "W" * 1995
WIDE_OPTIMIZER = "O" * 2000
WIDE_SURFACE = "S" * 2000
TORCH = "torch-saddle"  # a Keras racer and two PyTorch ones (sorts between BIG and WIDE)
ADAMW = "torch.optim.AdamW"  # two racers share it: runs TORCH/racer1 and TORCH/racer2

# Plays the race for 3 s and reports the gaps between animation frames (what the user
# sees) and the page's own work per frame.
MEASURE_PLAY = """async () => {
  const app = window.flowscopeRace;
  app.frameWork.length = 0;
  app.setStep(0);
  document.querySelector('#race-play').click();
  const gaps = [];
  let last = performance.now();
  const t0 = last;
  await new Promise((done) => {
    const tick = (now) => {
      gaps.push(now - last);
      last = now;
      if (now - t0 < 3000) requestAnimationFrame(tick); else done();
    };
    requestAnimationFrame(tick);
  });
  const step = app.step;
  app.pause();
  const q = (a, p) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) * p)];
  return {frames: gaps.length, p50: q(gaps, 0.5), p95: q(gaps, 0.95), max: Math.max(...gaps),
          work_p50: q(app.frameWork, 0.5), work_p95: q(app.frameWork, 0.95), step};
}"""


def flowscope() -> list[str]:
    script = Path(sys.executable).with_name("flowscope")
    return [str(script)] if script.exists() else [sys.executable, "-m", "demo_models"]


def write_unreadable_race(logdir: Path) -> None:
    """A racer from a future Flowscope: its metadata version is unknown."""
    summary = race_summaries.trajectory_chunk_pb(
        "race/trajectory",
        [0, 1],
        [[0, 0], [1, 1]],
        [1.0, 0.5],
        race="future",
        optimizer="sgd",
        surface="saddle",
        window=[-1, 1, -1, 1],
    )
    content = json.loads(summary.value[0].metadata.plugin_data.content)
    content["version"] = 99
    summary.value[0].metadata.plugin_data.content = json.dumps(content).encode()
    with pb.LogWriter(str(logdir / "zz-future" / "sgd")) as writer:
        writer.add(summary, step=0)


def write_torch_race(logdir: Path) -> None:
    """A Keras racer and two PyTorch ones sharing an optimizer (AdamW at two learning
    rates; hyper-parameters in torch's names) on the saddle."""
    saddle = race_summaries.SURFACES["saddle"]
    pos, loss = heavy_ball("saddle", [0.05, 0.05, 0.02], [0.0, 0.9, 0.0], 80)
    racers = [
        ("sgd", {"learning_rate": 0.05}),
        (ADAMW, {"lr": 0.05, "weight_decay": 0.01}),
        (ADAMW, {"lr": 0.02, "weight_decay": 0.01}),
    ]
    for i, (optimizer, hyper) in enumerate(racers):
        with pb.LogWriter(str(logdir / TORCH / f"racer{i}")) as writer:
            if i == 0:
                race_summaries.write_surface(
                    writer, "race/surface", saddle.grid(41)[2], race=TORCH, surface="saddle",
                    window=saddle.window,
                )  # fmt: skip
            race_summaries.write_trajectory(
                writer, "race/trajectory", np.arange(81), pos[i], loss[i], race=TORCH,
                optimizer=optimizer, surface="saddle", window=saddle.window,
                hyperparameters=hyper,
            )  # fmt: skip


def write_wide_race(logdir: Path) -> None:
    """A race whose race, optimizer, surface and hyper-parameter names are 2,000 characters."""
    window = [-2.0, 2.0, -2.0, 2.0]
    xs, ys = np.meshgrid(np.linspace(-2, 2, 21), np.linspace(-2, 2, 21))
    steps = np.arange(40)
    positions = np.column_stack([1.5 * 0.9**steps, 0.8**steps])
    with pb.LogWriter(str(logdir / "wide" / "o")) as writer:
        race_summaries.write_surface(
            writer, "race/surface", xs**2 + ys**2, race=WIDE, surface=WIDE_SURFACE, window=window
        )
        race_summaries.write_trajectory(
            writer, "race/trajectory", steps, positions, (positions**2).sum(axis=1),
            race=WIDE, optimizer=WIDE_OPTIMIZER, surface=WIDE_SURFACE, window=window,
            hyperparameters={"learning_rate": 0.1, "K" * 2000: 0.5},
        )  # fmt: skip


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """TensorBoard over a CLI race and a 12 x 10,000-step race (written meanwhile)."""
    logdir = tmp_path_factory.mktemp("race-page") / "logs"
    logdir.mkdir()
    cli = subprocess.Popen(
        [*flowscope(), "race", "--logdir", str(logdir), "--surfaces", "saddle",
         "--optimizers", *CLI_OPTIMIZERS, "--steps", str(CLI_STEPS), "--xla", "off"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip
    write_big_race(logdir, race=BIG)
    write_race(logdir, LINEAR, "linear_regression", [0.2, 0.05], [0.0, 0.9], steps=60, one_run=True)
    write_wide_race(logdir)
    write_unreadable_race(logdir)
    write_torch_race(logdir)
    board = TensorBoard(logdir, load_fast=True)
    try:
        output = cli.communicate(timeout=300)[0].decode(errors="replace")
        assert cli.returncode == 0, output
        wait_for(lambda: len(board.plugin(PLUGIN, "races")["races"]) == 6, timeout=60)
        yield board
    finally:
        board.stop()


def open_race(page, board, race: str, shell: bool = False):
    frame = open_plugin_tab(page, board, PLUGIN, "Optimizer Race", shell=shell)
    frame.wait_for_selector("#race-leaderboard .lb-row", timeout=60_000)
    if frame.input_value("#race-picker") != race:
        frame.select_option("#race-picker", race)
    frame.wait_for_function(
        "race => document.querySelector('#race-picker').value === race && "
        "document.querySelector('#race-leaderboard .lb-row') && "
        "document.querySelectorAll('.legend-row').length === "
        "document.querySelectorAll('.lb-row').length",
        arg=race,
        timeout=60_000,
    )
    return frame


def markers(frame, key: str = "optimizer") -> dict[str, tuple[float, float]]:
    return frame.eval_on_selector_all(
        ".race-marker",
        f"els => Object.fromEntries(els.map(e => [e.dataset.{key}, "
        "[Number(e.getAttribute('cx')), Number(e.getAttribute('cy'))]]))",
    )


def scrub(frame, step: int) -> None:
    frame.eval_on_selector(
        "#race-scrubber",
        "(el, step) => { el.value = String(step); el.dispatchEvent(new Event('input')); }",
        step,
    )


def order(frame) -> list[str]:
    return frame.eval_on_selector_all(".lb-row", "rows => rows.map(r => r.dataset.optimizer)")


def ranks(frame) -> list[int]:
    """The leaderboard's "#" column, top to bottom (the rank by arrival)."""
    return frame.eval_on_selector_all(
        ".lb-row td.lb-rank", "cs => cs.map(c => Number(c.textContent))"
    )


def test_cli_race_paths_scrubber_leaderboard_and_whatif(board, page):
    frame = open_race(page, board, "race-saddle", shell=True)
    paths = frame.eval_on_selector_all(".race-path", "ps => ps.map(p => p.dataset.optimizer)")
    assert sorted(paths) == sorted(CLI_OPTIMIZERS)
    assert frame.locator(".race-marker").count() == len(CLI_OPTIMIZERS)
    assert frame.locator("#race-start").count() == 1
    assert frame.locator(".race-contour").count() > 5
    assert "step 150 / 150" in frame.inner_text("#race-step")
    # the surface's title, formula and description, as the CLI logged them
    about = frame.get_attribute("#race-surface-name", "title")
    assert "Saddle x² − y²" in about and "f(x, y) = x^2 - y^2" in about and "saddle" in about

    # the scrubber moves every marker, in sync, and the loss chart's cursor with them
    scrub(frame, 0)
    at_start = markers(frame)
    cursor_start = frame.get_attribute("#race-loss-cursor", "x1")
    assert len({tuple(v) for v in at_start.values()}) == 1  # all racers share the start
    scrub(frame, 120)
    later = markers(frame)
    assert all(later[name] != at_start[name] for name in CLI_OPTIMIZERS), (at_start, later)
    assert frame.get_attribute("#race-loss-cursor", "x1") != cursor_start
    assert "step 120 / 150" in frame.inner_text("#race-step")

    # hovering a path shows its step, position and loss
    box = frame.locator("#race-map-overlay").bounding_box()
    x, y = later["sgd"]
    page.mouse.move(box["x"] + x, box["y"] + y)
    tip = frame.locator("#race-map-tooltip")
    tip.wait_for(state="visible")
    assert "step" in tip.inner_text() and "loss" in tip.inner_text()

    # one leaderboard row per optimizer; clicking a header sorts, clicking again reverses
    # (at the last step: the verdict of the whole race; before it, only what has happened)
    scrub(frame, CLI_STEPS)
    assert sorted(order(frame)) == sorted(CLI_OPTIMIZERS)
    # by default rows follow the rank by arrival; on the saddle (no lower bound) leaving the
    # map is an escape, never a divergence, and every status says what happened
    default = dict(zip(order(frame), ranks(frame), strict=True))
    assert ranks(frame) == sorted(ranks(frame)) and ranks(frame)[0] == 1, default
    outcomes = frame.eval_on_selector_all(
        "#race-leaderboard .race-badge", "bs => bs.map(b => [b.dataset.outcome, b.textContent])"
    )
    assert len(outcomes) == len(CLI_OPTIMIZERS), outcomes
    assert "escaped" in {o for o, _ in outcomes} and "diverged" not in {o for o, _ in outcomes}
    assert all(text.startswith(("arrived at step", "escaped at step", "not arrived in"))
               for _, text in outcomes), outcomes  # fmt: skip
    assert frame.locator(".diverged-badge").count() == 0
    # sorting a column that is all dashes (no known minimum) keeps each racer's own rank
    frame.click('#race-leaderboard th[data-key="distance_to_minimum"]')
    assert set(
        frame.eval_on_selector_all(
            '.lb-row td[data-key="distance_to_minimum"]', "cs => cs.map(c => c.dataset.value)"
        )
    ) == {""}
    assert dict(zip(order(frame), ranks(frame), strict=True)) == default
    frame.click('#race-leaderboard th[data-key="final_loss"]')
    ascending = order(frame)
    losses = frame.eval_on_selector_all(
        '.lb-row td[data-key="final_loss"]', "cells => cells.map(c => Number(c.dataset.value))"
    )
    assert losses == sorted(losses), losses
    frame.click('#race-leaderboard th[data-key="final_loss"]')
    assert order(frame) == ascending[::-1]
    frame.click('#race-leaderboard th[data-key="optimizer"]')  # by title: Adam, Momentum, ...
    assert order(frame) == ["adam", "momentum", "rmsprop", "sgd"]
    assert dict(zip(order(frame), ranks(frame), strict=True)) == default  # "#" is the rank
    page.screenshot(path=artifact("race-page-cli.png"))

    # what-if: a new learning rate redraws momentum's path, says so, and reset restores it
    path = '.race-path[data-optimizer="momentum"]'
    logged_d = frame.get_attribute(path, "d")
    lr = '.legend-row[data-optimizer="momentum"] .whatif-lr'
    frame.hover(lr)  # the server has been warming up since the race opened (/warmup)
    frame.fill(lr, "0.02")
    started = time.monotonic()
    frame.wait_for_function(
        "([sel, d]) => document.querySelector(sel).getAttribute('d') !== d",
        arg=[path, logged_d],
        timeout=90_000,
    )
    first = time.monotonic() - started
    assert frame.locator("#race-whatif-banner:not(.race-whatif-idle)").is_visible()
    assert "not the logged" in frame.inner_text('.legend-row[data-optimizer="momentum"]')
    assert frame.locator('.lb-row.lb-whatif[data-optimizer="momentum"]').count() == 1
    whatif_d = frame.get_attribute(path, "d")
    frame.fill(lr, "0.05")
    started = time.monotonic()
    frame.wait_for_function(
        "([sel, d]) => document.querySelector(sel).getAttribute('d') !== d",
        arg=[path, whatif_d],
        timeout=60_000,
    )
    second = time.monotonic() - started
    print(f"\nwhat-if redraw: first {first:.2f} s (server warming up), then {second:.2f} s")
    page.screenshot(path=artifact("race-page-whatif.png"))
    frame.click('.legend-row[data-optimizer="momentum"] .whatif-reset')
    assert frame.get_attribute(path, "d") == logged_d
    # the banner keeps its line (nothing moves) and says every path is a logged run again
    assert frame.locator("#race-whatif-banner.race-whatif-idle").is_visible()
    assert page.errors == []


def test_twelve_racers_ten_thousand_steps_play_smoothly_and_failures_say_why(board, page):
    frame = open_race(page, board, BIG)
    assert frame.locator(".race-path").count() == 12
    assert frame.locator(".lb-row").count() == 12
    # diverged racers are crossed out where they left the map, with a badge
    assert frame.locator('.race-diverged[visibility="visible"]').count() >= 1
    assert frame.locator(".diverged-badge").first.inner_text().startswith("diverged at step")
    points = frame.evaluate("() => window.flowscopeRace.racers.map(r => r.track.totalPoints)")
    assert points == [10_001] * 12
    before = markers(frame)
    stats = frame.evaluate(MEASURE_PLAY)
    print(
        f"\n12 racers x 10,000 steps, 3 s of play: {stats['frames']} frames, frame gap "
        f"p50 {stats['p50']:.1f} ms, p95 {stats['p95']:.1f} ms, max {stats['max']:.1f} ms; "
        f"page work per frame p50 {stats['work_p50']:.2f} ms, p95 {stats['work_p95']:.2f} ms"
    )
    assert stats["frames"] > 1 and 0 < stats["step"] < 10_000
    assert markers(frame) != before
    assert frame.inner_text("#race-play").endswith("Play")  # paused again
    # hiding a racer hides its path and marker
    frame.uncheck('.legend-row[data-optimizer="sgd"] .racer-toggle')
    assert frame.get_attribute('.race-racer[data-optimizer="sgd"]', "visibility") == "hidden"
    page.screenshot(path=artifact("race-page-big.png"))

    # a race whose only racer cannot be read (a future format version) says why
    frame.select_option("#race-picker", "zz-future/sgd")
    message = frame.locator("#race-body .fs-error")
    message.wait_for(timeout=30_000)
    assert "could be read" in message.inner_text() and "version 99" in message.inner_text()
    assert frame.locator(".race-path").count() == 0
    assert page.errors == []


def test_very_long_names_keep_the_page_within_its_frame(board, page):
    frame = open_race(page, board, WIDE)
    frame.wait_for_selector(".race-path")
    width = frame.evaluate(
        "() => ({page: document.documentElement.scrollWidth, frame: window.innerWidth})"
    )
    assert width["page"] <= width["frame"], width
    # names are cut on screen, but the full text stays in the title (a tooltip) ...
    for selector in ("#race-leaderboard .race-name", "#race-legend .race-name"):
        name = frame.locator(selector)
        assert name.get_attribute("title") == WIDE_OPTIMIZER
        assert name.evaluate("e => e.scrollWidth > e.clientWidth")  # ellipsis, not overflow
    assert frame.get_attribute("#race-picker", "title") == WIDE
    assert WIDE_SURFACE in frame.get_attribute("#race-surface-name", "title")
    # ... and the hyper-parameters cell wraps instead of widening the leaderboard
    assert "K" * 2000 in frame.inner_text("#race-leaderboard td.hyper")
    page.screenshot(path=artifact("race-page-long-names.png"))
    assert page.errors == []


def test_a_pytorch_racer_is_drawn_with_its_whatif_off_saying_why(board, page):
    frame = open_race(page, board, TORCH)
    paths = frame.eval_on_selector_all(".race-path", "ps => ps.map(p => p.dataset.optimizer)")
    assert sorted(paths) == ["sgd", ADAMW, ADAMW]
    assert frame.locator(f'.lb-row[data-optimizer="{ADAMW}"]').count() == 2
    # two racers sharing an optimizer: each its own path, colour, marker, line and toggle
    one, two = f"{TORCH}/racer1", f"{TORCH}/racer2"
    path = '.race-path[data-run="{}"]'.format
    line = '.race-loss-path[data-run="{}"]'.format
    assert frame.get_attribute(path(one), "stroke") != frame.get_attribute(path(two), "stroke")
    assert frame.get_attribute(path(one), "d") != frame.get_attribute(path(two), "d")
    assert frame.get_attribute(line(one), "d") != frame.get_attribute(line(two), "d")
    scrub(frame, 0)
    start = markers(frame, "run")
    scrub(frame, 40)
    later = markers(frame, "run")
    assert start[one] == start[two] and later[one] != start[one] and later[two] != start[two]
    assert later[one] != later[two], later
    names = frame.eval_on_selector_all(
        f'.legend-row[data-optimizer="{ADAMW}"] .race-name', "els => els.map(e => e.textContent)"
    )
    assert sorted(names) == [f"{ADAMW} ({one})", f"{ADAMW} ({two})"]
    frame.uncheck(f'.legend-row[data-run="{one}"] .racer-toggle')
    shown = {
        run: [frame.get_attribute(f'{kind}[data-run="{run}"]', "visibility") for kind in
              (".race-racer", ".race-marker", ".race-loss-path")]
        for run in (one, two)
    }  # fmt: skip
    assert shown == {one: ["hidden"] * 3, two: ["visible"] * 3}, shown
    frame.check(f'.legend-row[data-run="{one}"] .racer-toggle')
    assert frame.get_attribute(f'.race-racer[data-run="{one}"]', "visibility") == "visible"
    row = f'.legend-row[data-run="{one}"]'
    lr = frame.locator(f"{row} .whatif-lr")
    assert lr.is_disabled()
    assert lr.get_attribute("title").lower().startswith("what-if can only re-run keras optimizers")
    note = frame.inner_text(f"{row} .whatif-off")  # its hyper-parameters as logged, and why
    assert note.startswith("lr=0.05, weight_decay=0.01") and "only re-run Keras" in note
    # it looks disabled too: greyed, dashed, a not-allowed pointer, the reason on its field
    look = frame.eval_on_selector(
        f"{row} .whatif-field",
        """f => ({opacity: Number(getComputedStyle(f).opacity), title: f.title,
          cursor: getComputedStyle(f.querySelector('input')).cursor,
          border: getComputedStyle(f.querySelector('input[type=text]')).borderStyle})""",
    )
    assert look["opacity"] < 0.8 and look["cursor"] == "not-allowed", look
    assert look["border"] == "dashed" and "Keras" in look["title"], look
    assert frame.locator('.legend-row[data-optimizer="sgd"] .whatif-lr').is_enabled()
    assert frame.locator('.legend-row[data-optimizer="sgd"] .whatif-off').count() == 0
    page.screenshot(path=artifact("race-page-torch.png"))
    assert page.errors == []


# -- issue 17 items 2, 4, 6; issue 15 item 1; issue 14 item 3 -------------------------------

SADDLE = "race-saddle"
CONTROLS = ["#race-play", "#race-speed", "#race-scrubber", "#race-picker", ".fs-language"]


def visible_crosses(frame, layer: str) -> int:
    return frame.eval_on_selector_all(
        f"{layer} .race-diverged",
        "es => es.filter(e => e.getAttribute('visibility') === 'visible').length",
    )


def view(frame) -> list[float]:
    return frame.evaluate("() => window.flowscopeRace.map.view")


def racer_state(frame, optimizer: str) -> dict:
    return frame.evaluate(
        """o => { const r = window.flowscopeRace.racers.find(r => r.optimizer === o);
          return {whatif: r.whatif, stale: r.stale, busy: Boolean(r.inflight),
                  lr: r.track.hyperparameters.learning_rate ?? null}; }""",
        optimizer,
    )


def test_laptop_window_map_zoom_keyboard_theme_and_reload(board, make_page):
    scheme = "light"  # dark at this size: test_chinese_dark_and_the_pseudo_language...
    page = make_page(width=1100, height=700, color_scheme=scheme)
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    frame = open_race(page, board, SADDLE, shell=True)
    # the server warms the what-if up as soon as the race opens (not at TensorBoard's start)
    assert any(f"warmup?race={SADDLE}" in url for url in urls), urls
    # TensorBoard's theme (it follows the system's here), and its switch while open
    parent_dark = page.evaluate("() => document.body.classList.contains('dark-mode')")
    assert parent_dark == (scheme == "dark")
    assert frame.evaluate("() => document.documentElement.dataset.theme") == scheme
    background = frame.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert (background == "rgb(38, 38, 38)") == (scheme == "dark"), background
    assert frame.evaluate("() => window.flowscopeRace.map.theme") == scheme
    page.evaluate("() => document.body.classList.toggle('dark-mode')")
    wait_for(lambda: frame.evaluate("() => window.flowscopeRace.map.theme") != scheme)
    page.evaluate("() => document.body.classList.toggle('dark-mode')")
    wait_for(lambda: frame.evaluate("() => window.flowscopeRace.map.theme") == scheme)

    # every control in view, and still in view at the bottom of the page (sticky)
    for selector in CONTROLS:
        assert in_view(frame, selector), selector
    frame.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    assert frame.evaluate("() => window.scrollY") > 100  # the page did scroll
    for selector in ("#race-play", "#race-scrubber", "#race-step"):
        assert in_view(frame, selector), selector
    frame.evaluate("() => window.scrollTo(0, 0)")
    assert frame.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
    # the loss chart's tick labels are drawn at >= 11 px (never scaled down)
    sizes = frame.eval_on_selector_all(
        "#race-loss-svg .race-tick-label",
        """ts => ts.map(t => { const svg = t.ownerSVGElement;
          const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
          return parseFloat(getComputedStyle(t).fontSize) * scale; })""",
    )
    assert sizes and min(sizes) >= 11, sizes
    # badges fit their cards
    spill = frame.eval_on_selector_all(
        ".race-badge",
        """bs => bs.filter(b => { const c = b.closest('.race-card').getBoundingClientRect();
          const r = b.getBoundingClientRect(); return r.right > c.right || r.left < c.left; })
          .map(b => b.textContent)""",
    )
    assert spill == [], spill

    # axes named; a colour bar with the contour levels
    assert frame.text_content("#race-axis-x") == "x" and frame.text_content("#race-axis-y") == "y"
    levels = frame.evaluate("() => window.flowscopeRace.surface.levels.length")
    assert frame.locator("#race-colorbar .race-colorbar-level").count() == levels > 5
    # escape marks appear when the step reaches them, not before (on the map and the chart)
    scrub(frame, 0)
    assert visible_crosses(frame, "#race-map-overlay") == 0
    assert visible_crosses(frame, "#race-loss-svg") == 0
    scrub(frame, CLI_STEPS)
    assert visible_crosses(frame, "#race-map-overlay") >= 1
    assert visible_crosses(frame, "#race-loss-svg") >= 1
    # markers and marks sit in the layer clipped to the plot (never over the header), a
    # marker's width beyond its edge (an × on the edge shows whole)
    clipped = frame.evaluate(
        """() => { const clip = document.querySelector('#race-overlay-clip rect');
          const frame = document.querySelector('#race-map-svg .race-frame');
          const [c, f] = [clip, frame].map(r => ['x', 'y', 'width', 'height'].map(
            k => Number(r.getAttribute(k))));
          const pad = f[0] - c[0];
          const same = pad > 0 && pad <= 10 && f[1] - c[1] === pad
            && c[2] === f[2] + 2 * pad && c[3] === f[3] + 2 * pad;
          const all = [...document.querySelectorAll(
            '#race-map-overlay .race-marker, #race-map-overlay .race-diverged,'
            + ' .race-minimum, #race-start')];
          return same && all.length > 0 &&
            all.every(e => e.closest('g[clip-path="url(#race-overlay-clip)"]')); }"""
    )
    assert clipped

    # zoom: buttons, wheel, drag to pan (not a seek), fit to paths, whole surface
    whole = view(frame)
    assert frame.locator("#race-zoom-reset").is_disabled()
    frame.click("#race-zoom-in")
    zoomed = view(frame)
    assert zoomed[1] - zoomed[0] == pytest.approx((whole[1] - whole[0]) / 1.5)
    assert frame.locator("#race-zoom-reset").is_enabled()
    box = frame.locator("#race-map-overlay").bounding_box()
    centre = (box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.5)
    page.mouse.move(*centre)
    page.mouse.wheel(0, -400)
    wait_for(lambda: view(frame)[1] - view(frame)[0] < (zoomed[1] - zoomed[0]) * 0.9)
    before, step = view(frame), frame.inner_text("#race-step")
    page.mouse.down()
    page.mouse.move(centre[0] + 60, centre[1] + 40, steps=4)
    page.mouse.up()
    wait_for(lambda: view(frame)[0] < before[0])
    after = view(frame)
    assert after[2] > before[2]  # dragged down: the view moved up
    assert frame.inner_text("#race-step") == step  # a drag is not a click-to-seek
    frame.click("#race-zoom-fit")
    fit = view(frame)
    start = frame.evaluate("() => window.flowscopeRace.surface.start")
    assert fit[0] < start[0] < fit[1] and fit[2] < start[1] < fit[3], (fit, start)
    assert whole[0] - 1e-9 <= fit[0] and fit[1] <= whole[1] + 1e-9
    frame.click("#race-zoom-reset")
    assert view(frame) == whole
    # the focused map pans with the arrow keys, zooms with + and -, 0 shows it whole; the
    # step stays (the page's arrows step only outside the map)
    frame.focus("#race-map-overlay")
    page.keyboard.press("+")
    wait_for(lambda: view(frame)[1] - view(frame)[0] < (whole[1] - whole[0]) * 0.7)
    before, step = view(frame), frame.inner_text("#race-step")
    page.keyboard.press("ArrowRight")
    wait_for(lambda: view(frame)[0] > before[0])
    moved = view(frame)
    assert moved[0] - before[0] == pytest.approx((before[1] - before[0]) * 0.1)
    page.keyboard.press("Shift+ArrowUp")
    wait_for(lambda: view(frame)[2] > moved[2])
    assert view(frame)[2] - moved[2] == pytest.approx((moved[3] - moved[2]) * 0.5)
    assert frame.inner_text("#race-step") == step
    page.keyboard.press("-")
    wait_for(lambda: view(frame)[1] - view(frame)[0] > (before[1] - before[0]) * 1.2)
    page.keyboard.press("0")
    wait_for(lambda: view(frame) == whole)
    label = frame.get_attribute("#race-map-overlay", "aria-label")
    assert "arrow keys pan" in label, label
    frame.click("#race-zoom-in")
    # the linear-regression race names its axes by its parameters, k and b
    frame.select_option("#race-picker", LINEAR)
    frame.wait_for_function("() => document.querySelector('#race-axis-x')?.textContent === 'k'")
    assert frame.text_content("#race-axis-y") == "b"
    assert "f(k, b) =" in frame.get_attribute("#race-surface-name", "title")
    frame.select_option("#race-picker", SADDLE)
    frame.wait_for_function(
        "() => window.flowscopeRace.built && window.flowscopeRace.race.race === 'race-saddle'"
    )

    # keyboard: sortable headers (buttons, aria-sort), arrows step, Space plays and pauses
    header = '#race-leaderboard th[data-key="final_loss"]'
    frame.focus(f"{header} button")
    page.keyboard.press("Enter")
    assert frame.get_attribute(header, "aria-sort") == "ascending"
    page.keyboard.press("Enter")
    assert frame.get_attribute(header, "aria-sort") == "descending"
    frame.click("h1")
    scrub(frame, 40)
    page.keyboard.press("ArrowRight")
    assert "step 41 / 150" in frame.inner_text("#race-step")
    page.keyboard.press("Shift+ArrowLeft")
    assert "step 31 / 150" in frame.inner_text("#race-step")
    page.keyboard.press("Space")
    assert frame.evaluate("() => window.flowscopeRace.playing")
    page.keyboard.press("Space")
    assert not frame.evaluate("() => window.flowscopeRace.playing")
    # the loss chart's hover readout
    chart = frame.locator("#race-loss-overlay").bounding_box()
    page.mouse.move(chart["x"] + chart["width"] * 0.5, chart["y"] + chart["height"] * 0.5)
    frame.locator("#race-loss-tooltip").wait_for(state="visible")
    assert "step" in frame.inner_text("#race-loss-tooltip")
    page.mouse.move(2, 2)

    # the state survives a reload: race, step, zoom, sort, a what-if
    scrub(frame, 37)
    lr = '.legend-row[data-optimizer="momentum"] .whatif-lr'
    frame.fill(lr, "0.02")
    frame.press(lr, "Enter")
    wait_for(lambda: racer_state(frame, "momentum")["lr"] == pytest.approx(0.02), timeout=90)
    saved_view = view(frame)

    def saved() -> bool:  # the page saves 200 ms after the last change (later under load)
        state = frame.evaluate("() => JSON.parse(localStorage.getItem('flowscope.race.state'))")
        whatifs = state["races"][SADDLE]["whatif"].values()
        return state["step"] == 37 and [w["lr"] for w in whatifs] == ["0.02"]

    wait_for(saved)
    page.screenshot(path=artifact(f"race-1100x700-{scheme}.png"))
    frame = open_race(page, board, SADDLE, shell=True)
    wait_for(lambda: racer_state(frame, "momentum")["lr"] == pytest.approx(0.02), timeout=90)
    assert "step 37 / 150" in frame.inner_text("#race-step")
    assert view(frame) == pytest.approx(saved_view)
    assert frame.input_value(lr) == "0.02"
    assert frame.get_attribute(header, "aria-sort") == "descending"
    wait_for(lambda: frame.locator("#race-whatif-banner:not(.race-whatif-idle)").is_visible())
    assert page.errors == []


# Every /whatif fetch of the page: when it started and ended, and whether it was aborted.
WATCH_WHATIFS = """
window.__whatifs = [];
const fetchOriginal = window.fetch;
window.fetch = function (url, init) {
  const answer = fetchOriginal.apply(this, arguments);
  if (String(url).includes('whatif?')) {
    const record = {start: performance.now(), end: null, aborted: false};
    window.__whatifs.push(record);
    const end = (err) => {
      record.end = performance.now();
      record.aborted = err?.name === 'AbortError';
    };
    answer.then(() => end(null), end);
  }
  return answer;
};
"""


def test_whatif_sliders_follow_the_drag_drop_superseded_values_and_reject_bad_ones(board, page):
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.add_init_script(WATCH_WHATIFS)

    def most_at_once() -> int:
        """The most /whatif requests that ran to the end at the same time, timed in the page
        (an aborted one was dropped)."""
        return frame.evaluate(
            """() => { const done = window.__whatifs.filter(r => !r.aborted && r.end !== null);
              return Math.max(0, ...done.map(a => done.filter(
                b => b.start <= a.start && a.start < b.end).length)); }"""
        )

    frame = open_race(page, board, SADDLE)
    row = '.legend-row[data-optimizer="momentum"]'
    path = '.race-path[data-optimizer="momentum"]'
    logged = frame.get_attribute(path, "d")
    # one value first (the server warms up meanwhile), then a drag of 40 slider values
    frame.fill(f"{row} .whatif-lr", "0.03")
    frame.press(f"{row} .whatif-lr", "Enter")
    wait_for(lambda: racer_state(frame, "momentum")["lr"] == pytest.approx(0.03), timeout=90)
    assert frame.get_attribute(path, "d") != logged
    sent = len([u for u in urls if "/whatif?" in u])
    values = [-2.5 + 0.03 * k for k in range(40)]  # log10 of the learning rate
    frame.eval_on_selector(
        f"{row} .whatif-lr-slider",
        """async (slider, values) => {
          for (const v of values) {
            slider.value = String(v);
            slider.dispatchEvent(new Event('input'));
            await new Promise(r => setTimeout(r, 3));
          }
          slider.dispatchEvent(new Event('change'));
        }""",
        values,
    )
    final = float(f"{10 ** values[-1]:.4g}")
    assert frame.input_value(f"{row} .whatif-lr") == f"{final:.4g}"
    wait_for(lambda: racer_state(frame, "momentum")["lr"] == pytest.approx(final), timeout=60)
    wait_for(lambda: not racer_state(frame, "momentum")["busy"])
    drag = len([u for u in urls if "/whatif?" in u]) - sent
    # one request at a time, superseded values dropped (never queued): fewer requests than
    # slider values, the last one drawn
    assert 1 <= drag < len(values) and most_at_once() == 1, (drag, most_at_once())
    assert f"lr={final:.4g}" in frame.inner_text('.lb-row[data-optimizer="momentum"] td.hyper')
    assert f"lr={final:.4g}" in frame.inner_text(f"{row} .whatif-note")
    # the momentum slider moves its input (on a log scale of 1 - momentum: 1 is 0.9)
    frame.eval_on_selector(
        f"{row} .whatif-momentum-slider",
        "s => { s.value = '1'; s.dispatchEvent(new Event('input')); }",
    )
    assert frame.input_value(f"{row} .whatif-momentum") == "0.9"
    wait_for(lambda: not racer_state(frame, "momentum")["busy"], timeout=60)

    # bad values: a plain message, nothing sent, the shown what-if marked as outdated
    for bad in ("0", "-1", "1e9", "abc"):
        before = len([u for u in urls if "/whatif?" in u])
        frame.fill(f"{row} .whatif-lr", bad)
        frame.press(f"{row} .whatif-lr", "Enter")
        note = frame.locator(f"{row} .whatif-note.whatif-error")
        note.wait_for()
        assert "must be a number" in note.inner_text() and bad in note.inner_text()
        assert frame.get_attribute(f"{row} .whatif-lr", "aria-invalid") == "true"
        assert frame.locator('.lb-row.lb-stale[data-optimizer="momentum"]').count() == 1
        assert "outdated" in frame.inner_text('.lb-row[data-optimizer="momentum"]')
        assert "not for the values typed" in frame.inner_text("#race-whatif-banner")
        assert racer_state(frame, "momentum")["stale"]
        page.wait_for_timeout(350)  # past the typing delay: still nothing sent
        assert len([u for u in urls if "/whatif?" in u]) == before, bad
    page.screenshot(path=artifact("race-whatif-bad-value.png"))
    # a good value clears it
    frame.fill(f"{row} .whatif-lr", "0.02")
    frame.press(f"{row} .whatif-lr", "Enter")
    wait_for(lambda: racer_state(frame, "momentum")["lr"] == pytest.approx(0.02), timeout=60)
    assert not racer_state(frame, "momentum")["stale"]
    assert frame.locator(".lb-row.lb-stale").count() == 0
    assert frame.get_attribute(f"{row} .whatif-lr", "aria-invalid") is None
    frame.click(f"{row} .whatif-reset")
    assert frame.get_attribute(path, "d") == logged
    assert page.errors == []


def test_chinese_dark_and_the_pseudo_language_at_laptop_size(board, make_page):
    page = make_page(width=1400, height=1000, locale="zh-CN", color_scheme="dark")
    frame = open_race(page, board, SADDLE)
    assert frame.inner_text("h1") == "优化器竞赛"
    assert "播放" in frame.inner_text("#race-play")
    assert frame.inner_text("#race-step") == "第 150 / 150 步"
    assert frame.inner_text('#race-leaderboard th[data-key="final_loss"]').startswith("最终损失")
    assert "逃逸" in frame.inner_text("#race-leaderboard")
    assert frame.eval_on_selector(".fs-language", "s => s.value") == "zh"
    assert frame.evaluate("() => document.documentElement.dataset.theme") == "dark"
    assert frame.evaluate("() => window.flowscopeRace.map.theme") == "dark"
    page.mouse.move(2, 2)
    page.screenshot(path=artifact("race-zh-CN-dark.png"))
    assert page.errors == []

    # en-XA: every label comes from the table (pseudo marks); nothing overflows at 1100 x 700
    page = make_page(width=1100, height=700, color_scheme="dark")
    page.add_init_script("localStorage.setItem('flowscope.lang', 'en-XA')")
    frame = open_race(page, board, SADDLE)
    data = set(frame.evaluate(
        """() => { const app = window.flowscopeRace;
          return [app.race.race, ...app.racers.map(r => r.title), ...app.map.axisLabels]; }"""
    ))  # fmt: skip
    number = re.compile(r"^[-−+]?[\d.,eE×∞–—+-]*$")  # numbers and symbols stay as they are
    hyper = re.compile(r"^(lr|momentum|rho|beta_\d|epsilon|[a-z_]+)=")  # logged hyper-parameters
    unmarked = [s for s in visible_texts(frame, "race-page")
                if "⟦" not in s and s not in data and not number.match(s) and not hyper.match(s)
                and s not in ("▲", "▼", "+", "−", "English", "中文")]  # fmt: skip
    assert unmarked == [], unmarked
    overflow = frame.evaluate(
        """() => [...document.querySelectorAll(
          '#race-controls label, #race-controls button, .race-card h2, #race-leaderboard th,'
          + ' .race-zoom button, .whatif-field, .race-legend-name, .legend-line')]
          .filter((e) => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).textOverflow
            !== 'ellipsis').map((e) => e.textContent)"""
    )
    assert overflow == [], overflow
    wide = frame.evaluate(
        """() => [...document.querySelectorAll('.race-card, #race-controls, .race-header')]
          .filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.id || e.className)"""
    )
    assert wide == [], wide
    assert frame.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
    for selector in CONTROLS:
        assert in_view(frame, selector), selector
    frame.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    for selector in ("#race-play", "#race-scrubber", "#race-step"):
        assert in_view(frame, selector), selector
    frame.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=artifact("race-en-XA-1100-dark.png"))
    assert page.errors == []


# The map as drawn: the plot's side against its card's width, every layer's size, whether
# the canvases hold a drawing, the paths, the markers' places in the plot (fractions of its
# side), what sticks out of the card, the horizontal scroll; and the loss chart's width
# against its card's.
MAP_GEOMETRY = """() => {
  const m = window.flowscopeRace.map, M = m.M;
  const card = document.querySelector('#race-map-card');
  const width = (c) => { const style = getComputedStyle(c);
    return c.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight); };
  const inner = width(card);
  const box = card.getBoundingClientRect();
  const spill = [...card.querySelectorAll('#race-map, #race-map *:not(#race-map-svg *,'
      + ' #race-map-paths *, #race-map-overlay *), #race-colorbar, .race-axes')]
    .filter(e => { const r = e.getBoundingClientRect();
      return r.width && (r.left < box.left - 0.5 || r.right > box.right + 0.5); })
    .map(e => e.id || e.getAttribute('class'));
  const inked = (c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; };
  const num = (sel, attr) => [...document.querySelectorAll(sel)].map(e => +e.getAttribute(attr));
  return {
    plot: m.plot, want: Math.min(500, Math.floor(inner - M.left - M.right)), view: m.view,
    relayouts: m.relayouts,
    loss: [window.flowscopeRace.loss.width, width(document.querySelector('#race-loss-card'))],
    svgs: [m.svg, m.pathsSvg, m.overlay].map((e) => +e.getAttribute('width')).concat(m.width),
    canvas: [m.canvas.width, m.canvas.height, m.canvas.getBoundingClientRect().width],
    trails: [m.trails.width / m.ratio, m.trails.getBoundingClientRect().width],
    rects: num('#race-map-clip rect, #race-paths-clip rect, #race-overlay-clip rect,'
      + ' .race-overlay-hit, #race-map-svg .race-frame, .race-colorbar-bar', 'height'),
    inked: [inked(m.canvas), inked(m.trails)],
    paths: [...document.querySelectorAll('#race-map-paths .race-path')]
      .map(p => (p.getAttribute('d').match(/L/g) || []).length),
    markers: [...m.views.values()].flatMap(v => [(+v.marker.getAttribute('cx') - M.left) / m.plot,
      (+v.marker.getAttribute('cy') - M.top) / m.plot]),
    spill, scroll: document.documentElement.scrollWidth - innerWidth,
    stacked: document.querySelector('.race-side').getBoundingClientRect().top >= box.bottom,
  };
}"""


IFRAME = 'iframe[src*="name=optimizer_race"]'
# The data point at a place of the map (px in the map's own coordinates).
DATA_AT = (
    "([x, y]) => [window.flowscopeRace.map.sx.invert(x), window.flowscopeRace.map.sy.invert(y)]"
)


def settled_map(frame) -> dict:
    """The map's geometry once both charts fit their cards and the map has stopped
    re-laying itself out."""
    deadline = time.monotonic() + 10

    def fits(g: dict) -> bool:
        return g["plot"] == g["want"] and abs(g["loss"][0] - g["loss"][1]) <= 2

    while not fits(first := frame.evaluate(MAP_GEOMETRY)):
        assert time.monotonic() < deadline, first  # the plot fills its card (up to 500 px)
        time.sleep(0.1)
    time.sleep(0.3)  # a re-layout loop would show as more re-layouts meanwhile
    again = frame.evaluate(MAP_GEOMETRY)
    assert again["relayouts"] == first["relayouts"], (first, again)
    return again


def assert_map_fits(geo: dict, markers: list, zoomed: list) -> None:
    plot = geo["plot"]
    assert geo["svgs"] == [plot + 138] * 4, geo  # 52 px of y axis, 86 of colour bar
    assert geo["canvas"] == [plot, plot, plot], geo
    assert geo["trails"] == [plot, plot], geo
    # the map's and the paths' clip paths, the hit area, frame and colour bar; the markers'
    # clip path is a marker wider on each side (map.js MARK_PAD: an × on the plot's edge
    # shows whole)
    assert sorted(geo["rects"]) == [plot] * 5 + [plot + 18], geo
    assert geo["inked"][0] == plot * plot and geo["inked"][1] > 0, geo  # repainted, not blank
    assert len(geo["paths"]) == len(CLI_OPTIMIZERS) and min(geo["paths"]) > 10, geo
    assert geo["markers"] == pytest.approx(markers, abs=2e-3)  # same places in the plot
    assert geo["view"] == zoomed  # the zoom and pan are kept
    assert geo["spill"] == [] and geo["scroll"] <= 0, geo


def test_the_map_follows_a_resize_of_the_window_and_the_iframe(board, make_page):
    page = make_page(width=1400, height=1000)
    # errors reported to the window without an exception (page.errors misses them), e.g.
    # "ResizeObserver loop completed with undelivered notifications"
    page.add_init_script(
        "window.__errors = []; addEventListener('error', e => __errors.push(e.message));"
    )
    frame = open_race(page, board, SADDLE, shell=True)
    scrub(frame, 60)
    frame.click("#race-zoom-in")
    box = frame.locator("#race-map-overlay").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.4 + 50, box["y"] + box["height"] * 0.5 + 30)
    page.mouse.up()
    wait_for(lambda: view(frame)[0] < -1.0 - 0.1)  # zoomed in (x from -1) and panned
    page.mouse.move(2, 2)
    zoomed = view(frame)
    start = settled_map(frame)
    assert start["plot"] == 500
    assert_map_fits(start, start["markers"], zoomed)
    relayouts = start["relayouts"]
    # the window shrinks (a laptop) and grows back; then TensorBoard's iframe alone narrows,
    # to where the side cards go under the map (860 px)
    resizes = [("window", 1100, 700), ("window", 1400, 1000), ("iframe", 900, 1000)]
    for what, width, height in [*resizes, ("iframe", 700, 1000)]:
        if what == "window":
            page.set_viewport_size({"width": width, "height": height})
        else:
            page.eval_on_selector(IFRAME, "(f, w) => { f.style.width = `${w}px`; }", width)
        geo = settled_map(frame)
        page.screenshot(path=artifact(f"race-resize-{what}-{width}x{height}.png"))
        assert frame.evaluate("() => innerWidth") == width
        assert geo["stacked"] == (width < 860), geo
        if width in (1400, 700):  # wide, or alone in its row
            assert geo["plot"] == 500, geo
        else:
            assert geo["plot"] < 450, (what, width, geo)  # smaller: the side column keeps its room
        assert_map_fits(geo, start["markers"], zoomed)
        assert geo["relayouts"] == relayouts + 1, geo  # one re-layout per resize
        relayouts = geo["relayouts"]
    assert frame.evaluate("() => window.__errors") == []
    assert page.errors == []


def test_a_touch_pinch_zooms_the_map_around_the_fingers(board, make_page):
    page = make_page(width=1400, height=1000, has_touch=True)
    frame = open_race(page, board, SADDLE)
    whole, step = view(frame), frame.inner_text("#race-step")
    left, top, plot = frame.evaluate("() => { const m = window.flowscopeRace.map;"
                                     " return [m.M.left, m.M.top, m.plot]; }")  # fmt: skip
    box = frame.locator("#race-map-overlay").bounding_box()
    # two fingers either side of a point off the plot's centre, (30 %, 60 %) of its side
    fx, fy = left + 0.3 * plot, top + 0.6 * plot
    point = frame.evaluate(DATA_AT, [fx, fy])
    cdp = page.context.new_cdp_session(page)

    def pinch(*spreads: float) -> None:
        """Touch down with two fingers `spreads[0]` px apart, move them to each next spread."""
        for k, spread in enumerate(spreads):
            points = [{"x": box["x"] + fx + s * spread / 2, "y": box["y"] + fy, "id": i}
                      for i, s in enumerate((-1, 1))]  # fmt: skip
            kind = "touchStart" if k == 0 else "touchMove"
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

    pinch(60, 80, 100, 120)  # fingers apart: zoom in, twice
    wait_for(lambda: view(frame)[1] - view(frame)[0] < (whole[1] - whole[0]) * 0.75)
    zoomed = view(frame)
    assert zoomed[1] - zoomed[0] == pytest.approx((whole[1] - whole[0]) / 2)
    assert zoomed[3] - zoomed[2] == pytest.approx((whole[3] - whole[2]) / 2)
    assert frame.evaluate(DATA_AT, [fx, fy]) == pytest.approx(point)  # still between the fingers
    assert frame.inner_text("#race-step") == step  # a pinch is not a click-to-seek
    pinch(120, 90, 60)  # fingers together: zoom out, back to the whole surface
    wait_for(lambda: view(frame)[1] - view(frame)[0] > (zoomed[1] - zoomed[0]) * 1.5)
    assert view(frame) == pytest.approx(whole)
    cdp.detach()
    assert page.errors == []
