"""The Optimizer Race page in headless Chromium, on a race written by `flowscope race`.

One TensorBoard serves two races: a small one from the real CLI (4 Keras optimizers on the
saddle) and a big one written here (12 racers x 10,000 steps) for the smoothness check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, TensorBoard, artifact, open_plugin_tab, wait_for
from test_race_routes import heavy_ball, write_big_race

from summaries import pb
from summaries import race as race_summaries

pytestmark = pytest.mark.browser

PLUGIN = "optimizer_race"
BIG = "tenk"  # races are listed by name: the CLI's "race-saddle" comes first, then this
CLI_OPTIMIZERS = ["sgd", "momentum", "rmsprop", "adam"]
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
    write_wide_race(logdir)
    write_unreadable_race(logdir)
    write_torch_race(logdir)
    board = TensorBoard(logdir, load_fast=True)
    try:
        output = cli.communicate(timeout=300)[0].decode(errors="replace")
        assert cli.returncode == 0, output
        wait_for(lambda: len(board.plugin(PLUGIN, "races")["races"]) == 5, timeout=60)
        yield board
    finally:
        board.stop()


def open_race(page, board, race: str):
    frame = open_plugin_tab(page, board, PLUGIN, "Optimizer Race")
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
    frame = open_race(page, board, "race-saddle")
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
            '.lb-row td[data-key="distance_to_minimum"]', "cs => cs.map(c => c.textContent)"
        )
    ) == {"–"}
    assert dict(zip(order(frame), ranks(frame), strict=True)) == default
    frame.click('#race-leaderboard th[data-key="final_loss"]')
    ascending = order(frame)
    losses = frame.eval_on_selector_all(
        '.lb-row td[data-key="final_loss"]', "cells => cells.map(c => Number(c.textContent))"
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
    frame.hover(lr)  # warms the server's optimizer up
    frame.fill(lr, "0.02")
    started = time.monotonic()
    frame.wait_for_function(
        "([sel, d]) => document.querySelector(sel).getAttribute('d') !== d",
        arg=[path, logged_d],
        timeout=90_000,
    )
    first = time.monotonic() - started
    assert frame.is_visible("#race-whatif-banner")
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
    assert not frame.is_visible("#race-whatif-banner")
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
    assert lr.get_attribute("title").startswith("what-if can only re-run Keras optimizers")
    note = frame.inner_text(f"{row} .whatif-off")  # its hyper-parameters as logged, and why
    assert note.startswith("lr=0.05, weight_decay=0.01") and "only re-run Keras" in note
    assert frame.locator('.legend-row[data-optimizer="sgd"] .whatif-lr').is_enabled()
    assert frame.locator('.legend-row[data-optimizer="sgd"] .whatif-off').count() == 0
    page.screenshot(path=artifact("race-page-torch.png"))
    assert page.errors == []
