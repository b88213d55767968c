// The leaderboard: one row per racer with the race metrics, ranked by arrival (as the
// /leaderboard route and `summaries.race.metrics.ranks`); click a header (a button, so the
// keyboard reaches it too) to sort. It shows the race as of the shown step (asof.js): the
// ranks, arrival columns and outcomes of what has happened so far, the verdict at the end.
// An own-model race (its rows carry the logged `ranked_by`: format version 5) has no known
// minimum: it ranks by its best validation loss (or the metric it was raced for), and shows
// that, the time to reach the race's target and each racer's wall time per step instead of
// the arrival columns.
import { el, setText } from "../common/dom.js";
import { fmtInteger, t } from "../common/i18n.js";
import { metricsAsOf } from "./asof.js";
import { fmt } from "./scale.js";

// Column labels and tooltips come from the tables: race.board.<key> and race.board.<key>Title.
const COLUMNS = [
  { key: "rank" },
  { key: "optimizer", text: true },
  { key: "hyper", text: true },
  { key: "final_loss" },
  { key: "best_loss" },
  { key: "distance_to_minimum" },
  { key: "first_entry_step" },
  { key: "settled_step" },
  { key: "status", text: true },
];
// An own-model race's columns (`modelColumns` picks those its rows have).
const MODEL_COLUMNS = ["best_val_loss", "score", "target_step", "target_seconds", "ms_per_step"];
const KNOWN = new Set([...COLUMNS.map((c) => c.key), ...MODEL_COLUMNS]);
const LOSS_CELLS = new Set(["final_loss", "best_loss", "distance_to_minimum", "best_val_loss", "score"]);
const STEP_CELLS = new Set(["first_entry_step", "settled_step", "target_step"]);
const LABELS = () => ({
  rank: [t("race.board.rank"), t("race.board.rankTitle")],
  optimizer: [t("race.board.optimizer"), t("race.board.optimizerTitle")],
  hyper: [t("race.board.hyper"), t("race.board.hyperTitle")],
  final_loss: [t("race.board.finalLoss"), t("race.board.finalLossTitle")],
  best_loss: [t("race.board.bestLoss"), t("race.board.bestLossTitle")],
  distance_to_minimum: [t("race.board.distance"), t("race.board.distanceTitle")],
  first_entry_step: [t("race.board.firstEntry"), t("race.board.firstEntryTitle")],
  settled_step: [t("race.board.settled"), t("race.board.settledTitle")],
  status: [t("race.board.status"), t("race.board.statusTitle")],
});

/** The model race's metrics that say how it ranks (the first racer's that has them), or null. */
export function modelRanking(racers) {
  const m = racers.map((r) => r.metrics).find((x) => x && typeof x.ranked_by === "string");
  return m || null;
}

/** What an own-model race ranks by, in words ("best validation loss", ...). */
function rankedWhat(m) {
  if (m.ranked_by === "loss") return t("race.board.whatTrainLoss");
  if (m.ranked_by === "val_loss") return t("race.board.whatValLoss");
  return t("race.board.whatMetric", { metric: m.ranked_by.replace(/^val_/, "") });
}

/** The quantity a model race's target is on, in words. */
function targetWhat(m) {
  if (m.ranked_by === "loss") return t("race.board.targetOnTrainLoss");
  if (m.ranked_by === "val_loss") return t("race.board.targetOnValLoss");
  return t("race.board.targetOnMetric", { metric: m.ranked_by.replace(/^val_/, "") });
}

/** Columns of an own-model race: the arrival ones give way to what the logs measured. */
function modelColumns(racers, m) {
  const has = (key) => racers.some((r) => typeof r.metrics?.[key] === "number");
  const keys = ["rank", "optimizer", "hyper", "final_loss"];
  if (has("best_val_loss") || m.ranked_by === "val_loss") keys.push("best_val_loss");
  if (m.ranked_by !== "loss" && m.ranked_by !== "val_loss") keys.push("score");
  if (typeof m.target === "number") keys.push("target_step", "target_seconds");
  keys.push("ms_per_step", "status");
  return keys.map((key) => ({ key, text: ["optimizer", "hyper", "status"].includes(key) }));
}

/** Labels and tooltips of an own-model race's columns. */
function modelLabels(m) {
  const metric = m.ranked_by.replace(/^val_/, "");
  const order = m.goal === "max" ? t("race.board.highFirst") : t("race.board.lowFirst");
  const op = m.goal === "max" ? "≥" : "≤";
  const target = typeof m.target === "number" ? fmt(m.target, 4) : t("common.none");
  return {
    rank: [t("race.board.rank"), t("race.board.rankModelTitle", { what: rankedWhat(m), order })],
    final_loss: [t("race.board.trainLoss"), t("race.board.trainLossTitle")],
    best_val_loss: [t("race.board.bestValLoss"), t("race.board.bestValLossTitle")],
    score: [t("race.board.bestMetric", { metric }),
      m.goal === "max" ? t("race.board.bestMetricMaxTitle", { metric }) : t("race.board.bestMetricMinTitle", { metric })],
    target_step: [t("race.board.targetStep"), t("race.board.targetStepTitle", { what: targetWhat(m), op, target })],
    target_seconds: [t("race.board.targetSeconds"), t("race.board.targetSecondsTitle", { what: targetWhat(m), op, target })],
    ms_per_step: [t("race.board.msPerStep"), m.timing === "batched" ? t("race.board.msPerStepBatchedTitle") : t("race.board.msPerStepTitle")],
  };
}

/** Text of a hyper-parameter dict, learning rate first. */
export function hyperText(hyper) {
  const keys = Object.keys(hyper || {}).sort((a, b) =>
    a === "learning_rate" ? -1 : b === "learning_rate" ? 1 : a.localeCompare(b));
  return keys
    .map((k) => `${k === "learning_rate" ? "lr" : k}=${typeof hyper[k] === "number" ? fmt(hyper[k], 4) : String(hyper[k])}`)
    .join(", ");
}

/** Rank key of a metrics dict (smaller is better), as `summaries.race.metrics.rank_key`:
 * an own-model racer by its score (diverged ones last), the others by arrival. */
function rankKey(m) {
  const num = (v) => (typeof v === "number" ? v : Infinity);
  if (typeof m.ranked_by === "string") {
    const score = typeof m.score === "number" ? (m.goal === "max" ? -m.score : m.score) : Infinity;
    return [m.diverged ? 1 : 0, score, num(m.final_loss)];
  }
  const settled = typeof m.settled_step === "number" ? m.settled_step : null;
  return [settled === null ? 1 : 0, settled ?? Infinity, num(m.first_entry_step), num(m.final_loss)];
}

function compareKeys(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

/** A number for a data attribute (tests and tools read the raw value); "" when unknown. */
function num(v) {
  return typeof v === "number" && Number.isFinite(v) ? String(v) : "";
}

/** Ranks (1, 2, ...) of racers by arrival; ties share the best rank; null without metrics.
 * `metricsOf(racer)` gives the metrics to rank by (the verdict by default). */
export function rankRacers(racers, metricsOf = verdictOf) {
  const keys = racers.map((r) => {
    const m = metricsOf(r) || {};
    return r.error || !m.outcome ? null : rankKey(m);
  });
  const known = keys.filter(Boolean).sort(compareKeys);
  return keys.map((k) => (k === null ? null : known.findIndex((o) => compareKeys(o, k) === 0) + 1));
}

const OUTCOME_ORDER = { arrived: 0, escaped: 1, racing: 2, not_arrived: 2, finished: 2, diverged: 3 };

/** A racer's outcome in the lesson's terms: {outcome, text, cls, title}; null while unknown.
 * `m`: the metrics to say it from (the verdict by default; as of a step, asof.js). */
export function outcomeOf(racer, m = verdictOf(racer) || {}) {
  if (racer.error) return { outcome: "error", text: t("race.status.noData"), cls: "race-badge-error", title: racer.error };
  switch (m.outcome) {
    case "arrived":
      return { outcome: "arrived", text: t("race.status.arrived", { step: m.settled_step }), cls: "race-badge-ok",
        title: m.as_of === undefined ? t("race.status.arrivedTitle") : t("race.status.arrivedSoFarTitle") };
    case "racing":
      return { outcome: "racing", text: t("race.status.racing"), cls: "race-badge-racing", title: t("race.status.racingTitle") };
    case "escaped":
      return { outcome: "escaped", text: t("race.status.escaped", { step: m.escaped_step }), cls: "race-badge-escaped escaped-badge",
        title: t("race.status.escapedTitle") };
    case "diverged":
      return { outcome: "diverged", text: t("race.status.diverged", { step: m.diverged_step ?? "?" }), cls: "race-badge-diverged",
        title: m.reason === "left window" ? t("race.status.leftWindow") : m.reason === "nan" ? t("race.status.nan") : t("race.status.infinite") };
    case "not_arrived":
      if (typeof m.ranked_by === "string") { // an own-model race has nowhere to arrive
        return { outcome: "finished", text: t("race.status.finished", { count: m.steps, steps: m.steps }), cls: "race-badge-none",
          title: t("race.status.finishedTitle") };
      }
      return { outcome: "not_arrived", text: t("race.status.notArrived", { count: m.steps, steps: m.steps }), cls: "race-badge-none",
        title: t("race.status.notArrivedTitle") };
    default:
      return null;
  }
}

/** The verdict of a racer's whole path: the what-if's while one is active, else the logged run's. */
export function verdictOf(racer) {
  return (racer.whatif ? racer.track?.metrics : racer.metrics) || null;
}

/** A racer's metrics as of step `s` (the verdict from its last step on; asof.js). */
export function metricsAt(racer, s, minima) {
  return metricsAsOf(racer.track, verdictOf(racer), minima, s) || {};
}

/** The hyper-parameters a row shows. */
function hyperOf(racer) {
  return racer.whatif ? racer.track?.hyperparameters : racer.hyperparameters;
}

export class Leaderboard {
  /** `sort`: {key, ascending} to start with (a reload keeps the order); `onSort(key, ascending)`. */
  constructor({ sort = null, onSort = null } = {}) {
    const known = KNOWN.has(sort?.key);
    this.sortKey = known ? sort.key : "rank"; // arrival first, as the route orders the rows
    this.ascending = known ? sort.ascending !== false : true;
    this.onSort = onSort;
    this.racers = [];
    this.columns = COLUMNS;
    this.model = null; // an own-model race's ranking (`ranked_by`, `goal`, `target`, ...)
    this.step = Infinity; // the shown step: the race as of it (Infinity: the verdict)
    this.minima = [];
    this.shown = new Map(); // racer id -> the metrics shown (as of this.step)
    this.head = el("thead");
    this.body = el("tbody");
    this.note = el("div", { class: "race-caption", id: "race-leaderboard-note" });
    this.asOf = el("div", { class: "race-caption race-asof", id: "race-leaderboard-asof", "aria-live": "off" });
    this.table = el("table", { class: "fs-table race-leaderboard", id: "race-leaderboard" }, this.head, this.body);
    this.root = el("div", { class: "race-leaderboard-wrap" }, this.asOf, this.table, this.note);
    this._drawHead();
  }

  /** Show the racers; each racer carries `metrics` (null while unknown) and maybe `error`;
   * `minima`: the surface's known minima (the distance to the nearest one, as of a step). */
  setRacers(racers, tolerance, minima = []) {
    this.racers = racers;
    this.minima = minima || [];
    this.model = modelRanking(racers);
    this.columns = this.model ? modelColumns(racers, this.model) : COLUMNS;
    if (!this.columns.some((c) => c.key === this.sortKey)) {
      this.sortKey = "rank";
      this.ascending = true;
    }
    this.table.classList.toggle("race-leaderboard-model", Boolean(this.model));
    if (this.model) {
      this.note.textContent = this._modelNote(this.model);
    } else {
      const kind = racers.map((r) => r.metrics?.tolerance_kind).find(Boolean);
      const tol = fmt(tolerance);
      let arrival = t("race.board.arrivalDistance", { tol });
      if (tolerance === null || tolerance === undefined) arrival = t("race.board.arrivalNone");
      else if (kind === "loss") arrival = t("race.board.arrivalLoss", { tol });
      this.note.textContent = t("race.board.note", { arrival });
    }
    this.finalHead = undefined; // the columns may have changed: draw the head again
    this.refresh();
  }

  /** Show the race as of step `s` of `max` (the verdict at `max`). */
  setStep(s, max) {
    this.step = s >= max ? Infinity : s;
    this.max = max;
    this.refresh();
  }

  refresh() {
    this.shown = new Map(this.racers.map((r) => [r.id, metricsAt(r, this.step, this.minima)]));
    const final = this.step === Infinity;
    const asOf = final ? t("race.board.verdict")
      : t("race.board.asOf", { step: fmtInteger(Math.floor(this.step)), max: fmtInteger(this.max ?? 0) });
    setText(this.asOf, asOf);
    this.asOf.classList.toggle("race-asof-final", final);
    if (this.finalHead !== final) {
      this.finalHead = final;
      this._drawHead();
    }
    // "#" is always the rank by arrival, whatever the order: sorting another column (even one
    // that is all dashes) reorders rows but never renumbers them as if ranked by it.
    const ranks = rankRacers(this.racers, (r) => this.shown.get(r.id));
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
    this._showRows(rows.map((row) => this._row(row.racer, row.rank)));
    for (const th of this.head.querySelectorAll("th")) {
      const active = th.dataset.key === this.sortKey;
      th.classList.toggle("sorted", active);
      th.setAttribute("aria-sort", active ? (this.ascending ? "ascending" : "descending") : "none");
      th.querySelector(".sort-arrow").textContent = active ? (this.ascending ? "▲" : "▼") : "";
    }
  }

  /** Show these rows, keeping each row that reads the same as the one shown (a what-if drag
   * refreshes the table per slider value: one row changes, the others are neither replaced
   * nor styled, laid out and painted again). */
  _showRows(built) {
    const current = [...this.body.children];
    const shown = new Map(current.map((tr) => [tr.dataset.racer, tr]));
    const rows = built.map((tr) => {
      const old = shown.get(tr.dataset.racer);
      return old && old.isEqualNode(tr) ? old : tr;
    });
    if (rows.length === current.length && rows.every((tr, i) => tr === current[i] || !tr.isConnected)) {
      rows.forEach((tr, i) => tr !== current[i] && current[i].replaceWith(tr)); // same order
    } else {
      this.body.replaceChildren(...rows);
    }
  }

  /** The note under an own-model race's board: what ranks, the target, how time was measured. */
  _modelNote(m) {
    const op = m.goal === "max" ? "≥" : "≤";
    const order = m.goal === "max" ? t("race.board.highFirst") : t("race.board.lowFirst");
    let target = t("race.board.targetNone");
    if (typeof m.target === "number") {
      const params = { what: targetWhat(m), op, target: fmt(m.target, 4) };
      target = m.target_rule === "given" ? t("race.board.targetGiven", params) : t("race.board.targetDefault", params);
    }
    const timing = m.timing === "batched" ? t("race.board.timingBatched") : t("race.board.timingSequential");
    return t("race.board.modelNote", { what: rankedWhat(m), order, target, timing });
  }

  _drawHead() {
    const labels = { ...LABELS(), ...(this.model ? modelLabels(this.model) : {}) };
    if (this.finalHead === false) {
      labels.final_loss = this.model ? [t("race.board.trainLossNow"), t("race.board.lossNowTitle")]
        : [t("race.board.lossNow"), t("race.board.lossNowTitle")];
    }
    this.head.replaceChildren(
      el("tr", {}, this.columns.map((c) => {
        const [label, title] = labels[c.key];
        // a button in each header: reachable with Tab, sorted with Enter or Space
        const button = el("button", {
          type: "button", class: "race-sort", title: t("race.board.sortTitle", { what: title }),
          onclick: () => {
            if (this.sortKey === c.key) this.ascending = !this.ascending;
            else {
              this.sortKey = c.key;
              this.ascending = true;
            }
            this.refresh();
            if (this.onSort) this.onSort(this.sortKey, this.ascending);
          },
        }, label, el("span", { class: "sort-arrow", "aria-hidden": "true" }));
        return el("th", { "data-key": c.key, scope: "col", class: c.text ? "text" : null }, button);
      })),
    );
  }

  _value(racer, key) {
    const m = this.shown.get(racer.id) || {};
    if (key === "optimizer") return racer.title;
    if (key === "hyper") return hyperText(hyperOf(racer));
    if (key === "status") {
      const o = outcomeOf(racer, m);
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
    const m = this.shown.get(racer.id) || {};
    const hyper = hyperText(hyperOf(racer));
    const swatch = el("span", { class: "race-swatch" + (racer.dash ? " race-swatch-dashed" : "") });
    swatch.style.background = racer.color;
    const o = outcomeOf(racer, m);
    const status = o ? el("span", { class: `race-badge ${o.cls}`, text: o.text, title: o.title, "data-outcome": o.outcome }) : null;
    const cell = (k) => {
      if (k === "rank") return el("td", { class: "num lb-rank", "data-value": rank ?? "", text: rank === null ? t("common.none") : fmtInteger(rank) });
      if (k === "optimizer") {
        return el("td", { class: "text" }, swatch, el("span", { class: "race-name", text: racer.title, title: racer.title }),
          racer.whatif ? el("span", { class: "race-chip", text: t("race.whatif.chip") }) : null,
          racer.stale ? el("span", { class: "race-chip race-chip-stale", text: t("race.whatif.staleChip"), title: t("race.whatif.staleTitle") }) : null);
      }
      if (k === "hyper") return el("td", { class: "text hyper" }, el("div", { class: "race-clamp", text: hyper, title: hyper }));
      if (k === "status") return el("td", { class: "text" }, status);
      const v = m[k];
      let text = fmt(v, 4);
      if (STEP_CELLS.has(k)) text = typeof v === "number" ? fmtInteger(v) : t("common.none");
      else if (!LOSS_CELLS.has(k)) text = fmt(v, 3); // seconds, ms per step
      return el("td", { class: "num", "data-key": k, "data-value": num(v), text });
    };
    const cells = this.columns.map((c) => cell(c.key));
    return el("tr", {
      class: `lb-row${racer.visible ? "" : " lb-hidden"}${racer.whatif ? " lb-whatif" : ""}${racer.stale ? " lb-stale" : ""}`,
      "data-optimizer": racer.optimizer, "data-run": racer.run, "data-racer": racer.id,
    }, cells);
  }
}
