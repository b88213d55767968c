"""`flowscope race`: race real Keras optimizers over loss surfaces and log the race.

Each surface makes one race (``race-<surface>``, or ``tuned-<surface>`` with --tune), written
as ONE TensorBoard run ``<race>`` (format version 3, so a race adds one run to TensorBoard's
run lists, not one per optimizer): the surface it is raced on (`race/surface`) and, per
optimizer, its whole trajectory (`race/trajectory/<optimizer>`) and its loss per step
(`race/loss/<optimizer>`, side by side in the Scalars tab's `race` section, and on one chart
in the Custom Scalars tab).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from demo_models.runtime import CliError, command_parser, progress, writable_dir
from summaries.pb import LogWriter

DEFAULT_STEPS = 1000
GRID = 101  # surface grid resolution (analytic surfaces)
GRID_MODEL = 41  # nn_plane: each grid point is a forward pass of the network


def _parser() -> argparse.ArgumentParser:
    from summaries.race.engine import XLA_MIN_STEPS
    from summaries.race.optimizers import OPTIMIZERS
    from summaries.race.surfaces import SURFACES

    parser = command_parser(
        "race",
        "Race real Keras optimizers over loss surfaces and log the race for "
        "TensorBoard's Optimizer Race page. Re-running a race replaces its logs.",
        epilog="Your own Keras model: flowscope race --model FILE.keras --data FILE.npz "
        "(its options: flowscope race --model FILE --help; see docs/race.md).",
    )
    parser.add_argument("--logdir", default="runs", help="log directory (default: runs)")
    _add_names(parser, "--surfaces", "S", SURFACES, "surfaces to race on")
    _add_names(parser, "--optimizers", "O", OPTIMIZERS, "optimizers to race")
    parser.add_argument(
        "--steps", type=int, default=DEFAULT_STEPS, help=f"updates per racer ({DEFAULT_STEPS})"
    )
    parser.add_argument(
        "--hp",
        action="append",
        default=[],
        metavar="OPT.NAME=VALUE",
        help="override a hyper-parameter, e.g. --hp adam.learning_rate=0.05 (repeatable)",
    )
    parser.add_argument(
        "--tune",
        action="store_true",
        help="tune each optimizer's learning rate (and momentum) per surface first, with the "
        "same trial budget for every optimizer",
    )
    parser.add_argument(
        "--trials", type=int, default=None, help="trials per optimizer and surface with --tune"
    )
    parser.add_argument(
        "--name", default=None, help="race name prefix (default: race, or tuned with --tune)"
    )
    parser.add_argument(
        "--xla",
        choices=("auto", "on", "off"),
        default="auto",
        help=f"XLA-compile the race: auto (default) does from {XLA_MIN_STEPS} steps, where "
        "the faster steps repay the longer compilation",
    )
    return parser


def _add_names(
    parser: argparse.ArgumentParser, flag: str, metavar: str, known: dict, what: str
) -> None:
    """An option naming some of `known` (default: all of them); `_check_names` checks it."""
    parser.add_argument(
        flag,
        nargs="+",
        default=list(known),
        metavar=metavar,
        help=f"{what} (default: all): " + ", ".join(known),
    )


def _check_names(kind: str, given: list[str], known: dict) -> list[str]:
    unknown = [n for n in given if n not in known]
    if unknown:
        raise CliError(f"unknown {kind}: {', '.join(unknown)} (choose from {', '.join(known)})")
    return list(dict.fromkeys(given))  # keep order, drop repeats


def main(argv: list[str]) -> int:
    """Entry point of `flowscope race`."""
    if any(a == "--model" or a.startswith("--model=") for a in argv):  # your own model
        from demo_models.race import own_model

        return own_model.main(argv)
    from summaries.race import optimizers as opts
    from summaries.race import tuning
    from summaries.race.engine import MAX_STEPS
    from summaries.race.surfaces import SURFACES

    began = time.perf_counter()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    _race_runtime()
    args = _parser().parse_args(argv)
    surfaces = _check_names("surface", args.surfaces, SURFACES)
    names = _check_names("optimizer", args.optimizers, opts.OPTIMIZERS)
    if not 1 <= args.steps <= MAX_STEPS:
        raise CliError(f"--steps must be between 1 and {MAX_STEPS}, got {args.steps}")
    if args.trials is not None and not args.tune:
        raise CliError("--trials needs --tune")
    trials = tuning.DEFAULT_TRIALS if args.trials is None else args.trials
    if args.tune and trials < 2:
        raise CliError(f"--trials must be at least 2, got {trials}")
    prefix = args.name or ("tuned" if args.tune else "race")
    if not prefix.replace("-", "").replace("_", "").isalnum():
        raise CliError(f"--name must be letters, digits, - or _, got {prefix!r}")
    try:
        overrides = opts.parse_overrides(args.hp)
    except (TypeError, ValueError) as exc:
        raise CliError(str(exc)) from None
    logdir = writable_dir(args.logdir, "--logdir")

    imported = _import_keras()
    _print_settings(names, surfaces, overrides, args, trials)
    racing = time.perf_counter()
    results = run(
        names,
        surfaces,
        args.steps,
        overrides=overrides,
        tune=args.tune,
        trials=trials,
        jit={"auto": None, "on": True, "off": False}[args.xla],
    )
    race_seconds = time.perf_counter() - racing
    for surface in surfaces:
        race_name = f"{prefix}-{surface}"
        rows = [r for r in results if r["trajectory"].racer.surface == surface]
        print_leaderboard(race_name, SURFACES[surface], rows)
    writing = time.perf_counter()
    written = write_logs(logdir, prefix, results, trials if args.tune else None)
    print(
        f"\nwrote {len(results)} racers as {written} runs (one per race) under {logdir}; "
        f"view them with: tensorboard --logdir {logdir}"
    )
    done = time.perf_counter()
    print(
        f"total {done - began:.1f} s to written logs: importing TensorFlow {imported:.1f} s, "
        f"racing {race_seconds:.2f} s (tracing included), writing {done - writing:.1f} s"
    )
    return 0


# How TensorFlow runs the race's thousands of tiny ops (docs/benchmarks.md, "The first
# race"): oneDNN's kernels cost more than they save on nn_plane's small batched matmuls, and
# one thread spares handing every op between threads, which a busy machine makes slow.
RUNTIME = {
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
}


def _race_runtime() -> None:
    """Set RUNTIME (a variable the user set wins) when this process is `flowscope race`
    itself and TensorFlow has not started: TensorFlow reads them once, as it starts, and
    they are the process's, so a caller's process (the tour, a test) is left as it is."""
    if sys.argv[1:2] != ["race"] or "tensorflow" in sys.modules:
        return
    for name, value in RUNTIME.items():
        os.environ.setdefault(name, value)


def _import_keras() -> float:
    """Import Keras (and TensorFlow) now, so that the total time shows what it costs."""
    started = time.perf_counter()
    import keras  # noqa: F401

    return time.perf_counter() - started


def run(
    names: list[str],
    surfaces: list[str],
    steps: int,
    *,
    overrides: dict[str, dict[str, Any]] | None = None,
    tune: bool = False,
    trials: int | None = None,
    jit: bool | None = None,
) -> list[dict[str, Any]]:
    """Race (or tune, then keep the best trials); one dict per racer with its metrics."""
    from summaries.race import engine, tuning

    overrides = overrides or {}
    started = time.perf_counter()
    if tune:
        budget = trials or tuning.DEFAULT_TRIALS
        count = len(surfaces) * budget
        _status(f"tuning: {count} trials per optimizer, one compiled program per optimizer")
        tuned = []
        for name in progress(names, "tuning"):
            tuned += tuning.tune([name], surfaces, steps, budget, overrides, jit=jit)
        results = [
            {"trajectory": t.best, "tuning": t.info(budget, tuning.SEED), "at_edge": t.at_edge}
            for t in tuned
        ]
    else:
        racers = [
            engine.Racer.make(name, surface, overrides.get(name))
            for surface in surfaces
            for name in names
        ]
        _status(f"racing {len(racers)} racers x {steps} steps in one compiled program ...")
        results = [{"trajectory": t, "tuning": None} for t in engine.race(racers, steps, jit=jit)]
    for r in results:
        r["metrics"] = tuning.metrics_of(r["trajectory"])
    _status(f"raced in {time.perf_counter() - started:.2f} s (tracing and compilation included)")
    return results


def _status(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.{digits}g}"
    return str(value)


def _print_settings(names, surfaces, overrides, args, trials) -> None:
    from summaries.race import optimizers as opts
    from summaries.race import tuning
    from summaries.race.surfaces import SURFACES

    print(f"Optimizer race: {len(names)} optimizers x {len(surfaces)} surfaces, {args.steps} steps")
    print("\nHyper-parameters (Flowscope's defaults for these surfaces; change with --hp):")
    for name in names:
        spec = opts.get_spec(name)
        hp = opts.resolve(name, overrides.get(name))
        fixed = "".join(f", {k}={v}" for k, v in spec.fixed.items() if v)
        settings = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in hp.items()
        )
        print(f"  {spec.title:9s} keras.optimizers.{spec.keras_class}({settings}{fixed})")
    for surface in surfaces:
        for name, hp in SURFACES[surface].defaults.items():
            if name in names and name not in overrides:
                print(f"  on {surface}: {opts.get_spec(name).title} uses {hp}")
    if args.tune:
        print(f"\nTuning: {trials} trials per optimizer and surface")
        print(
            "  search space: learning_rate log-uniform in [{:g}, {:g}]; momentum in [{:g}, {:g}]"
            " where the optimizer has one".format(*tuning.LEARNING_RATE, *tuning.MOMENTUM)
        )
        print(f"  objective: {tuning.OBJECTIVE}")
    print()


def print_leaderboard(race_name: str, surf, rows: list[dict[str, Any]]) -> None:
    """One table per surface, ranked by arrival as the page's leaderboard (ties share a rank)."""
    from summaries.race import optimizers as opts
    from summaries.race.metrics import outcome_text, rank_key, ranks

    rows = sorted(rows, key=lambda r: rank_key(r["metrics"]))
    places = ranks([r["metrics"] for r in rows])
    tol = f"distance {surf.tolerance:g}" if surf.minima else f"loss <= {surf.tolerance:g}"
    print(f"\n{race_name}: {surf.title} (arrived = {tol})")
    header = f"  {'#':>2} {'optimizer':10} {'final loss':>11} {'best loss':>11} {'distance':>9} "
    header += f"{'entered':>8} {'settled':>8}  outcome"
    print(header)
    for i, r in zip(places, rows, strict=True):
        m, t = r["metrics"], r["trajectory"]
        outcome = outcome_text(m)
        line = (
            f"  {i:>2} {opts.get_spec(t.racer.optimizer).title:10} {_fmt(m['final_loss']):>11} "
            f"{_fmt(m['best_loss']):>11} {_fmt(m['distance_to_minimum'], 3):>9} "
            f"{_fmt(m['first_entry_step']):>8} {_fmt(m['settled_step']):>8}  {outcome}"
        )
        if r.get("tuning"):
            searched = r["tuning"]["search_space"]
            best = ", ".join(f"{k}={t.racer.hp[k]:.3g}" for k in searched)
            edge = f"  AT EDGE: {', '.join(r['at_edge'])}" if r["at_edge"] else ""
            line += f"  [{best}]{edge}"
        print(line)


def write_logs(
    logdir: Path, prefix: str, results: list[dict[str, Any]], budget: int | None = None
) -> int:
    """One run per race: its surface grid, and every racer's trajectory and loss scalars
    under its own tags (`summaries.format.race_tag`). Returns the run count."""
    from demo_models import notes
    from summaries import race as race_summaries
    from summaries.format import race_tag
    from summaries.race import optimizers as opts
    from summaries.race.surfaces import SURFACES

    order = list(opts.OPTIMIZERS)  # the colour order on the page
    races: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        races.setdefault(r["trajectory"].racer.surface, []).append(r)

    for surface_name, racers in progress(list(races.items()), "writing logs"):
        surf = SURFACES[surface_name]
        race_name = f"{prefix}-{surf.name}"
        run_dir = logdir / race_name
        run_dir.mkdir(parents=True, exist_ok=True)
        _clear_race(run_dir, order)
        with LogWriter(str(run_dir)) as writer:
            race_summaries.write_surface(
                writer,
                race_tag("surface"),
                surf.grid(GRID if surf.direct else GRID_MODEL)[2],
                race=race_name,
                surface=surf.name,
                window=surf.window,
                minima=surf.minima,
                log_scale=surf.log_scale,
            )
            writer.add(race_summaries.loss_chart_pb(), step=0)  # Custom Scalars: one chart
            writer.add(notes.note_pb(f"race:{surf.name}"), step=0)  # the lesson note (Text tab)
            for r in racers:
                t, m = r["trajectory"], r["metrics"]
                name = t.racer.optimizer
                spec = opts.get_spec(name)
                race_summaries.write_trajectory(
                    writer,
                    race_tag("trajectory", name),
                    list(range(len(t.positions))),
                    t.positions,
                    t.losses,
                    race=race_name,
                    racer=name,
                    optimizer=name,
                    surface=surf.name,
                    window=surf.window,
                    hyperparameters=t.racer.hp,
                    start=t.racer.start,
                    minima=surf.minima,
                    basis=surf.basis,
                    optimizer_title=spec.title,
                    order=order.index(name),
                    # written, not left to the writer's defaults: nn_plane has a basis
                    **surf.display_fields(),
                    keras_class=f"keras.optimizers.{spec.keras_class}",
                    fixed_arguments=spec.fixed,
                    tolerance_kind=m["tolerance_kind"],
                    diverged_step=t.diverged_step,
                    reason=t.reason,
                    tuning=r.get("tuning"),
                )
                writer.add_scalars(race_tag("loss", name), t.losses.tolist())
    return len(races)


def _clear_race(run_dir: Any, optimizers: list[str]) -> None:
    """A re-run replaces the race: drop its old event files, and those of the one-run-per-racer
    layout of earlier versions (``<race>/<optimizer>``), which would list every racer twice."""
    folders = [run_dir, *(run_dir / name for name in optimizers)]
    for folder in folders:
        if folder.is_dir():
            for old in folder.glob("events.out.tfevents.*"):
                old.unlink()
