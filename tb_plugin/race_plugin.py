"""The Optimizer Race plugin: races, surfaces, trajectories, the leaderboard and what-ifs.

Routes (documented in race_http_api.md) read only through the data provider. Decoded
trajectories are cached per run and dropped when the run's `max_step` changes, so the
page's repeated requests (scrubbing, re-sorting, switching races) cost a dictionary lookup.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any

import contourpy
import numpy as np

from summaries import format as fmt
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

MIN_POINTS, MAX_POINTS, DEFAULT_POINTS = 2, 5000, 1000
MIN_LEVELS, MAX_LEVELS, DEFAULT_LEVELS = 2, 64, 18
# Race, run, tag and optimizer names come from the logs and may be long (a 2,000-character
# name must still open); the bound only stops absurd queries.
MAX_NAME = 4096
MAX_GRID = 201  # surface cells sent per side; larger grids are strided down
MAX_WHATIF_STEPS = 10_000
LR_RANGE = (1e-7, 10.0)
MOMENTUM_RANGE = (0.0, 0.999)
# Linear contour levels leaving more than this share of the grid under the lowest level
# would hide the valley where optimizers race, so levels are log-spaced instead.
LOG_LEVELS_SHARE = 0.3
_CACHE_SIZE = 64  # decoded trajectories
_WHATIF_CACHE = 32  # simulated what-if paths
_SAMPLES_PER_PATH = 8  # downsampled answers kept per trajectory or what-if (one per `points`)


def _sig(values: np.ndarray, digits: int = 7) -> list:
    """Floats rounded to `digits` significant digits (short JSON); NaN/Inf become None."""
    out = []
    for v in np.asarray(values, dtype=np.float64).tolist():
        out.append(float(f"{v:.{digits}g}") if math.isfinite(v) else None)
    return out


def _loss_axis(losses: np.ndarray) -> np.ndarray:
    """Losses on a log axis (symlog when some are <= 0), used to weigh loss-curve shape."""
    finite = losses[np.isfinite(losses)]
    if finite.size and (finite > 0).all():
        return np.log10(np.where(np.isfinite(losses), losses, np.nan))
    scale = max(float(np.abs(finite).max()) * 1e-3, 1e-12) if finite.size else 1.0
    return np.sign(losses) * np.log10(1 + np.abs(losses) / scale)


def lttb_indices(rows: np.ndarray, points: int, keep: list[int] | tuple = ()) -> np.ndarray:
    """Indices of rows (step, x, y, loss) kept by largest-triangle-three-buckets.

    The triangle area is measured in 4-D (step, x, y, log-loss), each axis normalised to
    its range, so both the 2-D path's bends and the loss curve's spikes survive. Rows in
    `keep` (plus the first and last) are always kept; the budget between two kept rows is
    shared in proportion to the rows between them. Non-finite rows are never picked
    unless kept explicitly.
    """
    n = len(rows)
    if n <= points:
        return np.arange(n)
    mandatory = sorted({0, n - 1, *(int(k) for k in keep if 0 <= k < n)})
    feats = np.column_stack([rows[:, 0], rows[:, 1], rows[:, 2], _loss_axis(rows[:, 3])])
    finite = np.isfinite(feats).all(axis=1)
    if finite.any():
        lo = np.nanmin(np.where(finite[:, None], feats, np.nan), axis=0)
        hi = np.nanmax(np.where(finite[:, None], feats, np.nan), axis=0)
        feats = (feats - lo) / np.where(hi > lo, hi - lo, 1.0)
    feats = np.where(np.isfinite(feats), feats, 0.0)
    budget = max(points - len(mandatory), 0)
    gaps = [
        np.arange(a + 1, b)[finite[a + 1 : b]]
        for a, b in zip(mandatory[:-1], mandatory[1:], strict=True)
    ]
    sizes = np.array([len(g) for g in gaps], dtype=np.float64)
    share = np.floor(budget * sizes / sizes.sum()).astype(int) if sizes.sum() else sizes * 0
    for i in np.argsort(-(budget * sizes / max(sizes.sum(), 1) - share))[: budget - share.sum()]:
        share[i] += 1  # hand out the rounding remainder to the largest fractions
    chosen = list(mandatory)
    for (a, b), gap, k in zip(
        zip(mandatory[:-1], mandatory[1:], strict=True), gaps, share, strict=True
    ):
        k = min(int(k), len(gap))
        if k == len(gap):
            chosen.extend(gap.tolist())
        elif k > 0:
            chosen.extend(_lttb_gap(feats, a, b, gap, k))
    return np.array(sorted(set(chosen)), dtype=np.int64)


def _lttb_gap(feats: np.ndarray, a: int, b: int, gap: np.ndarray, k: int) -> list[int]:
    """Pick k of the `gap` rows between anchors a and b (classic LTTB, one per bucket)."""
    buckets = np.array_split(gap, k)
    means = [feats[bucket].mean(axis=0) for bucket in buckets[1:]] + [feats[b]]
    prev = feats[a]
    picked = []
    for bucket, nxt in zip(buckets, means, strict=True):
        u = feats[bucket] - prev
        v = nxt - prev
        # squared area of the triangle (prev, candidate, next) in any dimension
        area2 = (u * u).sum(axis=1) * (v @ v) - (u @ v) ** 2
        best = int(bucket[int(np.argmax(area2))])
        picked.append(best)
        prev = feats[best]
    return picked


def contour_levels(grid: np.ndarray, count: int, log_scale: bool) -> tuple[np.ndarray, str]:
    """Contour levels for a surface grid and the scale used ("linear" or "log")."""
    finite = grid[np.isfinite(grid)]
    zmin, zmax = float(finite.min()), float(finite.max())
    if zmax <= zmin:
        return np.array([zmin]), "linear"
    linear = np.linspace(zmin, zmax, count + 2)[1:-1]
    if not log_scale and (finite < linear[0]).mean() <= LOG_LEVELS_SHARE:
        return linear, "linear"
    shifted = finite - zmin
    positive = shifted[shifted > 0]
    low = max(float(np.quantile(positive, 0.002)), (zmax - zmin) * 1e-9)
    levels = zmin + np.geomspace(low, zmax - zmin, count + 1)[:-1]
    return levels, "log"


class _Racer:
    """A decoded trajectory with what has been derived from it (metrics, samples)."""

    def __init__(self, max_step: int, rows: np.ndarray, content: dict[str, Any]):
        self.max_step = max_step
        self.rows = rows
        self.content = content
        self.metrics: dict[str, Any] | None = None
        self.samples: OrderedDict[int, dict] = OrderedDict()


class RacePlugin(FlowscopePlugin):
    plugin_name = fmt.RACE_PLUGIN
    tab_name = "Optimizer Race"
    page = "race"

    def __init__(self, context):
        super().__init__(context)
        self._lock = threading.Lock()
        self._racers: OrderedDict[tuple, _Racer] = OrderedDict()
        self._surfaces: OrderedDict[tuple, dict] = OrderedDict()
        self._whatifs: OrderedDict[tuple, dict] = OrderedDict()
        self._simulate_lock = threading.Lock()

    def routes(self):
        return {
            "/races": self._serve_races,
            "/surface": self._serve_surface,
            "/trajectory": self._serve_trajectory,
            "/leaderboard": self._serve_leaderboard,
            "/whatif": self._serve_whatif,
        }

    # -- listing -----------------------------------------------------------------------
    def _races(self, request, listing: dict | None = None) -> dict[str, dict]:
        """{race: {race, surface, ..., racers: [...]}} from the trajectory and surface tags."""
        races: dict[str, dict] = {}
        listing = self.list_series(request) if listing is None else listing
        for run in sorted(listing):
            for tag, content in sorted(listing[run].items()):
                if content.get("kind", fmt.TRAJECTORY) != fmt.TRAJECTORY:
                    continue
                name = str(content.get("race", run))
                race = races.setdefault(name, _new_race(name))
                for key in ("surface", "window", "start", "minima", "basis", "tolerance"):
                    if race.get(key) is None and content.get(key) is not None:
                        race[key] = content[key]
                race["title"] = race["title"] or content.get("surface_title")
                if content.get("analytic") is False:  # the engine says: not closed-form
                    race["analytic"] = False
                race["racers"].append(
                    {
                        "run": run,
                        "tag": tag,
                        "optimizer": str(content.get("optimizer", run)),
                        "title": str(
                            content.get("optimizer_title") or content.get("optimizer", run)
                        ),
                        "hyperparameters": content.get("hyperparameters") or {},
                        "tuning": content.get("tuning"),
                        "max_step": content["max_step"],
                        "error": content.get("error"),
                    }
                )
        for run in sorted(listing):
            for tag, content in sorted(listing[run].items()):
                if content.get("kind") != fmt.SURFACE or content.get("race") not in races:
                    continue
                race = races[content["race"]]
                if race["surface_series"] is None:
                    race["surface_series"] = {"run": run, "tag": tag}
                    race["log_scale"] = bool(content.get("log_scale"))
                    for key in ("window", "minima"):
                        race[key] = race.get(key) or content.get(key)
        analytic = _analytic_surfaces()
        order = _optimizer_order()
        for race in races.values():
            # the engine's order (SGD, Momentum, NAG, ...) gives every optimizer one colour
            race["racers"].sort(key=lambda r: (order.get(r["optimizer"], len(order)), r["run"]))
            for racer in race["racers"]:
                racer["palette_index"] = order.get(racer["optimizer"])
            if race["tolerance"] is None:
                race["tolerance"] = _tolerance(race)
            surface = _engine_surfaces().get(str(race["surface"]))
            if surface is not None:
                race["title"] = race["title"] or getattr(surface, "title", None)
                race["description"] = getattr(surface, "description", None)
            race["whatif"] = bool(
                race.pop("analytic", True)
                and race["basis"] is None
                and race["surface"] in analytic
                and race["racers"]
            )
        return races

    def _race(self, request, name: str, listing: dict | None = None) -> dict:
        race = self._races(request, listing).get(name)
        if race is None:
            raise not_found(f"no race named {name!r}")
        return race

    @route
    def _serve_races(self, request):
        """Races found in the logdir, each with its racers (runs)."""
        races = self._races(request)
        return {"races": [races[name] for name in sorted(races)]}

    # -- surface -----------------------------------------------------------------------
    @route
    def _serve_surface(self, request):
        """Grid values, contour lines and minima of one race's loss surface."""
        name = arg_str(request, "race", max_len=MAX_NAME)
        count = arg_int(request, "levels", DEFAULT_LEVELS, MIN_LEVELS, MAX_LEVELS)
        race = self._race(request, name)
        series = race["surface_series"]
        if series is None:
            raise not_found(f"race {name!r} has no surface summary")
        data = self.read_series(request, series["run"], series["tag"])
        if not data:
            raise not_found(f"race {name!r} has no surface data yet")
        datum = data[-1]
        key = (self.context(request)[1], series["run"], series["tag"], datum.step, count)
        with self._lock:
            cached = self._surfaces.get(key)
        if cached is None:
            cached = _surface_payload(datum.numpy, race, count)
            with self._lock:
                _remember(self._surfaces, key, cached, 16)
        return {"race": name, **cached}

    # -- trajectories --------------------------------------------------------------------
    def _racer(
        self, request, run: str, tag: str | None, listing: dict | None = None
    ) -> tuple[str, _Racer]:
        """The decoded trajectory of one run (cached until its max_step changes)."""
        listing = self.list_series(request) if listing is None else listing
        tags = {
            t: c
            for t, c in listing.get(run, {}).items()
            if c.get("kind", fmt.TRAJECTORY) == fmt.TRAJECTORY
        }
        if not tags:
            raise not_found(f"no trajectory in run {run!r}")
        if tag is None:
            tag = "race/trajectory" if "race/trajectory" in tags else sorted(tags)[0]
        content = tags.get(tag)
        if content is None:
            raise not_found(f"run {run!r} has no trajectory tag {tag!r}")
        if content.get("error"):
            raise not_found(f"run {run!r} cannot be read: {content['error']}")
        key = (self.context(request)[1], run, tag)
        with self._lock:
            racer = self._racers.get(key)
            if racer is not None and racer.max_step == content["max_step"]:
                self._racers.move_to_end(key)
                return tag, racer
        rows = _rows([d.numpy for d in self.read_series(request, run, tag)])
        if rows is None:
            raise not_found(f"run {run!r} has no trajectory data yet")
        racer = _Racer(content["max_step"], rows, content)
        with self._lock:
            _remember(self._racers, key, racer, _CACHE_SIZE)
        return tag, racer

    def _metrics(self, racer: _Racer) -> dict[str, Any]:
        if racer.metrics is None:
            racer.metrics = _metrics(racer.rows, racer.content)
        return racer.metrics

    @route
    def _serve_trajectory(self, request):
        """One racer's trajectory, downsampled to at most `points` rows (LTTB)."""
        run = arg_str(request, "run", max_len=MAX_NAME)
        tag = arg_str(request, "tag", "", max_len=MAX_NAME) or None
        points = arg_int(request, "points", DEFAULT_POINTS, MIN_POINTS, MAX_POINTS)
        tag, racer = self._racer(request, run, tag)
        with self._lock:
            sample = racer.samples.get(points)
        if sample is None:
            sample = _sample(racer.rows, self._metrics(racer), points)
            with self._lock:
                _remember(racer.samples, points, sample, _SAMPLES_PER_PATH)
        content = racer.content
        return {
            "run": run,
            "tag": tag,
            "whatif": False,
            **{k: content.get(k) for k in _DESCRIPTION},
            "hyperparameters": content.get("hyperparameters") or {},
            **sample,
            "metrics": self._metrics(racer),
        }

    # -- leaderboard ---------------------------------------------------------------------
    @route
    def _serve_leaderboard(self, request):
        """Metrics of every racer in one race (one row per racer)."""
        name = arg_str(request, "race", max_len=MAX_NAME)
        listing = self.list_series(request)  # once for all racers
        race = self._race(request, name, listing)
        rows = []
        for entry in race["racers"]:
            row = {
                "run": entry["run"],
                "optimizer": entry["optimizer"],
                "hyperparameters": entry["hyperparameters"],
            }
            try:
                _, racer = self._racer(request, entry["run"], entry["tag"], listing)
                row.update(self._metrics(racer), steps=int(racer.rows[-1, 0]), error=None)
            except Exception as exc:  # one broken racer must not hide the others
                message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                row.update(error=message)
            rows.append(row)
        return {"race": name, "tolerance": race.get("tolerance"), "rows": rows}

    # -- what-if -------------------------------------------------------------------------
    @route
    def _serve_whatif(self, request):
        """Re-run one racer with another learning rate / momentum on an analytic surface."""
        name = arg_str(request, "race", max_len=MAX_NAME)
        optimizer = arg_str(request, "optimizer", max_len=MAX_NAME)
        warmup = arg_int(request, "warmup", 0, 0, 1) == 1
        lr = None if warmup else arg_float(request, "learning_rate", None, *LR_RANGE)
        momentum = (
            arg_float(request, "momentum", None, *MOMENTUM_RANGE)
            if "momentum" in request.args
            else None
        )
        points = arg_int(request, "points", DEFAULT_POINTS, MIN_POINTS, MAX_POINTS)
        race = self._race(request, name)
        entry = next((r for r in race["racers"] if r["optimizer"] == optimizer), None)
        if entry is None:
            raise not_found(f"race {name!r} has no optimizer {optimizer!r}")
        if not race["whatif"]:
            raise bad_request(
                f"what-if needs an analytic surface; race {name!r} runs on "
                f"{race['surface']!r}" + (" (a projected model loss)" if race["basis"] else "")
            )
        hyper = dict(entry["hyperparameters"])
        if warmup:
            # Import TensorFlow and trace this racer's program now (one step), so that the
            # page's first real what-if answers quickly; the page asks on first focus.
            self._simulate({}, race, optimizer, hyper, race.get("start"), 1)
            return {"race": name, "optimizer": optimizer, "warm": True}
        if momentum is not None and "momentum" not in hyper:
            raise bad_request(f"optimizer {optimizer!r} has no momentum hyper-parameter")
        tag, racer = self._racer(request, entry["run"], entry["tag"])
        logged_steps = int(racer.rows[-1, 0]) if len(racer.rows) else 0
        steps = arg_int(request, "steps", max(logged_steps, 1), 1, MAX_WHATIF_STEPS)
        hyper["learning_rate"] = lr
        if momentum is not None:
            hyper["momentum"] = momentum
        start = race.get("start") or racer.content.get("start")
        key = (race["surface"], optimizer, tuple(sorted(hyper.items())), tuple(start or ()), steps)
        with self._lock:
            cached = self._whatifs.get(key)
        if cached is None:
            cached = self._simulate(racer.content, race, optimizer, hyper, start, steps)
            with self._lock:
                _remember(self._whatifs, key, cached, _WHATIF_CACHE)
        # LTTB over up to 10,000 rows costs more than the lookup: keep the downsampled
        # answers with the simulation (a few `points` values each, evicted with it).
        with self._lock:
            sample = cached["samples"].get(points)
        if sample is None:
            sample = _sample(cached["rows"], cached["metrics"], points)
            with self._lock:
                _remember(cached["samples"], points, sample, _SAMPLES_PER_PATH)
        return {
            "run": entry["run"],
            "tag": tag,
            "whatif": True,
            **{k: racer.content.get(k) for k in _DESCRIPTION},
            "hyperparameters": hyper,
            "logged_hyperparameters": entry["hyperparameters"],
            **sample,
            "metrics": cached["metrics"],
        }

    def _simulate(self, content, race, optimizer, hyper, start, steps) -> dict[str, Any]:
        """Run the engine once (serialised: Keras optimizers are not re-entrant here)."""
        from summaries.race import engine  # heavy (TensorFlow): only here

        with self._simulate_lock:
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
        merged = {**content, "window": race.get("window"), "minima": race.get("minima")}
        return {"rows": rows, "metrics": _metrics(rows, merged), "samples": OrderedDict()}


# -- helpers ---------------------------------------------------------------------------
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
        "log_scale": False,
        "surface_series": None,
        "whatif": False,
        "racers": [],
    }


def _remember(cache: OrderedDict, key, value, size: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


_ENGINE_SURFACES: dict[str, Any] | None = None


def _engine_surfaces() -> dict[str, Any]:
    """The engine's surfaces by name (numpy only; empty when the engine is unavailable)."""
    global _ENGINE_SURFACES
    if _ENGINE_SURFACES is None:
        try:
            from summaries.race.surfaces import SURFACES

            _ENGINE_SURFACES = dict(SURFACES)
        except Exception:  # the page then offers no what-if and needs logged tolerances
            _ENGINE_SURFACES = {}
    return _ENGINE_SURFACES


def _optimizer_order() -> dict[str, int]:
    """{optimizer name: position in the engine's registry} (empty without the engine)."""
    try:
        from summaries.race.optimizers import OPTIMIZERS
    except Exception:
        return {}
    return {name: i for i, name in enumerate(OPTIMIZERS)}


def _analytic_surfaces() -> frozenset[str]:
    """Names of the engine's closed-form surfaces (the only ones a what-if can re-run)."""
    return frozenset(n for n, s in _engine_surfaces().items() if getattr(s, "analytic", False))


def _tolerance(content: dict[str, Any]) -> float:
    """Arrival tolerance: logged, else the engine surface's, else 1 % of the window diagonal.

    Without minima the tolerance is a loss threshold; with none known, -inf (never arrives).
    """
    if isinstance(content.get("tolerance"), int | float):
        return float(content["tolerance"])
    surface = _engine_surfaces().get(str(content.get("surface")))
    if surface is not None and content.get("basis") is None:
        return float(surface.tolerance)
    window = content.get("window")
    if content.get("minima") and window:
        return 0.01 * math.hypot(window[1] - window[0], window[3] - window[2])
    return -math.inf


def _rows(chunks: list[np.ndarray]) -> np.ndarray | None:
    """Concatenate [k, 4] chunks into one step-sorted array (later writes win)."""
    parts = [np.asarray(c, dtype=np.float64) for c in chunks]
    parts = [p for p in parts if p.ndim == 2 and p.shape[1] == 4 and len(p)]
    if not parts:
        return None
    rows = np.concatenate(parts)
    rows = rows[np.isfinite(rows[:, 0])]
    # np.unique keeps the first occurrence; reverse so a re-written step keeps its last row
    _, first = np.unique(rows[::-1, 0], return_index=True)
    return rows[::-1][first] if len(first) else None


def _metrics(rows: np.ndarray, content: dict[str, Any]) -> dict[str, Any]:
    """trajectory_metrics of one trajectory (the leaderboard row, steps as logged)."""
    from summaries.race.metrics import trajectory_metrics

    metrics = trajectory_metrics(
        rows[:, 1:3],
        rows[:, 3],
        minima=content.get("minima") or [],
        window=content.get("window"),
        tolerance=_tolerance(content),
        steps=rows[:, 0],
    )
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in metrics.items()}


def _sample(rows: np.ndarray, metrics: dict[str, Any], points: int) -> dict[str, Any]:
    """The downsampled columns of a trajectory, keeping first, last and divergence rows."""
    keep: list[int] = []
    diverged_index = None
    if metrics.get("diverged_step") is not None:
        diverged_index = int(np.searchsorted(rows[:, 0], metrics["diverged_step"]))
        diverged_index = min(diverged_index, len(rows) - 1)
        keep = [diverged_index - 1, diverged_index]
    index = lttb_indices(rows, points, keep)
    picked = rows[index]
    return {
        "total_points": len(rows),
        "points": len(index),
        "downsampling": "lttb" if len(index) < len(rows) else "none",
        "step": [int(s) for s in picked[:, 0]],
        "x": _sig(picked[:, 1]),
        "y": _sig(picked[:, 2]),
        "loss": _sig(picked[:, 3]),
        "diverged_step": metrics.get("diverged_step"),
        "diverged_index": (
            None if diverged_index is None else int(np.searchsorted(index, diverged_index))
        ),
    }


def _surface_payload(grid: np.ndarray, race: dict, count: int) -> dict[str, Any]:
    """Grid (strided to MAX_GRID per side), contour lines and scale of a surface tensor."""
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 2 or min(grid.shape) < 2:
        raise not_found(f"surface of race {race['race']!r} is not a 2-D grid")
    window = race.get("window")
    if not window:
        raise not_found(f"surface of race {race['race']!r} has no window")
    xmin, xmax, ymin, ymax = (float(v) for v in window)
    xs = np.linspace(xmin, xmax, grid.shape[1])
    ys = np.linspace(ymin, ymax, grid.shape[0])
    finite = np.isfinite(grid)
    if not finite.any():
        raise not_found(f"surface of race {race['race']!r} has no finite values")
    levels, scale = contour_levels(grid, count, bool(race.get("log_scale")))
    generator = contourpy.contour_generator(
        xs, ys, np.ma.masked_invalid(grid), line_type=contourpy.LineType.Separate
    )
    contours = []
    for level in levels:
        lines = [
            [_sig(line[:, 0], 5), _sig(line[:, 1], 5)]
            for line in generator.lines(float(level))
            if len(line) >= 2
        ]
        contours.append({"level": float(f"{level:.6g}"), "lines": lines})
    sy = max(1, math.ceil(grid.shape[0] / MAX_GRID))
    sx = max(1, math.ceil(grid.shape[1] / MAX_GRID))
    small = grid[::sy, ::sx]
    values = grid[finite]
    return {
        "surface": race.get("surface"),
        "window": [xmin, xmax, ymin, ymax],
        "minima": race.get("minima") or [],
        "start": race.get("start"),
        "log_scale": bool(race.get("log_scale")),
        "scale": scale,
        "zmin": float(values.min()),
        "zmax": float(values.max()),
        "levels": [c["level"] for c in contours],
        "contours": contours,
        "grid": {
            "nx": small.shape[1],
            "ny": small.shape[0],
            "x": _sig(xs[::sx], 6),
            "y": _sig(ys[::sy], 6),
            "values": [_sig(row, 5) for row in small],
        },
    }
