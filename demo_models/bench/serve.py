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
  (10,000 for race routes, 200 for confusion routes), interleaved in shuffled rounds, and
  prints p50 / p95 with the ratio of each route's p95 to its scalars baseline's p95;
* measures the resident memory of the TensorBoard process tree (Python + Rust data server)
  with both Flowscope pages open in headless Chromium, against TensorBoard without Flowscope
  showing its own dashboard on the same logdir;
* with `--large`, then writes a 1,000,000-step trajectory and an 8 x 36 confusion series
  of 1,000 steps into the served logdir and measures what serving them costs (memory
  growth of the tree, route times) and how the pages respond in the browser (time to
  render, time to redraw after moving the step slider).

"Without Flowscope" runs the same launcher with Flowscope's `tensorboard_plugins` entry
points filtered out, so both variants pay the same start-up path.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tb_plugin.tensorboard_process import TensorBoardProcess, tensorboard_command

RACE = "optimizer_race"
CONFUSION = "position_confusion"
LOSS_TAG = "race/loss"
TRAJECTORY_TAG = "race/trajectory"
SURFACE_TAG = "race/surface"
MATRIX_TAG = "confusion/validation"
EXAMPLES_TAG = "confusion/validation/examples"
SEQUENCE_TAG = "validation/sequence_accuracy"
PAGE_POINTS = 1500  # rows per trajectory the race page asks for (frontend/race/index.js)
SURFACES = ("beale", "rosenbrock", "himmelblau", "quadratic")
OPTIMIZERS = (
    ("sgd", 0.001),
    ("momentum", 0.001),
    ("adagrad", 0.5),
    ("rmsprop", 0.01),
    ("adam", 0.05),
)
P95_TARGET = 1.5
START_TARGET = 1.05
# The large phase's bound on the TensorBoard tree's resident memory growth (stated in README).
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


# -- the logdir ----------------------------------------------------------------------------


@dataclass
class Sizes:
    race_runs: int = 20
    race_steps: int = 10_000
    confusion_runs: int = 5
    confusion_steps: int = 200
    positions: int = 4
    classes: int = 10
    rounds: int = 30
    starts: int = 5
    large_steps: int = 1_000_000
    large_positions: int = 8
    large_classes: int = 36
    large_confusion_steps: int = 1000
    sampled_steps: int = 10  # confusion steps per run that /matrix, /examples, /image rotate over
    large_repeats: int = 4
    slider_moves: int = 12


QUICK = Sizes(
    race_runs=4,
    race_steps=2000,
    confusion_runs=2,
    confusion_steps=20,
    rounds=3,
    starts=1,
    large_steps=100_000,
    large_confusion_steps=200,  # more than /series sends at 8 x 36 (192): thinning happens
    sampled_steps=3,
    large_repeats=2,
    slider_moves=6,
)


def _path(surface, steps: int, rng, speed: float) -> tuple[Any, Any]:
    """A plausible optimizer path: a damped spiral from the start into a minimum, plus noise."""
    import numpy as np

    start = np.array(surface.start)
    goal = np.array(surface.minima[0] if surface.minima else surface.start)
    t = np.arange(steps) / max(steps - 1, 1)
    decay = np.exp(-speed * 8 * t)[:, None]
    angle = speed * 25 * t
    spin = np.column_stack([np.cos(angle), np.sin(angle)]) * np.linalg.norm(start - goal) * 0.3
    path = goal + (start - goal) * decay + spin * decay * np.sin(np.pi * t)[:, None]
    path += rng.normal(0, 0.002, size=path.shape) * decay
    return path, surface.value(path[:, 0], path[:, 1])


def _png_pool(count: int, rng) -> list[bytes]:
    from summaries.pb import encode_png

    return [encode_png(rng.integers(0, 255, size=(24, 72), dtype="uint8")) for _ in range(count)]


def _write_racer(writer, surface, race: str, optimizer: str, lr: float, positions, losses):
    """One racer's loss surface and whole trajectory (steps 0, 1, ...) into `writer`."""
    import numpy as np

    from summaries import race as race_summaries

    race_summaries.write_surface(
        writer,
        SURFACE_TAG,
        surface.grid(101)[2],
        race=race,
        surface=surface.name,
        window=surface.window,
        minima=surface.minima,
        log_scale=surface.log_scale,
    )
    race_summaries.write_trajectory(
        writer,
        TRAJECTORY_TAG,
        np.arange(len(losses)),
        positions,
        losses,
        race=race,
        optimizer=optimizer,
        surface=surface.name,
        window=surface.window,
        hyperparameters={"learning_rate": lr},
        start=surface.start,
        minima=surface.minima,
        tolerance=surface.tolerance,
    )


def write_race_runs(logdir: Path, runs: int, steps: int, seed: int = 0) -> list[dict]:
    """`runs` racers (surfaces x optimizers), each with a trajectory, a surface and race/loss."""
    import numpy as np
    from tensorboard.plugins.scalar import summary_v2 as scalar_summary

    from demo_models.race.surfaces import SURFACES as ALL_SURFACES
    from summaries.pb import LogWriter

    rng = np.random.default_rng(seed)
    made = []
    for i in range(runs):
        surface = ALL_SURFACES[SURFACES[i // len(OPTIMIZERS) % len(SURFACES)]]
        optimizer, lr = OPTIMIZERS[i % len(OPTIMIZERS)]
        block = i // (len(OPTIMIZERS) * len(SURFACES))
        race = f"bench-{surface.name}" + (f"-{block}" if block else "")
        run = f"{race}/{optimizer}"
        positions, losses = _path(surface, steps, rng, 0.5 + 0.1 * (i % len(OPTIMIZERS)))
        with LogWriter(str(logdir / run)) as writer:
            _write_racer(writer, surface, race, optimizer, lr, positions, losses)
            scalar = scalar_summary.scalar_pb(LOSS_TAG, 0.0)  # a template: only the value changes
            for step, loss in enumerate(losses.tolist()):
                scalar.value[0].tensor.float_val[0] = loss
                writer.add(scalar, step=step)
        made.append({"run": run, "race": race, "optimizer": optimizer, "lr": lr})
    return made


def _counts(rng, positions: int, classes: int, accuracy: float, samples: int):
    """[P, K, K] counts: `samples` per position spread evenly over true classes."""
    import numpy as np

    per_class = max(samples // classes, 1)
    wrong = rng.binomial(per_class, 1 - accuracy, size=(positions, classes))
    spread = rng.multinomial(wrong, rng.dirichlet(np.ones(classes - 1)))  # [P, K, K-1]
    counts = np.zeros((positions, classes, classes), np.int64)
    counts[:, ~np.eye(classes, dtype=bool)] = spread.reshape(positions, -1)
    counts[:, np.arange(classes), np.arange(classes)] = per_class - wrong
    return counts


def write_confusion_run(
    logdir: Path,
    run: str,
    steps: int,
    positions: int,
    classes: int,
    rng,
    pool: list[bytes],
    examples_every: int = 1,
    images: int = 24,
) -> None:
    """One confusion run: a [P, K, K] matrix per step, example images, sequence accuracy."""
    import numpy as np
    from tensorboard.plugins.scalar import summary_v2 as scalar_summary

    from summaries import pb

    position_names = [f"digit {p + 1}" for p in range(positions)]
    class_names = [str(c) if c < 10 else chr(ord("A") + c - 10) for c in range(classes)]
    with pb.LogWriter(str(logdir / run)) as writer:
        for step in range(steps):
            accuracy = 0.5 + 0.45 * step / max(steps - 1, 1)
            counts = _counts(rng, positions, classes, accuracy, 25 * classes)
            writer.add(
                pb.confusion_pb(MATRIX_TAG, counts, positions=position_names, classes=class_names),
                step=step,
            )
            if step % examples_every == 0:
                off = np.argwhere(counts * (1 - np.eye(classes, dtype=np.int64)) > 0)
                cells = off[rng.permutation(len(off))[:images]].tolist()
                blobs = [pool[(step + j) % len(pool)] for j in range(len(cells))]
                writer.add(
                    pb.examples_pb(
                        EXAMPLES_TAG, cells, blobs, matrix_tag=MATRIX_TAG, cap_per_cell=4
                    ),
                    step=step,
                )
            writer.add(scalar_summary.scalar_pb(SEQUENCE_TAG, accuracy**positions), step=step)


def write_confusion_runs(logdir: Path, sizes: Sizes, seed: int = 1) -> list[str]:
    import numpy as np

    rng = np.random.default_rng(seed)
    pool = _png_pool(48, rng)
    runs = [f"captcha-{i}" for i in range(sizes.confusion_runs)]
    for run in runs:
        write_confusion_run(
            logdir, run, sizes.confusion_steps, sizes.positions, sizes.classes, rng, pool
        )
    return runs


def write_large(logdir: Path, sizes: Sizes, seed: int = 2) -> dict[str, Any]:
    """A long trajectory (one racer) and a wide 8 x 36 confusion series."""
    import numpy as np

    from demo_models.race.surfaces import SURFACES as ALL_SURFACES
    from summaries.pb import LogWriter

    rng = np.random.default_rng(seed)
    surface = ALL_SURFACES["rosenbrock"]
    race, run = "large-race", "large-race/adam"
    positions, losses = _path(surface, sizes.large_steps, rng, 0.7)
    with LogWriter(str(logdir / run)) as writer:
        _write_racer(writer, surface, race, "adam", 0.05, positions, losses)
    confusion_run = "large-captcha"
    write_confusion_run(
        logdir,
        confusion_run,
        sizes.large_confusion_steps,
        sizes.large_positions,
        sizes.large_classes,
        rng,
        _png_pool(48, rng),
        examples_every=max(sizes.large_confusion_steps // 20, 1),
        images=60,
    )
    return {"race": race, "run": run, "confusion_run": confusion_run}


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
        status, body = self.get(path)
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}: {body[:300]!r}")
        return json.loads(body)

    def rss_mb(self) -> float:
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
        ordered = sorted(self.times)
        return {
            "route": self.name,
            "family": self.family,
            "n": len(ordered),
            "p50_ms": 1e3 * statistics.median(ordered),
            "p95_ms": 1e3 * _percentile(ordered, 95),
            "cold_ms": None if self.cold is None else 1e3 * self.cold,
            "kb": self.bytes / 1024,
        }


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


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
    for i, run in enumerate(confusion_runs):
        steps = board.json(plugin + f"{CONFUSION}/series" + _q(run=run, tag=MATRIX_TAG))["steps"]
        for j, step in enumerate(steps[:: max(len(steps) // sampled, 1)][:sampled]):
            mode = ("count", "true", "predicted")[(i + j) % 3]
            matrix.append(
                plugin
                + f"{CONFUSION}/matrix"
                + _q(run=run, tag=MATRIX_TAG, step=step, normalize=mode)
            )
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
    return [c for c in cases if c.paths]


def measure(board: Board, cases: list[Case], rounds: int, seed: int = 0) -> None:
    """Warm every query once (recording each route's first time), then time shuffled rounds."""
    for case in cases:
        for i, path in enumerate(case.paths):
            status, body, seconds = board.timed_get(path)
            if status != 200:
                raise RuntimeError(f"{case.name}: {path}: HTTP {status}: {body[:300]!r}")
            if i == 0:
                case.cold = seconds
            case.bytes = max(case.bytes, len(body))
    rng = random.Random(seed)
    for r in range(rounds):
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


# -- browser ---------------------------------------------------------------------------------

CHROMIUM = os.environ.get("FLOWSCOPE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

# Polls (every animation frame) until `check()` is true; resolves with ms since `t0`.
_UNTIL = """
(check, t0, limit) => new Promise((resolve, reject) => {
  const tick = () => {
    let ok = false;
    try { ok = check(); } catch (err) { ok = false; }
    if (ok) return resolve(performance.now() - t0);
    if (performance.now() - t0 > limit) return reject(new Error("timed out"));
    requestAnimationFrame(tick);
  };
  tick();
})
"""

RACE_READY = """
(race) => {
  const app = window.flowscopeRace;
  return Boolean(app && app.race && app.race.race === race && app.board &&
    !document.getElementById('race-controls').hidden &&
    document.querySelectorAll('#race-leaderboard-card .lb-row').length >= app.racers.length);
}
"""


def _frame(page, board: Board, plugin: str, timeout_ms: int = 120_000):
    """Open TensorBoard on a plugin's tab; return (frame, ms from navigation to the frame)."""
    start = time.perf_counter()
    page.goto(f"{board.url}/#{plugin}", wait_until="domcontentloaded")
    handle = page.wait_for_selector(f'iframe[src*="name={plugin}"]', timeout=timeout_ms)
    return handle.content_frame(), 1e3 * (time.perf_counter() - start)


def _in_frame_ms(frame, ready_js: str, arg: Any, timeout_ms: int = 120_000) -> float:
    """ms from the frame's own navigation start until `ready_js(arg)` holds."""
    frame.wait_for_function(ready_js, arg=arg, timeout=timeout_ms, polling="raf")
    return float(frame.evaluate("performance.now()"))


def _select_ms(frame, selector: str, value: str, ready_js: str, arg: Any) -> float:
    """ms from changing a <select> until the page shows the choice (in-page clock)."""
    script = f"""
    async ([value, arg]) => {{
      const ready = {ready_js};
      const until = {_UNTIL};
      const t0 = performance.now();
      const select = document.querySelector({json.dumps(selector)});
      select.value = value;
      select.dispatchEvent(new Event('change'));
      await new Promise((r) => setTimeout(r, 0));
      return until(() => ready(arg), t0, 300000);
    }}"""
    return float(frame.evaluate(script, [value, arg]))


def _slide_ms(frame, selector: str, moves: int = 12) -> list[float]:
    """ms per slider move until two animation frames later (input handled and painted)."""
    script = f"""
    async (moves) => {{
      const slider = document.querySelector({json.dumps(selector)});
      const max = Number(slider.max), out = [];
      for (let i = 0; i < moves; i++) {{
        const t0 = performance.now();
        slider.value = String(Math.round(max * ((i * 7) % moves) / moves));
        slider.dispatchEvent(new Event('input'));
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        out.push(performance.now() - t0);
      }}
      return out;
    }}"""
    return [float(v) for v in frame.evaluate(script, moves)]


def open_pages(browser, board: Board, first_race: str, confusion_run: str) -> dict[str, Any]:
    """Open both Flowscope pages (each in its own tab); time their first render."""
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    errors: list[str] = []
    result: dict[str, Any] = {"context": context, "errors": errors}
    for name, plugin in (("race", RACE), ("confusion", CONFUSION)):
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.bring_to_front()
        frame, shell_ms = _frame(page, board, plugin)
        if name == "race":
            frame.wait_for_function(RACE_READY, arg=first_race, timeout=180_000, polling="raf")
        else:
            key = json.dumps([confusion_run, MATRIX_TAG], separators=(",", ":"))
            frame.wait_for_function(
                "(key) => document.getElementById('cm-run')?.value === key && "
                "document.querySelectorAll('svg.cm-heatmap').length > 0 && "
                "!document.querySelector('#cm-maps .cm-loading')",
                arg=key,
                timeout=180_000,
                polling="raf",
            )
        result[name] = {
            "page": page,
            "frame": frame,
            "shell_ms": shell_ms,
            "render_ms": float(frame.evaluate("performance.now()")),
        }
    return result


# -- the run -----------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowscope bench serve",
        description="Flowscope's routes, start-up and memory against TensorBoard's own, "
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
    parser.add_argument("--rounds", type=int, help="timed rounds (30; 4 with --quick)")
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
    extra = [f"--samples_per_plugin=scalars={max(sizes.race_steps, sizes.confusion_steps)}"]

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

    browser, playwright = None, None
    if not args.no_browser:
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
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
                opened = open_pages(
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
            _say(f"timing routes: {rounds} interleaved rounds ...")
            cases = build_cases(board, race_runs, confusion_runs, whatif, sizes.sampled_steps)
            measure(board, cases, rounds)
            results["routes"] = [case.summary() for case in cases]
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
        if browser is not None:
            browser.close()
            playwright.stop()
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
    from summaries.pb import DEFAULT_CHUNK

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
    from summaries.pb import DEFAULT_CHUNK

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
        "matrix": plugin
        + f"{CONFUSION}/matrix"
        + _q(run=large["confusion_run"], tag=MATRIX_TAG, normalize="true"),
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
        opened = open_pages(browser, board, races[0], runs[0])
        race_frame = opened["race"]["frame"]
        confusion_frame = opened["confusion"]["frame"]
        opened["race"]["page"].bring_to_front()  # background tabs get throttled frames
        out["race_select_ms"] = _select_ms(
            race_frame, "#race-picker", large["race"], RACE_READY, large["race"]
        )
        out["race_slide_ms"] = _slide_ms(race_frame, "#race-scrubber", sizes.slider_moves)
        key = json.dumps([large["confusion_run"], MATRIX_TAG], separators=(",", ":"))
        ready = (
            "(key) => document.getElementById('cm-run').value === key && "
            "document.querySelectorAll('svg.cm-heatmap').length >= "
            f"{sizes.large_positions} && !document.querySelector('#cm-maps .cm-loading')"
        )
        opened["confusion"]["page"].bring_to_front()
        out["confusion_select_ms"] = _select_ms(confusion_frame, "#cm-run", key, ready, key)
        out["confusion_slide_ms"] = _slide_ms(confusion_frame, "#cm-step", sizes.slider_moves)
        time.sleep(1)
        out["rss_pages_mb"] = board.rss_mb()
        out["page_errors"] = list(opened["errors"])
        opened["context"].close()
    peak = max(v for k, v in out.items() if k.startswith("rss_") and isinstance(v, float))
    out["growth_mb"] = peak - out["rss_before_mb"]
    out["growth_bound_mb"] = LARGE_GROWTH_BOUND_MB
    return out


# -- report ------------------------------------------------------------------------------------


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def report(results: dict[str, Any]) -> list[str]:
    """Human-readable lines with the ratios the targets are stated in."""
    lines = []
    s = results["sizes"]
    lines.append(
        f"logdir: {s['race_runs']} race runs x {s['race_steps']:,} steps (+ race/loss "
        f"scalars), {s['confusion_runs']} confusion runs x {s['confusion_steps']} steps "
        f"of {s['positions']} x {s['classes']} x {s['classes']} with images"
    )
    mode = "imports TensorFlow" if results["tensorflow_imported_by_tensorboard"] else "no TF"
    lines.append(
        f"TensorBoard --load_fast=true ({mode}); {results['rounds']} interleaved rounds, "
        "2 requests per route per round; ratios against the scalars route of the same family"
    )
    routes = results.get("routes", [])
    base = {r["family"]: r for r in routes if r["route"].startswith("scalars")}
    if routes:
        lines.append("")
        header = (
            f"{'route':26} {'p50 ms':>8} {'p95 ms':>8} {'first ms':>9} {'KB':>7} "
            f"{'p50 ratio':>9} {'p95 ratio':>9}"
        )
        lines.append(header)
        lines.append("-" * len(header))
        for r in routes:
            baseline = base.get(r["family"])
            ratio = _ratio(r["p95_ms"], baseline and baseline["p95_ms"])
            ratio50 = _ratio(r["p50_ms"], baseline and baseline["p50_ms"])
            if r["route"].startswith("scalars"):
                verdict = f"{'':>9} {'(baseline)':>9}"
            else:
                ok = ratio is not None and ratio <= P95_TARGET
                verdict = (
                    f"{ratio50:8.2f}x {ratio:8.2f}x  {'ok' if ok else 'OVER'} "
                    f"(target p95 <= {P95_TARGET}x)"
                )
            cold = "" if r["cold_ms"] is None else f"{r['cold_ms']:9.1f}"
            lines.append(
                f"{r['route']:26} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {cold:>9} "
                f"{r['kb']:7.1f} {verdict}"
            )
    if results.get("whatif_fresh_ms"):
        fresh = results["whatif_fresh_ms"]
        lines.append(
            f"race /whatif with a new learning rate (runs the optimizer for "
            f"{s['race_steps']:,} steps): {', '.join(f'{v:.0f}' for v in fresh)} ms "
            "(a computation, not held to the scalars target)"
        )
    starts = results["start_seconds"]
    if starts["with"] and starts["without"]:
        w, wo = statistics.median(starts["with"]), statistics.median(starts["without"])
        ratio = w / wo
        lines.append("")
        lines.append(
            f"start -> /data/plugins_listing (median of {len(starts['with'])}): with "
            f"Flowscope {w:.2f} s, without {wo:.2f} s: {ratio:.3f}x "
            f"({'ok' if ratio <= START_TARGET else 'OVER'}, target <= {START_TARGET}x; "
            f"difference {1e3 * (w - wo):+.0f} ms)"
        )
        lines.append(
            f"  spread: with {min(starts['with']):.2f}..{max(starts['with']):.2f} s, without "
            f"{min(starts['without']):.2f}..{max(starts['without']):.2f} s"
        )
    own = results.get("own_start_ms")
    if own and starts["without"]:
        share = statistics.median(own) / (10 * statistics.median(starts["without"]))
        lines.append(
            f"Flowscope's own start-up work (import its loaders and plugin modules, build both "
            f"plugins; fresh process, median of {len(own)}): {statistics.median(own):.0f} ms "
            f"= {share:.1f} % of the start without Flowscope"
        )
    if "with_ready_seconds" in results:
        lines.append(
            f"start -> every scalar point served: with {results['with_ready_seconds']:.1f}"
            f" s after the listing, without {results['without_ready_seconds']:.1f} s"
        )
    lines.append("")
    rss = [
        ("without Flowscope, data loaded", results.get("without_rss_idle_mb")),
        ("without Flowscope, Time Series page open", results.get("without_rss_page_mb")),
        ("with Flowscope, data loaded", results.get("with_rss_idle_mb")),
        ("with Flowscope, both pages open", results.get("with_rss_pages_mb")),
        ("with Flowscope, after the route timing", results.get("with_rss_after_routes_mb")),
    ]
    lines.append("TensorBoard process tree resident memory (Python + Rust data server):")
    for label, value in rss:
        if value is not None:
            lines.append(f"  {label:44} {value:8.0f} MiB")
    ratio = _ratio(results.get("with_rss_pages_mb"), results.get("without_rss_page_mb"))
    if ratio:
        lines.append(f"  with both Flowscope pages / without (its own page): {ratio:.2f}x")
    pages = results.get("pages")
    if pages:
        lines.append(
            f"pages: race rendered {pages['race']['render_ms']:.0f} ms after its iframe "
            f"started, confusion {pages['confusion']['render_ms']:.0f} ms"
        )
    if results.get("page_errors"):
        lines.append(f"PAGE ERRORS: {results['page_errors'][:3]}")
    large = results.get("large")
    if large:
        lines.append("")
        lines.append(
            f"large: {s['large_steps']:,}-step trajectory, {s['large_positions']} x "
            f"{s['large_classes']} confusion x {s['large_confusion_steps']:,} steps "
            f"(written in {large['write_seconds']:.0f} s, served "
            f"{large['load_seconds']:.0f} s later)"
        )
        for name, r in large["routes"].items():
            extra = ""
            if "total_points" in r:
                extra = f", {r['points']} of {r['total_points']:,} rows ({r['downsampling']})"
            if "total_steps" in r:
                extra = f", {r['steps']} of {r['total_steps']:,} steps"
            lines.append(
                f"  /{name:11} first {r['cold_ms']:8.0f} ms, then {r['warm_ms']:7.0f}"
                f" ms, {r['kb']:7.0f} KB{extra}"
            )
        for label, key in (
            ("before the large runs", "rss_before_mb"),
            ("large runs loaded", "rss_loaded_mb"),
            ("after their routes", "rss_routes_mb"),
            ("with both pages on them", "rss_pages_mb"),
        ):
            if key in large:
                lines.append(f"  tree RSS {label:26} {large[key]:8.0f} MiB")
        ok = large["growth_mb"] <= large["growth_bound_mb"]
        lines.append(
            f"  growth {large['growth_mb']:.0f} MiB: {'ok' if ok else 'OVER'} "
            f"(bound {large['growth_bound_mb']} MiB)"
        )
        if "race_select_ms" in large:
            slide_r, slide_c = large["race_slide_ms"], large["confusion_slide_ms"]
            lines.append(
                f"  race page: large race shown {large['race_select_ms']:.0f} ms after "
                f"picking it; scrubber move -> painted: median "
                f"{statistics.median(slide_r):.0f} ms, max {max(slide_r):.0f} ms"
            )
            lines.append(
                f"  confusion page: large run shown {large['confusion_select_ms']:.0f} "
                f"ms after picking it; step slider move -> painted: median "
                f"{statistics.median(slide_c):.0f} ms, max {max(slide_c):.0f} ms"
            )
        if large.get("page_errors"):
            lines.append(f"  PAGE ERRORS: {large['page_errors'][:3]}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the serving benchmark and print the ratios."""
    args = _parser().parse_args(argv)
    if (args.rounds is not None and args.rounds < 1) or (
        args.starts is not None and args.starts < 1
    ):
        print("flowscope bench serve: --rounds and --starts must be >= 1", file=sys.stderr)
        return 2
    if not args.no_browser and not Path(CHROMIUM).exists():
        print(
            f"flowscope bench serve: {CHROMIUM} not found (or pass --no-browser)", file=sys.stderr
        )
        return 2
    if args.workdir:
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        results = run(args, workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="flowscope-bench-serve-") as tmp:
            results = run(args, Path(tmp))
    print("\n".join(report(results)))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
