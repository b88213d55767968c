"""Property-based fuzzing of every Flowscope route through TensorBoard's real WSGI app.

The app is TensorBoard's own `TensorBoardWSGI` over the Python data provider (the same
provider `--load_fast=false` uses) on a logdir with real race and confusion data. Every
answer must be JSON: 200, or 400/404 with an error message; never a 5xx.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from pathlib import Path

import pytest
from conftest import TensorBoard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sample_logs import write_confusion, write_race
from tensorboard.backend import application
from tensorboard.backend.event_processing import data_provider as tb_data_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from werkzeug.test import Client

from tb_plugin import loaders

PLUGIN_SOURCES = sorted(Path(loaders.__file__).parent.glob("*.py"))


def query_parameter_names() -> list[str]:
    """Every query parameter any Flowscope route reads (taken from the source)."""
    pattern = re.compile(r"""(?:arg_\w+\(\s*request,\s*|request\.args\.get\(\s*)["'](\w+)["']""")
    names = {m for path in PLUGIN_SOURCES for m in pattern.findall(path.read_text())}
    return sorted(names | {"run", "tag", "step"})


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("fuzz")
    runs = write_race(logdir) + [write_confusion(logdir)]
    multiplexer = plugin_event_multiplexer.EventMultiplexer(
        tensor_size_guidance={"optimizer_race": 0, "position_confusion": 0}
    )
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    provider = tb_data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    context = base_plugin.TBContext(logdir=str(logdir), data_provider=provider, flags=None)
    plugins = [loader().load(context) for loader in (loaders.RaceLoader, loaders.ConfusionLoader)]
    assert all(plugins)
    routes = {
        (plugin.plugin_name, route)
        for plugin in plugins
        for route in plugin.get_plugin_apps()
        if "*" not in route and not route.endswith(".js")
    }
    client = Client(application.TensorBoardWSGI(plugins, data_provider=provider))
    known = runs + ["saddle-race", "race/trajectory", "race/surface", "confusion/validation"]
    yield client, sorted(routes), known
    # A random /warmup?race=saddle-race starts the race plugin's warm-up thread (TensorFlow
    # traces in this process): it ends here, not during a later test that counts traces.
    for thread in threading.enumerate():
        if thread.name == "flowscope-race-warmup":
            thread.join(300)
            assert not thread.is_alive(), "the race warm-up did not end within 300 s"


def values(known: list[str]):
    return st.one_of(
        st.sampled_from(known),
        st.text(max_size=40),
        st.integers(-(2**70), 2**70).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(
            [
                "",
                "-1",
                "0",
                "1",
                "1e309",
                "nan",
                "NaN",
                "inf",
                "10000000000",
                "<img src=x onerror=alert(1)>",
                "../../etc/passwd",
                "\x00",
                "ü" * 5000,
            ]
        ),
    )


def check(client, plugin: str, route: str, params: dict[str, str]) -> None:
    response = client.get(f"/data/plugin/{plugin}{route}", query_string=params)
    assert response.status_code in (200, 400, 404), (
        route,
        params,
        response.status_code,
        response.get_data()[:300],
    )
    body = json.loads(response.get_data())
    if response.status_code != 200:
        assert isinstance(body.get("error"), str) and body["error"]
        assert "Traceback" not in body["error"]


def random_queries(routes, known, max_examples: int):
    """Hypothesis decorator: a random route with up to six random query parameters."""

    def decorate(test):
        return settings(
            max_examples=max_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )(
            given(
                route=st.sampled_from(routes),
                params=st.dictionaries(
                    st.sampled_from(query_parameter_names()), values(known), max_size=6
                ),
            )(test)
        )

    return decorate


def test_every_route_answers_json_to_random_queries(app):
    client, routes, known = app

    @random_queries(routes, known, max_examples=150)
    def fuzz(route, params):
        check(client, route[0], route[1], params)

    fuzz()


def test_every_route_without_parameters_is_a_json_answer(app):
    client, routes, _ = app
    assert len(routes) >= 2
    for plugin, route in routes:
        check(client, plugin, route, {})


@pytest.fixture(scope="module")
def rust_board(tmp_path_factory):
    """The real TensorBoard program over HTTP with the Rust data server (TF-free start)."""
    logdir = tmp_path_factory.mktemp("fuzz-rust") / "logs"
    runs = write_race(logdir) + [write_confusion(logdir)]
    board = TensorBoard(logdir, load_fast=True)
    try:
        board.wait_enabled("optimizer_race", "position_confusion")
        yield board, runs
    finally:
        board.stop()


def test_a_sample_of_random_queries_through_the_rust_data_server_over_http(rust_board, app):
    board, runs = rust_board
    _, routes, known = app

    @random_queries(routes, known, max_examples=100)
    def fuzz(route, params):
        query = urllib.parse.urlencode(params)
        path = f"/data/plugin/{route[0]}{route[1]}?{query}"
        status, body = board.get(path)
        if status == 414:  # Python's HTTP server refuses request lines over 64 KiB itself
            assert len(path) > 65_000, (route, len(path))
            return
        assert status in (200, 400, 404), (route, params, status, body[:300])
        if status == 200 and body.startswith(b"\x89PNG"):
            return  # /image answers the picture itself
        answer = json.loads(body)
        if status != 200:
            assert isinstance(answer.get("error"), str) and answer["error"]
            assert "Traceback" not in answer["error"]

    fuzz()
