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


# The README and the manual in docs/ name routes too; each must be one a plugin serves.
ROOT = PLUGIN_DIR.parent
MANUAL = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PLUGIN_NAMES = {"optimizer_race": "race", "position_confusion": "confusion"}
PAGE_PLUGIN = {"race.md": "race", "confusion.md": "confusion"}  # other pages: either plugin
BARE_ROUTE = re.compile(r"^(?:GET\s+)?(/[\w.-]+)(?:\?.*)?$")
FULL_ROUTE = re.compile(r"^(?:GET\s+)?/data/plugin/([\w-]+)(/[\w.-]+)(?:\?.*)?$")


def manual_routes(text: str, default: tuple[str, ...]) -> set[tuple[str, tuple[str, ...]]]:
    """(route, plugins that may serve it) for each route named in a code span of the page."""
    found = set()
    for span in CODE_SPAN.findall(fenced_removed(text)):
        full = FULL_ROUTE.match(span)
        if full:  # another plugin's route (TensorBoard's scalars) is not Flowscope's to check
            if full.group(1) in PLUGIN_NAMES:
                found.add((full.group(2), (PLUGIN_NAMES[full.group(1)],)))
            continue
        bare = BARE_ROUTE.match(span)
        if bare:
            found.add((bare.group(1), default))
    return found


def test_manual_route_parser_understands_the_styles_in_use():
    text = (
        "`/races`, `GET /matrix?run=R`, `/data/plugin/position_confusion/image`, "
        "`/data/plugin/scalars/scalars`, `/data/plugins_listing`, `/usr/bin/chromium`\n"
        "```\n`/inside-a-code-block`\n```\n"
    )
    assert manual_routes(text, ("race",)) == {
        ("/races", ("race",)),
        ("/matrix", ("race",)),
        ("/image", ("confusion",)),
    }


@pytest.mark.parametrize("page", MANUAL, ids=lambda p: p.name)
def test_every_route_named_in_the_readme_and_docs_is_served(page):
    served = {name: served_routes(name) for name in sorted(LOADERS)}
    default = (PAGE_PLUGIN[page.name],) if page.name in PAGE_PLUGIN else tuple(LOADERS)
    unknown = [
        f"{route} (not served by {' or '.join(plugins)})"
        for route, plugins in sorted(manual_routes(page.read_text(encoding="utf-8"), default))
        if not any(route in served[name] for name in plugins)
    ]
    assert unknown == []
