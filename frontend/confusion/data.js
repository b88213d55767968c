// Data access for the Confusion page: the plugin's routes (relative URLs: TensorBoard serves
// plugins under a <base href>), /series decoding, step arithmetic and the live-update poll.
import { getJSON } from "../common/dom.js";

// New steps show within TensorBoard's reload interval (5 s by default) plus this; no polling
// while the page is hidden, and one poll as soon as it is shown again.
export const POLL_MS = 5_000;

/** The key of one (run, tag) series, used as the pickers' option values. */
export const keyOf = (run, tag) => JSON.stringify([run, tag]);

/** "run — tag": how the pickers name a series. */
export const label = (s) => `${s.run} — ${s.tag}`;

/** Every confusion series of the logdir: [{key, run, tag, positions, classes, max_step,
 * examples_tag, error}] (error set when its metadata cannot be read). */
export async function fetchSeriesList() {
  const { runs } = await getJSON("runs");
  return runs.flatMap((r) => r.tags.map((t) => ({ ...t, run: r.run, key: keyOf(r.run, t.tag) })));
}

/** Every step of one series (/series): counts decoded to one array per step. */
export async function fetchSeries(s) {
  const data = await getJSON("series", { run: s.run, tag: s.tag, encoding: "base64" });
  data.counts = decodeCounts(data.counts);
  data.max_step = s.max_step;
  return data;
}

/** Accuracies, per-class metrics and the most confused pairs at one step (/matrix). */
export function fetchMatrix(s, step) {
  return getJSON("matrix", { run: s.run, tag: s.tag, step, top: 10 });
}

/** Stored images of one cell (/examples); position null means every position. */
export function fetchExamples(s, step, selection) {
  return getJSON("examples", { run: s.run, tag: s.tag, step, true: selection.true,
    predicted: selection.predicted, position: selection.position === null ? "all" : selection.position,
    limit: 200 });
}

/** /series counts sent as base64 little-endian bytes: one typed array per step. */
export function decodeCounts(encoded) {
  if (Array.isArray(encoded)) return encoded;
  const Typed = { uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array,
    float64: Float64Array }[encoded.dtype];
  if (!Typed) throw new Error(`unknown counts dtype ${encoded.dtype}`);
  const text = atob(encoded.base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  const flat = new Typed(bytes.buffer); // every browser TensorBoard runs in is little-endian
  const [steps, n] = encoded.shape;
  return Array.from({ length: steps }, (_, i) => flat.subarray(i * n, (i + 1) * n));
}

/** K*K counts of one position (or pooled when p is null) at step index i of a series. */
export function countsOf(data, i, p) {
  const k = data.classes.length;
  const n = k * k;
  const flat = data.counts[i];
  if (p !== null) return Array.from(flat.slice(p * n, (p + 1) * n)); // plain numbers
  const out = new Array(n).fill(0);
  for (let q = 0; q < data.positions.length; q++) {
    for (let j = 0; j < n; j++) out[j] += flat[q * n + j];
  }
  return out;
}

/** Index of the entry of `steps` nearest to `step` (an exact match when there is one). */
export function nearest(steps, step) {
  let best = 0;
  steps.forEach((s, i) => {
    if (Math.abs(s - step) < Math.abs(steps[best] - step)) best = i;
  });
  return best;
}

/**
 * How run B's maps line up with run A's, or null when their classes differ (nothing to
 * compare). Positions are matched by name: `partner(key)` gives, for one of A's map keys
 * ("0".."P-1" or "pooled"), B's position index, null for B's pooled counts, or undefined when
 * B has no such position. `kind` says what is compared: "same" (every position), "shared"
 * (pooled plus the positions both runs have), "pooled" (pooled counts only).
 */
export function pairing(a, b) {
  if (!a || !b || JSON.stringify(a.classes) !== JSON.stringify(b.classes)) return null;
  const same = JSON.stringify(a.positions) === JSON.stringify(b.positions);
  const pooledKey = a.positions.length === 1 ? "0" : "pooled";
  const partner = (key) => {
    if (same) return key === "pooled" ? null : Number(key);
    if (key === pooledKey) return null; // a one-position run's only map is its pooled counts
    const q = b.positions.indexOf(a.positions[Number(key)]);
    if (q < 0) return undefined;
    return b.positions.length === 1 ? null : q;
  };
  const shared = same ? a.positions.length
    : a.positions.filter((name) => b.positions.includes(name)).length;
  const kind = same ? "same" : shared && a.positions.length > 1 ? "shared" : "pooled";
  return { kind, shared, partner };
}

/** Accuracy of position p (null: every position pooled) at step index i of a series. */
export function accuracyOf(data, i, p) {
  return p === null ? data.pooled_accuracy[i] : data.accuracy[i][p];
}

/** Call `poll` every POLL_MS and as soon as the page becomes visible again. */
export function watch(poll) {
  setInterval(poll, POLL_MS);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") poll();
  });
}
