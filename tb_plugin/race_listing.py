"""The race listing: the races of a catalog and their racers, as frozen records.

`derive(catalog)` reads the trajectory and surface series of one `PluginData.catalog` once
(the plugin keeps the answer until the catalog changes); `Listing.to_json()` is the /races
answer, and every other route reads the records. A race's fields are the first ones its
racers log (`summaries.format`, trajectory metadata), its surface summary's where it has
one. The only library consulted is `summaries.race`: its surface and optimizer names say
whether the what-if can re-run a racer (`Refusal` says why not), and which display texts
are the library's own (`library_fields`: the page shows its translation of those).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from summaries import format as fmt
from tb_plugin.base import bad_request, logger, not_found
from tb_plugin.data import Series
from tb_plugin.race_geometry import default_tolerance


@dataclass(frozen=True)
class Refusal:
    """Why the what-if cannot re-run a race or a racer, twice: a sentence for API clients,
    and a code with its arguments from which the page words it in its own language."""

    reason: str
    why: dict[str, Any]


def refusal_json(refusal: Refusal | None) -> dict[str, Any]:
    """The `whatif_reason` and `whatif_why` fields of /races (both null: it can re-run)."""
    if refusal is None:
        return {"whatif_reason": None, "whatif_why": None}
    return {"whatif_reason": refusal.reason, "whatif_why": refusal.why}


@dataclass(frozen=True)
class Racer:
    """One trajectory series (a run and a tag) of a race; read-only, like its fields."""

    id: str  # unique in the listing
    name: str
    run: str
    tag: str
    optimizer: str
    title: str
    hyperparameters: dict[str, Any]
    tuning: Any
    max_step: int
    palette_index: int | None
    error: str | None  # why its metadata cannot be read
    refusal: Refusal | None  # why the what-if cannot re-run it (None: it can)
    library_fields: tuple[str, ...] = ()  # its display fields as the library wrote them

    @property
    def whatif(self) -> bool:
        """Whether the what-if can re-run this racer."""
        return self.refusal is None

    def to_json(self) -> dict[str, Any]:
        """The racer as /races lists it."""
        return {
            "id": self.id,
            "name": self.name,
            "run": self.run,
            "tag": self.tag,
            "optimizer": self.optimizer,
            "title": self.title,
            "hyperparameters": self.hyperparameters,
            "tuning": self.tuning,
            "max_step": self.max_step,
            "palette_index": self.palette_index,
            "error": self.error,
            **refusal_json(self.refusal),
            "whatif": self.whatif,
            "library_fields": list(self.library_fields),
        }


@dataclass(frozen=True)
class SurfaceSeries:
    """Where a race's surface summary is."""

    run: str
    tag: str


@dataclass(frozen=True)
class Race:
    """A race: its surface, window, minima, ... and its racers in colour order."""

    name: str
    surface: Any
    window: Any
    start: Any
    minima: Any
    basis: Any
    tolerance: Any
    title: Any
    description: Any
    formula: Any
    axes: Any
    log_scale: bool
    surface_series: SurfaceSeries | None
    racers: tuple[Racer, ...]  # never empty: a race is listed because a racer names it
    library_fields: tuple[str, ...] = ()  # display fields as the library wrote them

    @property
    def whatif(self) -> bool:
        """Whether the what-if can re-run any racer of the race."""
        return any(r.whatif for r in self.racers)

    @property
    def refusal(self) -> Refusal | None:
        """Why no racer can be re-run: the surface's reason, or the first racer's."""
        return None if self.whatif else self.racers[0].refusal

    def to_json(self) -> dict[str, Any]:
        """The race as /races lists it."""
        where = self.surface_series
        return {
            "race": self.name,
            "surface": self.surface,
            "window": self.window,
            "start": self.start,
            "minima": self.minima,
            "basis": self.basis,
            "tolerance": self.tolerance,
            "title": self.title,
            "description": self.description,
            "formula": self.formula,
            "axes": self.axes,
            "log_scale": self.log_scale,
            "surface_series": None if where is None else {"run": where.run, "tag": where.tag},
            "whatif": self.whatif,
            "racers": [r.to_json() for r in self.racers],
            **refusal_json(self.refusal),
            "library_fields": list(self.library_fields),
        }

    def find_racer(self, racer: str | None, run: str | None, optimizer: str | None) -> Racer:
        """The racer a what-if names: by id (its identity), else by a run or an optimizer
        that only one racer of the race has (404 when none has it, 400 when ambiguous)."""
        if racer is not None:
            entry = next((r for r in self.racers if r.id == racer), None)
            if entry is None:
                raise not_found(f"race {self.name!r} has no racer {racer!r}")
            if run is not None and entry.run != run:
                raise bad_request(f"racer {racer!r} is in run {entry.run!r}, not {run!r}")
        elif run is not None:
            entry = self._only(  # the race layout: one run holds every racer of the race
                [r for r in self.racers if r.run == run],
                f"no racer with run {run!r}",
                lambda n: f"run {run!r} holds {n} racers of race {self.name!r}",
                "one",
            )
        if racer is not None or run is not None:
            if optimizer is not None and entry.optimizer != optimizer:
                raise bad_request(
                    f"racer {entry.id!r} races optimizer {entry.optimizer!r}, not {optimizer!r}"
                )
            return entry
        if optimizer is None:
            raise bad_request("missing query parameter 'racer' (or 'run')")
        return self._only(  # e.g. Adam at two learning rates: only the id tells them apart
            [r for r in self.racers if r.optimizer == optimizer],
            f"no optimizer {optimizer!r}",
            lambda n: f"optimizer {optimizer!r} races {n} times in race {self.name!r}",
            "the racer",
        )

    def _only(
        self, found: list[Racer], missing: str, several: Callable[[int], str], which: str
    ) -> Racer:
        """The one racer `found` (404 saying `missing` when none; 400 when `several(n)`)."""
        if not found:
            raise not_found(f"race {self.name!r} has {missing}")
        if len(found) > 1:
            ids = ", ".join(repr(r.id) for r in found)
            raise bad_request(
                f"{several(len(found))} ({ids}): name {which} with query parameter 'racer'"
            )
        return found[0]


@dataclass(frozen=True)
class Listing:
    """The races of one catalog by name, and every listed racer's id by (run, tag)."""

    races: dict[str, Race]
    ids: dict[tuple[str, str], str]

    def race(self, name: str) -> Race:
        """One race (404 when the catalog has none of that name)."""
        race = self.races.get(name)
        if race is None:
            raise not_found(f"no race named {name!r}")
        return race

    def racer_id(self, run: str, tag: str) -> str:
        """The listed id of a (run, tag) racer; the first form for an unlisted one."""
        return self.ids.get((run, tag), fmt.racer_id(run, tag))

    @functools.cached_property
    def json(self) -> dict[str, Any]:
        """The /races answer (built once per listing; callers never change it)."""
        return {"races": [self.races[name].to_json() for name in sorted(self.races)]}


def is_racer(series: Series) -> bool:
    """A trajectory series, or an unreadable one (listed so the page can say what is wrong)."""
    return series.error is not None or series.kind == fmt.TRAJECTORY


def derive(catalog: dict[str, dict[str, Series]]) -> Listing:
    """The races of a catalog: racers grouped by their `race` (else their run), each race
    with the first surface summary (any run) of the same `race`."""
    listed = [catalog[run][tag] for run in sorted(catalog) for tag in sorted(catalog[run])]
    groups: dict[str, list[Series]] = {}
    for series in listed:
        if is_racer(series):
            name = str((series.content or {}).get("race", series.run))
            groups.setdefault(name, []).append(series)
    surfaces: dict[str, Series] = {}
    for series in listed:
        name = (series.content or {}).get("race")
        if series.kind == fmt.SURFACE and name in groups:
            surfaces.setdefault(name, series)
    ids = _unique_ids(groups)
    races = {name: _race(name, group, surfaces.get(name), ids) for name, group in groups.items()}
    return Listing(races, ids)


def _unique_ids(groups: dict[str, list[Series]]) -> dict[tuple[str, str], str]:
    """Every racer's id, unique (a run named like another run's racer: ``a/b`` beside ``a``
    holding ``race/trajectory/b``): a later repeat becomes ``RUN/TAG``, then ``#n``."""
    ids: dict[tuple[str, str], str] = {}
    seen: set[str] = set()
    for name in sorted(groups):
        for series in groups[name]:
            run, tag = series.run, series.tag
            candidate = fmt.racer_id(run, tag)
            if candidate in seen:
                candidate, count = f"{run}/{tag}", 2
                while candidate in seen:
                    candidate, count = f"{run}/{tag}#{count}", count + 1
            ids[(run, tag)] = candidate
            seen.add(candidate)
    return ids


def _first_truthy(values: list[Any]) -> Any:
    """The first truthy value, else the last one (`a or b or c`)."""
    return next((v for v in values if v), values[-1])


def _race(name: str, group: list[Series], surface: Series | None, ids: dict) -> Race:
    """One race from its racers' series (in catalog order) and its surface summary."""
    contents = [s.content or {} for s in group]
    readable = [s.content or {} for s in group if s.error is None]

    def first(key: str) -> Any:
        return next((c[key] for c in contents if c.get(key) is not None), None)

    window, minima = first("window"), first("minima")
    log_scale = any(bool(c.get("log_scale")) for c in readable)
    where = None
    if surface is not None:
        content = surface.content or {}
        where = SurfaceSeries(surface.run, surface.tag)
        log_scale = bool(content.get("log_scale"))
        window, minima = window or content.get("window"), minima or content.get("minima")
    tolerance = first("tolerance")
    refusal = _surface_refusal(
        name, first("surface"), first("basis"), all(bool(c.get("analytic")) for c in readable)
    )
    racers = [_racer(s, ids[(s.run, s.tag)], refusal) for s in group]
    # the logged colour order gives every optimizer one colour in every race
    racers.sort(key=lambda r: (r.palette_index is None, r.palette_index or 0, r.id))
    title = _first_truthy([c.get("surface_title") for c in contents])
    description = _first_truthy([c.get("description") for c in contents])
    return Race(
        name=name,
        surface=first("surface"),
        window=window,
        start=first("start"),
        minima=minima,
        basis=first("basis"),
        tolerance=default_tolerance(window, minima) if tolerance is None else tolerance,
        title=title,
        description=description,
        formula=_first_truthy([c.get("formula") for c in contents]),
        axes=_first_truthy([c.get("axes") for c in contents]),
        log_scale=log_scale,
        surface_series=where,
        racers=tuple(racers),
        library_fields=_library_fields(
            _library_texts("surface", first("surface")),
            {"title": title, "description": description},
        ),
    )


def _racer(series: Series, racer_id: str, surface_refusal: Refusal | None) -> Racer:
    """One racer of a race (`surface_refusal`: why its race's surface cannot be re-run)."""
    content = series.content or {}
    order = content.get("order")
    optimizer = str(content.get("optimizer", series.run))
    title = str(content.get("optimizer_title") or optimizer)
    return Racer(
        id=racer_id,
        name=fmt.racer_name(series.run, series.tag, content),
        run=series.run,
        tag=series.tag,
        optimizer=optimizer,
        title=title,
        hyperparameters=content.get("hyperparameters") or {},
        tuning=content.get("tuning"),
        max_step=series.max_step,
        palette_index=order if type(order) is int else None,
        error=series.error,
        refusal=surface_refusal or _racer_refusal(series.error, optimizer),
        library_fields=_library_fields(_library_texts("optimizer", optimizer), {"title": title}),
    )


def _surface_refusal(name: str, surface: Any, basis: Any, analytic: bool) -> Refusal | None:
    """Why the what-if cannot re-run a race's surface (None: it can)."""
    if analytic and basis is None and surface in _closed_form_surfaces():
        return None
    return Refusal(
        f"what-if needs an analytic surface; race {name!r} runs on {surface!r}"
        + (" (a projected model loss)" if basis else ""),
        {"code": "projected" if basis else "surface", "surface": surface},
    )


def _racer_refusal(error: str | None, optimizer: str) -> Refusal | None:
    """Why the what-if cannot re-run a racer on a re-runnable surface (None: it can)."""
    if error is not None:
        return Refusal(
            f"what-if needs the racer's metadata, which cannot be read: {error}",
            {"code": "metadata", "error": error},
        )
    if optimizer not in _keras_racers():
        return Refusal(
            f"what-if can only re-run Keras optimizers: {optimizer!r} is not one of "
            f"Flowscope's racers ({', '.join(_keras_racers())}), so its path is "
            "shown as logged",
            {"code": "optimizer", "optimizer": optimizer},
        )
    return None


def _library_fields(library: dict[str, str], shown: dict[str, Any]) -> tuple[str, ...]:
    """The display fields (`title`, `description`) whose logged text is the library's own
    for this surface or optimizer: written by the library, so the page may show its
    translation; a text of the user's own (another title for a library surface, a surface
    of their own) is shown as written."""
    return tuple(key for key, value in shown.items() if value and library.get(key) == value)


@functools.cache
def library_tables() -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The library's surfaces and optimizers (`summaries.race`: numpy and the standard
    library; Keras is imported by the engine, later), or two empty tables and one warning
    when the library is broken: the page then offers no what-if and shows every logged text
    as written."""
    try:
        from summaries.race.optimizers import OPTIMIZERS
        from summaries.race.surfaces import SURFACES
    except Exception as exc:
        logger.warning("Flowscope: no race what-if, summaries.race is broken: %s", exc)
        return {}, {}
    return SURFACES, OPTIMIZERS


@functools.lru_cache(maxsize=1024)
def _library_texts(kind: str, name: Any) -> dict[str, str]:
    """The display texts the library writes for one of its surfaces or optimizers
    ({"title", "description"}; empty for a name it does not know)."""
    if not isinstance(name, str):
        return {}
    surfaces, optimizers = library_tables()
    if kind == "surface":
        known = surfaces.get(name)
        return {} if known is None else {"title": known.title, "description": known.description}
    spec = optimizers.get(name)
    return {} if spec is None else {"title": spec.title}


def _keras_racers() -> tuple[str, ...]:
    """Names of the library's racers: the optimizers the what-if can re-run, as real Keras
    optimizers."""
    return tuple(library_tables()[1])


@functools.cache
def _closed_form_surfaces() -> frozenset[str]:
    """Names of the library's closed-form surfaces: the only ones a what-if can re-run."""
    return frozenset(n for n, s in library_tables()[0].items() if s.analytic)
