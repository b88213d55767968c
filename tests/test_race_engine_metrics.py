"""`summaries.race.metrics`: arrival, settling, outcome and rank of hand-made trajectories."""

from __future__ import annotations

import math

import numpy as np
import pytest

from summaries.race.metrics import (
    divergence,
    outcome_text,
    outer_window,
    rank_key,
    ranks,
    trajectory_metrics,
)
from summaries.race.surfaces import SURFACES

WINDOW = [-2.0, 2.0, -1.0, 3.0]
MINIMA = [[1.0, 1.0], [-1.0, 0.0]]


def metrics(positions, losses, **kw):
    kw = {"minima": MINIMA, "window": WINDOW, "tolerance": 0.1, **kw}
    return trajectory_metrics(np.asarray(positions, float), np.asarray(losses, float), **kw)


def test_first_entry_and_settled_differ_when_a_racer_overshoots():
    # in at step 2, out again at 3, back in from step 4 to the end
    xs = [0.0, 0.5, 0.95, 1.3, 1.05, 1.01]
    m = metrics([[x, 1.0] for x in xs], [5, 3, 1, 2, 0.5, 0.1])
    assert m["first_entry_step"] == 2 and m["settled_step"] == 4
    assert m["final_loss"] == 0.1 and m["best_loss"] == 0.1
    assert m["distance_to_minimum"] == pytest.approx(0.01)
    assert not m["diverged"] and m["diverged_step"] is None and m["reason"] is None
    assert m["tolerance_kind"] == "distance"


def test_nearest_minimum_counts_and_never_arriving_gives_none():
    m = metrics([[0.0, 0.5], [-0.5, 0.2], [-0.7, 0.1]], [3, 2, 1])
    assert m["distance_to_minimum"] == pytest.approx(math.hypot(0.3, 0.1))
    assert m["first_entry_step"] is None and m["settled_step"] is None


def test_without_minima_tolerance_is_a_loss_threshold():
    m = metrics([[0, 0], [0, 1], [0, 2]], [0.0, -1.5, -4.0], minima=[], tolerance=-1.0)
    assert m["distance_to_minimum"] is None
    assert m["first_entry_step"] == 1 and m["settled_step"] == 1
    assert m["tolerance_kind"] == "loss"


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [
        ([float("nan"), 0.0, 1.0], "nan"),
        ([0.0, 0.0, float("inf")], "inf"),
        ([6.5, 0.0, 1.0], "left window"),  # window is 4 wide: the outer limit is x = 6
    ],
)
def test_divergence_step_and_reason(bad_row, reason):
    rows = [[0.0, 0.0, 2.0], [1.0, 1.0, 0.0], bad_row, [1.0, 1.0, 0.0]]
    pos = [r[:2] for r in rows]
    loss = [r[2] for r in rows]
    m = metrics(pos, loss)
    assert m["diverged"] and m["diverged_step"] == 2 and m["reason"] == reason
    assert m["settled_step"] is None  # a diverged racer never settles
    assert m["first_entry_step"] == 1  # but it did get there before
    # rows after the divergence are ignored (the racer is frozen there)
    assert m["best_loss"] == 0.0 and m["steps"] == 2


def test_a_wide_swing_inside_the_margin_is_not_divergence():
    assert outer_window(WINDOW) == [-6.0, 6.0, -5.0, 7.0]
    assert divergence([[5.9, -4.9]], [1.0], WINDOW) == (None, None)


def test_explicit_steps_for_downsampled_trajectories():
    m = metrics([[0, 0], [0.5, 0.5], [1, 1]], [2, 1, 0], steps=[0, 10, 20])
    assert m["first_entry_step"] == 20 and m["steps"] == 20


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"positions": [[0, 0, 0]]}, "positions"),
        ({"losses": [1.0, 2.0]}, "losses"),
        ({"window": [1, 0, 0, 1]}, "window"),
        ({"minima": [[0, float("nan")]]}, "minima"),
        ({"tolerance": "near"}, "tolerance"),
        ({"steps": [0, 1]}, "steps"),
        ({"unbounded_below": "yes"}, "unbounded_below"),
    ],
)
def test_bad_input_names_the_argument(kwargs, argument):
    call = {"positions": [[0, 0]], "losses": [1.0], "minima": MINIMA, "window": WINDOW}
    call = {"tolerance": 0.1, **call, **kwargs}
    with pytest.raises((ValueError, TypeError), match=argument):
        trajectory_metrics(call.pop("positions"), call.pop("losses"), **call)


def test_outcome_arrived_and_not_arrived_in_n_steps():
    arrived = metrics([[0.0, 0.5], [0.9, 1.0], [1.0, 1.0]], [3, 1, 0])
    assert arrived["outcome"] == "arrived" and arrived["settled_step"] == 1
    assert outcome_text(arrived) == "arrived at step 1"
    # it entered once but left again: not arrived, and the status says in how many steps
    away = metrics([[0.0, 0.5], [1.0, 1.0], [0.0, 0.5]], [3, 0, 3], steps=[0, 100, 200])
    assert away["outcome"] == "not_arrived" and away["first_entry_step"] == 100
    assert outcome_text(away) == "not arrived in 200 steps"


def test_leaving_the_saddle_window_is_an_escape_not_a_divergence():
    saddle = SURFACES["saddle"]
    assert saddle.unbounded_below and not SURFACES["beale"].unbounded_below
    # down the saddle's open side: loss below -1 from step 3, out of the window at step 4
    ys = [0.001, 0.5, 1.2, 2.0, 6.0, 9.0]
    pos = np.array([[1.0, y] for y in ys])
    loss = saddle.value(pos[:, 0], pos[:, 1])
    kw = {"minima": [], "window": saddle.window, "tolerance": saddle.tolerance}
    m = trajectory_metrics(pos, loss, unbounded_below=True, **kw)
    assert m["outcome"] == "escaped" and not m["diverged"] and m["diverged_step"] is None
    assert m["escaped_step"] == 4 == m["stopped_step"] and m["reason"] == "left window"
    assert m["first_entry_step"] == 3 and m["settled_step"] == 3  # it arrived, then escaped
    assert m["steps"] == 4  # frozen where it left, as a diverged racer is
    assert outcome_text(m) == "escaped at step 4"
    # the same path on a surface bounded below is a divergence
    bounded = trajectory_metrics(pos, loss, **kw)
    assert bounded["outcome"] == "diverged" and bounded["diverged_step"] == 4
    assert bounded["escaped_step"] is None and bounded["settled_step"] is None
    assert outcome_text(bounded) == "diverged at step 4 (left window)"


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_inf_diverges_even_where_the_surface_is_unbounded_below(bad):
    m = metrics([[0, 0], [0, 1], [0, bad]], [0.0, -1.5, bad], minima=[], tolerance=-1.0,
                unbounded_below=True)  # fmt: skip
    assert m["outcome"] == "diverged" and m["diverged_step"] == 2
    assert m["escaped_step"] is None


def test_ranks_by_arrival_with_ties_sharing_a_rank():
    rows = [
        {"settled_step": None, "first_entry_step": None, "final_loss": 1e-20},  # never arrived
        {"settled_step": 14, "first_entry_step": 14, "final_loss": 2.8e-16},
        {"settled_step": 9, "first_entry_step": 9, "final_loss": 7.5e-10},
        {"settled_step": 9, "first_entry_step": 9, "final_loss": 7.5e-10},  # a tie
        {"settled_step": 9, "first_entry_step": 5, "final_loss": 1e-3},  # entered earlier
        {"settled_step": None, "first_entry_step": None, "final_loss": None},  # diverged
        {},  # unreadable
    ]
    assert ranks(rows) == [5, 4, 2, 2, 1, 6, None]
    assert rank_key(rows[1]) < rank_key(rows[0])  # arrival beats the lowest loss
