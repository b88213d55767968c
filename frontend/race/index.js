// Optimizer Race page (TensorBoard calls render() inside the plugin iframe).
//
// One race at a time: the contour map with one path per racer, a loss chart and a
// leaderboard, all driven by one step (play / pause / speed / scrubber). What-if inputs
// ask the server to re-run a racer with another learning rate (and momentum).
import { el, getJSON, loadStyles, message } from "./static/common/dom.js";
import { categorical } from "./static/common/colors.js";
import { ContourMap } from "./static/race/map.js";
import { LossChart } from "./static/race/losschart.js";
import { Leaderboard, hyperText } from "./static/race/leaderboard.js";
import { prepareTrack } from "./static/race/track.js";

const POINTS = 1500; // rows per path the server keeps (LTTB); plenty for a 500 px map
const RACE_SECONDS = 10; // a whole race plays in this many seconds at 1x
const SPEEDS = [0.25, 0.5, 1, 2, 4, 8];
const WHATIF_DELAY_MS = 250;
const POLL_MS = 5000; // live training: how often to look for new races and steps
const NO_RACES = "No optimizer races in this logdir yet. Write one with `flowscope race --logdir DIR`.";

export async function render() {
  loadStyles("race/race.css");
  const app = new RacePage();
  document.body.append(app.root);
  window.flowscopeRace = app; // handy from the devtools console and for tests
  await app.start();
}

class RacePage {
  constructor() {
    this.racers = [];
    this.step = 0;
    this.maxStep = 0;
    this.speed = 1;
    this.playing = false;
    this.frameWork = []; // ms spent updating the views per animation frame (last 600)
    this.loadToken = 0;

    this.picker = el("select", { id: "race-picker", "aria-label": "race", onchange: () => this.selectRace(this.picker.value) });
    this.surfaceChip = el("span", { class: "race-chip race-chip-surface", id: "race-surface-name" });
    this.header = el("div", { class: "race-header" },
      el("h1", { text: "Optimizer Race" }),
      el("label", { class: "race-picker-label" }, "race", this.picker),
      this.surfaceChip);

    this.playButton = el("button", { id: "race-play", class: "race-button race-button-primary", type: "button", onclick: () => this.togglePlay() }, "▶ Play");
    this.speedSelect = el("select", { id: "race-speed", "aria-label": "speed", onchange: () => (this.speed = Number(this.speedSelect.value)) },
      SPEEDS.map((s) => el("option", { value: s, selected: s === 1, text: `${s}×` })));
    this.scrubber = el("input", { id: "race-scrubber", type: "range", min: 0, max: 0, step: 1, value: 0, "aria-label": "step",
      oninput: () => { this.pause(); this.setStep(Number(this.scrubber.value)); } });
    this.stepLabel = el("span", { id: "race-step", class: "race-step" });
    this.controls = el("div", { class: "race-controls fs-toolbar", id: "race-controls" },
      this.playButton, el("label", {}, "speed", this.speedSelect), this.scrubber, this.stepLabel);

    this.whatifBanner = el("div", { class: "race-whatif-banner", id: "race-whatif-banner" });
    this.whatifBanner.hidden = true;
    this.body = el("div", { class: "race-body", id: "race-body" });
    this.root = el("div", { class: "fs-page race-page", id: "race-page" },
      this.header, this.controls, this.whatifBanner, this.body);
    this.controls.hidden = true;
  }

  async start() {
    message(this.body, "Loading races…");
    this.races = [];
    try {
      ({ races: this.races } = await getJSON("races"));
    } catch (err) {
      message(this.body, `Could not load races: ${err.message}`, "error");
    }
    // Training may still be writing: check for new races and steps every few seconds
    // (one /races request), and at once when the tab becomes visible again.
    setInterval(() => this.poll(), POLL_MS);
    document.addEventListener("visibilitychange", () => this.poll());
    if (this.races.length) {
      this.fillPicker();
      await this.selectRace(this.races[0].race);
    } else if (!this.body.querySelector(".fs-error")) {
      message(this.body, NO_RACES);
    }
  }

  /** Options of the race picker (rebuilt only when the list changed; keeps the selection). */
  fillPicker() {
    const label = (r) => `${r.race} · ${r.racers.length} racer${r.racers.length === 1 ? "" : "s"}`;
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
      const { races } = await getJSON("races");
      const current = this.race && races.find((r) => r.race === this.race.race);
      if (this.race && !current) races.push(this.race); // vanished: keep what is shown
      this.races = races;
      this.fillPicker();
      if (!this.race) {
        if (races.length) await this.selectRace(races[0].race);
        else message(this.body, NO_RACES);
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
    const answers = await Promise.all(grown.map((r) =>
      getJSON("trajectory", { run: r.run, tag: r.tag, points: POINTS }).catch((err) => ({ error: err.message }))));
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
    this.loss.setRacers(this.racers.filter((r) => r.track && r.track.n), this.maxStep);
    this.board.refresh();
    // Someone watching the end keeps watching it; a playing race simply runs further.
    this.setStep(atEnd && !this.playing ? this.maxStep : this.step);
  }

  /**
   * Show one race. `quiet` (a live update of the shown race) keeps the page, the step,
   * the play state and the hidden racers while loading; what-ifs are dropped.
   */
  async selectRace(name, { quiet = false } = {}) {
    const token = ++this.loadToken;
    this.loaded = null;
    const race = this.races.find((r) => r.race === name);
    this.race = race;
    this.picker.value = name;
    this.picker.title = name;
    const surfaceText = race.surface ? `surface: ${race.title || race.surface}` : "surface unknown";
    this.surfaceChip.textContent = surfaceText;
    const about = [race.formula && `f(x, y) = ${race.formula}`, race.description].filter(Boolean);
    this.surfaceChip.title = [surfaceText, ...about].join(" — ");
    if (!quiet) {
      this.pause();
      this.built = false;
      this.controls.hidden = true;
      this.whatifBanner.hidden = true;
      message(this.body, `Loading ${name}…`);
    }
    const surfaceP = race.surface_series
      ? getJSON("surface", { race: name }).catch((err) => ({ error: err.message }))
      : Promise.resolve({ error: "the race logged no surface" });
    const boardP = getJSON("leaderboard", { race: name }).catch((err) => ({ error: err.message }));
    const tracks = await Promise.all(race.racers.map((r) =>
      r.error ? Promise.resolve({ error: r.error })
        : getJSON("trajectory", { run: r.run, tag: r.tag, points: POINTS }).catch((err) => ({ error: err.message }))));
    const [surface, board] = await Promise.all([surfaceP, boardP]);
    if (token !== this.loadToken) return; // another race was picked meanwhile
    const keep = quiet && this.built
      ? { step: this.step, atEnd: this.step >= this.maxStep, hidden: new Set(this.racers.filter((r) => !r.visible).map((r) => r.id)) }
      : null;
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
    const titles = new Map();
    for (const r of race.racers) titles.set(r.title, (titles.get(r.title) || 0) + 1);
    this.racers = race.racers.map((r, index) => {
      const { color, dash } = categorical(slots[index]);
      const json = tracks[index];
      const row = rows.get(r.id);
      const track = json.error ? null : prepareTrack(json);
      return {
        ...r,
        title: titles.get(r.title) > 1 ? `${r.title} (${r.id})` : r.title,
        rerunnable: Boolean(r.whatif), // the server's per-racer answer; `whatif` is the shown state
        index,
        color,
        dash,
        visible: Boolean(track) && !keep?.hidden.has(r.id),
        error: json.error || null,
        track,
        loggedTrack: track,
        metrics: row && !row.error ? row : track?.metrics ?? null,
        whatif: false,
        request: 0,
      };
    });
    const live = this.racers.filter((r) => r.track && r.track.n);
    if (!live.length) {
      const why = this.racers.map((r) => `${r.title}: ${r.error || "no rows"}`).join("; ");
      this.pause();
      this.controls.hidden = true;
      return message(this.body, `No trajectory in race ${name} could be read (${why}).`, "error");
    }
    this.surface = surface.error ? fallbackSurface(race, live) : surface;
    this.surfaceNote = surface.error ? `No surface summary for this race (${surface.error}); showing paths only.` : "";
    this.buildViews(keep);
  }

  buildViews(keep = null) {
    const race = this.race;
    this.map = new ContourMap({ onSeek: (s) => { this.pause(); this.setStep(s); } });
    this.loss = new LossChart({ onSeek: (s) => { this.pause(); this.setStep(s); } });
    this.board = new Leaderboard();
    const labels = race.basis ? basisLabels(race.basis) : ["x", "y"];
    this.map.setSurface(this.surface, { axisLabels: labels });
    const drawable = this.racers.filter((r) => r.track && r.track.n);
    this.map.setRacers(drawable);
    this.updateMaxStep();
    this.loss.setRacers(drawable, this.maxStep);
    this.board.setRacers(this.racers, race.tolerance);

    this.legend = el("tbody");
    this.legendTable = el("table", { class: "race-legend", id: "race-legend" },
      el("thead", {}, el("tr", {},
        el("th", { class: "text", text: "racer" }),
        el("th", { text: "learning rate" }),
        el("th", { text: "momentum" }),
        el("th", { class: "text", text: "" }))),
      this.legend);
    this.legend.replaceChildren(...this.racers.map((r) => this.legendRow(r)));
    // The server says why a race or racer cannot be re-run (surface, or not a Keras optimizer).
    const whatifHelp = race.whatif
      ? "Change a learning rate or momentum to re-run that optimizer on the server (real Keras optimizer)."
      : sentence(race.whatif_reason || "this race's paths are fixed");

    const card = (title, id, ...children) =>
      el("section", { class: "race-card", id }, el("h2", { text: title }), ...children);
    const mapNote = this.surfaceNote ? el("div", { class: "fs-message fs-error race-note", text: this.surfaceNote }) : null;
    this.body.replaceChildren(
      el("div", { class: "race-grid" },
        card("Loss surface", "race-map-card", mapNote, this.map.root),
        el("div", { class: "race-side" },
          card("Loss per step", "race-loss-card", this.loss.root),
          card("Racers", "race-legend-card", el("div", { class: "race-caption", text: whatifHelp }), this.legendTable))),
      card("Leaderboard", "race-leaderboard-card", this.board.root),
    );
    this.controls.hidden = false;
    this.whatifBanner.hidden = true;
    this.built = true;
    this.scrubber.max = String(this.maxStep);
    // Start by showing the finished race (Play replays it); a live update keeps the step.
    this.setStep(keep && (this.playing || !keep.atEnd) ? keep.step : this.maxStep);
  }

  updateMaxStep() {
    this.maxStep = Math.max(1, ...this.racers.filter((r) => r.track).map((r) => r.track.lastStep));
    this.scrubber.max = String(this.maxStep);
    if (this.step > this.maxStep) this.setStep(this.maxStep);
  }

  legendRow(racer) {
    const swatch = el("span", { class: "race-swatch" + (racer.dash ? " race-swatch-dashed" : "") });
    swatch.style.background = racer.color;
    if (racer.dash) swatch.style.borderColor = racer.color;
    const toggle = el("input", { type: "checkbox", class: "racer-toggle", checked: racer.visible, disabled: !racer.track,
      "aria-label": `show ${racer.title}`,
      onchange: () => this.setVisible(racer, toggle.checked) });
    const hyper = racer.hyperparameters || {};
    const canWhatif = Boolean(racer.rerunnable && racer.track);
    const off = racer.rerunnable ? "" : racer.whatif_reason || "what-if is not available for this racer";
    const lr = el("input", { type: "number", class: "whatif-lr", step: "any", min: "0", value: shown(hyper.learning_rate),
      disabled: !canWhatif || typeof hyper.learning_rate !== "number", "aria-label": `${racer.title} learning rate`,
      title: off || "learning rate (what-if)" });
    const hasMomentum = typeof hyper.momentum === "number";
    const mom = hasMomentum
      ? el("input", { type: "number", class: "whatif-momentum", step: "any", min: "0", max: "0.999", value: shown(hyper.momentum),
        disabled: !canWhatif, "aria-label": `${racer.title} momentum`, title: off || "momentum (what-if)" })
      : el("span", { class: "race-muted", text: "—" });
    const reset = el("button", { type: "button", class: "race-button whatif-reset", text: "reset", hidden: true,
      title: "back to the logged path", onclick: () => this.resetWhatif(racer) });
    const status = el("span", { class: "race-row-status" });
    const note = el("div", { class: "whatif-note", hidden: true });
    // A racer the others' what-if cannot cover (not a Keras optimizer): its logged
    // hyper-parameters as written, and why its inputs are off (the caption covers a race
    // where no racer can be re-run).
    const offNote = off && this.race.whatif
      ? el("div", { class: "whatif-off", text: `${hyperText(hyper)} · ${off}`, title: off })
      : null;
    const now = () => {
      clearTimeout(racer.ui.timer);
      this.runWhatif(racer);
    };
    for (const input of [lr, mom]) {
      if (input.tagName !== "INPUT") continue;
      input.addEventListener("input", () => {
        clearTimeout(racer.ui.timer);
        racer.ui.timer = setTimeout(now, WHATIF_DELAY_MS);
      });
      input.addEventListener("change", now);
    }
    const chips = [];
    if (racer.tuning) {
      const t = racer.tuning;
      chips.push(el("span", { class: "race-chip race-chip-tuned", text: "tuned",
        title: `best of ${t.budget ?? "?"} trials (${t.method || "tuned"}); objective: ${t.objective || "?"}` }));
      const edge = Array.isArray(t.at_edge) ? t.at_edge.join(", ") : t.at_edge ? String(t.at_edge) : "";
      if (edge) {
        chips.push(el("span", { class: "race-chip race-chip-edge", text: "at edge",
          title: `the best value sits at the edge of the search space (${edge}): widen it` }));
      }
    }
    const name = el("label", { class: "race-legend-name" }, toggle, swatch,
      el("span", { class: "race-name", text: racer.title, title: racer.title }), ...chips);
    const row = el("tr", { class: "legend-row", "data-optimizer": racer.optimizer, "data-run": racer.run, "data-racer": racer.id },
      el("td", { class: "text" }, name, offNote, note),
      el("td", {}, lr),
      el("td", {}, mom),
      el("td", { class: "text" }, status, reset));
    if (canWhatif) {
      // Tracing the optimizer's program costs a second or more on first use: start it as
      // soon as the user heads for this racer's inputs.
      row.addEventListener("focusin", () => this.warmup(racer));
      row.addEventListener("pointerenter", () => this.warmup(racer));
    }
    racer.ui = { row, toggle, lr, mom: hasMomentum ? mom : null, reset, status, note };
    this.showStatus(racer);
    return row;
  }

  warmup(racer) {
    if (racer.warming) return;
    racer.warming = true;
    getJSON("whatif", { race: this.race.race, racer: racer.id, warmup: 1 }).catch(() => {
      racer.warming = false; // try again on the next visit
    });
  }

  showStatus(racer) {
    const { status } = racer.ui;
    const t = racer.track;
    if (racer.error) {
      status.replaceChildren(el("span", { class: "race-badge race-badge-error", text: "no data", title: racer.error }));
    } else if (t && t.divergedStep !== null) {
      // the path stops here: an escape (surface unbounded below, the lesson's aim) or a divergence
      const escaped = t.metrics?.outcome === "escaped";
      status.replaceChildren(el("span", {
        class: escaped ? "race-badge race-badge-escaped escaped-badge" : "race-badge race-badge-diverged diverged-badge",
        text: `${escaped ? "escaped" : "diverged"} at step ${t.divergedStep}`, title: t.metrics?.reason || "diverged" }));
    } else {
      status.replaceChildren();
    }
  }

  setVisible(racer, visible) {
    racer.visible = visible;
    this.map.setVisible(racer);
    this.loss.setRacers(this.racers.filter((r) => r.track && r.track.n), this.maxStep);
    this.board.refresh();
  }

  async runWhatif(racer) {
    if (!this.racers.includes(racer)) return; // the race was reloaded meanwhile
    const { lr, mom, note } = racer.ui;
    const params = { race: this.race.race, racer: racer.id, learning_rate: lr.value, points: POINTS };
    if (mom) params.momentum = mom.value;
    const logged = racer.hyperparameters || {};
    if (lr.value === shown(logged.learning_rate) && (!mom || mom.value === shown(logged.momentum))) {
      if (racer.whatif) this.resetWhatif(racer);
      return;
    }
    const key = `${lr.value}|${mom ? mom.value : ""}`;
    if (key === racer.whatifKey) return; // already shown or on its way (input, then change)
    racer.whatifKey = key;
    const ticket = ++racer.request;
    racer.ui.row.classList.add("whatif-busy");
    if (note.hidden) {
      // Only the first time: later, keep the row's height so nothing moves under the mouse.
      note.hidden = false;
      note.className = "whatif-note";
      note.textContent = "recomputing…";
    }
    try {
      const json = await getJSON("whatif", params);
      if (ticket !== racer.request || !this.racers.includes(racer)) return;
      racer.track = prepareTrack(json);
      racer.whatif = true;
      note.className = "whatif-note";
      note.textContent = `what-if: ${hyperText(json.hyperparameters)} — not the logged path`;
      racer.ui.reset.hidden = false;
      this.redrawRacer(racer);
    } catch (err) {
      if (ticket !== racer.request) return;
      racer.whatifKey = null;
      note.className = "whatif-note whatif-error";
      note.textContent = `what-if failed: ${err.message}`;
    } finally {
      if (ticket === racer.request) racer.ui.row.classList.remove("whatif-busy");
    }
  }

  resetWhatif(racer) {
    racer.request++;
    racer.whatifKey = null;
    clearTimeout(racer.ui.timer);
    racer.track = racer.loggedTrack;
    racer.whatif = false;
    const hyper = racer.hyperparameters || {};
    racer.ui.lr.value = shown(hyper.learning_rate);
    if (racer.ui.mom) racer.ui.mom.value = shown(hyper.momentum);
    racer.ui.note.hidden = true;
    racer.ui.reset.hidden = true;
    racer.ui.row.classList.remove("whatif-busy");
    this.redrawRacer(racer);
  }

  redrawRacer(racer) {
    racer.ui.row.classList.toggle("legend-whatif", racer.whatif);
    this.showStatus(racer);
    this.map.updateRacer(racer);
    this.updateMaxStep();
    this.loss.setRacers(this.racers.filter((r) => r.track && r.track.n), this.maxStep);
    this.board.refresh();
    const active = this.racers.filter((r) => r.whatif).map((r) => r.title);
    this.whatifBanner.hidden = !active.length;
    this.whatifBanner.textContent = active.length
      ? `What-if active for ${active.join(", ")}: ${active.length === 1 ? "its path is" : "their paths are"} recomputed ` +
        "by the server and no longer the logged run (the logged path shows dotted). Use reset to go back."
      : "";
    this.setStep(this.step);
  }

  setStep(s) {
    const t0 = performance.now();
    this.step = Math.max(0, Math.min(this.maxStep, s));
    const whole = Math.round(this.step);
    this.scrubber.value = String(whole);
    this.stepLabel.textContent = `step ${whole} / ${this.maxStep}`;
    this.map?.setStep(this.step);
    this.loss?.setStep(this.step);
    return performance.now() - t0;
  }

  togglePlay() {
    if (this.playing) return this.pause();
    if (this.step >= this.maxStep) this.setStep(0);
    this.playing = true;
    this.playButton.textContent = "❚❚ Pause";
    this.playButton.classList.add("playing");
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
    this.playing = false;
    cancelAnimationFrame(this.frame);
    this.playButton.textContent = "▶ Play";
    this.playButton.classList.remove("playing");
  }
}

/** A server's reason ("what-if needs ...") as a sentence of the page. */
function sentence(text) {
  return text.charAt(0).toUpperCase() + text.slice(1) + (text.endsWith(".") ? "" : ".");
}

/** A hyper-parameter as an input shows it (4 significant digits). */
function shown(v) {
  return typeof v === "number" ? String(Number(v.toPrecision(4))) : "";
}

function basisLabels(basis) {
  if (Array.isArray(basis?.axes) && basis.axes.length === 2) return basis.axes.map(String);
  return ["direction 1", "direction 2"];
}

/** A bare map description when a race has no surface summary: window from the data. */
function fallbackSurface(race, racers) {
  let window = race.window;
  if (!window) {
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const { track: t } of racers) {
      for (let i = 0; i <= t.end; i++) {
        if (!Number.isFinite(t.x[i]) || !Number.isFinite(t.y[i])) continue;
        x0 = Math.min(x0, t.x[i]); x1 = Math.max(x1, t.x[i]);
        y0 = Math.min(y0, t.y[i]); y1 = Math.max(y1, t.y[i]);
      }
    }
    const px = (x1 - x0) * 0.1 || 1;
    const py = (y1 - y0) * 0.1 || 1;
    window = [x0 - px, x1 + px, y0 - py, y1 + py];
  }
  return { window, contours: [], levels: [], minima: race.minima || [], start: race.start, grid: null, scale: "linear", zmin: 0, zmax: 1 };
}

