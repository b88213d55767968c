"""The `flowscope` command: one entry point, subcommands implemented in their own modules.

Subcommand modules are imported only when used, so `flowscope --help` stays instant.
Each target exposes `main(argv: list[str]) -> int` and parses its own options.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from demo_models.runtime import CliError

# name -> "module:function"
DEMOS = {
    "linear": "demo_models.linear:main",
    "nonlinear": "demo_models.nonlinear:main",
    "softmax": "demo_models.softmax:main",
    "mlp": "demo_models.mlp:main",
    "regularized": "demo_models.regularized:main",
    "lenet5": "demo_models.lenet5:main",
    "captcha": "demo_models.captcha.train:main",
    "multitask": "demo_models.captcha.multitask:main",
    "distributed": "demo_models.distributed.main:main",
    "transfer": "demo_models.transfer.main:main",
    "catsdogs": "demo_models.catsdogs.train:main",
    "own_model": "demo_models.race.own_demo:main",
}
EVALUATORS = {"captcha": "demo_models.captcha.evaluate:main"}
PREDICTORS = {"catsdogs": "demo_models.catsdogs.predict:main"}
BENCHES = {
    "histogram": "demo_models.bench.histogram:main",
    "callback": "demo_models.bench.callback:main",
    "race": "demo_models.bench.race:main",
    "serve": "demo_models.bench.serve:main",
    "scale": "demo_models.bench.scale:main",
    "writers": "demo_models.bench.writers:main",
}
COMMANDS = {
    "tour": (
        "demo_models.tour:main",
        "write every demo's logs under ./runs, then serve TensorBoard",
    ),
    "race": ("demo_models.race.cli:main", "race optimizers over loss surfaces and log the race"),
    "demo": (DEMOS, "train one demo model with full instrumentation"),
    "evaluate": (EVALUATORS, "evaluate a trained model on fresh data"),
    "predict": (PREDICTORS, "sort unlabelled images into folders with a trained model"),
    "bench": (BENCHES, "run a benchmark that prints side-by-side ratios"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowscope",
        description="Flowscope: see what training does, in TensorBoard.",
        epilog="Run `flowscope COMMAND --help` for a command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (target, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text)
        if isinstance(target, dict):
            cmd.add_argument(
                "name",
                choices=sorted(target),
                metavar="NAME",
                help="one of: " + ", ".join(sorted(target)),
            )
    return parser


def _split(argv: list[str]) -> tuple[str, list[str]]:
    """Find the target for argv, leaving the remaining options to the target's own parser."""
    if argv and argv[0] in COMMANDS:
        target = COMMANDS[argv[0]][0]
        if isinstance(target, str):
            return target, argv[1:]
        if len(argv) > 1 and argv[1] in target:
            return target[argv[1]], argv[2:]
    _parser().parse_args(argv)  # prints help or a one-line usage error and exits
    raise SystemExit(2)


def _resolve(target: str):
    module_name, function = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise CliError(f"{module_name} is not available in this build of Flowscope") from None
        raise
    return getattr(module, function)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    target, rest = _split(argv)
    try:
        return int(_resolve(target)(rest) or 0)
    except CliError as exc:
        print(f"flowscope: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("flowscope: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line, never a traceback (FLOWSCOPE_DEBUG shows it)
        if os.environ.get("FLOWSCOPE_DEBUG"):
            raise
        print(f"flowscope: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
