// Optimizer Race page (TensorBoard calls render() inside the plugin iframe).
//
// One race at a time: the contour map with one path per racer, a loss chart and a
// leaderboard, all driven by one step (play / pause / speed / scrubber). What-if sliders
// ask the server to re-run a racer with another learning rate (and momentum) while they
// are dragged. What is chosen (race, step, zoom, what-if values, sort) survives a reload
// (localStorage); the page follows TensorBoard's light or dark theme and speaks the
// language of common/i18n.js.
import { contentWidth, el, focusWhenShown, loadStyles, message, onResize, setText } from "./static/common/dom.js";
import { categorical } from "./static/common/colors.js";
import { errorText, fmtInteger, hasText, languageSwitch, t } from "./static/common/i18n.js";
import { loadState, saveState } from "./static/common/storage.js";
import { currentTheme, followTheme } from "./static/common/theme.js";
import { fetchLeaderboard, fetchRaces, fetchSurface, fetchTrack, fetchWhatif, warmUp, whatifParams } from "./static/race/data.js";
import { approximateTrack, loadFamily } from "./static/race/family.js";
import { ContourMap } from "./static/race/map.js";
import { LossChart } from "./static/race/losschart.js";
import { Leaderboard, hyperText } from "./static/race/leaderboard.js";
import { fmt } from "./static/race/scale.js";
import { prepareTrack } from "./static/race/track.js";

const RACE_SECONDS = 10; // a whole race plays in this many seconds at 1x
const SPEEDS = [0.25, 0.5, 1, 2, 4, 8];
const TYPING_DELAY_MS = 300; // a typed value is sent once the typing pauses
const BOARD_MS = 150; // while playing, the leaderboard follows the step this often
const POLL_MS = 5000; // live training: how often to look for new races and steps
const STATE_KEY = "flowscope.race.state";
const LR_RANGE = [1e-7, 10]; // what the server accepts (race_http_api.md, /whatif)
const MOMENTUM_RANGE = [0, 0.999];

export async function render() {
  loadStyles("race/race.css");
  const app = new RacePage();
  followTheme((theme) => app.setTheme(theme));
  document.body.append(app.root);
  window.flowscopeRace = app; // handy from the devtools console and for tests
  focusWhenShown(app.root); // Space and the arrows work as soon as the tab is shown
  await app.start();
}

class RacePage {
  constructor() {
    this.racers = [];
    this.step = 0;
    this.maxStep = 0;
    this.state = loadState(STATE_KEY);
    this.speed = SPEEDS.includes(this.state.speed) ? this.state.speed : 1;
    this.playing = false;
    this.frameWork = []; // ms spent updating the views per animation frame (last 600)
    this.whatifTimings = []; // ms from a what-if input to its redrawn path (last 200)
    this.familyLoad = null; // AbortController of the shown race's family requests
    this.families = new Map(); // racer id -> its family (family.js), for the shown race
    this.loadToken = 0;
    this.theme = currentTheme();

    this.picker = el("select", { id: "race-picker", "aria-label": t("race.header.race"), onchange: () => this.selectRace(this.picker.value) });
    this.surfaceChip = el("span", { class: "race-chip race-chip-surface", id: "race-surface-name" });
    this.header = el("div", { class: "race-header" },
      el("h1", { text: t("race.header.title") }),
      el("label", { class: "race-picker-label" }, t("race.header.race"), this.picker),
      this.surfaceChip,
      el("span", { class: "race-header-end" }, languageSwitch(el)));

    this.playButton = el("button", { id: "race-play", class: "race-button race-button-primary", type: "button",
      "aria-keyshortcuts": "Space", onclick: () => this.togglePlay() });
    this.speedSelect = el("select", { id: "race-speed", "aria-label": t("race.controls.speed"),
      onchange: () => { this.speed = Number(this.speedSelect.value); this.save(); } },
    SPEEDS.map((s) => el("option", { value: s, selected: s === this.speed, text: t("race.controls.speedValue", { speed: fmt(s) }) })));
    this.scrubber = el("input", { id: "race-scrubber", type: "range", min: 0, max: 0, step: 1, value: 0,
      "aria-label": t("race.controls.step"), title: t("race.controls.keys"),
      oninput: () => { this.pause(); this.setStep(Number(this.scrubber.value)); } });
    this.stepLabel = el("span", { id: "race-step", class: "race-step", "aria-live": "off" });
    this.controls = el("div", { class: "race-controls fs-toolbar", id: "race-controls" },
      this.playButton, el("label", {}, t("race.controls.speed"), this.speedSelect), this.scrubber, this.stepLabel);
    this.showPlaying(false);

    this.whatifBanner = el("div", { class: "race-whatif-banner", id: "race-whatif-banner", role: "status" });
    this.whatifBanner.hidden = true;
    this.body = el("div", { class: "race-body", id: "race-body" });
    this.root = el("div", { class: "fs-page race-page", id: "race-page" },
      this.header, this.controls, this.whatifBanner, this.body);
    this.controls.hidden = true;
    document.addEventListener("keydown", (e) => this.onKey(e));
  }

  async start() {
    message(this.body, t("race.loading"));
    this.races = [];
    try {
      this.races = await fetchRaces();
    } catch (err) {
      message(this.body, t("race.error.races", { error: errorText(err) }), "error");
    }
    // Training may still be writing: check for new races and steps every few seconds
    // (one /races request), and at once when the tab becomes visible again.
    setInterval(() => this.poll(), POLL_MS);
    document.addEventListener("visibilitychange", () => this.poll());
    if (this.races.length) {
      this.fillPicker();
      const saved = this.races.find((r) => r.race === this.state.race);
      await this.selectRace((saved || this.races[0]).race, { restore: Boolean(saved) });
    } else if (!this.body.querySelector(".fs-error")) {
      message(this.body, t("race.empty"));
    }
  }

  // -- state that survives a reload ---------------------------------------------------
  /** The remembered settings of one race: {view, whatif: {id: {lr, momentum}}, hidden: [id]}. */
  raceState(name = this.race?.race) {
    this.state.races = this.state.races || {};
    this.state.races[name] = this.state.races[name] || {};
    return this.state.races[name];
  }

  save() {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => {
      if (!this.race || !this.built) return;
      this.state.race = this.race.race;
      this.state.step = Math.round(this.step);
      this.state.speed = this.speed;
      this.state.sort = this.board ? { key: this.board.sortKey, ascending: this.board.ascending } : this.state.sort;
      const own = this.raceState();
      own.view = this.map?.isWhole() ? null : this.map?.view;
      own.hidden = this.racers.filter((r) => r.track && !r.visible).map((r) => r.id);
      own.whatif = {};
      for (const r of this.racers) {
        if (!r.ui?.lr || r.ui.lr.disabled) continue;
        const lr = r.ui.lr.value;
        const momentum = r.ui.mom ? r.ui.mom.value : null;
        if (!sameAsLogged(r, lr, momentum)) own.whatif[r.id] = { lr, momentum };
      }
      saveState(STATE_KEY, this.state);
    }, 200);
  }

  // -- races ----------------------------------------------------------------------------
  /** Options of the race picker (rebuilt only when the list changed; keeps the selection). */
  fillPicker() {
    const label = (r) => t("race.header.option", { race: r.race, count: r.racers.length });
    const key = JSON.stringify(this.races.map(label));
    if (key === this.pickerKey) return;
    this.pickerKey = key;
    this.picker.replaceChildren(...this.races.map((r) => el("option", { value: r.race, text: label(r), title: r.race })));
    if (this.race) this.picker.value = this.race.race;
  }

  /** One live-training check: new races join the picker; grown racers are re-fetched. */
  async poll() {
    if (this.polling || document.visibilityState === "hidden") return;
    this.polling = true;
    try {
      const races = await fetchRaces();
      const current = this.race && races.find((r) => r.race === this.race.race);
      if (this.race && !current) races.push(this.race); // vanished: keep what is shown
      this.races = races;
      this.fillPicker();
      if (!this.race) {
        if (races.length) await this.selectRace(races[0].race);
        else message(this.body, t("race.empty"));
        return;
      }
      if (!current || this.loaded !== current.race) return; // a race is loading meanwhile
      const shape = (race) => JSON.stringify([race.surface_series,
        race.racers.map((r) => [r.id, r.run, r.tag, r.optimizer, r.error])]);
      const grown = this.racers.filter((r, k) => r.max_step !== current.racers[k]?.max_step);
      if (shape(current) !== shape(this.race) || (grown.length && (!this.built || grown.some((r) => !r.loggedTrack)))) {
        await this.selectRace(current.race, { quiet: true });
      } else if (grown.length) {
        await this.refreshRacers(current, grown);
      }
    } catch {
      // keep showing what we have; the next check tries again
    } finally {
      this.polling = false;
    }
  }

  /** Re-fetch racers with new logged steps; paths, chart, leaderboard and scrubber follow. */
  async refreshRacers(race, grown) {
    const token = this.loadToken;
    const answers = await Promise.all(grown.map(fetchTrack));
    if (token !== this.loadToken) return; // another race was picked meanwhile
    const atEnd = this.step >= this.maxStep;
    grown.forEach((racer, k) => {
      if (answers[k].error) return; // keep the old path; the next check tries again
      const track = prepareTrack(answers[k]);
      racer.max_step = race.racers[racer.index].max_step;
      racer.loggedTrack = track;
      racer.metrics = track.metrics;
      if (!racer.whatif) racer.track = track; // a what-if keeps its path; its ghost grows
      this.map.updateRacer(racer);
      this.showStatus(racer);
    });
    this.race = race;
    this.updateMaxStep();
    this.loss.setRacers(this.drawable(), this.maxStep);
    this.board.refresh();
    // Someone watching the end keeps watching it; a playing race simply runs further.
    this.setStep(atEnd && !this.playing ? this.maxStep : this.step);
  }

  drawable() {
    return this.racers.filter((r) => r.track && r.track.n);
  }

  /** The race's known minima (the arrival's distance is measured to the nearest). */
  minima() {
    return this.race?.minima || this.surface?.minima || [];
  }

  /**
   * Show one race. `quiet` (a live update of the shown race) keeps the page, the step,
   * the play state and the hidden racers while loading; what-ifs are dropped. `restore`
   * takes the remembered step, zoom, hidden racers and what-if values (after a reload).
   */
  async selectRace(name, { quiet = false, restore = false } = {}) {
    const token = ++this.loadToken;
    this.loaded = null;
    for (const r of this.racers) this.abortWhatif(r);
    if (!quiet) {
      this.familyLoad?.abort();
      this.families = new Map();
    }
    const race = this.races.find((r) => r.race === name);
    this.race = race;
    this.picker.value = name;
    this.picker.title = name;
    const surfaceText = race.surface ? t("race.header.surface", { surface: surfaceTitle(race) }) : t("race.header.noSurface");
    this.surfaceChip.textContent = surfaceText;
    const [ax, ay] = axisLabels(race);
    const description = libraryText(race, "description", "surface", race.surface, race.description);
    const about = [race.formula && t("race.header.formula", { formula: race.formula, x: ax, y: ay }), description].filter(Boolean);
    this.surfaceChip.title = [surfaceText, ...about].join(" — ");
    if (!quiet) {
      this.pause();
      this.built = false;
      this.controls.hidden = true;
      this.whatifBanner.hidden = true;
      message(this.body, t("race.loadingRace", { race: name }));
    }
    const surfaceP = race.surface_series
      ? fetchSurface(name)
      : Promise.resolve({ error: t("race.error.noSurfaceLogged") });
    const boardP = fetchLeaderboard(name);
    const tracks = await Promise.all(race.racers.map((r) => (r.error ? { error: r.error } : fetchTrack(r))));
    const [surface, board] = await Promise.all([surfaceP, boardP]);
    if (token !== this.loadToken) return; // another race was picked meanwhile
    const own = this.raceState(name);
    let keep = null;
    if (quiet && this.built) {
      keep = { step: this.step, atEnd: this.step >= this.maxStep, hidden: new Set(this.racers.filter((r) => !r.visible).map((r) => r.id)) };
    } else if (restore) {
      const step = Number(this.state.step);
      keep = { step: Number.isFinite(step) ? step : Infinity, atEnd: !Number.isFinite(step), hidden: new Set(own.hidden || []) };
    }
    this.loaded = name;
    this.built = false;
    const rows = new Map((board.rows || []).map((row) => [row.id, row]));
    // Known optimizers keep one colour in every race; others take the colours left over.
    const known = (r) => Number.isInteger(r.palette_index);
    const firsts = new Map();
    for (const r of race.racers) if (known(r) && !firsts.has(r.palette_index)) firsts.set(r.palette_index, r);
    const taken = new Set(firsts.keys());
    let spare = 0;
    const slots = race.racers.map((r) => {
      if (known(r) && firsts.get(r.palette_index) === r) return r.palette_index;
      while (taken.has(spare)) spare++;
      taken.add(spare);
      return spare;
    });
    // Two racers may share an optimizer (and so a title): their ids tell them apart
    // (a racer is its id: a race run holds every racer, format version 3).
    // A library optimizer's title in the page's language; a title of the user's own as written.
    const shownTitle = (r) => libraryText(r, "title", "optimizer", r.optimizer, r.title);
    const titles = new Map();
    for (const r of race.racers) titles.set(shownTitle(r), (titles.get(shownTitle(r)) || 0) + 1);
    this.racers = race.racers.map((r, index) => {
      const { color, dash } = categorical(slots[index], this.theme);
      const json = tracks[index];
      const row = rows.get(r.id);
      const track = json.error ? null : prepareTrack(json);
      const title = shownTitle(r);
      return {
        ...r,
        title: titles.get(title) > 1 ? t("race.racers.shared", { title, id: r.id }) : title,
        rerunnable: Boolean(r.whatif), // the server's per-racer answer; `whatif` is the shown state
        index,
        slot: slots[index], // colour slot (categorical): the colour follows the theme
        color,
        dash,
        visible: Boolean(track) && !keep?.hidden.has(r.id),
        error: json.error || null,
        track,
        loggedTrack: track,
        metrics: row && !row.error ? row : track?.metrics ?? null,
        whatif: false,
        stale: false,
      };
    });
    const live = this.drawable();
    if (!live.length) {
      const why = this.racers.map((r) => t("race.error.racerWhy", { racer: r.title, error: r.error || t("race.error.noRows") })).join("; ");
      this.pause();
      this.controls.hidden = true;
      return message(this.body, t("race.error.noTrajectory", { race: name, why }), "error");
    }
    this.surface = surface.error ? fallbackSurface(race, live) : surface;
    this.surfaceNote = surface.error ? t("race.error.noSurface", { error: surface.error }) : "";
    this.buildViews(keep, restore || quiet ? own : null);
  }

  buildViews(keep = null, own = null) {
    const race = this.race;
    const seek = (s) => { this.pause(); this.setStep(s); this.save(); };
    // the charts being replaced stop following their (detached) cards
    this.map?.disconnect();
    this.unfollowLoss?.();
    // a zoomed view's own contour levels and colour scale, from a finer grid (/surface?view=)
    const refine = (view, signal) => fetchSurface(race.race, { view, signal });
    this.map = new ContourMap({ onSeek: seek, onView: () => this.save(), refine });
    this.loss = new LossChart({ onSeek: seek });
    this.board = new Leaderboard({ sort: this.state.sort, onSort: () => this.save() });
    const drawable = this.drawable();
    this.map.setRacers(drawable);
    this.updateMaxStep();
    this.loss.setRacers(drawable, this.maxStep);
    this.board.setRacers(this.racers, race.tolerance, this.minima());

    this.legend = el("div", { class: "race-legend", id: "race-legend", role: "list" });
    this.legend.replaceChildren(...this.racers.map((r) => this.legendRow(r)));
    // The server says why a race or racer cannot be re-run (surface, or not a Keras optimizer).
    const whatifHelp = race.whatif ? t("race.whatif.help") : t("race.whatif.off", { reason: why(race, race) || sentence(t("race.whatif.fixed")) });

    const card = (title, id, ...children) =>
      el("section", { class: "race-card", id, "aria-label": title }, el("h2", { text: title }), ...children);
    const mapNote = this.surfaceNote ? el("div", { class: "fs-message fs-error race-note", text: this.surfaceNote }) : null;
    this.lossCard = card(t("race.cards.loss"), "race-loss-card", this.loss.root);
    const plane = planeText(race); // a projected map: how much of the motion it shows
    const planeNote = plane ? el("div", { class: "race-caption", id: "race-plane-note", text: plane }) : null;
    const mapCard = card(t("race.cards.map"), "race-map-card", mapNote, this.map.root, planeNote);
    this.body.replaceChildren(
      el("div", { class: "race-grid" },
        mapCard,
        el("div", { class: "race-side" },
          this.lossCard,
          card(t("race.cards.racers"), "race-legend-card", el("div", { class: "race-caption", id: "race-whatif-help", text: whatifHelp }), this.legend))),
      card(t("race.cards.board"), "race-leaderboard-card", this.board.root),
    );
    // The map takes its card's width (smaller in a laptop-sized window, so the side column
    // keeps its room) and follows it when the window or TensorBoard's iframe is resized;
    // sized before the surface is drawn, so a race is drawn once.
    this.map.follow(mapCard);
    this.map.setSurface(this.surface, { axisLabels: axisLabels(race), view: own?.view, theme: this.theme });
    this.controls.hidden = false;
    this.built = true;
    this.updateBanner();
    this.scrubber.max = String(this.maxStep);
    this.fitLossChart();
    this.unfollowLoss = onResize(this.lossCard, () => this.fitLossChart());
    // Start by showing the finished race (Play replays it); a live update keeps the step.
    this.setStep(keep && (this.playing || !keep.atEnd) ? keep.step : this.maxStep);
    // After the first paint, have the server prepare the what-if of every re-runnable racer
    // and its family (so the first drag pays for neither TensorFlow's import nor tracing),
    // then load the families: a drag draws from them.
    if (race.whatif && !(this.familyLoad && !this.familyLoad.signal.aborted)) { // once per race
      requestAnimationFrame(() => setTimeout(() => this.loadFamilies(race.race), 0));
    }
    // what-if values remembered from before a reload: set the inputs and ask again
    for (const [id, values] of Object.entries(own?.whatif || {})) {
      const racer = this.racers.find((r) => r.id === id);
      if (!racer?.ui?.lr || racer.ui.lr.disabled) continue;
      racer.ui.lr.value = String(values.lr ?? "");
      if (racer.ui.mom && values.momentum !== null && values.momentum !== undefined) racer.ui.mom.value = String(values.momentum);
      this.syncSliders(racer);
      this.requestWhatif(racer, { final: true });
    }
    this.save();
  }

  /** Draw the loss chart at its card's width (labels keep their size at any window width). */
  fitLossChart() {
    const inner = contentWidth(this.lossCard);
    if (inner > 0 && Math.abs(inner - this.loss.width) > 2) this.loss.resize(inner);
  }

  updateMaxStep() {
    this.maxStep = Math.max(1, ...this.racers.filter((r) => r.track).map((r) => r.track.lastStep));
    this.scrubber.max = String(this.maxStep);
    if (this.step > this.maxStep) this.setStep(this.maxStep);
  }

  // -- racers and what-if ------------------------------------------------------------------
  legendRow(racer) {
    const swatch = el("span", { class: "race-swatch" + (racer.dash ? " race-swatch-dashed" : "") });
    swatch.style.background = racer.color;
    if (racer.dash) swatch.style.borderColor = racer.color;
    const toggle = el("input", { type: "checkbox", class: "racer-toggle", checked: racer.visible, disabled: !racer.track,
      "aria-label": t("race.racers.show", { name: racer.title }),
      onchange: () => this.setVisible(racer, toggle.checked) });
    const hyper = racer.hyperparameters || {};
    const canWhatif = Boolean(racer.rerunnable && racer.track);
    const hasLr = typeof hyper.learning_rate === "number" && hyper.learning_rate > 0;
    const hasMomentum = typeof hyper.momentum === "number";
    // why the inputs are off: the server's reason, else no learning rate in the logs
    let off = "";
    if (!racer.rerunnable) off = why(racer, this.race) || sentence(t("race.whatif.unavailable"));
    else if (!racer.track) off = t("race.whatif.noPath");
    else if (!hasLr) off = t("race.whatif.noLr");
    const lrOn = canWhatif && hasLr;
    const lr = el("input", { type: "text", inputmode: "decimal", class: "whatif-lr whatif-value", value: shown(hyper.learning_rate),
      disabled: !lrOn, "aria-label": t("race.whatif.lrLabel", { name: racer.title }), title: off || t("race.whatif.lrTitle"),
      spellcheck: "false", autocomplete: "off" });
    const [lo, hi] = lrSliderRange(hyper.learning_rate);
    const lrSlider = el("input", { type: "range", class: "whatif-lr-slider whatif-slider", min: lo, max: hi, step: 0.01,
      value: hasLr ? Math.log10(hyper.learning_rate) : (lo + hi) / 2, disabled: !lrOn,
      "aria-label": t("race.whatif.lrSlider", { name: racer.title }), title: off || t("race.whatif.lrSliderTitle") });
    const momOn = canWhatif && hasMomentum;
    const mom = hasMomentum
      ? el("input", { type: "text", inputmode: "decimal", class: "whatif-momentum whatif-value", value: shown(hyper.momentum),
        disabled: !momOn, "aria-label": t("race.whatif.momentumLabel", { name: racer.title }), title: off || t("race.whatif.momentumTitle"),
        spellcheck: "false", autocomplete: "off" })
      : null;
    const momSlider = hasMomentum
      // on a log scale of 1 - momentum (as the learning rate's): 0.9, 0.99 and 0.999 are
      // evenly spaced, so the values that matter do not crowd the slider's last tenth
      ? el("input", { type: "range", class: "whatif-momentum-slider whatif-slider", min: 0, max: momentumToSlider(MOMENTUM_RANGE[1]),
        step: 0.01, value: momentumToSlider(hyper.momentum), disabled: !momOn, "aria-valuetext": shown(hyper.momentum),
        "aria-label": t("race.whatif.momentumSlider", { name: racer.title }), title: off || t("race.whatif.momentumTitle") })
      : null;
    const reset = el("button", { type: "button", class: "race-button whatif-reset", text: t("race.whatif.reset"), hidden: true,
      title: t("race.whatif.resetTitle"), onclick: () => this.resetWhatif(racer) });
    const status = el("span", { class: "race-row-status" });
    const note = el("div", { class: "whatif-note", role: "status", hidden: true });
    // A racer the what-if cannot re-run while others can: its logged hyper-parameters as
    // written, and why its inputs are off (the caption covers a race where none can).
    const offNote = off && this.race.whatif
      ? el("div", { class: "whatif-off", text: `${hyperText(hyper)} · ${off}`, title: off })
      : null;
    const chips = [];
    if (racer.tuning) {
      const tu = racer.tuning;
      chips.push(el("span", { class: "race-chip race-chip-tuned", text: t("race.racers.tuned"),
        title: t("race.racers.tunedTitle", { budget: tu.budget ?? "?", method: tu.method || t("race.racers.tuned"), objective: tu.objective || "?" }) }));
      const edge = Array.isArray(tu.at_edge) ? tu.at_edge.join(", ") : tu.at_edge ? String(tu.at_edge) : "";
      if (edge) {
        chips.push(el("span", { class: "race-chip race-chip-edge", text: t("race.racers.atEdge"),
          title: t("race.racers.atEdgeTitle", { edge }) }));
      }
    }
    const name = el("label", { class: "race-legend-name" }, toggle, swatch,
      el("span", { class: "race-name", text: racer.title, title: racer.title }), ...chips);
    const field = (label, slider, input, disabledWhy) => el("label", { class: `whatif-field${input?.disabled ? " whatif-disabled" : ""}`,
      title: disabledWhy || null }, el("span", { class: "whatif-label", text: label }), slider, input);
    const fields = el("div", { class: "whatif-fields" },
      field(t("race.whatif.lr"), lrSlider, lr, lrOn ? "" : off),
      hasMomentum ? field(t("race.whatif.momentum"), momSlider, mom, momOn ? "" : off) : null);
    const row = el("div", { class: "legend-row", role: "listitem", "data-optimizer": racer.optimizer, "data-run": racer.run, "data-racer": racer.id },
      el("div", { class: "legend-line" }, name, el("span", { class: "legend-end" }, status, reset)),
      fields, offNote, note);
    racer.ui = { row, toggle, swatch, lr, mom, lrSlider, momSlider, reset, status, note };
    if (lrOn || momOn) this.wireWhatif(racer);
    this.showStatus(racer);
    return row;
  }

  /** Warm the race up on the server (/warmup), then load each re-runnable racer's family
   * (/family, one racer after another) for the drag; a newer race aborts it. */
  async loadFamilies(name) {
    if (this.loaded !== name) return;
    this.familyLoad?.abort();
    const load = new AbortController();
    this.familyLoad = load;
    try {
      await warmUp(name);
      for (const racer of this.racers) {
        if (load.signal.aborted || this.loaded !== name) return;
        if (!racer.rerunnable || this.families.has(racer.id) || !racer.ui?.lr || racer.ui.lr.disabled) continue;
        const fam = await loadFamily(name, racer.id, load.signal);
        if (fam && !load.signal.aborted && this.loaded === name) this.families.set(racer.id, fam);
      }
    } catch {
      // no family: a drag asks the server for each value, as before
    }
  }

  /** A slider moved: draw from the racer's family when it has one (no request), else ask
   * the server; releasing the slider (its change event) asks for the exact path. */
  dragWhatif(racer) {
    const fam = this.families.get(racer.id);
    if (!fam || !this.racers.includes(racer)) return this.requestWhatif(racer);
    racer.inputAt = performance.now();
    const read = this.readWhatif(racer);
    if (read.error || sameAsLogged(racer, racer.ui.lr.value, racer.ui.mom ? racer.ui.mom.value : null)) return this.requestWhatif(racer);
    this.abortWhatif(racer); // an exact path for an older value would be out of date
    racer.wanted = null;
    racer.shownKey = null;
    const lr = Number(read.params.learning_rate);
    const momentum = read.params.momentum === undefined ? null : Number(read.params.momentum);
    const verdict = racer.loggedTrack?.metrics || racer.metrics;
    racer.track = approximateTrack(fam, lr, momentum, verdict, this.minima());
    racer.whatif = true;
    racer.approx = true;
    const { note, row } = racer.ui;
    const near = racer.track.approx.nearest;
    note.hidden = false;
    note.className = "whatif-note whatif-approx";
    setText(note, t("race.whatif.approx", { count: fam.count, hyper: hyperText({ learning_rate: near.lr, ...(near.momentum === null ? {} : { momentum: near.momentum }) }) }));
    row.classList.add("whatif-approx-row");
    racer.ui.reset.hidden = false;
    this.markStale(racer, false, { redraw: false });
    this.redrawRacer(racer);
  }

  /** Sliders redraw while dragged; a typed value is sent when typing pauses, or on Enter. */
  wireWhatif(racer) {
    const { lr, mom, lrSlider, momSlider } = racer.ui;
    lrSlider.addEventListener("input", () => {
      lr.value = shown(10 ** Number(lrSlider.value));
      this.dragWhatif(racer);
    });
    momSlider?.addEventListener("input", () => {
      mom.value = shown(sliderToMomentum(Number(momSlider.value)));
      momSlider.setAttribute("aria-valuetext", mom.value);
      this.dragWhatif(racer);
    });
    for (const slider of [lrSlider, momSlider]) slider?.addEventListener("change", () => this.requestWhatif(racer, { final: true }));
    for (const input of [lr, mom]) {
      if (!input) continue;
      input.addEventListener("input", () => {
        clearTimeout(racer.typing);
        racer.typing = setTimeout(() => {
          this.syncSliders(racer);
          this.requestWhatif(racer, { final: true });
        }, TYPING_DELAY_MS);
      });
      input.addEventListener("change", () => {
        clearTimeout(racer.typing);
        this.syncSliders(racer);
        this.requestWhatif(racer, { final: true });
      });
    }
  }

  /** Move the sliders to the typed values (when they are valid numbers). */
  syncSliders(racer) {
    const { lr, mom, lrSlider, momSlider } = racer.ui;
    const v = Number(lr.value.trim());
    if (lr.value.trim() && v > 0 && Number.isFinite(v)) {
      const k = Math.log10(v);
      if (k < Number(lrSlider.min) || k > Number(lrSlider.max)) {
        // a typed value outside the slider's range widens it (within what the server accepts)
        lrSlider.min = String(Math.max(Math.log10(LR_RANGE[0]), Math.min(Number(lrSlider.min), Math.floor(k))));
        lrSlider.max = String(Math.min(Math.log10(LR_RANGE[1]), Math.max(Number(lrSlider.max), Math.ceil(k))));
      }
      lrSlider.value = String(k);
    }
    if (mom && momSlider) {
      const m = Number(mom.value.trim());
      if (mom.value.trim() && Number.isFinite(m)) {
        momSlider.value = String(momentumToSlider(m));
        momSlider.setAttribute("aria-valuetext", mom.value.trim());
      }
    }
  }

  /** The values typed for a racer: {lr, momentum, params, key} or {error}. */
  readWhatif(racer) {
    const { lr, mom } = racer.ui;
    const parse = (text) => (text.trim() === "" ? NaN : Number(text.trim()));
    const rate = parse(lr.value);
    if (!(rate >= LR_RANGE[0] && rate <= LR_RANGE[1])) {
      return { error: t("race.whatif.badLr", { value: lr.value.trim() || "∅", min: fmt(LR_RANGE[0]), max: fmt(LR_RANGE[1]) }), input: lr };
    }
    const params = whatifParams(this.race.race, racer, String(rate));
    if (mom) {
      const m = parse(mom.value);
      if (!(m >= MOMENTUM_RANGE[0] && m <= MOMENTUM_RANGE[1])) {
        return { error: t("race.whatif.badMomentum", { value: mom.value.trim() || "∅", min: fmt(MOMENTUM_RANGE[0]), max: fmt(MOMENTUM_RANGE[1]) }), input: mom };
      }
      params.momentum = String(m);
    }
    return { params, key: `${params.learning_rate}|${params.momentum ?? ""}` };
  }

  /**
   * Ask for the what-if the inputs show. One request per racer is in flight at a time;
   * while it runs, newer values replace each other (only the latest is kept: a superseded
   * value is dropped, never queued), and the latest is sent when the answer is drawn, so
   * the path follows a dragged slider. A final value (slider released, typed, reset)
   * aborts an in-flight request for another value (AbortController).
   */
  requestWhatif(racer, { final = false } = {}) {
    if (!this.racers.includes(racer)) return; // the race was reloaded meanwhile
    racer.inputAt = performance.now();
    const { lr, mom, note } = racer.ui;
    for (const input of [lr, mom]) input?.removeAttribute("aria-invalid");
    const read = this.readWhatif(racer);
    if (read.error) {
      // a plain message beside the inputs; the map and leaderboard say the shown path is
      // not for these values (never a silent contradiction)
      this.abortWhatif(racer);
      racer.wanted = null;
      read.input.setAttribute("aria-invalid", "true");
      note.hidden = false;
      note.className = "whatif-note whatif-error";
      note.textContent = `${read.error} ${racer.whatif ? t("race.whatif.staleShown") : t("race.whatif.staleLogged")}`;
      this.markStale(racer, true);
      this.save();
      return;
    }
    if (sameAsLogged(racer, lr.value, mom ? mom.value : null)) {
      this.resetWhatif(racer, { keepInputs: true });
      return;
    }
    racer.wanted = read;
    if (racer.inflight && final && racer.inflight.key !== read.key) this.abortWhatif(racer);
    this.markStale(racer, false); // on its way: the row says "recomputing…" meanwhile
    this.pumpWhatif(racer);
    this.save();
  }

  async pumpWhatif(racer) {
    const wanted = racer.wanted;
    if (racer.inflight || !wanted || wanted.key === racer.shownKey) return;
    const controller = new AbortController();
    const inflight = { key: wanted.key, controller, inputAt: racer.inputAt };
    racer.inflight = inflight;
    const { note, row } = racer.ui;
    row.classList.add("whatif-busy");
    if (note.hidden || note.classList.contains("whatif-error")) {
      note.hidden = false;
      note.className = "whatif-note";
      note.textContent = t("race.whatif.computing");
    }
    try {
      const json = await fetchWhatif(wanted.params, controller.signal);
      if (racer.inflight !== inflight || !this.racers.includes(racer)) return;
      racer.inflight = null;
      racer.track = prepareTrack(json);
      racer.whatif = true;
      racer.approx = false; // the exact path replaces the family's approximation
      row.classList.remove("whatif-approx-row");
      racer.shownKey = inflight.key;
      note.className = "whatif-note";
      note.textContent = t("race.whatif.shown", { hyper: hyperText(json.hyperparameters) });
      racer.ui.reset.hidden = false;
      this.markStale(racer, false, { redraw: false });
      this.redrawRacer(racer);
      if (racer.wanted?.key === inflight.key) {
        this.whatifTimings.push(performance.now() - racer.inputAt);
        if (this.whatifTimings.length > 200) this.whatifTimings.shift();
      }
    } catch (err) {
      if (racer.inflight !== inflight) return; // aborted or superseded: nothing to say
      racer.inflight = null;
      if (err.name === "AbortError") return;
      racer.wanted = null;
      note.hidden = false;
      note.className = "whatif-note whatif-error";
      // the reason in words, beside the inputs (not hidden in a tooltip)
      note.textContent = `${t("race.whatif.failed", { error: errorText(err) })} ${racer.whatif ? t("race.whatif.staleShown") : t("race.whatif.staleLogged")}`;
      this.markStale(racer, true);
    } finally {
      if (!racer.inflight) row.classList.remove("whatif-busy");
    }
    this.pumpWhatif(racer);
  }

  abortWhatif(racer) {
    clearTimeout(racer.typing);
    if (racer.inflight) {
      racer.inflight.controller.abort();
      racer.inflight = null;
      racer.ui?.row.classList.remove("whatif-busy");
    }
  }

  /** Mark (or clear) a racer whose shown path is not for the values in its inputs. */
  markStale(racer, stale, { redraw = true } = {}) {
    if (Boolean(racer.stale) === stale) return;
    racer.stale = stale;
    racer.ui.row.classList.toggle("whatif-stale", stale);
    if (redraw) {
      this.map.updateRacer(racer);
      this.board.refresh();
      this.updateBanner();
    }
  }

  resetWhatif(racer, { keepInputs = false } = {}) {
    this.abortWhatif(racer);
    racer.wanted = null;
    racer.shownKey = null;
    racer.track = racer.loggedTrack;
    racer.whatif = false;
    racer.approx = false;
    racer.stale = false;
    const hyper = racer.hyperparameters || {};
    const { ui } = racer;
    if (!keepInputs) {
      ui.lr.value = shown(hyper.learning_rate);
      if (ui.mom) ui.mom.value = shown(hyper.momentum);
      this.syncSliders(racer);
    }
    for (const input of [ui.lr, ui.mom]) input?.removeAttribute("aria-invalid");
    ui.row.classList.remove("whatif-stale", "whatif-approx-row");
    ui.note.hidden = true;
    ui.reset.hidden = true;
    this.redrawRacer(racer);
    this.save();
  }

  /** Redraw one racer's path, loss line, row and leaderboard row (a what-if drag calls this
   * per slider value: the map and the loss chart redraw that racer alone where they can, and
   * the map's trails and the leaderboard are drawn once, by setStep). */
  redrawRacer(racer) {
    racer.ui.row.classList.toggle("legend-whatif", racer.whatif);
    this.showStatus(racer);
    this.map.updateRacer(racer, { step: false });
    this.updateMaxStep();
    this.loss.redrawRacer(racer, this.drawable(), this.maxStep);
    this.updateBanner();
    const boardAt = this.boardAt;
    this.setStep(this.step);
    if (this.boardAt === boardAt) this.board.refresh(); // setStep left the table as it was (playing)
  }

  updateBanner() {
    const active = this.racers.filter((r) => r.whatif).map((r) => r.title);
    const stale = this.racers.filter((r) => r.stale).map((r) => r.title);
    const approx = this.racers.filter((r) => r.whatif && r.approx).map((r) => r.title);
    const parts = [];
    if (approx.length) parts.push(t("race.whatif.bannerApprox", { count: approx.length, names: approx.join(", ") }));
    if (active.length) parts.push(t("race.whatif.banner", { count: active.length, names: active.join(", ") }));
    if (stale.length) parts.push(t("race.whatif.bannerStale", { count: stale.length, names: stale.join(", ") }));
    // One line, always there once a race is shown (a quiet "logged runs" when no what-if is
    // on): the first what-if input changes its words, never the page's layout, so a slider
    // never moves under the pointer mid-drag. The whole text is in its title.
    const text = parts.length ? parts.join(" ") : t("race.whatif.bannerNone");
    this.whatifBanner.hidden = !this.built;
    this.whatifBanner.classList.toggle("race-whatif-idle", !parts.length);
    setText(this.whatifBanner, text);
    this.whatifBanner.title = text;
  }

  /** The racer row's badge: no data, or (once the shown step reaches it) where the path
   * stopped: an escape (surface unbounded below, the lesson's aim) or a divergence. */
  showStatus(racer) {
    const { status } = racer.ui;
    const tr = racer.track;
    let badge = null;
    if (racer.error) {
      badge = { cls: "race-badge-error", text: t("race.status.noData"), title: racer.error, outcome: "error" };
    } else if (tr && tr.divergedStep !== null && this.step >= tr.divergedStep) {
      const escaped = (racer.whatif ? tr.metrics : racer.metrics ?? tr.metrics)?.outcome === "escaped";
      const params = { step: tr.divergedStep };
      badge = escaped
        ? { cls: "race-badge-escaped escaped-badge", text: t("race.status.escaped", params), title: t("race.status.escapedTitle"), outcome: "escaped" }
        : { cls: "race-badge-diverged diverged-badge", text: t("race.status.diverged", params), title: t("race.status.divergedTitle"), outcome: "diverged" };
    }
    const key = badge ? `${badge.outcome}|${badge.text}` : "";
    if (status.dataset.key === key) return; // called every frame while playing: touch the DOM on a change only
    status.dataset.key = key;
    status.replaceChildren(...(badge ? [el("span", { class: `race-badge ${badge.cls}`, text: badge.text, title: badge.title,
      "data-outcome": badge.outcome })] : []));
  }

  setVisible(racer, visible) {
    racer.visible = visible;
    this.map.setVisible(racer);
    this.loss.setRacers(this.drawable(), this.maxStep);
    this.board.refresh();
    this.save();
  }

  setTheme(theme) {
    this.theme = theme;
    this.map?.setTheme(theme);
    this.recolour();
  }

  /** Give every racer its colour slot's colour in the shown theme (each reaches 3:1 against
   * that theme's background) and redraw what is drawn in it. */
  recolour() {
    for (const racer of this.racers) {
      if (racer.slot === undefined) continue;
      racer.color = categorical(racer.slot, this.theme).color;
      const swatch = racer.ui?.swatch;
      if (swatch) {
        swatch.style.background = racer.color;
        if (racer.dash) swatch.style.borderColor = racer.color;
      }
    }
    if (!this.built) return;
    const drawable = this.drawable();
    this.map.setRacers(drawable);
    this.loss.setRacers(drawable, this.maxStep);
    this.board.refresh();
    this.setStep(this.step);
  }

  // -- step and play --------------------------------------------------------------------
  setStep(s) {
    const t0 = performance.now();
    this.step = Math.max(0, Math.min(this.maxStep, s));
    const whole = Math.round(this.step);
    if (this.scrubber.value !== String(whole)) this.scrubber.value = String(whole);
    // the same words again (a what-if redraw at the same step) leave the sticky bar unpainted
    if (setText(this.stepLabel, t("race.controls.stepOf", { step: fmtInteger(whole), max: fmtInteger(this.maxStep) }))) {
      this.scrubber.setAttribute("aria-valuetext", this.stepLabel.textContent);
    }
    this.map?.setStep(this.step);
    this.loss?.setStep(this.step);
    // the racer rows and the leaderboard say only what has happened by this step (the
    // verdict at the last one); while playing, the table follows every BOARD_MS
    for (const racer of this.racers) if (racer.ui) this.showStatus(racer);
    if (this.board && this.built) {
      const now = performance.now();
      if (!this.playing || this.step >= this.maxStep || now - (this.boardAt || 0) >= BOARD_MS) {
        this.boardAt = now;
        this.board.setStep(this.step, this.maxStep);
      }
    }
    if (!this.playing) this.save();
    return performance.now() - t0;
  }

  /** Space plays or pauses, arrows step (Shift: 10 steps), Home and End jump; not while typing. */
  onKey(e) {
    if (!this.built || e.ctrlKey || e.metaKey || e.altKey) return;
    const target = e.target;
    const tag = target?.tagName;
    if (tag === "SELECT" || tag === "TEXTAREA" || target?.isContentEditable) return;
    if (tag === "INPUT" && target !== this.scrubber) return; // sliders and text keep their keys
    if (tag === "BUTTON" && (e.key === " " || e.key === "Enter")) return; // the button's own action
    const by = e.shiftKey ? 10 : 1;
    const moves = { ArrowRight: by, ArrowLeft: -by, Home: -Infinity, End: Infinity };
    if (e.key === " ") {
      e.preventDefault();
      this.togglePlay();
    } else if (e.key in moves && target !== this.scrubber) {
      e.preventDefault();
      this.pause();
      const step = Math.round(this.step) + moves[e.key];
      this.setStep(Number.isFinite(step) ? step : step > 0 ? this.maxStep : 0);
    }
  }

  showPlaying(playing) {
    this.playButton.textContent = playing ? `❚❚ ${t("race.controls.pause")}` : `▶ ${t("race.controls.play")}`;
    this.playButton.title = playing ? t("race.controls.pauseTitle") : t("race.controls.playTitle");
    this.playButton.setAttribute("aria-pressed", String(playing));
    this.playButton.classList.toggle("playing", playing);
  }

  togglePlay() {
    if (this.playing) return this.pause();
    if (this.step >= this.maxStep) this.setStep(0);
    this.playing = true;
    this.showPlaying(true);
    let last = performance.now();
    const tick = (now) => {
      if (!this.playing) return;
      const dt = Math.min(0.1, (now - last) / 1000);
      last = now;
      const work = this.setStep(this.step + (this.maxStep / RACE_SECONDS) * this.speed * dt);
      this.frameWork.push(work);
      if (this.frameWork.length > 600) this.frameWork.shift();
      if (this.step >= this.maxStep) return this.pause();
      this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  }

  pause() {
    const was = this.playing;
    this.playing = false;
    cancelAnimationFrame(this.frame);
    this.showPlaying(false);
    if (was) this.save();
  }
}

/** Whether typed values are the logged hyper-parameters (shown to 4 significant digits). */
function sameAsLogged(racer, lr, momentum) {
  const logged = racer.hyperparameters || {};
  const same = (text, value) => text.trim() === shown(value) || Number(text.trim()) === value;
  return same(lr, logged.learning_rate) && (momentum === null || same(momentum, logged.momentum));
}

/** A momentum slider's position: -log10(1 - momentum), 0 (momentum 0) to 3 (0.999). */
function momentumToSlider(m) {
  const clamped = Math.min(MOMENTUM_RANGE[1], Math.max(MOMENTUM_RANGE[0], Number(m) || 0));
  return Number((-Math.log10(1 - clamped)).toFixed(4));
}

/** The momentum at a slider position (momentumToSlider's inverse, to 4 significant digits). */
function sliderToMomentum(u) {
  return Number((1 - 10 ** -u).toPrecision(4));
}

/** log10 range of a learning-rate slider: 3 decades below the logged value, 2 above. */
function lrSliderRange(lr) {
  const [lo, hi] = LR_RANGE.map(Math.log10);
  if (!(lr > 0)) return [-4, 0];
  const k = Math.log10(lr);
  return [Math.max(lo, Math.floor(k) - 3), Math.min(hi, Math.ceil(k) + 2)];
}

/** Why a race or racer cannot be re-run, in the page's language: the server sends a code
 * and its arguments (whatif_why) beside an English sentence; an unknown code shows the
 * sentence as sent. The surface is named as the page names `race`'s (its title, in the
 * page's language where the library wrote it). */
function why(entry, race) {
  const code = entry.whatif_why && entry.whatif_why.code;
  if (WHY_CODES.includes(code)) {
    const surface = race.surface === entry.whatif_why.surface ? surfaceTitle(race) : entry.whatif_why.surface;
    return t(`race.whatif.why.${code}`, { ...entry.whatif_why, surface });
  }
  return entry.whatif_reason ? sentence(entry.whatif_reason) : "";
}
const WHY_CODES = ["surface", "projected", "metadata", "optimizer"];

/** A display text the logs carry (`logged`), in the page's language where the library wrote
 * it: the server lists such fields in `library_fields`, and the page's tables hold the
 * library's surfaces and optimizers by their names in the logs (`id`: "beale", "adam").
 * A text of the user's own, or one the page has no translation for, shows as written. */
function libraryText(entry, field, kind, id, logged) {
  if (typeof id !== "string" || !(entry.library_fields || []).includes(field)) return logged;
  const key = `race.library.${kind}.${id}.${field}`;
  return /^[A-Za-z0-9_]+$/.test(id) && hasText(key) ? t(`race.library.${kind}.${id}.${field}`) : logged;
}

/** A race's surface as the page names it: its title (translated where the library wrote
 * it), else its name in the logs. */
function surfaceTitle(race) {
  return libraryText(race, "title", "surface", race.surface, race.title) || race.surface;
}

/** A server's reason ("what-if needs ...") as a sentence of the page. */
function sentence(text) {
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.。]$/.test(text) ? "" : ".");
}

/** A hyper-parameter as an input shows it (4 significant digits; a plain number the
 * server and the input both read back). */
function shown(v) {
  return typeof v === "number" ? String(Number(v.toPrecision(4))) : "";
}

/** The map's axis names: the surface's own parameters (`axes`, e.g. k and b), else x and y. */
function axisLabels(race) {
  const named = (a) => Array.isArray(a) && a.length === 2 && a.every((s) => typeof s === "string" && s);
  if (named(race.axes)) return race.axes;
  if (named(race.basis?.axes)) return race.basis.axes;
  if (race.basis) return [t("race.map.direction1"), t("race.map.direction2")];
  return ["x", "y"];
}

/** Under a map of a model's weights: each direction's share of the racers' motion
 * (`basis.explained`, principal components) and the share the plane holds (`basis.captured`). */
function planeText(race) {
  const b = race.basis;
  if (!b || typeof b !== "object") return "";
  const pct = (v) => (typeof v === "number" && Number.isFinite(v) ? `${(100 * v).toFixed(1)} %` : null);
  const shares = Array.isArray(b.explained) ? b.explained.map(pct) : [];
  const parts = [];
  if (shares.length === 2 && shares.every(Boolean)) parts.push(t("race.map.planeExplained", { a: shares[0], b: shares[1] }));
  if (pct(b.captured)) parts.push(t("race.map.planeCaptured", { share: pct(b.captured) }));
  return parts.join(" · ");
}

/** A bare map description when a race has no surface summary: window from the data. */
function fallbackSurface(race, racers) {
  let window = race.window;
  if (!window) {
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const { track: tr } of racers) {
      for (let i = 0; i <= tr.end; i++) {
        if (!Number.isFinite(tr.x[i]) || !Number.isFinite(tr.y[i])) continue;
        x0 = Math.min(x0, tr.x[i]); x1 = Math.max(x1, tr.x[i]);
        y0 = Math.min(y0, tr.y[i]); y1 = Math.max(y1, tr.y[i]);
      }
    }
    const px = (x1 - x0) * 0.1 || 1;
    const py = (y1 - y0) * 0.1 || 1;
    window = [x0 - px, x1 + px, y0 - py, y1 + py];
  }
  return { window, contours: [], levels: [], minima: race.minima || [], start: race.start, grid: null, scale: "linear", zmin: 0, zmax: 1 };
}
