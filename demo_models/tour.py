"""`flowscope tour`: every demo in a quick mode, one run each under ./runs, then TensorBoard.

The tour is the quickest way to see what Flowscope shows: it trains each of the course's
models briefly (the same code as `flowscope demo NAME --quick`), races the optimizers,
trains the captcha model, runs the ps/worker lesson on a small local cluster of processes,
and serves the result. Each demo writes into its own run
directory, `<logdir>/<name>` (the race writes one run per race under `<logdir>/race/`).

Re-running never mixes old and new data in one run: before a demo starts, the tour
deletes that demo's previous run directory (only the ones it is about to write, and only
if they hold TensorBoard event files), so every run is fresh. A later
`flowscope demo NAME --logdir runs/NAME` continues the tour's run from its checkpoint.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from demo_models.lesson import clear_run
from demo_models.runtime import CliError, writable_dir

# For the test suite: with FLOWSCOPE_TOUR_TINY=1 every stop runs at its smallest useful
# size (a dozen steps, two surfaces, a few hundred captchas), so a whole tour fits the
# tests' time budget. The output has the same kinds of data, just less of it.
TINY_ENV = "FLOWSCOPE_TOUR_TINY"
TINY_STEPS = 12


@dataclass(frozen=True)
class Stop:
    """One stop of the tour: a demo, its quick (and tiny) options, and where to look."""

    name: str
    target: str  # "module:function" taking argv
    look: str  # what to open in TensorBoard
    quick: tuple[str, ...] = ("--quick",)
    tiny: tuple[str, ...] = ("--quick", "--steps", str(TINY_STEPS))

    def argv(self, run: Path, tiny: bool) -> list[str]:
        """The options for a run into `run`."""
        return [*(self.tiny if tiny else self.quick), "--logdir", str(run)]


# the lesson's optimizer comparison: its seven optimizers, its two pictures (the Beale
# contour plot and the saddle point) and the linear regression the course starts with
RACE_QUICK = tuple(
    "--steps 200 --surfaces beale saddle linear_regression "
    "--optimizers sgd momentum nag adagrad rmsprop adadelta adam".split()
)
RACE_TINY = tuple(
    "--steps 60 --surfaces saddle linear_regression --optimizers sgd momentum adam".split()
)
CAPTCHA_TINY = tuple(
    "--quick --train-size 192 --validation-size 48 --test-size 0 --epochs 1 --no-cache".split()
)

STOPS = [
    Stop(
        "linear",
        "demo_models.linear:main",
        "Scalars k and b; Optimizer Race 'race-linear_regression'; Graphs",
    ),
    Stop(
        "nonlinear",
        "demo_models.nonlinear:main",
        "Images fit/data_and_model (drag the step slider); Histograms",
    ),
    Stop(
        "softmax",
        "demo_models.softmax:main",
        "Graphs (input, layer, loss, train, accuracy); layer/weights/summaries",
    ),
    Stop("mlp", "demo_models.mlp:main", "Scalars loss/ and accuracy/; Confusion"),
    Stop(
        "regularized",
        "demo_models.regularized:main",
        "Scalars train/learning_rate and accuracy/test_averaged_weights",
    ),
    Stop("lenet5", "demo_models.lenet5:main", "Images layer1-conv1/filters; Confusion"),
    Stop(
        "race",
        "demo_models.race.cli:main",
        "Optimizer Race: the lesson's optimizers on its surfaces",
        quick=RACE_QUICK,
        tiny=RACE_TINY,
    ),
    Stop(
        "captcha",
        "demo_models.captcha.train:main",
        "Confusion: one matrix per captcha digit",
        tiny=CAPTCHA_TINY,
    ),
    Stop(
        "catsdogs",
        "demo_models.catsdogs.train:main",
        "Confusion: the misclassified photos (offline: crops of two photos, not cats/dogs)",
    ),
    Stop(
        "transfer",
        "demo_models.transfer.main:main",
        "Projector: bottleneck vectors (colour by class); Text about/comparison; Confusion",
    ),
    Stop(
        "distributed",
        "demo_models.distributed.main:main",
        "Graphs coloured by Device (ps and worker); Scalars cluster/",
    ),
]
NAMES = [stop.name for stop in STOPS]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="flowscope tour",
        description="Run every demo in a quick mode (one run each under --logdir), "
        "then serve TensorBoard.",
        epilog="Each demo's previous run directory is deleted before it runs, so a run "
        "never mixes two tours.",
    )
    p.add_argument("--logdir", default="runs", help="where the runs go (default: ./%(default)s)")
    p.add_argument(
        "--only",
        nargs="+",
        choices=NAMES,
        metavar="NAME",
        help="run only these demos (of: " + ", ".join(NAMES) + ")",
    )
    p.add_argument(
        "--no-serve", action="store_true", help="write the runs, do not start TensorBoard"
    )
    p.add_argument(
        "--port",
        type=int,
        help="TensorBoard's port (default: 6006, or the next free one)",
    )
    p.add_argument("--host", default="localhost", help="address to serve on (%(default)s)")
    return p


def _tiny() -> bool:
    value = os.environ.get(TINY_ENV, "")
    if value not in ("", "0", "1"):
        raise CliError(f"{TINY_ENV} must be 0 or 1, got {value!r}")
    return value == "1"


def _run_stop(stop: Stop, run: Path, tiny: bool) -> None:
    module_name, function = stop.target.split(":")
    main = getattr(importlib.import_module(module_name), function)
    status = main(stop.argv(run, tiny))
    if status:
        raise RuntimeError(f"exited with status {status}")


def serve(logdir: Path, host: str, port: int | None) -> NoReturn:
    """Serve `logdir` with TensorBoard (Flowscope's plugins included) until Ctrl-C."""
    from tensorboard import program

    argv = [None, "--logdir", str(logdir), "--host", host]
    if port is not None:
        argv += ["--port", str(port)]
    board = program.TensorBoard()
    board.configure(argv=argv)
    try:
        url = board.launch()
    except program.TensorBoardServerException as exc:
        raise CliError(f"cannot start TensorBoard: {exc.msg}") from None
    print(f"TensorBoard is serving {logdir} at {url}  (Ctrl-C stops it)", flush=True)
    try:
        while True:
            # short sleeps: a Ctrl-C the kernel hands to another thread (TensorBoard's, gRPC's)
            # does not wake this one; Python acts on it when the sleep ends
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("TensorBoard stopped.", flush=True)
    # TensorBoard's server and loader threads are daemons that may be inside C++ (gRPC to
    # its data server, TensorFlow) at this moment; interpreter teardown would unwind them
    # and abort ("FATAL: exception not rethrown", SIGABRT). Nothing is left to write, so
    # leave at once.
    sys.stderr.flush()
    os._exit(0)


def main(argv: list[str]) -> int:
    """Run the tour and serve it."""
    args = _parser().parse_args(argv)
    logdir = writable_dir(args.logdir)
    tiny = _tiny()  # a bad value fails before any work
    stops = [s for s in STOPS if not args.only or s.name in args.only]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    size = "tiny (tests)" if tiny else "quick"
    print(f"Flowscope tour: {len(stops)} demos, {size} runs, into {logdir}", flush=True)
    started = time.monotonic()
    results: list[tuple[Stop, float, str]] = []
    for number, stop in enumerate(stops, 1):
        run = logdir / stop.name
        print(f"\n[{number}/{len(stops)}] {stop.name} -> {run}", flush=True)
        clear_run(run)
        began = time.monotonic()
        try:
            _run_stop(stop, run, tiny)
            outcome = "ok"
        except CliError as exc:
            outcome = f"error: {exc}"
        except Exception as exc:  # one demo failing must not hide the others
            if os.environ.get("FLOWSCOPE_DEBUG"):
                raise
            outcome = f"error: {type(exc).__name__}: {exc}"
        results.append((stop, time.monotonic() - began, outcome))
        if outcome != "ok":
            print(f"{stop.name}: {outcome}", file=sys.stderr, flush=True)

    print(f"\nTour finished in {time.monotonic() - started:.0f} s:")
    for stop, seconds, outcome in results:
        print(f"  {stop.name:<12} {seconds:6.1f} s  {outcome:<4}  {stop.look}")
    failed = [stop.name for stop, _, outcome in results if outcome != "ok"]
    if failed:
        print(f"flowscope tour: {len(failed)} demo(s) failed: {', '.join(failed)}", file=sys.stderr)
    if args.no_serve:
        print(f"Runs are in {logdir}; serve them with: tensorboard --logdir {logdir}")
        return 1 if failed else 0
    return serve(logdir, args.host, args.port)
