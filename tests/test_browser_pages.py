"""End to end: open TensorBoard in Chromium, click each Flowscope tab, see the data."""

from __future__ import annotations

import pytest
from conftest import TOOLBAR_PX, artifact, open_plugin_tab
from sample_logs import write_confusion, write_race

pytestmark = pytest.mark.browser


def test_each_flowscope_tab_renders_its_data(tmp_path, tensorboard, page, load_fast):
    logdir = tmp_path / "logs"
    write_race(logdir)
    write_confusion(logdir)
    board = tensorboard(logdir, tensorflow=False)  # the pages are the subject, not the reading
    board.wait_enabled("optimizer_race", "position_confusion")
    suffix = "fast" if load_fast else "slow"

    frame = open_plugin_tab(page, board, "optimizer_race", "Optimizer Race")
    frame.wait_for_selector("#race-page .lb-row", timeout=30_000)
    # the other page tests open the plugin's document alone in a window this much shorter
    iframe = page.locator('iframe[src*="name=optimizer_race"]').bounding_box()
    assert iframe == {"x": 0, "y": TOOLBAR_PX, "width": 1400, "height": 950 - TOOLBAR_PX}
    assert sorted(frame.locator(".lb-row td.hyper").all_inner_texts()) == ["lr=0.05", "lr=0.1"]
    assert sorted(frame.locator(".lb-row").evaluate_all(
        "rows => rows.map(r => r.dataset.optimizer)")) == ["adam", "sgd"]  # fmt: skip
    page.screenshot(path=artifact(f"foundation-race-{suffix}.png"))

    frame = open_plugin_tab(page, board, "position_confusion", "Confusion")
    frame.wait_for_selector("#confusion-page .confusion-series", timeout=30_000)
    text = frame.locator("#confusion-page").inner_text()
    assert "captcha-toy" in text and "2 positions x 3 classes" in text
    page.screenshot(path=artifact(f"foundation-confusion-{suffix}.png"))
    assert page.errors == []
