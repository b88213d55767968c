"""`flowscope tour`: every demo in a quick mode, one run each under ./runs, then TensorBoard.

The tour is the quickest way to see what Flowscope shows: it trains each of the course's
models briefly (the same code as `flowscope demo NAME --quick`), races the optimizers on
the course's surfaces and again on the MLP lesson's own network (`flowscope race --model`),
trains the captcha model, runs the ps/worker lesson on a small local cluster of processes,
and serves the result. Each demo writes into its own run
directory, `<logdir>/<name>` (the race writes one run per race under `<logdir>/race/`).

Re-running never mixes old and new data in one run: before a demo starts, the tour
deletes that demo's previous run directory (only the ones it is about to write, and only
if they hold TensorBoard event files), so every run is fresh. A later
`flowscope demo NAME --logdir runs/NAME` continues the tour's run from its checkpoint.

Every run carries its lesson note (`demo_models.notes`, TensorBoard's Text tab), and the
closing table's "where to look" column comes from the same notes. One lesson stays out of
the tour to keep it within its time budget (`demo multitask`, which trains the captcha
reader twice); the closing guide names its command. `--lang zh` prints the
tour's own progress lines and closing guide in Simplified Chinese.
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

from demo_models import notes
from demo_models.lesson import add_lang, clear_run
from demo_models.runtime import CliError, writable_dir

# For the test suite: with FLOWSCOPE_TOUR_TINY=1 every stop runs at its smallest useful
# size (a dozen steps, two surfaces, a few hundred captchas), so a whole tour fits the
# tests' time budget. The output has the same kinds of data, just less of it.
TINY_ENV = "FLOWSCOPE_TOUR_TINY"
TINY_STEPS = 12


@dataclass(frozen=True)
class Stop:
    """One stop of the tour: a demo and its quick (and tiny) options; its note says where
    to look."""

    name: str
    target: str  # "module:function" taking argv
    quick: tuple[str, ...] = ("--quick",)
    tiny: tuple[str, ...] = ("--quick", "--steps", str(TINY_STEPS))
    demo: bool = True  # a `flowscope demo`, whose own closing guide the tour's table replaces

    def argv(self, run: Path, tiny: bool) -> list[str]:
        """The options for a run into `run`."""
        guide = ["--no-guide"] if self.demo else []
        return [*(self.tiny if tiny else self.quick), "--logdir", str(run), *guide]

    @property
    def note(self) -> notes.Note:
        """The lesson note the stop's run carries."""
        return notes.note(self.name)


# the lesson's optimizer comparison: its seven optimizers, its two pictures (the Beale
# contour plot, first on the page, and the saddle point) and the course's linear
# regression. 1,000 steps, not 200, so that each race shows the lesson's contrast (the
# notes `race:beale` and `race:saddle` say which; tests/test_demos.py checks it): on Beale
# five optimizers arrive and SGD and Adadelta do not (at 200 none arrived); on the saddle
# plain SGD creeps the whole race while momentum escapes after ~400 steps and the adaptive
# methods within ~80. The compiled race costs about a second either way.
RACE_QUICK = tuple(
    "--steps 1000 --surfaces beale saddle linear_regression "
    "--optimizers sgd momentum nag adagrad rmsprop adadelta adam".split()
)
RACE_TINY = tuple(
    "--steps 60 --surfaces saddle linear_regression --optimizers sgd momentum adam".split()
)
DISTRIBUTED_TINY = ("--quick", "--steps", str(TINY_STEPS), "--workers", "1")  # ps, worker, chief
CAPTCHA_TINY = tuple(
    "--quick --train-size 192 --validation-size 48 --test-size 0 --epochs 1 --no-cache".split()
)

# The course's order, with the optimizer race right after the two regressions it grows
# from (the linear lesson's own gradient descent joins its race), and lenet5 right after
# mlp, so that the tour's table reads as the story: the CNN beats the fully connected net;
# then the question a student's own network asks, which optimizer, raced on the MLP's.
STOPS = [
    Stop("linear", "demo_models.linear:main"),
    Stop("nonlinear", "demo_models.nonlinear:main"),
    Stop("race", "demo_models.race.cli:main", quick=RACE_QUICK, tiny=RACE_TINY, demo=False),
    Stop("softmax", "demo_models.softmax:main"),
    Stop("mlp", "demo_models.mlp:main"),
    Stop("lenet5", "demo_models.lenet5:main"),
    Stop("own_model", "demo_models.race.own_demo:main"),
    Stop("regularized", "demo_models.regularized:main"),
    Stop("captcha", "demo_models.captcha.train:main", tiny=CAPTCHA_TINY),
    Stop("transfer", "demo_models.transfer.main:main"),
    Stop("catsdogs", "demo_models.catsdogs.train:main"),
    Stop("distributed", "demo_models.distributed.main:main", tiny=DISTRIBUTED_TINY),
]
NAMES = [stop.name for stop in STOPS]
# a lesson too long for the tour's 300 s budget: the closing guide names its command
MORE = "flowscope demo multitask --quick"

# What the tour itself prints, by language (the demos' own output stays English).
MESSAGES = {
    "en": {
        "start": "Flowscope tour: {count} demos, {size} runs, into {logdir}",
        "quick": "quick",
        "tiny": "tiny (tests)",
        "finished": "Tour finished in {seconds:.0f} s:",
        "row": "  {name:<12} {seconds:6.1f} s  {outcome:<4}  {look}",
        "ok": "ok",
        "error": "error",
        "notes": "Every run carries a lesson note in English and Chinese: TensorBoard's Text "
        "tab, tag {tag} (what the lesson teaches and what to look for).",
        "more": "Not in the tour (it trains the captcha reader twice, about a minute): the "
        "course's week 10, TFRecord input and joint vs alternate multi-task training: "
        "{command}",
        "failed": "flowscope tour: {count} demo(s) failed: {names}",
        "serve_later": "Runs are in {logdir}; serve them with: tensorboard --logdir {logdir}",
        "serving": "TensorBoard is serving {logdir} at {url}  (Ctrl-C stops it)",
        "stopped": "TensorBoard stopped.",
    },
    "zh": {
        "start": "Flowscope 导览：{count} 个演示，{size}，写入 {logdir}",
        "quick": "快速模式",
        "tiny": "极小模式（测试用）",
        "finished": "导览完成，用时 {seconds:.0f} 秒：",
        "row": "  {name:<12} {seconds:6.1f} 秒  {outcome:<4}  {look}",
        "ok": "成功",
        "error": "出错",
        "notes": "每个运行都附有中英文课程笔记：在 TensorBoard 的 Text 标签页打开 {tag}"
        "（本课要点，以及该看哪里、看什么）。",
        "more": "导览里没有的一课（要把验证码识别器训练两遍，大约一分钟）：课程第十周，"
        "TFRecord 输入以及多任务的联合训练与交替训练：{command}",
        "failed": "flowscope tour：{count} 个演示失败：{names}",
        "serve_later": "运行结果在 {logdir}；用这条命令查看：tensorboard --logdir {logdir}",
        "serving": "TensorBoard 正在 {url} 展示 {logdir}（按 Ctrl-C 停止）",
        "stopped": "TensorBoard 已停止。",
    },
}


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
    add_lang(
        p,
        "language of the tour's progress and closing guide: en or zh (Simplified "
        "Chinese); default %(default)s. The lesson notes in the runs carry both.",
    )
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


def serve(logdir: Path, host: str, port: int | None, lang: str = "en", status: int = 0) -> NoReturn:
    """Serve `logdir` with TensorBoard (Flowscope's plugins included) until Ctrl-C, then
    exit with `status` (1 when a stop failed: serving the others does not hide it)."""
    text = MESSAGES[lang]
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
    print(text["serving"].format(logdir=logdir, url=url), flush=True)
    try:
        while True:
            # short sleeps: a Ctrl-C the kernel hands to another thread (TensorBoard's, gRPC's)
            # does not wake this one; Python acts on it when the sleep ends
            time.sleep(0.5)
    except KeyboardInterrupt:
        print(text["stopped"], flush=True)
    # TensorBoard's server and loader threads are daemons that may be inside C++ (gRPC to
    # its data server, TensorFlow) at this moment; interpreter teardown would unwind them
    # and abort ("FATAL: exception not rethrown", SIGABRT). Nothing is left to write, so
    # leave at once.
    sys.stderr.flush()
    os._exit(status)


def main(argv: list[str]) -> int:
    """Run the tour and serve it."""
    args = _parser().parse_args(argv)
    logdir = writable_dir(args.logdir)
    tiny = _tiny()  # a bad value fails before any work
    stops = [s for s in STOPS if not args.only or s.name in args.only]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    text = MESSAGES[args.lang]
    size = text["tiny" if tiny else "quick"]
    print(text["start"].format(count=len(stops), size=size, logdir=logdir), flush=True)
    started = time.monotonic()
    results: list[tuple[Stop, float, str]] = []
    for number, stop in enumerate(stops, 1):
        run = logdir / stop.name
        title = getattr(stop.note, f"title_{args.lang}")
        print(f"\n[{number}/{len(stops)}] {stop.name} -> {run}: {title}", flush=True)
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

    print("\n" + text["finished"].format(seconds=time.monotonic() - started))
    for stop, seconds, outcome in results:
        shown = text["ok"] if outcome == "ok" else text["error"] + outcome.removeprefix("error")
        print(
            text["row"].format(
                name=stop.name, seconds=seconds, outcome=shown, look=stop.note.guide()
            )
        )
    print(text["notes"].format(tag=notes.TAG))
    print(text["more"].format(command=MORE))
    failed = [stop.name for stop, _, outcome in results if outcome != "ok"]
    if failed:
        print(text["failed"].format(count=len(failed), names=", ".join(failed)), file=sys.stderr)
    status = 1 if failed else 0
    if args.no_serve:
        print(text["serve_later"].format(logdir=logdir))
        return status
    return serve(logdir, args.host, args.port, args.lang, status)
