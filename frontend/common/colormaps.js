// Colour-blind-safe colour scales and their legends (SVG), shared by the Flowscope pages.
import { el, svg } from "./dom.js";

// 17 evenly spaced samples of matplotlib's colour maps; linear RGB interpolation between.
const STOPS = {
  viridis: ["#440154", "#48186a", "#472d7b", "#424086", "#3b528b", "#33638d", "#2c728e",
    "#26828e", "#21918c", "#1fa088", "#28ae80", "#3fbc73", "#5ec962", "#84d44b", "#addc30",
    "#d8e219", "#fde725"],
  cividis: ["#00224e", "#002e6a", "#1a386f", "#32436d", "#434e6c", "#535a6d", "#61656f",
    "#6f7073", "#7d7c78", "#8c8878", "#9b9476", "#aba072", "#bcae6c", "#cdbb63", "#dec958",
    "#f0d846", "#fee838"],
  // Blue - white - orange: distinguishable with every common colour-vision deficiency.
  blueOrange: ["#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fee0b6", "#fdb863",
    "#e08214", "#b35806"],
  // The same on a dark page: no change is the dark ground, a bigger change is brighter.
  blueOrangeDark: ["#9ecae1", "#6baed6", "#4a8fc4", "#2f5f87", "#3a3a3a", "#7a5530", "#b8742f",
    "#e8963f", "#fdc98f"],
};

const RGB = Object.fromEntries(
  Object.entries(STOPS).map(([name, hexes]) => [
    name,
    hexes.map((h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16))),
  ]),
);

/** Colour of t in [0, 1] on a named colour map, as [r, g, b]. */
export function rgbAt(name, t) {
  const stops = RGB[name];
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  return stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * f));
}

/** CSS colour string of an [r, g, b] triple. */
export function css(rgb) {
  return `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`;
}

/** Text colour (near-black or white) that reads best on a background [r, g, b]. */
export function textOn(rgb) {
  const lin = rgb.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  const luminance = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  return luminance > 0.22 ? "#212121" : "#ffffff";
}

/** A sequential scale over [lo, hi]: value -> [r, g, b]. */
export function sequential(lo, hi, name = "viridis") {
  const span = hi > lo ? hi - lo : 1;
  const scale = (v) => rgbAt(name, (v - lo) / span);
  return Object.assign(scale, { lo, hi, map: name, kind: "sequential" });
}

/** A diverging scale over [-m, m] centred on 0 (white): value -> [r, g, b]. */
export function diverging(m, name = "blueOrange") {
  const half = m > 0 ? m : 1;
  const scale = (v) => rgbAt(name, 0.5 + v / (2 * half));
  return Object.assign(scale, { lo: -half, hi: half, map: name, kind: "diverging" });
}

/** "Nice" tick values covering [lo, hi] (about `count` of them). */
export function ticks(lo, hi, count = 5, resolution = 0) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  // with a `resolution` (the smallest difference the labels show: 0.01 for whole percents,
  // 1 for steps), only steps that are multiples of it, so that a label names its tick's value
  // exactly ("93 %" is never drawn at 92.5 %)
  const exact = (s) => !resolution || Math.abs(s / resolution - Math.round(s / resolution)) < 1e-9;
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw && exact(s))
    || Math.max(raw, resolution);
  const out = [];
  for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9; i++) {
    const v = Number((i * step).toPrecision(12)); // no 0.6000000000000001
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

/**
 * A horizontal legend for a scale: a colour bar with ticks, a title, and optional words
 * under the two ends (e.g. "B higher" / "A higher").
 */
export function legend(scale, { title, format = (v) => String(v), width = 220, ends } = {}) {
  const height = 10;
  const pad = 14;
  const steps = 64;
  const bar = [];
  for (let i = 0; i < steps; i++) {
    const v = scale.lo + ((i + 0.5) / steps) * (scale.hi - scale.lo);
    bar.push(svg("rect", {
      x: pad + (i * width) / steps, y: 0, width: width / steps + 0.5, height,
      fill: css(scale(v)),
    }));
  }
  const marks = ticks(scale.lo, scale.hi, 4).map((v) => {
    const x = pad + ((v - scale.lo) / (scale.hi - scale.lo || 1)) * width;
    return svg("g", { class: "fs-legend-tick" },
      svg("line", { x1: x, x2: x, y1: height, y2: height + 4, stroke: "#9e9e9e" }),
      svg("text", { x, y: height + 15, "text-anchor": "middle", text: format(v) }));
  });
  return el("div", { class: "fs-legend", "data-scale": scale.kind, "data-lo": scale.lo, "data-hi": scale.hi },
    el("div", { class: "fs-legend-title", text: title }),
    svg("svg", { width: width + 2 * pad, height: height + 20, role: "img", "aria-label": title },
      bar,
      svg("rect", { x: pad, y: 0, width, height, fill: "none", stroke: "#bdbdbd" }),
      marks),
    ends
      ? el("div", { class: "fs-legend-ends", style: `width:${width}px` },
        el("span", { text: ends[0], title: ends[0] }), el("span", { text: ends[1], title: ends[1] }))
      : null);
}
