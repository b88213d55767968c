"""Spread and wording for the benchmarks: bootstrap intervals of paired ratios and of
percentiles, and what a ratio may honestly be called.

A benchmark on a shared 2-core machine measures noise as well as cost. These helpers turn
repeats into an interval (a percentile bootstrap, seeded so that a report is
reproducible) and say plainly when a difference is within that noise. A ratio below 1.0x
for something that only adds work (a callback, a plugin) is never called a speed-up.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

RESAMPLES = 2000
LEVEL = 0.95


def nearest_rank(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank `q`-th percentile (0 < q <= 100) of sorted values."""
    if not ordered:
        raise ValueError("values must not be empty")
    if not 0 < q <= 100:
        raise ValueError(f"q must be in (0, 100], got {q}")
    rank = max(1, min(len(ordered), math.ceil(len(ordered) * q / 100)))
    return ordered[rank - 1]


def bootstrap(
    values: Sequence[float],
    statistic: Callable[[list[float]], float],
    *,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(statistic of `values`, low, high): a percentile-bootstrap interval at `level`."""
    data = [float(v) for v in values]
    if not data:
        raise ValueError("values must not be empty")
    if not all(math.isfinite(v) for v in data):
        raise ValueError("values must be finite")
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = random.Random(seed)
    n = len(data)
    estimates = sorted(statistic(rng.choices(data, k=n)) for _ in range(resamples))
    tail = (1 - level) / 2 * 100
    low = nearest_rank(estimates, max(tail, 1e-9))
    high = nearest_rank(estimates, 100 - tail)
    return statistic(data), low, high


@dataclass(frozen=True)
class Ratio:
    """A median of paired ratios (each run over its own baseline) with its interval."""

    median: float
    low: float
    high: float
    n: int

    @property
    def verdict(self) -> str:
        """'cost', 'noise' (the interval holds 1.0x) or 'below' (all of it under 1.0x)."""
        if self.low > 1.0:
            return "cost"
        if self.high < 1.0:
            return "below"
        return "noise"

    def describe(self) -> str:
        """The ratio, its interval and what it means, in words a sceptic accepts."""
        figure = f"{self.median:.2f}x [{self.low:.2f}-{self.high:.2f}]"
        if self.verdict == "cost":
            return f"{figure}: costs {100 * (self.median - 1):.0f} % more time"
        if self.verdict == "noise":
            return f"{figure}: within noise (the interval holds 1.00x), no cost measurable"
        return (
            f"{figure}: below 1.00x, which is noise (order, load), not a speed-up: "
            "the callback only adds work"
        )


def paired_ratio(
    times: Sequence[float],
    baselines: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
) -> Ratio:
    """The median of times[i] / baselines[i] with a bootstrap interval over the pairs."""
    if len(times) != len(baselines) or not times:
        raise ValueError("times and baselines must be non-empty and of the same length")
    if any(b <= 0 for b in baselines):
        raise ValueError("baselines must be > 0")
    ratios = [t / b for t, b in zip(times, baselines, strict=True)]
    median, low, high = bootstrap(
        ratios, statistics.median, resamples=resamples, level=level, seed=seed
    )
    return Ratio(median, low, high, len(ratios))


def percentile_spread(
    values: Sequence[float], q: float, *, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """(the `q`-th percentile, the half-width of its 95 % bootstrap interval relative to it)."""

    def statistic(sample: list[float]) -> float:
        return nearest_rank(sorted(sample), q)

    value, low, high = bootstrap(values, statistic, resamples=resamples, seed=seed)
    return value, ((high - low) / 2 / value) if value > 0 else math.inf
