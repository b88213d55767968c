// The heat-map panel of the Confusion page: one map per position plus the pooled one, their
// colour legends and the cell tooltip. Values come from normalise() over the counts.
// A single classifier (one position) gets one large map instead, sized to the panel, with
// zoom buttons and its own scroll box (100 classes stay navigable).
import { el } from "../common/dom.js";
import { diverging, legend, sequential } from "../common/colormaps.js";
import { createTooltip } from "../common/tooltip.js";
import { HeatMap, fitCell } from "./heatmap.js";
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
const MAX_PRINTED_K = 12; // small multiples print values in cells up to 12 x 12
// Cell sizes (px) the zoom buttons step through; "fit" picks the largest that fits the panel,
// never below FIT_MIN so that a cell can still be hovered and clicked.
const ZOOM_CELLS = [4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112];
const FIT_MIN = 8;
const FIT_MAX = 112;

/** The maps of a series: one per position plus the pooled one, or for a single classifier
 * its one map (pooling one position would draw the same matrix twice). */
export function mapKeys(data) {
  if (data.positions.length === 1) return ["0"];
  return [...data.positions.map((_, i) => String(i)), "pooled"];
}

/**
 * Everything the maps show at step `index` of `data`: per map {key, p, counts, values,
 * shown} (and B's counts and values when comparing with `cmp` = {data, index, series}).
 * Compare mode shows differences of normalised matrices; counts compare as shares.
 */
export function frameAt(data, index, cmp, selectedMode) {
  const k = data.classes.length;
  const mode = cmp && selectedMode === "count" ? "share" : selectedMode;
  const maps = mapKeys(data).map((key) => {
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
    this.drawOptions = null; // draw()'s options, to redraw after a zoom
    this.data = null;
    this.single = false; // one position: one large map
    this.zoom = null; // cell size in px chosen with the zoom buttons, or null to fit the panel
    const button = (id, text, label, onclick) =>
      el("button", { type: "button", id, text, title: label, "aria-label": label, onclick });
    this.zoomOut = button("cm-zoom-out", "−", "zoom out (smaller cells)", () => this.zoomBy(-1));
    this.zoomFit = button("cm-zoom-fit", "fit", "fit the panel", () => this.setZoom(null));
    this.zoomIn = button("cm-zoom-in", "+", "zoom in (bigger cells)", () => this.zoomBy(1));
    this.zoomTools = el("div", { class: "fs-seg cm-zoom", id: "cm-zoom", role: "group",
      "aria-label": "zoom" }, this.zoomOut, this.zoomFit, this.zoomIn);
    // Fit again when the window or the panel changes size (a page scroll bar coming or going
    // narrows the panel without resizing the window).
    let pending = 0;
    const later = () => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(() => this.refit());
    };
    window.addEventListener("resize", later);
    new ResizeObserver(later).observe(this.maps);
  }

  /** Placeholder while a series loads. */
  loading() {
    this.maps.replaceChildren(el("div", { class: "cm-loading", text: "Loading…" }));
  }

  /** One empty map per position of `data` plus the pooled one (one map for one position),
   * fitted to the panel. */
  build(data) {
    this.data = data;
    this.zoom = null;
    this.make();
  }

  make() {
    const data = this.data;
    const keys = mapKeys(data);
    this.single = keys.length === 1;
    const boxHeight = this.single ? this.boxHeight() : 0;
    const cell = this.single ? this.zoom || this.fit(boxHeight) : undefined;
    this.tooltip.hide(); // its cell may be gone (another run, another zoom)
    this.heatmaps = keys.map((key) => new HeatMap({
      key,
      classes: data.classes,
      cell,
      large: this.single,
      tools: this.single ? this.zoomTools : null,
      onHover: (t, p, e) => this.hover(key, t, p, e),
      onLeave: () => this.tooltip.hide(),
      onClick: (t, p) => this.onPick(key === "pooled" ? null : Number(key), t, p),
    }));
    this.maps.replaceChildren(...this.heatmaps.map((h) => h.node));
    this.maps.dataset.k = String(data.classes.length);
    this.maps.classList.toggle("cm-maps-single", this.single);
    if (!this.single) return;
    const plot = this.heatmaps[0].plot;
    plot.style.maxHeight = `${boxHeight}px`;
    plot.dataset.cell = String(cell);
    this.zoomOut.disabled = cell <= ZOOM_CELLS[0];
    this.zoomIn.disabled = cell >= ZOOM_CELLS[ZOOM_CELLS.length - 1];
    this.zoomFit.setAttribute("aria-pressed", String(this.zoom === null));
    this.heatmaps[0].pin();
  }

  /** Height (px) of the large map's scroll box: the rest of the window below the panel's top. */
  boxHeight() {
    const top = this.maps.getBoundingClientRect().top + window.scrollY;
    return Math.max(300, Math.floor(window.innerHeight - top - 48));
  }

  /** The largest cell size at which the single map fits the panel's width and `height`. */
  fit(height) {
    const width = this.maps.clientWidth - 40; // card padding and border, a scroll bar
    return fitCell(this.data.classes, width, height, { min: FIT_MIN, max: FIT_MAX });
  }

  /** Step the single map's cell size up (dir > 0) or down through ZOOM_CELLS. */
  zoomBy(dir) {
    const c = this.heatmaps[0].cell;
    const next = dir > 0 ? ZOOM_CELLS.find((x) => x > c) : [...ZOOM_CELLS].reverse().find((x) => x < c);
    if (next) this.setZoom(next);
  }

  /** Redraw the single map with `cell` px cells (null: fit the panel), keeping its centre. */
  setZoom(cell) {
    this.zoom = cell;
    this.remake();
  }

  /** After a resize, a fitted map is fitted again. */
  refit() {
    if (!this.single || !this.heatmaps) return;
    const plot = this.heatmaps[0].plot;
    const height = this.boxHeight();
    plot.style.maxHeight = `${height}px`;
    this.heatmaps[0].pin();
    if (this.zoom === null && this.fit(height) !== this.heatmaps[0].cell) this.remake();
  }

  remake() {
    const before = this.heatmaps[0].plot;
    const centre = (scroll, client, whole) => (whole > 0 ? (scroll + client / 2) / whole : 0.5);
    const fx = centre(before.scrollLeft, before.clientWidth, before.scrollWidth);
    const fy = centre(before.scrollTop, before.clientHeight, before.scrollHeight);
    this.make();
    if (this.frame && this.drawOptions) this.draw(this.frame, this.drawOptions);
    const after = this.heatmaps[0].plot;
    after.scrollLeft = fx * after.scrollWidth - after.clientWidth / 2;
    after.scrollTop = fy * after.scrollHeight - after.clientHeight / 2;
    this.heatmaps[0].pin();
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
    this.drawOptions = { errorsOnly, selection, runA };
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
      const sa = pooled && sequential(0, Math.max(1, ...values(pooled)));
      perPosition.forEach((x) => scales.set(x.key, sp));
      legends.push(legend(sp, { title: `count${this.single ? "" : " per position"}${errorsNote}`,
        format: compactStep }));
      if (pooled) {
        scales.set("pooled", sa);
        legends.push(legend(sa, { title: `count, all positions pooled${errorsNote}`,
          format: compactStep }));
      }
    } else {
      const hi = errorsOnly ? Math.max(1e-9, ...f.maps.flatMap(values)) : 1;
      const scale = sequential(0, hi);
      f.maps.forEach((x) => scales.set(x.key, scale));
      legends.push(legend(scale, { title: `${MODES[mode].legend}${errorsNote}`,
        format: (v) => `${+(v * 100).toFixed(1)}%` }));
    }
    this.legends.replaceChildren(...legends);

    // The large map prints values whenever its cells are big enough (heatmap.js decides).
    const format = k > MAX_PRINTED_K && !this.single ? null
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
      if (this.single) detail = `${x.counts.reduce((a, b) => a + b, 0)} samples · ${detail}`;
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
    // class names in full (the axis labels may be thinned or cut); only huge names are cut
    const ct = short(data.classes[t], 100);
    const cp = short(data.classes[p], 100);
    const lines = [
      this.single ? null : el("div", { class: "fs-tooltip-title", text: short(where) }),
      el("div", { class: "cm-tip-classes", text: `true ${ct} → predicted ${cp}` }),
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
    this.tooltip.show(e, lines.filter(Boolean));
  }
}
