"""Shared fixtures: a real TensorBoard process (both loaders) and headless Debian Chromium."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from demo_models.bench.serve_browser import HEADLESS_SHELL, chromium
from demo_models.bench.tensorboard import (
    TensorBoardClient,
    TensorBoardProcess,
    tensorboard_command,
)

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("FLOWSCOPE_ARTIFACTS", REPO / "tests" / "artifacts"))


# Test files whose tests start several TensorFlow processes at once (clusters of four
# tasks, the tour, which ends with one). On 2 cores two of them at once starve each other
# far more than they slow a light test beside them, so under `pytest -n N` they run one
# after another on one worker (`pytest_xdist_make_scheduler` below); every other file goes
# whole to one worker, so its module fixtures (TensorBoards, logdirs) are made once.
PROCESS_HEAVY = frozenset({"test_distributed.py", "test_tour.py"})


def pytest_collection_finish(session):
    """What collection imported (TensorFlow, Keras, JAX, the test modules: some 0.9 million
    objects) lives to the end of the run: frozen out of the garbage collector's way, each
    full collection a test triggers scans only what the tests made (a worker spent 10-25 s
    in full collections, ~0.5 s each, re-scanning them)."""
    gc.collect()
    gc.freeze()


def pytest_collection_modifyitems(config, items):
    """Files holding a `slow` test first (each file's tests in their order): under xdist they
    start at once instead of ending the run on one worker while the other waits."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


@pytest.hookimpl(optionalhook=True)  # without xdist (-p no:xdist) the hook is unknown
def pytest_xdist_make_scheduler(config, log):
    """xdist's default (`load`) becomes scopes, in the order collected: the process-heavy
    files together, each other file whole."""
    if config.getvalue("dist") != "load":
        return None  # the user chose a mode
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # keep pytest_collection_modifyitems' order

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "process-heavy" if Path(path).name in PROCESS_HEAVY else path

    return FileScheduling(config, log)


def wait_for(predicate: Callable[[], object], timeout: float = 60, interval: float = 0.25):
    """Poll `predicate` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # keep polling; report the last error on timeout
            last_error = exc
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {predicate!r}: {last_error!r}")


TWO_CPUS = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""


def run_child(script: str, *args: str, env: dict | None = None, timeout: float = 300) -> dict:
    """Run `script` in a fresh Python (the repository importable, TensorFlow quiet, `env`
    added); fail on a non-zero exit with the end of its stderr; the JSON of its last line."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO), **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_on_two_cpus(script: str, *args: str) -> dict:
    """`run_child` with TensorFlow seeing two logical CPUs (they must be set before
    TensorFlow starts, hence the subprocess)."""
    return run_child(TWO_CPUS + script, *args)


class Board(TensorBoardClient):
    """What the tests ask of a running TensorBoard: JSON routes and the plugins listing."""

    def get_json(self, path: str, expect: int = 200):
        status, body = self.get(path)
        assert status == expect, f"{path}: {status} {body[:500]!r}"
        return json.loads(body)

    def plugin(self, plugin: str, route: str, expect: int = 200, **params):
        query = urllib.parse.urlencode(params)
        path = f"/data/plugin/{plugin}/{route}" + (f"?{query}" if query else "")
        return self.get_json(path, expect)

    def wait_enabled(self, *plugins: str, timeout: float = 60) -> dict:
        """Wait until the listing shows `plugins` enabled (the fast loader reads lazily)."""

        def ready():
            listing = self.get_json("/data/plugins_listing")
            return listing if all(listing.get(p, {}).get("enabled") for p in plugins) else None

        return wait_for(ready, timeout)


class TensorBoard(Board, TensorBoardProcess):
    """One real TensorBoard process on a loopback port, reloading every second.

    With the Python loader (`load_fast=False`) TensorBoard starts by default as users' does,
    importing TensorFlow (it then reads the logs through `tf.io.gfile`); with the Rust loader
    it starts by default in its TensorFlow-free mode: the data server reads the logs either
    way, the plugins are the same, and the start takes 0.4 s instead of 3.7 s (and a second
    of TensorFlow's shutdown on stop). `tensorflow` overrides the default: a Python-loader
    test whose subject is not the log reading runs TensorFlow-free as a PyTorch user's
    TensorBoard does (TensorBoard does not need TensorFlow), and a Rust-loader test that
    needs TensorFlow in the TensorBoard process asks for it. `command` replaces the program.
    """

    def __init__(
        self,
        logdir: Path,
        load_fast: bool,
        extra_args=(),
        env=None,
        command=None,
        tensorflow: bool | None = None,
    ):
        if tensorflow is None:
            tensorflow = not load_fast
        if command is None and not tensorflow:
            command = tensorboard_command(tensorflow=False)
        super().__init__(
            logdir,
            command=command,
            load_fast=load_fast,
            extra_args=["--reload_interval", "1", *extra_args],
            env=env,
            timeout=90,
        )

    def stop(self) -> None:
        """Kill TensorBoard and its data server at once: a test has nothing to flush."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)
        self._log.close()


@pytest.fixture(params=[True, False], ids=["load_fast", "load_slow"])
def load_fast(request) -> bool:
    """Parametrise a test over TensorBoard's Rust (fast) and Python loaders."""
    return request.param


@pytest.fixture
def tensorboard(load_fast) -> Iterator[Callable[..., TensorBoard]]:
    """Factory: start(logdir, **kwargs) -> a running TensorBoard; all are torn down."""
    started: list[TensorBoard] = []

    def start(logdir, **kwargs) -> TensorBoard:
        kwargs.setdefault("load_fast", load_fast)
        board = TensorBoard(logdir, **kwargs)
        started.append(board)
        return board

    yield start
    for board in started:
        board.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium headless shell driven by Playwright (never a downloaded browser)."""
    if not Path(HEADLESS_SHELL).exists():
        pytest.fail(
            f"{HEADLESS_SHELL} not found: run ./setup.sh --test (installs Debian's"
            " chromium-headless-shell)"
        )
    with chromium(HEADLESS_SHELL) as browser:
        yield browser


@pytest.fixture
def page(make_page):
    """A fresh 1400 x 950 page; console errors and uncaught exceptions are collected in
    page.errors."""
    return make_page()


@pytest.fixture
def make_page(browser):
    """make_page(width=, height=, locale=, color_scheme=, has_touch=) -> a fresh page, errors
    collected.

    For the checks that need a laptop-sized window, another browser language (`zh-CN`), the
    dark colour scheme, or touch input; every context it opens is closed after the test.
    """
    contexts = []

    def make(width=1400, height=950, locale="en-US", color_scheme="light", has_touch=False):
        context = browser.new_context(
            viewport={"width": width, "height": height},
            locale=locale,
            color_scheme=color_scheme,
            has_touch=has_touch,
        )
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        return page

    yield make
    for context in contexts:
        context.close()


def artifact(name: str) -> Path:
    """Path for a test artifact (screenshots), kept after the run under tests/artifacts."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


# TensorBoard's toolbar above a plugin's iframe: the iframe gets the window less this height
# (test_browser_pages checks it, so a TensorBoard that changes it fails there).
TOOLBAR_PX = 64


def open_plugin_tab(page, board: Board, plugin: str, tab_name: str, shell: bool = True):
    """Open a Flowscope page; return the frame the plugin's page runs in.

    With `shell` (the way a user opens it): TensorBoard, then the plugin's tab, and the
    plugin's iframe. Without: the same iframe document (`/data/plugin_entry.html`) as the
    top page, in a window shrunk by TensorBoard's toolbar, so the page gets the width and
    height it has in TensorBoard. For checks inside the page: it skips loading TensorBoard's
    own app (about 1.5 s of CPU a page in headless Chromium).
    """
    if not shell:
        if not getattr(page, "without_toolbar", False):  # once per page
            page.without_toolbar = True
            size = page.viewport_size
            page.set_viewport_size({"width": size["width"], "height": size["height"] - TOOLBAR_PX})
            # a top-level page makes Chromium ask for /favicon.ico, which TensorBoard's
            # shell names elsewhere (its 404 would read as a page error)
            page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
        entry = f"{board.url}/data/plugin_entry.html?name={plugin}"
        page.goto(entry, wait_until="domcontentloaded")
        return page.main_frame
    page.goto(board.url + "/", wait_until="domcontentloaded")
    tab = page.get_by_role("tab", name=tab_name, exact=True)
    if tab.count() == 0:  # tabs that do not fit sit in TensorBoard's "more" menu
        page.goto(f"{board.url}/#{plugin}", wait_until="domcontentloaded")
    else:
        tab.first.click()
    frame_el = page.wait_for_selector(f'iframe[src*="name={plugin}"]', timeout=30_000)
    return frame_el.content_frame()


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Callable[[str], Path]]:
    """A function mounting a tmpfs of the given size (a real disk that fills up); skips
    without root or mount; every mount is unmounted at teardown."""
    mounts: list[Path] = []

    def mount(size: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("a real full disk needs root, to mount a small tmpfs")
        path = tmp_path / f"disk{len(mounts)}"
        path.mkdir()
        command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
        mounts.append(path)
        return path

    yield mount
    for path in mounts:  # lazily: a file a failed test left open must not keep it mounted
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def in_view(frame, selector: str) -> bool:
    """The element's box lies inside the frame's window."""
    return frame.eval_on_selector(
        selector,
        """e => { const r = e.getBoundingClientRect();
          return r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight
            && r.right <= innerWidth; }""",
    )


def visible_texts(frame, root_id: str) -> list[str]:
    """Every visible text under the element `root_id` of a page (SVG text included).

    The language checks use it: in the pseudo-language every label the page writes is marked,
    so an unmarked text that is not log data is a string that skipped the tables.
    """
    return frame.evaluate(
        """(rootId) => {
      const out = [];
      const walk = document.createTreeWalker(document.getElementById(rootId),
        NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        const el = n.parentElement;
        if (!n.textContent.trim() || !el || el.closest('option, title, [hidden]')) continue;
        if (!el.getClientRects().length) continue;
        out.push(n.textContent.trim());
      }
      return out;
    }""",
        root_id,
    )
