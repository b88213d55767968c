// Number and name formatting shared by the Confusion page's panels.
import { el } from "../common/dom.js";

/** A fraction as a percentage ("–" when there is no value). */
export const pct = (v, digits = 1) => (Number.isFinite(v) ? `${(v * 100).toFixed(digits)}%` : "–");

/** Three decimals ("–" when there is no value). */
export const num3 = (v) => (Number.isFinite(v) ? v.toFixed(3) : "–");

// Names can be thousands of characters long: the page shows them cut (CSS ellipsis, or
// short() where CSS cannot), with the full text in a title attribute.
/** `text` cut to `n` characters with an ellipsis. */
export const short = (text, n = 80) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/** A name cut by CSS, in full in its title. */
export const name = (text, cls = "") =>
  el("span", { class: `cm-name ${cls}`.trim(), title: text, text });

/** A count short enough for a heat-map cell (12k rather than 12345). */
export function compactCount(v) {
  if (v >= 1e4) return `${Math.round(v / 1e3)}k`;
  return String(Math.round(v));
}

/** A difference of fractions in percentage points with one decimal, signed. */
export function points(v) {
  return Number.isFinite(v) ? `${v > 0 ? "+" : v < 0 ? "−" : ""}${Math.abs(v * 100).toFixed(1)}` : "–";
}

/** Signed percentage points; "+0"/"−0" for a small difference, "0" only for none. */
export function signedPoints(v) {
  if (v === 0) return "0";
  const r = Math.round(v * 100);
  return `${v > 0 ? "+" : "−"}${Math.abs(r)}`;
}
