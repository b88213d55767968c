// The side panels of the Confusion page: accuracy (table and chart over training), the most
// confused pairs, the per-class metrics table and a clicked cell's example images.
import { el, message } from "../common/dom.js";
import { accuracyChart, positionColour } from "./chart.js";
import { num3, name, pct } from "./text.js";

/** Accuracy per position, pooled and whole-sequence at the shown step, and over training;
 * for a single classifier (one position) just its accuracy, as pooling would repeat it. */
export class AccuracyPanel {
  /** @param {(index:number) => void} onPick a step was clicked on the chart */
  constructor(onPick) {
    this.onPick = onPick;
    this.node = el("section", { id: "cm-accuracy", class: "cm-panel" });
    this.chart = null;
  }

  /** Redraw for frame `f` (see maps.js frameAt()). */
  draw(f) {
    const { data, cmp, index: i } = f;
    const seq = data.sequence_accuracy;
    const single = data.positions.length === 1;
    const head = [single ? "" : "position", "accuracy", ...(cmp ? ["B", "A − B"] : [])];
    const rows = data.positions.map((what, p) => {
      const b = cmp ? cmp.data.accuracy[cmp.index][p] : null;
      return accRow(String(p), what, positionColour(p), data.accuracy[i][p], b, cmp);
    });
    if (!single) {
      rows.push(accRow("pooled", "all positions pooled", "#757575", data.pooled_accuracy[i],
        cmp ? cmp.data.pooled_accuracy[cmp.index] : null, cmp, "dash"));
    }
    let seqNote = null; // one position: the whole sequence is that position, nothing to explain
    if (seq) {
      const b = cmp && cmp.data.sequence_accuracy ? cmp.data.sequence_accuracy.values[cmp.index] : null;
      rows.push(accRow("sequence", "whole sequence", "#212121", seq.values[i], b, cmp, "dash"));
      seqNote = `Whole-sequence accuracy is the logged scalar “${seq.tag}”.`;
    } else if (!single) {
      seqNote = "Whole-sequence accuracy is not logged for this run (it cannot be derived " +
        "from per-position matrices).";
    }
    const table = el("table", { class: "fs-table cm-acc-table", id: "cm-acc-table" },
      el("thead", {}, el("tr", {}, head.map((h) => el("th", { text: h })))),
      el("tbody", {}, rows));
    const lines = data.positions.map((what, p) => ({ name: what, colour: positionColour(p),
      values: data.accuracy.map((r) => r[p]) }));
    if (!single) {
      lines.push({ name: "pooled", colour: "#757575", dash: "4 3", values: data.pooled_accuracy });
    }
    if (seq) lines.push({ name: "whole sequence", colour: "#212121", dash: "1 2", values: seq.values });
    this.chart = data.steps.length > 1
      ? accuracyChart({ steps: data.steps, lines, current: i, onPick: this.onPick })
      : null;
    this.node.replaceChildren(
      el("h2", { text: `Accuracy at step ${data.steps[i]}` }), table,
      seqNote ? el("p", { class: "cm-note", id: "cm-sequence-note", text: seqNote }) : "",
      this.chart ? this.chart.node : "");
    if (this.chart) this.chart.placeMarker(i);
  }
}

function accRow(key, what, colour, a, b, cmp, dash) {
  const cells = [
    el("td", {}, el("span", { class: dash ? "cm-swatch cm-swatch-dash" : "cm-swatch",
      style: `--swatch:${colour}` }), name(what)),
    el("td", { class: "cm-acc-value", text: pct(a) }),
  ];
  if (cmp) {
    const d = Number.isFinite(a) && Number.isFinite(b) ? a - b : NaN;
    cells.push(el("td", { text: pct(b) }),
      el("td", { class: d > 0 ? "cm-a-higher" : d < 0 ? "cm-b-higher" : "",
        text: Number.isFinite(d) ? `${d > 0 ? "+" : ""}${(d * 100).toFixed(1)}` : "–" }));
  }
  return el("tr", { class: "cm-acc-row", "data-position": key }, cells);
}

/** The most confused (position, true, predicted) cells of a /matrix answer. */
export class PairsPanel {
  /** @param {(position:number, t:number, p:number) => void} onPick a pair was chosen */
  constructor(onPick) {
    this.onPick = onPick;
    this.node = el("section", { id: "cm-pairs", class: "cm-panel" });
  }

  draw(m) {
    const pick = (q) => this.onPick(q.position, q.true, q.predicted);
    const single = m.positions.length === 1; // no position column: there is only one
    // Class names are shown in full, wrapped (only names of several lines are cut).
    const rows = m.confused_pairs.map((q) => el("tr", {
      class: "cm-pair", tabindex: 0, title: "show the images",
      "data-position": q.position, "data-true": q.true, "data-predicted": q.predicted,
      onclick: () => pick(q),
      onkeydown: (e) => { if (e.key === "Enter") pick(q); },
    },
    single ? null : el("td", {},
      el("span", { class: "cm-swatch", style: `--swatch:${positionColour(q.position)}` }),
      name(m.positions[q.position], "cm-name-short")),
    el("td", { class: "cm-pair-classes" }, name(m.classes[q.true], "cm-name-class"),
      el("span", { class: "cm-arrow", text: " → " }), name(m.classes[q.predicted], "cm-name-class")),
    el("td", { text: String(q.count) }),
    el("td", { text: pct(q.rate) })));
    const head = [...(single ? [] : ["position"]), "true → predicted", "count", "of true"];
    this.node.replaceChildren(
      el("h2", { text: `Most confused at step ${m.step}` }),
      rows.length
        ? el("table", { class: single ? "fs-table cm-pairs-table cm-single" : "fs-table cm-pairs-table",
          id: "cm-pairs-table" },
          el("thead", {}, el("tr", {}, head.map((h) => el("th", { text: h,
            class: h === "true → predicted" ? "cm-pair-classes" : null })))),
          el("tbody", {}, rows))
        : el("p", { class: "cm-note", text: "No confusions at this step." }));
  }

  error(text) {
    message(this.node, text, "error");
  }
}

/** Precision, recall, F1 and support per class, for one position or all pooled (a single
 * classifier has no position to choose). */
export class ClassTable {
  constructor() {
    this.node = el("section", { id: "cm-metrics", class: "cm-panel" });
    this.position = "pooled"; // "pooled" or a position index as a string
    this.metrics = null;
  }

  clear() {
    this.node.replaceChildren();
  }

  draw(m) {
    this.metrics = m;
    const single = m.positions.length === 1;
    if (single) this.position = "0";
    const options = [["pooled", "all positions pooled"],
      ...m.positions.map((what, p) => [String(p), what])];
    if (!single && !options.some(([v]) => v === this.position)) this.position = "pooled";
    const select = el("select", { id: "cm-metrics-position",
      onchange: () => { this.position = select.value; this.draw(this.metrics); } },
    options.map(([value, text]) => el("option", { value, text, title: text,
      selected: value === this.position })));
    select.title = options.find(([v]) => v === this.position)[1];
    const cm = this.position === "pooled"
      ? m.class_metrics.pooled
      : m.class_metrics.positions[Number(this.position)];
    const rows = m.classes.map((cls, c) => el("tr", { class: "cm-class-row", "data-class": c },
      el("td", { class: "cm-class-name" }, name(cls, "cm-name-class")),
      el("td", { text: num3(cm.precision[c]) }),
      el("td", { text: num3(cm.recall[c]) }),
      el("td", { text: num3(cm.f1[c]) }),
      el("td", { text: String(cm.support[c]) })));
    const macro = el("tr", { class: "cm-macro" },
      el("td", { text: "macro mean" }),
      el("td", { text: num3(cm.macro.precision) }),
      el("td", { text: num3(cm.macro.recall) }),
      el("td", { text: num3(cm.macro.f1) }),
      el("td", { text: String(cm.support.reduce((a, b) => a + b, 0)) }));
    this.node.replaceChildren(
      el("div", { class: "cm-panel-head" }, el("h2", { text: "Per-class metrics" }),
        single ? "" : select),
      el("div", { class: "cm-scroll" },
        el("table", { class: "fs-table cm-class-table", id: "cm-class-table" },
          el("thead", {}, el("tr", {}, ["class", "precision", "recall", "F1", "support"].map(
            (h) => el("th", { text: h })))),
          el("tbody", {}, rows, macro))));
  }
}

/** The misclassified images stored for a clicked cell (or a note saying why there are none). */
export class ExamplesPanel {
  /** @param {() => void} onClose the close button was pressed */
  constructor(onClose) {
    this.onClose = onClose;
    this.node = el("section", { id: "cm-examples", class: "cm-panel", hidden: true });
  }

  hide() {
    this.node.hidden = true;
  }

  /**
   * Show the panel for `selection` of `data`; `load()` fetches /examples. An answer that
   * arrives after a newer call is dropped.
   */
  async show(data, selection, load) {
    const sel = selection;
    const where = sel.position === null ? "All positions pooled" : data.positions[sel.position];
    const cell = `true ${data.classes[sel.true]} → predicted ${data.classes[sel.predicted]}`;
    const title = data.positions.length === 1 ? cell : `${where}: ${cell}`;
    const close = el("button", { type: "button", class: "fs-icon-button", id: "cm-examples-close",
      "aria-label": "close", text: "✕", onclick: () => this.onClose() });
    const head = el("div", { class: "cm-panel-head" },
      el("h2", { id: "cm-examples-title", text: title, title }), close);
    this.node.hidden = false;
    if (sel.true === sel.predicted) {
      this.node.replaceChildren(head, el("p", { class: "cm-note", id: "cm-examples-note",
        text: "Correct predictions: only misclassified images are stored." }));
      return;
    }
    const token = (this.token = (this.token || 0) + 1);
    let ex;
    try {
      ex = await load();
    } catch (err) {
      if (token === this.token) message(this.node, `Could not load images: ${err.message}`, "error");
      return;
    }
    if (token !== this.token) return;
    let note;
    const per = data.positions.length === 1 ? "cell" : "position and cell";
    if (!ex.examples_tag) note = "This run logs no example images.";
    else if (ex.step === null) note = "No example images have been logged yet.";
    else {
      const at = ex.exact ? `step ${ex.step}`
        : `step ${ex.step} (nearest step with images; none at step ${ex.requested_step})`;
      const count = ex.count === null ? "" : `${ex.count} misclassified, `;
      note = `${at} · ${count}${ex.stored} image${ex.stored === 1 ? "" : "s"} stored` +
        (ex.cap_per_cell ? ` (at most ${ex.cap_per_cell} per ${per})` : "");
    }
    const grid = el("div", { class: "cm-example-grid", id: "cm-example-grid" },
      ex.images.map((img) => el("figure", { class: "cm-example", "data-index": img.index },
        el("img", { src: img.url, loading: "lazy",
          alt: `true ${data.classes[sel.true]}, predicted ${data.classes[sel.predicted]}`,
          onload: (e) => e.target.classList.toggle("cm-pixelated", e.target.naturalWidth < 64) }),
        sel.position === null ? el("figcaption", { text: data.positions[img.position],
          title: data.positions[img.position] }) : null)));
    this.node.replaceChildren(head,
      el("p", { class: ex.exact ? "cm-note" : "cm-note cm-nearest", id: "cm-examples-note", text: note }),
      ex.images.length ? grid : el("p", { class: "cm-note", text: "No stored images for this cell." }));
  }
}
