// Loss against step for every racer, on a log axis (symlog when a loss is <= 0), with a
// cursor that follows the scrubber; clicking or dragging on the chart seeks. Each curve is
// drawn to the shown step: a veil in the page's colour covers what comes after it, so the
// future shows only faintly (playing never gives the ending away). The chart is
// drawn at its real width in CSS pixels (never scaled down), so its labels stay readable.
import { el, svg } from "../common/dom.js";
import { t } from "../common/i18n.js";
import { fmt, linear, lossAxis } from "./scale.js";
import { indexAt } from "./track.js";

const M = { left: 58, right: 24, top: 12, bottom: 34 }; // right: room for the last step label

export class LossChart {
  constructor({ onSeek, width = 560, height = 250 } = {}) {
    this.onSeek = onSeek;
    this.width = width;
    this.height = height;
    this.racers = [];
    this.paths = new Map();
    this.svg = svg("svg", { class: "race-loss-svg", id: "race-loss-svg" });
    this.clipRect = svg("rect", { x: M.left, y: M.top - 2, width: width - M.left - M.right, height: height - M.top - M.bottom + 4 });
    const clip = svg("clipPath", { id: "race-loss-clip" }, this.clipRect);
    this.gAxes = svg("g", { class: "race-axes" });
    this.gLines = svg("g", { class: "race-loss-lines", "clip-path": "url(#race-loss-clip)" });
    this.gDots = svg("g", { class: "race-loss-dots" });
    this.cursor = svg("line", { class: "race-loss-cursor fs-step-cursor", id: "race-loss-cursor", y1: M.top, y2: height - M.bottom });
    this.hoverLine = svg("line", { class: "race-loss-hover", y1: M.top, y2: height - M.bottom, visibility: "hidden" });
    this.svg.append(svg("defs", {}, clip), this.gAxes, this.gLines);
    // The cursor, dots and hover line live in their own light SVG layer, so moving them
    // never repaints the lines below; the lines have a compositing layer of their own too
    // (race.css), so a what-if drag redrawing one line never re-rasterizes the page around
    // them (see map.js).
    this.overlay = svg("svg", { class: "race-loss-overlay", id: "race-loss-overlay" });
    this._sizeLayers();
    // the future: everything right of the cursor, veiled (one rectangle moved per frame)
    this.future = svg("rect", { class: "race-loss-future", id: "race-loss-future", y: M.top - 2,
      height: height - M.top - M.bottom + 4, width: 0 });
    this.overlay.append(this.future, this.hoverLine, this.cursor, this.gDots);
    this.note = el("div", { class: "race-caption", id: "race-loss-note" });
    this.tooltip = el("div", { class: "race-tooltip", id: "race-loss-tooltip" });
    this.tooltip.hidden = true;
    const stage = el("div", { class: "race-loss-stage" }, this.svg, this.overlay, this.tooltip);
    this.root = el("div", { class: "race-loss", id: "race-loss" }, stage, this.note);
    let dragging = false;
    const seek = (e) => {
      if (!this.sx || !this.onSeek) return;
      this.onSeek(Math.round(this.sx.invert(this._mouseX(e))));
    };
    this.overlay.addEventListener("pointerdown", (e) => {
      dragging = true;
      this.overlay.setPointerCapture(e.pointerId);
      seek(e);
    });
    this.overlay.addEventListener("pointermove", (e) => (dragging ? seek(e) : this._hover(e)));
    this.overlay.addEventListener("pointerup", () => (dragging = false));
    this.overlay.addEventListener("pointerleave", () => {
      this.hoverLine.setAttribute("visibility", "hidden");
      this.tooltip.hidden = true;
    });
  }

  /** Size both SVG layers (the lines and the light overlay) to this.width x this.height. */
  _sizeLayers() {
    for (const node of [this.svg, this.overlay]) {
      node.setAttribute("width", this.width);
      node.setAttribute("height", this.height);
      node.setAttribute("viewBox", `0 0 ${this.width} ${this.height}`);
    }
  }

  /** Draw at another width (CSS pixels): the card's width, so nothing is scaled down. */
  resize(width) {
    this.width = Math.max(320, Math.round(width));
    this._sizeLayers();
    this.clipRect.setAttribute("width", this.width - M.left - M.right);
    if (this.maxStep) this.setRacers(this.racers, this.maxStep);
  }

  /** (Re)build axes and lines for the racers (all of them, visible or not). */
  setRacers(racers, maxStep, axis = this._axis(racers)) {
    this.racers = racers;
    this.maxStep = Math.max(1, maxStep);
    this.sx = linear([0, this.maxStep], [M.left, this.width - M.right]);
    this.axis = axis;
    this._drawAxes();
    this.paths.clear();
    this.gLines.replaceChildren();
    this.gDots.replaceChildren();
    for (const r of racers) {
      const path = svg("path", {
        class: "race-loss-path",
        stroke: r.color,
        "stroke-dasharray": r.dash || null,
        "data-optimizer": r.optimizer, "data-run": r.run, "data-racer": r.id,
      });
      const cross = svg("path", { class: "race-diverged", stroke: r.color });
      const dot = svg("circle", { class: "race-loss-dot", r: 3.5, fill: r.color, "data-optimizer": r.optimizer, "data-run": r.run, "data-racer": r.id });
      this.gLines.append(path, cross);
      this.gDots.append(dot);
      this.paths.set(r.id, { path, cross, dot });
      this._drawRacer(r);
    }
    this.note.textContent =
      this.axis.kind === "symlog"
        ? t("race.loss.symlogNote", { c: fmt(this.axis.c) })
        : (this.axis.zeros ? t("race.loss.logNoteZeros") : t("race.loss.logNote"));
    if (this.step !== undefined) this.setStep(this.step);
  }

  /** The loss axis of the visible racers' losses. */
  _axis(racers) {
    const values = [];
    for (const r of racers) {
      if (!r.visible) continue;
      const tk = r.track;
      // The divergence row itself (often astronomically large) would squash the others.
      const last = tk.divergedIndex === null ? tk.end : Math.min(tk.end, tk.divergedIndex - 1);
      for (let i = 0; i <= last; i++) values.push(tk.loss[i]);
    }
    return lossAxis(values, [this.height - M.bottom, M.top]);
  }

  /** Redraw one racer's line (a what-if drag, a reset): that line alone while the racers,
   * the steps and the axis stay those drawn; else everything, as setRacers. The caller sets
   * the step next (the cursor and the markers). */
  redrawRacer(racer, racers, maxStep) {
    const same = this.sx && this.paths.has(racer.id) && Math.max(1, maxStep) === this.maxStep &&
      racers.length === this.racers.length && racers.every((r, k) => r === this.racers[k]);
    const axis = this._axis(racers);
    if (same && axis.key === this.axis.key) this._drawRacer(racer);
    else this.setRacers(racers, maxStep, axis);
  }

  _drawRacer(r) {
    const view = this.paths.get(r.id);
    if (!view) return;
    const tk = r.track;
    const f = this.axis.f;
    let d = "";
    let pen = false;
    for (let i = 0; i <= tk.end && i < tk.n; i++) {
      const y = f(tk.loss[i]);
      if (!Number.isFinite(y)) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${this.sx(tk.step[i]).toFixed(1)} ${y.toFixed(1)}`;
      pen = true;
    }
    view.path.setAttribute("d", d || "M0 0");
    const vis = r.visible ? "visible" : "hidden";
    view.path.setAttribute("visibility", vis);
    view.dot.setAttribute("visibility", vis);
    view.path.classList.toggle("race-whatif", tk.whatif);
    if (tk.divergedIndex !== null) {
      const x = this.sx(tk.divergedStep);
      let y = f(tk.loss[tk.exit]);
      if (!Number.isFinite(y)) y = M.top;
      const top = Math.min(Math.max(y, M.top), this.height - M.bottom);
      view.cross.setAttribute("d", `M${x - 5} ${top - 5}L${x + 5} ${top + 5}M${x - 5} ${top + 5}L${x + 5} ${top - 5}`);
      view.cross.dataset.step = String(tk.divergedStep);
    } else {
      delete view.cross.dataset.step;
      view.cross.setAttribute("visibility", "hidden");
    }
  }

  /** Move the cursor and the per-racer dots to step s. */
  setStep(s) {
    this.step = s;
    if (!this.sx) return;
    const x = this.sx(s).toFixed(1);
    this.cursor.setAttribute("x1", x);
    this.cursor.setAttribute("x2", x);
    this.future.setAttribute("x", x);
    this.future.setAttribute("width", Math.max(0, this.width - M.right + 2 - Number(x)).toFixed(1));
    for (const r of this.racers) {
      const view = this.paths.get(r.id);
      if (!view) continue;
      // a divergence or escape mark appears once the step reaches it
      const reached = r.visible && view.cross.dataset.step !== undefined && s >= Number(view.cross.dataset.step);
      view.cross.setAttribute("visibility", reached ? "visible" : "hidden");
      if (!r.visible) continue;
      const tk = r.track;
      const i = indexAt(tk, s);
      const gone = tk.divergedIndex !== null && i >= tk.divergedIndex;
      const y = this.axis.f(tk.loss[gone ? tk.exit : i]);
      if (Number.isFinite(y)) {
        const at = gone ? tk.divergedStep : Math.min(s, tk.lastStep);
        view.dot.setAttribute("cx", this.sx(at).toFixed(1));
        // a racer that blew up sits on the chart's edge, not above it
        view.dot.setAttribute("cy", Math.min(Math.max(y, M.top), this.height - M.bottom).toFixed(1));
      }
    }
  }

  _mouseX(event) {
    const box = this.overlay.getBoundingClientRect();
    return ((event.clientX - box.left) * this.width) / box.width;
  }

  _hover(event) {
    if (!this.sx) return;
    const mx = this._mouseX(event);
    const s = Math.round(Math.min(this.maxStep, Math.max(0, this.sx.invert(mx))));
    const x = this.sx(s);
    this.hoverLine.setAttribute("x1", x);
    this.hoverLine.setAttribute("x2", x);
    this.hoverLine.setAttribute("visibility", "visible");
    const rows = [];
    for (const r of this.racers) {
      if (!r.visible) continue;
      const tk = r.track;
      const i = indexAt(tk, s);
      const diverged = tk.divergedIndex !== null && s >= tk.divergedStep;
      const row = el("div", { class: "race-tooltip-row" },
        el("span", { class: "race-swatch" }),
        el("span", { class: "race-tooltip-name", text: r.title }),
        el("span", { class: "race-tooltip-value", text: diverged ? (tk.metrics?.outcome === "escaped" ? t("race.loss.escaped") : t("race.loss.diverged")) : fmt(tk.loss[i], 4) }));
      row.firstChild.style.background = r.color;
      rows.push(row);
    }
    this.tooltip.replaceChildren(el("div", { class: "race-tooltip-title", text: t("race.loss.tipStep", { step: s }) }), ...rows);
    this.tooltip.hidden = false;
    this.tooltip.style.left = `${x + 12 > this.width - 190 ? x - 190 : x + 12}px`;
    this.tooltip.style.top = `${M.top}px`;
  }

  _drawAxes() {
    const g = [];
    const [left, right, top, bottom] = [M.left, this.width - M.right, M.top, this.height - M.bottom];
    g.push(svg("rect", { class: "race-frame", x: left, y: top, width: right - left, height: bottom - top }));
    for (const v of this.sx.ticks(8)) {
      const x = this.sx(v);
      g.push(svg("line", { class: "race-tick", x1: x, x2: x, y1: bottom, y2: bottom + 4 }));
      g.push(svg("text", { class: "race-tick-label", x, y: bottom + 16, "text-anchor": "middle", text: fmt(v) }));
    }
    for (const v of this.axis.ticks) {
      const y = this.axis.f(v);
      if (!Number.isFinite(y)) continue;
      g.push(svg("line", { class: "race-gridline", x1: left, x2: right, y1: y, y2: y }));
      g.push(svg("text", { class: "race-tick-label", x: left - 6, y: y + 4, "text-anchor": "end", text: fmt(v) }));
    }
    g.push(svg("text", { class: "race-axis-label", x: (left + right) / 2, y: this.height - 4, "text-anchor": "middle", text: t("race.loss.step") }));
    g.push(svg("text", {
      class: "race-axis-label", x: 12, y: (top + bottom) / 2, "text-anchor": "middle",
      transform: `rotate(-90 12 ${(top + bottom) / 2})`,
      text: this.axis.kind === "symlog" ? t("race.loss.axisSymlog") : t("race.loss.axisLog"),
    }));
    this.gAxes.replaceChildren(...g);
  }
}
