"""The race page's what-if: a racer re-run with a new learning rate (and momentum), and the
warm-up that prepares a race's re-runs in the background.

The route parses and range-checks a what-if's values once (`Change`); here they only meet
the racer they change. `Whatifs` runs the library's engine (`summaries.race.engine`,
TensorFlow, imported on first use), one call at a time (Keras optimizers are not
re-entrant), caches the simulated paths, and owns the warm-up thread (`/warmup`): it
prepares (XLA-compiles) each racer's loop, then computes the race's families
(`summaries.race.family`: every racer at a grid of learning rates and momenta, one compiled
program), which `/family` serves for the page to draw while a slider is dragged.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tb_plugin.base import bad_request, logger
from tb_plugin.data import LRU
from tb_plugin.race_listing import Race, Racer
from tb_plugin.race_track import Track

_WHATIF_CACHE = 32  # simulated what-if paths
# families of recent races (a race of 96 racers with momentum holds about 21 MB)
FAMILY_CACHE_BYTES = 64 * 2**20
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
class Logged:
    """What a racer's what-if takes from its logged path: steps and start (None: the
    surface's standard start)."""

    steps: int
    start: tuple[float, ...] | None

    def __iter__(self):
        return iter((self.steps, self.start))


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
        self._families = LRU(FAMILY_CACHE_BYTES)  # family key -> {racer id: Family}
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

    def warm(self, race: Race, logged: dict[str, Logged]) -> dict[str, Any]:
        """Start preparing the what-if of every re-runnable racer of `race` (`logged`: the
        steps and start of each, by id), then its families, in the background (see
        /warmup) and say how far the racers are; returns at once."""
        racers = [r for r in race.racers if r.whatif and r.id in logged]
        if not racers:
            reason = race.refusal.reason if race.refusal else None
            return {"state": "unavailable", "racers": 0, "ready": 0, "reason": reason}
        jobs = [
            (r.optimizer, dict(r.hyperparameters), race.surface, logged[r.id].steps) for r in racers
        ]
        key = _family_key(race, racers, logged)
        extra = [(key, lambda: self._compute_families(key, race, racers, logged))]
        return self.warmer.request(jobs, extra)

    def family(self, race: Race, racer: Racer, logged: dict[str, Logged]) -> tuple[str, Any]:
        """("ready", the racer's Family), or (state, reason) while it is not: "warming" or
        "failed"; asks for the race's warm-up when nobody has yet."""
        if racer.refusal is not None:
            raise bad_request(racer.refusal.reason)
        if racer.id not in logged:
            return "failed", f"racer {racer.id!r} has no readable trajectory"
        racers = [r for r in race.racers if r.whatif and r.id in logged]
        key = _family_key(race, racers, logged)
        found = self._families.get(key)
        if found is None:
            self.warm(race, logged)
            state = self.warmer.state(key)
            if state is None:
                return "warming", None
            if state != _READY:
                return "failed", state
            found = self._families.get(key)
            if found is None:  # computed, then pushed out of the cache by other races
                self.warmer.forget(key)
                self.warm(race, logged)
                return "warming", None
        return "ready", found[racer.id]

    def _compute_families(
        self, key: str, race: Race, racers: list[Racer], logged: dict[str, Logged]
    ) -> None:
        from summaries.race import family  # heavy (TensorFlow): only here

        # all racers of one step count race together (a race's racers usually share it)
        by_steps: dict[int, list[Racer]] = {}
        for r in racers:
            by_steps.setdefault(logged[r.id].steps, []).append(r)
        found = {}
        for steps, group in by_steps.items():
            specs = [
                (r.optimizer, dict(r.hyperparameters), race.surface, logged[r.id].start)
                for r in group
            ]
            for r, fam in zip(group, family.families(specs, steps), strict=True):
                found[r.id] = fam
        self._families.put(key, found, sum(f.nbytes for f in found.values()))

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


def _family_key(race: Race, racers: list[Racer], logged: dict[str, Logged]) -> str:
    """What a race's families depend on."""
    return json.dumps(
        [
            "family",
            race.name,
            race.surface,
            [(r.id, r.optimizer, r.hyperparameters, *logged[r.id]) for r in racers],
        ],
        sort_keys=True,
        default=str,
    )


def family_json(fam: Any) -> dict[str, Any]:
    """A Family as /family answers it: the grid, the recorded steps, and the rows as
    little-endian float32 in base64 (NaN after a member's divergence)."""
    rows = np.ascontiguousarray(fam.rows, dtype="<f4")
    return {
        "learning_rates": fam.learning_rates.tolist(),
        "momenta": None if fam.momenta is None else fam.momenta.tolist(),
        "steps": fam.steps.tolist(),
        "shape": list(rows.shape),
        "diverged_index": fam.diverged_index.tolist(),
        "rows": base64.b64encode(rows.tobytes()).decode("ascii"),
        "encoding": "float32-le-base64",
        "bytes": int(fam.nbytes),
    }


class _Warmer:
    """Prepares what-if loops (`summaries.race.engine.prepare`) and computes families in one
    background thread."""

    def __init__(self, engine_lock: threading.Lock):
        self._engine_lock = engine_lock  # one engine call at a time
        self._lock = threading.Lock()
        self._state: dict[str, str | None] = {}  # job -> None (queued), READY or an error
        self._queue: list[tuple[str, Callable[[], Any], bool]] = []  # key, work, engine lock
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

    def state(self, key: str) -> str | None:
        """A job's state: None (queued or running), READY, or why it failed."""
        with self._lock:
            return self._state.get(key)

    def forget(self, key: str) -> None:
        """Let `key` be queued again (its result was dropped)."""
        with self._lock:
            if self._state.get(key) is not None:
                del self._state[key]

    def request(
        self,
        jobs: list[tuple[str, dict[str, Any], str, int]],
        extra: list[tuple[str, Callable[[], Any]]] = (),
    ) -> dict[str, Any]:
        """Queue the jobs not seen before, then the `extra` ones (key, work; outside the
        engine lock: they build programs of their own); the state of `jobs` (/warmup)."""
        keys = [json.dumps(job, sort_keys=True) for job in jobs]
        work = [(key, _prepare(*job), True) for key, job in zip(keys, jobs, strict=True)]
        work += [(key, fn, False) for key, fn in extra]
        with self._lock:
            for key, fn, locked in work:
                if key not in self._state:
                    self._state[key] = None
                    self._queue.append((key, fn, locked))
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
                key, fn, locked = self._queue.pop(0)
                while self._waiting:
                    self._no_whatif.wait()
            try:
                # one racer at a time: a what-if waits for at most one racer's preparation
                with self._engine_lock if locked else contextlib.nullcontext():
                    fn()
                state = _READY
            except Exception as exc:  # the what-if of that racer will say why, as a 400
                logger.warning("what-if warm-up job %s failed: %s", key[:200], exc)
                state = str(exc) if isinstance(exc, _JobError) else f"{type(exc).__name__}: {exc}"
            with self._lock:
                self._state[key] = state


def _prepare(optimizer: str, hyper: dict[str, Any], surface: str, steps: int) -> Callable:
    """The warm-up of one racer: its what-if loop, compiled for `steps` updates."""

    def work() -> None:
        from summaries.race import engine  # heavy (TensorFlow): only here

        try:
            engine.prepare(optimizer, hyper, surface, steps)
        except Exception as exc:
            raise _JobError(f"{optimizer}: {type(exc).__name__}: {exc}") from None

    return work


class _JobError(Exception):
    """A warm-up job's failure, worded for /warmup."""
