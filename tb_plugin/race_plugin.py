"""The Optimizer Race plugin: races, surfaces, trajectories, the leaderboard and what-ifs.

Routes are documented in `race_http_api.md` beside this file. Each route only parses its
query (once: values below are typed) and calls one `*_impl(ctx, experiment_id, ...)` method
returning a plain dict, which the tests call in-process against TensorBoard's own data
provider. The rooms around it:

* `tb_plugin.race_listing`: the races and racers of a catalog as frozen records, derived
  once per catalog (`/races` is their `to_json()`);
* `tb_plugin.race_track`: a racer's rows with their metrics and downsampled answers;
* `tb_plugin.race_whatif`: the what-if (`summaries.race.engine`, TensorFlow, imported on
  first use) and its warm-up thread;
* `tb_plugin.race_geometry`: LTTB, contour levels and grids (pure numpy).

The page shows what the logs say: titles, description, formula, tolerance, colour order
(`order`), log scale and whether the surface is analytic all come from the trajectory
metadata (`summaries.format`, version 3; older metadata is upgraded on reading).

Everything is read through `tb_plugin.data.PluginData`: decoded trajectories and surface
grids are cached by the version the listing reports, so the page's repeated requests
(scrubbing, re-sorting, switching races) cost a dictionary lookup; downsampled answers,
metrics, contour payloads and what-if simulations are cached beside them.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from summaries import format as fmt
from summaries.race.metrics import ranks
from tb_plugin import race_geometry as geometry
from tb_plugin.base import (
    FlowscopePlugin,
    arg_float,
    arg_int,
    arg_str,
    bad_request,
    not_found,
    route,
)
from tb_plugin.data import LRU, PluginData, Series
from tb_plugin.race_listing import Listing, Race, derive, is_racer, library_tables
from tb_plugin.race_track import Track, decode_trajectory, path_json, track_cost
from tb_plugin.race_whatif import Change, Logged, Whatifs, family_json

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
_VIEW_CACHE = 32  # zoomed views' payloads (a view's answer is about 100-300 KB of JSON)
# the whole surface's fields a zoomed view's answer repeats as they are
_SURFACE_FIXED = ("surface", "window", "minima", "start")
_METRICS_CACHE = 4096  # leaderboard rows (one small dict per racer and series version)


def decode_grid(series: Series, data: list) -> np.ndarray:
    """The latest grid of a surface series (404 when it has none yet)."""
    if not data:
        raise not_found(f"run {series.run!r}, tag {series.tag!r} has no surface data yet")
    return np.asarray(data[-1].numpy)


class RacePlugin(FlowscopePlugin):
    """Serves the Optimizer Race page and its routes (see race_http_api.md)."""

    plugin_name = fmt.RACE_PLUGIN
    tab_name = "Optimizer Race"
    page = "race"

    def __init__(self, context):
        super().__init__(context)
        self.data = PluginData(context.data_provider, self.plugin_name)
        self._surfaces = LRU(_SURFACE_CACHE)
        self._views = LRU(_VIEW_CACHE)  # zoomed views' payloads, by surface version and view
        self._exact = LRU(_SURFACE_CACHE)  # whether the library reproduces a logged grid
        self._leaderboard_rows = LRU(_METRICS_CACHE)  # racer metrics by series version
        # The listing of one parsed catalog (every route needs it; the catalog object is
        # reused until its listing expires, so its identity is the version).
        self._listed: tuple[Any, Listing | None] = (None, None)
        self.whatifs = Whatifs()

    def routes(self):
        return {
            "/races": self._serve_races,
            "/surface": self._serve_surface,
            "/trajectory": self._serve_trajectory,
            "/leaderboard": self._serve_leaderboard,
            "/whatif": self._serve_whatif,
            "/warmup": self._serve_warmup,
            "/family": self._serve_family,
        }

    # -- routes: parse the query, call the impl ------------------------------------------
    @route
    def _serve_races(self, request):
        return self.races_impl(*self.context(request))

    @route
    def _serve_surface(self, request):
        return self.surface_impl(
            *self.context(request),
            race=_race_arg(request),
            levels=arg_int(request, "levels", DEFAULT_LEVELS, MIN_LEVELS, MAX_LEVELS),
            view=_view_arg(request),
        )

    @route
    def _serve_trajectory(self, request):
        return self.trajectory_impl(
            *self.context(request),
            run=arg_str(request, "run", max_len=MAX_NAME),
            tag=arg_str(request, "tag", "", max_len=MAX_NAME) or None,
            points=_points_arg(request),
        )

    @route
    def _serve_leaderboard(self, request):
        return self.leaderboard_impl(*self.context(request), race=_race_arg(request))

    @route
    def _serve_whatif(self, request):
        return self.whatif_impl(
            *self.context(request),
            race=_race_arg(request),
            # `racer` (its id) names the racer; `run` or `optimizer` still work where one
            # racer has it
            racer=arg_str(request, "racer", "", max_len=2 * MAX_NAME) or None,
            run=arg_str(request, "run", "", max_len=MAX_NAME) or None,
            optimizer=arg_str(request, "optimizer", "", max_len=MAX_NAME) or None,
            change=Change(
                learning_rate=arg_float(request, "learning_rate", None, *LR_RANGE),
                momentum=(
                    arg_float(request, "momentum", None, *MOMENTUM_RANGE)
                    if "momentum" in request.args
                    else None
                ),
                steps=(
                    arg_int(request, "steps", None, 1, MAX_WHATIF_STEPS)
                    if "steps" in request.args
                    else None
                ),
            ),
            points=_points_arg(request),
        )

    @route
    def _serve_warmup(self, request):
        return self.warmup_impl(*self.context(request), race=_race_arg(request))

    @route
    def _serve_family(self, request):
        return self.family_impl(
            *self.context(request),
            race=_race_arg(request),
            racer=arg_str(request, "racer", max_len=2 * MAX_NAME),
        )

    # -- implementations -----------------------------------------------------------------
    def races_impl(self, ctx, experiment_id: str) -> dict[str, Any]:
        """Races found in the logdir, each with its racers (runs), sorted by name."""
        return self._listing(ctx, experiment_id).json

    def surface_impl(
        self,
        ctx,
        experiment_id: str,
        race: str,
        levels: int = DEFAULT_LEVELS,
        view: tuple[float, float, float, float] | None = None,
    ) -> dict[str, Any]:
        """Grid values, contour lines and minima of one race's loss surface; with a `view`
        (xmin, xmax, ymin, ymax), the levels, colour scale, lines and grid of that zoomed
        window (`_view_payload`)."""
        found = self._race(ctx, experiment_id, race)
        where = found.surface_series
        if where is None:
            raise not_found(f"race {race!r} has no surface summary")
        series = self.data.series(ctx, experiment_id, where.run, where.tag, fmt.SURFACE)
        grid = self.data.read(ctx, experiment_id, series, decode=decode_grid)
        key = (experiment_id, series.run, series.tag, series.version, levels, race)
        payload = self._surfaces.get(key)
        if payload is None:
            marks = {"minima": found.minima, "start": found.start, "surface": found.surface}
            try:
                payload = geometry.surface_payload(
                    grid, found.window, levels, log_scale=found.log_scale, **marks
                )
            except ValueError as exc:
                raise not_found(f"surface of race {race!r} {exc}") from None
            self._surfaces.put(key, payload)
        if view is None:
            return {"race": race, **payload}
        zoomed = self._view_payload(key, found, grid, payload, levels, view)
        return {"race": race, **{k: payload[k] for k in _SURFACE_FIXED}, **zoomed}

    def _view_payload(
        self, key: tuple, found: Race, grid: np.ndarray, whole: dict, levels: int, view: tuple
    ) -> dict[str, Any]:
        """A zoomed view's levels, colour scale, contour lines and grid, from the library's
        closed form where it reproduces the logged grid (`source` "library"), else from the
        logged grid interpolated bilinearly (`source` "interpolated"). 400 when the view
        misses the surface's window."""
        cached = self._views.get((key, view))
        if cached is not None:
            return cached
        window = whole["window"]
        exact = self._library_surface(key, found, grid, window)
        if exact is not None:
            source, resolution = "library", geometry.VIEW_GRID

            def values_at(xs, ys):
                gx, gy = np.meshgrid(xs, ys)
                return exact.value(gx, gy)
        else:
            source = "interpolated"
            region = geometry.view_region(view, window)
            # never coarser than the logged grid over the region (up to MAX_GRID points)
            share = (
                1.0
                if region is None
                else max(
                    (region[1] - region[0]) / (window[1] - window[0]),
                    (region[3] - region[2]) / (window[3] - window[2]),
                )
            )
            resolution = int(
                min(geometry.MAX_GRID, max(geometry.VIEW_GRID, share * max(grid.shape)))
            )

            def values_at(xs, ys):
                return geometry.interpolate(grid, window, xs, ys)

        try:
            payload = geometry.view_payload(
                values_at, view, window, levels, log_scale=whole["log_scale"], resolution=resolution
            )
        except ValueError as exc:
            raise bad_request(f"query parameter 'view' {exc}") from None
        payload["source"] = source
        self._views.put((key, view), payload)
        return payload

    def _library_surface(self, key: tuple, found: Race, grid: np.ndarray, window: list):
        """The library's surface when it computes this race's map from the position alone
        (no model, no projection) and reproduces the logged grid; else None (checked once
        per surface version)."""
        known = self._exact.get(key[:4])
        if known is not None:
            return known or None
        name = found.surface if isinstance(found.surface, str) else None
        surface = _direct_surfaces().get(name) if found.basis is None else None
        if surface is not None:
            xs = np.linspace(window[0], window[1], grid.shape[1])
            ys = np.linspace(window[2], window[3], grid.shape[0])
            with np.errstate(all="ignore"):
                mine = np.asarray(surface.value(*np.meshgrid(xs, ys)), dtype=np.float64)
                logged = np.asarray(grid, dtype=np.float64)
                both = np.isfinite(mine) & np.isfinite(logged)
                span = float(np.ptp(logged[both])) if both.any() else 0.0
                same = (
                    both.any()
                    and np.array_equal(np.isfinite(mine), np.isfinite(logged))
                    and np.allclose(mine[both], logged[both], rtol=1e-5, atol=1e-6 * span)
                )
            surface = surface if same else None
        self._exact.put(key[:4], surface or False)
        return surface

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
        racer_id = self._listing(ctx, experiment_id).racer_id(run, series.tag)
        head = {"id": racer_id, "run": run, "tag": series.tag, "whatif": False}
        hyper = path.content.get("hyperparameters") or {}
        return path_json(head, path.content, path, points, hyperparameters=hyper)

    def leaderboard_impl(self, ctx, experiment_id: str, race: str) -> dict[str, Any]:
        """Metrics of every racer in one race, each with its `rank` (`ranks`: by arrival, or
        for an own-model race by the logged `ranked_by` score; ties share a rank; null for an
        unreadable racer), rows in rank order (ties in /races order)."""
        found = self._race(ctx, experiment_id, race)
        rows = []
        for entry in found.racers:
            row = {
                "id": entry.id,
                "run": entry.run,
                "tag": entry.tag,
                "name": entry.name,
                "optimizer": entry.optimizer,
                "hyperparameters": entry.hyperparameters,
            }
            try:
                row.update(self._metrics(ctx, experiment_id, entry.run, entry.tag), error=None)
            except Exception as exc:  # one broken racer must not hide the others
                message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                row.update(error=message)
            rows.append(row)
        places = ranks([r if r["error"] is None else {} for r in rows])
        for row, rank in zip(rows, places, strict=True):
            row["rank"] = rank
        rows.sort(key=lambda r: math.inf if r["rank"] is None else r["rank"])  # stable
        return {"race": race, "tolerance": found.tolerance, "rows": rows}

    def whatif_impl(
        self,
        ctx,
        experiment_id: str,
        race: str,
        change: Change,
        racer: str | None = None,
        run: str | None = None,
        optimizer: str | None = None,
        points: int = DEFAULT_POINTS,
    ) -> dict[str, Any]:
        """Re-run one racer (by its `racer` id, or by a `run` or an `optimizer` only one racer
        uses) with the `change`d learning rate / momentum on an analytic surface."""
        found = self._race(ctx, experiment_id, race)
        entry = found.find_racer(racer, run, optimizer)
        hyper = change.applied_to(entry)
        series, path = self._path(ctx, experiment_id, entry.run, entry.tag)
        simulated = self.whatifs.run(found, entry.optimizer, hyper, path, change.steps)
        head = {"id": entry.id, "run": entry.run, "tag": series.tag, "whatif": True}
        return path_json(
            head,
            path.content,
            simulated,
            points,
            hyperparameters=hyper,
            logged_hyperparameters=entry.hyperparameters,
        )

    def warmup_impl(self, ctx, experiment_id: str, race: str) -> dict[str, Any]:
        """Start preparing the what-if of every re-runnable racer of `race` in a background
        thread (TensorFlow's import, one compiled loop per racer, then the race's families
        for `/family`) and say how far the racers are.

        Returns at once; idempotent (a racer is prepared once per server). The page calls it
        when it opens a race, so that the first what-if does not pay for the import.
        """
        found = self._race(ctx, experiment_id, race)
        return {"race": race, **self.whatifs.warm(found, self._logged(ctx, experiment_id, found))}

    def family_impl(self, ctx, experiment_id: str, race: str, racer: str) -> dict[str, Any]:
        """One racer's family: its real paths at a grid of learning rates (and momenta),
        computed with the race's warm-up (asked for here when nobody has yet), for the page
        to draw while a slider is dragged; `state` "warming" until it is ready."""
        found = self._race(ctx, experiment_id, race)
        entry = found.find_racer(racer, None, None)
        state, value = self.whatifs.family(found, entry, self._logged(ctx, experiment_id, found))
        head = {"race": race, "id": entry.id, "state": state}
        if state != "ready":
            return {**head, "reason": value}
        return {**head, "reason": None, **family_json(value)}

    # -- helpers ---------------------------------------------------------------------------
    def _listing(self, ctx, experiment_id: str) -> Listing:
        """The races and racer ids of the current catalog (derived once per catalog)."""
        catalog = self.data.catalog(ctx, experiment_id)
        known, listing = self._listed  # one read: another thread may swap it
        if known is not catalog or listing is None:
            listing = derive(catalog)
            self._listed = (catalog, listing)
        return listing

    def _race(self, ctx, experiment_id: str, name: str) -> Race:
        return self._listing(ctx, experiment_id).race(name)

    def _logged(self, ctx, experiment_id: str, found: Race) -> dict[str, Logged]:
        """The steps and start of each re-runnable racer's logged path, as its what-if takes
        them (racers whose path cannot be read are left out)."""
        out = {}
        for entry in found.racers:
            if not entry.whatif:
                continue
            try:
                _, path = self._path(ctx, experiment_id, entry.run, entry.tag)
            except Exception:  # its what-if will say why
                continue
            start = found.start or path.content.get("start")
            out[entry.id] = Logged(
                max(path.last_step, 1), None if start is None else tuple(float(v) for v in start)
            )
        return out

    def _metrics(self, ctx, experiment_id: str, run: str, tag: str) -> dict[str, Any]:
        """A racer's leaderboard metrics and last step, cached by its series' version like
        the trajectory (whose rows a long race may push out of the series cache)."""
        series = self.data.catalog(ctx, experiment_id).get(run, {}).get(tag)
        key = None if series is None else (experiment_id, run, tag, series.version)
        found = None if key is None else self._leaderboard_rows.get(key)
        if found is None:
            _, path = self._path(ctx, experiment_id, run, tag)
            found = {**path.metrics(), "steps": path.last_step}
            if key is not None:
                self._leaderboard_rows.put(key, found)
        return found

    def _path(self, ctx, experiment_id: str, run: str, tag: str | None) -> tuple[Series, Track]:
        """The decoded trajectory of one run (cached until its version changes)."""
        listed = self.data.catalog(ctx, experiment_id).get(run, {})
        if tag is None:  # a named tag is one lookup (the leaderboard: N racers of one run)
            tags = sorted(t for t, s in listed.items() if is_racer(s))
            if not tags:
                raise not_found(f"no trajectory in run {run!r}")
            if DEFAULT_TAG not in tags and len(tags) > 1:  # the race layout
                raise bad_request(
                    f"run {run!r} holds {len(tags)} racers: name one with query parameter "
                    f"'tag' ({', '.join(map(repr, tags))})"
                )
            tag = DEFAULT_TAG if DEFAULT_TAG in tags else tags[0]
        series = listed.get(tag)
        if series is None or not is_racer(series):
            raise not_found(f"run {run!r} has no trajectory tag {tag!r}")
        if series.error is not None:
            raise not_found(f"run {run!r} cannot be read: {series.error}")
        path = self.data.read(ctx, experiment_id, series, decode_trajectory, track_cost)
        return series, path


def _race_arg(request) -> str:
    """The `race` query parameter (required)."""
    return arg_str(request, "race", max_len=MAX_NAME)


def _view_arg(request) -> tuple[float, float, float, float] | None:
    """The `view` query parameter (`xmin,xmax,ymin,ymax`), or None."""
    text = arg_str(request, "view", "", max_len=200)
    if not text:
        return None
    try:
        return geometry.parse_view(text)
    except ValueError as exc:
        raise bad_request(f"query parameter 'view' {exc}") from None


@functools.cache
def _direct_surfaces() -> dict[str, Any]:
    """The library's surfaces whose loss is a function of the map's position alone (the
    analytic ones and the linear regression; not `nn_plane`, a projected network), which
    the server can evaluate on a zoomed view's grid."""
    return {name: s for name, s in library_tables()[0].items() if s.direct}


def _points_arg(request) -> int:
    """The `points` query parameter: rows to keep."""
    return arg_int(request, "points", DEFAULT_POINTS, MIN_POINTS, MAX_POINTS)
