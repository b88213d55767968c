// The heat-map panel of the Confusion page: one map per position plus the pooled one, their
// colour legends and the cell tooltip. Values come from normalise() over the counts.
// A single classifier (one position) gets one large map instead, sized to the panel, with
// zoom buttons and its own scroll box (100 classes stay navigable).
import { el } from "../common/dom.js";
import { diverging, legend, sequential } from "../common/colormaps.js";
import { fmtInteger, fmtNumber, fmtPercent, t } from "../common/i18n.js";
import { createTooltip } from "../common/tooltip.js";
import { HeatMap, fitCell } from "./heatmap.js";
import { CanvasMap } from "./overview.js";
import { compactStep } from "./chart.js";
import { accuracyOf, countsOf } from "./data.js";
import { normaliseTyped } from "./normalise.js";
import { compactCount, pct, points, short, signedPoints, verdict } from "./text.js";

/** The normalisations the page offers (labels: confusion.mode.*, legends: confusion.legend.*). */
export const MODES = ["count", "true", "predicted"];
const MAX_PRINTED_K = 12; // small multiples print values in cells up to 12 x 12
// Cell sizes (px) the zoom buttons step through; "fit" picks the largest that fits the panel,
// never below FIT_MIN so that a cell can still be hovered and clicked.
const ZOOM_CELLS = [4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112];
const FIT_MIN = 8;
const FIT_MAX = 112;
// Above this many classes the maps are drawn to a canvas (overview.js): K*K SVG rectangles
// cost too much to build and recolour (a million at ImageNet's 1,000 classes).
export const CANVAS_K = 150;
const CANVAS_SMALL = 340; // px: one map of several positions

/** The largest value of `values` (its absolute value with `abs`) that is a number, leaving
 * out the diagonal of a K x K matrix with `offDiagonal`; -Infinity when there is none.
 * A loop, not Math.max(...values): a million arguments overflow the stack. */
export function maxOf(values, k, { offDiagonal = false, abs = false } = {}) {
  let best = -Infinity;
  for (let i = 0; i < values.length; i++) {
    let v = values[i];
    if (v !== v || (offDiagonal && i % (k + 1) === 0)) continue; // the diagonal: i = r * (k + 1)
    if (abs && v < 0) v = -v;
    if (v > best) best = v;
  }
  return best;
}

/**
 * The largest count of each step of `data` (every position's own cells, and the pooled
 * cells), with and without the diagonal: {positions, pooled, positionsOff, pooledOff}.
 * Kept on the data per step index (a step's counts never change), so the whole series'
 * scale costs one pass over each step once, and stays when a paged step is let go.
 */
function stepMaxima(data, i) {
  data.maxima = data.maxima || [];
  if (data.maxima[i]) return data.maxima[i];
  const flat = data.counts[i];
  if (!flat) return null;
  const k = data.classes.length;
  const n = k * k;
  const np = data.positions.length;
  const pooled = np > 1 ? new Float64Array(n) : null;
  const m = { positions: 0, pooled: 0, positionsOff: 0, pooledOff: 0 };
  for (let q = 0; q < np; q++) {
    for (let j = 0; j < n; j++) {
      const v = flat[q * n + j];
      if (v > m.positions) m.positions = v;
      if (v > m.positionsOff && j % (k + 1) !== 0) m.positionsOff = v;
      if (pooled) pooled[j] += v;
    }
  }
  if (pooled) {
    m.pooled = maxOf(pooled, k);
    m.pooledOff = maxOf(pooled, k, { offDiagonal: true });
  } else {
    m.pooled = m.positions;
    m.pooledOff = m.positionsOff;
  }
  data.maxima[i] = m;
  return m;
}

/** The largest count of the whole series (of the steps fetched so far, when they come page
 * by page): one colour scale for every step, so a colour keeps its meaning while playing. */
export function seriesMaxima(data) {
  const out = { positions: 0, pooled: 0, positionsOff: 0, pooledOff: 0 };
  for (let i = 0; i < data.steps.length; i++) {
    const m = stepMaxima(data, i);
    if (!m) continue;
    for (const key of Object.keys(out)) out[key] = Math.max(out[key], m[key]);
  }
  return out;
}

/** Sums of row `tc` and of column `pc` of a K x K matrix (what one cell's shares need). */
function lineTotals(counts, k, tc, pc) {
  let row = 0;
  let col = 0;
  for (let j = 0; j < k; j++) {
    row += Number(counts[tc * k + j]);
    col += Number(counts[j * k + pc]);
  }
  return [row, col];
}

/** The maps of a series: one per position plus the pooled one, or for a single classifier
 * its one map (pooling one position would draw the same matrix twice). */
export function mapKeys(data) {
  if (data.positions.length === 1) return ["0"];
  return [...data.positions.map((_, i) => String(i)), "pooled"];
}

/**
 * Everything the maps show at step `index` of `data`: per map {key, p, counts, values,
 * shown}; when comparing with `cmp` = {data, index, series, pair} (pair: data.js pairing()),
 * also B's position `bp`, counts and values, `shown` = B − A and `gain` = how much better B
 * is in that cell: on the diagonal more is better, off it less is better, so the colour says
 * what the change means whatever its sign. Counts compare as shares. A map whose position B
 * lacks has `missing` set and no values.
 */
export function frameAt(data, index, cmp, selectedMode) {
  const k = data.classes.length;
  const mode = cmp && selectedMode === "count" ? "share" : selectedMode;
  const maps = mapKeys(data).map((key) => {
    const p = key === "pooled" ? null : Number(key);
    const counts = countsOf(data, index, p);
    const values = normaliseTyped(counts, k, mode);
    const entry = { key, p, counts, values, shown: values };
    if (cmp) {
      entry.bp = cmp.pair.partner(key);
      if (entry.bp === undefined) {
        entry.missing = true;
        entry.shown = new Float64Array(values.length).fill(NaN);
        entry.gain = entry.shown;
        return entry;
      }
      entry.bCounts = countsOf(cmp.data, cmp.index, entry.bp);
      entry.bValues = normaliseTyped(entry.bCounts, k, mode);
      const n = k * k;
      entry.shown = new Float64Array(n);
      entry.gain = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const d = entry.bValues[i] - values[i];
        entry.shown[i] = d;
        entry.gain[i] = i % (k + 1) === 0 ? d : -d; // the diagonal: i = r * (k + 1)
      }
    }
    return entry;
  });
  return { data, index, k, cmp, mode, maps };
}

/** A diverging scale over B's gain in [-m, m]: "B better" one colour (blue), "B worse" the
 * other (orange), no change the page's ground (white, or dark in the dark theme). */
export function gainScale(m) {
  const dark = document.documentElement.dataset.theme === "dark";
  const base = diverging(m, dark ? "blueOrangeDark" : "blueOrange");
  const scale = (g) => base(-g);
  return Object.assign(scale, { lo: base.lo, hi: base.hi, map: base.map, kind: "diverging" });
}

export class HeatMaps {
  /** @param {(position:number|null, t:number, p:number) => void} onPick a cell was clicked */
  constructor(onPick) {
    this.onPick = onPick;
    this.tooltip = createTooltip("cm-tooltip");
    this.legends = el("div", { id: "cm-legends", class: "cm-legends" });
    this.maps = el("div", { id: "cm-maps", class: "cm-maps" });
    // compare mode: the maps of positions B lacks hide behind this one line
    this.showMissing = false;
    this.missingText = el("span", { id: "cm-missing-text" });
    this.missingToggle = el("button", { type: "button", class: "fs-link-button", id: "cm-missing-toggle",
      onclick: () => {
        this.showMissing = !this.showMissing;
        if (this.frame && this.drawOptions) this.draw(this.frame, this.drawOptions);
      } });
    this.missingLine = el("div", { class: "cm-missing-line", id: "cm-missing", hidden: true },
      this.missingText, " ", this.missingToggle);
    this.heatmaps = null;
    this.frame = null; // what the maps show now (see frameAt())
    this.drawOptions = null; // draw()'s options, to redraw after a zoom
    this.data = null;
    this.single = false; // one position: one large map
    this.zoom = null; // cell size in px chosen with the zoom buttons, or null to fit the panel
    this.canvas = false; // many classes: canvas maps (overview.js) rather than SVG
    this.perStep = false; // count mode: colours scaled to each step rather than the series
    const button = (id, text, label, onclick) =>
      el("button", { type: "button", id, text, title: label, "aria-label": label, onclick });
    this.zoomOut = button("cm-zoom-out", "−", t("confusion.zoom.out"), () => this.zoomBy(-1));
    this.zoomFit = button("cm-zoom-fit", t("confusion.zoom.fit"), t("confusion.zoom.fitTitle"),
      () => this.setZoom(null));
    this.zoomIn = button("cm-zoom-in", "+", t("confusion.zoom.in"), () => this.zoomBy(1));
    this.zoomTools = el("div", { class: "fs-seg cm-zoom", id: "cm-zoom", role: "group",
      "aria-label": t("confusion.zoom.label") }, this.zoomOut, this.zoomFit, this.zoomIn);
    // Fit again when the window or the panel changes size (a page scroll bar coming or going
    // narrows the panel without resizing the window).
    let pending = 0;
    const later = () => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(() => this.refit());
    };
    window.addEventListener("resize", later);
    new ResizeObserver(later).observe(this.maps);
    // the single map also zooms with Ctrl + wheel (as a map viewer does) and + / − keys
    this.maps.addEventListener("wheel", (e) => {
      if (!this.single || !e.ctrlKey || !e.target.closest(".cm-plot-large")) return;
      e.preventDefault();
      this.zoomBy(e.deltaY < 0 ? 1 : -1);
    }, { passive: false });
    this.maps.addEventListener("keydown", (e) => {
      if (!this.single || !e.target.closest(".cm-plot-large")) return;
      if (e.key === "+" || e.key === "=") this.zoomBy(1);
      else if (e.key === "-") this.zoomBy(-1);
    });
  }

  /** Placeholder while a series loads. */
  loading() {
    this.maps.replaceChildren(el("div", { class: "cm-loading", text: t("confusion.loading") }));
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
    this.canvas = data.classes.length > CANVAS_K;
    if (this.canvas) return this.makeCanvas(keys);
    const boxHeight = this.single ? this.boxHeight() : 0;
    const cell = this.single ? this.zoom || this.fit(boxHeight) : undefined;
    this.tooltip.hide(); // its cell may be gone (another run, another zoom)
    this.heatmaps = keys.map((key) => new HeatMap({ ...this.mapOptions(key), cell }));
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

  /** What an SVG map and a canvas map of position `key` ("pooled" or an index) both take. */
  mapOptions(key) {
    return {
      key,
      classes: this.data.classes,
      large: this.single,
      tools: this.single ? this.zoomTools : null,
      onHover: (tc, pc, e) => this.hover(key, tc, pc, e),
      onLeave: () => this.tooltip.hide(),
      onClick: (tc, pc) => this.onPick(key === "pooled" ? null : Number(key), tc, pc),
    };
  }

  /** Canvas maps for many classes: the single one fills the panel, several sit side by side. */
  makeCanvas(keys) {
    const data = this.data;
    this.tooltip.hide();
    const [width, height] = this.canvasRoom();
    this.heatmaps = keys.map((key) => new CanvasMap({
      ...this.mapOptions(key),
      width,
      height,
      onView: () => this.zoomButtons(),
    }));
    this.maps.replaceChildren(...this.heatmaps.map((h) => h.node));
    this.maps.dataset.k = String(data.classes.length);
    this.maps.classList.toggle("cm-maps-single", this.single);
    this.zoomButtons();
  }

  /** Width and height (px) a canvas map may take. */
  canvasRoom() {
    if (!this.single) return [CANVAS_SMALL, CANVAS_SMALL];
    return [Math.max(300, this.maps.clientWidth - 24), this.boxHeight()];
  }

  zoomButtons() {
    if (!this.canvas || !this.single) return;
    const h = this.heatmaps[0];
    this.zoomOut.disabled = h.isWhole;
    this.zoomIn.disabled = !h.canZoomIn;
    this.zoomFit.setAttribute("aria-pressed", String(h.isWhole));
  }

  /** Bring a cell of map `position` (null: pooled) into view, readable (canvas maps only:
   * an SVG map shows every cell). */
  reveal(position, tc, pc) {
    if (!this.canvas || !this.heatmaps) return;
    const key = position === null ? (this.single ? "0" : "pooled") : String(position);
    const h = this.heatmaps.find((x) => x.key === key) || this.heatmaps[0];
    h.reveal(tc, pc);
  }

  /** Mark class c's row and column on every map and bring its diagonal cell into view. */
  markClass(c) {
    if (!this.heatmaps) return;
    for (const h of this.heatmaps) {
      if (h.mark) h.mark(c);
      if (c !== null && h.reveal) h.reveal(c, c);
    }
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
    if (this.canvas) return this.heatmaps[0].zoomBy(dir);
    const c = this.heatmaps[0].cell;
    const next = dir > 0 ? ZOOM_CELLS.find((x) => x > c) : [...ZOOM_CELLS].reverse().find((x) => x < c);
    if (next) this.setZoom(next);
  }

  /** Redraw the single map with `cell` px cells (null: fit the panel), keeping its centre. */
  setZoom(cell) {
    if (this.canvas) return this.heatmaps.forEach((h) => h.whole());
    this.zoom = cell;
    this.remake();
  }

  /** After a resize, a fitted map is fitted again. */
  refit() {
    if (!this.single || !this.heatmaps) return;
    if (this.canvas) {
      const [w, h] = this.canvasRoom();
      const map = this.heatmaps[0];
      const side = Math.floor(Math.min(w - map.left - 8, h - map.bottom - map.top));
      if (Math.abs(Math.max(160, side) - map.side) > 1) map.resize(w, h);
      return;
    }
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
    const old = this.heatmaps[0];
    const focused = old.svg.contains(document.activeElement);
    this.make();
    // keyboard users keep their place: the new map gets the focus and the cursor cell
    this.heatmaps[0].moveCursor(old.cursor.t, old.cursor.p);
    if (focused) this.heatmaps[0].svg.focus({ preventScroll: true });
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
    // the largest (absolute) value of the maps, off the diagonal when only errors are coloured
    const largest = (maps, of = (x) => x.shown, abs = false) => Math.max(-Infinity,
      ...maps.map((x) => maxOf(of(x), k, { offDiagonal: errorsOnly, abs })));
    const legends = [];
    const scales = new Map();
    const errors = errorsOnly ? t("confusion.legend.offDiagonal") : "";
    if (cmp) {
      const m = Math.max(1e-9, largest(f.maps, (x) => x.gain, true));
      const scale = gainScale(m);
      f.maps.forEach((x) => scales.set(x.key, scale));
      const what = mode === "share" ? t("confusion.legend.share") : t(`confusion.legend.${mode}`);
      legends.push(legend(scale, {
        title: t("confusion.legend.compare", { what, errors }),
        // the ticks say how far from "no change"; the ends say which way is better
        format: (v) => fmtNumber(Math.round(Math.abs(v) * 1000) / 10, 3),
        ends: [t("confusion.compare.worse", { run: cmp.series.run }),
          t("confusion.compare.better", { run: cmp.series.run })],
        width: 320,
      }));
    } else if (mode === "count") {
      const perPosition = f.maps.filter((x) => x.p !== null);
      const pooled = f.maps.find((x) => x.p === null);
      // One scale for the whole series by default (a colour means the same count at every
      // step while playing); per step on request (the step's own range, more contrast).
      let hiP;
      let hiA;
      if (this.perStep) {
        hiP = largest(perPosition);
        hiA = pooled ? largest([pooled]) : 0;
      } else {
        const all = seriesMaxima(data);
        hiP = errorsOnly ? all.positionsOff : all.positions;
        hiA = errorsOnly ? all.pooledOff : all.pooled;
        // (a step not yet counted in, while its page loads, never overflows the scale)
        hiP = Math.max(hiP, largest(perPosition));
        hiA = pooled ? Math.max(hiA, largest([pooled])) : 0;
      }
      const sp = sequential(0, Math.max(1, hiP));
      const sa = pooled && sequential(0, Math.max(1, hiA));
      perPosition.forEach((x) => scales.set(x.key, sp));
      const scope = this.perStep ? t("confusion.legend.scaleStep") : t("confusion.legend.scaleSeries");
      legends.push(legend(sp, { title: (this.single ? t("confusion.legend.count", { errors })
        : t("confusion.legend.countPerPosition", { errors })) + scope, format: compactStep }));
      if (pooled) {
        scales.set("pooled", sa);
        legends.push(legend(sa, { title: t("confusion.legend.countPooled", { errors }) + scope,
          format: compactStep }));
      }
    } else {
      const hi = errorsOnly ? Math.max(1e-9, largest(f.maps)) : 1;
      const scale = sequential(0, hi);
      f.maps.forEach((x) => scales.set(x.key, scale));
      legends.push(legend(scale, { title: `${t(`confusion.legend.${mode}`)}${errors}`,
        format: (v) => fmtPercent(v, v * 100 === Math.round(v * 100) ? 0 : 1) }));
    }
    this.legends.replaceChildren(...legends);

    // The large map prints values whenever its cells are big enough (heatmap.js decides).
    // changes print in whole points, or in tenths when every change is under 2 points
    const fine = cmp && Math.max(0, largest(f.maps, (x) => x.shown, true)) < 0.02;
    const format = k > MAX_PRINTED_K && !this.single ? null
      : cmp ? (v) => (fine ? points(v) : signedPoints(v))
      : mode === "count" ? (v) => compactCount(v)
      : (v) => String(Math.round(v * 100));
    f.maps.forEach((x, n) => {
      const h = this.heatmaps[n];
      const scale = scales.get(x.key);
      const colour = cmp
        ? (v, tc, pc) => (errorsOnly && tc === pc ? null : scale(x.gain[tc * k + pc]))
        : (v, tc, pc) => (errorsOnly && tc === pc ? null : scale(v));
      h.update(x.shown, colour, format, { scale, of: cmp ? x.gain : x.shown, errorsOnly });
      const title = x.p === null ? t("confusion.pooled") : data.positions[x.p];
      let detail = t("confusion.map.accuracy", { value: pct(accuracyOf(data, f.index, x.p)) });
      if (this.single) {
        let samples = 0;
        for (let i = 0; i < x.counts.length; i++) samples += x.counts[i];
        detail = t("confusion.map.samples", { count: samples, samples: fmtInteger(samples), detail });
      }
      if (cmp) {
        detail = x.missing ? t("confusion.map.notInB", { detail })
          : t("confusion.map.withB", { detail,
            value: pct(accuracyOf(cmp.data, cmp.index, x.bp)) });
      }
      h.setTitle(title, detail);
      h.node.classList.toggle("cm-missing", Boolean(x.missing));
      const selected = selection && selection.position === x.p;
      h.select(selected ? selection.true : null, selected ? selection.predicted : null);
    });
    this.heatmaps.forEach((h) => h.node.classList.toggle("cm-compare", Boolean(cmp)));
    const missing = f.maps.filter((x) => x.missing);
    this.missingLine.hidden = !missing.length;
    f.maps.forEach((x, n) => { this.heatmaps[n].node.hidden = Boolean(x.missing) && !this.showMissing; });
    if (missing.length) {
      this.missingText.textContent = t("confusion.compare.missing", { count: missing.length,
        n: fmtInteger(missing.length), run: cmp.series.run,
        names: missing.map((x) => data.positions[x.p]).join(", ") });
      this.missingToggle.textContent = this.showMissing ? t("confusion.compare.hideMissing")
        : t("confusion.compare.showMissing");
      this.missingToggle.setAttribute("aria-expanded", String(this.showMissing));
    }
  }

  /** Tooltip of one cell: exact counts, its shares of the row and column, A and B. */
  hover(key, tc, pc, e) {
    const f = this.frame;
    const m = f && f.maps.find((x) => x.key === key);
    if (!m) return;
    const { data, k } = f;
    const i = tc * k + pc;
    // the cell's shares of its row and column (a million-cell matrix is never normalised whole)
    const [rowTotal, colTotal] = lineTotals(m.counts, k, tc, pc);
    const byTrue = { [i]: rowTotal > 0 ? m.counts[i] / rowTotal : NaN };
    const byPredicted = { [i]: colTotal > 0 ? m.counts[i] / colTotal : NaN };
    const where = m.p === null ? t("confusion.pooled") : data.positions[m.p];
    // class names in full (the axis labels may be thinned or cut); only huge names are cut
    const ct = short(data.classes[tc], 100);
    const cp = short(data.classes[pc], 100);
    const compared = f.cmp && !m.missing;
    const lines = [
      this.single ? null : el("div", { class: "fs-tooltip-title", text: short(where) }),
      el("div", { class: "cm-tip-classes", text: t("confusion.cell", { true: ct, predicted: cp }) }),
      el("div", { class: "cm-tip-count", text: compared
        ? t("confusion.tip.countB", { count: fmtInteger(m.counts[i]), b: fmtInteger(m.bCounts[i]) })
        : t("confusion.tip.count", { count: fmtInteger(m.counts[i]) }) }),
      el("div", { text: t("confusion.tip.ofTrue", { value: pct(byTrue[i]), name: ct,
        total: fmtInteger(rowTotal) }) }),
      el("div", { text: t("confusion.tip.ofPredicted", { value: pct(byPredicted[i]), name: cp,
        total: fmtInteger(colTotal) }) }),
    ];
    if (compared) {
      const v = verdict(m.gain[i]);
      lines.push(el("div", { class: `cm-tip-diff cm-${v}`, text: t("confusion.tip.diff", {
        a: pct(m.values[i]), b: pct(m.bValues[i]), change: points(m.shown[i]),
        verdict: t(`confusion.verdict.${v}`) }) }));
    }
    if (tc !== pc && m.counts[i] > 0) {
      lines.push(el("div", { class: "fs-muted", text: t("confusion.tip.click") }));
    }
    this.tooltip.show(e, lines.filter(Boolean));
  }
}
