// Accuracy over training: one line per position (the shared series colours), pooled and, when the
// writer logged it, whole-sequence accuracy; in compare mode run A and run B. A marker shows
// the step on the slider; hovering reads every line's value at the nearest step.
import { el, svg } from "../common/dom.js";
import { ticks } from "../common/colormaps.js";
import { seriesColour } from "../common/colors.js";
import { fmtNumber, t } from "../common/i18n.js";
import { createTooltip } from "../common/tooltip.js";
import { nearest } from "./data.js";
import { pct } from "./text.js";

/** The theme the page shows now (common/theme.js keeps <html data-theme> in step). */
function theme() {
  return document.documentElement.dataset.theme === "dark" ? "dark" : "light";
}

/** Position i's colour: the shared series palette of the shown theme (each reaches 3:1
 * against the page; the page redraws when the theme changes). */
export function positionColour(i) {
  return seriesColour(i, theme());
}

/** The colour of the pooled line beside `count` positions: the next series colour. */
export function pooledColour(count) {
  return seriesColour(count, theme());
}

/** Run A's and run B's colours in compare mode (Okabe-Ito's blue and reddish purple). */
export function runColour(which) {
  return seriesColour(which === "B" ? 5 : 3, theme());
}

let tooltip = null; // one readout for every chart the page draws

/**
 * @param {object} o
 * @param {number[]} o.steps the steps of the slider (run A)
 * @param {{name:string, values:(number|null)[], colour:string, dash?:string,
 *   steps?:number[]}[]} o.lines a line's own steps default to o.steps (run B has its own)
 * @param {number} o.current index of the marked step
 * @param {(index:number) => void} o.onPick
 */
export function accuracyChart({ steps, lines, current, onPick, width = 314, height = 132 }) {
  const m = { left: 40, right: 8, top: 8, bottom: 22 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const all = lines.flatMap((l) => l.values.filter((v) => Number.isFinite(v)));
  const lo = all.length ? Math.max(0, Math.floor(Math.min(...all) * 10) / 10) : 0;
  const hi = 1;
  const every = lines.flatMap((l) => l.steps || steps);
  const s0 = every.length ? Math.min(...every) : 0;
  const s1 = every.length ? Math.max(...every) : 1;
  const x = (s) => m.left + (s1 > s0 ? ((s - s0) / (s1 - s0)) * w : w / 2);
  const y = (v) => m.top + (1 - (v - lo) / (hi - lo || 1)) * h;

  const grid = ticks(lo, hi, 4, 0.01).map((v) => svg("g", { class: "cm-chart-grid" },
    svg("line", { x1: m.left, x2: m.left + w, y1: y(v), y2: y(v) }),
    svg("text", { x: m.left - 4, y: y(v), "text-anchor": "end", "dominant-baseline": "central",
      text: pct(v, 0) })));
  const whole = s1 > s0 ? ticks(s0, s1, 4, 1) : [s0];
  const xTicks = whole.map((s) =>
    // a label at the right end is drawn leftwards of its tick, so it is never cut off
    svg("text", { x: x(s), y: m.top + h + 14, "text-anchor": x(s) > m.left + w - 16 ? "end" : "middle",
      text: compactStep(s) }));

  const paths = lines.map((line) => {
    const own = line.steps || steps;
    let d = "";
    let pen = false;
    line.values.forEach((v, i) => {
      if (!Number.isFinite(v)) {
        pen = false;
        return;
      }
      d += `${pen ? "L" : "M"}${x(own[i]).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    return svg("path", { class: "cm-chart-line", d, style: `stroke:${line.colour}`,
      "stroke-dasharray": line.dash || null, "data-name": line.name });
  });
  const marker = svg("line", { class: "cm-chart-marker fs-step-cursor", y1: m.top, y2: m.top + h });
  const guide = svg("line", { class: "cm-chart-guide", y1: m.top, y2: m.top + h,
    visibility: "hidden" });
  const placeMarker = (index) => {
    const px = x(steps[index] ?? s0);
    marker.setAttribute("x1", px);
    marker.setAttribute("x2", px);
  };
  placeMarker(current);
  const hit = svg("rect", { x: m.left, y: m.top, width: w, height: h, fill: "transparent",
    class: "cm-chart-hit" });
  const stepAt = (e) => {
    const box = hit.getBoundingClientRect();
    return nearest(steps, s0 + ((e.clientX - box.left) / box.width) * (s1 - s0));
  };
  hit.addEventListener("click", (e) => onPick(stepAt(e)));
  tooltip = tooltip || createTooltip("cm-chart-tip");
  hit.addEventListener("mousemove", (e) => {
    const i = stepAt(e);
    const step = steps[i];
    guide.setAttribute("x1", x(step));
    guide.setAttribute("x2", x(step));
    guide.setAttribute("visibility", "visible");
    tooltip.show(e, el("div", { class: "fs-tooltip-title",
      text: t("confusion.chart.step", { step: fmtNumber(step, 12) }) }),
    lines.map((line) => {
      const own = line.steps || steps;
      const j = line.steps ? nearest(own, step) : i;
      const at = own[j] === step ? "" : t("confusion.chart.atStep", { step: fmtNumber(own[j], 12) });
      return el("div", { class: "cm-chart-readout" },
        el("span", { class: line.dash ? "cm-swatch cm-swatch-dash" : "cm-swatch",
          style: `--swatch:${line.colour}` }),
        `${line.name}: ${pct(line.values[j])}${at}`);
    }));
  });
  hit.addEventListener("mouseleave", () => {
    guide.setAttribute("visibility", "hidden");
    tooltip.hide();
  });
  const chart = svg("svg", { class: "cm-chart", width, height, role: "img",
    "aria-label": t("confusion.chart.label") }, grid, xTicks, paths, marker, guide, hit);
  const key = el("div", { class: "cm-chart-key" }, lines.map((l) =>
    el("span", { class: "cm-key", title: l.name },
      el("span", { class: l.dash ? "cm-swatch cm-swatch-dash" : "cm-swatch",
        style: `--swatch:${l.colour}` }),
      l.name)));
  // one line needs no key (a single classifier's accuracy)
  const box = el("div", { class: "cm-chart-box" }, chart, lines.length > 1 ? key : null);
  return { node: box, placeMarker };
}

export function compactStep(s) {
  if (Math.abs(s) >= 1e6) return `${fmtNumber(s / 1e6, 2)}M`;
  if (Math.abs(s) >= 1e4) return `${fmtNumber(Math.round(s / 1e3), 6)}k`;
  return fmtNumber(Math.round(s), 12);
}
