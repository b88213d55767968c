// Number and name formatting shared by the Confusion page's panels. Numbers go through the
// page language's formats (common/i18n.js); a difference never shows as "+0" or "−0".
import { el } from "../common/dom.js";
import { fmtNumber, fmtPercent, t } from "../common/i18n.js";

/** A fraction as a percentage (a dash when there is no value). */
export const pct = (v, digits = 1) => (Number.isFinite(v) ? fmtPercent(v, digits) : t("common.none"));

/** A metric in [0, 1] to three significant digits (a dash when there is no value). */
export const num3 = (v) => (Number.isFinite(v) ? fmtNumber(v, 3) : t("common.none"));

// Names can be thousands of characters long: the page shows them cut (CSS ellipsis, or
// short() where CSS cannot), with the full text in a title attribute.
/** `text` cut to `n` characters with an ellipsis. */
export const short = (text, n = 80) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

/** A name cut by CSS, in full in its title. */
export const name = (text, cls = "") =>
  el("span", { class: `cm-name ${cls}`.trim(), title: text, text });

/** A count short enough for a heat-map cell (12k rather than 12345). */
export function compactCount(v) {
  if (v >= 1e4) return `${fmtNumber(Math.round(v / 1e3))}k`;
  return String(Math.round(v));
}

/**
 * `v` rounded to `digits` decimals and signed; "0" when it rounds to nothing, so that no
 * "+0" or "−0" is ever shown. `scale` turns fractions into points (100).
 */
export function signed(v, digits = 1, scale = 1) {
  if (!Number.isFinite(v)) return t("common.none");
  const f = 10 ** digits;
  const r = Math.round(Math.abs(v) * scale * f) / f;
  if (r === 0) return "0";
  return `${v > 0 ? "+" : "−"}${fmtNumber(r, 6)}`;
}

/** A difference of fractions in percentage points with one decimal, signed. */
export const points = (v) => signed(v, 1, 100);

/** Whole percentage points, signed, for a heat-map cell. */
export const signedPoints = (v) => signed(v, 0, 100);

/** "better" / "worse" / "same" for a change `gain` (positive: B better), after rounding the
 * way it is printed, so that a cell printed "0" is never called better or worse. */
export function verdict(gain, digits = 1, scale = 100) {
  const r = Math.round(Math.abs(gain) * scale * 10 ** digits);
  if (!Number.isFinite(gain) || r === 0) return "same";
  return gain > 0 ? "better" : "worse";
}

/** A signed change shown in its verdict's colour (CSS cm-better / cm-worse). */
export function change(text, v) {
  return el("span", { class: `cm-delta cm-${v}`, text });
}
