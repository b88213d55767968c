"""The report of `flowscope bench serve`: its results as lines, with the stated targets."""

from __future__ import annotations

import statistics
from typing import Any

# Targets the report checks each figure against (stated in docs/benchmarks.md).
P95_TOLERANCE = 0.10  # a baseline's p95 counts as stable within this (bootstrap half-width)
P95_TARGET = 1.5  # a Flowscope route's p95 over its scalars baseline's p95
START_TARGET = 1.05  # start-up with Flowscope over start-up without


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def report(results: dict[str, Any]) -> list[str]:
    """Human-readable lines with the ratios the targets are stated in."""
    lines = []
    s = results["sizes"]
    lines.append(
        f"logdir: {s['race_runs']} race runs x {s['race_steps']:,} steps (+ race/loss "
        f"scalars), {s['confusion_runs']} confusion runs x {s['confusion_steps']} steps "
        f"of {s['positions']} x {s['classes']} x {s['classes']} with images"
    )
    mode = "imports TensorFlow" if results["tensorflow_imported_by_tensorboard"] else "no TF"
    lines.append(
        f"TensorBoard --load_fast=true ({mode}); {results['rounds']} interleaved rounds, "
        "2 requests per route per round; ratios against the scalars route of the same family"
    )
    for family, b in sorted(results.get("baselines", {}).items()):
        stable = b["half_width"] <= P95_TOLERANCE
        lines.append(
            f"  {family} baseline p95 {b['p95_ms']:.1f} ms, 95 % bootstrap interval "
            f"+-{100 * b['half_width']:.0f} %: "
            + (
                f"stable (within +-{100 * P95_TOLERANCE:.0f} %)"
                if stable
                else f"NOT stable after {results['rounds']} rounds (limit "
                f"{results.get('max_rounds', results['rounds'])}): read p95 ratios as rough"
            )
        )
    routes = results.get("routes", [])
    base = {r["family"]: r for r in routes if r["route"].startswith("scalars")}
    if routes:
        lines.append("")
        header = (
            f"{'route':26} {'p50 ms':>8} {'p95 ms':>8} {'first ms':>9} {'KB':>7} "
            f"{'p50 ratio':>9} {'p95 ratio':>9}"
        )
        lines.append(header)
        lines.append("-" * len(header))
        for r in routes:
            baseline = base.get(r["family"])
            ratio = _ratio(r["p95_ms"], baseline and baseline["p95_ms"])
            ratio50 = _ratio(r["p50_ms"], baseline and baseline["p50_ms"])
            if r["route"].startswith("scalars"):
                verdict = f"{'':>9} {'(baseline)':>9}"
            else:
                ok = ratio is not None and ratio <= P95_TARGET
                verdict = (
                    f"{ratio50:8.2f}x {ratio:8.2f}x  {'ok' if ok else 'OVER'} "
                    f"(target p95 <= {P95_TARGET}x)"
                )
            cold = "" if r["cold_ms"] is None else f"{r['cold_ms']:9.1f}"
            lines.append(
                f"{r['route']:26} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} {cold:>9} "
                f"{r['kb']:7.1f} {verdict}"
            )
    if results.get("whatif_fresh_ms"):
        fresh = results["whatif_fresh_ms"]
        lines.append(
            f"race /whatif with a new learning rate (runs the optimizer for "
            f"{s['race_steps']:,} steps): {', '.join(f'{v:.0f}' for v in fresh)} ms "
            "(a computation, not held to the scalars target)"
        )
    starts = results["start_seconds"]
    if starts["with"] and starts["without"]:
        w, wo = statistics.median(starts["with"]), statistics.median(starts["without"])
        ratio = w / wo
        lines.append("")
        lines.append(
            f"start -> /data/plugins_listing (median of {len(starts['with'])}): with "
            f"Flowscope {w:.2f} s, without {wo:.2f} s: {ratio:.3f}x "
            f"({'ok' if ratio <= START_TARGET else 'OVER'}, target <= {START_TARGET}x; "
            f"difference {1e3 * (w - wo):+.0f} ms)"
            + (
                "; below 1.0x is noise (order, load), not a speed-up: Flowscope only adds work"
                if ratio < 1.0
                else ""
            )
        )
        lines.append(
            f"  spread: with {min(starts['with']):.2f}..{max(starts['with']):.2f} s, without "
            f"{min(starts['without']):.2f}..{max(starts['without']):.2f} s"
        )
    own = results.get("own_start_ms")
    if own and starts["without"]:
        share = statistics.median(own) / (10 * statistics.median(starts["without"]))
        lines.append(
            f"Flowscope's own start-up work (import its loaders and plugin modules, build both "
            f"plugins; fresh process, median of {len(own)}): {statistics.median(own):.0f} ms "
            f"= {share:.1f} % of the start without Flowscope"
        )
    if "with_ready_seconds" in results:
        lines.append(
            f"start -> every scalar point served: with {results['with_ready_seconds']:.1f}"
            f" s after the listing, without {results['without_ready_seconds']:.1f} s"
        )
    lines.append("")
    rss = [
        ("without Flowscope, data loaded", results.get("without_rss_idle_mb")),
        ("without Flowscope, Time Series page open", results.get("without_rss_page_mb")),
        ("with Flowscope, data loaded", results.get("with_rss_idle_mb")),
        ("with Flowscope, both pages open", results.get("with_rss_pages_mb")),
        ("with Flowscope, after the route timing", results.get("with_rss_after_routes_mb")),
    ]
    lines.append("TensorBoard process tree resident memory (Python + Rust data server):")
    for label, value in rss:
        if value is not None:
            lines.append(f"  {label:44} {value:8.0f} MiB")
    ratio = _ratio(results.get("with_rss_pages_mb"), results.get("without_rss_page_mb"))
    if ratio:
        lines.append(f"  with both Flowscope pages / without (its own page): {ratio:.2f}x")
    pages = results.get("pages")
    if pages:
        lines.append(
            f"pages: race rendered {pages['race']['render_ms']:.0f} ms after its iframe "
            f"started, confusion {pages['confusion']['render_ms']:.0f} ms"
        )
    if results.get("page_errors"):
        lines.append(f"PAGE ERRORS: {results['page_errors'][:3]}")
    large = results.get("large")
    if large:
        lines.append("")
        lines.append(
            f"large: {s['large_steps']:,}-step trajectory, {s['large_positions']} x "
            f"{s['large_classes']} confusion x {s['large_confusion_steps']:,} steps "
            f"(written in {large['write_seconds']:.0f} s, served "
            f"{large['load_seconds']:.0f} s later)"
        )
        for name, r in large["routes"].items():
            extra = ""
            if "total_points" in r:
                extra = f", {r['points']} of {r['total_points']:,} rows ({r['downsampling']})"
            if "total_steps" in r:
                extra = f", {r['steps']} of {r['total_steps']:,} steps"
            lines.append(
                f"  /{name:11} first {r['cold_ms']:8.0f} ms, then {r['warm_ms']:7.0f}"
                f" ms, {r['kb']:7.0f} KB{extra}"
            )
        for label, key in (
            ("before the large runs", "rss_before_mb"),
            ("large runs loaded", "rss_loaded_mb"),
            ("after their routes", "rss_routes_mb"),
            ("with both pages on them", "rss_pages_mb"),
        ):
            if key in large:
                lines.append(f"  tree RSS {label:26} {large[key]:8.0f} MiB")
        ok = large["growth_mb"] <= large["growth_bound_mb"]
        lines.append(
            f"  growth {large['growth_mb']:.0f} MiB: {'ok' if ok else 'OVER'} "
            f"(bound {large['growth_bound_mb']} MiB)"
        )
        if "race_select_ms" in large:
            slide_r, slide_c = large["race_slide_ms"], large["confusion_slide_ms"]
            lines.append(
                f"  race page: large race shown {large['race_select_ms']:.0f} ms after "
                f"picking it; scrubber move -> painted: median "
                f"{statistics.median(slide_r):.0f} ms, max {max(slide_r):.0f} ms"
            )
            lines.append(
                f"  confusion page: large run shown {large['confusion_select_ms']:.0f} "
                f"ms after picking it; step slider move -> painted: median "
                f"{statistics.median(slide_c):.0f} ms, max {max(slide_c):.0f} ms"
            )
        if large.get("page_errors"):
            lines.append(f"  PAGE ERRORS: {large['page_errors'][:3]}")
    return lines
