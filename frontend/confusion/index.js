// Per-position Confusion page (TensorBoard calls render() inside the plugin iframe).
//
// One request per run (`series`) gives every step's counts, so the slider and the play
// button redraw locally; the current step's metrics (`matrix`) and a clicked cell's images
// (`examples`, then `image`) are fetched on demand. Modules: data.js (routes, decoding,
// polling), steps.js (slider and play), normalise.js (count / true / predicted / share),
// maps.js (heat maps, legends, tooltip), panels.js (accuracy, pairs, class table, examples).
import { el, loadStyles, message } from "./static/common/dom.js";
import {
  comparable, fetchExamples, fetchMatrix, fetchSeries, fetchSeriesList, label, nearest, watch,
} from "./static/confusion/data.js";
import { HeatMaps, MODES, frameAt } from "./static/confusion/maps.js";
import { AccuracyPanel, ClassTable, ExamplesPanel, PairsPanel } from "./static/confusion/panels.js";
import { StepControl } from "./static/confusion/steps.js";
import { name } from "./static/confusion/text.js";

export async function render() {
  loadStyles("confusion/style.css");
  const app = new ConfusionPage();
  document.body.append(app.root);
  window.flowscopeConfusion = app; // handy from the devtools console and for tests
  await app.start();
}

/** The page: what is selected (runs, mode, step, cell) and the views that show it. */
class ConfusionPage {
  constructor() {
    this.series = []; // [{key, run, tag, positions, classes, max_step, examples_tag, error}]
    this.current = null; // key of run A
    this.compare = ""; // key of run B or ""
    this.mode = "count";
    this.errorsOnly = false;
    this.data = new Map(); // key -> /series answer
    this.metrics = null; // /matrix answer for A at the current step
    this.selection = null; // {position: number|null, true, predicted}
    this.frame = null; // what the maps show now (see maps.js frameAt())
    this.metricsTimer = null;
    this.metricsToken = 0;
    this.polling = false;

    this.steps = new StepControl(() => {
      this.draw();
      this.scheduleMetrics();
    });
    this.maps = new HeatMaps((position, t, p) => this.pick(position, t, p));
    this.accuracy = new AccuracyPanel((index) => this.steps.set(index));
    this.pairs = new PairsPanel((position, t, p) => this.pick(position, t, p));
    this.classes = new ClassTable();
    this.examples = new ExamplesPanel(() => {
      this.selection = null;
      this.examples.hide();
      this.draw();
    });
    this.buildLayout();
  }

  buildLayout() {
    this.runPicker = el("select", { id: "cm-run", onchange: () => this.selectRun(this.runPicker.value) });
    this.comparePicker = el("select", { id: "cm-compare",
      onchange: () => this.selectCompare(this.comparePicker.value) });
    this.modes = el("div", { class: "fs-seg", id: "cm-normalize", role: "group",
      "aria-label": "normalisation" },
    Object.entries(MODES).map(([mode, { label: text }]) =>
      el("button", { type: "button", id: `cm-norm-${mode}`, "data-mode": mode,
        "aria-pressed": String(mode === this.mode), onclick: () => this.setMode(mode), text })));
    this.errors = el("input", { type: "checkbox", id: "cm-errors",
      onchange: () => { this.errorsOnly = this.errors.checked; this.draw(); } });
    this.info = el("div", { class: "confusion-series", id: "cm-info" });
    this.unreadable = el("div", { id: "cm-unreadable" });
    this.side = el("aside", { class: "cm-side", id: "cm-side" },
      this.examples.node, this.accuracy.node, this.pairs.node, this.classes.node);
    this.main = el("div", { id: "cm-main", class: "cm-layout" },
      el("div", { class: "cm-left" }, this.maps.legends, this.maps.maps), this.side);
    this.controls = el("div", { id: "cm-controls" },
      el("div", { class: "fs-toolbar", id: "cm-toolbar" },
        el("label", {}, "Run (A)", this.runPicker),
        el("label", {}, "Compare with (B)", this.comparePicker),
        this.modes,
        el("label", { class: "cm-check", title: "Colour only the off-diagonal cells (the errors)" },
          this.errors, "Colour errors only")),
      this.steps.node);
    this.body = el("div", { id: "confusion-body" }, this.controls, this.unreadable, this.main);
    this.root = el("div", { class: "fs-page", id: "confusion-page" },
      el("div", { class: "cm-header" }, el("h1", { text: "Confusion" }), this.info), this.body);
  }

  async start() {
    try {
      await this.loadRuns();
    } catch (err) {
      message(this.body, `Could not load runs: ${err.message}`, "error");
      return;
    }
    watch(() => this.poll());
  }

  // -- runs ----------------------------------------------------------------------------

  find(key) {
    return this.series.find((s) => s.key === key) || null;
  }

  async loadRuns() {
    const series = await fetchSeriesList();
    const shape = (list) => JSON.stringify(list.map((s) => [s.key, s.error]));
    const changed = shape(series) !== shape(this.series);
    this.series = series;
    if (!series.length) {
      this.controls.hidden = true;
      this.main.hidden = true;
      message(this.unreadable, "No confusion matrices in this logdir yet. Log them with " +
        "summaries' confusion summary (one [positions, classes, classes] count tensor per step).");
      return;
    }
    this.controls.hidden = false;
    this.main.hidden = false;
    this.unreadable.replaceChildren(...series.filter((s) => s.error).map((s) => el("div", {
      class: "fs-message fs-error cm-unreadable-item",
      text: `${s.run} / ${s.tag} cannot be read: ${s.error}`,
    })));
    if (changed) this.fillPickers();
    const readable = series.filter((s) => !s.error);
    if (!readable.length) {
      this.main.hidden = true;
      return;
    }
    if (!this.current || !readable.some((s) => s.key === this.current)) {
      await this.selectRun(readable[0].key);
    }
  }

  fillPickers() {
    const readable = this.series.filter((s) => !s.error);
    this.runPicker.replaceChildren(...readable.map((s) => el("option", { value: s.key,
      selected: s.key === this.current, text: label(s), title: label(s) })));
    const a = this.find(this.current);
    this.comparePicker.replaceChildren(el("option", { value: "", text: "none" }),
      ...readable.filter((s) => s.key !== this.current).map((s) => {
        const ok = a && comparable(a, s);
        const text = ok ? label(s) : `${label(s)} (different classes)`;
        return el("option", { value: s.key, disabled: !ok, selected: s.key === this.compare,
          text, title: text });
      }));
    this.pickerTitles();
  }

  /** The selects are narrower than long names: their title holds the chosen one in full. */
  pickerTitles() {
    const a = this.find(this.current);
    const b = this.find(this.compare);
    this.runPicker.title = a ? label(a) : "";
    this.comparePicker.title = b ? label(b) : "";
  }

  async load(key) {
    const data = await fetchSeries(this.find(key));
    this.data.set(key, data);
    return data;
  }

  async selectRun(key) {
    this.steps.stop();
    this.current = key;
    const a = this.find(key);
    if (this.compare && !comparable(a, this.find(this.compare))) this.compare = "";
    this.fillPickers();
    this.selection = null;
    this.metrics = null;
    this.examples.hide();
    this.maps.loading();
    try {
      const data = await this.load(key);
      if (this.current !== key) return;
      this.maps.build(data);
      this.steps.configure(data.steps.length, data.steps.length - 1);
      this.draw();
      this.loadMetrics();
    } catch (err) {
      message(this.maps.maps, `Could not load ${label(a)}: ${err.message}`, "error");
    }
  }

  async selectCompare(key) {
    this.compare = key;
    if (key && !this.data.has(key)) {
      try {
        await this.load(key);
      } catch (err) {
        this.compare = "";
        this.comparePicker.value = "";
        message(this.maps.legends, `Could not load ${key}: ${err.message}`, "error");
        return;
      }
    }
    this.draw();
  }

  setMode(mode) {
    this.mode = mode;
    for (const b of this.modes.children) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
    this.draw();
  }

  // -- drawing ---------------------------------------------------------------------------

  /** Run B at the step nearest A's shown step, or null when not comparing. */
  compareState() {
    if (!this.compare) return null;
    const b = this.data.get(this.compare);
    const a = this.data.get(this.current);
    if (!a || !b) return null;
    return { data: b, index: nearest(b, a.steps[this.steps.index]), series: this.find(this.compare) };
  }

  draw() {
    const data = this.data.get(this.current);
    if (!data || !this.maps.heatmaps) return;
    const cmp = this.compareState();
    const f = (this.frame = frameAt(data, this.steps.index, cmp, this.mode));
    const s = this.find(this.current);
    this.maps.draw(f, { errorsOnly: this.errorsOnly, selection: this.selection, runA: s.run });
    this.steps.describe(data, cmp);
    const total = data.total_steps;
    const p = data.positions.length;
    const shape = p === 1 ? "" : `${p} positions x `; // one position: a plain classifier
    this.info.replaceChildren(name(`${s.run} / ${s.tag}`, "cm-info-name"),
      `: ${shape}${data.classes.length} classes, ${total} step${total === 1 ? "" : "s"}`);
    this.pickerTitles();
    this.accuracy.draw(f);
  }

  pick(position, t, p) {
    this.selection = { position, true: t, predicted: p };
    this.draw();
    this.loadExamples();
  }

  // -- metrics and examples of the shown step ---------------------------------------------

  scheduleMetrics() {
    clearTimeout(this.metricsTimer);
    this.metricsTimer = setTimeout(() => {
      this.loadMetrics();
      if (this.selection) this.loadExamples();
    }, this.steps.playing ? 50 : 150);
  }

  async loadMetrics() {
    const s = this.find(this.current);
    const data = this.data.get(this.current);
    if (!s || !data) return;
    const token = ++this.metricsToken;
    try {
      const m = await fetchMatrix(s, data.steps[this.steps.index]);
      if (token !== this.metricsToken) return;
      this.metrics = m;
      this.pairs.draw(m);
      this.classes.draw(m);
    } catch (err) {
      if (token !== this.metricsToken) return;
      this.pairs.error(`Could not load metrics: ${err.message}`);
      this.classes.clear();
    }
  }

  loadExamples() {
    const sel = this.selection;
    const s = this.find(this.current);
    const data = this.data.get(this.current);
    if (!sel || !s || !data) return;
    const step = data.steps[this.steps.index];
    const shown = this.examples.show(data, sel, () => fetchExamples(s, step, sel));
    this.side.scrollTop = 0;
    return shown;
  }

  // -- live updates ----------------------------------------------------------------------

  async poll() {
    if (document.visibilityState === "hidden" || this.polling) return;
    this.polling = true; // a slow answer never piles up polls
    try {
      const before = this.find(this.current);
      const wasAtEnd = this.data.get(this.current) && this.steps.atEnd;
      await this.loadRuns();
      const now = this.find(this.current);
      if (!before || !now || now.max_step === before.max_step) return;
      const data = await this.load(this.current);
      if (this.compare) await this.load(this.compare).catch(() => null);
      const last = data.steps.length - 1;
      this.steps.configure(data.steps.length, wasAtEnd && !this.steps.playing ? last : this.steps.index);
      this.draw();
      this.scheduleMetrics();
    } catch {
      // keep showing what we have; the next poll tries again
    } finally {
      this.polling = false;
    }
  }
}
