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

// Counts of the steps kept in memory when a series comes page by page, in cells (8M: a
// few dozen MB; 8 steps of a 1,000-class matrix). The steps nearest the shown one stay.
const PAGED_CELLS = 8_000_000;
// Most confused pairs fetched per step (the panel shows them 10 a page).
export const TOP_PAIRS = 50;

/**
 * Every step of one series (/series): counts decoded to one array per step. When one answer
 * cannot hold them all (/series thins a large series: at K = 1,000 an answer holds 2 steps),
 * the series is `paged`: every step and its accuracies come at once (`counts=none`), and the
 * counts of a step come with its page (`from_step`) when the slider shows it (ensureStep()).
 */
export async function fetchSeries(s) {
  const data = await getJSON("series", { run: s.run, tag: s.tag, encoding: "base64" });
  data.counts = await decodeCounts(data.counts);
  data.max_step = s.max_step;
  if (!data.downsampled) return data;
  const all = await getJSON("series", { run: s.run, tag: s.tag, counts: "none", max_steps: 100_000 });
  const have = new Map(data.steps.map((step, i) => [step, data.counts[i]]));
  Object.assign(data, {
    steps: all.steps, wall_times: all.wall_times, accuracy: all.accuracy,
    pooled_accuracy: all.pooled_accuracy, sequence_accuracy: all.sequence_accuracy,
    total_steps: all.total_steps, downsampled: all.downsampled, steps_sampled: all.steps_sampled,
    counts: all.steps.map((step) => have.get(step) || null),
    paged: true, source: s, loading: new Map(), pageCells: data.positions.length * data.classes.length ** 2,
  });
  return data;
}

/** Index of `step` in the ascending `steps`, or -1. */
function indexOfStep(steps, step) {
  let lo = 0;
  let hi = steps.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (steps[mid] === step) return mid;
    if (steps[mid] < step) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** Whether step index i of `data` has its counts here. */
export function hasStep(data, i) {
  return Boolean(data && data.counts[i]);
}

/**
 * Fetch the page of a paged series that holds step index i, unless its counts are here or
 * on their way; resolves when they are. Keeps at most PAGED_CELLS cells, letting go of the
 * steps farthest from i.
 */
export function ensureStep(data, i) {
  if (!data || i < 0 || i >= data.steps.length || data.counts[i]) return Promise.resolve();
  if (!data.paged) return Promise.resolve();
  for (const [j, pending] of data.loading) if (j <= i && i < j + pending.size) return pending.promise;
  const s = data.source;
  const entry = { size: 1, promise: null };
  entry.promise = getJSON("series", { run: s.run, tag: s.tag, encoding: "base64", from_step: data.steps[i] })
    .then(async (page) => {
      const counts = await decodeCounts(page.counts);
      page.steps.forEach((step, n) => {
        const j = indexOfStep(data.steps, step);
        if (j >= 0) data.counts[j] = counts[n];
      });
      release(data, i);
    })
    .finally(() => data.loading.delete(i));
  // a page holds as many steps as the route's cell limit allows: assume the earlier pages' size
  entry.size = Math.max(1, Math.floor(2_000_000 / Math.max(1, data.pageCells)));
  data.loading.set(i, entry);
  return entry.promise;
}

function release(data, keep) {
  const held = [];
  data.counts.forEach((c, j) => { if (c) held.push(j); });
  let cells = held.length * data.pageCells;
  held.sort((a, b) => Math.abs(b - keep) - Math.abs(a - keep)); // farthest first
  for (const j of held) {
    if (cells <= PAGED_CELLS || Math.abs(j - keep) <= 2) break;
    data.counts[j] = null;
    cells -= data.pageCells;
  }
}

/** Per-class metrics and the most confused pairs at one step (/matrix, without its counts:
 * the page has them, and at K = 1,000 they are two million numbers). */
export function fetchMatrix(s, step) {
  return getJSON("matrix", { run: s.run, tag: s.tag, step, top: TOP_PAIRS, counts: "none" });
}

/** Stored images of one cell (/examples); position null means every position. */
export function fetchExamples(s, step, selection) {
  return getJSON("examples", { run: s.run, tag: s.tag, step, true: selection.true,
    predicted: selection.predicted, position: selection.position === null ? "all" : selection.position,
    limit: 200 });
}

const B64_CHUNK = 1 << 20; // characters decoded between two yields to the page (a multiple of 4)

/** Bytes of a base64 text: by the browser's own decoder where it has one, else in chunks
 * with a yield between them, so that a large answer (a 1,000-class step is a megabyte or
 * more) never holds the page for long. */
async function decodeBase64(text) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
  const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const bytes = new Uint8Array((text.length / 4) * 3 - pad);
  let at = 0;
  for (let start = 0; start < text.length; start += B64_CHUNK) {
    if (start) await new Promise((resolve) => setTimeout(resolve));
    const part = atob(text.slice(start, start + B64_CHUNK));
    for (let i = 0; i < part.length; i++) bytes[at++] = part.charCodeAt(i);
  }
  return bytes;
}

/** /series counts sent as base64 little-endian bytes: one typed array per step. */
export async function decodeCounts(encoded) {
  if (Array.isArray(encoded)) return encoded;
  const Typed = { uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array,
    float64: Float64Array }[encoded.dtype];
  if (!Typed) throw new Error(`unknown counts dtype ${encoded.dtype}`);
  const flat = new Typed((await decodeBase64(encoded.base64)).buffer); // little-endian, as every browser
  const [steps, n] = encoded.shape;
  return Array.from({ length: steps }, (_, i) => flat.subarray(i * n, (i + 1) * n));
}

/** K*K counts of one position (or pooled when p is null) at step index i of a series: a
 * typed array (a view of the series' own counts for one position; read it, never write). */
export function countsOf(data, i, p) {
  const k = data.classes.length;
  const n = k * k;
  const flat = data.counts[i];
  if (p !== null) {
    return flat.subarray ? flat.subarray(p * n, (p + 1) * n) : Float64Array.from(flat.slice(p * n, (p + 1) * n));
  }
  const out = new Float64Array(n);
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
