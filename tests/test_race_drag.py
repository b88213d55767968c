"""Dragging a what-if slider draws from the racer's family (no request per input event),
says that the path is an approximation, and the exact path replaces it on release."""

from __future__ import annotations

import contextlib
import io
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest
from conftest import TensorBoard, open_plugin_tab, wait_for

from demo_models.race import cli

PLUGIN = "optimizer_race"
RACE = "race-rosenbrock"
ROW = '.legend-row[data-optimizer="momentum"]'
PATH = '.race-path[data-optimizer="momentum"]'

# Moves a slider through `values`, one input event per animation frame; after each, what
# the page shows: the path's `d`, the racer's note and whether its track is approximate.
DRAG = """async ([slider, values]) => {
  const input = document.querySelector(slider);
  const app = window.flowscopeRace;
  const racer = app.racers.find((r) => r.optimizer === 'momentum');
  const seen = [];
  for (const v of values) {
    input.value = String(v);
    input.dispatchEvent(new Event('input'));
    await new Promise((r) => requestAnimationFrame(r));
    const note = document.querySelector('.legend-row[data-optimizer="momentum"] .whatif-note');
    seen.push({d: document.querySelector('.race-path[data-optimizer="momentum"]').getAttribute('d'),
               approx: Boolean(racer.approx && racer.track.approx), note: note.textContent,
               noteApprox: note.classList.contains('whatif-approx'),
               banner: document.querySelector('#race-whatif-banner').textContent});
  }
  return seen;
}"""


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("race-drag") / "logs"
    argv = ["--logdir", str(logdir), "--surfaces", "rosenbrock", "--steps", "300"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main([*argv, "--optimizers", "sgd", "momentum", "adam"]) == 0
    board = TensorBoard(logdir, load_fast=True)
    try:
        wait_for(lambda: len(board.plugin(PLUGIN, "races")["races"]) == 1, timeout=60)
        yield board
    finally:
        board.stop()


def whatif_requests(urls: list[str]) -> int:
    return len([u for u in urls if "/whatif?" in u])


def test_drag_draws_from_the_family_then_the_exact_path_replaces_it(board, page):
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    frame = open_plugin_tab(page, board, PLUGIN, "Optimizer Race", shell=False)
    frame.wait_for_selector("#race-leaderboard .lb-row", timeout=60_000)
    logged = frame.get_attribute(PATH, "d")
    # the page loads every re-runnable racer's family after its first paint
    frame.wait_for_function(
        """() => { const app = window.flowscopeRace;
          return app && app.racers.filter((r) => r.rerunnable)
            .every((r) => app.families.has(r.id)); }""",
        timeout=240_000,
        polling=250,
    )
    assert any("/family?" in u for u in urls) and any("/warmup?" in u for u in urls)
    slider = f"{ROW} .whatif-lr-slider"
    start = float(frame.get_attribute(slider, "value"))
    values = [start - 1.513 + 0.05 * k for k in range(40)]  # log10 lr, never the logged
    before = whatif_requests(urls)
    seen = frame.evaluate(DRAG, [slider, values])
    # every input redrew the path from the family, said so, and sent nothing
    assert whatif_requests(urls) == before
    assert all(s["approx"] and s["noteApprox"] for s in seen), seen[0]
    assert "approximate" in seen[-1]["note"] and "release" in seen[-1]["note"]
    assert "approximate" in seen[-1]["banner"]
    paths = [s["d"] for s in seen]
    assert logged not in paths and len(set(paths)) > len(values) // 2
    # release: one request, the exact path replaces the approximation visibly
    frame.eval_on_selector(slider, "s => s.dispatchEvent(new Event('change'))")
    note = frame.locator(f"{ROW} .whatif-note")
    frame.wait_for_function(
        """() => { const r = window.flowscopeRace.racers.find((r) => r.optimizer === 'momentum');
          return r.whatif && !r.approx && !r.inflight; }""",
        timeout=60_000,
    )
    assert whatif_requests(urls) == before + 1
    assert "approximate" not in note.inner_text() and "what-if:" in note.inner_text()
    assert frame.locator(f"{ROW}.whatif-approx-row").count() == 0
    assert "approximate" not in frame.inner_text("#race-whatif-banner")
    final = frame.input_value(f"{ROW} .whatif-lr")  # the slider's last (quantised) value
    assert f"lr={final}" in note.inner_text()
    # the momentum slider draws from the family too; a typed value asks for the exact path
    mom = f"{ROW} .whatif-momentum-slider"
    seen = frame.evaluate(DRAG, [mom, [0.3, 0.6, 1.2, 1.8]])
    assert all(s["approx"] for s in seen) and whatif_requests(urls) == before + 1
    frame.fill(f"{ROW} .whatif-lr", "0.0007")
    frame.press(f"{ROW} .whatif-lr", "Enter")
    frame.wait_for_function(
        """() => { const r = window.flowscopeRace.racers.find((r) => r.optimizer === 'momentum');
          return !r.approx && !r.inflight && r.track.hyperparameters.learning_rate === 0.0007; }""",
        timeout=60_000,
    )
    assert whatif_requests(urls) == before + 2
    assert "approximate" not in note.inner_text()
    frame.click(f"{ROW} .whatif-reset")
    assert frame.get_attribute(PATH, "d") == logged
    assert page.errors == []


# After a drag at the shown step: what the incremental redraw drew (the trails from the
# cache around the dragged racer, one loss line, the leaderboard rows kept) against the same
# drawn from scratch; and how many trails each slider value stroked.
REDRAWN_AS_FROM_SCRATCH = """async ([slider, values]) => {
  const app = window.flowscopeRace, map = app.map;
  const input = document.querySelector(slider);
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  let strokes = 0;
  const trail = map._trail;
  map._trail = function (...args) { strokes++; return trail.apply(this, args); };
  const perValue = [];
  for (const v of values) {
    strokes = 0;
    input.value = String(v);
    input.dispatchEvent(new Event('input'));
    perValue.push(strokes);
    await frame();
  }
  map._trail = trail;
  const { width, height } = map.trails;
  const pixels = () => map.trails.getContext('2d').getImageData(0, 0, width, height).data;
  const lines = () => [...document.querySelectorAll('.race-loss-path')]
    .map((p) => p.getAttribute('d'));
  const incremental = { pixels: pixels(), lines: lines(), table: app.board.body.innerHTML };
  map.trailsRev++; // every trail stroked anew
  map.setStep(app.step);
  app.loss.setRacers(app.drawable(), app.maxStep);
  app.board.body.replaceChildren();
  app.board.refresh();
  const scratch = pixels();
  let differ = 0, inked = 0;
  for (let i = 0; i < scratch.length; i += 4) {
    if (scratch[i + 3]) inked++;
    const far = [0, 1, 2, 3].some((c) => Math.abs(scratch[i + c] - incremental.pixels[i + c]) > 8);
    if (far) differ++;
  }
  return { perValue, differ, inked, lines: lines().every((d, k) => d === incremental.lines[k]),
    table: app.board.body.innerHTML === incremental.table };
}"""

LAYERS = """() => {
  const stage = document.querySelector('.race-map-stage');
  const layer = (e) => getComputedStyle(e).willChange;
  return {
    order: [...stage.children].map((e) => e.id || e.getAttribute('class')),
    contours: document.querySelectorAll('#race-map-svg .race-contour').length,
    paths: document.querySelectorAll('#race-map-paths .race-path').length,
    strayPaths: document.querySelectorAll('#race-map-svg .race-path').length,
    layers: ['#race-map-svg', '#race-map-paths', '.race-trails', '#race-map-overlay',
      '#race-loss-svg'].map((s) => layer(document.querySelector(s))),
  };
}"""


def test_a_drag_strokes_one_trail_and_draws_what_a_full_redraw_draws(board, page):
    frame = open_plugin_tab(page, board, PLUGIN, "Optimizer Race", shell=False)
    frame.wait_for_selector("#race-leaderboard .lb-row", timeout=60_000)
    frame.wait_for_function(
        """() => { const app = window.flowscopeRace;
          return app && app.racers.filter((r) => r.rerunnable)
            .every((r) => app.families.has(r.id)); }""",
        timeout=240_000,
        polling=250,
    )
    # the layers, bottom to top: contours, full paths, trails, markers (each its own layer)
    layers = frame.evaluate(LAYERS)
    assert layers["order"][:5] == [
        "race-map-canvas",
        "race-map-svg",
        "race-map-paths",
        "race-trails",
        "race-map-overlay",
    ], layers
    assert layers["contours"] > 5 and layers["paths"] == 3 and layers["strayPaths"] == 0, layers
    assert layers["layers"] == ["transform"] * 5, layers
    slider = f"{ROW} .whatif-lr-slider"
    start = float(frame.get_attribute(slider, "value"))
    for step in (None, 120):  # at the race's end, then mid-race
        if step is not None:
            frame.evaluate("s => window.flowscopeRace.setStep(s)", step)
        values = [start - 1.2 + 0.1 * k for k in range(8)]
        got = frame.evaluate(REDRAWN_AS_FROM_SCRATCH, [slider, values])
        # the first value caches the other racers' trails, every later one strokes one trail
        assert got["perValue"][0] <= 3 and got["perValue"][1:] == [1] * 7, got["perValue"]
        assert got["inked"] > 100 and got["differ"] <= 20, got  # rounding at the edges only
        assert got["lines"] and got["table"], got
        frame.click(f"{ROW} .whatif-reset")
    assert page.errors == []
