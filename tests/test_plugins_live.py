"""The real TensorBoard program lists and serves both Flowscope plugins, with both loaders.

Route behaviour is tested in-process (tests/plugin_harness.py); these tests prove the same
routes in the real program, under the Rust data server (--load_fast=true) and the Python
loader alike.
"""

from __future__ import annotations

import pytest
from conftest import wait_for
from sample_logs import write_confusion, write_race
from test_confusion_routes import EXAMPLES_TAG, TAG, toy_counts, write_toy


def test_plugins_disabled_without_data_then_enabled_when_it_arrives(tmp_path, tensorboard):
    logdir = tmp_path / "logs"
    logdir.mkdir()
    board = tensorboard(logdir)  # started before any run exists, as beside a training
    listing = board.get_json("/data/plugins_listing")
    assert listing["optimizer_race"]["enabled"] is False
    assert listing["position_confusion"]["enabled"] is False

    write_race(logdir)
    write_confusion(logdir)
    write_toy(logdir)  # version 2: the metadata names the sequence-accuracy scalar
    write_toy(logdir, run="toy-v1", examples=False, version=1)  # found by name
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
    check_confusion_routes(board)


def check_confusion_routes(board) -> None:
    """The Confusion routes answer in the real program as they do in-process."""

    def get(route, expect=200, **params):
        return board.plugin("position_confusion", route, expect, **params)

    def sequence(run):  # the fast loader reads lazily: wait for the scalars too
        return get("matrix", run=run, tag=TAG, step=10)["sequence_accuracy"]

    for run in ("toy", "toy-v1"):
        found = wait_for(lambda run=run: sequence(run))
        assert found["tag"] == "validation/sequence_accuracy"
        assert found["value"] == pytest.approx(0.6)
    runs = {r["run"]: r["tags"][0] for r in get("runs")["runs"]}
    assert runs["toy"]["examples_tag"] == EXAMPLES_TAG and runs["toy-v1"]["error"] is None
    matrix = get("matrix", run="toy", tag=TAG)
    assert matrix["steps"] == [0, 10, 20] and matrix["counts"] == toy_counts(20).tolist()
    series = get("series", run="toy", tag=TAG, encoding="base64")
    assert series["counts"]["shape"] == [3, 2 * 3 * 3]
    assert series["sequence_accuracy"]["values"] == pytest.approx([0.5, 0.6, 0.7])
    examples = get("examples", run="toy", tag=TAG, step=20, position=0, true=0, predicted=1)
    assert examples["stored"] == 2 and examples["count"] == 3
    status, body = board.get(f"/data/plugin/position_confusion/{examples['images'][0]['url']}")
    assert status == 200 and body.startswith(b"\x89PNG")
    assert "nope" in get("matrix", 404, run="toy", tag="nope")["error"]
    assert "'max_steps'" in get("series", 400, run="toy", tag=TAG, max_steps=0)["error"]


@pytest.mark.parametrize("load_fast", [False], indirect=True)
def test_broken_optional_import_skips_plugin_but_tensorboard_starts(tmp_path, tensorboard):
    # A contourpy that fails to import stands in for any broken optional dependency.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "contourpy.py").write_text("raise ImportError('contourpy is broken here')\n")
    logdir = tmp_path / "logs"
    write_confusion(logdir)
    board = tensorboard(logdir, env={"PYTHONPATH": str(shadow)}, tensorflow=False)
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


# the static files are read from the package by the plugin alike under both loaders: the
# TensorFlow-free board (the fast loader's) serves them for the test
@pytest.mark.parametrize("load_fast", [True], indirect=True)
def test_static_route_refuses_traversal(tmp_path, tensorboard):
    (tmp_path / "logs").mkdir()
    board = tensorboard(tmp_path / "logs")
    for plugin in ("optimizer_race", "position_confusion"):
        for path in TRAVERSALS:
            status, _ = board.get(f"/data/plugin/{plugin}/static/{path}")
            assert status == 404, path
        status, body = board.get(f"/data/plugin/{plugin}/static/common/dom.js")
        assert status == 200 and b"export function el" in body
