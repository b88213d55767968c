"""The real TensorBoard program lists and serves both Flowscope plugins, with both loaders."""

from __future__ import annotations

import pytest
from sample_logs import write_confusion, write_race


def test_plugins_listed_and_enabled_with_data(tmp_path, tensorboard):
    logdir = tmp_path / "logs"
    write_race(logdir)
    write_confusion(logdir)
    board = tensorboard(logdir)
    listing = board.wait_enabled("optimizer_race", "position_confusion")
    assert listing["optimizer_race"]["tab_name"] == "Optimizer Race"
    assert listing["position_confusion"]["tab_name"] == "Confusion"
    for name in ("optimizer_race", "position_confusion"):
        mechanism = listing[name]["loading_mechanism"]
        assert mechanism == {"type": "IFRAME", "module_path": f"/data/plugin/{name}/index.js"}
        status, body = board.get(f"/data/plugin/{name}/index.js")
        assert status == 200 and b"export async function render" in body

    races = board.plugin("optimizer_race", "races")["races"]
    assert [r["race"] for r in races] == ["saddle-race"]
    assert sorted(r["optimizer"] for r in races[0]["racers"]) == ["adam", "sgd"]
    assert all(r["max_step"] == 48 for r in races[0]["racers"])  # last chunk starts at 48

    runs = board.plugin("position_confusion", "runs")["runs"]
    assert runs[0]["run"] == "captcha-toy"
    assert runs[0]["tags"][0]["classes"] == ["a", "b", "c"]


def test_plugins_listed_but_disabled_without_data(tmp_path, tensorboard):
    (tmp_path / "empty").mkdir()
    board = tensorboard(tmp_path / "empty")
    listing = board.get_json("/data/plugins_listing")
    assert listing["optimizer_race"]["enabled"] is False
    assert listing["position_confusion"]["enabled"] is False


@pytest.mark.parametrize("load_fast", [False], indirect=True)
def test_broken_optional_import_skips_plugin_but_tensorboard_starts(tmp_path, tensorboard):
    # A contourpy that fails to import stands in for any broken optional dependency.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "contourpy.py").write_text("raise ImportError('contourpy is broken here')\n")
    logdir = tmp_path / "logs"
    write_confusion(logdir)
    board = tensorboard(logdir, env={"PYTHONPATH": str(shadow)})
    listing = board.wait_enabled("position_confusion")
    assert "optimizer_race" not in listing
    assert "skipping the optimizer_race plugin" in board.log()
    assert "contourpy is broken here" in board.log()


TRAVERSALS = [
    "../../setup.py",
    "..%2F..%2Fsetup.py",
    "%2E%2E/%2E%2E/setup.py",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    "common/../../setup.py",
    "common/dom.js%00.css",
    "common/dom.py",
]


@pytest.mark.parametrize("load_fast", [False], indirect=True)
def test_static_route_refuses_traversal(tmp_path, tensorboard):
    (tmp_path / "logs").mkdir()
    board = tensorboard(tmp_path / "logs")
    for plugin in ("optimizer_race", "position_confusion"):
        for path in TRAVERSALS:
            status, _ = board.get(f"/data/plugin/{plugin}/static/{path}")
            assert status == 404, path
        status, body = board.get(f"/data/plugin/{plugin}/static/common/dom.js")
        assert status == 200 and b"export function el" in body
