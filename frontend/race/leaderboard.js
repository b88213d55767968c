// The leaderboard: one row per racer with the race metrics; click a header to sort.
import { el } from "../common/dom.js";
import { fmt } from "./scale.js";

const COLUMNS = [
  { key: "rank", label: "#", title: "rank in the current order" },
  { key: "optimizer", label: "optimizer", title: "optimizer (run)", text: true },
  { key: "hyper", label: "hyper-parameters", title: "learning rate and the others", text: true },
  { key: "final_loss", label: "final loss", title: "loss at the last step" },
  { key: "best_loss", label: "best loss", title: "lowest loss reached" },
  { key: "distance_to_minimum", label: "distance to min", title: "distance from the final position to the nearest known minimum" },
  { key: "first_entry_step", label: "first within tol.", title: "first step within tolerance of a minimum" },
  { key: "settled_step", label: "settled", title: "step from which the racer stays within tolerance" },
  { key: "status", label: "status", title: "diverged (NaN, Inf or leaving the window) and when", text: true },
];

/** Text of a hyper-parameter dict, learning rate first. */
export function hyperText(hyper) {
  const keys = Object.keys(hyper || {}).sort((a, b) =>
    a === "learning_rate" ? -1 : b === "learning_rate" ? 1 : a.localeCompare(b));
  return keys
    .map((k) => `${k === "learning_rate" ? "lr" : k}=${typeof hyper[k] === "number" ? fmt(hyper[k], 4) : String(hyper[k])}`)
    .join(", ");
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
    this.sortKey = "best_loss";
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
      `Steps count from 0; ${arrival}. Diverged = NaN, Inf or far outside the map. ` +
      "Click a column header to sort; what-if rows show a recomputed path, not the logged run.";
    this.refresh();
  }

  refresh() {
    const rows = this.racers.map((r) => ({ racer: r, value: (key) => this._value(r, key) }));
    const key = this.sortKey === "rank" ? "best_loss" : this.sortKey;
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
    this.body.replaceChildren(...rows.map((row, k) => this._row(row.racer, k + 1)));
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
      if (racer.error) return Infinity;
      return m.diverged ? 1e15 - (m.diverged_step ?? 0) : 0;
    }
    const v = m[key];
    return typeof v === "number" ? v : null;
  }

  _row(racer, rank) {
    const m = metricsOf(racer);
    const hyper = hyperText(hyperOf(racer));
    const swatch = el("span", { class: "race-swatch" + (racer.dash ? " race-swatch-dashed" : "") });
    swatch.style.background = racer.color;
    let status;
    if (racer.error) status = el("span", { class: "race-badge race-badge-error", text: "no data", title: racer.error });
    else if (m.diverged)
      status = el("span", {
        class: "race-badge race-badge-diverged",
        text: `diverged at step ${m.diverged_step ?? "?"}`,
        title: m.reason || "diverged",
      });
    else status = el("span", { class: "race-badge race-badge-ok", text: "finished" });
    const cells = [
      el("td", { class: "num", text: String(rank) }),
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
      "data-optimizer": racer.optimizer, "data-run": racer.run,
    }, cells);
  }
}
