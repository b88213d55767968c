"""`flowscope race --model FILE.keras --data FILE.npz`: race optimizers on your own model.

Loads a compiled Keras model (the file is only read) and its data (`x`, `y`, optionally
`x_val`, `y_val`; a model with named inputs or outputs takes `x_<name>` / `y_<name>`, and
`x_val_<name>` / `y_val_<name>`), checks everything, then races with
`summaries.race.model_race.race_model` and writes one run ``<logdir>/<name>``. Bad input is
one line naming the option, and nothing is written.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from demo_models.runtime import CliError, writable_dir

DEFAULT_OPTIMIZERS = ["sgd", "momentum", "rmsprop", "adam"]
DEFAULT_STEPS = 200

# the library's argument -> the option that sets it (a library error names the option)
_OPTIONS = {
    "steps": "--steps",
    "batch_size": "--batch-size",
    "grid": "--grid",
    "sample": "--sample",
    "optimizers": "--optimizers",
    "hp": "--hp",
    "x_val": "--data",
    "y_val": "--data",
    "x": "--data",
    "y": "--data",
    "model": "--model",
    "name": "--name",
    "eval_every": "--eval-every",
    "tune": "--trials",
    "seed": "--seed",
    "directions": "--directions",
    "rank_by": "--rank-by",
    "target": "--target",
}


def parser() -> argparse.ArgumentParser:
    """The options of `flowscope race --model`."""
    from summaries.race.landscape import MAX_GRID
    from summaries.race.model_race import DIRECTIONS
    from summaries.race.optimizers import OPTIMIZERS

    p = argparse.ArgumentParser(
        prog="flowscope race --model",
        description="Race Keras optimizers on your own compiled model, from its saved weights, "
        "on the same batches, and log the race on the model's real loss landscape for "
        "TensorBoard's Optimizer Race page. The model file is never modified.",
    )
    p.add_argument("--model", required=True, metavar="FILE.keras", help="a compiled Keras model")
    p.add_argument(
        "--data",
        required=True,
        metavar="FILE.npz",
        help="x and y (and x_val, y_val); x_<name> / y_<name> for named inputs or outputs",
    )
    p.add_argument("--logdir", default="runs", help="log directory (default: runs)")
    p.add_argument(
        "--optimizers",
        nargs="+",
        default=DEFAULT_OPTIMIZERS,
        metavar="O",
        help=f"optimizers to race (default: {' '.join(DEFAULT_OPTIMIZERS)}): "
        + ", ".join(OPTIMIZERS),
    )
    p.add_argument(
        "--steps", type=int, default=DEFAULT_STEPS, help=f"updates per racer ({DEFAULT_STEPS})"
    )
    p.add_argument("--batch-size", type=int, default=32, help="samples per batch (32)")
    p.add_argument(
        "--hp",
        action="append",
        default=[],
        metavar="OPT.NAME=VALUE",
        help="set a hyper-parameter, e.g. --hp adam.learning_rate=0.003 (repeatable); "
        "defaults are Keras's own",
    )
    p.add_argument(
        "--tune",
        action="store_true",
        help="try --trials learning rates (and momenta) per optimizer, the same for every "
        "optimizer, and race the best of each",
    )
    p.add_argument("--trials", type=int, default=None, help="trials per optimizer with --tune (6)")
    p.add_argument("--name", default=None, help="race name (default: model-<file stem>)")
    p.add_argument(
        "--directions",
        choices=DIRECTIONS,
        default="pca",
        help="the map's plane: pca (the racers' first two principal components, default) or "
        "random (filter-normalised random directions)",
    )
    p.add_argument("--grid", type=int, default=21, help=f"surface resolution, 2 to {MAX_GRID} (21)")
    p.add_argument(
        "--sample", type=int, default=256, help="training samples the surface is computed on"
    )
    p.add_argument(
        "--eval-every", type=int, default=None, help="steps between validations (steps / 10)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the batches and directions (0)")
    p.add_argument(
        "--rank-by",
        default=None,
        metavar="METRIC[:min|max]",
        help="what the leaderboard ranks by: a compiled metric on the validation data "
        "(loss, accuracy, ...; better lower, except accuracy-like ones, unless :min or :max "
        "says), or train_loss (default: the best validation loss, else the final training "
        "loss)",
    )
    p.add_argument(
        "--target",
        type=float,
        default=None,
        metavar="VALUE",
        help="time each racer to this value of the ranked metric (default: 90 %% of the way "
        "from the common start to the best any racer reached)",
    )
    return p


def load_data(path: str) -> dict[str, Any]:
    """x, y, x_val, y_val (arrays or dicts of arrays) from an .npz file, or CliError."""
    import numpy as np

    if not Path(path).is_file():
        raise CliError(f"--data: no such file {path!r}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except Exception as exc:
        raise CliError(f"--data: {path!r} is not an .npz file of arrays ({_line(exc)})") from None
    out: dict[str, Any] = {}
    for part in ("x_val", "y_val", "x", "y"):
        named = {
            k[len(part) + 1 :]: v
            for k, v in arrays.items()
            if k.startswith(part + "_") and not (part in ("x", "y") and k.startswith(part + "_val"))
        }
        if part in arrays and named:
            raise CliError(f"--data: {path!r} holds both {part} and {part}_<name> arrays")
        out[part] = arrays.get(part) if part in arrays else (named or None)
    for part in ("x", "y"):
        if out[part] is None:
            raise CliError(f"--data: {path!r} holds no {part!r} (nor {part}_<name>) array")
    if (out["x_val"] is None) != (out["y_val"] is None):
        raise CliError(f"--data: {path!r} must hold x_val and y_val together")
    return out


def load_model(path: str) -> Any:
    """The compiled Keras model in `path` (only read), or CliError."""
    if not Path(path).is_file():
        raise CliError(f"--model: no such file {path!r}")
    import keras

    try:
        with warnings.catch_warnings():  # the saved optimizer's state is not used here
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model = keras.saving.load_model(path, compile=True)
    except Exception as exc:
        raise CliError(f"--model: {path!r} is not a Keras model ({_line(exc)})") from None
    if not isinstance(model, keras.Model):
        raise CliError(f"--model: {path!r} holds a {type(model).__name__}, not a keras.Model")
    if not getattr(model, "compiled", False) or getattr(model, "loss", None) is None:
        raise CliError(
            f"--model: the model in {path!r} is not compiled with a loss: compile it "
            "(model.compile(optimizer=..., loss=..., metrics=...)) before model.save"
        )
    return model


def _line(exc: BaseException) -> str:
    from summaries.race.model_race import error_line

    return error_line(exc)


def _option_error(exc: Exception) -> CliError:
    """A library ValueError / TypeError as one line naming the option."""
    text = _line(exc)
    head = text.split(" ", 1)[0].rstrip(":")
    option = _OPTIONS.get(head)
    return CliError(f"{option}: {text}" if option else text)


class _Bars:
    """The library's progress(stage, done, total) as one tqdm bar per stage, on stderr."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.stage: str | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if os.environ.get("FLOWSCOPE_NO_PROGRESS"):
            return
        from tqdm.auto import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=stage, file=sys.stderr, leave=False)
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar, self.stage = None, None


def main(argv: list[str]) -> int:
    """Entry point of `flowscope race --model ...`."""
    from summaries.race import optimizers as opts
    from summaries.race.model_race import MAX_STEPS

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    began = time.perf_counter()
    args = parser().parse_args(argv)
    unknown = [n for n in args.optimizers if n not in opts.OPTIMIZERS]
    if unknown:
        raise CliError(
            f"--optimizers: unknown optimizer {', '.join(unknown)} "
            f"(choose from {', '.join(opts.OPTIMIZERS)})"
        )
    if not 1 <= args.steps <= MAX_STEPS:
        raise CliError(f"--steps must be between 1 and {MAX_STEPS}, got {args.steps}")
    if args.batch_size < 1:
        raise CliError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.trials is not None and not args.tune:
        raise CliError("--trials needs --tune")
    trials = (6 if args.trials is None else args.trials) if args.tune else None
    if trials is not None and trials < 2:
        raise CliError(f"--trials must be at least 2, got {trials}")
    try:
        overrides = opts.parse_overrides(args.hp)
    except (TypeError, ValueError) as exc:
        raise CliError(str(exc)) from None
    name = args.name or "model-" + Path(args.model).stem
    data = load_data(args.data)
    model = load_model(args.model)

    from summaries.race import model_race

    settings = dict(
        steps=args.steps,
        batch_size=args.batch_size,
        x_val=data["x_val"],
        y_val=data["y_val"],
        name=name,
        hp=overrides,
        grid=args.grid,
        sample=args.sample,
        directions=args.directions,
        eval_every=args.eval_every,
        seed=args.seed,
        tune=trials,
        rank_by=args.rank_by,
        target=args.target,
    )
    try:  # every check before anything is written
        checked = model_race.check_inputs(model, data["x"], data["y"], args.optimizers, **settings)
    except (TypeError, ValueError) as exc:
        raise _option_error(exc) from None
    logdir = writable_dir(args.logdir, "--logdir")
    weights = sum(int(v.numpy().size) for v in model.trainable_variables)
    print(
        f"Racing {len(checked.racers)} optimizers on {args.model} ({weights:,} weights), "
        f"{checked.steps} steps of batch {checked.batch_size} on {checked.count} samples"
        + (f", {trials} trials each first" if trials else "")
    )
    for racer_name, _, hp in checked.racers:
        shown = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in hp.items()
        )
        print(f"  {racer_name:10s} {shown}")
    bars = _Bars()
    race = model_race.race_checked(model, checked, logdir=logdir, progress=bars)
    bars.close()
    if trials:
        print(f"\nTuned ({trials} trials each; {race.racers[0].tuning['objective']}):")
        for r in race.racers:
            chosen = ", ".join(f"{k}={r.hyperparameters[k]:.3g}" for k in r.tuning["search_space"])
            print(f"  {r.name:10s} {chosen}")
    print_leaderboard(race)
    s = race.seconds
    shares = race.basis.get("explained")
    plane = (
        f"PC1 {100 * shares[0]:.1f} %, PC2 {100 * shares[1]:.1f} % of the motion"
        if shares
        else "random directions"
    )
    print(
        f"\nmap: {plane}; the plane holds {100 * race.basis['captured']:.1f} % of the racers' "
        f"squared displacement; surface {race.grid.shape[0]} x {race.grid.shape[1]} on "
        f"{race.basis['sample']} training samples"
    )
    print(
        f"wrote race {race.name!r} under {logdir}; view it with: tensorboard --logdir {logdir}\n"
        f"total {time.perf_counter() - began:.1f} s: "
        + (f"tuning {s['tuning']:.1f} s, " if "tuning" in s else "")
        + f"racing {s['race']:.1f} s (steps {s['stepping']:.1f} s), surface {s['surface']:.1f} s"
    )
    return 0


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def _ranked_title(race: Any) -> str:
    if race.ranked_by == "loss":
        return "final training loss"
    what = "validation loss" if race.ranked_by == "val_loss" else f"validation {race.ranked_by[4:]}"
    return f"best {what} ({'lowest' if race.goal == 'min' else 'highest'} first)"


def print_leaderboard(race: Any) -> None:
    """Racers as the page ranks them (`summaries.race.metrics.rank_key`): by best validation
    loss (or the compiled metric asked for; else the final training loss), diverged last; with
    the time to reach the target and each racer's own wall time per step."""
    has_val = any(r.validation for r in race.racers)
    metric_keys = sorted(
        {k for r in race.racers for k in r.validation if k != "val_loss" and k.startswith("val_")}
    )
    print(f"\n{race.name}: ranked by {_ranked_title(race)}")
    if race.target is not None:
        rule = "given" if race.target_rule == "given" else "90 % of the way to the best"
        what = "training loss" if race.ranked_by == "loss" else f"validation {race.ranked_by[4:]}"
        print(f"  target: {what} {'<=' if race.goal == 'min' else '>='} {race.target:.4g} ({rule})")
    head = f"  {'#':>2} {'racer':10} {'final loss':>11}"
    if has_val:
        head += f" {'best val':>10} {'last val':>10}" + "".join(f" {k:>14}" for k in metric_keys)
    ranked_metric = race.ranked_by not in ("loss", "val_loss")
    if ranked_metric:
        head += f" {'best ' + race.ranked_by[4:]:>14}"
    head += f" {'to target':>16} {'ms/step':>8}"
    print(head + "  status")
    for place, r in enumerate(race.ranked(), 1):
        m = r.metrics or {}
        line = f"  {place:>2} {r.name:10} {_fmt(r.final_loss):>11}"
        if has_val:
            last = r.validation.get("val_loss", [(0, None)])[-1][1]
            line += f" {_fmt(r.best('val_loss')):>10} {_fmt(last):>10}"
            line += "".join(
                f" {_fmt((r.validation.get(k) or [(0, None)])[-1][1]):>14}" for k in metric_keys
            )
        if ranked_metric:
            line += f" {_fmt(m.get('score')):>14}"
        reached = "-" if m.get("target_step") is None else f"step {m['target_step']}"
        if m.get("target_seconds") is not None:
            reached += f", {m['target_seconds']:.3g} s"
        line += f" {reached:>16} {_fmt(m.get('ms_per_step')):>8}"
        status = f"diverged at step {r.diverged_step}" if r.diverged_step is not None else "ok"
        print(line + "  " + status)
