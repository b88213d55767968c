"""`flowscope bench serve`: Flowscope's routes against TensorBoard's own, in one real TensorBoard.

What it does, side by side in one run:

* builds a logdir (default: 20 race runs x 10,000 steps, each with a `race/loss` scalar of
  10,000 points, and 5 confusion runs x 200 steps of 4 x 10 x 10 matrices with example
  images and a 200-point `validation/sequence_accuracy` scalar), written with the
  TensorFlow-free writers;
* starts the real TensorBoard (`--load_fast=true`) with and without Flowscope, alternating,
  and times start -> first `/data/plugins_listing` answer;
* in the TensorBoard with Flowscope, requests every Flowscope data route and TensorBoard's
  own scalars route (`/data/plugin/scalars/scalars`) serving the same number of points
  (10,000 for race routes, 200 for confusion routes), interleaved in shuffled rounds, until
  each scalars baseline's p95 is stable (the half-width of its 95 % bootstrap interval is
  within `P95_TOLERANCE` of it, checked after `--rounds` and every `ROUND_BLOCK` rounds
  more, up to `--max-rounds`), and prints p50 / p95 with the ratios of each route's p50
  and p95 to its scalars baseline's;
* measures the resident memory of the TensorBoard process tree (Python + Rust data server)
  with both Flowscope pages open in headless Chromium, against TensorBoard without Flowscope
  showing its own dashboard on the same logdir;
* with `--large`, then writes a 1,000,000-step trajectory and an 8 x 36 confusion series
  of 1,000 steps into the served logdir and measures what serving them costs (memory
  growth of the tree, route times) and how the pages respond in the browser (time to
  render, time to redraw after moving the step slider).

"Without Flowscope" runs the same launcher with Flowscope's `tensorboard_plugins` entry
points filtered out, so both variants pay the same start-up path.

The logdir is written by `serve_logs`, the pages are timed by `serve_browser` (Playwright,
imported only when the browser parts run) and the report is `serve_report`'s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontend
from demo_models.bench import serve_browser
from demo_models.bench.serve_logs import (
    LOSS_TAG,
    MATRIX_TAG,
    OPTIMIZERS,
    QUICK,
    SEQUENCE_TAG,
    TRAJECTORY_TAG,
    Sizes,
    write_confusion_runs,
    write_large,
    write_race_runs,
)
from demo_models.bench.serve_report import P95_TOLERANCE, report
from demo_models.bench.stats import nearest_rank, percentile_spread
from demo_models.bench.tensorboard import TensorBoardProcess, tensorboard_command
from demo_models.runtime import CliError, command_parser
from summaries.format import CONFUSION_PLUGIN as CONFUSION
from summaries.format import RACE_PLUGIN as RACE


def page_points() -> int:
    """Rows per trajectory the race page asks for: `POINTS` in frontend/race/data.js."""
    source = (frontend.ASSET_DIR / "race" / "data.js").read_text(encoding="utf-8")
    match = re.search(r"^const POINTS = (\d+);", source, re.MULTILINE)
    if match is None:
        raise RuntimeError("frontend/race/data.js no longer defines `const POINTS = <int>;`")
    return int(match.group(1))


# The page's own value, read from its source (one source of truth for the page and the bench).
PAGE_POINTS = page_points()
# The large phase's bound on the TensorBoard tree's resident memory growth (stated in
# docs/benchmarks.md).
LARGE_GROWTH_BOUND_MB = 768

# Imports what TensorBoard imports first, then times what Flowscope adds to its start-up:
# importing the entry-point loaders and building both plugins (what load() does).
OWN_START = """
import json, sys, time, types
sys.modules["tensorboard.compat.notf"] = types.ModuleType("tensorboard.compat.notf")
from tensorboard import default
from tensorboard.plugins import base_plugin
default.get_static_plugins()
began = time.perf_counter()
from tb_plugin import loaders
context = base_plugin.TBContext(logdir=None, data_provider=None, flags=None)
plugins = [loader().load(context) for loader in (loaders.RaceLoader, loaders.ConfusionLoader)]
assert all(plugins)
print(json.dumps(1e3 * (time.perf_counter() - began)))
"""


def own_start_ms(repeats: int = 3) -> list[float]:
    """ms Flowscope adds to TensorBoard's start-up, measured in fresh processes."""
    out = []
    for _ in range(repeats):
        command = [sys.executable, "-c", OWN_START]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        out.append(float(done.stdout.strip().splitlines()[-1]))
    return out


# -- memory ------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_rss_mb(pid: int) -> float:
    """Resident memory (MiB) of a process and all its descendants (Linux /proc)."""
    tree, todo, total_kb = _children(), [pid], 0
    while todo:
        current = todo.pop()
        todo.extend(tree.get(current, []))
        try:
            with open(f"/proc/{current}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


# -- TensorBoard ---------------------------------------------------------------------------


class Board(TensorBoardProcess):
    """One real TensorBoard (launched by `tensorboard_command`, fast loader) on a loopback port."""

    def __init__(self, logdir: Path, flowscope: bool, tensorflow: bool, extra: list[str]):
        self.flowscope = flowscope
        super().__init__(
            logdir,
            command=tensorboard_command(flowscope, tensorflow),
            load_fast=True,
            extra_args=extra,
            env={"TF_CPP_MIN_LOG_LEVEL": "2"},
            log_path=logdir.parent / f"tensorboard-{'with' if flowscope else 'without'}.log",
        )

    def timed_get(self, path: str, timeout: float = 120) -> tuple[int, bytes, float]:
        """GET a path: (status, body, seconds)."""
        start = time.perf_counter()
        status, body = self.get(path, timeout)
        return status, body, time.perf_counter() - start

    def json(self, path: str) -> Any:
        """GET a path and decode its JSON; RuntimeError on any status but 200."""
        status, body = self.get(path)
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}: {body[:300]!r}")
        return json.loads(body)

    def rss_mb(self) -> float:
        """Resident memory of the TensorBoard process tree (Python + Rust data server), MiB."""
        return tree_rss_mb(self.process.pid)


def _q(**params: Any) -> str:
    return "?" + urllib.parse.urlencode(params)


def _scalar_path(run: str, tag: str) -> str:
    return "/data/plugin/scalars/scalars" + _q(run=run, tag=tag)


def wait_scalars(board: Board, expected: dict[tuple[str, str], int], timeout: float) -> float:
    """Wait until each (run, tag) scalar series serves its last step; returns seconds waited."""
    begin, todo = time.monotonic(), dict(expected)
    while todo:
        for (run, tag), last in list(todo.items()):
            status, body = board.get(_scalar_path(run, tag))
            if status == 200:
                points = json.loads(body)
                if points and points[-1][1] == last and len(points) == last + 1:
                    del todo[(run, tag)]
        if todo:
            if time.monotonic() - begin > timeout:
                raise RuntimeError(f"data not loaded after {timeout} s: {sorted(todo)[:3]}")
            time.sleep(0.5)
    return time.monotonic() - begin


# -- latency ---------------------------------------------------------------------------------


@dataclass
class Case:
    """A route to time and the query paths it rotates through."""

    name: str
    family: str  # "race" or "confusion": which scalars baseline it is held against
    paths: list[str]
    times: list[float] = field(default_factory=list)
    cold: float | None = None
    bytes: int = 0

    def summary(self) -> dict[str, Any]:
        """This route's figures: request count, p50 / p95 / first time (ms) and answer size."""
        ordered = sorted(self.times)
        return {
            "route": self.name,
            "family": self.family,
            "n": len(ordered),
            "p50_ms": 1e3 * statistics.median(ordered),
            "p95_ms": 1e3 * nearest_rank(ordered, 95),
            "cold_ms": None if self.cold is None else 1e3 * self.cold,
            "kb": self.bytes / 1024,
        }


def build_cases(
    board: Board, race_runs: list[dict], confusion_runs: list[str], whatif: bool, sampled: int
) -> list[Case]:
    """Every Flowscope data route plus the two scalars baselines, with realistic queries."""
    plugin = "/data/plugin/"
    races = sorted({r["race"] for r in race_runs})
    cases = [
        Case("scalars (10k points)", "race", [_scalar_path(r["run"], LOSS_TAG) for r in race_runs]),
        Case("race /races", "race", [plugin + f"{RACE}/races"]),
        Case("race /surface", "race", [plugin + f"{RACE}/surface" + _q(race=r) for r in races]),
        Case(
            "race /trajectory",
            "race",
            [
                plugin
                + f"{RACE}/trajectory"
                + _q(run=r["run"], tag=TRAJECTORY_TAG, points=PAGE_POINTS)
                for r in race_runs
            ],
        ),
        Case(
            "race /leaderboard",
            "race",
            [plugin + f"{RACE}/leaderboard" + _q(race=r) for r in races],
        ),
        Case(
            "scalars (200 points)",
            "confusion",
            [_scalar_path(run, SEQUENCE_TAG) for run in confusion_runs],
        ),
        Case("confusion /runs", "confusion", [plugin + f"{CONFUSION}/runs"]),
        Case(
            "confusion /series",
            "confusion",
            [
                plugin + f"{CONFUSION}/series" + _q(run=run, tag=MATRIX_TAG)
                for run in confusion_runs
            ],
        ),
    ]
    matrix, examples, images = [], [], []
    for run in confusion_runs:
        steps = board.json(plugin + f"{CONFUSION}/series" + _q(run=run, tag=MATRIX_TAG))["steps"]
        for step in steps[:: max(len(steps) // sampled, 1)][:sampled]:
            # /matrix answers counts (the page normalises them itself)
            matrix.append(plugin + f"{CONFUSION}/matrix" + _q(run=run, tag=MATRIX_TAG, step=step))
            answer = board.json(
                plugin + f"{CONFUSION}/matrix" + _q(run=run, tag=MATRIX_TAG, step=step, top=3)
            )
            for pair in answer["confused_pairs"][:2]:
                query = _q(
                    run=run,
                    tag=MATRIX_TAG,
                    step=step,
                    true=pair["true"],
                    predicted=pair["predicted"],
                    position=pair["position"],
                )
                examples.append(plugin + f"{CONFUSION}/examples" + query)
                shown = board.json(examples[-1])["images"]
                images.extend(plugin + f"{CONFUSION}/" + image["url"] for image in shown[:2])
    cases += [
        Case("confusion /matrix", "confusion", matrix),
        Case("confusion /examples", "confusion", examples),
        Case("confusion /image", "confusion", images),
    ]
    if whatif:
        # A repeated what-if (same learning rate) is answered from the plugin's cache; a new
        # learning rate runs the optimizer (see the separate what-if lines of the report).
        cases.append(
            Case(
                "race /whatif (repeat)",
                "race",
                [
                    plugin
                    + f"{RACE}/whatif"
                    + _q(
                        race=r["race"],
                        optimizer=r["optimizer"],
                        learning_rate=r["lr"] * 2,
                        points=PAGE_POINTS,
                    )
                    for r in race_runs[: len(OPTIMIZERS)]
                ],
            )
        )
        # /warmup starts preparing a race's what-ifs once and then only reports its state
        races = sorted({r["race"] for r in race_runs})
        warmups = [plugin + f"{RACE}/warmup" + _q(race=race) for race in races]
        cases.append(Case("race /warmup (repeat)", "race", warmups))
    return [c for c in cases if c.paths]


# A baseline's p95 is stable when the half-width of its 95 % bootstrap interval is within
# P95_TOLERANCE of it; rounds are added ROUND_BLOCK at a time until it is (or max_rounds).
ROUND_BLOCK = 10


def baseline_stable(baselines: dict[str, list[float]], tolerance: float = P95_TOLERANCE) -> bool:
    """Whether every baseline's p95 (times by family) is known within `tolerance`."""
    return all(percentile_spread(times, 95)[1] <= tolerance for times in baselines.values())


def measure(
    board: Board, cases: list[Case], rounds: int, seed: int = 0, max_rounds: int | None = None
) -> int:
    """Warm every query once (recording each route's first time), then time shuffled rounds:
    `rounds`, then more until the scalars baselines' p95 are stable or `max_rounds` are
    done. Returns the rounds done."""
    for case in cases:
        for i, path in enumerate(case.paths):
            status, body, seconds = board.timed_get(path)
            if status != 200:
                raise RuntimeError(f"{case.name}: {path}: HTTP {status}: {body[:300]!r}")
            if i == 0:
                case.cold = seconds
            case.bytes = max(case.bytes, len(body))
    rng = random.Random(seed)
    baselines = {c.family: c.times for c in cases if c.name.startswith("scalars")}
    target, done = rounds, 0
    while done < target:
        _round(board, cases, done, rng)
        done += 1
        if done == target and max_rounds and done < max_rounds:
            if not baseline_stable(baselines):
                target = min(max_rounds, done + ROUND_BLOCK)
    return done


def _round(board: Board, cases: list[Case], r: int, rng: random.Random) -> None:
    """One round: two requests per route, in shuffled order."""
    order = [c for c in cases for _ in range(2)]  # two requests per route and round
    rng.shuffle(order)
    seen: dict[str, int] = {}
    for case in order:
        k = seen.get(case.name, 0)
        seen[case.name] = k + 1
        path = case.paths[(2 * r + k) % len(case.paths)]
        status, body, seconds = board.timed_get(path)
        if status != 200:
            raise RuntimeError(f"{case.name}: {path}: HTTP {status}: {body[:300]!r}")
        case.times.append(seconds)


def whatif_fresh(board: Board, race_runs: list[dict], count: int) -> list[float]:
    """Seconds per what-if with a learning rate never asked before (the optimizer runs)."""
    seconds = []
    for i in range(count):
        r = race_runs[i % len(OPTIMIZERS)]
        path = f"/data/plugin/{RACE}/whatif" + _q(
            race=r["race"],
            optimizer=r["optimizer"],
            learning_rate=r["lr"] * (1.1 + 0.07 * i),
            points=PAGE_POINTS,
        )
        status, body, took = board.timed_get(path, timeout=600)
        if status != 200:
            raise RuntimeError(f"what-if: HTTP {status}: {body[:300]!r}")
        seconds.append(took)
    return seconds


# -- the run -----------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "bench serve",
        "Flowscope's routes, start-up and memory against TensorBoard's own, "
        "side by side in one real TensorBoard.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, one start each, few rounds (a smoke run)"
    )
    parser.add_argument(
        "--large",
        action="store_true",
        help="then serve a 1,000,000-step trajectory and an 8 x 36 confusion "
        "over 1,000 steps (smaller with --quick)",
    )
    parser.add_argument("--rounds", type=int, help="timed rounds at least (30; 4 with --quick)")
    parser.add_argument(
        "--max-rounds",
        type=int,
        help="timed rounds at most: rounds are added until the scalars baselines' p95 are "
        "stable (150; --rounds with --quick)",
    )
    parser.add_argument("--starts", type=int, help="start-ups timed per variant (5; 1 quick)")
    parser.add_argument(
        "--whatif",
        choices=("on", "off"),
        help="also time /whatif (imports TensorFlow into TensorBoard; "
        "default on, off with --quick)",
    )
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium parts")
    parser.add_argument(
        "--no-tensorflow",
        action="store_true",
        help="start TensorBoard in its TensorFlow-free mode (as when TensorFlow "
        "is not installed): much faster start-up, same serving code",
    )
    parser.add_argument(
        "--reload-interval",
        type=float,
        default=5.0,
        help="TensorBoard's --reload_interval, seconds (5, its default): how soon the large "
        "runs written while it serves are read",
    )
    parser.add_argument("--workdir", help="keep the logdir and logs here (default: a temp dir)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return parser


_BEGAN = time.monotonic()


def _say(text: str) -> None:
    """Progress on stderr, with the seconds since the benchmark began."""
    print(f"[{time.monotonic() - _BEGAN:6.1f} s] {text}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The whole benchmark in `workdir`; returns the results."""
    global _BEGAN
    _BEGAN = time.monotonic()
    sizes = QUICK if args.quick else Sizes()
    rounds = args.rounds or sizes.rounds
    max_rounds = max(rounds, args.max_rounds or (rounds if args.quick else 150))
    starts = args.starts or sizes.starts
    whatif = (args.whatif or ("off" if args.quick else "on")) == "on"
    tensorflow = not args.no_tensorflow
    logdir = workdir / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "sizes": sizes.__dict__,
        "rounds": rounds,
        "starts": starts,
        "tensorflow_imported_by_tensorboard": tensorflow,
        "page_points": PAGE_POINTS,
    }

    _say(
        f"writing {sizes.race_runs} race runs x {sizes.race_steps:,} steps and "
        f"{sizes.confusion_runs} confusion runs x {sizes.confusion_steps} steps ..."
    )
    began = time.monotonic()
    race_runs = write_race_runs(logdir, sizes.race_runs, sizes.race_steps)
    confusion_runs = write_confusion_runs(logdir, sizes)
    results["write_seconds"] = time.monotonic() - began
    expected = {(r["run"], LOSS_TAG): sizes.race_steps - 1 for r in race_runs}
    expected.update({(run, SEQUENCE_TAG): sizes.confusion_steps - 1 for run in confusion_runs})
    extra = [
        f"--samples_per_plugin=scalars={max(sizes.race_steps, sizes.confusion_steps)}",
        f"--reload_interval={args.reload_interval:g}",
    ]

    # Start-up: alternate which variant goes first; the last pair stays up for the rest.
    timings: dict[str, list[float]] = {"with": [], "without": []}
    for i in range(starts - 1):
        for flowscope in (True, False) if i % 2 == 0 else (False, True):
            board = Board(logdir, flowscope, tensorflow, extra)
            timings["with" if flowscope else "without"].append(board.start_seconds)
            board.stop()
        _say(
            f"start-up pair {i + 1}/{starts}: with {timings['with'][-1]:.2f} s, "
            f"without {timings['without'][-1]:.2f} s"
        )

    browsers = contextlib.ExitStack()
    browser = None if args.no_browser else browsers.enter_context(serve_browser.chromium())
    try:
        _say("TensorBoard without Flowscope: start, load, memory ...")
        board = Board(logdir, False, tensorflow, extra)
        try:
            timings["without"].append(board.start_seconds)
            listing = board.json("/data/plugins_listing")
            if RACE in listing or CONFUSION in listing:
                raise RuntimeError("the 'without Flowscope' TensorBoard lists Flowscope")
            results["without_ready_seconds"] = wait_scalars(board, expected, 900)
            results["without_rss_idle_mb"] = board.rss_mb()
            if browser is not None:
                context = browser.new_context(viewport={"width": 1400, "height": 950})
                page = context.new_page()
                page.goto(f"{board.url}/#timeseries", wait_until="domcontentloaded")
                page.wait_for_selector("scalar-card, tb-line-chart, line-chart", timeout=120_000)
                time.sleep(1)
                results["without_rss_page_mb"] = board.rss_mb()
                context.close()
        finally:
            board.stop()

        _say("TensorBoard with Flowscope: start, load, pages, memory ...")
        board = Board(logdir, True, tensorflow, extra)
        try:
            timings["with"].append(board.start_seconds)
            results["with_ready_seconds"] = wait_scalars(board, expected, 900)
            _wait_flowscope(board, race_runs, confusion_runs, sizes)
            results["with_rss_idle_mb"] = board.rss_mb()
            if browser is not None:
                opened = serve_browser.open_pages(
                    browser, board, min(r["race"] for r in race_runs), min(confusion_runs)
                )
                time.sleep(1)
                results["with_rss_pages_mb"] = board.rss_mb()
                results["pages"] = {
                    name: {
                        "shell_ms": opened[name]["shell_ms"],
                        "render_ms": opened[name]["render_ms"],
                    }
                    for name in ("race", "confusion")
                }
                results["page_errors"] = list(opened["errors"])
                opened["context"].close()
            _say(f"timing routes: {rounds} to {max_rounds} interleaved rounds ...")
            cases = build_cases(board, race_runs, confusion_runs, whatif, sizes.sampled_steps)
            results["rounds"] = measure(board, cases, rounds, max_rounds=max_rounds)
            results["max_rounds"] = max_rounds
            results["routes"] = [case.summary() for case in cases]
            results["baselines"] = {}
            for case in cases:
                if case.name.startswith("scalars"):
                    p95, half_width = percentile_spread(case.times, 95)
                    results["baselines"][case.family] = {
                        "p95_ms": 1e3 * p95,
                        "half_width": half_width,
                    }
            if whatif:
                _say("what-if with new learning rates ...")
                fresh = whatif_fresh(board, race_runs, 3)
                results["whatif_fresh_ms"] = [1e3 * s for s in fresh]
            results["with_rss_after_routes_mb"] = board.rss_mb()
            if args.large:
                results["large"] = run_large(board, logdir, sizes, browser)
        finally:
            board.stop()
    finally:
        browsers.close()
    results["start_seconds"] = timings
    results["own_start_ms"] = own_start_ms(1 if args.quick else 3)
    return results


def _wait_flowscope(
    board: Board,
    race_runs: list[dict],
    confusion_runs: list[str],
    sizes: Sizes,
    timeout: float = 600,
) -> None:
    """Wait until Flowscope's listings show every run at its last step."""
    from summaries.race import DEFAULT_CHUNK

    last_chunk = (sizes.race_steps - 1) // DEFAULT_CHUNK * DEFAULT_CHUNK
    begin = time.monotonic()
    while True:
        races = board.json(f"/data/plugin/{RACE}/races")["races"]
        racers = {r["run"]: r["max_step"] for race in races for r in race["racers"]}
        runs = board.json(f"/data/plugin/{CONFUSION}/runs")["runs"]
        matrices = {r["run"]: r["tags"][0]["max_step"] for r in runs if r["tags"]}
        if all(racers.get(r["run"]) == last_chunk for r in race_runs) and all(
            matrices.get(run) == sizes.confusion_steps - 1 for run in confusion_runs
        ):
            return
        if time.monotonic() - begin > timeout:
            raise RuntimeError("Flowscope's routes did not list every run in time")
        time.sleep(0.5)


def run_large(board: Board, logdir: Path, sizes: Sizes, browser) -> dict[str, Any]:
    """Write the large runs into the served logdir, then measure serving them."""
    from summaries.race import DEFAULT_CHUNK

    out: dict[str, Any] = {"rss_before_mb": board.rss_mb()}
    _say(
        f"large: writing a {sizes.large_steps:,}-step trajectory and "
        f"{sizes.large_positions} x {sizes.large_classes} confusion x "
        f"{sizes.large_confusion_steps} steps ..."
    )
    began = time.monotonic()
    large = write_large(logdir, sizes)
    out["write_seconds"] = time.monotonic() - began
    last_chunk = (sizes.large_steps - 1) // DEFAULT_CHUNK * DEFAULT_CHUNK
    plugin = "/data/plugin/"
    began = time.monotonic()
    while True:
        races = board.json(plugin + f"{RACE}/races")["races"]
        racers = {r["run"]: r["max_step"] for race in races for r in race["racers"]}
        runs = board.json(plugin + f"{CONFUSION}/runs")["runs"]
        matrices = {r["run"]: r["tags"][0]["max_step"] for r in runs if r["tags"]}
        if (
            racers.get(large["run"]) == last_chunk
            and matrices.get(large["confusion_run"]) == sizes.large_confusion_steps - 1
        ):
            break
        if time.monotonic() - began > 900:
            raise RuntimeError("the large runs were not loaded in time")
        time.sleep(0.5)
    out["load_seconds"] = time.monotonic() - began
    time.sleep(1)
    out["rss_loaded_mb"] = board.rss_mb()
    routes = {
        "trajectory": plugin
        + f"{RACE}/trajectory"
        + _q(run=large["run"], tag=TRAJECTORY_TAG, points=PAGE_POINTS),
        "leaderboard": plugin + f"{RACE}/leaderboard" + _q(race=large["race"]),
        "series": plugin + f"{CONFUSION}/series" + _q(run=large["confusion_run"], tag=MATRIX_TAG),
        "matrix": plugin + f"{CONFUSION}/matrix" + _q(run=large["confusion_run"], tag=MATRIX_TAG),
    }
    out["routes"] = {}
    for name, path in routes.items():
        times, body = [], b""
        for _ in range(sizes.large_repeats):
            status, body, seconds = board.timed_get(path, timeout=600)
            if status != 200:
                raise RuntimeError(f"large {name}: HTTP {status}: {body[:300]!r}")
            times.append(seconds)
        answer = json.loads(body)
        entry = {
            "cold_ms": 1e3 * times[0],
            "warm_ms": 1e3 * statistics.median(times[1:]),
            "kb": len(body) / 1024,
        }
        if name == "trajectory":
            entry.update(
                points=answer["points"],
                total_points=answer["total_points"],
                downsampling=answer["downsampling"],
            )
        if name == "series":
            entry.update(
                steps=len(answer["steps"]),
                total_steps=answer["total_steps"],
                downsampled=answer["downsampled"],
            )
        out["routes"][name] = entry
    out["rss_routes_mb"] = board.rss_mb()
    if browser is not None:
        races = [r["race"] for r in board.json(plugin + f"{RACE}/races")["races"]]
        runs = [r["run"] for r in board.json(plugin + f"{CONFUSION}/runs")["runs"]]
        opened = serve_browser.open_pages(browser, board, races[0], runs[0])
        race_frame = opened["race"]["frame"]
        confusion_frame = opened["confusion"]["frame"]
        opened["race"]["page"].bring_to_front()  # background tabs get throttled frames
        out["race_select_ms"] = serve_browser.select_ms(
            race_frame, "#race-picker", large["race"], serve_browser.RACE_READY, large["race"]
        )
        out["race_slide_ms"] = serve_browser.slide_ms(
            race_frame, "#race-scrubber", sizes.slider_moves
        )
        key = serve_browser.confusion_key(large["confusion_run"])
        ready = serve_browser.confusion_ready(sizes.large_positions)
        opened["confusion"]["page"].bring_to_front()
        out["confusion_select_ms"] = serve_browser.select_ms(
            confusion_frame, "#cm-run", key, ready, key
        )
        out["confusion_slide_ms"] = serve_browser.slide_ms(
            confusion_frame, "#cm-step", sizes.slider_moves
        )
        time.sleep(1)
        out["rss_pages_mb"] = board.rss_mb()
        out["page_errors"] = list(opened["errors"])
        opened["context"].close()
    peak = max(v for k, v in out.items() if k.startswith("rss_") and isinstance(v, float))
    out["growth_mb"] = peak - out["rss_before_mb"]
    out["growth_bound_mb"] = LARGE_GROWTH_BOUND_MB
    return out


# -- report ------------------------------------------------------------------------------------
@contextlib.contextmanager
def work_folder(path: str | None, bench: str) -> Iterator[Path]:
    """Where a benchmark keeps its logs: `path` (--workdir, created if need be), else a
    temporary folder, deleted afterwards."""
    if path:
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
    else:
        with tempfile.TemporaryDirectory(prefix=f"flowscope-bench-{bench}-") as tmp:
            yield Path(tmp)


def print_report(lines: list[str], results: Any, json_path: str | None) -> None:
    """Print a benchmark's report; with `json_path` (--json), write its results there too."""
    print("\n".join(lines))
    if json_path:
        Path(json_path).write_text(json.dumps(results, indent=2))


def main(argv: list[str] | None = None) -> int:
    """Run the serving benchmark and print the ratios."""
    args = _parser().parse_args(argv)
    for name in ("rounds", "max_rounds", "starts"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            flag = name.replace("_", "-")
            raise CliError(f"--{flag} must be >= 1, got {getattr(args, name)}")
    if not args.reload_interval > 0:  # also NaN
        raise CliError(f"--reload-interval must be > 0 seconds, got {args.reload_interval:g}")
    if not args.no_browser and not Path(serve_browser.CHROMIUM).exists():
        raise CliError(
            f"{serve_browser.CHROMIUM} not found (set FLOWSCOPE_CHROMIUM or pass --no-browser)"
        )
    with work_folder(args.workdir, "serve") as workdir:
        results = run(args, workdir)
    print_report(report(results), results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
