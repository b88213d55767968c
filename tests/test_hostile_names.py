"""Hostile names (HTML, </script>, quotes, very long strings) show as text and never run.

One real TensorBoard (Rust loader, TensorFlow-free start) behind `--path_prefix=/tb`, with
a race and a confusion run whose run names, tags, race/optimizer/surface names,
hyper-parameter keys, position and class names carry script payloads. In Chromium, under
TensorBoard's Content-Security-Policy, both pages must render that data, show every name
literally, create no element from it, request nothing it names, and never let a payload
set `window.__pwned` or open a dialog.
"""

from __future__ import annotations

import urllib.request

import numpy as np
import pytest
from conftest import TensorBoard, artifact

from summaries import pb
from summaries import race as race_summaries
from summaries.position_confusion import confusion_pb, examples_pb

pytestmark = pytest.mark.browser

PREFIX = "/tb"
FLOWSCOPE = ("optimizer_race", "position_confusion")
IMG = "<img src=x onerror=window.__pwned=1>"
ALERT = "<img src=x onerror=alert(1)>"
SCRIPT = "</script><script>window.__pwned=2</script>"
QUOTES = "\"'><svg onload=window.__pwned=3>"
LONG = "L" * 1500 + "<b>end of a long name</b>"

RACE = f"race {IMG}"  # sorts before anything starting with a lower-case letter
RACE_RUN = f"{QUOTES}/{ALERT}"  # a run is a relative path: two hostile directories
RACE_RUN_2 = "r" * 200  # a long run name (directory names stop at 255 bytes)
TRAJECTORY_TAG = f"race/{SCRIPT}"
OPTIMIZER = f"opt {SCRIPT}"
OPTIMIZER_TITLE = f"title {QUOTES}"
LONG_OPTIMIZER = f"long {LONG}"
SURFACE = f"surface {ALERT}"
HYPER_KEY = f"<i>beta</i>{QUOTES}"

# Contains "/" (nested directories) but no double quote: TensorBoard 2.21's Rust data
# server cannot parse its own blob keys when a run name holds a double quote or a backslash
# (BadJson), so example images of such a run are unreadable with --load_fast=true.
CONFUSION_RUN = f"'><svg onload=window.__pwned=3>{SCRIPT}"
MATRIX_TAG = f"confusion/{IMG}"
EXAMPLES_TAG = f"{MATRIX_TAG}/examples"
POSITIONS = [IMG, LONG, QUOTES]
CLASSES = [SCRIPT, ALERT, "'", '"']


class PrefixedTensorBoard(TensorBoard):
    """A TensorBoard served under PREFIX; get() paths are relative to the prefix."""

    def get(self, path: str, timeout: float = 120):
        return super().get(PREFIX + path, timeout)


def write_hostile(logdir):
    window = [-2.0, 2.0, -2.0, 2.0]
    xs, ys = np.meshgrid(np.linspace(-2, 2, 41), np.linspace(-2, 2, 41))
    steps = np.arange(60)
    for i, (run, optimizer, title) in enumerate(
        [(RACE_RUN, OPTIMIZER, OPTIMIZER_TITLE), (RACE_RUN_2, LONG_OPTIMIZER, None)]
    ):
        positions = np.column_stack([1.5 * 0.95**steps, (1.0 + i) * 0.9**steps])
        losses = (positions**2).sum(axis=1)
        extra = {"optimizer_title": title} if title else {}
        with pb.LogWriter(str(logdir / run)) as writer:
            race_summaries.write_surface(
                writer, "race/surface", xs**2 + ys**2, race=RACE, surface=SURFACE, window=window
            )
            race_summaries.write_trajectory(
                writer,
                TRAJECTORY_TAG,
                steps,
                positions,
                losses,
                race=RACE,
                optimizer=optimizer,
                surface=SURFACE,
                window=window,
                hyperparameters={"learning_rate": 0.1, HYPER_KEY: 0.9},
                chunk=16,
                **extra,
            )
    rng = np.random.default_rng(0)
    with pb.LogWriter(str(logdir / CONFUSION_RUN)) as writer:
        for step in range(2):
            counts = rng.integers(1, 4, size=(3, 4, 4)) + 10 * np.eye(4, dtype=np.int64)
            writer.add(
                confusion_pb(MATRIX_TAG, counts, positions=POSITIONS, classes=CLASSES),
                step=step,
            )
            cells = [[0, 0, 1], [1, 2, 3], [2, 3, 0]]
            images = [rng.integers(0, 255, size=(12, 30), dtype=np.uint8) for _ in cells]
            writer.add(
                examples_pb(EXAMPLES_TAG, cells, images, matrix_tag=MATRIX_TAG, cap_per_cell=2),
                step=step,
            )


# Runs in every frame before the page's own scripts: records CSP violations and dialogs.
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '')));
"""

TEXT_OF_FRAME = """
() => {
  const parts = [document.documentElement.textContent];
  for (const node of document.querySelectorAll('*')) {
    for (const attr of node.attributes) parts.push(attr.value);
    if ('value' in node && typeof node.value === 'string') parts.push(node.value);
  }
  return parts.join('\\n');
}
"""

INJECTED = """
() => ({
  pwned: typeof window.__pwned,
  parentPwned: typeof window.parent.__pwned,
  imgX: [...document.querySelectorAll('img')].filter((i) => i.getAttribute('src') === 'x').length,
  svgOnload: document.querySelectorAll('svg[onload], [onerror], [onload]').length,
  scripts: [...document.scripts].filter((s) => s.textContent.includes('__pwned')).length,
  csp: window.__csp,
})
"""


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("hostile") / "logs"
    write_hostile(logdir)
    server = PrefixedTensorBoard(
        logdir,
        load_fast=True,
        extra_args=[f"--path_prefix={PREFIX}"],
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def watched(page, board):
    """The page, with dialogs, plugin requests and failed plugin responses recorded."""
    page.dialogs = []
    page.plugin_requests = []
    page.failed = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.on(
        "request",
        lambda request: (
            page.plugin_requests.append(request.url)
            if any(f"/data/plugin/{name}/" in request.url for name in FLOWSCOPE)
            or request.url.rstrip("/").endswith("/x")
            else None
        ),
    )
    # TensorBoard's own web fonts ignore --path_prefix (absolute /font-roboto/ URLs): not ours
    page.on(
        "response",
        lambda response: (
            page.failed.append(f"{response.status} {response.url}")
            if response.status >= 400 and "/font-roboto/" not in response.url
            else None
        ),
    )
    page.context.add_init_script(WATCH)
    return page


def open_tab(page, board, plugin):
    page.goto(f"{board.url}{PREFIX}/#{plugin}", wait_until="domcontentloaded")
    handle = page.wait_for_selector(f'iframe[src*="name={plugin}"]', timeout=60_000)
    return handle.content_frame()


def assert_nothing_ran(page, frame, board):
    state = frame.evaluate(INJECTED)
    assert state == {
        "pwned": "undefined",
        "parentPwned": "undefined",
        "imgX": 0,
        "svgOnload": 0,
        "scripts": 0,
        "csp": [],
    }
    assert page.dialogs == []
    assert not [url for url in page.plugin_requests if url.rstrip("/").endswith("/x")]
    assert page.failed == []  # failed loads are checked here, by URL
    assert [e for e in page.errors if not e.startswith("Failed to load resource")] == []
    # behind --path_prefix every plugin request stays under the prefix (relative URLs)
    assert page.plugin_requests and all(
        url.startswith(f"{board.url}{PREFIX}/data/plugin/")
        for url in page.plugin_requests
        if not url.endswith("/x")
    )


def test_plugin_iframe_is_served_with_a_content_security_policy(board):
    url = f"{board.url}{PREFIX}/data/plugin_entry.html?name=optimizer_race"
    with urllib.request.urlopen(url, timeout=30) as response:
        policy = response.headers.get("Content-Security-Policy", "")
    assert "script-src" in policy and "'unsafe-inline'" not in policy.split("script-src")[1]


def test_race_page_shows_hostile_names_as_text(watched, board):
    board.wait_enabled("optimizer_race", "position_confusion")
    frame = open_tab(watched, board, "optimizer_race")
    frame.wait_for_selector("#race-leaderboard .lb-row", timeout=60_000)
    frame.wait_for_function("document.querySelectorAll('#race-leaderboard .lb-row').length === 2")
    frame.locator("#race-legend .legend-row").first.hover()  # tooltips and hover states too
    text = frame.evaluate(TEXT_OF_FRAME)
    for name in (RACE, OPTIMIZER, OPTIMIZER_TITLE, LONG_OPTIMIZER, HYPER_KEY):
        assert name in text, f"{name[:60]!r} is not shown literally"
    shown = frame.locator("#race-leaderboard").inner_text()
    assert OPTIMIZER_TITLE in shown and LONG_OPTIMIZER[:200] in shown
    watched.screenshot(path=artifact("hostile-race.png"))
    assert_nothing_ran(watched, frame, board)


def test_confusion_page_shows_hostile_names_as_text(watched, board):
    board.wait_enabled("position_confusion")
    frame = open_tab(watched, board, "position_confusion")
    frame.wait_for_selector("svg.cm-heatmap rect.cm-cell", timeout=60_000)
    # open the examples of one misclassified cell: position names and images appear there
    cell = frame.locator(
        '.cm-card[data-position="1"] rect.cm-cell[data-true="2"][data-predicted="3"]'
    )
    cell.hover()
    cell.click()
    frame.wait_for_selector("#cm-example-grid img", timeout=30_000)
    title = frame.locator("#cm-examples-title").inner_text()
    assert title == f"{POSITIONS[1]}: true {CLASSES[2]} → predicted {CLASSES[3]}"
    text = frame.evaluate(TEXT_OF_FRAME)
    for name in (CONFUSION_RUN, MATRIX_TAG, *POSITIONS, *CLASSES):
        assert name in text, f"{name[:60]!r} is not shown literally"
    watched.screenshot(path=artifact("hostile-confusion.png"))
    assert_nothing_ran(watched, frame, board)
