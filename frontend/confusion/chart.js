// Accuracy over training: one line per position (Okabe-Ito colours), pooled and, when the
// writer logged it, whole-sequence accuracy; a marker shows the step on the slider.
import { el, svg } from "../common/dom.js";
import { ticks } from "../common/colormaps.js";

// Okabe-Ito, without the yellow that is hard to see on white.
export const POSITION_COLOURS = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00",
  "#CC79A7", "#F0E442", "#999999"];

export function positionColour(i) {
  return POSITION_COLOURS[i % POSITION_COLOURS.length];
}

/**
 * @param {object} o
 * @param {number[]} o.steps
 * @param {{name:string, values:(number|null)[], colour:string, dash?:string}[]} o.lines
 * @param {number} o.current index of the marked step
 * @param {(index:number) => void} o.onPick
 */
export function accuracyChart({ steps, lines, current, onPick, width = 314, height = 132 }) {
  const m = { left: 36, right: 8, top: 8, bottom: 22 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const all = lines.flatMap((l) => l.values.filter((v) => Number.isFinite(v)));
  const lo = all.length ? Math.max(0, Math.floor(Math.min(...all) * 10) / 10) : 0;
  const hi = 1;
  const s0 = steps[0] ?? 0;
  const s1 = steps[steps.length - 1] ?? 1;
  const x = (s) => m.left + (s1 > s0 ? ((s - s0) / (s1 - s0)) * w : w / 2);
  const y = (v) => m.top + (1 - (v - lo) / (hi - lo || 1)) * h;

  const grid = ticks(lo, hi, 4).map((v) => svg("g", { class: "cm-chart-grid" },
    svg("line", { x1: m.left, x2: m.left + w, y1: y(v), y2: y(v) }),
    svg("text", { x: m.left - 4, y: y(v), "text-anchor": "end", "dominant-baseline": "central",
      text: `${Math.round(v * 100)}%` })));
  const whole = [...new Set((steps.length > 1 ? ticks(s0, s1, 4) : [s0]).map(Math.round))];
  const xTicks = whole.map((s) =>
    svg("text", { x: x(s), y: m.top + h + 14, "text-anchor": "middle", text: compactStep(s) }));

  const paths = lines.map((line) => {
    let d = "";
    let pen = false;
    line.values.forEach((v, i) => {
      if (!Number.isFinite(v)) {
        pen = false;
        return;
      }
      d += `${pen ? "L" : "M"}${x(steps[i]).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    return svg("path", { class: "cm-chart-line", d, stroke: line.colour,
      "stroke-dasharray": line.dash || null, "data-name": line.name });
  });
  const marker = svg("line", { class: "cm-chart-marker", y1: m.top, y2: m.top + h });
  const placeMarker = (index) => {
    const px = x(steps[index] ?? s0);
    marker.setAttribute("x1", px);
    marker.setAttribute("x2", px);
  };
  placeMarker(current);
  const hit = svg("rect", { x: m.left, y: m.top, width: w, height: h, fill: "transparent",
    class: "cm-chart-hit" });
  hit.addEventListener("click", (e) => {
    const box = hit.getBoundingClientRect();
    const step = s0 + ((e.clientX - box.left) / box.width) * (s1 - s0);
    let best = 0;
    steps.forEach((s, i) => {
      if (Math.abs(s - step) < Math.abs(steps[best] - step)) best = i;
    });
    onPick(best);
  });
  const chart = svg("svg", { class: "cm-chart", width, height, role: "img",
    "aria-label": "accuracy over training" }, grid, xTicks, paths, marker, hit);
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
  if (Math.abs(s) >= 1e6) return `${+(s / 1e6).toFixed(1)}M`;
  if (Math.abs(s) >= 1e4) return `${+(s / 1e3).toFixed(0)}k`;
  return String(Math.round(s));
}
