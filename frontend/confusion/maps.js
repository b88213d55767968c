// The heat-map panel of the Confusion page: one map per position plus the pooled one, their
// colour legends and the cell tooltip. Values come from normalise() over the counts.
import { el } from "../common/dom.js";
import { diverging, legend, sequential } from "../common/colormaps.js";
import { createTooltip } from "../common/tooltip.js";
import { HeatMap } from "./heatmap.js";
import { compactStep } from "./chart.js";
import { countsOf } from "./data.js";
import { normalise, totals } from "./normalise.js";
import { compactCount, pct, points, short, signedPoints } from "./text.js";

/** The normalisations the page offers: button label and legend title. */
export const MODES = {
  count: { label: "Count", legend: "count" },
  true: { label: "By true class (recall)", legend: "% of the true class (row)" },
  predicted: { label: "By predicted class (precision)", legend: "% of the predicted class (column)" },
};
const MAX_PRINTED_K = 12; // values are printed in cells up to 12 x 12

/**
 * Everything the maps show at step `index` of `data`: per map {key, p, counts, values,
 * shown} (and B's counts and values when comparing with `cmp` = {data, index, series}).
 * Compare mode shows differences of normalised matrices; counts compare as shares.
 */
export function frameAt(data, index, cmp, selectedMode) {
  const k = data.classes.length;
  const mode = cmp && selectedMode === "count" ? "share" : selectedMode;
  const keys = [...data.positions.map((_, i) => String(i)), "pooled"];
  const maps = keys.map((key) => {
    const p = key === "pooled" ? null : Number(key);
    const counts = countsOf(data, index, p);
    const values = normalise(counts, k, mode);
    const entry = { key, p, counts, values, shown: values };
    if (cmp) {
      entry.bCounts = countsOf(cmp.data, cmp.index, p);
      entry.bValues = normalise(entry.bCounts, k, mode);
      entry.shown = values.map((v, i) => v - entry.bValues[i]);
    }
    return entry;
  });
  return { data, index, k, cmp, mode, maps };
}

export class HeatMaps {
  /** @param {(position:number|null, t:number, p:number) => void} onPick a cell was clicked */
  constructor(onPick) {
    this.onPick = onPick;
    this.tooltip = createTooltip("cm-tooltip");
    this.legends = el("div", { id: "cm-legends", class: "cm-legends" });
    this.maps = el("div", { id: "cm-maps", class: "cm-maps" });
    this.heatmaps = null;
    this.frame = null; // what the maps show now (see frameAt())
  }

  /** Placeholder while a series loads. */
  loading() {
    this.maps.replaceChildren(el("div", { class: "cm-loading", text: "Loading…" }));
  }

  /** One empty map per position of `data`, plus the pooled one. */
  build(data) {
    const keys = [...data.positions.map((_, i) => String(i)), "pooled"];
    this.heatmaps = keys.map((key) => new HeatMap({
      key,
      classes: data.classes,
      onHover: (t, p, e) => this.hover(key, t, p, e),
      onLeave: () => this.tooltip.hide(),
      onClick: (t, p) => this.onPick(key === "pooled" ? null : Number(key), t, p),
    }));
    this.maps.replaceChildren(...this.heatmaps.map((h) => h.node));
    this.maps.dataset.k = String(data.classes.length);
  }

  /**
   * Colour the maps and legends for frame `f`.
   * @param {object} f frameAt()'s answer
   * @param {object} o
   * @param {boolean} o.errorsOnly colour only the off-diagonal cells
   * @param {{position:number|null, true:number, predicted:number}|null} o.selection
   * @param {string} o.runA run name of A (for the compare legend)
   */
  draw(f, { errorsOnly, selection, runA }) {
    this.frame = f;
    const { data, k, cmp, mode } = f;
    const offDiag = (i) => Math.floor(i / k) !== i % k;
    const values = (m) => m.shown.filter((v, i) => Number.isFinite(v) && (!errorsOnly || offDiag(i)));
    const legends = [];
    const scales = new Map();
    const errorsNote = errorsOnly ? ", off-diagonal cells" : "";
    if (cmp) {
      const m = Math.max(1e-9, ...f.maps.flatMap((x) => values(x).map(Math.abs)));
      const scale = diverging(m);
      f.maps.forEach((x) => scales.set(x.key, scale));
      const what = mode === "share" ? "share of samples" : MODES[mode].legend;
      legends.push(legend(scale, {
        title: `difference A − B (${what}, percentage points${errorsNote})`,
        format: (v) => `${v > 0 ? "+" : ""}${+(v * 100).toFixed(1)}`,
        ends: [`◀ B higher (${cmp.series.run})`, `A higher (${runA}) ▶`],
        width: 320,
      }));
    } else if (mode === "count") {
      const perPosition = f.maps.filter((x) => x.p !== null);
      const pooled = f.maps.find((x) => x.p === null);
      const sp = sequential(0, Math.max(1, ...perPosition.flatMap(values)));
      const sa = sequential(0, Math.max(1, ...values(pooled)));
      perPosition.forEach((x) => scales.set(x.key, sp));
      scales.set("pooled", sa);
      legends.push(legend(sp, { title: `count per position${errorsNote}`, format: compactStep }));
      legends.push(legend(sa, { title: `count, all positions pooled${errorsNote}`,
        format: compactStep }));
    } else {
      const hi = errorsOnly ? Math.max(1e-9, ...f.maps.flatMap(values)) : 1;
      const scale = sequential(0, hi);
      f.maps.forEach((x) => scales.set(x.key, scale));
      legends.push(legend(scale, { title: `${MODES[mode].legend}${errorsNote}`,
        format: (v) => `${+(v * 100).toFixed(1)}%` }));
    }
    this.legends.replaceChildren(...legends);

    const format = k > MAX_PRINTED_K ? null
      : cmp ? (v) => signedPoints(v)
      : mode === "count" ? (v) => compactCount(v)
      : (v) => String(Math.round(v * 100));
    const accA = data.accuracy[f.index];
    f.maps.forEach((x, n) => {
      const h = this.heatmaps[n];
      const scale = scales.get(x.key);
      h.update(x.shown, (v, t, p) => (errorsOnly && t === p ? null : scale(v)), format);
      const title = x.p === null ? "All positions pooled" : data.positions[x.p];
      const acc = x.p === null ? data.pooled_accuracy[f.index] : accA[x.p];
      let detail = `accuracy ${pct(acc)}`;
      if (cmp) {
        const accB = x.p === null ? cmp.data.pooled_accuracy[cmp.index] : cmp.data.accuracy[cmp.index][x.p];
        detail += ` · B ${pct(accB)}`;
      }
      h.setTitle(title, detail);
      const selected = selection && selection.position === x.p;
      h.select(selected ? selection.true : null, selected ? selection.predicted : null);
    });
    this.heatmaps.forEach((h) => h.node.classList.toggle("cm-compare", Boolean(cmp)));
  }

  /** Tooltip of one cell: exact counts, its shares of the row and column, A and B. */
  hover(key, t, p, e) {
    const f = this.frame;
    const m = f && f.maps.find((x) => x.key === key);
    if (!m) return;
    const { data, k } = f;
    const i = t * k + p;
    const byTrue = normalise(m.counts, k, "true");
    const byPredicted = normalise(m.counts, k, "predicted");
    const rowTotal = totals(m.counts, k, "true")[t];
    const colTotal = totals(m.counts, k, "predicted")[p];
    const where = m.p === null ? "All positions pooled" : data.positions[m.p];
    const ct = short(data.classes[t], 40);
    const cp = short(data.classes[p], 40);
    const lines = [
      el("div", { class: "fs-tooltip-title", text: short(where) }),
      el("div", { text: `true ${ct} → predicted ${cp}` }),
      el("div", { class: "cm-tip-count",
        text: `count ${m.counts[i]}${f.cmp ? ` (B ${m.bCounts[i]})` : ""}` }),
      el("div", { text: `${pct(byTrue[i])} of true ${ct} (${rowTotal})` }),
      el("div", { text: `${pct(byPredicted[i])} of predicted ${cp} (${colTotal})` }),
    ];
    if (f.cmp) {
      lines.push(el("div", { class: "cm-tip-diff",
        text: `A ${pct(m.values[i])} · B ${pct(m.bValues[i])} · A − B ${points(m.shown[i])} points` }));
    }
    if (t !== p && m.counts[i] > 0) lines.push(el("div", { class: "fs-muted", text: "click for the images" }));
    this.tooltip.show(e, lines);
  }
}
