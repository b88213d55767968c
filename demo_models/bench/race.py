"""`flowscope bench race`: the race engine against the loops a user would write instead.

The race is every optimizer on every analytic surface (1,000 steps by default), run by the
engine as one compiled TensorFlow program, with XLA and without. The baselines:

* competent: one `tf.function` loop per racer, `apply_gradients` inside a `tf.range` loop,
  recording (x, y, loss) into a TensorArray (what a competent user writes), with XLA and
  without; its first calls trace (and compile) all 72 loops;
* naive: per racer, per step, a GradientTape and `optimizer.apply_gradients`, eagerly. It is
  timed on `--eager-steps` steps (at least 100) of every racer, each racer's first step
  (Keras building its slots) left out, and scaled linearly to `--steps` (its cost per step
  is constant: no state grows), which the output says.

Every variant is timed `--repeats` times in fresh programs (a first call traces and
compiles; a second call runs what is compiled), in a rotating order. A ratio is computed
per repeat (side by side) and printed as its median with the range over repeats; a range
that includes 1.0x is reported as within noise.

`--whatif` measures the race page's what-if instead, over the real TensorBoard, per
optimizer, with p50 and p90 and the load before and after:

* release: a what-if with a learning rate (and momentum) never asked before, through the
  HTTP route on a warm server (`/warmup` finished), `--requests` per optimizer in each of
  `--rounds` rounds (the spread of the rounds' medians is printed), beside a trivial route;
* drag: in Chromium, the race page's learning-rate slider moved to `--drag-values` new
  values per racer, each timed with performance.now() from the input event (dispatched in
  a requestAnimationFrame callback, where the browser delivers a drag's input) to the end
  of the frame that paints it (a task posted from that callback runs after the paint);
* `--compare`: the same figures first on a TensorBoard as before issue 25
  (FLOWSCOPE_WHATIF_XLA=0: the graph executor; the page's families switched off, so a drag
  asks the server per value and its figure is input to the redrawn answer);
* the first what-if after TensorBoard starts, without warm-up and with `/warmup` (asked
  just before, and after it finished), each in a fresh TensorBoard (`--no-first`: skip).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

from demo_models.runtime import CliError, command_parser

MIN_EAGER_STEPS = 100
AGREE_STEPS = 20
PLUGIN = "optimizer_race"


def _parser() -> argparse.ArgumentParser:
    parser = command_parser("bench race", __doc__)
    parser.add_argument("--steps", type=int, default=1000, help="steps of the race (1000)")
    parser.add_argument(
        "--eager-steps",
        type=int,
        default=MIN_EAGER_STEPS,
        help=f"steps the naive eager loop is timed on (at least {MIN_EAGER_STEPS}; default "
        f"{MIN_EAGER_STEPS}), then scaled to --steps; 0 leaves it out",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed repeats of every compiled variant (3)"
    )
    parser.add_argument(
        "--no-competent-xla",
        action="store_true",
        help="leave out the competent loops with XLA (72 XLA compilations per repeat)",
    )
    parser.add_argument(
        "--whatif",
        action="store_true",
        help="measure the page's what-if over the real TensorBoard instead",
    )
    parser.add_argument(
        "--surface", default="rosenbrock", help="--whatif: the race's surface (rosenbrock)"
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=15,
        help="--whatif: timed what-ifs per optimizer on the warm server (15)",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="--whatif: rounds of --requests per optimizer (3)"
    )
    parser.add_argument(
        "--drag-values",
        type=int,
        default=30,
        help="--whatif: slider values per racer in Chromium (30; 0 leaves the drag out)",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="--whatif: also measure the page and server as before issue 25, first",
    )
    parser.add_argument(
        "--no-first", action="store_true", help="--whatif: skip the first-what-if figures"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    return parser


# -- the loops compared ------------------------------------------------------------------------
def competent_loops(racers: list, jit: bool) -> list:
    """One `tf.function` per racer: tape + `apply_gradients` inside a `tf.range` loop."""
    import tensorflow as tf

    from summaries.race import optimizers as opts
    from summaries.race.surfaces import SURFACES

    loops = []
    for racer in racers:
        surf = SURFACES[racer.surface]
        params = tf.Variable(surf.initial_params(racer.start))
        optimizer = opts.make(racer.optimizer, racer.hp)

        def loop(steps, surf=surf, params=params, optimizer=optimizer):
            rows = tf.TensorArray(tf.float32, size=steps + 1)
            for t in tf.range(steps + 1):  # record, then update (the last update unused)
                with tf.GradientTape() as tape:
                    loss = surf.tf_loss(params)
                rows = rows.write(t, tf.concat([surf.tf_position(params), [loss]], axis=0))
                optimizer.apply_gradients([(tape.gradient(loss, params), params)])
            return rows.stack()

        loops.append(tf.function(loop, jit_compile=jit))
    return loops


def naive_eager(racers: list, steps: int) -> tuple[list, float]:
    """The loop one writes first: per racer, per step, tape + apply_gradients (eager).

    Returns each racer's rows (x, y, loss) and the seconds spent on steps 2..`steps`.
    """
    import numpy as np
    import tensorflow as tf

    from summaries.race import optimizers as opts
    from summaries.race.surfaces import SURFACES

    out, seconds = [], 0.0
    for racer in racers:
        surf = SURFACES[racer.surface]
        params = tf.Variable(surf.initial_params(racer.start))
        optimizer = opts.make(racer.optimizer, racer.hp)
        rows = []
        for step in range(steps):
            if step == 1:
                start = time.perf_counter()
            with tf.GradientTape() as tape:
                loss = surf.tf_loss(params)
            rows.append((*surf.tf_position(params).numpy(), float(loss)))
            optimizer.apply_gradients([(tape.gradient(loss, params), params)])
        seconds += time.perf_counter() - start
        out.append(np.array(rows))
    return out, seconds


def _timed(fn) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def time_engine(racers: list, steps: int, jit: bool) -> tuple[list, float, float]:
    """(trajectories, first call with tracing, second call) of a fresh engine program."""
    from summaries.race import engine

    def first():
        program = engine.Program(racers, jit=jit)  # building it is part of the first call
        return program, program.run(steps)

    (program, out), first_s = _timed(first)
    _, run_s = _timed(lambda: program.run(steps))
    return out, first_s, run_s


def time_competent(racers: list, steps: int, jit: bool) -> tuple[list, float, float]:
    """(rows per racer, all first calls with tracing, all second calls) of fresh loops."""
    import tensorflow as tf

    def first():
        loops = competent_loops(racers, jit)
        return loops, [f(tf.constant(steps)).numpy() for f in loops]

    (loops, rows), first_s = _timed(first)
    _, run_s = _timed(lambda: [f(tf.constant(steps)).numpy() for f in loops])
    return rows, first_s, run_s


def _agreement(trajectories: list, others: list, steps: int) -> float:
    """Largest relative position difference over the rows both computed (up to `steps`)."""
    import numpy as np

    worst = 0.0
    for t, rows in zip(trajectories, others, strict=True):
        m = min(steps, len(t.positions), len(rows))
        diff = np.abs(t.positions[:m] - rows[:m, :2]) / (1 + np.abs(rows[:m, :2]))
        if np.isfinite(diff).any():
            worst = max(worst, float(np.nanmax(diff)))
    return worst


def _summary(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def _ratio_text(ratios: list[float]) -> str:
    med, lo, hi = _summary(ratios)
    text = f"{med:8.1f}x  [{lo:.1f}-{hi:.1f}]"
    if len(ratios) > 1 and lo <= 1.0 <= hi:
        text += "  within noise"
    elif med < 1.0:
        text += "  (the engine is slower)"
    return text


def race_bench(args: argparse.Namespace) -> dict[str, Any]:
    """Time every variant side by side; print and return the figures."""
    from summaries.race import engine
    from summaries.race.optimizers import OPTIMIZERS
    from summaries.race.surfaces import SURFACES

    analytic = [name for name, s in SURFACES.items() if s.analytic]
    racers = [engine.Racer.make(o, s) for s in analytic for o in OPTIMIZERS]
    n = len(racers)
    print(f"race: {len(OPTIMIZERS)} optimizers x {len(analytic)} analytic surfaces = {n} racers")
    print(f"      x {args.steps} steps = {n * args.steps:,} optimizer steps; load {_load()}")
    variants = {
        "engine": lambda: time_engine(racers, args.steps, jit=False),
        "engine XLA": lambda: time_engine(racers, args.steps, jit=True),
        "competent": lambda: time_competent(racers, args.steps, jit=False),
    }
    if not args.no_competent_xla:
        variants["competent XLA"] = lambda: time_competent(racers, args.steps, jit=True)
    names = list(variants)
    first: dict[str, list[float]] = {k: [] for k in names}
    run: dict[str, list[float]] = {k: [] for k in names}
    outputs: dict[str, Any] = {}
    for r in range(args.repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotating order
            out, f, s = variants[name]()
            first[name].append(f)
            run[name].append(s)
            outputs.setdefault(name, out)
        print(f"  repeat {r + 1}/{args.repeats} done; load {_load()}", flush=True)

    eager_total = None
    if args.eager_steps:
        eager_rows, eager_s = naive_eager(racers, args.eager_steps)
        eager_total = eager_s / (args.eager_steps - 1) * args.steps
    trajectories = outputs["engine"]

    print(f"\n{'seconds (median [min-max] over ' + str(args.repeats) + ' repeats)':52} "
          f"{'first call':>24} {'compiled run':>24}")  # fmt: skip
    labels = {
        "engine": "engine: one program, no XLA",
        "engine XLA": "engine: one program, XLA",
        "competent": f"competent: {n} tf.function loops, no XLA",
        "competent XLA": f"competent: {n} tf.function loops, XLA",
    }
    for name in names:
        cells = []
        for values in (first[name], run[name]):
            med, lo, hi = _summary(values)
            cells.append(f"{med:8.3f} [{lo:.3f}-{hi:.3f}]")
        print(f"{labels[name]:52} {cells[0]:>24} {cells[1]:>24}")
    if eager_total is not None:
        print(
            f"{f'naive eager: steps 2-{args.eager_steps} of every racer, measured':52} "
            f"{eager_s:8.3f}"
        )
        print(
            f"{f'naive eager: {args.steps} steps, scaled linearly':52} {eager_total:8.3f}"
            f"   (from {args.eager_steps} measured steps)"
        )

    print("\nspeed-up of the engine, paired per repeat: median [range]")
    ratios: dict[str, list[float]] = {}
    for base in [b for b in names if b.startswith("competent")]:
        for mine in ("engine", "engine XLA"):
            for when, table in (("first call", first), ("compiled run", run)):
                key = f"{mine} vs {base}, {when}"
                ratios[key] = [b / m for b, m in zip(table[base], table[mine], strict=True)]
                print(f"  {key:52} {_ratio_text(ratios[key])}")
    if eager_total is not None:
        for mine in ("engine", "engine XLA"):
            for when, table in (("first call", first), ("compiled run", run)):
                key = f"{mine} vs naive eager (scaled), {when}"
                ratios[key] = [eager_total / m for m in table[mine]]
                print(f"  {key:52} {_ratio_text(ratios[key])}")

    # float32 programs that order their arithmetic differently drift apart on chaotic
    # paths over hundreds of steps; over the first steps they must agree closely
    agree = {"competent": _agreement(trajectories, outputs["competent"], AGREE_STEPS)}
    if eager_total is not None:
        agree["naive eager"] = _agreement(trajectories, eager_rows, AGREE_STEPS)
    print(
        f"\nlargest relative position difference from the engine over the first {AGREE_STEPS} "
        "steps: " + ", ".join(f"{k} {v:.1e}" for k, v in agree.items())
    )
    return {
        "racers": n,
        "steps": args.steps,
        "first_s": first,
        "run_s": run,
        "naive_eager_measured_s": eager_s if eager_total is not None else None,
        "naive_eager_scaled_s": eager_total,
        "ratios": ratios,
        "agreement": agree,
    }


# -- the what-if over the real TensorBoard ------------------------------------------------------
def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


class _Board:
    """A real TensorBoard with Flowscope over `logdir`, timed GETs."""

    def __init__(self, logdir: Path, env: dict[str, str] | None = None):
        from demo_models.bench.tensorboard import TensorBoardProcess, tensorboard_command

        self.process = TensorBoardProcess(
            logdir,
            command=tensorboard_command(flowscope=True, tensorflow=True),
            env={"TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
            log_path=logdir.parent / "tensorboard-whatif.log",
        )

    def get(self, route: str, **params: Any) -> tuple[Any, float]:
        """GET a route ("/data/..." or a race route name): (JSON, seconds)."""
        path = route if route.startswith("/") else f"/data/plugin/{PLUGIN}/{route}"
        if params:
            path += "?" + urllib.parse.urlencode(params)
        start = time.perf_counter()
        status, body = self.process.get(path, timeout=600)
        took = time.perf_counter() - start
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}: {body[:300]!r}")
        return json.loads(body), took

    def race(self, name: str, count: int, timeout: float = 120) -> dict:
        """The race once the server lists all `count` racers of it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            races, _ = self.get("races")
            found = next((r for r in races["races"] if r["race"] == name), None)
            if found and len(found["racers"]) == count:
                return found
            time.sleep(0.1)
        raise RuntimeError(f"TensorBoard did not list race {name!r} within {timeout} s")

    def wait_warm(self, race: str, state: dict | None = None) -> None:
        """Poll /warmup until `race`'s what-ifs are prepared (`state`: its last answer, if
        already asked)."""
        if state is None:
            state, _ = self.get("warmup", race=race)
        while state["state"] == "warming":
            time.sleep(0.05)
            state, _ = self.get("warmup", race=race)

    def stop(self) -> None:
        self.process.stop()


def _new_lr(logged: float, i: int) -> float:
    return logged * (0.5 + 0.037 * i)  # a value never asked before


def _whatif_params(racer: dict, i: int, steps: int, points: int) -> dict[str, Any]:
    """What the page sends: every path `steps` long, whatever the logged racer did."""
    hp = racer["hyperparameters"]
    params = {
        "racer": racer["id"],
        "learning_rate": _new_lr(hp["learning_rate"], i),
        "steps": steps,
        "points": points,
    }
    if "momentum" in hp and i % 2:  # every other request moves the momentum too
        params["momentum"] = round(0.3 + 0.011 * i, 4)
    return params


def whatif_bench(args: argparse.Namespace) -> dict[str, Any]:
    """Release (route) and drag (Chromium) figures per optimizer, before (--compare) and
    after; then the first what-if with and without warm-up (fresh servers)."""
    from demo_models.bench.serve import page_points
    from demo_models.race import cli
    from summaries.race.optimizers import OPTIMIZERS

    points = page_points()  # the rows per path the page asks for

    workdir = Path(tempfile.mkdtemp(prefix="flowscope-bench-whatif-"))
    logdir = workdir / "logs"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        cli.main(["--logdir", str(logdir), "--surfaces", args.surface, "--steps", str(args.steps)])
    name = f"race-{args.surface}"
    print(
        f"what-if over the real TensorBoard: race {name}, {len(OPTIMIZERS)} racers x "
        f"{args.steps} steps; load {_load()}"
    )
    out: dict[str, Any] = {"race": name, "steps": args.steps, "first": {}, "modes": {}}
    modes = ["before", "after"] if args.compare else ["after"]
    for mode in modes:
        out["modes"][mode] = _measure(args, logdir, name, points, before=mode == "before")
    _print_table(out["modes"], list(OPTIMIZERS))
    if not args.no_first:
        out["first"] = _first_whatifs(args, logdir, name, points)
    return out


def _measure(
    args: argparse.Namespace, logdir: Path, name: str, points: int, before: bool
) -> dict[str, Any]:
    """One TensorBoard: release figures over the route, then drag figures in Chromium."""
    from summaries.race.optimizers import OPTIMIZERS

    label = "before (graph executor, no families)" if before else "after (XLA, families)"
    env = {"FLOWSCOPE_WHATIF_XLA": "0"} if before else {}
    figures: dict[str, Any] = {"load_before": _load()}
    board = _Board(logdir, env)
    try:
        race = board.race(name, len(OPTIMIZERS))
        board.wait_warm(name)
        trivial: list[float] = []
        per: dict[str, list[float]] = {}
        medians: dict[str, list[float]] = {}
        for r in range(args.rounds):
            this_round: dict[str, list[float]] = {}
            for i in range(args.requests):
                for racer in race["racers"]:
                    k = 2 + r * args.requests + i
                    params = _whatif_params(racer, k, args.steps, points)
                    _, took = board.get("whatif", race=name, **params)
                    this_round.setdefault(racer["optimizer"], []).append(took * 1000)
                    trivial.append(board.get("/data/plugins_listing")[1] * 1000)
            for opt, values in this_round.items():
                per.setdefault(opt, []).extend(values)
                medians.setdefault(opt, []).append(statistics.median(values))
        figures["release_ms"] = per
        figures["release_round_medians_ms"] = medians
        figures["trivial_ms"] = trivial
        figures["load_mid"] = _load()
        if args.drag_values:
            figures["drag_ms"] = _drag(board, name, race, args.drag_values, families=not before)
    finally:
        board.stop()
    figures["load_after"] = _load()
    print(
        f"\n  {label}: load {figures['load_before']} before, {figures['load_after']} after; "
        f"trivial route p50 {_pct(trivial, 50):.1f} ms"
    )
    return figures


# In the page: the families loaded (after: the drag draws from them; before: none, every
# value asks the server as the page did before issue 25).
_FAMILIES_READY = """
async ([families]) => {
  const app = window.flowscopeRace;
  if (!families) { app.familyLoad?.abort(); app.families = new Map(); return true; }
  const wanted = app.racers.filter((r) => r.rerunnable);
  for (let i = 0; i < 2400 && !wanted.every((r) => app.families.has(r.id)); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  return wanted.every((r) => app.families.has(r.id));
}
"""

# Per value: the input event dispatched in a requestAnimationFrame callback (where the
# browser delivers a drag's input), timed to the end of the frame that paints the redrawn
# path (a task posted from the callback runs after that frame's paint). Without families
# the redraw waits for the server's answer: timed to the frame after it.
_DRAG_PAINT = """
async ([optimizer, values, families]) => {
  const app = window.flowscopeRace;
  const racer = app.racers.find((r) => r.optimizer === optimizer);
  const input = racer.ui.lrSlider;
  const out = [];
  const work = [];
  let approx = 0;
  const frame = () => new Promise((r) => requestAnimationFrame(r));
  const afterPaint = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const redraw = app.redrawRacer.bind(app);
  try {
    for (const v of values) {
      await frame();
      let t0 = 0;
      let drawn = null;
      if (!families) {
        drawn = new Promise((resolve, reject) => {
          app.redrawRacer = (r) => {
            redraw(r);
            if (r === racer && r.whatif && !r.inflight) resolve();
          };
          setTimeout(() => reject(new Error(`no redraw for ${v}`)), 60000);
        });
      }
      await new Promise((resolve) => requestAnimationFrame(() => {
        t0 = performance.now();
        input.value = String(v);
        input.dispatchEvent(new Event('input'));
        work.push(performance.now() - t0);
        setTimeout(resolve, 0);
      }));
      if (drawn) { await drawn; await afterPaint(); }
      out.push(performance.now() - t0);
      if (racer.approx) approx++;
    }
    input.dispatchEvent(new Event('change'));
  } finally {
    app.redrawRacer = redraw;
  }
  return {ms: out, approx, work};
}
"""


def _drag(board: _Board, name: str, race: dict, count: int, families: bool) -> dict[str, Any]:
    """Per optimizer: input-to-paint ms of `count` slider values in Chromium."""
    from demo_models.bench.serve_browser import RACE_READY, _frame, chromium, select_ms

    per: dict[str, Any] = {}
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1400, "height": 950}).new_page()
        frame, _ = _frame(page, board.process, PLUGIN)
        frame.wait_for_function(RACE_READY, arg=name, timeout=180_000, polling="raf")
        if frame.eval_on_selector("#race-picker", "s => s.value") != name:
            select_ms(frame, "#race-picker", name, RACE_READY, name)
        if not frame.evaluate(_FAMILIES_READY, [families]):
            raise RuntimeError("the page did not load the racers' families within 240 s")
        for racer in race["racers"]:
            logged = math.log10(racer["hyperparameters"]["learning_rate"])
            # a decade and a half below to half a decade above, never the logged value
            values = [logged - 1.5 + 2.0 * (k + 0.25) / count for k in range(count)]
            got = frame.evaluate(_DRAG_PAINT, [racer["optimizer"], values, families])
            per[racer["optimizer"]] = got["ms"]
            per[racer["optimizer"] + ":approximate"] = got["approx"]
            per[racer["optimizer"] + ":handler"] = got["work"]
            frame.evaluate(
                "o => window.flowscopeRace.resetWhatif("
                "window.flowscopeRace.racers.find((r) => r.optimizer === o))",
                racer["optimizer"],
            )
    return per


def _pct(values: list[float], q: float) -> float:
    from demo_models.bench.stats import nearest_rank

    return nearest_rank(sorted(values), q)


def _print_table(modes: dict[str, Any], optimizers: list[str]) -> None:
    """Per optimizer: drag p50/p90 and release p50/p90 (ms), per mode, with the spread."""
    print("\n  ms per optimizer: p50 / p90 (release: [min-max of the rounds' medians])")
    head = f"  {'optimizer':10}"
    for mode in modes:
        head += f" {mode + ' drag':>16} {mode + ' release':>28}"
    print(head)
    for opt in optimizers:
        line = f"  {opt:10}"
        for figures in modes.values():
            drag = figures.get("drag_ms", {}).get(opt)
            cell = "-" if not drag else f"{_pct(drag, 50):.1f} / {_pct(drag, 90):.1f}"
            line += f" {cell:>16}"
            rel = figures["release_ms"].get(opt)
            med = figures["release_round_medians_ms"].get(opt, [0])
            cell = (
                f"{_pct(rel, 50):.1f} / {_pct(rel, 90):.1f} [{min(med):.0f}-{max(med):.0f}]"
                if rel
                else "-"
            )
            line += f" {cell:>28}"
        print(line)
    for mode, figures in modes.items():
        approx = {k: v for k, v in figures.get("drag_ms", {}).items() if k.endswith(":approximate")}
        if approx and mode == "after":
            shown = sum(approx.values())
            work = [v for k, vs in figures["drag_ms"].items() if k.endswith(":handler") for v in vs]
            print(
                f"  {mode}: {shown} of the drag's redraws drew from a family (no request); "
                f"the input handler itself (redraw of path, loss and leaderboard): p50 "
                f"{_pct(work, 50):.1f} ms, p90 {_pct(work, 90):.1f} ms"
            )
        print(
            f"  {mode}: load {figures['load_before']} before, {figures['load_mid']} after the "
            f"route figures, {figures['load_after']} at the end"
        )


def _first_whatifs(
    args: argparse.Namespace, logdir: Path, name: str, points: int
) -> dict[str, Any]:
    """The first what-if after TensorBoard starts (fresh servers), per warm-up mode."""
    from summaries.race.optimizers import OPTIMIZERS

    probe = "adam" if "adam" in OPTIMIZERS else next(iter(OPTIMIZERS))
    out: dict[str, Any] = {}
    for mode in ("none", "asked", "done"):
        board = _Board(logdir)
        try:
            race = board.race(name, len(OPTIMIZERS))
            racer = next(r for r in race["racers"] if r["optimizer"] == probe)
            figures: dict[str, float] = {"tensorboard_start_s": board.process.start_seconds}
            if mode != "none":
                state, figures["warmup_answer_s"] = board.get("warmup", race=name)
                began = time.perf_counter()
                if mode == "done":  # the user moves a slider after warm-up finished
                    board.wait_warm(name, state)
                    figures["warmup_done_s"] = time.perf_counter() - began
            params = _whatif_params(racer, 1, args.steps, points)
            _, figures["first_whatif_s"] = board.get("whatif", race=name, **params)
            out[mode] = figures
            print(f"  first what-if ({probe}), {_MODES[mode]:38} " + _fmt_figures(figures))
        finally:
            board.stop()
    return out


_MODES = {
    "none": "without warm-up:",
    "asked": "/warmup asked just before it:",
    "done": "after /warmup finished:",
}


def _fmt_figures(figures: dict[str, float]) -> str:
    names = {
        "first_whatif_s": "what-if",
        "warmup_answer_s": "/warmup answered in",
        "warmup_done_s": "warm-up took",
        "tensorboard_start_s": "(TensorBoard start",
    }
    parts = [f"{names[k]} {v:.3f} s" for k, v in figures.items() if k != "tensorboard_start_s"]
    return (
        ", ".join(parts)
        + f"  {names['tensorboard_start_s']} {figures['tensorboard_start_s']:.1f} s)"
    )


def main(argv: list[str]) -> int:
    """Entry point of `flowscope bench race`."""
    if any(a == "--model" or a.startswith("--model=") for a in argv):  # your own model
        from demo_models.bench import race_model

        return race_model.main(argv)
    args = _parser().parse_args(argv)
    if args.steps < 2:
        raise CliError(f"--steps must be at least 2, got {args.steps}")
    if args.eager_steps and not MIN_EAGER_STEPS <= args.eager_steps:
        raise CliError(f"--eager-steps must be 0 or at least {MIN_EAGER_STEPS}")
    if args.repeats < 1 or args.requests < 1 or args.rounds < 1:
        raise CliError("--repeats, --requests and --rounds must be at least 1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.whatif:
        from summaries.race.surfaces import SURFACES

        if args.surface not in SURFACES or not SURFACES[args.surface].analytic:
            analytic = ", ".join(n for n, s in SURFACES.items() if s.analytic)
            raise CliError(f"--surface must be an analytic surface ({analytic})")
        figures = whatif_bench(args)
    else:
        figures = race_bench(args)
    if args.json:
        args.json.write_text(json.dumps({"load": _load(), **figures}, indent=1))
    return 0
