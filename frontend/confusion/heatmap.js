// One confusion-matrix heat map (SVG): rows = true class, columns = predicted class.
// Cells are created once and recoloured on update, so the step slider stays smooth at 36 x 36.
import { el, svg } from "../common/dom.js";
import { css, textOn } from "../common/colormaps.js";
import { t } from "../common/i18n.js";

const LABEL_MAX = 64; // px: longer class names are cut with an ellipsis (full name on hover)
const LABEL_MAX_LARGE = 160; // px, for the one large map of a single classifier
const AXIS_TITLE = 14;

/** Cell size in px for K classes: big enough to print values at 10 x 10, compact at 36. */
export function cellSize(k) {
  return Math.max(8, Math.min(26, Math.floor(360 / Math.max(1, k))));
}

/** Approximate text width of `text` at `size` px (all Flowscope text is sans-serif). */
export function textWidth(text, size) {
  return String(text).length * size * 0.6;
}

function cut(label, size, max) {
  const chars = Math.floor(max / (size * 0.6));
  return label.length > chars ? `${label.slice(0, chars - 1)}…` : label;
}

/** Every k-th label, k chosen so that labels `need` px apart never overlap. */
function stride(need, cell) {
  return Math.max(1, Math.ceil(need / cell));
}

/** Font sizes (px) to try for in-cell values, largest first: bigger cells get bigger text. */
function valueSizes(cell) {
  const big = Math.max(10, Math.min(20, Math.floor(cell * 0.3)));
  return Array.from({ length: big - 8 }, (_, i) => big - i);
}

/**
 * Geometry of a map of `classes` with `cell` px cells: label size, cut labels, which labels
 * show, margins and the whole size. `large` is the single classifier's map (bigger labels).
 */
export function layout(classes, cell, large = false) {
  const k = classes.length;
  const c = cell;
  // the large map's labels grow with its cells, one label per line as soon as they fit
  const labelSize = large ? Math.max(9, Math.min(13, Math.floor(c / 1.35))) : k <= 12 ? 11 : 9;
  const max = large ? LABEL_MAX_LARGE : LABEL_MAX;
  const labels = classes.map((name) => cut(String(name), labelSize, max));
  const widest = Math.max(0, ...labels.map((l) => textWidth(l, labelSize)));
  const lineNeed = labelSize * 1.35;
  const horizontal = widest + 4 <= c;
  const xStride = horizontal ? 1 : stride(lineNeed, c);
  const yStride = stride(lineNeed, c);
  const left = AXIS_TITLE + Math.min(max, widest) + 6;
  const bottom = (horizontal ? labelSize + 6 : Math.min(max, widest) + 8) + AXIS_TITLE;
  const top = 4;
  const size = k * c;
  return { k, c, labelSize, labels, horizontal, xStride, yStride, left, bottom, top, size,
    width: left + size + 6, height: top + size + bottom };
}

/** The largest cell size in [min, max] px whose whole map fits `width` x `height` px. */
export function fitCell(classes, width, height, { min = 8, max = 112 } = {}) {
  for (let c = max; c > min; c--) {
    const g = layout(classes, c, true);
    if (g.width <= width && g.height <= height) return c;
  }
  return min;
}

export class HeatMap {
  /**
   * @param {object} o
   * @param {string} o.key        "0".."P-1" or "pooled" (data-position of the card)
   * @param {string[]} o.classes  class names
   * @param {number} [o.cell]     cell size in px (default: cellSize(K), for small multiples)
   * @param {boolean} [o.large]   the single classifier's one large map (bigger labels)
   * @param {Node} [o.tools]      controls shown in the card's title row (zoom)
   * @param {(t:number, p:number, e:MouseEvent) => void} o.onHover
   * @param {() => void} o.onLeave
   * @param {(t:number, p:number) => void} o.onClick
   *
   * Keyboard: the map is one tab stop; arrow keys move a cursor cell (Home / End: row ends,
   * PageUp / PageDown: column ends), which shows the same readout as hovering; Enter or
   * Space opens the cell as a click does.
   */
  constructor({ key, classes, cell, large = false, tools = null, onHover, onLeave, onClick }) {
    this.key = key;
    this.k = classes.length;
    const k = this.k;
    const g = layout(classes, cell || cellSize(k), large);
    const { c, labelSize, labels, horizontal, xStride, yStride, left, bottom, top, size } = g;
    this.cell = c;
    this.origin = { left, top };

    const grid = svg("g", { class: "cm-grid", transform: `translate(${left},${top})` });
    this.rects = [];
    for (let t = 0; t < k; t++) {
      for (let p = 0; p < k; p++) {
        const rect = svg("rect", {
          class: t === p ? "cm-cell cm-diag" : "cm-cell",
          x: p * c, y: t * c, width: c, height: c,
          "data-true": t, "data-predicted": p,
        });
        this.rects.push(rect);
        grid.append(rect);
      }
    }
    this.textLayer = svg("g", { class: "cm-values", transform: `translate(${left},${top})` });
    this.texts = null; // created on the first update that prints values
    this.selection = svg("rect", {
      class: "cm-selection", width: c, height: c, visibility: "hidden",
      transform: `translate(${left},${top})`,
    });

    const yLabels = svg("g", { class: "cm-labels cm-labels-y" });
    const xLabels = svg("g", { class: "cm-labels cm-labels-x" });
    for (let i = 0; i < k; i++) {
      // a cut label names its class in full on hover
      const full = () => (labels[i] === String(classes[i]) ? null : svg("title", { text: classes[i] }));
      if (i % yStride === 0) {
        yLabels.append(svg("text", {
          x: left - 4, y: top + i * c + c / 2, "text-anchor": "end",
          "dominant-baseline": "central", "font-size": labelSize, text: labels[i], "data-class": i,
        }, full()));
      }
      if (i % xStride === 0) {
        const x = left + i * c + c / 2;
        const y = top + size + 4;
        xLabels.append(horizontal
          ? svg("text", { x, y: y + labelSize * 0.85, "text-anchor": "middle",
            "font-size": labelSize, text: labels[i], "data-class": i }, full())
          : svg("text", { x, y, "text-anchor": "end", "dominant-baseline": "central",
            "font-size": labelSize, transform: `rotate(-90 ${x} ${y})`, text: labels[i],
            "data-class": i }, full()));
      }
    }
    const xTitle = svg("text", { x: left + size / 2, y: top + size + bottom - 3,
      "text-anchor": "middle", text: t("confusion.axis.predicted") });
    const yTitle = svg("text", { x: 10, y: top + size / 2, "text-anchor": "middle",
      transform: `rotate(-90 10 ${top + size / 2})`, text: t("confusion.axis.true") });
    let axes;
    this.geometry = g;
    this.printFrom = large ? 20 : 16; // px: smallest cell that prints its value
    if (large) {
      // Frozen panes: when the box scrolls, the labels stay at its left and bottom edges
      // (pin()), on a white ground that hides the cells passing under them.
      // the axis titles stay in the middle of the visible part
      this.yTitle = svg("g", { class: "cm-axis-titles" }, yTitle);
      this.xTitle = svg("g", { class: "cm-axis-titles" }, xTitle);
      this.yAxis = svg("g", { class: "cm-axis cm-axis-y" },
        svg("rect", { class: "cm-axis-bg", width: left, height: g.height }), yLabels, this.yTitle);
      this.xAxis = svg("g", { class: "cm-axis cm-axis-x" },
        svg("rect", { class: "cm-axis-bg", y: top + size, width: g.width, height: bottom }),
        xLabels, this.xTitle);
      // the corner hides the row labels of the rows under the pinned column labels
      this.corner = svg("rect", { class: "cm-axis-bg", y: top + size, width: left, height: bottom });
      axes = [this.xAxis, this.yAxis, this.corner];
    } else {
      axes = [yLabels, xLabels, svg("g", { class: "cm-axis-titles" }, xTitle, yTitle)];
    }

    this.cursor = { t: 0, p: 0 };
    this.cursorRect = svg("rect", { class: "cm-cursor", width: c, height: c,
      transform: `translate(${left},${top})`, x: 0, y: 0 });
    this.svg = svg("svg", {
      class: c < 14 ? "cm-heatmap cm-dense" : "cm-heatmap", width: g.width, height: g.height,
      role: "grid", tabindex: 0, "aria-label": t("confusion.keys"), "data-k": k,
    }, grid, this.textLayer, this.selection, this.cursorRect, axes);
    this.svg.addEventListener("keydown", (e) => this.onKey(e, onClick, onLeave));
    // the cursor follows the pointer, so that focusing by a click never scrolls the map away
    // from the clicked cell; only keyboard focus shows the cursor's readout
    this.svg.addEventListener("mousedown", (e) => {
      this.svg.classList.remove("cm-keys"); // the cursor's outline is for keyboard use only
      const cell = this.cellOf(e.target);
      if (cell) this.moveCursor(cell[0], cell[1]);
    });
    this.svg.addEventListener("focus", () => {
      if (this.svg.matches(":focus-visible")) this.showCursor();
    });
    this.svg.addEventListener("blur", () => onLeave());
    this.onHover = onHover;
    this.svg.addEventListener("mousemove", (e) => {
      const cell = this.cellOf(e.target);
      if (cell) onHover(cell[0], cell[1], e);
      else onLeave();
    });
    this.svg.addEventListener("mouseleave", () => onLeave());
    this.svg.addEventListener("click", (e) => {
      const cell = this.cellOf(e.target);
      if (!cell) return;
      this.moveCursor(cell[0], cell[1]);
      onClick(cell[0], cell[1]);
    });

    this.titleText = el("span", { class: "cm-card-name" });
    this.detailText = el("span", { class: "cm-card-detail" });
    // The large map scrolls inside its own box when zoomed past the panel.
    this.plot = el("div", { class: large ? "cm-plot cm-plot-large" : "cm-plot" }, this.svg);
    this.node = el("div", { class: large ? "cm-card cm-card-large" : "cm-card", "data-position": key },
      el("div", { class: "cm-card-title" }, this.titleText, this.detailText, tools), this.plot);
    if (large) this.plot.addEventListener("scroll", () => this.pin(), { passive: true });
  }

  /** Keep the large map's axes at the visible left and bottom edges of its scroll box. */
  pin() {
    if (!this.xAxis) return;
    const box = this.plot;
    this.yAxis.setAttribute("transform", `translate(${box.scrollLeft},0)`);
    const g = this.geometry;
    const dy = Math.min(0, box.scrollTop + box.clientHeight - g.height);
    this.xAxis.setAttribute("transform", `translate(0,${dy})`);
    this.corner.setAttribute("transform", `translate(${box.scrollLeft},${dy})`);
    // centre of the cells in view (between the pinned axes) minus centre of all the cells
    const y = box.clientHeight >= g.height ? 0
      : box.scrollTop + (box.clientHeight - g.bottom) / 2 - (g.top + g.size / 2);
    const x = box.clientWidth >= g.width ? 0
      : box.scrollLeft + (box.clientWidth + g.left) / 2 - (g.left + g.size / 2);
    this.yTitle.setAttribute("transform", `translate(0,${y})`);
    this.xTitle.setAttribute("transform", `translate(${x},0)`);
  }

  /** Arrow keys, Home / End, PageUp / PageDown move the cursor; Enter or Space opens it. */
  onKey(e, onClick, onLeave) {
    const { t: row, p: col } = this.cursor;
    const moved = cursorKey(e.key, this.cursor, this.k);
    if (moved) {
      e.preventDefault(); // the keys move the cursor, not the page
      this.svg.classList.add("cm-keys");
      this.moveCursor(moved.t, moved.p);
      this.showCursor();
    } else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      onClick(row, col);
    } else if (e.key === "Escape") onLeave();
  }

  moveCursor(row, col) {
    this.cursor = { t: row, p: col };
    this.cursorRect.setAttribute("x", col * this.cell);
    this.cursorRect.setAttribute("y", row * this.cell);
  }

  /** The cursor cell's readout (the hover tooltip, beside the cell), scrolled into view. */
  showCursor() {
    const rect = this.rects[this.cursor.t * this.k + this.cursor.p];
    if (this.xAxis) {
      // the large map scrolls in its own box: bring the cell in, clear of the pinned axes
      const box = this.plot;
      const g = this.geometry;
      const x = g.left + this.cursor.p * this.cell;
      const y = g.top + this.cursor.t * this.cell;
      if (x - g.left < box.scrollLeft) box.scrollLeft = x - g.left;
      else if (x + this.cell > box.scrollLeft + box.clientWidth) {
        box.scrollLeft = x + this.cell - box.clientWidth;
      }
      if (y < box.scrollTop) box.scrollTop = y - g.top;
      else if (y + this.cell > box.scrollTop + box.clientHeight - g.bottom) {
        box.scrollTop = y + this.cell - box.clientHeight + g.bottom;
      }
    }
    const r = rect.getBoundingClientRect();
    this.onHover(this.cursor.t, this.cursor.p, { clientX: r.right, clientY: r.bottom });
  }

  cellOf(target) {
    if (!(target instanceof SVGRectElement) || !target.classList.contains("cm-cell")) return null;
    return [Number(target.dataset.true), Number(target.dataset.predicted)];
  }

  setTitle(name, detail) {
    this.titleText.textContent = name;
    this.titleText.title = name; // the card cuts long names with an ellipsis
    this.detailText.textContent = detail || "";
  }

  /**
   * Recolour the cells.
   * @param {ArrayLike<number>} values K*K values (NaN = no value), row-major [true][predicted]
   * @param {(v:number, t:number, p:number) => number[]|null} colour  [r,g,b] or null (neutral)
   * @param {((v:number) => string) | null} format  in-cell text, or null to print nothing
   */
  update(values, colour, format) {
    const k = this.k;
    const c = this.cell;
    let labels = null;
    if (format && c >= this.printFrom) {
      labels = Array.from(values, (v) => (Number.isFinite(v) ? format(v) : ""));
      const chars = Math.max(0, ...labels.map((s) => s.length));
      // The largest font that fits the widest value; no text rather than overlapping text.
      const size = valueSizes(c).find((px) => textWidth("0".repeat(chars), px) <= c - 3);
      if (size) this.textLayer.setAttribute("font-size", size);
      else labels = null;
    }
    // Only cells whose colour or text changed touch the DOM: between two steps most cells of
    // a large matrix keep theirs (100 x 100 zoomed replays at a fraction of the cost).
    this.painted = this.painted || new Array(k * k).fill("");
    const textFill = new Array(k * k);
    for (let i = 0; i < k * k; i++) {
      const v = values[i];
      const rgb = Number.isFinite(v) ? colour(v, Math.floor(i / k), i % k) : null;
      const state = !Number.isFinite(v) ? "empty" : rgb ? css(rgb) : "neutral";
      textFill[i] = rgb ? textOn(rgb) : ""; // "": CSS colours the text by theme
      if (this.painted[i] === state) continue;
      this.painted[i] = state;
      const rect = this.rects[i];
      rect.setAttribute("fill", rgb ? state : "#eeeeee");
      rect.classList.toggle("cm-empty", state === "empty");
      rect.classList.toggle("cm-neutral", state === "neutral"); // CSS colours these by theme
    }
    if (!labels) {
      this.textLayer.replaceChildren();
      this.texts = null;
      return;
    }
    if (!this.texts) {
      this.texts = [];
      this.printed = new Array(k * k).fill(null);
      for (let i = 0; i < k * k; i++) {
        const t = svg("text", {
          class: "cm-value", x: (i % k) * c + c / 2, y: Math.floor(i / k) * c + c / 2,
          "text-anchor": "middle", "dominant-baseline": "central",
        });
        this.texts.push(t);
        this.textLayer.append(t);
      }
    }
    for (let i = 0; i < k * k; i++) {
      const key = `${labels[i]}|${textFill[i]}`;
      if (this.printed[i] === key) continue;
      this.printed[i] = key;
      const t = this.texts[i];
      t.textContent = labels[i];
      if (textFill[i]) t.setAttribute("fill", textFill[i]);
      t.classList.toggle("cm-neutral-text", !textFill[i]);
      t.classList.toggle("cm-zero", labels[i] === "0");
    }
  }

  select(t, p) {
    if (t === null || t === undefined) {
      this.selection.setAttribute("visibility", "hidden");
      return;
    }
    this.selection.setAttribute("x", p * this.cell);
    this.selection.setAttribute("y", t * this.cell);
    this.selection.setAttribute("visibility", "visible");
  }
}

/** Where a cursor key moves the cursor {t, p} of a k x k matrix (arrows by one cell, Home /
 * End to the row's ends, PageUp / PageDown to the column's), kept inside the matrix; null
 * for any other key. Shared by the SVG map and the canvas overview. */
export function cursorKey(key, cursor, k) {
  const last = k - 1;
  let { t: row, p: col } = cursor;
  switch (key) {
    case "ArrowUp": row -= 1; break;
    case "ArrowDown": row += 1; break;
    case "ArrowLeft": col -= 1; break;
    case "ArrowRight": col += 1; break;
    case "Home": col = 0; break;
    case "End": col = last; break;
    case "PageUp": row = 0; break;
    case "PageDown": row = last; break;
    default: return null;
  }
  return { t: Math.max(0, Math.min(last, row)), p: Math.max(0, Math.min(last, col)) };
}
