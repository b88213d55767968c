"""The race page's what-if: a racer re-run with a new learning rate (and momentum), and the
warm-up that prepares a race's re-runs in the background.

The route parses and range-checks a what-if's values once (`Change`); here they only meet
the racer they change. `Whatifs` runs the library's engine (`summaries.race.engine`,
TensorFlow, imported on first use), one call at a time (Keras optimizers are not
re-entrant), caches the simulated paths, and owns the warm-up thread (`/warmup`).
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from tb_plugin.base import bad_request, logger
from tb_plugin.data import LRU
from tb_plugin.race_listing import Race, Racer
from tb_plugin.race_track import Track

_WHATIF_CACHE = 32  # simulated what-if paths
_READY = "ready"


@dataclass(frozen=True)
class Change:
    """A what-if's new values, parsed and range-checked by the route (steps None: as logged)."""

    learning_rate: float
    momentum: float | None = None
    steps: int | None = None

    def applied_to(self, racer: Racer) -> dict[str, Any]:
        """The racer's logged hyper-parameters with these values; 400 when the what-if
        cannot re-run the racer, or it has no momentum to change."""
        if racer.refusal is not None:  # a surface or optimizer the engine cannot re-run
            raise bad_request(racer.refusal.reason)
        hyper = {**racer.hyperparameters, "learning_rate": self.learning_rate}
        if self.momentum is not None:
            if "momentum" not in racer.hyperparameters:
                raise bad_request(f"optimizer {racer.optimizer!r} has no momentum hyper-parameter")
            hyper["momentum"] = self.momentum
        return hyper


@dataclass(frozen=True)
class Rerun:
    """One simulation, the key of its cached path."""

    optimizer: str
    surface: str
    hyperparameters: tuple[tuple[str, Any], ...]
    start: tuple[float, ...] | None
    steps: int


class Whatifs:
    """Simulated what-if paths (cached) and the warm-up of a race's re-runs."""

    def __init__(self) -> None:
        self._paths = LRU(_WHATIF_CACHE)
        self._engine_lock = threading.Lock()
        self.warmer = _Warmer(self._engine_lock)

    def run(
        self, race: Race, optimizer: str, hyper: dict[str, Any], logged: Track, steps: int | None
    ) -> Track:
        """`optimizer` with `hyper` from the race's start (else the logged one) for `steps`
        updates (None: as many as `logged`), on the race's surface; cached."""
        start = race.start or logged.content.get("start")
        rerun = Rerun(
            optimizer,
            race.surface,
            tuple(hyper.items()),
            None if start is None else tuple(start),
            max(logged.last_step, 1) if steps is None else steps,  # the engine bounds it
        )
        simulated = self._paths.get(rerun)
        if simulated is None:
            simulated = self._simulate(rerun, race, logged.content)
            self._paths.put(rerun, simulated)
        return simulated

    def warm(self, race: Race) -> dict[str, Any]:
        """Start preparing the what-if of every re-runnable racer of `race` in the background
        (see /warmup) and say how far it is; returns at once."""
        jobs = [
            (r.optimizer, dict(r.hyperparameters), race.surface) for r in race.racers if r.whatif
        ]
        if not jobs:
            reason = race.refusal.reason if race.refusal else None
            return {"state": "unavailable", "racers": 0, "ready": 0, "reason": reason}
        return self.warmer.request(jobs)

    def _simulate(self, rerun: Rerun, race: Race, content: dict[str, Any]) -> Track:
        """Run the library's engine once (serialised: Keras optimizers are not re-entrant)."""
        from summaries.race import engine  # heavy (TensorFlow): only here

        optimizer, hyper = rerun.optimizer, dict(rerun.hyperparameters)
        with self.warmer.first(), self._engine_lock:
            try:
                result = engine.simulate(
                    optimizer, hyper, rerun.surface, start=rerun.start, steps=rerun.steps
                )
            except (ValueError, TypeError, KeyError) as exc:
                raise bad_request(f"cannot simulate {optimizer!r} with {hyper}: {exc}") from None
            except Exception as exc:  # e.g. a TensorFlow error: say so, never a 500
                logger.warning("what-if %s %s failed: %s", optimizer, hyper, exc)
                raise bad_request(
                    f"the engine could not run {optimizer!r} with {hyper}: {type(exc).__name__}"
                ) from None
        positions = np.asarray(result["positions"], dtype=np.float64).reshape(-1, 2)
        losses = np.asarray(result["losses"], dtype=np.float64).reshape(-1)
        rows = np.column_stack([np.arange(len(losses)), positions, losses])
        measured = {"window": race.window, "minima": race.minima, "tolerance": race.tolerance}
        return Track(rows, {**content, **measured})


class _Warmer:
    """Prepares what-if loops (`summaries.race.engine.prepare`) in one background thread."""

    def __init__(self, engine_lock: threading.Lock):
        self._engine_lock = engine_lock  # one engine call at a time
        self._lock = threading.Lock()
        self._state: dict[str, str | None] = {}  # job -> None (queued), READY or an error
        self._queue: list[tuple[str, tuple]] = []
        self._thread: threading.Thread | None = None
        # What-ifs waiting for the engine go first: a lock is not fair, and without this the
        # warm-up thread could take it again for its next racer, and again.
        self._waiting = 0
        self._no_whatif = threading.Condition(self._lock)

    @contextlib.contextmanager
    def first(self):
        """Around a what-if: no warm-up job starts until it is done."""
        with self._lock:
            self._waiting += 1
        try:
            yield
        finally:
            with self._lock:
                self._waiting -= 1
                self._no_whatif.notify_all()

    def request(self, jobs: list[tuple[str, dict[str, Any], str]]) -> dict[str, Any]:
        """Queue the jobs not seen before; the state of all of them (see /warmup)."""
        keys = [json.dumps(job, sort_keys=True) for job in jobs]
        with self._lock:
            for key, job in zip(keys, jobs, strict=True):
                if key not in self._state:
                    self._state[key] = None
                    self._queue.append((key, job))
            if self._queue and self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="flowscope-race-warmup", daemon=True
                )
                self._thread.start()
            states = [self._state[key] for key in keys]
        errors = [s for s in states if s not in (None, _READY)]
        ready = sum(s == _READY for s in states)
        if None in states:
            state = "warming"
        else:
            state = "failed" if errors else "ready"
        return {
            "state": state,
            "racers": len(jobs),
            "ready": ready,
            "reason": errors[0] if errors and state == "failed" else None,
        }

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._thread = None
                    return
                key, (optimizer, hyper, surface) = self._queue.pop(0)
                while self._waiting:
                    self._no_whatif.wait()
            try:
                from summaries.race import engine  # heavy (TensorFlow): only here

                # one racer at a time: a what-if waits for at most one racer's preparation
                with self._engine_lock:
                    engine.prepare(optimizer, hyper, surface)
                state = _READY
            except Exception as exc:  # the what-if of that racer will say why, as a 400
                logger.warning("what-if warm-up of %s failed: %s", optimizer, exc)
                state = f"{optimizer}: {type(exc).__name__}: {exc}"
            with self._lock:
                self._state[key] = state
