"""Browser timing for `flowscope bench serve`: both pages in headless Chromium.

Playwright is a test tool, imported only inside `chromium()`, so `flowscope bench serve
--no-browser` (and everything else that imports the benchmark) runs without it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from demo_models.bench.serve_logs import MATRIX_TAG
from demo_models.bench.stats import nearest_rank
from demo_models.bench.tensorboard import TensorBoardProcess
from summaries.format import CONFUSION_PLUGIN as CONFUSION
from summaries.format import RACE_PLUGIN as RACE

# The browser users run: what the benchmarks (`bench serve`, `bench race`) time pages in.
CHROMIUM = os.environ.get("FLOWSCOPE_CHROMIUM", "/usr/bin/chromium")
# The test suite's browser: Debian's headless shell of the same Chromium build (package
# chromium-headless-shell; Playwright's own choice for headless runs). Same Blink and V8
# without the full browser's windowing layers: the suite's pages take about a third less CPU
# in it (docs/development.md, "Tests").
HEADLESS_SHELL = os.environ.get("FLOWSCOPE_TEST_CHROMIUM", "/usr/bin/chromium-headless-shell")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

# Polls (every animation frame) until `check()` is true; resolves with ms since `t0`.
_UNTIL = """
(check, t0, limit) => new Promise((resolve, reject) => {
  const tick = () => {
    let ok = false;
    try { ok = check(); } catch (err) { ok = false; }
    if (ok) return resolve(performance.now() - t0);
    if (performance.now() - t0 > limit) return reject(new Error("timed out"));
    requestAnimationFrame(tick);
  };
  tick();
})
"""

RACE_READY = """
(race) => {
  const app = window.flowscopeRace;
  return Boolean(app && app.race && app.race.race === race && app.board &&
    !document.getElementById('race-controls').hidden &&
    document.querySelectorAll('#race-leaderboard-card .lb-row').length >= app.racers.length);
}
"""


@contextlib.contextmanager
def chromium(executable: str = CHROMIUM) -> Iterator[Any]:
    """Headless Debian Chromium (`executable`) driven by Playwright, closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def confusion_key(run: str) -> str:
    """The Confusion page's run picker value for `run`'s matrix."""
    return json.dumps([run, MATRIX_TAG], separators=(",", ":"))


def confusion_ready(positions: int = 1) -> str:
    """JS predicate: the Confusion page shows run `key` with `positions` heatmaps, loaded."""
    return (
        "(key) => document.getElementById('cm-run')?.value === key && "
        f"document.querySelectorAll('svg.cm-heatmap').length >= {positions} && "
        "!document.querySelector('#cm-maps .cm-loading')"
    )


def _frame(page, board: TensorBoardProcess, plugin: str, timeout_ms: int = 120_000):
    """Open TensorBoard on a plugin's tab; return (frame, ms from navigation to the frame)."""
    start = time.perf_counter()
    page.goto(f"{board.url}/#{plugin}", wait_until="domcontentloaded")
    handle = page.wait_for_selector(f'iframe[src*="name={plugin}"]', timeout=timeout_ms)
    return handle.content_frame(), 1e3 * (time.perf_counter() - start)


def select_ms(frame, selector: str, value: str, ready_js: str, arg: Any) -> float:
    """ms from changing a <select> until the page shows the choice (in-page clock)."""
    script = f"""
    async ([value, arg]) => {{
      const ready = {ready_js};
      const until = {_UNTIL};
      const t0 = performance.now();
      const select = document.querySelector({json.dumps(selector)});
      select.value = value;
      select.dispatchEvent(new Event('change'));
      await new Promise((r) => setTimeout(r, 0));
      return until(() => ready(arg), t0, 300000);
    }}"""
    return float(frame.evaluate(script, [value, arg]))


def slide_ms(frame, selector: str, moves: int = 12) -> list[float]:
    """ms per slider move until two animation frames later (input handled and painted)."""
    script = f"""
    async (moves) => {{
      const slider = document.querySelector({json.dumps(selector)});
      const max = Number(slider.max), out = [];
      for (let i = 0; i < moves; i++) {{
        const t0 = performance.now();
        slider.value = String(Math.round(max * ((i * 7) % moves) / moves));
        slider.dispatchEvent(new Event('input'));
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        out.push(performance.now() - t0);
      }}
      return out;
    }}"""
    return [float(v) for v in frame.evaluate(script, moves)]


def open_pages(
    browser: Any, board: TensorBoardProcess, first_race: str, confusion_run: str
) -> dict[str, Any]:
    """Open both Flowscope pages (each in its own tab); time their first render."""
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    errors: list[str] = []
    result: dict[str, Any] = {"context": context, "errors": errors}
    for name, plugin in (("race", RACE), ("confusion", CONFUSION)):
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.bring_to_front()
        frame, shell_ms = _frame(page, board, plugin)
        if name == "race":
            frame.wait_for_function(RACE_READY, arg=first_race, timeout=180_000, polling="raf")
        else:
            frame.wait_for_function(
                confusion_ready(),
                arg=confusion_key(confusion_run),
                timeout=180_000,
                polling="raf",
            )
        result[name] = {
            "page": page,
            "frame": frame,
            "shell_ms": shell_ms,
            "render_ms": float(frame.evaluate("performance.now()")),
        }
    return result


# ms from one what-if slider move until the racer's path is redrawn and painted: the input
# event, the /whatif request, the answer drawn (the page's redrawRacer for that racer) and the
# next frame.
_WHATIF_REDRAW = """
async ([slider, optimizer, values]) => {
  const app = window.flowscopeRace;
  const racer = app.racers.find((r) => r.optimizer === optimizer);
  const input = document.querySelector(slider);
  const redraw = app.redrawRacer.bind(app);
  const out = [];
  try {
    for (const v of values) {
      const drawn = new Promise((resolve, reject) => {
        app.redrawRacer = (r) => { redraw(r); if (r === racer && r.whatif) resolve(); };
        setTimeout(() => reject(new Error(`no redraw for ${v}`)), 30000);
      });
      const t0 = performance.now();
      input.value = String(v);
      input.dispatchEvent(new Event('input'));
      input.dispatchEvent(new Event('change'));
      await drawn;
      await new Promise((r) => requestAnimationFrame(r));
      out.push(performance.now() - t0);
    }
  } finally {
    app.redrawRacer = redraw;
  }
  return out;
}
"""


def race_whatif_ms(logdir: Path, race: str, optimizer: str, rounds: int = 20) -> dict[str, Any]:
    """Median input -> redrawn path (ms) of the race page's learning-rate slider for one
    racer, on a TensorBoard over `logdir` warmed up by the page itself (its /warmup, then
    two what-ifs); each round moves the slider to a learning rate not asked before (between
    a tenth of the logged rate and three times it)."""
    import statistics

    board = TensorBoardProcess(logdir)
    try:
        with chromium() as browser:
            page = browser.new_context(viewport={"width": 1400, "height": 950}).new_page()
            frame, _ = _frame(page, board, RACE)
            frame.wait_for_function(RACE_READY, arg=race, timeout=180_000, polling="raf")
            if frame.eval_on_selector("#race-picker", "s => s.value") != race:
                select_ms(frame, "#race-picker", race, RACE_READY, race)
            row = f'.legend-row[data-optimizer="{optimizer}"]'
            slider = f"{row} .whatif-lr-slider"
            # from a tenth of the logged rate to three times it: paths that differ
            logged = float(frame.get_attribute(slider, "value"))
            start = time.perf_counter()
            warm = frame.evaluate(_WHATIF_REDRAW, [slider, optimizer, [logged - 0.3, logged - 0.2]])
            first_s = time.perf_counter() - start
            values = [logged - 1 + 1.5 * k / max(1, rounds - 1) for k in range(rounds)]
            times = frame.evaluate(_WHATIF_REDRAW, [slider, optimizer, values])
    finally:
        board.stop()
    return {
        "rounds": rounds,
        "median_ms": statistics.median(times),
        "p90_ms": nearest_rank(sorted(times), 90),
        "min_ms": min(times),
        "max_ms": max(times),
        "first_two_ms": warm,
        "first_two_s": first_s,
    }
