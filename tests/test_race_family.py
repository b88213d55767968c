"""Families of what-if paths (`summaries.race.family`, `/family`): each racer re-run at a grid
of learning rates (and momenta) in one compiled program, served for the page's drag."""

from __future__ import annotations

import base64
import contextlib
import io
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
from conftest import wait_for
from plugin_harness import InProcessBoard

from demo_models.race import cli
from summaries.race import engine, family

PLUGIN = "optimizer_race"
RACE = "race-quadratic"


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("family")
    argv = ["--logdir", str(logdir), "--steps", "60", "--surfaces", "quadratic"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main([*argv, "--optimizers", "sgd", "momentum", "adam"]) == 0
    return InProcessBoard(logdir)


def rows_of(body: dict) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(body["rows"]), dtype="<f4")
    return raw.reshape(body["shape"])


def wait_family(board, racer: str, timeout: float = 180) -> dict:
    """The racer's /family answer once the warm-up has computed it (conftest's wait_for)."""

    def ready():
        body = board.plugin(PLUGIN, "family", race=RACE, racer=racer)
        return body if body["state"] != "warming" else None

    return wait_for(ready, timeout=timeout, interval=0.1)


def test_grid_spans_the_pages_sliders():
    rates, momenta = family.grid({"learning_rate": 0.01, "momentum": 0.9})
    assert rates[0] == pytest.approx(1e-5) and rates[-1] == pytest.approx(1.0)
    assert len(rates) == 16 and np.all(np.diff(np.log10(rates)) > 0)
    assert momenta[0] == 0 and momenta[-1] == pytest.approx(0.999) and 0.9 in momenta
    assert family.grid({"learning_rate": 5.0})[0][-1] == pytest.approx(10.0)  # the bound
    assert family.grid({"learning_rate": 0.1})[1] is None


def test_every_member_is_the_engines_own_path_at_its_recorded_steps():
    specs = [("momentum", {}, "beale", None), ("adam", {}, "beale", (1.0, 1.0))]
    fams = family.families(specs, 200, points=40)
    mom, adam = fams
    assert mom.rows.shape == (7, 16, len(mom.steps), 3) and adam.rows.shape[0] == 1
    assert mom.steps[0] == 0 and mom.steps[-1] == 200 and len(mom.steps) <= 42
    for fam, (opt, _, surface, start), index in [(mom, specs[0], (2, 9)), (adam, specs[1], (0, 4))]:
        hp = {"learning_rate": float(fam.learning_rates[index[1]])}
        if fam.momenta is not None:
            hp["momentum"] = float(fam.momenta[index[0]])
        alone = engine.simulate(opt, hp, surface, start=start, steps=200)
        d = fam.diverged_index[index]
        keep = fam.steps[: None if d < 0 else d + 1]
        np.testing.assert_allclose(
            fam.rows[index][: len(keep), :2], alone["positions"][keep], rtol=1e-5, atol=1e-6
        )
    assert mom.nbytes < 300_000  # 7 x 16 paths of ~40 rows


def test_family_route_serves_each_racer_after_the_warmup(board):
    listed = board.plugin(PLUGIN, "races")["races"][0]["racers"]
    ids = {r["optimizer"]: r["id"] for r in listed}
    body = wait_family(board, ids["momentum"])
    assert body["state"] == "ready" and body["reason"] is None, body
    rows = rows_of(body)
    assert rows.shape == (7, 16, len(body["steps"]), 3) and body["steps"][-1] == 60
    assert body["encoding"] == "float32-le-base64" and len(body["momenta"]) == 7
    # the member at a grid point is the what-if's exact path there (at the recorded steps)
    lr, m = body["learning_rates"][8], body["momenta"][2]
    exact = board.plugin(PLUGIN, "whatif", race=RACE, racer=ids["momentum"], learning_rate=lr,
                         momentum=m, points=5000)  # fmt: skip
    d = body["diverged_index"][2][8]
    steps = body["steps"][: None if d < 0 else d + 1]
    xs = np.array(exact["x"], dtype=np.float64)[steps]
    np.testing.assert_allclose(rows[2, 8, : len(steps), 0], xs, rtol=1e-5, atol=1e-6)
    adam = wait_family(board, ids["adam"])
    assert adam["momenta"] is None and rows_of(adam).shape[:2] == (1, 16)


def test_family_of_an_unknown_racer_is_404(board):
    body = board.plugin(PLUGIN, "family", expect=404, race=RACE, racer="nope")
    assert "nope" in body["error"]
