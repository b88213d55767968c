// Per-position Confusion page (TensorBoard calls render() inside the plugin iframe).
//
// One request per run (`series`) gives every step's counts, so the slider and the play
// button redraw locally; the current step's metrics (`matrix`) and a clicked cell's images
// (`examples`, then `image`) are fetched on demand.
import { el, getJSON, loadStyles, message } from "./static/common/dom.js";
import { diverging, legend, sequential } from "./static/common/colormaps.js";
import { createTooltip } from "./static/common/tooltip.js";
import { HeatMap } from "./static/confusion/heatmap.js";
import { accuracyChart, compactStep, positionColour } from "./static/confusion/chart.js";

const MODES = {
  count: { label: "Count", legend: "count" },
  true: { label: "By true class (recall)", legend: "% of the true class (row)" },
  predicted: { label: "By predicted class (precision)", legend: "% of the predicted class (column)" },
};
const PLAY_MS = 700;
// New steps show within TensorBoard's reload interval (5 s by default) plus this; no polling
// while the page is hidden, and one poll as soon as it is shown again.
const POLL_MS = 5_000;
const MAX_PRINTED_K = 12; // values are printed in cells up to 12 x 12

const state = {
  series: [], // [{key, run, tag, positions, classes, max_step, examples_tag, error}]
  current: null, // key of run A
  compare: "", // key of run B or ""
  mode: "count",
  errorsOnly: false,
  index: 0, // index into A's steps
  data: new Map(), // key -> /series answer
  metrics: null, // /matrix answer for A at the current step
  selection: null, // {position: number|null, true, predicted}
  metricsPosition: "pooled",
  timer: null,
  frame: null, // what the maps show now (see frame())
};
const ui = {};
let tooltip;

const keyOf = (run, tag) => JSON.stringify([run, tag]);
const pct = (v, digits = 1) => (Number.isFinite(v) ? `${(v * 100).toFixed(digits)}%` : "–");
const num3 = (v) => (Number.isFinite(v) ? v.toFixed(3) : "–");
// Names can be thousands of characters long: the page shows them cut (CSS ellipsis, or
// short() where CSS cannot), with the full text in a title attribute.
const short = (text, n = 80) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
const name = (text, cls = "") => el("span", { class: `cm-name ${cls}`.trim(), title: text, text });

export async function render() {
  loadStyles("confusion/style.css");
  tooltip = createTooltip("cm-tooltip");
  buildLayout();
  try {
    await loadRuns();
  } catch (err) {
    message(ui.body, `Could not load runs: ${err.message}`, "error");
    return;
  }
  setInterval(poll, POLL_MS);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") poll();
  });
}

// -- layout ------------------------------------------------------------------------------

function buildLayout() {
  ui.run = el("select", { id: "cm-run", onchange: () => selectRun(ui.run.value) });
  ui.compare = el("select", { id: "cm-compare", onchange: () => selectCompare(ui.compare.value) });
  ui.modes = el("div", { class: "fs-seg", id: "cm-normalize", role: "group",
    "aria-label": "normalisation" },
  Object.entries(MODES).map(([mode, { label }]) =>
    el("button", { type: "button", id: `cm-norm-${mode}`, "data-mode": mode,
      "aria-pressed": String(mode === state.mode), onclick: () => setMode(mode), text: label })));
  ui.errors = el("input", { type: "checkbox", id: "cm-errors",
    onchange: () => { state.errorsOnly = ui.errors.checked; draw(); } });
  ui.play = el("button", { type: "button", id: "cm-play", class: "fs-icon-button",
    "aria-label": "play", title: "Play through training", onclick: togglePlay, text: "▶" });
  ui.step = el("input", { type: "range", id: "cm-step", min: 0, max: 0, value: 0,
    "aria-label": "step", oninput: () => setIndex(Number(ui.step.value)) });
  ui.stepLabel = el("span", { id: "cm-step-label", class: "cm-step-label" });
  ui.info = el("div", { class: "confusion-series", id: "cm-info" });
  ui.unreadable = el("div", { id: "cm-unreadable" });
  ui.maps = el("div", { id: "cm-maps", class: "cm-maps" });
  ui.legends = el("div", { id: "cm-legends", class: "cm-legends" });
  ui.accuracy = el("section", { id: "cm-accuracy", class: "cm-panel" });
  ui.examples = el("section", { id: "cm-examples", class: "cm-panel", hidden: true });
  ui.pairs = el("section", { id: "cm-pairs", class: "cm-panel" });
  ui.classes = el("section", { id: "cm-metrics", class: "cm-panel" });
  ui.main = el("div", { id: "cm-main", class: "cm-layout" },
    el("div", { class: "cm-left" }, ui.legends, ui.maps),
    ui.side = el("aside", { class: "cm-side", id: "cm-side" },
      ui.examples, ui.accuracy, ui.pairs, ui.classes));
  ui.controls = el("div", { id: "cm-controls" },
    el("div", { class: "fs-toolbar", id: "cm-toolbar" },
      el("label", {}, "Run (A)", ui.run),
      el("label", {}, "Compare with (B)", ui.compare),
      ui.modes,
      el("label", { class: "cm-check", title: "Colour only the off-diagonal cells (the errors)" },
        ui.errors, "Colour errors only")),
    el("div", { class: "cm-stepbar" }, ui.play, ui.step, ui.stepLabel));
  ui.body = el("div", { id: "confusion-body" }, ui.controls, ui.unreadable, ui.main);
  const page = el("div", { class: "fs-page", id: "confusion-page" },
    el("div", { class: "cm-header" }, el("h1", { text: "Confusion" }), ui.info), ui.body);
  document.body.append(page);
}

// -- runs ------------------------------------------------------------------------------------

async function loadRuns() {
  const { runs } = await getJSON("runs");
  const series = runs.flatMap((r) => r.tags.map((t) => ({ ...t, run: r.run,
    key: keyOf(r.run, t.tag) })));
  const changed = JSON.stringify(series.map((s) => [s.key, s.error])) !==
    JSON.stringify(state.series.map((s) => [s.key, s.error]));
  state.series = series;
  if (!series.length) {
    ui.controls.hidden = true;
    ui.main.hidden = true;
    message(ui.unreadable, "No confusion matrices in this logdir yet. Log them with " +
      "summaries' confusion summary (one [positions, classes, classes] count tensor per step).");
    return;
  }
  ui.controls.hidden = false;
  ui.main.hidden = false;
  const broken = series.filter((s) => s.error);
  ui.unreadable.replaceChildren(...broken.map((s) => el("div", {
    class: "fs-message fs-error cm-unreadable-item",
    text: `${s.run} / ${s.tag} cannot be read: ${s.error}`,
  })));
  if (changed) fillPickers();
  const readable = series.filter((s) => !s.error);
  if (!readable.length) {
    ui.main.hidden = true;
    return;
  }
  if (!state.current || !readable.some((s) => s.key === state.current)) {
    await selectRun(readable[0].key);
  }
}

function label(s) {
  return `${s.run} — ${s.tag}`;
}

function fillPickers() {
  const readable = state.series.filter((s) => !s.error);
  ui.run.replaceChildren(...readable.map((s) => el("option", { value: s.key,
    selected: s.key === state.current, text: label(s), title: label(s) })));
  const a = find(state.current);
  ui.compare.replaceChildren(el("option", { value: "", text: "none" }),
    ...readable.filter((s) => s.key !== state.current).map((s) => {
      const ok = a && comparable(a, s);
      const text = ok ? label(s) : `${label(s)} (different classes)`;
      return el("option", { value: s.key, disabled: !ok, selected: s.key === state.compare,
        text, title: text });
    }));
  pickerTitles();
}

/** The selects are narrower than long names: their title holds the chosen one in full. */
function pickerTitles() {
  const a = find(state.current);
  const b = find(state.compare);
  ui.run.title = a ? label(a) : "";
  ui.compare.title = b ? label(b) : "";
}

function find(key) {
  return state.series.find((s) => s.key === key) || null;
}

function comparable(a, b) {
  return a.positions.length === b.positions.length &&
    JSON.stringify(a.classes) === JSON.stringify(b.classes);
}

async function fetchSeries(key) {
  const s = find(key);
  const data = await getJSON("series", { run: s.run, tag: s.tag, encoding: "base64" });
  data.counts = decodeCounts(data.counts);
  data.max_step = s.max_step;
  state.data.set(key, data);
  return data;
}

/** /series counts sent as base64 little-endian bytes: one typed array per step. */
function decodeCounts(encoded) {
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

async function selectRun(key) {
  stop();
  state.current = key;
  const a = find(key);
  if (state.compare && !comparable(a, find(state.compare))) state.compare = "";
  fillPickers();
  state.selection = null;
  state.metrics = null;
  ui.examples.hidden = true;
  ui.maps.replaceChildren(el("div", { class: "cm-loading", text: "Loading…" }));
  try {
    const data = await fetchSeries(key);
    if (state.current !== key) return;
    state.index = data.steps.length - 1;
    buildMaps(data);
    configureSlider(data);
    draw();
    loadMetrics();
  } catch (err) {
    message(ui.maps, `Could not load ${label(a)}: ${err.message}`, "error");
  }
}

async function selectCompare(key) {
  state.compare = key;
  if (key && !state.data.has(key)) {
    try {
      await fetchSeries(key);
    } catch (err) {
      state.compare = "";
      ui.compare.value = "";
      message(ui.legends, `Could not load ${key}: ${err.message}`, "error");
      return;
    }
  }
  draw();
}

// -- controls --------------------------------------------------------------------------------

function setMode(mode) {
  state.mode = mode;
  for (const b of ui.modes.children) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
  draw();
}

function configureSlider(data) {
  ui.step.max = String(Math.max(0, data.steps.length - 1));
  ui.step.value = String(state.index);
  ui.step.disabled = data.steps.length < 2;
  ui.play.disabled = data.steps.length < 2;
}

function setIndex(index) {
  const data = state.data.get(state.current);
  if (!data) return;
  state.index = Math.max(0, Math.min(data.steps.length - 1, index));
  ui.step.value = String(state.index);
  draw();
  scheduleMetrics();
}

function togglePlay() {
  if (state.timer) return stop();
  const data = state.data.get(state.current);
  if (!data || data.steps.length < 2) return;
  if (state.index >= data.steps.length - 1) setIndex(0);
  ui.play.textContent = "❚❚";
  ui.play.setAttribute("aria-label", "pause");
  ui.play.classList.add("fs-active");
  state.timer = setInterval(() => {
    if (state.index >= data.steps.length - 1) return stop();
    setIndex(state.index + 1);
  }, PLAY_MS);
}

function stop() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
  ui.play.textContent = "▶";
  ui.play.setAttribute("aria-label", "play");
  ui.play.classList.remove("fs-active");
}

// -- heat maps -------------------------------------------------------------------------------

function buildMaps(data) {
  const keys = [...data.positions.map((_, i) => String(i)), "pooled"];
  ui.heatmaps = keys.map((key) => new HeatMap({
    key,
    classes: data.classes,
    onHover: (t, p, e) => hover(key, t, p, e),
    onLeave: () => tooltip.hide(),
    onClick: (t, p) => pick(key === "pooled" ? null : Number(key), t, p),
  }));
  ui.maps.replaceChildren(...ui.heatmaps.map((h) => h.node));
  ui.maps.dataset.k = String(data.classes.length);
}

/** K*K counts of one position (or pooled when p is null) at step index i of a series. */
function countsOf(data, i, p) {
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

/** Normalised K*K values (NaN where a row/column has no sample); "share" = count / total. */
function normalise(counts, k, mode) {
  if (mode === "count") return counts.map(Number);
  const out = new Array(k * k).fill(NaN);
  if (mode === "share") {
    const total = counts.reduce((a, b) => a + b, 0);
    return counts.map((c) => (total > 0 ? c / total : NaN));
  }
  for (let a = 0; a < k; a++) {
    let sum = 0;
    for (let b = 0; b < k; b++) sum += mode === "true" ? counts[a * k + b] : counts[b * k + a];
    for (let b = 0; b < k; b++) {
      const i = mode === "true" ? a * k + b : b * k + a;
      if (sum > 0) out[i] = counts[i] / sum;
    }
  }
  return out;
}

/** Index of the step of `data` nearest to `step` (an exact match when there is one). */
function nearest(data, step) {
  let best = 0;
  data.steps.forEach((s, i) => {
    if (Math.abs(s - step) < Math.abs(data.steps[best] - step)) best = i;
  });
  return best;
}

function compareState() {
  if (!state.compare) return null;
  const b = state.data.get(state.compare);
  const a = state.data.get(state.current);
  if (!a || !b) return null;
  const step = a.steps[state.index];
  return { data: b, index: nearest(b, step), series: find(state.compare) };
}

/** Everything the maps show at the current step: per key {counts, values, (b values)}. */
function frame() {
  const data = state.data.get(state.current);
  const k = data.classes.length;
  const cmp = compareState();
  const mode = cmp && state.mode === "count" ? "share" : state.mode;
  const maps = ui.heatmaps.map((h) => {
    const p = h.key === "pooled" ? null : Number(h.key);
    const counts = countsOf(data, state.index, p);
    const values = normalise(counts, k, mode);
    const entry = { key: h.key, p, counts, values, shown: values };
    if (cmp) {
      entry.bCounts = countsOf(cmp.data, cmp.index, p);
      entry.bValues = normalise(entry.bCounts, k, mode);
      entry.shown = values.map((v, i) => v - entry.bValues[i]);
    }
    return entry;
  });
  return { data, k, cmp, mode, maps };
}

function draw() {
  const data = state.data.get(state.current);
  if (!data || !ui.heatmaps) return;
  const f = (state.frame = frame());
  const { k, cmp, mode } = f;
  const offDiag = (i) => Math.floor(i / k) !== i % k;
  const values = (m) => m.shown.filter((v, i) => Number.isFinite(v) &&
    (!state.errorsOnly || offDiag(i)));
  const legends = [];
  const scales = new Map();
  const errorsNote = state.errorsOnly ? ", off-diagonal cells" : "";
  if (cmp) {
    const m = Math.max(1e-9, ...f.maps.flatMap((x) => values(x).map(Math.abs)));
    const scale = diverging(m);
    f.maps.forEach((x) => scales.set(x.key, scale));
    const what = mode === "share" ? "share of samples" : MODES[mode].legend;
    legends.push(legend(scale, {
      title: `difference A − B (${what}, percentage points${errorsNote})`,
      format: (v) => `${v > 0 ? "+" : ""}${+(v * 100).toFixed(1)}`,
      ends: [`◀ B higher (${cmp.series.run})`, `A higher (${find(state.current).run}) ▶`],
      width: 320,
    }));
  } else if (mode === "count") {
    const perPosition = f.maps.filter((x) => x.p !== null);
    const pooled = f.maps.find((x) => x.p === null);
    const hiP = Math.max(1, ...perPosition.flatMap(values));
    const hiAll = Math.max(1, ...values(pooled));
    const sp = sequential(0, hiP);
    const sa = sequential(0, hiAll);
    perPosition.forEach((x) => scales.set(x.key, sp));
    scales.set("pooled", sa);
    legends.push(legend(sp, { title: `count per position${errorsNote}`, format: compactStep }));
    legends.push(legend(sa, { title: `count, all positions pooled${errorsNote}`,
      format: compactStep }));
  } else {
    const hi = state.errorsOnly
      ? Math.max(1e-9, ...f.maps.flatMap(values))
      : 1;
    const scale = sequential(0, hi);
    f.maps.forEach((x) => scales.set(x.key, scale));
    legends.push(legend(scale, { title: `${MODES[mode].legend}${errorsNote}`,
      format: (v) => `${+(v * 100).toFixed(1)}%` }));
  }
  ui.legends.replaceChildren(...legends);

  const printable = k <= MAX_PRINTED_K;
  const format = !printable ? null
    : cmp ? (v) => signedPoints(v)
    : mode === "count" ? (v) => compactCount(v)
    : (v) => String(Math.round(v * 100));
  const accA = data.accuracy[state.index];
  f.maps.forEach((x, n) => {
    const h = ui.heatmaps[n];
    const scale = scales.get(x.key);
    h.update(x.shown, (v, t, p) => (state.errorsOnly && t === p ? null : scale(v)), format);
    const title = x.p === null ? "All positions pooled" : data.positions[x.p];
    const acc = x.p === null ? data.pooled_accuracy[state.index] : accA[x.p];
    let detail = `accuracy ${pct(acc)}`;
    if (cmp) {
      const accB = x.p === null ? cmp.data.pooled_accuracy[cmp.index] : cmp.data.accuracy[cmp.index][x.p];
      detail += ` · B ${pct(accB)}`;
    }
    h.setTitle(title, detail);
    const sel = state.selection;
    const selected = sel && (sel.position === x.p);
    h.select(selected ? sel.true : null, selected ? sel.predicted : null);
  });
  ui.heatmaps.forEach((h) => h.node.classList.toggle("cm-compare", Boolean(cmp)));

  const total = data.total_steps;
  const shownSteps = data.steps.length;
  let text = `step ${data.steps[state.index]} (${state.index + 1} of ${shownSteps}` +
    (data.downsampled ? `, thinned from ${total}` : "") + ")";
  if (cmp) text += ` · B at step ${cmp.data.steps[cmp.index]}`;
  ui.stepLabel.textContent = text;
  const s = find(state.current);
  ui.info.replaceChildren(name(`${s.run} / ${s.tag}`, "cm-info-name"),
    `: ${data.positions.length} positions x ${k} classes, ${total} step${total === 1 ? "" : "s"}`);
  pickerTitles();
  drawAccuracy(f);
  if (ui.chart) ui.chart.placeMarker(state.index);
}

function compactCount(v) {
  if (v >= 1e4) return `${Math.round(v / 1e3)}k`;
  return String(Math.round(v));
}

function points(v) {
  return Number.isFinite(v) ? `${v > 0 ? "+" : v < 0 ? "−" : ""}${Math.abs(v * 100).toFixed(1)}` : "–";
}

/** Signed percentage points; "+0"/"−0" for a small difference, "0" only for none. */
function signedPoints(v) {
  if (v === 0) return "0";
  const r = Math.round(v * 100);
  return `${v > 0 ? "+" : "−"}${Math.abs(r)}`;
}

// -- tooltip and selection -------------------------------------------------------------------

function hover(key, t, p, e) {
  const data = state.data.get(state.current);
  const f = state.frame;
  const m = f && f.maps.find((x) => x.key === key);
  if (!m) return;
  const k = f.k;
  const i = t * k + p;
  const rowTotal = m.counts.slice(t * k, t * k + k).reduce((a, b) => a + b, 0);
  let colTotal = 0;
  for (let q = 0; q < k; q++) colTotal += m.counts[q * k + p];
  const where = m.p === null ? "All positions pooled" : data.positions[m.p];
  const ct = short(data.classes[t], 40);
  const cp = short(data.classes[p], 40);
  const lines = [
    el("div", { class: "fs-tooltip-title", text: short(where) }),
    el("div", { text: `true ${ct} → predicted ${cp}` }),
    el("div", { class: "cm-tip-count",
      text: `count ${m.counts[i]}${f.cmp ? ` (B ${m.bCounts[i]})` : ""}` }),
    el("div", { text: `${pct(rowTotal ? m.counts[i] / rowTotal : NaN)} of true ${ct} (${rowTotal})` }),
    el("div", { text: `${pct(colTotal ? m.counts[i] / colTotal : NaN)} of predicted ${cp} (${colTotal})` }),
  ];
  if (f.cmp) {
    lines.push(el("div", { class: "cm-tip-diff",
      text: `A ${pct(m.values[i])} · B ${pct(m.bValues[i])} · A − B ${points(m.shown[i])} points` }));
  }
  if (t !== p && m.counts[i] > 0) lines.push(el("div", { class: "fs-muted", text: "click for the images" }));
  tooltip.show(e, lines);
}

function pick(position, t, p) {
  state.selection = { position, true: t, predicted: p };
  draw();
  loadExamples();
}

// -- accuracy panel --------------------------------------------------------------------------

function drawAccuracy(f) {
  const { data, cmp } = f;
  const i = state.index;
  const seq = data.sequence_accuracy;
  const head = ["position", "accuracy", ...(cmp ? ["B", "A − B"] : [])];
  const rows = data.positions.map((name, p) => {
    const a = data.accuracy[i][p];
    const b = cmp ? cmp.data.accuracy[cmp.index][p] : null;
    return accRow(String(p), name, positionColour(p), a, b, cmp);
  });
  rows.push(accRow("pooled", "all positions pooled", "#757575", data.pooled_accuracy[i],
    cmp ? cmp.data.pooled_accuracy[cmp.index] : null, cmp, "dash"));
  let seqNote;
  if (seq) {
    const b = cmp && cmp.data.sequence_accuracy ? cmp.data.sequence_accuracy.values[cmp.index] : null;
    rows.push(accRow("sequence", "whole sequence", "#212121", seq.values[i], b, cmp, "dash"));
    seqNote = `Whole-sequence accuracy is the logged scalar “${seq.tag}”.`;
  } else {
    seqNote = "Whole-sequence accuracy is not logged for this run (it cannot be derived " +
      "from per-position matrices).";
  }
  const table = el("table", { class: "fs-table cm-acc-table", id: "cm-acc-table" },
    el("thead", {}, el("tr", {}, head.map((h) => el("th", { text: h })))),
    el("tbody", {}, rows));
  const lines = data.positions.map((name, p) => ({ name, colour: positionColour(p),
    values: data.accuracy.map((r) => r[p]) }));
  lines.push({ name: "pooled", colour: "#757575", dash: "4 3", values: data.pooled_accuracy });
  if (seq) lines.push({ name: "whole sequence", colour: "#212121", dash: "1 2", values: seq.values });
  ui.chart = data.steps.length > 1
    ? accuracyChart({ steps: data.steps, lines, current: i, onPick: (n) => setIndex(n) })
    : null;
  ui.accuracy.replaceChildren(
    el("h2", { text: `Accuracy at step ${data.steps[i]}` }), table,
    el("p", { class: "cm-note", id: "cm-sequence-note", text: seqNote }),
    ui.chart ? ui.chart.node : "");
}

function accRow(key, what, colour, a, b, cmp, dash) {
  const cells = [
    el("td", {}, el("span", { class: dash ? "cm-swatch cm-swatch-dash" : "cm-swatch",
      style: `--swatch:${colour}` }), name(what)),
    el("td", { class: "cm-acc-value", text: pct(a) }),
  ];
  if (cmp) {
    const d = Number.isFinite(a) && Number.isFinite(b) ? a - b : NaN;
    cells.push(el("td", { text: pct(b) }),
      el("td", { class: d > 0 ? "cm-a-higher" : d < 0 ? "cm-b-higher" : "",
        text: Number.isFinite(d) ? `${d > 0 ? "+" : ""}${(d * 100).toFixed(1)}` : "–" }));
  }
  return el("tr", { class: "cm-acc-row", "data-position": key }, cells);
}

// -- metrics (per-class table, confused pairs) -----------------------------------------------

let metricsTimer = null;
let metricsToken = 0;

function scheduleMetrics() {
  clearTimeout(metricsTimer);
  metricsTimer = setTimeout(() => {
    loadMetrics();
    if (state.selection) loadExamples();
  }, state.timer ? 50 : 150);
}

async function loadMetrics() {
  const s = find(state.current);
  const data = state.data.get(state.current);
  if (!s || !data) return;
  const token = ++metricsToken;
  const step = data.steps[state.index];
  try {
    const m = await getJSON("matrix", { run: s.run, tag: s.tag, step, top: 10 });
    if (token !== metricsToken) return;
    state.metrics = m;
    drawPairs(m);
    drawClassTable(m);
  } catch (err) {
    if (token !== metricsToken) return;
    message(ui.pairs, `Could not load metrics: ${err.message}`, "error");
    ui.classes.replaceChildren();
  }
}

function drawPairs(m) {
  const rows = m.confused_pairs.map((q) => el("tr", {
    class: "cm-pair", tabindex: 0, title: "show the images",
    "data-position": q.position, "data-true": q.true, "data-predicted": q.predicted,
    onclick: () => pick(q.position, q.true, q.predicted),
    onkeydown: (e) => { if (e.key === "Enter") pick(q.position, q.true, q.predicted); },
  },
  el("td", {}, el("span", { class: "cm-swatch", style: `--swatch:${positionColour(q.position)}` }),
    name(m.positions[q.position], "cm-name-short")),
  el("td", { class: "cm-pair-classes" }, name(m.classes[q.true], "cm-name-class"), " → ",
    name(m.classes[q.predicted], "cm-name-class")),
  el("td", { text: String(q.count) }),
  el("td", { text: pct(q.rate) })));
  ui.pairs.replaceChildren(
    el("h2", { text: `Most confused at step ${m.step}` }),
    rows.length
      ? el("table", { class: "fs-table cm-pairs-table", id: "cm-pairs-table" },
        el("thead", {}, el("tr", {}, ["position", "true → predicted", "count", "of true"].map(
          (h) => el("th", { text: h })))),
        el("tbody", {}, rows))
      : el("p", { class: "cm-note", text: "No confusions at this step." }));
}

function drawClassTable(m) {
  const options = [["pooled", "all positions pooled"],
    ...m.positions.map((name, p) => [String(p), name])];
  if (!options.some(([v]) => v === state.metricsPosition)) state.metricsPosition = "pooled";
  const select = el("select", { id: "cm-metrics-position",
    onchange: () => { state.metricsPosition = select.value; drawClassTable(state.metrics); } },
  options.map(([value, text]) => el("option", { value, text, title: text,
    selected: value === state.metricsPosition })));
  select.title = options.find(([v]) => v === state.metricsPosition)[1];
  const cm = state.metricsPosition === "pooled"
    ? m.class_metrics.pooled
    : m.class_metrics.positions[Number(state.metricsPosition)];
  const rows = m.classes.map((cls, c) => el("tr", { class: "cm-class-row", "data-class": c },
    el("td", {}, name(cls, "cm-name-short")),
    el("td", { text: num3(cm.precision[c]) }),
    el("td", { text: num3(cm.recall[c]) }),
    el("td", { text: num3(cm.f1[c]) }),
    el("td", { text: String(cm.support[c]) })));
  const macro = el("tr", { class: "cm-macro" },
    el("td", { text: "macro mean" }),
    el("td", { text: num3(cm.macro.precision) }),
    el("td", { text: num3(cm.macro.recall) }),
    el("td", { text: num3(cm.macro.f1) }),
    el("td", { text: String(cm.support.reduce((a, b) => a + b, 0)) }));
  ui.classes.replaceChildren(
    el("div", { class: "cm-panel-head" }, el("h2", { text: "Per-class metrics" }), select),
    el("div", { class: "cm-scroll" },
      el("table", { class: "fs-table cm-class-table", id: "cm-class-table" },
        el("thead", {}, el("tr", {}, ["class", "precision", "recall", "F1", "support"].map(
          (h) => el("th", { text: h })))),
        el("tbody", {}, rows, macro))));
}

// -- examples --------------------------------------------------------------------------------

let examplesToken = 0;

async function loadExamples() {
  const sel = state.selection;
  const s = find(state.current);
  const data = state.data.get(state.current);
  if (!sel || !s || !data) return;
  const where = sel.position === null ? "All positions pooled" : data.positions[sel.position];
  const title = `${where}: true ${data.classes[sel.true]} → predicted ${data.classes[sel.predicted]}`;
  const close = el("button", { type: "button", class: "fs-icon-button", id: "cm-examples-close",
    "aria-label": "close", text: "✕",
    onclick: () => { state.selection = null; ui.examples.hidden = true; draw(); } });
  const head = el("div", { class: "cm-panel-head" },
    el("h2", { id: "cm-examples-title", text: title, title }), close);
  ui.examples.hidden = false;
  ui.side.scrollTop = 0;
  if (sel.true === sel.predicted) {
    ui.examples.replaceChildren(head, el("p", { class: "cm-note", id: "cm-examples-note",
      text: "Correct predictions: only misclassified images are stored." }));
    return;
  }
  const token = ++examplesToken;
  const step = data.steps[state.index];
  const params = { run: s.run, tag: s.tag, step, true: sel.true, predicted: sel.predicted,
    position: sel.position === null ? "all" : sel.position, limit: 200 };
  let ex;
  try {
    ex = await getJSON("examples", params);
  } catch (err) {
    if (token === examplesToken) message(ui.examples, `Could not load images: ${err.message}`, "error");
    return;
  }
  if (token !== examplesToken) return;
  let note;
  if (!ex.examples_tag) note = "This run logs no example images.";
  else if (ex.step === null) note = "No example images have been logged yet.";
  else {
    const at = ex.exact ? `step ${ex.step}`
      : `step ${ex.step} (nearest step with images; none at step ${ex.requested_step})`;
    const count = ex.count === null ? "" : `${ex.count} misclassified, `;
    note = `${at} · ${count}${ex.stored} image${ex.stored === 1 ? "" : "s"} stored` +
      (ex.cap_per_cell ? ` (at most ${ex.cap_per_cell} per position and cell)` : "");
  }
  const grid = el("div", { class: "cm-example-grid", id: "cm-example-grid" },
    ex.images.map((img) => el("figure", { class: "cm-example", "data-index": img.index },
      el("img", { src: img.url, loading: "lazy",
        alt: `true ${data.classes[sel.true]}, predicted ${data.classes[sel.predicted]}`,
        onload: (e) => e.target.classList.toggle("cm-pixelated", e.target.naturalWidth < 64) }),
      sel.position === null ? el("figcaption", { text: data.positions[img.position],
        title: data.positions[img.position] }) : null)));
  ui.examples.replaceChildren(head,
    el("p", { class: ex.exact ? "cm-note" : "cm-note cm-nearest", id: "cm-examples-note", text: note }),
    ex.images.length ? grid : el("p", { class: "cm-note", text: "No stored images for this cell." }));
}

// -- live updates ----------------------------------------------------------------------------

let polling = false;

async function poll() {
  if (document.visibilityState === "hidden" || polling) return;
  polling = true; // a slow answer never piles up polls
  try {
    const before = find(state.current);
    const wasAtEnd = state.data.get(state.current) &&
      state.index === state.data.get(state.current).steps.length - 1;
    await loadRuns();
    const now = find(state.current);
    if (!before || !now || now.max_step === before.max_step) return;
    const data = await fetchSeries(state.current);
    if (state.compare) await fetchSeries(state.compare).catch(() => null);
    if (wasAtEnd && !state.timer) state.index = data.steps.length - 1;
    state.index = Math.min(state.index, data.steps.length - 1);
    configureSlider(data);
    draw();
    scheduleMetrics();
  } catch {
    // keep showing what we have; the next poll tries again
  } finally {
    polling = false;
  }
}
