"""Each plugin's `http_api.md` documents exactly the routes (and query parameters) it serves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tensorboard.plugins import base_plugin

from tb_plugin import loaders

PLUGIN_DIR = Path(loaders.__file__).parent
LOADERS = {"race": loaders.RaceLoader, "confusion": loaders.ConfusionLoader}

# A route in a heading: `/name`, `GET /name`, or the full `/data/plugin/<plugin>/name`,
# optionally with a query string (`/image?run=...`), in backticks or bare.
ROUTE = re.compile(r"(?:GET\s+)?(?:/data/plugin/[\w-]+)?(/[\w.*/-]*[\w*])")
HEADING = re.compile(r"^#{2,6}\s+(.*)$")
CODE_SPAN = re.compile(r"`([^`]+)`")
PARAMETER = re.compile(
    r"""(?:arg_\w+\(\s*request,\s*|request\.args\.get\(\s*)["'](\w+)["']"""
    r"""|["'](\w+)["']\s+in\s+request\.args"""
)


def plugin(name: str):
    context = base_plugin.TBContext(logdir=None, data_provider=None, flags=None)
    loaded = LOADERS[name]().load(context)
    assert loaded is not None, f"the {name} plugin failed to load"
    return loaded


def doc_path(name: str) -> Path:
    return PLUGIN_DIR / f"{name}_http_api.md"


def fenced_removed(text: str) -> str:
    """The document without ``` fenced blocks (JSON examples may contain '# ...')."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def documented_routes(text: str) -> set[str]:
    """Routes named in the document's headings (`## /races`, `### GET /trajectory`, ...)."""
    routes = set()
    for line in fenced_removed(text).splitlines():
        heading = HEADING.match(line)
        if not heading:
            continue
        spans = CODE_SPAN.findall(heading.group(1)) or [heading.group(1)]
        for span in spans:
            for route in ROUTE.findall(span.split("?")[0]):
                routes.add(route)
    return routes


def served_routes(name: str) -> set[str]:
    return set(plugin(name).get_plugin_apps())


def read_parameters(name: str) -> set[str]:
    """Query parameters the plugin's code reads (`arg_int(request, "step")`, ...)."""
    source = (PLUGIN_DIR / f"{name}_plugin.py").read_text()
    return {a or b for a, b in PARAMETER.findall(source)}


def test_heading_parser_understands_the_styles_in_use():
    text = "\n".join(
        [
            "# Title /not/a/route",
            "## `/index.js`, `/static/*`",
            "## `/runs`",
            "### GET /trajectory",
            "## `GET /data/plugin/optimizer_race/leaderboard?race=R`",
            "```json",
            "## `/inside-a-code-block`",
            "```",
            "Prose mentioning `/whatif` is not a heading.",
        ]
    )
    assert documented_routes(text) == {
        "/index.js",
        "/static/*",
        "/runs",
        "/trajectory",
        "/leaderboard",
    }


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_every_served_route_is_documented_and_every_documented_route_served(name):
    path = doc_path(name)
    assert path.is_file(), f"{path.name} is missing: each plugin documents its HTTP API"
    documented = documented_routes(path.read_text(encoding="utf-8"))
    served = served_routes(name)
    assert served - documented == set(), f"served but not documented in {path.name}"
    assert documented - served == set(), f"documented in {path.name} but not served"


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_every_query_parameter_read_is_documented(name):
    path = doc_path(name)
    assert path.is_file(), f"{path.name} is missing"
    text = fenced_removed(path.read_text(encoding="utf-8"))
    spans = {span.strip() for span in CODE_SPAN.findall(text)}
    # a table cell like `run`, `tag` or a span like `run=...` both count
    named = {re.split(r"[=\s]", span)[0] for span in spans} | spans
    parameters = read_parameters(name)
    assert parameters, f"no query parameters found in {name}_plugin.py (parser out of date?)"
    assert parameters - named == set(), f"query parameters read but not documented in {path.name}"
