// The confusion matrix drawn to a canvas, for many classes (ImageNet's 1,000: a million cells,
// far too many SVG rectangles). The whole matrix shows at about one pixel per cell; where the
// panel has fewer pixels than the view has cells, each pixel shows its block's most extreme
// cell (the largest count, the largest change), so a lone confusion never averages away and
// the diagonal stays a line. Wheel or + / − zoom about the pointer (or the cursor), dragging
// pans, a double click zooms in; zoomed in far enough the cells get labels and values.
// Same contract as heatmap.js's HeatMap: update(), select(), setTitle(), node.
import { el } from "../common/dom.js";
import { cursorKey } from "./heatmap.js";
import { textOn } from "../common/colormaps.js";
import { t } from "../common/i18n.js";

const MIN_CELLS = 8; // the closest zoom shows 8 x 8 cells
const READABLE = 24; // px: a cell this big prints its value; reveal() zooms to it
const WHEEL_STEP = 1.25;
const LUT_SIZE = 256;

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/** [r, g, b] of a CSS colour (any syntax the browser knows). */
function rgbOf(colour) {
  const probe = rgbOf.ctx || (rgbOf.ctx = document.createElement("canvas").getContext("2d"));
  probe.fillStyle = "#000";
  probe.fillStyle = colour;
  const hex = probe.fillStyle; // "#rrggbb" (or rgba() for a transparent colour)
  if (hex.startsWith("#")) return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return (hex.match(/[\d.]+/g) || [0, 0, 0]).slice(0, 3).map(Number);
}

export class CanvasMap {
  /**
   * @param {object} o
   * @param {string} o.key          "0".."P-1" or "pooled"
   * @param {string[]} o.classes    class names
   * @param {number} o.width        px available for the whole map (labels included)
   * @param {number} o.height       px available
   * @param {boolean} [o.large]     the single classifier's one map (room for labels)
   * @param {Node} [o.tools]        zoom buttons for the card's title row
   * @param {(t:number, p:number, e:{clientX:number, clientY:number}) => void} o.onHover
   * @param {() => void} o.onLeave
   * @param {(t:number, p:number) => void} o.onClick
   * @param {() => void} [o.onView] the view (zoom or pan) changed
   */
  constructor({ key, classes, width, height, large = false, tools = null, onHover, onLeave, onClick,
    onView = () => {} }) {
    this.key = key;
    this.classes = classes.map(String);
    this.k = classes.length;
    this.large = large;
    this.onHover = onHover;
    this.onLeave = onLeave;
    this.onClick = onClick;
    this.onView = onView;
    this.view = { r0: 0, c0: 0, n: this.k }; // rows r0.., columns c0.., n of each
    this.cursor = { t: 0, p: 0 };
    this.selected = null; // {t, p}
    this.found = null; // a class searched for: its row and column are marked
    this.paint = null; // what update() was given, to redraw after a zoom or pan
    this.pending = 0;
    this.canvas = el("canvas", { class: "cm-canvas", tabindex: 0, role: "img",
      "aria-label": t("confusion.overview.keys"), "data-k": this.k });
    this.titleText = el("span", { class: "cm-card-name" });
    this.detailText = el("span", { class: "cm-card-detail" });
    this.plot = el("div", { class: "cm-plot cm-plot-canvas" }, this.canvas);
    this.node = el("div", { class: large ? "cm-card cm-card-large cm-card-canvas" : "cm-card cm-card-canvas",
      "data-position": key },
    el("div", { class: "cm-card-title" }, this.titleText, this.detailText, tools), this.plot);
    this.listen();
    this.resize(width, height);
  }

  // -- geometry ------------------------------------------------------------------------

  /** Fit the map to `width` x `height` px (labels included). */
  resize(width, height) {
    this.left = this.large ? 104 : 58; // row labels and the axis title
    this.bottom = this.large ? 88 : 54; // column labels (turned) and the axis title
    this.top = 4;
    const side = Math.max(160, Math.floor(Math.min(width - this.left - 8, height - this.bottom - this.top)));
    this.side = side;
    this.width = this.left + side + 8;
    this.height = this.top + side + this.bottom;
    const dpr = window.devicePixelRatio || 1;
    this.dpr = dpr;
    this.canvas.width = Math.round(this.width * dpr);
    this.canvas.height = Math.round(this.height * dpr);
    this.canvas.style.width = `${this.width}px`;
    this.canvas.style.height = `${this.height}px`;
    this.draw();
  }

  /** Pixels per cell at the current zoom. */
  get cell() {
    return this.side / this.view.n;
  }

  /** The cell under a point of the canvas (CSS px from its corner), or null. */
  cellAt(x, y) {
    const { r0, c0, n } = this.view;
    const i = Math.floor((y - this.top) / this.cell);
    const j = Math.floor((x - this.left) / this.cell);
    if (i < 0 || j < 0 || i >= n || j >= n) return null;
    return [r0 + i, c0 + j];
  }

  local(e) {
    const box = this.canvas.getBoundingClientRect();
    return [e.clientX - box.left, e.clientY - box.top];
  }

  /** Show rows and columns from (r0, c0), n of each, kept inside the matrix. */
  setView(r0, c0, n) {
    const k = this.k;
    n = Math.max(Math.min(MIN_CELLS, k), Math.min(k, Math.round(n)));
    const clamp = (v) => Math.max(0, Math.min(k - n, Math.round(v)));
    this.view = { r0: clamp(r0), c0: clamp(c0), n };
    this.canvas.dataset.view = `${this.view.r0},${this.view.c0},${n}`;
    this.later();
    this.onView();
  }

  /** Zoom by `factor` (> 1: in) keeping cell (row, col) under the same pixel. */
  zoomAbout(factor, row, col) {
    const { r0, c0, n } = this.view;
    const m = Math.max(Math.min(MIN_CELLS, this.k), Math.min(this.k, Math.round(n / factor)));
    if (m === n) return;
    this.setView(row - ((row - r0) * m) / n, col - ((col - c0) * m) / n, m);
  }

  /** The + / − buttons: zoom about the middle of the view (or the cursor, when it shows). */
  zoomBy(dir) {
    const { r0, c0, n } = this.view;
    const inView = this.cursor.t >= r0 && this.cursor.t < r0 + n && this.cursor.p >= c0 && this.cursor.p < c0 + n;
    const [row, col] = inView && this.canvas.classList.contains("cm-keys")
      ? [this.cursor.t, this.cursor.p] : [r0 + n / 2, c0 + n / 2];
    this.zoomAbout(dir > 0 ? 2 : 0.5, row, col);
  }

  whole() {
    this.setView(0, 0, this.k);
  }

  get isWhole() {
    return this.view.n === this.k;
  }

  get canZoomIn() {
    return this.view.n > Math.min(MIN_CELLS, this.k);
  }

  /** Bring cell (row, col) into view with cells big enough to read. */
  reveal(row, col) {
    const { r0, c0, n } = this.view;
    const inside = row >= r0 && row < r0 + n && col >= c0 && col < c0 + n;
    if (inside && this.cell >= READABLE / 2) return;
    const m = this.cell >= READABLE / 2 ? n : Math.max(MIN_CELLS, Math.floor(this.side / READABLE));
    this.setView(row - m / 2, col - m / 2, m);
  }

  // -- events ----------------------------------------------------------------------------

  listen() {
    const c = this.canvas;
    c.addEventListener("wheel", (e) => {
      e.preventDefault(); // the wheel zooms the map, as in a map viewer
      const [x, y] = this.local(e);
      const cell = this.cellAt(x, y);
      if (!cell) return;
      this.zoomAbout(e.deltaY < 0 ? WHEEL_STEP : 1 / WHEEL_STEP, cell[0] + 0.5, cell[1] + 0.5);
    }, { passive: false });
    let drag = null;
    c.addEventListener("pointerdown", (e) => {
      c.classList.remove("cm-keys");
      drag = { x: e.clientX, y: e.clientY, view: { ...this.view }, moved: false };
      c.setPointerCapture?.(e.pointerId);
    });
    c.addEventListener("pointermove", (e) => {
      const [x, y] = this.local(e);
      if (drag && (drag.moved || Math.hypot(e.clientX - drag.x, e.clientY - drag.y) > 4)) {
        drag.moved = true;
        this.onLeave();
        const d = this.cell;
        this.setView(drag.view.r0 - (e.clientY - drag.y) / d, drag.view.c0 - (e.clientX - drag.x) / d, drag.view.n);
        return;
      }
      const cell = this.cellAt(x, y);
      if (cell) this.onHover(cell[0], cell[1], e);
      else this.onLeave();
    });
    c.addEventListener("pointerup", (e) => {
      const d = drag;
      drag = null;
      if (!d || d.moved) return;
      const cell = this.cellAt(...this.local(e));
      if (!cell) return;
      this.cursor = { t: cell[0], p: cell[1] };
      this.onClick(cell[0], cell[1]);
    });
    c.addEventListener("pointercancel", () => { drag = null; });
    c.addEventListener("dblclick", (e) => {
      const cell = this.cellAt(...this.local(e));
      if (cell) this.zoomAbout(2, cell[0] + 0.5, cell[1] + 0.5);
    });
    c.addEventListener("mouseleave", () => this.onLeave());
    c.addEventListener("blur", () => { this.onLeave(); this.later(); });
    c.addEventListener("focus", () => this.later());
    c.addEventListener("keydown", (e) => this.onKey(e));
  }

  /** Arrows move the cursor (the view follows), Home / End / PageUp / PageDown jump to the
   * ends, + / − zoom, 0 shows the whole matrix, Enter or Space opens the cursor's cell. */
  onKey(e) {
    const { t: row, p: col } = this.cursor;
    const moved = cursorKey(e.key, this.cursor, this.k);
    if (!moved) {
      switch (e.key) {
        case "+": case "=": e.preventDefault(); this.zoomAbout(2, row + 0.5, col + 0.5); return;
        case "-": e.preventDefault(); this.zoomAbout(0.5, row + 0.5, col + 0.5); return;
        case "0": e.preventDefault(); this.whole(); return;
        case "Enter": case " ": e.preventDefault(); this.onClick(row, col); return;
        case "Escape": this.onLeave(); return;
        default: return;
      }
    }
    e.preventDefault();
    this.canvas.classList.add("cm-keys");
    this.moveCursor(moved.t, moved.p);
    const { r0, c0, n } = this.view;
    const { t: r, p: q } = this.cursor;
    if (r < r0 || r >= r0 + n || q < c0 || q >= c0 + n) {
      this.setView(r < r0 ? r : r >= r0 + n ? r - n + 1 : r0, q < c0 ? q : q >= c0 + n ? q - n + 1 : c0, n);
    } else this.later();
    this.showCursor();
  }

  moveCursor(row, col) {
    this.cursor = { t: row, p: col };
  }

  showCursor() {
    const { r0, c0 } = this.view;
    const box = this.canvas.getBoundingClientRect();
    const d = this.cell;
    this.onHover(this.cursor.t, this.cursor.p, {
      clientX: box.left + this.left + (this.cursor.p - c0 + 1) * d,
      clientY: box.top + this.top + (this.cursor.t - r0 + 1) * d,
    });
  }

  // -- content ---------------------------------------------------------------------------

  setTitle(name, detail) {
    this.titleText.textContent = name;
    this.titleText.title = name;
    this.detailText.textContent = detail || "";
  }

  /**
   * Recolour the cells.
   * @param {ArrayLike<number>} values K*K values shown (printed when zoomed in)
   * @param {Function} colour unused here (the scale in `paint` colours whole blocks)
   * @param {((v:number) => string)|null} format in-cell text
   * @param {{scale: Function, of: ArrayLike<number>, errorsOnly: boolean}} paint the scale
   *   and the values it colours (a change's gain in compare mode); the diagonal is neutral
   *   when only errors are coloured
   */
  update(values, colour, format, paint) {
    this.paint = { values, format, ...paint };
    this.draw();
  }

  select(row, col) {
    this.selected = row === null || row === undefined ? null : { t: row, p: col };
    this.later();
  }

  /** Mark class c's row and column (null: none). */
  mark(c) {
    this.found = c;
    if (c !== null) this.moveCursor(c, c);
    this.later();
  }

  pin() {}

  later() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = 0;
      this.draw();
    });
  }

  /** Draw the view now. */
  draw() {
    cancelAnimationFrame(this.pending);
    this.pending = 0;
    const ctx = this.canvas.getContext("2d");
    const dpr = this.dpr;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.width, this.height);
    const surface = cssVar("--fs-surface", "#ffffff");
    const fg = cssVar("--fs-fg", "#212121");
    const muted = cssVar("--fs-muted", "#616161");
    ctx.fillStyle = surface;
    ctx.fillRect(0, 0, this.width, this.height);
    const { r0, c0, n } = this.view;
    const d = this.cell;
    const x0 = this.left;
    const y0 = this.top;
    const s = this.side;
    const p = this.paint;
    if (p) {
      const rgb = this.blocks(p, Math.min(n, Math.floor(s * dpr)));
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(rgb, 0, 0, rgb.width, rgb.height, x0, y0, s, s);
      if (d >= 6) { // cell borders, as the SVG map has them
        ctx.strokeStyle = surface;
        ctx.lineWidth = d >= 14 ? 0.8 : 0.4;
        ctx.beginPath();
        for (let i = 1; i < n; i++) {
          ctx.moveTo(x0 + i * d, y0); ctx.lineTo(x0 + i * d, y0 + s);
          ctx.moveTo(x0, y0 + i * d); ctx.lineTo(x0 + s, y0 + i * d);
        }
        ctx.stroke();
      }
      if (p.format && d >= READABLE) this.printValues(ctx, p);
    }
    ctx.strokeStyle = cssVar("--fs-border", "#bdbdbd");
    ctx.lineWidth = 1;
    ctx.strokeRect(x0 - 0.5, y0 - 0.5, s + 1, s + 1);
    this.drawMarks(ctx);
    this.drawLabels(ctx, fg, muted);
  }

  /** An image of m x m blocks of the view: one block per cell when they fit, else each block
   * the most extreme value of its cells (by absolute value: counts, shares, changes). */
  blocks(p, m) {
    const { r0, c0, n } = this.view;
    const k = this.k;
    const of = p.of;
    const scale = p.scale;
    const lo = scale.lo;
    const span = scale.hi - scale.lo || 1;
    const lut = this.lut(scale);
    const empty = rgbOf(cssVar("--cm-empty", "#eeeeee"));
    const neutral = rgbOf(cssVar("--cm-neutral", "#f5f5f5"));
    const best = new Float64Array(m * m);
    const mag = new Float64Array(m * m).fill(-1); // -1: nothing yet
    const state = new Uint8Array(m * m); // 0 empty, 1 neutral only, 2 a value
    const colBlock = new Int32Array(n);
    for (let j = 0; j < n; j++) colBlock[j] = Math.floor((j * m) / n);
    const errorsOnly = p.errorsOnly;
    for (let i = 0; i < n; i++) {
      const r = r0 + i;
      const rowBase = Math.floor((i * m) / n) * m;
      const base = r * k + c0;
      for (let j = 0; j < n; j++) {
        const v = of[base + j];
        if (v !== v) continue; // NaN: no value
        const b = rowBase + colBlock[j];
        if (errorsOnly && r === c0 + j) {
          if (state[b] === 0) state[b] = 1;
          continue;
        }
        const a = v < 0 ? -v : v;
        if (a > mag[b]) {
          mag[b] = a;
          best[b] = v;
          state[b] = 2;
        }
      }
    }
    const image = new ImageData(m, m);
    const px = image.data;
    for (let b = 0; b < m * m; b++) {
      let c;
      if (state[b] === 2) {
        const x = Math.round(((best[b] - lo) / span) * (LUT_SIZE - 1));
        c = lut[x < 0 ? 0 : x >= LUT_SIZE ? LUT_SIZE - 1 : x];
      } else c = state[b] === 1 ? neutral : empty;
      px[4 * b] = c[0];
      px[4 * b + 1] = c[1];
      px[4 * b + 2] = c[2];
      px[4 * b + 3] = 255;
    }
    const off = this.offscreen && this.offscreen.width === m ? this.offscreen
      : (this.offscreen = Object.assign(document.createElement("canvas"), { width: m, height: m }));
    off.getContext("2d").putImageData(image, 0, 0);
    return off;
  }

  /** The scale's colours at LUT_SIZE evenly spaced values (a block is coloured by look-up). */
  lut(scale) {
    if (this.lutOf === scale) return this.lutCache;
    this.lutOf = scale;
    this.lutCache = Array.from({ length: LUT_SIZE },
      (_, i) => scale(scale.lo + (i / (LUT_SIZE - 1)) * (scale.hi - scale.lo)));
    return this.lutCache;
  }

  printValues(ctx, p) {
    const { r0, c0, n } = this.view;
    const k = this.k;
    const d = this.cell;
    const size = Math.max(9, Math.min(16, Math.floor(d * 0.32)));
    ctx.font = `${size}px ${cssVar("--fs-font", "sans-serif")}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const lut = this.lut(p.scale);
    const span = p.scale.hi - p.scale.lo || 1;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const idx = (r0 + i) * k + c0 + j;
        const v = p.values[idx];
        if (!Number.isFinite(v)) continue;
        const text = p.format(v);
        if (ctx.measureText(text).width > d - 3) continue;
        const g = p.of[idx];
        const neutral = p.errorsOnly && r0 + i === c0 + j;
        const x = Math.round(((g - p.scale.lo) / span) * (LUT_SIZE - 1));
        const rgb = neutral || !Number.isFinite(g) ? null : lut[Math.max(0, Math.min(LUT_SIZE - 1, x))];
        ctx.fillStyle = rgb ? textOn(rgb) : cssVar("--fs-fg", "#212121");
        ctx.globalAlpha = text === "0" ? 0.35 : 1;
        ctx.fillText(text, this.left + (j + 0.5) * d, this.top + (i + 0.5) * d);
      }
    }
    ctx.globalAlpha = 1;
  }

  /** The searched class's row and column, the selected cell, the keyboard cursor. */
  drawMarks(ctx) {
    const { r0, c0, n } = this.view;
    const d = this.cell;
    const at = (row, col) => [this.left + (col - c0) * d, this.top + (row - r0) * d];
    const inside = (row, col) => row >= r0 && row < r0 + n && col >= c0 && col < c0 + n;
    ctx.save();
    ctx.beginPath();
    ctx.rect(this.left, this.top, this.side, this.side);
    ctx.clip();
    const focus = cssVar("--fs-focus", "#1a73e8");
    if (this.found !== null && this.found !== undefined) {
      const c = this.found;
      ctx.fillStyle = focus;
      ctx.globalAlpha = 0.18;
      const w = Math.max(d, 2);
      if (c >= r0 && c < r0 + n) ctx.fillRect(this.left, this.top + (c - r0) * d + (d - w) / 2, this.side, w);
      if (c >= c0 && c < c0 + n) ctx.fillRect(this.left + (c - c0) * d + (d - w) / 2, this.top, w, this.side);
      ctx.globalAlpha = 1;
    }
    // a mark at least 8 px across, so that a cell smaller than a pixel can still be found
    const ring = (row, col, colour, width, dash) => {
      if (!inside(row, col)) return;
      const [x, y] = at(row, col);
      const w = Math.max(d, 8);
      ctx.strokeStyle = colour;
      ctx.lineWidth = width;
      ctx.setLineDash(dash);
      ctx.strokeRect(x + d / 2 - w / 2, y + d / 2 - w / 2, w, w);
      ctx.setLineDash([]);
    };
    if (this.selected) ring(this.selected.t, this.selected.p, "#e65100", 2.5, []);
    if (document.activeElement === this.canvas && this.canvas.classList.contains("cm-keys")) {
      ring(this.cursor.t, this.cursor.p, focus, 2, [3, 2]);
    }
    ctx.restore();
  }

  /** Class names beside the rows and under the columns, every so many so they never
   * overlap; cut to the margin (the tooltip names a class in full). */
  drawLabels(ctx, fg, muted) {
    const { r0, c0, n } = this.view;
    const d = this.cell;
    const size = Math.max(8, Math.min(12, Math.floor(d * 0.8)));
    const stride = Math.max(1, Math.ceil((size * 1.35) / d));
    const font = cssVar("--fs-font", "sans-serif");
    ctx.font = `${size}px ${font}`;
    ctx.fillStyle = fg;
    const room = this.left - 22;
    const roomX = this.bottom - 22;
    const cut = (text, px) => {
      if (ctx.measureText(text).width <= px) return text;
      let lo = 0;
      let hi = text.length;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (ctx.measureText(`${text.slice(0, mid)}…`).width <= px) lo = mid;
        else hi = mid - 1;
      }
      return `${text.slice(0, lo)}…`;
    };
    // start on a multiple of the stride, so that panning does not shuffle which labels show
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let r = Math.ceil(r0 / stride) * stride; r < r0 + n; r += stride) {
      ctx.fillText(cut(this.classes[r], room), this.left - 4, this.top + (r - r0 + 0.5) * d);
    }
    ctx.save();
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let c = Math.ceil(c0 / stride) * stride; c < c0 + n; c += stride) {
      const x = this.left + (c - c0 + 0.5) * d;
      const y = this.top + this.side + 4;
      ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
      ctx.translate(x, y);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(cut(this.classes[c], roomX), 0, 0);
    }
    ctx.restore();
    ctx.font = `11px ${font}`;
    ctx.fillStyle = muted;
    ctx.textAlign = "center";
    ctx.textBaseline = "alphabetic";
    ctx.fillText(t("confusion.axis.predicted"), this.left + this.side / 2, this.height - 4);
    ctx.save();
    ctx.translate(11, this.top + this.side / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(t("confusion.axis.true"), 0, 0);
    ctx.restore();
  }
}
