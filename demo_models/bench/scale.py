"""`flowscope bench scale`: every Flowscope route's cost as the logs grow x1, x10, x100.

For each scale it writes a logdir with the TensorFlow-free writers (`serve_logs`):

| scale | race (12 racers) | classifier (P = 1) | plate reader (P = 6, K = 36) |
|---|---|---|---|
| x1 | 1,000 steps | K = 100, 50 steps | 20 steps |
| x10 | 10,000 steps | K = 316, 50 steps | 200 steps |
| x100 | 100,000 steps | K = 1,000, 50 steps | 2,000 steps |
| limits | 1,000 steps | K = 1,000, 500 steps | P = 8, K = 100, 2,000 steps |

(25 samples per class and position at every step, as `serve_logs` writes), serves it with
a real TensorBoard (`--load_fast=true`, Flowscope's loaders), waits until every series is
loaded, then requests each route once (first: nothing cached in the plugin) and `--warm`
times more (warm: the median), and samples the resident memory of TensorBoard's process
tree (Python + Rust data server) every 0.2 s while it serves, for the peak. A route that
does not answer 200 is reported with its status.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from demo_models.bench.serve import Board, _q, _scalar_path, print_report, work_folder
from demo_models.bench.serve_logs import (
    LOSS_TAG,
    MATRIX_TAG,
    TRAJECTORY_TAG,
    _png_pool,
    write_confusion_run,
    write_race_runs,
)
from demo_models.runtime import CliError, command_parser
from summaries.format import CONFUSION_PLUGIN, RACE_PLUGIN

RACERS = 12
PLATE = {"plate_positions": 6, "plate_classes": 36}
SCALES: dict[str, dict[str, int]] = {
    "x1": {"race_steps": 1_000, "classes": 100, "classifier_steps": 50, "plate_steps": 20},
    "x10": {"race_steps": 10_000, "classes": 316, "classifier_steps": 50, "plate_steps": 200},
    "x100": {"race_steps": 100_000, "classes": 1000, "classifier_steps": 50, "plate_steps": 2000},
    # the Confusion page's stated limits: K = 1,000 x 500 steps, P = 8 x K = 100 x 2,000 steps
    "limits": {
        "race_steps": 1_000,
        "classes": 1000,
        "classifier_steps": 500,
        "plate_steps": 2000,
        "plate_positions": 8,
        "plate_classes": 100,
    },
}
for _scale in SCALES.values():
    for _key, _value in PLATE.items():
        _scale.setdefault(_key, _value)
LOAD_TIMEOUT_S = 1800


def write_scale(logdir: Path, scale: dict[str, int], seed: int = 0) -> dict[str, Any]:
    """The logdir of one scale; returns the names the routes are asked about."""
    import numpy as np

    rng = np.random.default_rng(seed)
    racers = write_race_runs(logdir, RACERS, scale["race_steps"], seed=seed)
    pool = _png_pool(24, rng)
    write_confusion_run(
        logdir, "classifier", scale["classifier_steps"], 1, scale["classes"], rng, pool,
        examples_every=max(scale["classifier_steps"] // 10, 1),
    )  # fmt: skip
    plate = (scale["plate_positions"], scale["plate_classes"])
    write_confusion_run(
        logdir, "plate-reader", scale["plate_steps"], *plate, rng, pool,
        examples_every=max(scale["plate_steps"] // 10, 1),
    )  # fmt: skip
    return {
        "race": racers[0]["race"],
        "races": sorted({r["race"] for r in racers}),
        "racer": racers[0]["run"],
        "racers": [r["run"] for r in racers],
        "race_last": scale["race_steps"] - 1,
        "confusion": {
            "classifier": scale["classifier_steps"] - 1,
            "plate-reader": scale["plate_steps"] - 1,
        },
    }


def routes(names: dict[str, Any]) -> dict[str, str]:
    """Every Flowscope data route of one scale, by name, as TensorBoard paths."""
    race, confusion = f"/data/plugin/{RACE_PLUGIN}/", f"/data/plugin/{CONFUSION_PLUGIN}/"
    out = {
        "race /races": race + "races",
        "race /surface": race + "surface" + _q(race=names["race"]),
        "race /trajectory": race
        + "trajectory"
        + _q(run=names["racer"], tag=TRAJECTORY_TAG, points=2000),
        "race /leaderboard": race + "leaderboard" + _q(race=names["race"]),
        "confusion /runs": confusion + "runs",
    }
    for run in names["confusion"]:
        out[f"{run} /matrix"] = confusion + "matrix" + _q(run=run, tag=MATRIX_TAG)
        out[f"{run} /matrix?step"] = confusion + "matrix" + _q(run=run, tag=MATRIX_TAG, step=0)
        out[f"{run} /series"] = (
            confusion + "series" + _q(run=run, tag=MATRIX_TAG, encoding="base64")
        )
        out[f"{run} /examples"] = (
            confusion + "examples" + _q(run=run, tag=MATRIX_TAG, true=1, predicted=2)
        )
    return out


def wait_loaded(board: Board, names: dict[str, Any], timeout: float = LOAD_TIMEOUT_S) -> float:
    """Wait until TensorBoard serves every series to its last step (without asking a
    Flowscope data route, whose first answer is timed); returns seconds."""
    begin = time.monotonic()
    last = names["race_last"]
    # A racer's trajectory is written before its loss scalars: its last loss means loaded
    # (TensorBoard's scalars route: its own reservoir keeps the last point).
    todo = set(names["racers"])
    confusion = f"/data/plugin/{CONFUSION_PLUGIN}/runs"
    while time.monotonic() - begin < timeout:
        for run in sorted(todo):
            status, body = board.get(_scalar_path(run, LOSS_TAG))
            if status == 200 and (points := json.loads(body)) and points[-1][1] == last:
                todo.discard(run)
        status, body = board.get(confusion)
        listed = {}
        if status == 200:
            listed = {r["run"]: r["tags"][0]["max_step"] for r in json.loads(body)["runs"]}
        if not todo and all(listed.get(run) == step for run, step in names["confusion"].items()):
            return time.monotonic() - begin
        time.sleep(1.0)
    raise RuntimeError(f"the logs were not loaded within {timeout} s")


@contextmanager
def peak_rss(board: Board, every: float = 0.2) -> Iterator[dict[str, float]]:
    """Sample the TensorBoard tree's resident memory in a thread; yields {"peak_mb": ...}."""
    found = {"peak_mb": board.rss_mb()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every):
            found["peak_mb"] = max(found["peak_mb"], board.rss_mb())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        stop.set()
        thread.join()
        found["peak_mb"] = max(found["peak_mb"], board.rss_mb())


def measure_scale(name: str, workdir: Path, warm: int) -> dict[str, Any]:
    """Write, serve and time one scale."""
    logdir = workdir / name / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    begin = time.monotonic()
    names = write_scale(logdir, SCALES[name])
    out: dict[str, Any] = {"scale": name, **SCALES[name], "write_s": time.monotonic() - begin}
    out["logdir_mb"] = sum(f.stat().st_size for f in logdir.rglob("*") if f.is_file()) / 2**20
    board = Board(logdir, flowscope=True, tensorflow=True, extra=[])
    try:
        with peak_rss(board) as memory:
            out["load_s"] = wait_loaded(board, names)
            board.get(f"/data/plugin/{CONFUSION_PLUGIN}/runs")  # listing warm, data not
            out["loaded_mb"] = board.rss_mb()
            rows = []
            for route, path in routes(names).items():
                status, body, first = board.timed_get(path)
                times = [board.timed_get(path)[2] for _ in range(warm)]
                rows.append(
                    {
                        "route": route,
                        "status": status,
                        "first_ms": 1e3 * first,
                        "warm_ms": 1e3 * statistics.median(times) if times else None,
                        "kb": len(body) / 1024,
                        "error": None if status == 200 else body[:200].decode(errors="replace"),
                    }
                )
            out["routes"] = rows
        out["peak_mb"] = memory["peak_mb"]
    finally:
        board.stop()
    return out


def report(results: list[dict[str, Any]]) -> list[str]:
    """The printed tables: per scale, the routes; then the summary across scales."""
    lines = []
    for res in results:
        lines.append(
            f"\n{res['scale']}: race {RACERS} x {res['race_steps']:,} steps; classifier "
            f"K={res['classes']}, {res['classifier_steps']} steps; plate reader "
            f"{res['plate_positions']} x {res['plate_classes']}, {res['plate_steps']} steps "
            f"(logdir {res['logdir_mb']:.0f} MiB, loaded in {res['load_s']:.0f} s)"
        )
        lines.append(f"  {'route':<28} {'status':>6} {'first ms':>9} {'warm ms':>8} {'KiB':>9}")
        for row in res["routes"]:
            warm = "-" if row["warm_ms"] is None else f"{row['warm_ms']:.1f}"
            lines.append(
                f"  {row['route']:<28} {row['status']:>6} {row['first_ms']:>9.1f} "
                f"{warm:>8} {row['kb']:>9.1f}"
            )
            if row["error"]:
                lines.append(f"    {row['error']}")
    lines.append(
        "\nscale  worst first ms (route)              worst warm ms (route)        peak MiB"
    )
    for res in results:
        first = max(res["routes"], key=lambda r: r["first_ms"])
        warm = max(res["routes"], key=lambda r: r["warm_ms"] or 0)
        failed = [r["route"] for r in res["routes"] if r["status"] != 200]
        lines.append(
            f"{res['scale']:<6} {first['first_ms']:>8.0f} ({first['route']:<24}) "
            f"{warm['warm_ms'] or 0:>8.1f} ({warm['route']:<18}) {res['peak_mb']:>8.0f}"
            + (f"   NOT 200: {', '.join(failed)}" if failed else "")
        )
    return lines


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "bench scale",
        "Every Flowscope route's first and warm latency and TensorBoard's peak "
        "memory as the logs grow x1, x10, x100.",
    )
    parser.add_argument("--scales", default="x1,x10,x100", help="comma-separated, of x1, x10, x100")
    parser.add_argument("--warm", type=int, default=5, help="warm requests per route (median)")
    parser.add_argument("--workdir", help="keep the logs here (default: a temporary folder)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the scale benchmark and print its tables."""
    args = _parser().parse_args(argv)
    scales = [s.strip() for s in args.scales.split(",") if s.strip()]
    unknown = [s for s in scales if s not in SCALES]
    if unknown or not scales:
        raise CliError(f"--scales must name some of {', '.join(SCALES)}, got {args.scales!r}")
    if args.warm < 1:
        raise CliError(f"--warm must be >= 1, got {args.warm}")
    results = []
    with work_folder(args.workdir, "scale") as workdir:
        for name in scales:
            print(f"{name}: writing, serving, timing ...", file=sys.stderr, flush=True)
            results.append(measure_scale(name, workdir, args.warm))
            print("\n".join(report(results[-1:])[:-2]), file=sys.stderr, flush=True)
    print_report(report(results), results, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
