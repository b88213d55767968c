"""The Optimizer Race plugin: races, surfaces, trajectories, the leaderboard and what-ifs.

Routes are documented in `race_http_api.md` beside this file. Each route only parses its
query and calls one `*_impl(ctx, experiment_id, ...)` method returning a plain dict, which
the tests call in-process against TensorBoard's own data provider.

The page shows what the logs say: titles, description, formula, tolerance, colour order
(`order`), log scale and whether the surface is analytic all come from the trajectory
metadata (`summaries.format`, version 3; older metadata is upgraded on reading). The only
library this module calls is `summaries.race`: its surface names decide whether a what-if
can re-run a race (`summaries.race.engine.simulate`, TensorFlow, imported on first use).

Everything is read through `tb_plugin.data.PluginData`: decoded trajectories and surface
grids are cached by the version the listing reports, so the page's repeated requests
(scrubbing, re-sorting, switching races) cost a dictionary lookup; downsampled answers,
metrics, contour payloads and what-if simulations are cached beside them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import threading
from typing import Any

import numpy as np

from summaries import format as fmt
from summaries.race.metrics import ranks, trajectory_metrics
from tb_plugin import race_geometry as geometry
from tb_plugin.base import (
    FlowscopePlugin,
    arg_float,
    arg_int,
    arg_str,
    bad_request,
    logger,
    not_found,
    route,
)
from tb_plugin.data import LRU, PluginData, Series
from tb_plugin.race_geometry import contour_levels, lttb_indices  # noqa: F401 (public)

MIN_POINTS, MAX_POINTS, DEFAULT_POINTS = 2, 5000, 1000
MIN_LEVELS, MAX_LEVELS, DEFAULT_LEVELS = 2, 64, 18
# Race, run, tag and optimizer names come from the logs and may be long (a 2,000-character
# name must still open); the bound only stops absurd queries.
MAX_NAME = 4096
MAX_WHATIF_STEPS = 10_000
LR_RANGE = (1e-7, 10.0)
MOMENTUM_RANGE = (0.0, 0.999)
DEFAULT_TAG = fmt.RACE_TAGS["trajectory"]  # preferred when a run holds several trajectories
_SURFACE_CACHE = 16  # contour payloads (one per surface version and level count)
_WHATIF_CACHE = 32  # simulated what-if paths
_SAMPLES_PER_PATH = 8  # downsampled answers kept per trajectory or what-if (one per `points`)

# Fields of the trajectory metadata repeated in /trajectory and /whatif answers.
_DESCRIPTION = (
    "race",
    "optimizer",
    "surface",
    "window",
    "start",
    "minima",
    "basis",
    "tolerance",
    "tuning",
)


class Track:
    """Rows (step, x, y, loss) of a trajectory or what-if, with what is derived from them."""

    def __init__(self, rows: np.ndarray, content: dict[str, Any]):
        self.rows = rows
        self.content = content
        self._metrics: dict[str, Any] | None = None
        self._samples = LRU(_SAMPLES_PER_PATH)

    def metrics(self) -> dict[str, Any]:
        """trajectory_metrics of the rows (a leaderboard row, steps as logged)."""
        if self._metrics is None:
            self._metrics = _metrics(self.rows, self.content)
        return self._metrics

    def sample(self, points: int) -> dict[str, Any]:
        """The rows downsampled to at most `points` (LTTB), cached per `points`."""
        found = self._samples.get(points)
        if found is None:
            found = geometry.sample(self.rows, self.metrics(), points)
            self._samples.put(points, found)
        return found


def decode_trajectory(series: Series, data: list) -> Track:
    """A trajectory's chunks as one step-sorted Track (404 when no row is readable)."""
    rows = geometry.stack_rows([d.numpy for d in data])
    if rows is None:
        raise not_found(f"run {series.run!r} has no trajectory data yet")
    return Track(rows, series.content or {})


def decode_grid(series: Series, data: list) -> np.ndarray:
    """The latest grid of a surface series (404 when it has none yet)."""
    if not data:
        raise not_found(f"run {series.run!r}, tag {series.tag!r} has no surface data yet")
    return np.asarray(data[-1].numpy)


def _path_cost(path: Track) -> int:
    return path.rows.nbytes * 4 + 4096  # rows, plus the samples and metrics kept with them


class RacePlugin(FlowscopePlugin):
    """Serves the Optimizer Race page and its routes (see race_http_api.md)."""

    plugin_name = fmt.RACE_PLUGIN
    tab_name = "Optimizer Race"
    page = "race"

    def __init__(self, context):
        super().__init__(context)
        self.data = PluginData(context.data_provider, self.plugin_name)
        self._surfaces = LRU(_SURFACE_CACHE)
        # The races and racer ids derived from one parsed catalog (every route needs them;
        # the catalog object is reused until its listing expires, so its identity is the
        # version).
        self._derived: tuple[Any, dict[str, dict], dict[tuple[str, str], str]] = (None, {}, {})
        self._whatifs = LRU(_WHATIF_CACHE)
        self._simulate_lock = threading.Lock()
        self._warmer = _Warmer(self._simulate_lock)

    def routes(self):
        return {
            "/races": self._serve_races,
            "/surface": self._serve_surface,
            "/trajectory": self._serve_trajectory,
            "/leaderboard": self._serve_leaderboard,
            "/whatif": self._serve_whatif,
            "/warmup": self._serve_warmup,
        }

    # -- routes: parse the query, call the impl ------------------------------------------
    @route
    def _serve_races(self, request):
        return self.races_impl(*self.context(request))

    @route
    def _serve_surface(self, request):
        return self.surface_impl(
            *self.context(request),
            race=arg_str(request, "race", max_len=MAX_NAME),
            levels=arg_int(request, "levels", DEFAULT_LEVELS, MIN_LEVELS, MAX_LEVELS),
        )

    @route
    def _serve_trajectory(self, request):
        return self.trajectory_impl(
            *self.context(request),
            run=arg_str(request, "run", max_len=MAX_NAME),
            tag=arg_str(request, "tag", "", max_len=MAX_NAME) or None,
            points=arg_int(request, "points", DEFAULT_POINTS, MIN_POINTS, MAX_POINTS),
        )

    @route
    def _serve_leaderboard(self, request):
        return self.leaderboard_impl(
            *self.context(request), race=arg_str(request, "race", max_len=MAX_NAME)
        )

    @route
    def _serve_whatif(self, request):
        name = arg_str(request, "race", max_len=MAX_NAME)
        # `racer` (its id) names the racer; `run` or `optimizer` still work where one racer
        # has it
        racer = arg_str(request, "racer", "", max_len=2 * MAX_NAME) or None
        run = arg_str(request, "run", "", max_len=MAX_NAME) or None
        optimizer = arg_str(request, "optimizer", "", max_len=MAX_NAME) or None
        warmup = arg_int(request, "warmup", 0, 0, 1) == 1
        lr = None if warmup else arg_float(request, "learning_rate", None, *LR_RANGE)
        momentum = (
            arg_float(request, "momentum", None, *MOMENTUM_RANGE)
            if "momentum" in request.args
            else None
        )
        steps = (
            arg_int(request, "steps", None, 1, MAX_WHATIF_STEPS)
            if "steps" in request.args
            else None
        )
        return self.whatif_impl(
            *self.context(request),
            race=name,
            racer=racer,
            run=run,
            optimizer=optimizer,
            learning_rate=lr,
            momentum=momentum,
            steps=steps,
            points=arg_int(request, "points", DEFAULT_POINTS, MIN_POINTS, MAX_POINTS),
            warmup=warmup,
        )

    @route
    def _serve_warmup(self, request):
        return self.warmup_impl(
            *self.context(request), race=arg_str(request, "race", max_len=MAX_NAME)
        )

    # -- implementations -----------------------------------------------------------------
    def races_impl(self, ctx, experiment_id: str) -> dict[str, Any]:
        """Races found in the logdir, each with its racers (runs), sorted by name."""
        races = self._races(ctx, experiment_id)
        return {"races": [races[name] for name in sorted(races)]}

    def surface_impl(
        self, ctx, experiment_id: str, race: str, levels: int = DEFAULT_LEVELS
    ) -> dict[str, Any]:
        """Grid values, contour lines and minima of one race's loss surface."""
        found = self._race(ctx, experiment_id, race)
        where = found["surface_series"]
        if where is None:
            raise not_found(f"race {race!r} has no surface summary")
        series = self.data.series(ctx, experiment_id, where["run"], where["tag"], fmt.SURFACE)
        grid = self.data.read(ctx, experiment_id, series, decode=decode_grid)
        key = (experiment_id, series.run, series.tag, series.version, levels, race)
        payload = self._surfaces.get(key)
        if payload is None:
            try:
                payload = geometry.surface_payload(
                    grid,
                    found["window"],
                    levels,
                    log_scale=found["log_scale"],
                    minima=found["minima"],
                    start=found["start"],
                    surface=found["surface"],
                )
            except ValueError as exc:
                raise not_found(f"surface of race {race!r} {exc}") from None
            self._surfaces.put(key, payload)
        return {"race": race, **payload}

    def trajectory_impl(
        self,
        ctx,
        experiment_id: str,
        run: str,
        tag: str | None = None,
        points: int = DEFAULT_POINTS,
    ) -> dict[str, Any]:
        """One racer's trajectory, downsampled to at most `points` rows (LTTB)."""
        series, path = self._path(ctx, experiment_id, run, tag)
        return {
            "id": self._ids(ctx, experiment_id).get(
                (run, series.tag), fmt.racer_id(run, series.tag)
            ),
            "run": run,
            "tag": series.tag,
            "whatif": False,
            **{k: path.content.get(k) for k in _DESCRIPTION},
            "hyperparameters": path.content.get("hyperparameters") or {},
            **path.sample(points),
            "metrics": path.metrics(),
        }

    def leaderboard_impl(self, ctx, experiment_id: str, race: str) -> dict[str, Any]:
        """Metrics of every racer in one race, each with its `rank` by arrival (`ranks`: ties
        share a rank; null for an unreadable racer), rows in rank order (ties in /races order)."""
        found = self._race(ctx, experiment_id, race)
        rows = []
        for entry in found["racers"]:
            row = {
                "id": entry["id"],
                "run": entry["run"],
                "tag": entry["tag"],
                "name": entry["name"],
                "optimizer": entry["optimizer"],
                "hyperparameters": entry["hyperparameters"],
            }
            try:
                _, path = self._path(ctx, experiment_id, entry["run"], entry["tag"])
                row.update(path.metrics(), steps=int(path.rows[-1, 0]), error=None)
            except Exception as exc:  # one broken racer must not hide the others
                message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                row.update(error=message)
            rows.append(row)
        places = ranks([r if r["error"] is None else {} for r in rows])
        for row, rank in zip(rows, places, strict=True):
            row["rank"] = rank
        rows.sort(key=lambda r: math.inf if r["rank"] is None else r["rank"])  # stable
        return {"race": race, "tolerance": found["tolerance"], "rows": rows}

    def whatif_impl(
        self,
        ctx,
        experiment_id: str,
        race: str,
        run: str | None = None,
        optimizer: str | None = None,
        learning_rate: float | None = None,
        momentum: float | None = None,
        steps: int | None = None,
        points: int = DEFAULT_POINTS,
        warmup: bool = False,
        racer: str | None = None,
    ) -> dict[str, Any]:
        """Re-run one racer (by its `racer` id, or by a `run` or an `optimizer` only one racer
        uses) with another learning rate / momentum on an analytic surface.

        `warmup` only prepares the engine (imports TensorFlow, traces one step) so that the
        page's first real what-if answers quickly; the page asks on first focus.
        """
        found = self._race(ctx, experiment_id, race)
        entry = _racer(found, racer, run, optimizer)
        if not entry["whatif"]:  # a surface or optimizer the engine cannot re-run
            raise bad_request(entry["whatif_reason"])
        optimizer = entry["optimizer"]
        hyper = dict(entry["hyperparameters"])
        if warmup:
            self._simulate({}, found, optimizer, hyper, found["start"], 1)
            return {
                "race": race,
                "id": entry["id"],
                "run": entry["run"],
                "optimizer": optimizer,
                "warm": True,
            }
        if learning_rate is None:
            raise bad_request("missing query parameter 'learning_rate'")
        if momentum is not None and "momentum" not in hyper:
            raise bad_request(f"optimizer {optimizer!r} has no momentum hyper-parameter")
        series, path = self._path(ctx, experiment_id, entry["run"], entry["tag"])
        if steps is None:
            steps = max(int(path.rows[-1, 0]), 1)  # as logged (the engine bounds it)
        hyper["learning_rate"] = learning_rate
        if momentum is not None:
            hyper["momentum"] = momentum
        start = found["start"] or path.content.get("start")
        key = (found["surface"], optimizer, tuple(sorted(hyper.items())), tuple(start or ()), steps)
        simulated = self._whatifs.get(key)
        if simulated is None:
            simulated = self._simulate(path.content, found, optimizer, hyper, start, steps)
            self._whatifs.put(key, simulated)
        return {
            "id": entry["id"],
            "run": entry["run"],
            "tag": series.tag,
            "whatif": True,
            **{k: path.content.get(k) for k in _DESCRIPTION},
            "hyperparameters": hyper,
            "logged_hyperparameters": entry["hyperparameters"],
            **simulated.sample(points),
            "metrics": simulated.metrics(),
        }

    def warmup_impl(self, ctx, experiment_id: str, race: str) -> dict[str, Any]:
        """Start preparing the what-if of every re-runnable racer of `race` in a background
        thread (TensorFlow's import, then one traced loop per racer) and say how far it is.

        Returns at once; idempotent (a racer is prepared once per server). The page calls it
        when it opens a race, so that the first what-if does not pay for the import.
        """
        found = self._race(ctx, experiment_id, race)
        jobs = [
            (entry["optimizer"], dict(entry["hyperparameters"]), found["surface"])
            for entry in found["racers"]
            if entry["whatif"]
        ]
        if not jobs:
            return {
                "race": race,
                "state": "unavailable",
                "racers": 0,
                "ready": 0,
                "reason": found["whatif_reason"],
            }
        return {"race": race, **self._warmer.request(jobs)}

    # -- helpers ---------------------------------------------------------------------------
    def _races(self, ctx, experiment_id: str) -> dict[str, dict]:
        """{race: {race, surface, ..., racers: [...]}} from the trajectory and surface tags.

        Callers read the answer and never change it: it is shared until the catalog changes.
        """
        return self._derive(ctx, experiment_id)[0]

    def _ids(self, ctx, experiment_id: str) -> dict[tuple[str, str], str]:
        """{(run, tag): racer id} of every listed racer."""
        return self._derive(ctx, experiment_id)[1]

    def _derive(
        self, ctx, experiment_id: str
    ) -> tuple[dict[str, dict], dict[tuple[str, str], str]]:
        """The races and the racer ids of the current catalog (derived once per catalog)."""
        catalog = self.data.catalog(ctx, experiment_id)
        known, derived_races, derived_ids = self._derived  # one read: another thread may swap it
        if known is catalog:
            return derived_races, derived_ids
        races: dict[str, dict] = {}
        for run in sorted(catalog):
            for _tag, series in sorted(catalog[run].items()):
                if _is_racer(series):
                    _add_racer(races, series)
        for run in sorted(catalog):
            for tag, series in sorted(catalog[run].items()):
                content = series.content or {}
                if series.kind != fmt.SURFACE or content.get("race") not in races:
                    continue
                race = races[content["race"]]
                if race["surface_series"] is None:
                    race["surface_series"] = {"run": run, "tag": tag}
                    race["log_scale"] = bool(content.get("log_scale"))
                    for key in ("window", "minima"):
                        race[key] = race.get(key) or content.get(key)
        closed_form = _closed_form_surfaces()
        _unique_ids(races)
        for race in races.values():
            # the logged colour order gives every optimizer one colour in every race
            race["racers"].sort(
                key=lambda r: (r["palette_index"] is None, r["palette_index"] or 0, r["id"])
            )
            if race["tolerance"] is None:
                race["tolerance"] = _default_tolerance(race)
            _whatif_reasons(race, closed_form)
        ids = {(r["run"], r["tag"]): r["id"] for race in races.values() for r in race["racers"]}
        self._derived = (catalog, races, ids)
        return races, ids

    def _race(self, ctx, experiment_id: str, name: str) -> dict:
        race = self._races(ctx, experiment_id).get(name)
        if race is None:
            raise not_found(f"no race named {name!r}")
        return race

    def _path(self, ctx, experiment_id: str, run: str, tag: str | None) -> tuple[Series, Track]:
        """The decoded trajectory of one run (cached until its version changes)."""
        listed = self.data.catalog(ctx, experiment_id).get(run, {})
        if tag is None:  # a named tag is one lookup (the leaderboard: N racers of one run)
            tags = sorted(t for t, s in listed.items() if _is_racer(s))
            if not tags:
                raise not_found(f"no trajectory in run {run!r}")
            if DEFAULT_TAG not in tags and len(tags) > 1:  # the race layout
                raise bad_request(
                    f"run {run!r} holds {len(tags)} racers: name one with query parameter "
                    f"'tag' ({', '.join(map(repr, tags))})"
                )
            tag = DEFAULT_TAG if DEFAULT_TAG in tags else tags[0]
        series = listed.get(tag)
        if series is None or not _is_racer(series):
            raise not_found(f"run {run!r} has no trajectory tag {tag!r}")
        if series.error is not None:
            raise not_found(f"run {run!r} cannot be read: {series.error}")
        path = self.data.read(ctx, experiment_id, series, decode_trajectory, _path_cost)
        return series, path

    def _simulate(self, content, race, optimizer, hyper, start, steps) -> Track:
        """Run the library's engine once (serialised: Keras optimizers are not re-entrant)."""
        from summaries.race import engine  # heavy (TensorFlow): only here

        with self._warmer.first(), self._simulate_lock:
            try:
                result = engine.simulate(
                    optimizer, hyper, race["surface"], start=start, steps=steps
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
        merged = {
            **content,
            "window": race["window"],
            "minima": race["minima"],
            "tolerance": race["tolerance"],
        }
        return Track(rows, merged)


class _Warmer:
    """Prepares what-if loops (`summaries.race.engine.prepare`) in one background thread."""

    def __init__(self, engine_lock: threading.Lock):
        self._engine_lock = engine_lock  # the plugin's: one engine call at a time
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
        """Queue the jobs not seen before; the state of all of them (see warmup_impl)."""
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


_READY = "ready"


def _racer(
    race: dict[str, Any], racer: str | None, run: str | None, optimizer: str | None
) -> dict[str, Any]:
    """The racer a what-if names: by id (its identity), else by a run or an optimizer that
    only one racer of the race has."""
    name = race["race"]
    if racer is not None:
        entry = next((r for r in race["racers"] if r["id"] == racer), None)
        if entry is None:
            raise not_found(f"race {name!r} has no racer {racer!r}")
        if run is not None and entry["run"] != run:
            raise bad_request(f"racer {racer!r} is in run {entry['run']!r}, not {run!r}")
    elif run is not None:
        found = [r for r in race["racers"] if r["run"] == run]
        if not found:
            raise not_found(f"race {name!r} has no racer with run {run!r}")
        if len(found) > 1:  # the race layout: one run holds every racer of the race
            ids = ", ".join(repr(r["id"]) for r in found)
            raise bad_request(
                f"run {run!r} holds {len(found)} racers of race {name!r} ({ids}): "
                "name one with query parameter 'racer'"
            )
        entry = found[0]
    if racer is not None or run is not None:
        if optimizer is not None and entry["optimizer"] != optimizer:
            raise bad_request(
                f"racer {entry['id']!r} races optimizer {entry['optimizer']!r}, not {optimizer!r}"
            )
        return entry
    if optimizer is None:
        raise bad_request("missing query parameter 'racer' (or 'run')")
    matches = [r for r in race["racers"] if r["optimizer"] == optimizer]
    if not matches:
        raise not_found(f"race {name!r} has no optimizer {optimizer!r}")
    if len(matches) > 1:  # e.g. Adam at two learning rates: only the id tells them apart
        ids = ", ".join(repr(r["id"]) for r in matches)
        raise bad_request(
            f"optimizer {optimizer!r} races {len(matches)} times in race {name!r} ({ids}): "
            "name the racer with query parameter 'racer'"
        )
    return matches[0]


# -- listing -----------------------------------------------------------------------------
def _new_race(name: str) -> dict[str, Any]:
    return {
        "race": name,
        "surface": None,
        "window": None,
        "start": None,
        "minima": None,
        "basis": None,
        "tolerance": None,
        "title": None,
        "description": None,
        "formula": None,
        "axes": None,
        "log_scale": False,
        "surface_series": None,
        "analytic": True,  # until a racer's metadata says otherwise
        "whatif": False,
        "racers": [],
    }


def _is_racer(series: Series) -> bool:
    """A trajectory series, or an unreadable one (listed so the page can say what is wrong)."""
    return series.error is not None or series.kind == fmt.TRAJECTORY


def _add_racer(races: dict[str, dict], series: Series) -> None:
    """Add one trajectory series (or an unreadable one) to its race."""
    content = series.content or {}
    name = str(content.get("race", series.run))
    race = races.setdefault(name, _new_race(name))
    for key in ("surface", "window", "start", "minima", "basis", "tolerance"):
        if race[key] is None and content.get(key) is not None:
            race[key] = content[key]
    for key, field in (("title", "surface_title"), ("description", "description")):
        race[key] = race[key] or content.get(field)
    race["formula"] = race["formula"] or content.get("formula")
    race["axes"] = race["axes"] or content.get("axes")
    if series.error is None:
        race["analytic"] = race["analytic"] and bool(content.get("analytic"))
        race["log_scale"] = race["log_scale"] or bool(content.get("log_scale"))
    order = content.get("order")
    optimizer = str(content.get("optimizer", series.run))
    race["racers"].append(
        {
            "id": fmt.racer_id(series.run, series.tag),
            "name": fmt.racer_name(series.run, series.tag, content),
            "run": series.run,
            "tag": series.tag,
            "optimizer": optimizer,
            "title": str(content.get("optimizer_title") or optimizer),
            "hyperparameters": content.get("hyperparameters") or {},
            "tuning": content.get("tuning"),
            "max_step": series.max_step,
            "palette_index": order if type(order) is int else None,
            "error": series.error,
        }
    )


def _unique_ids(races: dict[str, dict]) -> None:
    """Make every racer's id unique (a run named like another run's racer: ``a/b`` beside
    ``a`` holding ``race/trajectory/b``): a later repeat becomes ``RUN/TAG``, then ``#n``."""
    seen: set[str] = set()
    for name in sorted(races):
        for racer in races[name]["racers"]:
            candidate = racer["id"]
            if candidate in seen:
                candidate = f"{racer['run']}/{racer['tag']}"
                count = 2
                while candidate in seen:
                    candidate, count = f"{racer['run']}/{racer['tag']}#{count}", count + 1
            racer["id"] = candidate
            seen.add(candidate)


def _whatif_reasons(race: dict[str, Any], closed_form: frozenset[str]) -> None:
    """Set `whatif` (whether the what-if can re-run it), `whatif_reason` and `whatif_why` (why
    not, see `_racer_reason`) on every racer of `race` and on the race (the first racer's)."""
    surface_reason = surface_why = None
    if not (race.pop("analytic") and race["basis"] is None and race["surface"] in closed_form):
        surface_reason = (
            f"what-if needs an analytic surface; race {race['race']!r} runs on "
            f"{race['surface']!r}" + (" (a projected model loss)" if race["basis"] else "")
        )
        code = "projected" if race["basis"] else "surface"
        surface_why = {"code": code, "surface": race["surface"]}
    for racer in race["racers"]:
        reason, why = (surface_reason, surface_why) if surface_why else _racer_reason(racer)
        racer["whatif_reason"], racer["whatif_why"] = reason, why
        racer["whatif"] = reason is None
    race["whatif"] = any(r["whatif"] for r in race["racers"])
    first = race["racers"][0]  # never empty: a race is listed because a racer names it
    race["whatif_reason"] = None if race["whatif"] else first["whatif_reason"]
    race["whatif_why"] = None if race["whatif"] else first["whatif_why"]


@functools.cache
def _keras_racers() -> tuple[str, ...]:
    """Names of the library's racers (`summaries.race.OPTIMIZERS`): the optimizers the
    what-if can re-run, as real Keras optimizers."""
    try:  # standard library only; Keras is imported by the engine, later
        from summaries.race.optimizers import OPTIMIZERS
    except Exception as exc:
        logger.warning("Flowscope: no race what-if, summaries.race is broken: %s", exc)
        return ()
    return tuple(OPTIMIZERS)


def _racer_reason(racer: dict[str, Any]) -> tuple[str | None, dict[str, str] | None]:
    """Why the what-if cannot re-run this racer on a re-runnable surface ((None, None): it can).

    The reason twice: a sentence for API clients, and a code with its arguments from which
    the page writes the sentence in its own language.
    """
    if racer["error"] is not None:
        return (
            f"what-if needs the racer's metadata, which cannot be read: {racer['error']}",
            {"code": "metadata", "error": racer["error"]},
        )
    if racer["optimizer"] not in _keras_racers():
        return (
            f"what-if can only re-run Keras optimizers: {racer['optimizer']!r} is not one of "
            f"Flowscope's racers ({', '.join(_keras_racers())}), so its path is "
            "shown as logged",
            {"code": "optimizer", "optimizer": racer["optimizer"]},
        )
    return None, None


@functools.cache
def _closed_form_surfaces() -> frozenset[str]:
    """Names of the library's closed-form surfaces: the only ones a what-if can re-run."""
    try:  # numpy only; without the library the page offers no what-if
        from summaries.race.surfaces import SURFACES
    except Exception as exc:
        logger.warning("Flowscope: no race what-if, summaries.race is broken: %s", exc)
        return frozenset()
    return frozenset(n for n, s in SURFACES.items() if s.analytic)


def _default_tolerance(content: dict[str, Any]) -> float | None:
    """Without a logged tolerance: 1 % of the window's diagonal when there are minima."""
    window = content.get("window")
    if content.get("minima") and window:
        return 0.01 * math.hypot(window[1] - window[0], window[3] - window[2])
    return None


def _metrics(rows: np.ndarray, content: dict[str, Any]) -> dict[str, Any]:
    """trajectory_metrics of one trajectory (the leaderboard row, steps as logged)."""
    tolerance = content.get("tolerance")
    if not isinstance(tolerance, int | float) or isinstance(tolerance, bool):
        tolerance = _default_tolerance(content)
    metrics = trajectory_metrics(
        rows[:, 1:3],
        rows[:, 3],
        minima=content.get("minima") or [],
        window=content.get("window"),
        tolerance=-math.inf if tolerance is None else float(tolerance),  # never arrives
        steps=rows[:, 0],
        unbounded_below=content.get("unbounded_below") is True,
    )
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in metrics.items()}
