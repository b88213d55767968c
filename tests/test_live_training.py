"""Live training: steps appended while TensorBoard serves, and runs that appear later.

The routes must pick them up within TensorBoard's reload interval (1 s in these tests)
plus a few seconds, with both loaders; the pages must show them without a page reload.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import TensorBoard, artifact, open_plugin_tab, wait_for

from summaries import pb
from summaries import race as race_summaries
from summaries.position_confusion import confusion_pb

RACE_PLUGIN, CONFUSION_PLUGIN = "optimizer_race", "position_confusion"
RELOAD = 1  # conftest starts TensorBoard with --reload_interval 1
ROUTE_SLACK = 10  # "a few seconds" on a loaded 2-core machine
PAGE_SLACK = 10  # both pages poll every 5 s; a few seconds more on a loaded machine
TAG, MATRIX_TAG = "race/trajectory", "confusion/validation"
WINDOW = [-2.0, 2.0, -2.0, 2.0]
CHUNK = 50


def trajectory(writer: pb.LogWriter, race: str, first: int, count: int) -> None:
    """Append `count` rows of a racer spiralling into (0, 0), starting at step `first`."""
    steps = np.arange(first, first + count)
    positions = np.column_stack([1.5 * 0.97**steps, 1.0 * 0.95**steps])
    for step, summary in race_summaries.trajectory_pb(
        TAG,
        steps,
        positions,
        (positions**2).sum(axis=1),
        race=race,
        optimizer="adam",
        surface="bowl",
        window=WINDOW,
        minima=[[0.0, 0.0]],
        chunk=CHUNK,
    ):
        writer.add(summary, step=step)
    writer.flush()


def surface(writer: pb.LogWriter, race: str) -> None:
    xs, ys = np.meshgrid(np.linspace(-2, 2, 21), np.linspace(-2, 2, 21))
    race_summaries.write_surface(
        writer, "race/surface", xs**2 + ys**2, race=race, surface="bowl", window=WINDOW
    )


def matrix(writer: pb.LogWriter, step: int) -> None:
    counts = np.full((2, 3, 3), 2) + np.eye(3, dtype=np.int64) * (10 + step)
    writer.add(
        confusion_pb(MATRIX_TAG, counts, positions=["p1", "p2"], classes=["a", "b", "c"]),
        step=step,
    )
    writer.flush()


class Live:
    """A logdir being written: an open race run and an open confusion run."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.race = pb.LogWriter(str(logdir / "live-race" / "adam"))
        surface(self.race, "live-race")
        trajectory(self.race, "live-race", 0, CHUNK)
        self.confusion = pb.LogWriter(str(logdir / "live-captcha"))
        for step in range(2):
            matrix(self.confusion, step)

    def append_race(self) -> None:
        """One more chunk (steps 50..99) and a new race in a new run."""
        trajectory(self.race, "live-race", CHUNK, CHUNK)
        with pb.LogWriter(str(self.logdir / "late-race" / "adam")) as late:
            surface(late, "late-race")
            trajectory(late, "late-race", 0, CHUNK)

    def append_confusion(self) -> None:
        """One more step (2) and a new run."""
        matrix(self.confusion, 2)
        with pb.LogWriter(str(self.logdir / "late-captcha")) as late:
            matrix(late, 0)

    def close(self) -> None:
        self.race.close()
        self.confusion.close()


def race_state(board: TensorBoard) -> dict:
    races = {r["race"]: r for r in board.plugin(RACE_PLUGIN, "races")["races"]}
    live = races.get("live-race")
    points = None
    if live:
        answer = board.plugin(RACE_PLUGIN, "trajectory", run="live-race/adam", tag=TAG)
        points = answer["total_points"]
    return {"races": sorted(races), "points": points}


def confusion_state(board: TensorBoard) -> dict:
    runs = {r["run"]: r for r in board.plugin(CONFUSION_PLUGIN, "runs")["runs"]}
    steps = None
    if "live-captcha" in runs:
        steps = board.plugin(CONFUSION_PLUGIN, "series", run="live-captcha", tag=MATRIX_TAG)[
            "steps"
        ]
    return {"runs": sorted(runs), "steps": steps}


def within(seconds: float, predicate) -> float:
    """Seconds until `predicate()` holds; fails after `seconds` with the last value seen."""
    begin = time.monotonic()
    value = None
    while time.monotonic() - begin < seconds:
        value = predicate()
        if value is True:
            return time.monotonic() - begin
        time.sleep(0.2)
    pytest.fail(f"not picked up within {seconds} s; last state: {value!r}")


def test_routes_pick_up_appended_steps_and_new_runs(tmp_path, tensorboard):
    live = Live(tmp_path / "logs")
    try:
        board = tensorboard(live.logdir, tensorflow=False)
        board.wait_enabled(RACE_PLUGIN, CONFUSION_PLUGIN)
        within(60, lambda: race_state(board) == {"races": ["live-race"], "points": CHUNK})
        within(60, lambda: confusion_state(board) == {"runs": ["live-captcha"], "steps": [0, 1]})

        live.append_race()
        live.append_confusion()
        want_race = {"races": ["late-race", "live-race"], "points": 2 * CHUNK}
        want_confusion = {"runs": ["late-captcha", "live-captcha"], "steps": [0, 1, 2]}
        within(RELOAD + ROUTE_SLACK, lambda: race_state(board) == want_race or race_state(board))
        within(
            RELOAD + ROUTE_SLACK,
            lambda: confusion_state(board) == want_confusion or confusion_state(board),
        )
        # the leaderboard (cached per run) sees the new rows too
        rows = board.plugin(RACE_PLUGIN, "leaderboard", race="live-race")["rows"]
        assert rows[0]["steps"] == 2 * CHUNK - 1
    finally:
        live.close()


@pytest.fixture(scope="module")
def live_board(tmp_path_factory):
    """One TensorBoard (Rust loader) over a logdir that the page tests keep writing."""
    live = Live(tmp_path_factory.mktemp("live") / "logs")
    board = TensorBoard(live.logdir, load_fast=True)
    try:
        board.wait_enabled(RACE_PLUGIN, CONFUSION_PLUGIN)
        yield live, board
    finally:
        board.stop()
        live.close()


@pytest.mark.browser
def test_confusion_page_shows_new_steps_and_runs_without_reload(live_board, page):
    live, board = live_board
    frame = open_plugin_tab(page, board, CONFUSION_PLUGIN, "Confusion", shell=False)
    frame.wait_for_selector("svg.cm-heatmap", timeout=60_000)
    assert frame.locator("#cm-step").get_attribute("max") == "1"
    live.append_confusion()

    def shown():
        state = frame.evaluate(
            "() => ({max: document.getElementById('cm-step').max,"
            " runs: [...document.querySelectorAll('#cm-run option')].map((o) => o.textContent)})"
        )
        ok = state["max"] == "2" and any(r.startswith("late-captcha") for r in state["runs"])
        return ok or state

    within(RELOAD + PAGE_SLACK, shown)
    assert "step 2" in frame.locator("#cm-step-label").inner_text()
    # the step's metrics (a separate /matrix request) follow the new step too
    wait_for(lambda: "at step 2" in frame.locator("#cm-pairs").inner_text(), timeout=10)
    page.screenshot(path=artifact("live-confusion.png"))
    assert page.errors == []


@pytest.mark.browser
def test_race_page_shows_new_steps_and_races_without_reload(live_board, page):
    live, board = live_board
    frame = open_plugin_tab(page, board, RACE_PLUGIN, "Optimizer Race", shell=False)
    frame.wait_for_selector("#race-leaderboard .lb-row", timeout=60_000)
    assert frame.locator("#race-scrubber").get_attribute("max") == str(CHUNK - 1)
    live.append_race()

    def shown():
        state = frame.evaluate(
            "() => ({max: document.getElementById('race-scrubber').max,"
            " races: [...document.querySelectorAll('#race-picker option')].map((o) => o.value)})"
        )
        return (state["max"] == str(2 * CHUNK - 1) and "late-race" in state["races"]) or state

    within(RELOAD + PAGE_SLACK, shown)
