"""`flowscope bench writers`: it runs end to end at tiny sizes and prints every row with
numbers where numbers belong (timings themselves are never asserted), and a bad option is
one line naming it."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from demo_models import cli
from demo_models.bench import writers

TINY = [
    "--classes", "12", "--val-samples", "48", "--train-samples", "16",
    "--confusion-samples", "24", "--batch-size", "16", "--repeats", "2",
]  # fmt: skip


def test_every_row_is_printed_with_positive_figures(tmp_path):
    # in a process of its own, as users run it: the benchmark collects garbage before each
    # task, which in a test worker holding every earlier test's objects took 40 s
    out = tmp_path / "writers.json"
    done = subprocess.run(
        [sys.executable, "-m", "demo_models", "bench", "writers", *TINY, "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    printed = done.stdout
    results = json.loads(out.read_text())
    rows = {row["key"]: row for row in results["rows"]}
    assert list(rows) == [key for key, _ in writers.ROWS]
    for key, row in rows.items():
        assert row["task"] in printed
        line = next(line for line in printed.splitlines() if line.startswith(row["task"]))
        assert row["meaning"] in line
        if key in writers.EXTRA:  # a difference of two fits: any finite number
            assert math.isfinite(row["wall_ms"])
            assert all(math.isfinite(v) for v in (*row["wall_share"], *row["cpu_share"]))
            continue
        assert row["wall_ms"] > 0
        if key in writers.BASES:
            assert "wall_share" not in row
            continue
        for share in (row["wall_share"], row["cpu_share"]):
            median, low, high = share
            assert 0 < low <= median <= high
        assert "%" in line
    for key, repeats in results["times"].items():
        assert len(repeats) == 2 and all(w > 0 and c >= 0 for w, c in repeats), key
    assert "Load average (1, 5, 15 min): before" in printed and "; after" in printed
    assert len(results["load"]) == 2


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--classes", "1"),
        ("--val-samples", "0"),
        ("--train-samples", "0"),
        ("--confusion-samples", "0"),
        ("--batch-size", "0"),
        ("--repeats", "0"),
    ],
)
def test_bad_options_are_one_line_errors_naming_the_option(option, value, capsys):
    assert cli.main(["bench", "writers", option, value]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert error.startswith("flowscope: error:") and option in error


@pytest.mark.parametrize(
    ("shares", "says"),
    [
        ((0.01, -0.02, 0.03), "within noise"),
        ((-0.05, -0.08, -0.01), "not a saving"),
        ((0.02, 0.01, 0.04), "under 5 %"),
        ((0.09, 0.07, 0.12), "over 5 %"),
        ((0.05, 0.03, 0.08), "straddles 5 %"),
    ],
)
def test_shares_say_what_their_interval_allows(shares, says):
    assert says in writers.meaning(*shares)
