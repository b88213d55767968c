"""`flowscope bench histogram`: Flowscope's histogram vs `tf.summary.histogram`, side by side.

Both variants run inside a `tf.function` on the same float32 tensor (1M elements by
default) and do the same job, in two modes:

* ``write``: the whole summary op, writing a [30, 3] histogram to a file writer
  (`summaries.histogram` vs `tf.summary.histogram`);
* ``compute``: only the bucket tensor (`summaries.histogram_buckets` vs TensorBoard's own
  bucketing function, the one `tf.summary.histogram` calls).

Each variant runs in its own fresh Python process so that peak memory is its own: TF's
CPU allocator keeps no statistics (`get_memory_info('CPU:0')` is unsupported), so peak
memory is the process's resident-set high-water mark (VmHWM), reset just before the first
full-size call, minus the resident set at that moment. Time is the median of repeated calls
after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from demo_models.runtime import CliError, command_parser

VARIANTS = ("flowscope", "tensorflow")
MODES = ("write", "compute")


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not permitted."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _worker(variant: str, mode: str, size: int, repeats: int, logdir: str) -> dict:
    """Run one variant in this process; return its timings and peak memory."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf
    from tensorboard.plugins.histogram import summary_v2

    import summaries

    spec = [tf.TensorSpec([None], tf.float32)]
    if mode == "compute":
        body = summaries.histogram_buckets if variant == "flowscope" else summary_v2._buckets
        fn = tf.function(lambda x: body(x, 30), input_signature=spec)
        writer = None
    else:
        op = summaries.histogram if variant == "flowscope" else tf.summary.histogram
        fn = tf.function(lambda x: op("bench/values", x, step=0, buckets=30), input_signature=spec)
        writer = tf.summary.create_file_writer(logdir)
        writer.set_as_default()

    def call(x):
        out = fn(x)
        return out.numpy()  # wait for the result

    data = tf.constant(np.random.default_rng(0).standard_normal(size).astype(np.float32))
    call(data[:1000])  # trace and warm up on a small slice (same graph: shape [None])
    exact = _reset_peak()
    before = _status_kb("VmRSS") if exact else _status_kb("VmHWM")
    call(data)
    peak_kb = max(_status_kb("VmHWM") - before, 0)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call(data)
        times.append(time.perf_counter() - start)
    if writer is not None:
        writer.flush()
    return {
        "variant": variant,
        "mode": mode,
        "median_ms": statistics.median(times) * 1e3,
        "min_ms": min(times) * 1e3,
        "peak_mb": peak_kb / 1024,
        "peak_exact": exact,
    }


def _run_variant(variant: str, mode: str, size: int, repeats: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="flowscope-bench-") as logdir:
        command = [
            sys.executable,
            "-m",
            "demo_models.bench.histogram",
            "--worker",
            variant,
            "--mode",
            mode,
            "--size",
            str(size),
            "--repeats",
            str(repeats),
            "--logdir",
            logdir,
        ]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{variant}/{mode} worker failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "bench histogram",
        "Flowscope's histogram summary vs tf.summary.histogram (time, memory).",
    )
    parser.add_argument("--size", type=int, default=1_000_000, help="elements (1,000,000)")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per variant (20)")
    parser.add_argument("--mode", choices=(*MODES, "both"), default="both", help="what to time")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--logdir", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print both variants side by side with ratios."""
    args = _parser().parse_args(argv)
    if args.size < 2 or args.repeats < 1:
        raise CliError(f"--size must be >= 2 and --repeats >= 1, got {args.size}, {args.repeats}")
    if args.worker:
        print(json.dumps(_worker(args.worker, args.mode, args.size, args.repeats, args.logdir)))
        return 0
    modes = MODES if args.mode == "both" else (args.mode,)
    results = {
        mode: {v: _run_variant(v, mode, args.size, args.repeats) for v in VARIANTS}
        for mode in modes
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"histogram of {args.size:,} float32 values inside tf.function, 30 buckets")
    print(f"median of {args.repeats} calls after warm-up; peak = resident-set high-water rise")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} at the end of the run")
    header = f"{'mode':8} {'':22} {'flowscope':>12} {'tf.summary':>12} {'ratio':>8}"
    print(header)
    print("-" * len(header))
    for mode in modes:
        ours, theirs = results[mode]["flowscope"], results[mode]["tensorflow"]
        rows = (("time (median)", "median_ms", "ms"), ("peak memory", "peak_mb", "MB"))
        for label, key, unit in rows:
            a, b = ours[key], theirs[key]
            ratio = f"{b / a:7.1f}x" if a > 0 else "     inf"
            print(f"{mode:8} {label:22} {a:9.2f} {unit:2} {b:9.2f} {unit:2} {ratio}")
    if not all(r["peak_exact"] for m in results.values() for r in m.values()):
        print("note: /proc/self/clear_refs refused; peaks are rises over the start-up high-water")
    print("ratio = tf.summary.histogram / flowscope (higher is better for flowscope)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
