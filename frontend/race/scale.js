// Small numeric scales (linear, log10 and symlog) with tick generation and formatting.
import { fmtNumber } from "../common/i18n.js";

/** Linear map of [d0, d1] onto [r0, r1]. */
export function linear([d0, d1], [r0, r1]) {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  const f = (v) => r0 + (v - d0) * k;
  f.invert = (p) => (k === 0 ? d0 : d0 + (p - r0) / k);
  f.ticks = (n = 6) => niceTicks(d0, d1, n);
  f.domain = [d0, d1];
  return f;
}

/** Rounded tick values covering [lo, hi]. */
export function niceTicks(lo, hi, n = 6) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

/**
 * A loss axis over `values`: log10 when every finite value is positive, otherwise symlog
 * (sign(v) * log10(1 + |v| / c), linear within +-c) so negative losses (a saddle) still fit.
 * Two axes with the same `key` place every value alike (the loss chart then redraws one line).
 */
export function lossAxis(values, [r0, r1]) {
  let lo = Infinity;
  let hi = -Infinity;
  let absMax = 0;
  let minPos = Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    const a = Math.abs(v);
    if (a > absMax) absMax = a;
    if (v > 0 && v < minPos) minPos = v;
  }
  if (!Number.isFinite(lo)) return { kind: "log", f: linear([0, 1], [r0, r1]), ticks: [], c: null, key: `none ${r0} ${r1}` };
  if (lo >= 0 && hi > 0) {
    // Exact zeros (a float32 loss reaching its minimum) sit one decade below the rest.
    const zeros = lo === 0;
    const t0 = Math.floor(Math.log10(minPos)) - (zeros ? 1 : 0);
    const t1 = Math.max(Math.ceil(Math.log10(hi)), t0 + 1);
    const inner = linear([t0, t1], [r0, r1]);
    const f = (v) => (v > 0 ? inner(Math.max(t0, Math.log10(v))) : v === 0 ? inner(t0) : NaN);
    const every = Math.max(1, Math.ceil((t1 - t0) / 7));
    const ticks = [];
    for (let e = t0 + (zeros ? every : 0); e <= t1; e += every) ticks.push(10 ** e);
    return { kind: "log", f, ticks, c: null, zeros, key: `log ${r0} ${r1} ${t0} ${t1} ${zeros}` };
  }
  const c = 10 ** Math.floor(Math.log10(Math.max(absMax * 1e-3, 1e-12)));
  const t = (v) => Math.sign(v) * Math.log10(1 + Math.abs(v) / c);
  const inner = linear([t(lo), t(hi) > t(lo) ? t(hi) : t(lo) + 1], [r0, r1]);
  const f = (v) => inner(t(v));
  const ticks = [0];
  const top = Math.ceil(Math.log10(absMax / c + 1));
  const every = Math.max(1, Math.ceil(top / 4));
  for (let e = top % every || every; e <= top; e += every) {
    const v = c * 10 ** e;
    if (v <= hi * 1.0001) ticks.push(v);
    if (-v >= lo * 1.0001) ticks.push(-v);
  }
  return { kind: "symlog", f, ticks: ticks.sort((a, b) => a - b), c, key: `symlog ${r0} ${r1} ${lo} ${hi} ${c}` };
}

/** A compact label for a number in the page's locale (scientific for very large or small
 * values; a dash when unknown). */
export function fmt(v, digits = 3) {
  return fmtNumber(v, digits).replace("E", "e"); // 1e-5, as the logs and the CLI write it
}
