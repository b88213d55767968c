"""The benchmarks' statistics and wording on fixed numbers: paired ratios with bootstrap
intervals, the noise verdict (never a speed-up below 1.0x), percentile spread, the callback's
fixed cost per fit and the serve bench's stopping rule. No timings are asserted."""

from __future__ import annotations

import pytest

from demo_models.bench.callback import fixed_cost
from demo_models.bench.serve import baseline_stable
from demo_models.bench.stats import (
    Ratio,
    bootstrap,
    nearest_rank,
    paired_ratio,
    percentile_spread,
)


def test_nearest_rank():
    ordered = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert nearest_rank(ordered, 50) == 5.0
    assert nearest_rank(ordered, 95) == 10.0
    assert nearest_rank(ordered, 10) == 1.0
    assert nearest_rank([3.0], 95) == 3.0
    with pytest.raises(ValueError, match="values"):
        nearest_rank([], 50)
    with pytest.raises(ValueError, match="q"):
        nearest_rank(ordered, 0)


def test_paired_ratio_is_the_median_of_pairs_with_an_interval_around_it():
    times = [11.0, 12.0, 10.5, 11.5, 13.0]
    bases = [10.0, 10.0, 10.0, 10.0, 10.0]
    r = paired_ratio(times, bases)
    assert r.median == pytest.approx(1.15)
    assert r.n == 5
    assert 1.05 <= r.low <= r.median <= r.high <= 1.3  # within the pairs' own range
    assert r.verdict == "cost"
    assert r.describe().startswith("1.15x [")
    assert "costs 15 % more time" in r.describe()
    # the same seed gives the same interval: a report is reproducible
    assert paired_ratio(times, bases) == r


def test_pairs_not_pooled():
    """A slow repeat slows both of its fits: pairing cancels it."""
    times = [10.5, 21.0, 10.5, 31.5, 10.5]
    bases = [10.0, 20.0, 10.0, 30.0, 10.0]
    r = paired_ratio(times, bases)
    assert (r.median, r.low, r.high) == pytest.approx((1.05, 1.05, 1.05))


def test_interval_holding_one_is_within_noise_never_a_speedup():
    r = paired_ratio([9.7, 10.2, 9.9, 10.4, 9.6], [10.0] * 5)
    assert r.median < 1.0 and r.low < 1.0 < r.high
    assert r.verdict == "noise"
    text = r.describe()
    assert "within noise" in text and "no cost measurable" in text
    assert "speed-up" not in text.replace("not a speed-up", "")


def test_all_below_one_is_called_noise_not_a_speedup():
    r = Ratio(median=0.9, low=0.85, high=0.95, n=7)
    assert r.verdict == "below"
    text = r.describe()
    assert "not a speed-up" in text
    assert "faster" not in text


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="same length"):
        paired_ratio([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="baselines"):
        paired_ratio([1.0], [0.0])
    with pytest.raises(ValueError, match="finite"):
        bootstrap([1.0, float("nan")], max)
    with pytest.raises(ValueError, match="level"):
        bootstrap([1.0], max, level=1.5)


def test_percentile_spread():
    steady = [0.05] * 60
    assert percentile_spread(steady, 95) == (0.05, 0.0)
    # a p95 set by a few outliers: the bootstrap moves it a lot
    jumpy = [0.05] * 54 + [0.3, 0.1, 0.4, 0.2, 0.35, 0.15]
    value, half = percentile_spread(jumpy, 95)
    assert value == 0.2  # the 57th of 60
    assert half > 0.3


def test_baseline_stable_needs_every_baseline_steady():
    steady = [0.05 + 0.001 * (i % 5) for i in range(60)]
    jumpy = [0.05] * 54 + [0.3, 0.1, 0.4, 0.2, 0.35, 0.15]
    assert baseline_stable({"race": steady, "confusion": steady}, 0.1)
    assert not baseline_stable({"race": steady, "confusion": jumpy}, 0.1)
    assert baseline_stable({"race": steady, "confusion": jumpy}, 10.0)


def test_fixed_cost_is_the_excess_over_the_steady_state():
    hooks = {
        "on_train_begin": [0.010],
        "on_train_end": [0.005],
        "on_epoch_begin": [0.003, 0.001, 0.001],
        "on_epoch_end": [0.080, 0.030, 0.034],  # the first epoch's end does more
        "on_train_batch_begin": [0.002, 0.004] + [0.0001] * 100,
        "on_train_batch_end": [0.5] * 102,  # Keras's worker threads: not counted
        "_write_epoch": [1.0, 1.0, 1.0],  # the writer thread: not counted
    }
    expected = 0.010 + 0.005 + (0.003 - 0.001) + (0.080 - 0.032) + (0.0019 + 0.0039)
    assert fixed_cost(hooks) == pytest.approx(expected)
    # one epoch: its hooks count whole (an upper bound)
    assert fixed_cost({"on_epoch_end": [0.05]}) == pytest.approx(0.05)
    assert fixed_cost({}) == 0.0


def _serve_results(with_s: list[float], half_width: float) -> dict:
    """A minimal `flowscope bench serve` result with fixed numbers."""
    route = {"family": "race", "n": 60, "cold_ms": 80.0, "kb": 1.0}
    return {
        "sizes": {
            "race_runs": 2,
            "race_steps": 100,
            "confusion_runs": 1,
            "confusion_steps": 10,
            "positions": 4,
            "classes": 10,
        },
        "tensorflow_imported_by_tensorboard": False,
        "rounds": 40,
        "max_rounds": 150,
        "routes": [
            {**route, "route": "scalars (10k points)", "p50_ms": 40.0, "p95_ms": 50.0},
            {**route, "route": "race /races", "p50_ms": 20.0, "p95_ms": 60.0},
        ],
        "baselines": {"race": {"p95_ms": 50.0, "half_width": half_width}},
        "start_seconds": {"with": with_s, "without": [6.0]},
    }


def test_serve_report_p50_beside_p95_and_the_stability_verdict():
    from demo_models.bench.serve_report import report

    lines = report(_serve_results([6.3], 0.04))
    races = next(line for line in lines if line.startswith("race /races "))
    assert "0.50x" in races and "1.20x" in races  # p50 ratio, then p95 ratio
    assert races.index("0.50x") < races.index("1.20x")
    assert any("race baseline p95 50.0 ms" in line and "stable" in line for line in lines)
    start = next(line for line in lines if line.startswith("start -> /data"))
    assert "1.050x" in start and "not a speed-up" not in start

    lines = report(_serve_results([5.7], 0.25))
    assert any("NOT stable after 40 rounds" in line for line in lines)
    start = next(line for line in lines if line.startswith("start -> /data"))
    assert "0.950x" in start and "noise (order, load), not a speed-up" in start
