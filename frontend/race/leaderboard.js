// The leaderboard: one row per racer with the race metrics, ranked by arrival (as the
// /leaderboard route and `summaries.race.metrics.ranks`); click a header to sort.
import { el } from "../common/dom.js";
import { fmt } from "./scale.js";

const COLUMNS = [
  { key: "rank", label: "#", title: "rank by arrival: settled step, then first step within tolerance, then final loss; ties share a rank, racers that never arrived come after" },
  { key: "optimizer", label: "optimizer", title: "optimizer (run)", text: true },
  { key: "hyper", label: "hyper-parameters", title: "learning rate and the others", text: true },
  { key: "final_loss", label: "final loss", title: "loss at the last step" },
  { key: "best_loss", label: "best loss", title: "lowest loss reached" },
  { key: "distance_to_minimum", label: "distance to min", title: "distance from the final position to the nearest known minimum" },
  { key: "first_entry_step", label: "first within tol.", title: "first step within tolerance of a minimum" },
  { key: "settled_step", label: "settled", title: "step from which the racer stays within tolerance" },
  { key: "status", label: "status", title: "what happened: arrived, not arrived in N steps, escaped (left the window of a surface unbounded below) or diverged (NaN, Inf or leaving the window)", text: true },
];

/** Text of a hyper-parameter dict, learning rate first. */
export function hyperText(hyper) {
  const keys = Object.keys(hyper || {}).sort((a, b) =>
    a === "learning_rate" ? -1 : b === "learning_rate" ? 1 : a.localeCompare(b));
  return keys
    .map((k) => `${k === "learning_rate" ? "lr" : k}=${typeof hyper[k] === "number" ? fmt(hyper[k], 4) : String(hyper[k])}`)
    .join(", ");
}

/** Rank key of a metrics dict (smaller is better), as `summaries.race.metrics.rank_key`. */
function rankKey(m) {
  const num = (v) => (typeof v === "number" ? v : Infinity);
  const settled = typeof m.settled_step === "number" ? m.settled_step : null;
  return [settled === null ? 1 : 0, settled ?? Infinity, num(m.first_entry_step), num(m.final_loss)];
}

function compareKeys(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

/** Ranks (1, 2, ...) of racers by arrival; ties share the best rank; null without metrics. */
export function rankRacers(racers) {
  const keys = racers.map((r) => {
    const m = metricsOf(r);
    return r.error || !m.outcome ? null : rankKey(m);
  });
  const known = keys.filter(Boolean).sort(compareKeys);
  return keys.map((k) => (k === null ? null : known.findIndex((o) => compareKeys(o, k) === 0) + 1));
}

const OUTCOME_ORDER = { arrived: 0, escaped: 1, not_arrived: 2, diverged: 3 };

/** A racer's outcome in the lesson's terms: {outcome, text, cls, title}; null while unknown. */
export function outcomeOf(racer) {
  if (racer.error) return { outcome: "error", text: "no data", cls: "race-badge-error", title: racer.error };
  const m = metricsOf(racer);
  switch (m.outcome) {
    case "arrived":
      return { outcome: "arrived", text: `arrived at step ${m.settled_step}`, cls: "race-badge-ok",
        title: "settled within the tolerance from this step to its last" };
    case "escaped":
      return { outcome: "escaped", text: `escaped at step ${m.escaped_step}`, cls: "race-badge-escaped escaped-badge",
        title: "left the window of a surface with no lower bound: escaping is the lesson's aim, not a divergence" };
    case "diverged":
      return { outcome: "diverged", text: `diverged at step ${m.diverged_step ?? "?"}`, cls: "race-badge-diverged",
        title: m.reason === "left window" ? "left the window (the surface is bounded below)" : `the loss or position became ${m.reason === "nan" ? "NaN" : "infinite"}` };
    case "not_arrived":
      return { outcome: "not_arrived", text: `not arrived in ${m.steps} steps`, cls: "race-badge-none",
        title: "raced every step without settling within the tolerance" };
    default:
      return null;
  }
}

/** The metrics a row shows: the what-if's while one is active, else the logged run's. */
function metricsOf(racer) {
  return (racer.whatif ? racer.track?.metrics : racer.metrics) || {};
}

/** The hyper-parameters a row shows. */
function hyperOf(racer) {
  return racer.whatif ? racer.track?.hyperparameters : racer.hyperparameters;
}

export class Leaderboard {
  constructor() {
    this.sortKey = "rank"; // arrival first, as the route orders the rows
    this.ascending = true;
    this.racers = [];
    this.head = el("thead");
    this.body = el("tbody");
    this.note = el("div", { class: "race-caption", id: "race-leaderboard-note" });
    this.table = el("table", { class: "fs-table race-leaderboard", id: "race-leaderboard" }, this.head, this.body);
    this.root = el("div", { class: "race-leaderboard-wrap" }, this.table, this.note);
    this._drawHead();
  }

  /** Show the racers; each racer carries `metrics` (null while unknown) and maybe `error`. */
  setRacers(racers, tolerance) {
    this.racers = racers;
    const kind = racers.map((r) => r.metrics?.tolerance_kind).find(Boolean);
    const tol = fmt(tolerance);
    let arrival = `within ${tol} of a known minimum counts as arrived`;
    if (tolerance === null || tolerance === undefined) arrival = "arrival is not measured (no tolerance known)";
    else if (kind === "loss") arrival = `a loss at or below ${tol} counts as arrived (no known minimum on this surface)`;
    this.note.textContent =
      `Steps count from 0; ${arrival}. # ranks by arrival (settled, then first within tolerance, then final loss; ties share a rank). ` +
      "Escaped = left the map of a surface with no lower bound (the aim there); diverged = NaN, Inf or far outside the map. " +
      "Click a column header to sort; what-if rows show a recomputed path, not the logged run.";
    this.refresh();
  }

  refresh() {
    // "#" is always the rank by arrival, whatever the order: sorting another column (even one
    // that is all dashes) reorders rows but never renumbers them as if ranked by it.
    const ranks = rankRacers(this.racers);
    const rows = this.racers.map((r, i) => ({ racer: r, rank: ranks[i], value: (key) => (key === "rank" ? ranks[i] : this._value(r, key)) }));
    const key = this.sortKey;
    const dir = this.ascending ? 1 : -1;
    rows.sort((a, b) => {
      const va = a.value(key);
      const vb = b.value(key);
      const na = va === null || va === undefined || Number.isNaN(va);
      const nb = vb === null || vb === undefined || Number.isNaN(vb);
      if (na || nb) return na === nb ? 0 : na ? 1 : -1; // unknowns last in either order
      if (typeof va === "string") return dir * va.localeCompare(vb);
      return dir * (va - vb);
    });
    this.body.replaceChildren(...rows.map((row) => this._row(row.racer, row.rank)));
    for (const th of this.head.querySelectorAll("th")) {
      const active = th.dataset.key === this.sortKey;
      th.classList.toggle("sorted", active);
      th.setAttribute("aria-sort", active ? (this.ascending ? "ascending" : "descending") : "none");
      th.querySelector(".sort-arrow").textContent = active ? (this.ascending ? "▲" : "▼") : "";
    }
  }

  _drawHead() {
    this.head.replaceChildren(
      el("tr", {}, COLUMNS.map((c) =>
        el("th", {
          "data-key": c.key,
          title: `${c.title} — click to sort`,
          class: c.text ? "text" : null,
          onclick: () => {
            if (this.sortKey === c.key) this.ascending = !this.ascending;
            else {
              this.sortKey = c.key;
              this.ascending = true;
            }
            this.refresh();
          },
        }, c.label, el("span", { class: "sort-arrow" })))),
    );
  }

  _value(racer, key) {
    const m = metricsOf(racer);
    if (key === "optimizer") return racer.title;
    if (key === "hyper") return hyperText(hyperOf(racer));
    if (key === "status") {
      const o = outcomeOf(racer);
      if (!o) return null;
      if (o.outcome === "error") return Infinity;
      // by outcome, then: arrivals by settled step, escapes and divergences latest first
      const at = { arrived: m.settled_step, escaped: -(m.escaped_step ?? 0), diverged: -(m.diverged_step ?? 0) }[o.outcome] ?? 0;
      return OUTCOME_ORDER[o.outcome] * 1e15 + at;
    }
    const v = m[key];
    return typeof v === "number" ? v : null;
  }

  _row(racer, rank) {
    const m = metricsOf(racer);
    const hyper = hyperText(hyperOf(racer));
    const swatch = el("span", { class: "race-swatch" + (racer.dash ? " race-swatch-dashed" : "") });
    swatch.style.background = racer.color;
    const o = outcomeOf(racer);
    const status = o ? el("span", { class: `race-badge ${o.cls}`, text: o.text, title: o.title, "data-outcome": o.outcome }) : null;
    const cells = [
      el("td", { class: "num lb-rank", text: rank === null ? "–" : String(rank) }),
      el("td", { class: "text" }, swatch, el("span", { class: "race-name", text: racer.title, title: racer.title }),
        racer.whatif ? el("span", { class: "race-chip", text: "what-if" }) : null),
      el("td", { class: "text hyper" }, el("div", { class: "race-clamp", text: hyper, title: hyper })),
      ...["final_loss", "best_loss", "distance_to_minimum"].map((k) =>
        el("td", { class: "num", "data-key": k, text: fmt(m[k], 4) })),
      ...["first_entry_step", "settled_step"].map((k) =>
        el("td", { class: "num", "data-key": k, text: m[k] === null || m[k] === undefined ? "–" : String(m[k]) })),
      el("td", { class: "text" }, status),
    ];
    return el("tr", {
      class: `lb-row${racer.visible ? "" : " lb-hidden"}${racer.whatif ? " lb-whatif" : ""}`,
      "data-optimizer": racer.optimizer, "data-run": racer.run, "data-racer": racer.id,
    }, cells);
  }
}
