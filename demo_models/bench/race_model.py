"""`flowscope bench race --model FILE.keras --data FILE.npz`: what racing your own model costs.

Side by side, in one process, `--repeats` times in a rotating order:

* **fits**: K plain `model.fit` runs one after another, one per optimizer, each on a fresh
  copy of the model (`keras.models.clone_model` with the file's weights, compiled with the
  optimizer and the model's loss and metrics), `--steps` steps of `--batch-size` on the
  same data (a shuffled, repeated `tf.data` pipeline), validated as often as the race
  validates (ten times, `steps // 10` steps per epoch);
* **race**: `summaries.race.model_race.race_model` with the same K optimizers, steps, batch
  size and validation, not writing logs, timed as the race (clones, tracing, steps,
  validation) and the surface (the plane and its grid) separately.

The ratio race / fits is computed per repeat and printed as the median with its range.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from demo_models.runtime import CliError, command_parser


def _parser():
    p = command_parser("bench race --model", __doc__)
    p.add_argument("--model", required=True, metavar="FILE.keras")
    p.add_argument("--data", required=True, metavar="FILE.npz")
    p.add_argument("--optimizers", nargs="+", default=["sgd", "momentum", "rmsprop", "adam"])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--grid", type=int, default=21)
    p.add_argument("--sample", type=int, default=256)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return p


def _fits(model: Any, data: dict[str, Any], names: list[str], steps: int, batch: int) -> float:
    """Seconds for one plain `fit` per optimizer, one after another."""
    import tensorflow as tf

    from summaries.race import model_race
    from summaries.race import optimizers as opts

    x, y = data["x"], data["y"]
    count = len(next(iter(x.values())) if isinstance(x, dict) else x)
    every = max(1, steps // 10)
    validation = None if data["x_val"] is None else (data["x_val"], data["y_val"])
    began = time.perf_counter()
    for name in names:
        hp = model_race.resolve_racers([name])[0][2]
        clone = model_race.clone_like(model, opts.make(name, hp))
        pipeline = (
            tf.data.Dataset.from_tensor_slices((x, y)).shuffle(count, seed=0).batch(batch).repeat()
        )
        clone.fit(
            pipeline,
            epochs=steps // every,
            steps_per_epoch=every,
            validation_data=validation,
            validation_batch_size=batch,
            verbose=0,
        )
    return time.perf_counter() - began


def _race(model: Any, data: dict[str, Any], args: Any) -> dict[str, float]:
    from summaries.race import model_race

    race = model_race.race_model(
        model, data["x"], data["y"], args.optimizers, steps=args.steps,
        batch_size=args.batch_size, x_val=data["x_val"], y_val=data["y_val"],
        grid=args.grid, sample=args.sample,
    )  # fmt: skip
    return race.seconds


def main(argv: list[str]) -> int:
    """Entry point of `flowscope bench race --model`."""
    from demo_models.race.own_model import load_data, load_model

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _parser().parse_args(argv)
    if args.repeats < 1 or args.steps < 10:
        raise CliError("--repeats must be at least 1 and --steps at least 10")
    data = load_data(args.data)
    model = load_model(args.model)
    k = len(args.optimizers)
    rows = []
    for r in range(args.repeats):
        order = ["fits", "race"] if r % 2 == 0 else ["race", "fits"]
        row: dict[str, float] = {}
        for what in order:
            if what == "fits":
                row["fits_s"] = _fits(model, data, args.optimizers, args.steps, args.batch_size)
            else:
                s = _race(model, data, args)
                row["race_s"], row["surface_s"] = s["race"], s["surface"]
                row["stepping_s"] = s["stepping"]
        rows.append(row)
        print(
            f"repeat {r + 1}: {k} fits {row['fits_s']:.1f} s | race {row['race_s']:.1f} s "
            f"(steps {row['stepping_s']:.1f} s) + surface {row['surface_s']:.1f} s"
        )
    ratios = [row["race_s"] / row["fits_s"] for row in rows]
    whole = [(row["race_s"] + row["surface_s"]) / row["fits_s"] for row in rows]
    med = statistics.median
    print(
        f"\n{k} optimizers x {args.steps} steps of batch {args.batch_size} on {args.model}:\n"
        f"  race / {k} sequential fits: {med(ratios):.2f}x "
        f"(range {min(ratios):.2f}-{max(ratios):.2f}); with the "
        f"{args.grid} x {args.grid} surface: {med(whole):.2f}x "
        f"(range {min(whole):.2f}-{max(whole):.2f})"
    )
    if args.json:
        figures = {"rows": rows, "race_over_fits": ratios, "with_surface_over_fits": whole}
        args.json.write_text(json.dumps(figures, indent=1))
    return 0
