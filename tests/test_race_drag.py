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
