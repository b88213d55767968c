"""`flowscope bench race`: the compiled race against a naive eager loop, side by side.

The race is every optimizer on every analytic surface for 1,000 steps, run as one compiled
TensorFlow program, with XLA and without (`flowscope race` picks XLA from 2,500 steps).
The naive loop is what one would write first: for each racer, for each step, a
GradientTape and `optimizer.apply_gradients`, eagerly. It is timed on all racers for fewer
steps and extrapolated linearly (its cost per step is constant: no state grows), which
the output says; each racer's first eager step (Keras building its slots) is left out of
the timing, so the naive loop is not overcharged.
"""

from __future__ import annotations

import argparse
import os
import time

from demo_models.runtime import CliError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowscope bench race", description=__doc__)
    parser.add_argument("--steps", type=int, default=1000, help="steps of the race (1000)")
    parser.add_argument(
        "--eager-steps",
        type=int,
        default=20,
        help="steps the naive eager loop is timed on, then extrapolated (20)",
    )
    return parser


def naive_eager(racers, steps: int) -> tuple[list, float]:
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
        if steps > 1:
            seconds += time.perf_counter() - start
        out.append(np.array(rows))
    return out, seconds


def main(argv: list[str]) -> int:
    """Entry point of `flowscope bench race`."""
    args = _parser().parse_args(argv)
    if not 2 <= args.eager_steps <= args.steps:
        raise CliError("need --steps >= 2 and 2 <= --eager-steps <= --steps")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np

    from summaries.race import engine
    from summaries.race.optimizers import OPTIMIZERS
    from summaries.race.surfaces import SURFACES

    analytic = [name for name, s in SURFACES.items() if s.analytic]
    racers = [engine.Racer.make(o, s) for s in analytic for o in OPTIMIZERS]
    n = len(racers)
    print(f"race: {len(OPTIMIZERS)} optimizers x {len(analytic)} analytic surfaces = {n} racers")
    print(f"      x {args.steps} steps = {n * args.steps:,} optimizer steps")

    def timed(fn):
        start = time.perf_counter()
        value = fn()
        return value, time.perf_counter() - start

    program = engine.Program(racers, jit=True)
    compiled, first = timed(lambda: program.run(args.steps))
    compiled, run = timed(lambda: program.run(args.steps))
    graph = engine.Program(racers, jit=False)
    _, graph_first = timed(lambda: graph.run(args.steps))
    _, graph_run = timed(lambda: graph.run(args.steps))
    eager, eager_time = naive_eager(racers, args.eager_steps)
    per_step = eager_time / (args.eager_steps - 1)
    eager_total = per_step * args.steps

    # the two computations agree on the steps both ran
    k = args.eager_steps
    diffs = []
    for t, e in zip(compiled, eager, strict=True):
        m = min(k, len(t.positions))
        diffs.append(np.nanmax(np.abs(t.positions[:m] - e[:m, :2]) / (1 + np.abs(e[:m, :2]))))
    agree = float(np.nanmax(diffs))

    print()
    print(f"{'':40} {'seconds':>10}")
    print(f"{'compiled race, first call (trace+XLA)':40} {first:>10.3f}")
    print(f"{'compiled race, run (already compiled)':40} {run:>10.3f}")
    print(f"{'same program without XLA, first call':40} {graph_first:>10.3f}")
    print(f"{'same program without XLA, run':40} {graph_run:>10.3f}")
    print(f"{f'naive eager loop, steps 2-{k} (measured)':40} {eager_time:>10.3f}")
    print(f"{f'naive eager loop, {args.steps} steps (extrapolated)':40} {eager_total:>10.3f}")
    print()
    rows = [
        ("XLA, compiled run", run),
        ("XLA, including compilation", first),
        ("no XLA, compiled run", graph_run),
        ("no XLA, including tracing", graph_first),
    ]
    for label, seconds in rows:
        print(f"speed-up vs naive eager, {label + ':':30} {eager_total / seconds:10.1f}x")
    print(
        f"(target: at least 30x; largest relative position difference over the first {k} "
        f"steps: {agree:.1e})"
    )
    return 0
