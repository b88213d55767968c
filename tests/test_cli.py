"""The `flowscope` command: help, clear one-line errors, never a traceback."""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from demo_models.cli import DEMOS

FLOWSCOPE = str(Path(sys.executable).with_name("flowscope"))


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "FLOWSCOPE_NO_PROGRESS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [FLOWSCOPE, *args], capture_output=True, text=True, env=env, timeout=300, **kw
    )


def test_help_lists_every_subcommand():
    result = run("--help")
    assert result.returncode == 0
    for name in ("tour", "race", "demo", "evaluate", "predict", "bench"):
        assert f"    {name} " in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["bogus"],
        ["demo"],
        ["demo", "nope"],
        ["bench", "nope"],
        ["bench", "histogram", "--size", "1"],
        ["bench", "serve", "--rounds", "0"],
        ["bench", "serve", "--reload-interval", "0"],
        ["bench", "scale", "--scales", "x3"],
        ["predict", "nope"],
        ["predict", "catsdogs", "/no/model", "/no/photos", "--out", "/no/sorted"],
    ],
)
def test_bad_arguments_give_one_line_and_nonzero_exit(args):
    result = run(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(("flowscope", "usage"))
    assert "error:" in result.stderr


@pytest.mark.parametrize("name", ["tour", *sorted(DEMOS)])
def test_lang_other_than_en_or_zh_is_one_line(name, capsys):
    """Every demo (and the tour) takes `--lang en|zh`; anything else is one line, exit 2."""
    from demo_models import cli

    argv = [name] if name == "tour" else ["demo", name]
    assert cli.main([*argv, "--lang", "fr"]) == 2
    assert capsys.readouterr().err == "flowscope: error: --lang must be one of en, zh, got 'fr'\n"
    if name != "tour":  # and prints its guide when it ends (the tour runs each with --no-guide)
        module = importlib.import_module(DEMOS[name].split(":")[0])
        assert f'lesson.print_guide("{name}", args' in inspect.getsource(module)


def test_every_bench_target_lives_with_the_applications():
    """`flowscope bench NAME` runs code in demo_models.bench, never in the shipped library."""
    from demo_models.cli import BENCHES

    assert sorted(BENCHES) == ["callback", "histogram", "race", "scale", "serve", "writers"]
    for name, target in BENCHES.items():
        assert target.startswith("demo_models.bench."), target
        result = run("bench", name, "--help")
        assert result.returncode == 0, result.stderr
        assert f"usage: flowscope bench {name}" in result.stdout


def test_unwritable_logdir_is_one_clear_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run("race", "--logdir", str(blocker / "runs"), "--steps", "5")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("flowscope: error:") and "not writable" in last
