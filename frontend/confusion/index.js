// Per-position Confusion page (TensorBoard calls render() inside the plugin iframe).
//
// One request per run (`series`) gives every step's counts, so the slider and the play
// button redraw locally; the current step's metrics (`matrix`) and a clicked cell's images
// (`examples`, then `image`) are fetched on demand. Modules: data.js (routes, decoding,
// polling, which runs compare), steps.js (slider and play), normalise.js (count / true /
// predicted / share), maps.js (heat maps, legends, tooltip), panels.js (accuracy, pairs,
// class table, examples). What is chosen survives a reload (localStorage); the page follows
// TensorBoard's light or dark theme and speaks the language of common/i18n.js.
import { el, focusWhenShown, loadStyles, message } from "./static/common/dom.js";
import { errorText, fmtInteger, languageSwitch, t } from "./static/common/i18n.js";
import { loadState, saveState } from "./static/common/storage.js";
import { followTheme } from "./static/common/theme.js";
import {
  ensureStep, fetchExamples, fetchMatrix, fetchSeries, fetchSeriesList, hasStep, label, nearest,
  pairing, watch,
} from "./static/confusion/data.js";
import { HeatMaps, MODES, frameAt } from "./static/confusion/maps.js";
import { AccuracyPanel, ClassTable, ExamplesPanel, PairsPanel } from "./static/confusion/panels.js";
import { StepControl } from "./static/confusion/steps.js";
import { name } from "./static/confusion/text.js";

const STATE_KEY = "flowscope.confusion.state";

export async function render() {
  followTheme(() => window.flowscopeConfusion?.draw()); // scale colours are drawn, not CSS
  loadStyles("confusion/style.css");
  const app = new ConfusionPage();
  document.body.append(app.root);
  window.flowscopeConfusion = app; // handy from the devtools console and for tests
  focusWhenShown(app.root); // the keys work as soon as the tab is shown
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
    this.bMetrics = null; // /matrix answer for B at its nearest step, when comparing
    this.selection = null; // {position: number|null, true, predicted}
    this.frame = null; // what the maps show now (see maps.js frameAt())
    this.metricsTimer = null;
    this.metricsToken = 0;
    this.polling = false;
    this.restoring = loadState(STATE_KEY); // consumed by the first run selection

    this.steps = new StepControl(() => {
      this.draw();
      this.scheduleMetrics();
    });
    this.steps.ready = (i) => this.stepReady(i);
    this.maps = new HeatMaps((position, tc, pc) => this.pick(position, tc, pc));
    this.accuracy = new AccuracyPanel((index) => this.steps.set(index));
    // a pair chosen from the list: its cell is brought into view (zoomed, on a canvas map)
    this.pairs = new PairsPanel((position, tc, pc) => this.pick(position, tc, pc, true, true));
    this.classes = new ClassTable(() => this.save());
    this.examples = new ExamplesPanel(() => this.closeExamples());
    this.buildLayout();
    document.addEventListener("keydown", (e) => this.onKey(e));
  }

  /** Space plays or pauses (unless a control or a map has the focus: they use Space);
   * Escape closes the enlarged image, else the images panel. */
  onKey(e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "Escape") {
      if (this.examples.viewerOpen) return; // the dialog closes itself
      if (!this.examples.node.hidden) {
        e.preventDefault();
        this.closeExamples();
      }
      return;
    }
    if (e.key !== " ") return;
    const target = e.target instanceof Element ? e.target : null;
    if (target && target.closest("input, select, textarea, button, a, canvas, dialog, [role=grid], [tabindex='0']")) return;
    e.preventDefault();
    this.steps.toggle();
  }

  closeExamples() {
    this.selection = null;
    this.examples.hide();
    this.draw();
  }

  buildLayout() {
    this.runPicker = el("select", { id: "cm-run", onchange: () => this.selectRun(this.runPicker.value) });
    this.comparePicker = el("select", { id: "cm-compare",
      onchange: () => this.selectCompare(this.comparePicker.value) });
    this.modes = el("div", { class: "fs-seg", id: "cm-normalize", role: "group",
      "aria-label": t("confusion.controls.normalise") },
    MODES.map((mode) => el("button", { type: "button", id: `cm-norm-${mode}`, "data-mode": mode,
      "aria-pressed": String(mode === this.mode), onclick: () => this.setMode(mode),
      text: t(`confusion.mode.${mode}`) })));
    this.errors = el("input", { type: "checkbox", id: "cm-errors",
      onchange: () => { this.errorsOnly = this.errors.checked; this.draw(); } });
    // count mode: one colour scale for the whole series unless asked for per step
    this.perStep = el("input", { type: "checkbox", id: "cm-scale-step",
      onchange: () => { this.maps.perStep = this.perStep.checked; this.draw(); } });
    this.perStepLabel = el("label", { class: "cm-check", id: "cm-scale-step-label",
      title: t("confusion.controls.perStepTitle") }, this.perStep, t("confusion.controls.perStep"));
    // find a class by name: its row and column are marked, its cell zoomed to, its table row shown
    this.classList = el("datalist", { id: "cm-class-list" });
    this.finder = el("input", { type: "search", id: "cm-find", list: "cm-class-list",
      placeholder: t("confusion.find.placeholder"), "aria-label": t("confusion.find.label"),
      onchange: () => this.findClass(this.finder.value),
      onkeydown: (e) => { if (e.key === "Enter") this.findClass(this.finder.value); } });
    this.findNote = el("span", { class: "cm-find-note", id: "cm-find-note", role: "status" });
    this.findBox = el("label", { class: "cm-find", id: "cm-find-box" }, t("confusion.find.label"),
      this.finder, this.classList, this.findNote);
    this.info = el("div", { class: "confusion-series", id: "cm-info" });
    this.compareNote = el("div", { class: "cm-compare-note", id: "cm-compare-note", hidden: true });
    this.unreadable = el("div", { id: "cm-unreadable" });
    this.side = el("aside", { class: "cm-side", id: "cm-side" },
      this.examples.node, this.accuracy.node, this.pairs.node, this.classes.node);
    this.main = el("div", { id: "cm-main", class: "cm-layout" },
      el("div", { class: "cm-left" }, this.maps.legends, this.maps.missingLine, this.maps.maps), this.side);
    this.controls = el("div", { id: "cm-controls" },
      el("div", { class: "fs-toolbar", id: "cm-toolbar" },
        el("label", {}, t("confusion.controls.run"), this.runPicker),
        el("label", {}, t("confusion.controls.compare"), this.comparePicker),
        this.modes,
        el("label", { class: "cm-check", title: t("confusion.controls.errorsTitle") },
          this.errors, t("confusion.controls.errors")),
        this.perStepLabel, this.findBox),
      this.steps.node, this.compareNote);
    this.body = el("div", { id: "confusion-body" }, this.controls, this.unreadable, this.main);
    this.root = el("div", { class: "fs-page", id: "confusion-page" },
      el("div", { class: "cm-header" }, el("h1", { text: t("confusion.title") }), this.info,
        el("div", { class: "cm-header-end" }, languageSwitch(el))), this.body);
  }

  async start() {
    try {
      await this.loadRuns();
    } catch (err) {
      message(this.body, t("confusion.error.runs", { error: errorText(err) }), "error");
      return;
    }
    watch(() => this.poll());
  }

  /** Remember what is chosen, so that a reload (or a language switch) shows the same. */
  save() {
    const data = this.data.get(this.current);
    const s = this.find(this.current);
    if (!data || !s) return;
    const state = { run: this.current, compare: this.compare, mode: this.mode,
      errorsOnly: this.errorsOnly, step: data.steps[this.steps.index], selection: this.selection,
      position: this.classes.position, perStep: this.maps.perStep };
    saveState(STATE_KEY, state);
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
      message(this.unreadable, t("confusion.empty"));
      return;
    }
    this.controls.hidden = false;
    this.main.hidden = false;
    this.unreadable.replaceChildren(...series.filter((s) => s.error).map((s) => el("div", {
      class: "fs-message fs-error cm-unreadable-item",
      text: t("confusion.error.unreadable", { series: `${s.run} / ${s.tag}`, error: s.error }),
    })));
    if (changed) this.fillPickers();
    const readable = series.filter((s) => !s.error);
    if (!readable.length) {
      this.main.hidden = true;
      return;
    }
    if (!this.current || !readable.some((s) => s.key === this.current)) {
      const saved = this.restoring;
      const again = saved && readable.some((s) => s.key === saved.run);
      await this.selectRun(again ? saved.run : readable[0].key);
    }
  }

  fillPickers() {
    const readable = this.series.filter((s) => !s.error);
    this.runPicker.replaceChildren(...readable.map((s) => el("option", { value: s.key,
      selected: s.key === this.current, text: label(s), title: label(s) })));
    const a = this.find(this.current);
    this.comparePicker.replaceChildren(el("option", { value: "", text: t("confusion.controls.none") }),
      ...readable.filter((s) => s.key !== this.current).map((s) => {
        const pair = a && pairing(a, s);
        const text = pair ? label(s) : t("confusion.controls.differentClasses", { series: label(s) });
        return el("option", { value: s.key, disabled: !pair, selected: s.key === this.compare,
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
    if (this.compare && !pairing(a, this.find(this.compare))) this.compare = "";
    this.fillPickers();
    this.selection = null;
    this.metrics = null;
    this.bMetrics = null;
    this.examples.hide();
    this.maps.loading();
    try {
      const data = await this.load(key);
      if (this.current !== key) return;
      this.maps.build(data);
      this.showFinder(data);
      this.steps.configure(data.steps.length, data.steps.length - 1);
      if (await this.restore(key, data)) return;
      this.draw();
      this.loadMetrics();
    } catch (err) {
      message(this.maps.maps, t("confusion.error.series", { series: label(a), error: errorText(err) }),
        "error");
    }
  }

  /** The first selection after a reload puts back what was chosen; true when it did. */
  async restore(key, data) {
    const saved = this.restoring;
    this.restoring = null;
    if (!saved || saved.run !== key) return false;
    if (MODES.includes(saved.mode)) this.setMode(saved.mode, false);
    this.errorsOnly = Boolean(saved.errorsOnly);
    this.errors.checked = this.errorsOnly;
    this.maps.perStep = Boolean(saved.perStep);
    this.perStep.checked = this.maps.perStep;
    if (typeof saved.position === "string") this.classes.position = saved.position;
    if (Number.isFinite(saved.step)) this.steps.configure(data.steps.length, nearest(data.steps, saved.step));
    if (saved.compare && this.find(saved.compare) && pairing(this.find(key), this.find(saved.compare))) {
      await this.selectCompare(saved.compare);
      this.comparePicker.value = this.compare;
    }
    const sel = saved.selection;
    const k = data.classes.length;
    const inRange = (v) => Number.isInteger(v) && v >= 0 && v < k;
    if (sel && inRange(sel.true) && inRange(sel.predicted) &&
      (sel.position === null || (Number.isInteger(sel.position) && sel.position < data.positions.length))) {
      this.pick(sel.position, sel.true, sel.predicted, false);
    } else {
      this.draw();
    }
    this.loadMetrics();
    return true;
  }

  async selectCompare(key) {
    this.compare = key;
    this.bMetrics = null;
    // what was picked belongs to the comparison that is gone: the cell and its images go too
    this.selection = null;
    this.examples.hide();
    if (key && !this.data.has(key)) {
      try {
        await this.load(key);
      } catch (err) {
        this.compare = "";
        this.comparePicker.value = "";
        message(this.maps.legends, t("confusion.error.series", { series: key, error: errorText(err) }),
          "error");
        return;
      }
    }
    this.draw();
    this.loadMetrics();
  }

  setMode(mode, redraw = true) {
    this.mode = mode;
    for (const b of this.modes.children) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
    if (redraw) this.draw();
  }

  // -- drawing ---------------------------------------------------------------------------

  /** Run B at the step nearest A's shown step, or null when not comparing. */
  compareState() {
    if (!this.compare) return null;
    const b = this.data.get(this.compare);
    const a = this.data.get(this.current);
    const pair = pairing(this.find(this.current), this.find(this.compare));
    if (!a || !b || !pair) return null;
    return { data: b, index: nearest(b.steps, a.steps[this.steps.index]), series: this.find(this.compare),
      pair, runA: this.find(this.current).run };
  }

  /** Whether step index i (and B's step beside it) can be drawn now; if not, their pages
   * are asked for and the page draws when they come. The next step's page is asked for
   * too, so that playing seldom waits. */
  stepReady(i) {
    const a = this.data.get(this.current);
    if (!a) return false;
    const needs = [[a, i]];
    const cmp = this.compareState();
    if (cmp) needs.push([cmp.data, nearest(cmp.data.steps, a.steps[i])]);
    let ready = true;
    for (const [d, j] of needs) {
      if (hasStep(d, j)) continue;
      ready = false;
      ensureStep(d, j).then(() => { if (this.steps.index === i) this.draw(); }, (err) => {
        this.steps.label.textContent = t("confusion.error.step", { error: errorText(err) });
      });
    }
    for (const [d, j] of needs) {
      if (d.paged && j + 1 < d.steps.length && !hasStep(d, j + 1)) ensureStep(d, j + 1).catch(() => {});
    }
    return ready;
  }

  draw() {
    const data = this.data.get(this.current);
    // not before the maps are built for this series (a run just chosen may still be loading)
    if (!data || !this.maps.heatmaps || this.maps.data !== data) return;
    const waiting = !this.stepReady(this.steps.index);
    this.maps.maps.classList.toggle("cm-pending", waiting);
    if (waiting) { // the step's counts are on their way: its label now, its maps when they come
      this.steps.describe(data, this.compareState());
      return;
    }
    this.perStepLabel.hidden = this.mode !== "count" || Boolean(this.compare);
    const cmp = this.compareState();
    const f = (this.frame = frameAt(data, this.steps.index, cmp, this.mode));
    const s = this.find(this.current);
    this.maps.draw(f, { errorsOnly: this.errorsOnly, selection: this.selection, runA: s.run });
    this.steps.describe(data, cmp);
    const p = data.positions.length;
    const params = { positions: p, classes: data.classes.length, count: data.total_steps };
    // one position: a plain classifier
    this.info.replaceChildren(name(`${s.run} / ${s.tag}`, "cm-info-name"),
      p === 1 ? t("confusion.info.single", params) : t("confusion.info.positions", params));
    this.describeCompare(cmp, data);
    this.pickerTitles();
    this.accuracy.draw(f);
    this.save(); // (pairs and class metrics redraw when the step's /matrix answers arrive)
  }

  /** Which maps compare: every position, the shared ones and pooled, or pooled only. */
  describeCompare(cmp, data) {
    this.compareNote.hidden = !cmp;
    if (!cmp) return;
    const nb = cmp.data.positions.length;
    const na = data.positions.length;
    this.compareNote.textContent = t(`confusion.compare.kind.${cmp.pair.kind}`,
      { a: na, b: nb, shared: cmp.pair.shared, run: cmp.series.run });
  }

  pick(position, tc, pc, scroll = true, reveal = false) {
    this.selection = { position, true: tc, predicted: pc };
    if (reveal) this.maps.reveal(position, tc, pc);
    this.draw();
    this.loadExamples(scroll);
  }

  // -- find a class by name ---------------------------------------------------------------

  /** The finder lists the run's classes (shown from 13 classes: fewer are all in view). */
  showFinder(data) {
    this.findBox.hidden = data.classes.length <= 12;
    this.classList.replaceChildren(...data.classes.map((c) => el("option", { value: c })));
    this.finder.value = "";
    this.findNote.textContent = "";
  }

  /** Mark the class named `query` (exactly, else ignoring case, else the first containing
   * it) on the maps and in the class table; say what was found. */
  findClass(query) {
    const data = this.data.get(this.current);
    if (!data) return;
    const q = query.trim();
    const names = data.classes.map(String);
    let c = -1;
    if (q) {
      const lower = q.toLowerCase();
      c = names.indexOf(q);
      if (c < 0) c = names.findIndex((n) => n.toLowerCase() === lower);
      if (c < 0) c = names.findIndex((n) => n.toLowerCase().includes(lower));
    }
    const found = c < 0 ? null : c;
    this.maps.markClass(found);
    this.classes.mark(found);
    this.finder.dataset.found = found === null ? "" : String(found);
    this.findNote.textContent = !q ? ""
      : found === null ? t("confusion.find.none", { query: q })
        : t("confusion.find.found", { name: names[c], index: fmtInteger(c) });
  }

  // -- metrics and examples of the shown step ---------------------------------------------

  scheduleMetrics() {
    clearTimeout(this.metricsTimer);
    this.metricsTimer = setTimeout(() => {
      this.loadMetrics();
      if (this.selection) this.loadExamples(false);
    }, this.steps.playing ? 50 : 150);
  }

  async loadMetrics() {
    const s = this.find(this.current);
    const data = this.data.get(this.current);
    if (!s || !data) return;
    const token = ++this.metricsToken;
    const cmp = this.compareState();
    try {
      const [m, mB] = await Promise.all([fetchMatrix(s, data.steps[this.steps.index]),
        cmp ? fetchMatrix(cmp.series, cmp.data.steps[cmp.index]) : null]);
      if (token !== this.metricsToken) return;
      this.metrics = m;
      this.bMetrics = mB;
      this.drawMetrics();
    } catch (err) {
      if (token !== this.metricsToken) return;
      this.pairs.error(t("confusion.error.metrics", { error: errorText(err) }));
      this.classes.clear();
    }
  }

  /** Pairs and class table of the fetched step; B's change beside A's when comparing. */
  drawMetrics() {
    const f = this.frame;
    const mB = f && f.cmp ? this.bMetrics : null;
    this.pairs.draw(this.metrics, mB ? f : null, mB);
    let bMetrics = null;
    if (mB) {
      bMetrics = (position) => {
        const x = f.maps.find((y) => y.key === position) ||
          f.maps.find((y) => y.p === null); // the pooled choice of a one-position map
        if (!x || x.missing) return null;
        return x.bp === null ? mB.class_metrics.pooled : mB.class_metrics.positions[x.bp];
      };
    }
    this.classes.draw(this.metrics, bMetrics);
  }

  /** Fetch and show the selected cell's images; `scroll` brings the panel into view (the
   * user clicked: the result must be visible, even on a laptop-sized window). */
  loadExamples(scroll = true) {
    const sel = this.selection;
    const s = this.find(this.current);
    const data = this.data.get(this.current);
    if (!sel || !s || !data) return;
    const step = data.steps[this.steps.index];
    const shown = this.examples.show(data, sel, () => fetchExamples(s, step, sel));
    if (scroll) {
      this.side.scrollTop = 0;
      this.reveal();
      shown.then(() => this.reveal()); // the images make the panel taller
    }
    return shown;
  }

  /** Scroll the examples panel's top into view, below the sticky controls, unless it is. */
  reveal() {
    const node = this.examples.node;
    if (node.hidden) return;
    const top = this.controls.getBoundingClientRect().bottom;
    node.style.scrollMarginTop = `${Math.ceil(top) + 8}px`;
    const box = node.getBoundingClientRect();
    if (box.top < top || box.top > window.innerHeight - 160) node.scrollIntoView({ block: "start" });
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
      this.maps.data = data; // same classes and positions: the maps stay, with the new steps
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
