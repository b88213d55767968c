// The contour map, in layers from the bottom: the surface background (canvas), the contour
// lines and axes (static SVG), one full path per racer (an SVG of its own), the travelled
// part of each path (a canvas redrawn per frame) and the markers (a small SVG). Each layer
// above the background is its own compositing layer (race.css), because each changes at its
// own pace and software rendering (headless Chromium, a browser without GPU) pays per layer
// touched:
// * playing the race repaints only the trails and the markers: repainting the full paths
//   (12 x 1,500-point paths plus contours) would cost about 100 ms a frame;
// * a what-if drag redraws one racer's full path: the paths' layer is re-rasterized, never
//   the contours and axes (thousands of segments on Rastrigin);
// * the trails are the costliest part of a drag's frame (stroking 12 long polylines twice in
//   software takes 13 ms on Rastrigin): when one racer alone changed at the same step, the
//   others' trails come from a cache (setStep), so a drag strokes one trail, not twelve.
//
// The map can be explored: the wheel (or a trackpad / touch pinch) zooms around the pointer,
// dragging pans, and the buttons zoom, fit the view to the paths or show the whole surface.
// A zoom or pan re-projects everything once (the view is a window in data units). Once a
// zoomed view stays put (REFINE_MS), its contour levels and colour scale are recomputed
// for the visible window from a finer grid the server makes for it (`refine`: /surface
// with `view`); the whole surface's come back when the view shows the whole window again.
//
// The plot is drawn at its card's width (follow(): one re-layout per animation frame at
// most while the card is resized), like TensorBoard's own charts; a resize keeps the view.
import { contentWidth, el, onResize, svg } from "../common/dom.js";
import { t } from "../common/i18n.js";
import { cividis } from "../common/colors.js";
import { fmt, linear } from "./scale.js";
import { locate } from "./track.js";

const HOVER_RADIUS = 14;
const BAR = 12; // colour bar width (px)
const MIN_SPAN = 1e-9; // the smallest view, as a fraction of the surface's window
const MAX_SPAN = 20; // the largest, as a multiple of it
const MAX_PLOT = 500; // px: 1,500 rows per path are plenty for this (data.js POINTS)
const MIN_PLOT = 160; // px: below this a window scrolls rather than the map shrinking
// px: a path's row this close (in x and in y) to the last row drawn is left out of its SVG path;
// a racer settling repeats one spot hundreds of times, and every row drawn costs the rasterizer
const STILL = 0.4;
const MARK_PAD = 9; // px: markers and marks may reach this far past the plot's edge (an escape's × sits on it)
const REFINE_MS = 120; // a zoomed view's levels are asked for once it has stayed put this long
const REFINED_KEPT = 8; // zoomed views' levels kept (going back to one costs no request)

/** Device pixels per CSS pixel for the trails canvas (capped at 2). */
const pixelRatio = () => Math.min(2, window.devicePixelRatio || 1);

export class ContourMap {
  /** `onSeek(step)` on a click; `onView(window)` after a zoom or pan; `refine(view, signal)`
   * answers a zoomed view's levels, colour scale, contours and grid (/surface with `view`;
   * {error} when it cannot). The plot is MAX_PLOT px wide until follow() fits it to a box. */
  constructor({ onSeek, onView, refine = null } = {}) {
    this.onSeek = onSeek;
    this.onView = onView;
    this.refine = refine;
    this.refined = new Map(); // view key -> its shading (the last REFINED_KEPT views)
    this.plot = MAX_PLOT;
    this.relayouts = 0; // re-layouts for a new size (tests check a resize does not loop)
    this.M = { left: 52, right: 86, top: 12, bottom: 42 };
    this.racers = [];
    this.views = new Map();
    this.canvas = el("canvas", { class: "race-map-canvas" });
    this.svg = svg("svg", { class: "race-map-svg", id: "race-map-svg" });
    // the plot's rectangles (three clip paths and the overlay's hit area), resized together
    this.plotRects = [svg("rect"), svg("rect"), svg("rect", { class: "race-overlay-hit" }), svg("rect")];
    this.svg.append(svg("defs", {}, svg("clipPath", { id: "race-map-clip" }, this.plotRects[0])));
    this.gAxes = svg("g", { class: "race-axes" });
    this.gBar = svg("g", { class: "race-colorbar", id: "race-colorbar" });
    this.gContours = svg("g", { class: "race-contours", "clip-path": "url(#race-map-clip)" });
    this.svg.append(this.gContours, this.gAxes, this.gBar);
    // the racers' full paths: a layer of their own over the contours (see the top)
    this.pathsSvg = svg("svg", { class: "race-map-paths", id: "race-map-paths" });
    this.gPaths = svg("g", { class: "race-paths", "clip-path": "url(#race-paths-clip)" });
    this.pathsSvg.append(svg("defs", {}, svg("clipPath", { id: "race-paths-clip" }, this.plotRects[3])), this.gPaths);
    // the travelled part of every path, redrawn per frame (device pixels for crispness)
    this.trails = el("canvas", { class: "race-trails" });
    this.trailsRev = 0; // bumped when every trail must be drawn anew (size, view, theme, racers)
    this.trailsDrawn = null; // what the trails canvas shows: step, trailsRev, racers, their revs
    this.trailsCache = null; // the other racers' trails around one racer redrawn alone (setStep)
    // focusable: with the map focused, the arrow keys pan and + / − / 0 zoom (see _listen)
    this.overlay = svg("svg", { class: "race-map-overlay", id: "race-map-overlay", tabindex: "0",
      role: "img", "aria-label": t("race.map.keysLabel") });
    // Marks and markers are clipped to the plot: a racer that left the view never floats
    // over the axes, the header or the other cards.
    this.gMarks = svg("g", { class: "race-marks" }); // minima, start, divergence crosses
    this.gMarkers = svg("g", { class: "race-markers" });
    // the known minima, on top: a racer resting on the minimum never hides its star
    this.gMinima = svg("g", { class: "race-minima" });
    this.hoverRing = svg("circle", { class: "race-hover-ring", r: 6, visibility: "hidden" });
    this.overlay.append(
      svg("defs", {}, svg("clipPath", { id: "race-overlay-clip" }, this.plotRects[1])),
      this.plotRects[2],
      svg("g", { "clip-path": "url(#race-overlay-clip)" }, this.gMarks, this.gMarkers, this.gMinima, this.hoverRing),
    );
    this.tooltip = el("div", { class: "race-tooltip", id: "race-map-tooltip" });
    this.tooltip.hidden = true;
    this.caption = el("div", { class: "race-caption", id: "race-map-caption" });
    this.stage = el("div", { class: "race-map-stage" }, this.canvas, this.svg, this.pathsSvg, this.trails, this.overlay,
      this.tooltip);
    // a worded button is named by its words (its accessible name contains its visible label);
    // a symbol (+, −) by its title
    const button = (id, text, title, onclick) =>
      el("button", { type: "button", class: "race-button race-zoom-button", id, title,
        "aria-label": /^[+−]$/.test(text) ? title : null, onclick }, text);
    this.zoomBar = el("div", { class: "race-zoom", id: "race-zoom", role: "group", "aria-label": t("race.map.zoomGroup") },
      button("race-zoom-in", "+", t("race.map.zoomIn"), () => this.zoomBy(1 / 1.5)),
      button("race-zoom-out", "−", t("race.map.zoomOut"), () => this.zoomBy(1.5)),
      button("race-zoom-fit", t("race.map.fit"), t("race.map.fitTitle"), () => this.fit()),
      button("race-zoom-reset", t("race.map.whole"), t("race.map.wholeTitle"), () => this.setView(this.surface.window)),
      el("span", { class: "race-caption race-zoom-hint", text: t("race.map.zoomHint") }));
    this.root = el("div", { class: "race-map", id: "race-map" }, this.zoomBar, this.stage, this.caption);
    this._layout();
    this._listen();
  }

  // -- size -------------------------------------------------------------------------------
  /** Size every layer for the plot's side `this.plot` (px); a canvas so resized is blank. */
  _layout() {
    const { M, plot } = this;
    this.width = plot + M.left + M.right;
    this.height = plot + M.top + M.bottom;
    this.ratio = pixelRatio();
    const place = `left:${M.left}px;top:${M.top}px;width:${plot}px;height:${plot}px`;
    Object.assign(this.canvas, { width: plot, height: plot });
    Object.assign(this.trails, { width: Math.round(plot * this.ratio), height: Math.round(plot * this.ratio) });
    this.canvas.style.cssText = place;
    this.trails.style.cssText = place;
    this.trailsRev++;
    for (const node of [this.svg, this.pathsSvg, this.overlay]) {
      node.setAttribute("width", this.width);
      node.setAttribute("height", this.height);
      node.setAttribute("viewBox", `0 0 ${this.width} ${this.height}`);
    }
    for (const rect of this.plotRects) {
      // the markers' clip is a little larger than the plot, so that a marker or an × on the
      // plot's edge (where an escaped or diverged racer left the map) shows whole
      const pad = rect === this.plotRects[1] ? MARK_PAD : 0;
      const box = { x: M.left - pad, y: M.top - pad, width: plot + 2 * pad, height: plot + 2 * pad };
      for (const [k, v] of Object.entries(box)) rect.setAttribute(k, v);
    }
    this.stage.style.width = `${this.width}px`;
    this.stage.style.height = `${this.height}px`;
    this.root.style.width = `${this.width}px`; // the caption wraps under the map, never widens the card
  }

  /** Draw the plot `plot` px wide, keeping the view (zoom and pan), the racers and the step. */
  resize(plot) {
    this.plot = Math.max(MIN_PLOT, Math.round(plot));
    this.relayouts++;
    this._layout();
    this._hideHover();
    if (!this.surface) return;
    this._drawColorbar();
    this._render();
  }

  /** Fit the map to the content width of `container` now and whenever that box changes size. */
  follow(container) {
    this.disconnect();
    this.container = container;
    this._fit();
    // The map's new height changes the card again: the next frame finds its width unchanged.
    this._unfollow = onResize(container, () => this._fit());
  }

  /** Stop following the container and refining the view (the map is being replaced). */
  disconnect() {
    this._unfollow?.();
    this._unfollow = null;
    clearTimeout(this._refineTimer);
    this._refineCtl?.abort();
    this._refineCtl = null;
  }

  _fit() {
    const box = this.container;
    if (!box?.isConnected) return;
    const inner = contentWidth(box);
    if (!(inner > 0)) return; // hidden (another TensorBoard tab is open): keep the size
    const { M } = this;
    const plot = Math.max(MIN_PLOT, Math.min(MAX_PLOT, Math.floor(inner - M.left - M.right)));
    // a browser zoom changes the device pixel ratio: the trails canvas follows it
    if (plot !== this.plot || pixelRatio() !== this.ratio) this.resize(plot);
  }

  // -- surface and view ---------------------------------------------------------------
  /** Draw the surface (background, contours, colour bar, axes, minima, start) in `view`. */
  setSurface(surface, { axisLabels = ["x", "y"], view = null, theme = "light" } = {}) {
    this.surface = surface;
    this.axisLabels = axisLabels;
    this.theme = theme;
    this.view = validView(view, surface.window) || [...surface.window];
    this._images = null;
    this.refined.clear();
    // the whole surface's levels and colours; a zoomed view gets its own (refine)
    this.whole = shading(surface, surface.window);
    this.active = this.whole;
    this._drawColorbar();
    this._caption();
    this._render();
    this._refineView();
  }

  /** The caption under the map: the levels shown (and for which view), what the marks are. */
  _caption() {
    const { levels, scale, source } = this.active;
    const own = this.active !== this.whole ? t(`race.map.viewLevels.${source === "library" ? "library" : "interpolated"}`) : null;
    this.caption.textContent = levels.length
      ? [levelText(scale, { count: levels.length, low: fmt(levels[0]), high: fmt(levels[levels.length - 1]) }), own,
      this.surface.minima?.length ? t("race.map.legendMinimum") : null,
      t("race.map.legendStart"), t("race.map.legendCross"), t("race.map.clickHint")].filter(Boolean).join(" · ")
      : t("race.map.clickHint");
  }

  /** The colour scale (0 to 1) of a value under the levels shown; a value outside their
   * range (the whole surface drawn around a zoomed view) takes the nearest end's colour. */
  norm(z) {
    const v = this.active.norm(z);
    return v > 0 ? Math.min(1, v) : 0;
  }

  // -- levels for the view ----------------------------------------------------------------
  /** Whether `view` shows the surface's whole window (its levels are the whole surface's). */
  _coversWindow(view = this.view) {
    const [wx0, wx1, wy0, wy1] = this.surface.window;
    return view[0] <= wx0 && view[1] >= wx1 && view[2] <= wy0 && view[3] >= wy1;
  }

  /** After a zoom or pan: the whole surface's levels at once when the view shows all of it,
   * else the view's own once it has stayed put for REFINE_MS (one request at a time, the
   * older one aborted; never per mouse move). */
  _refineView() {
    clearTimeout(this._refineTimer);
    if (!this.surface?.grid || !this.whole.levels.length) return;
    if (this._coversWindow() || !this.refine) {
      this._refineCtl?.abort();
      this._refineCtl = null;
      this._shade(this.whole);
      return;
    }
    this._refineTimer = setTimeout(() => this._refineNow(), REFINE_MS);
  }

  async _refineNow() {
    const view = [...this.view];
    const key = view.join(",");
    if (this.active.key === key) return;
    const kept = this.refined.get(key);
    if (kept) return this._shade(kept);
    this._refineCtl?.abort();
    const ctl = new AbortController();
    this._refineCtl = ctl;
    const answer = await this.refine(view, ctl.signal);
    if (ctl !== this._refineCtl) return; // superseded or the map was replaced
    this._refineCtl = null;
    if (!answer || answer.error || !Array.isArray(answer.levels) || !answer.grid) return; // keep what is shown
    const shade = shading(answer, answer.region);
    shade.key = key;
    this.refined.set(key, shade);
    while (this.refined.size > REFINED_KEPT) this.refined.delete(this.refined.keys().next().value);
    if (this.view.join(",") === key) this._shade(shade); // else a newer view is on its way
  }

  /** Draw the surface with `shade`'s levels and colours (background, contours, colour bar). */
  _shade(shade) {
    if (shade === this.active) return;
    this.active = shade;
    this._images = null;
    this._paintBackground();
    this._drawContours();
    this._drawColorbar();
    this._caption();
  }

  /** Repaint for another theme (the background and colour bar blend into the page). */
  setTheme(theme) {
    if (theme === this.theme || !this.surface) return;
    this.theme = theme;
    this.trailsRev++; // the trails' halo is the theme's
    this._images = null;
    this._drawColorbar();
    this._paintBackground();
    this.setStep(this.step ?? 0);
  }

  /** Show the window [xmin, xmax, ymin, ymax] (data units). */
  setView(view, { notify = true } = {}) {
    const ok = validView(view, this.surface.window);
    if (!ok) return;
    this.view = ok;
    this._render();
    this._refineView();
    if (notify && this.onView) this.onView([...this.view]);
  }

  /** Zoom by `factor` (< 1 zooms in) around the data point (cx, cy), the centre by default. */
  zoomBy(factor, cx = null, cy = null) {
    const [x0, x1, y0, y1] = this.view;
    const px = cx ?? (x0 + x1) / 2;
    const py = cy ?? (y0 + y1) / 2;
    this.setView([px - (px - x0) * factor, px + (x1 - px) * factor, py - (py - y0) * factor, py + (y1 - py) * factor]);
  }

  /** The view around every visible path (the part inside the surface's window), padded,
   * with the surface window's aspect ratio. */
  fit() {
    const [wx0, wx1, wy0, wy1] = this.surface.window;
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    const add = (x, y) => {
      if (!(x >= wx0 && x <= wx1 && y >= wy0 && y <= wy1)) return;
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    };
    for (const racer of this.racers) {
      if (!racer.visible) continue;
      const tr = racer.track;
      for (let i = 0; i <= tr.end && i < tr.n; i++) add(tr.x[i], tr.y[i]);
    }
    for (const [mx, my] of this.surface.minima || []) if (x0 <= x1) add(mx, my);
    if (!(x0 <= x1)) return this.setView(this.surface.window);
    const aspect = (wx1 - wx0) / (wy1 - wy0);
    let w = Math.max(x1 - x0, (wx1 - wx0) * 1e-4);
    let h = Math.max(y1 - y0, (wy1 - wy0) * 1e-4);
    if (w / h > aspect) h = w / aspect;
    else w = h * aspect;
    const [cx, cy] = [(x0 + x1) / 2, (y0 + y1) / 2];
    w *= 1.12;
    h *= 1.12;
    this.setView([cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2]);
  }

  /** Whether the map shows the surface's whole window. */
  isWhole() {
    return this.view.every((v, k) => v === this.surface.window[k]);
  }

  _render() {
    const { M, plot } = this;
    const [xmin, xmax, ymin, ymax] = this.view;
    this.sx = linear([xmin, xmax], [M.left, M.left + plot]);
    this.sy = linear([ymin, ymax], [M.top + plot, M.top]);
    // Clamp far-away points (a racer flying off) to a band around the view; the clip
    // path hides the band, and coordinates stay small enough for the renderer.
    this.clampX = [xmin - (xmax - xmin), xmax + (xmax - xmin)];
    this.clampY = [ymin - (ymax - ymin), ymax + (ymax - ymin)];
    this.trailsRev++;
    this._paintBackground();
    this._drawContours();
    this._drawAxes();
    const marks = [];
    this.gMinima.replaceChildren(...(this.surface.minima || []).map(([mx, my]) =>
      svg("path", { class: "race-minimum", d: star(this.sx(mx), this.sy(my), 7, 3) },
        svg("title", { text: t("race.map.minimum", { x: fmt(mx, 4), y: fmt(my, 4) }) }))));
    const start = this.surface.start;
    if (start) {
      const [px, py] = [this.sx(start[0]), this.sy(start[1])];
      marks.push(svg("circle", { class: "race-start", id: "race-start", cx: px, cy: py, r: 6 },
        svg("title", { text: t("race.map.startAt", { x: fmt(start[0], 4), y: fmt(start[1], 4) }) })));
      marks.push(svg("text", { class: "race-start-label", x: px + 9, y: py - 8, text: t("race.map.start") }));
    }
    this.gStatic = svg("g", { class: "race-static-marks" }, ...marks);
    this.gCrosses = this.gCrosses || svg("g", { class: "race-crosses" });
    this.gMarks.replaceChildren(this.gStatic, this.gCrosses);
    for (const racer of this.racers) this.updateRacer(racer, { step: false });
    this.zoomBar.querySelector("#race-zoom-reset").disabled = this.isWhole();
    if (this.step !== undefined) this.setStep(this.step);
  }

  /** The contour lines of the levels shown. */
  _drawContours() {
    this.gContours.replaceChildren(...this.active.contours.map((c, k) =>
      svg("path", {
        class: `race-contour${k % 4 === 0 ? " race-contour-major" : ""}`,
        d: c.lines.map((line) => this._polyline(line[0], line[1])).join(""),
        "data-level": c.level,
      })));
  }

  // -- racers ---------------------------------------------------------------------------
  /** Build one path group per racer (replacing any previous racers). */
  setRacers(racers) {
    this.racers = racers;
    this.views.clear();
    this.trailsRev++;
    this.gPaths.replaceChildren();
    this.gMarkers.replaceChildren();
    this.gCrosses = svg("g", { class: "race-crosses" });
    for (const racer of racers) {
      const data = { "data-optimizer": racer.optimizer, "data-run": racer.run, "data-racer": racer.id };
      const view = {
        group: svg("g", { class: "race-racer", ...data }),
        ghost: svg("path", { class: "race-ghost", stroke: racer.color }),
        halo: svg("path", { class: "race-halo" }),
        base: svg("path", { class: "race-path", stroke: racer.color, "stroke-dasharray": racer.dash || null, ...data }),
        cross: svg("path", { class: "race-diverged", stroke: racer.color, visibility: "hidden", ...data }),
        marker: svg("circle", { class: "race-marker", r: 5.5, fill: racer.color, ...data }),
        rev: 0, // bumped whenever its trail may look different (setStep's cache)
      };
      view.group.append(view.ghost, view.halo, view.base);
      this.gPaths.append(view.group);
      this.gCrosses.append(view.cross);
      this.gMarkers.append(view.marker);
      this.views.set(racer.id, view);
    }
    if (this.surface) this._render();
  }

  /** Redraw one racer's path (after a what-if, a reset, new logged steps or a zoom). */
  updateRacer(racer, { step = true } = {}) {
    const view = this.views.get(racer.id);
    if (!view || !this.sx) return;
    const tr = racer.track;
    const { px, py, d } = this._project(tr);
    Object.assign(view, { px, py }); // (its trail's revision is bumped by setVisible, below)
    for (const p of [view.halo, view.base]) p.setAttribute("d", d || "M0 0");
    view.group.classList.toggle("race-whatif", tr.whatif);
    view.group.classList.toggle("race-stale", Boolean(racer.stale));
    // the logged path, dotted, under a what-if (it may have grown since the what-if ran);
    // projected once per logged path and view (sx is new after each zoom, pan or resize),
    // not once per slider value
    const ghost = racer.whatif && racer.loggedTrack ? racer.loggedTrack : null;
    if (view.ghostOf?.track !== ghost || view.ghostOf?.sx !== this.sx) {
      view.ghost.setAttribute("d", ghost ? this._project(ghost).d : "");
      view.ghostOf = { track: ghost, sx: this.sx };
    }
    view.exitXY = this._exitPoint(tr);
    if (view.exitXY) {
      view.cross.setAttribute("d", cross(view.exitXY[0], view.exitXY[1], 6));
      const params = { name: racer.title, step: tr.divergedStep };
      const text = tr.metrics?.outcome === "escaped" ? t("race.map.escapedAt", params) : t("race.map.divergedAt", params);
      view.cross.replaceChildren(svg("title", { text }));
    }
    this.setVisible(racer, { step });
  }

  /** Pixel coordinates of a track's rows and its SVG path (far-off points clipped). */
  _project(tr) {
    const px = new Float64Array(tr.n);
    const py = new Float64Array(tr.n);
    let d = "";
    let pen = false;
    let held = ""; // a row drawn over by the next one (closer than STILL px to the last drawn)
    let [lx, ly] = [NaN, NaN];
    for (let i = 0; i < tr.n; i++) {
      const ok = i <= tr.end && Number.isFinite(tr.x[i]) && Number.isFinite(tr.y[i]);
      let [x, y] = [tr.x[i], tr.y[i]];
      if (ok && i > 0 && Number.isFinite(tr.x[i - 1]) && !this._inBand(x, y)) {
        // A racer flying off: end the drawn segment at the band around the view, in the
        // segment's own direction (clamping x and y separately would bend it).
        [x, y] = clipSegment(tr.x[i - 1], tr.y[i - 1], x, y, [...this.clampX, ...this.clampY]);
      }
      px[i] = ok ? this.sx(clamp(x, this.clampX)) : NaN;
      py[i] = ok ? this.sy(clamp(y, this.clampY)) : NaN;
      if (!ok) {
        d += held;
        held = "";
        pen = false;
        continue;
      }
      const at = `${pen ? "L" : "M"}${px[i].toFixed(1)} ${py[i].toFixed(1)}`;
      if (pen && Math.abs(px[i] - lx) < STILL && Math.abs(py[i] - ly) < STILL) {
        held = at; // drawn only if it ends the line
      } else {
        d += at;
        held = "";
        [lx, ly] = [px[i], py[i]];
      }
      pen = true;
    }
    return { px, py, d: d + held };
  }

  /** Show or hide one racer (legend toggle). */
  setVisible(racer, { step = true } = {}) {
    const view = this.views.get(racer.id);
    if (!view) return;
    const vis = racer.visible ? "visible" : "hidden";
    view.rev++;
    view.group.setAttribute("visibility", vis);
    view.marker.setAttribute("visibility", vis);
    this._crossAt(racer, view, this.step ?? Infinity);
    if (step && this.step !== undefined) this.setStep(this.step);
  }

  /** A divergence or escape mark appears once the step reaches it (never giving the end away). */
  _crossAt(racer, view, s) {
    const tr = racer.track;
    const shown = racer.visible && view.exitXY && tr.divergedStep !== null && s >= tr.divergedStep;
    view.cross.setAttribute("visibility", shown ? "visible" : "hidden");
  }

  /** Move every marker to step s and redraw the travelled part of every path. When one
   * racer alone changed since the trails were drawn at this step (a what-if drag), only its
   * trail is stroked: the others' come from a cache of those drawn under it and over it. */
  setStep(s) {
    this.step = s;
    const ctx = this.trails.getContext("2d");
    const halo = this.theme === "dark" ? "rgba(20, 20, 20, 0.8)" : "rgba(255, 255, 255, 0.85)";
    const changed = this._changedSince(this.trailsDrawn, s);
    if (changed?.length === 0) return; // the trails, markers and crosses show step s already
    const sinceCache = this._changedSince(this.trailsCache, s);
    const cached = sinceCache?.every((r) => r === this.trailsCache.racer) ? this.trailsCache.racer : null;
    const alone = cached || (changed?.length === 1 ? changed[0] : null);
    if (alone) {
      const cache = cached ? this.trailsCache : this._cacheTrails(alone, s, halo);
      const { width, height } = this.trails;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, width, height);
      ctx.drawImage(cache.under, 0, 0);
      this._trailsContext(ctx, false);
      this._drawTrail(alone, s, ctx, halo);
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.drawImage(cache.over, 0, 0);
    } else {
      this._trailsContext(ctx, true);
      for (const racer of this.racers) this._drawTrail(racer, s, ctx, halo);
    }
    this.trailsDrawn = this._trailsState(s);
  }

  /** Set a trails context's transform (CSS pixels of the stage) and strokes; clear the plot. */
  _trailsContext(ctx, clear) {
    const { M, plot, ratio } = this;
    ctx.setTransform(ratio, 0, 0, ratio, -M.left * ratio, -M.top * ratio);
    if (clear) ctx.clearRect(M.left, M.top, plot, plot);
    ctx.lineJoin = "round";
    ctx.lineCap = "round";
  }

  /** What the trails at step s depend on: the layout, the racers and each one's revision. */
  _trailsState(s) {
    return { step: s, rev: this.trailsRev, racers: this.racers,
      revs: new Map(this.racers.map((r) => [r.id, this.views.get(r.id)?.rev])) };
  }

  /** The racers whose trails changed since `state` (the trails drawn, or the cache) was
   * made at step s; null when it is of another step, layout or set of racers. */
  _changedSince(state, s) {
    if (!state || state.step !== s || state.rev !== this.trailsRev || state.racers !== this.racers) return null;
    return this.racers.filter((r) => this.views.get(r.id)?.rev !== state.revs.get(r.id));
  }

  /** A racer's cross at step s and, shown, its trail and marker. */
  _drawTrail(racer, s, ctx, halo) {
    const view = this.views.get(racer.id);
    if (!view) return;
    this._crossAt(racer, view, s);
    if (racer.visible) this._place(racer, view, s, ctx, halo);
  }

  /** Draw the trails of the racers listed before `racer` (under it) and after it (over it)
   * at step s into two canvases, kept while only `racer` changes. */
  _cacheTrails(racer, s, halo) {
    const layer = (canvas) => {
      const c = canvas || document.createElement("canvas");
      Object.assign(c, { width: this.trails.width, height: this.trails.height }); // also clears it
      return c;
    };
    const under = layer(this.trailsCache?.under);
    const over = layer(this.trailsCache?.over);
    const [below, above] = [under, over].map((canvas) => {
      const ctx = canvas.getContext("2d");
      this._trailsContext(ctx, false);
      return ctx;
    });
    const k = this.racers.indexOf(racer);
    this.racers.forEach((other, i) => {
      if (other !== racer) this._drawTrail(other, s, i < k ? below : above, halo);
    });
    this.trailsCache = { racer, under, over, ...this._trailsState(s) };
    return this.trailsCache;
  }

  _place(racer, view, s, ctx, halo) {
    const tr = racer.track;
    if (!tr.n || !view.px) return;
    const at = locate(tr, s);
    let x;
    let y;
    let last = at.i;
    if (at.diverged) {
      last = tr.exit;
      [x, y] = view.exitXY || [view.px[tr.exit], view.py[tr.exit]];
    } else {
      const j = Math.min(at.i + 1, tr.n - 1);
      const ok = Number.isFinite(view.px[j]);
      x = ok ? view.px[at.i] + (view.px[j] - view.px[at.i]) * at.f : view.px[at.i];
      y = ok ? view.py[at.i] + (view.py[j] - view.py[at.i]) * at.f : view.py[at.i];
    }
    this._trail(ctx, racer, view, last, x, y, halo);
    if (Number.isFinite(x) && Number.isFinite(y)) {
      view.marker.setAttribute("cx", x.toFixed(1));
      view.marker.setAttribute("cy", y.toFixed(1));
    }
  }

  /** Stroke the path from the start to row `last`, then to the marker at (x, y). */
  _trail(ctx, racer, view, last, x, y, halo) {
    const { px, py } = view;
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i <= last; i++) {
      if (!Number.isFinite(px[i])) {
        pen = false;
        continue;
      }
      if (pen) ctx.lineTo(px[i], py[i]);
      else ctx.moveTo(px[i], py[i]);
      pen = true;
    }
    if (pen && Number.isFinite(x)) ctx.lineTo(x, y);
    ctx.globalAlpha = racer.stale ? 0.35 : 1;
    ctx.setLineDash([]);
    ctx.strokeStyle = halo;
    ctx.lineWidth = 4.5;
    ctx.stroke();
    ctx.setLineDash(racer.dash ? racer.dash.split(" ").map(Number) : []);
    ctx.strokeStyle = racer.color;
    ctx.lineWidth = 2.2;
    ctx.stroke();
    ctx.globalAlpha = 1;
  }

  _inBand(x, y) {
    return x >= this.clampX[0] && x <= this.clampX[1] && y >= this.clampY[0] && y <= this.clampY[1];
  }

  /** Screen point where a diverged racer left the surface's window (or its last position on it). */
  _exitPoint(tr) {
    if (tr.exit === null) return null;
    const [xmin, xmax, ymin, ymax] = this.surface.window;
    const inside = (i) => tr.x[i] >= xmin && tr.x[i] <= xmax && tr.y[i] >= ymin && tr.y[i] <= ymax;
    let j = tr.exit;
    while (j > 0 && !inside(j)) j--;
    if (!inside(j)) return null;
    let [x, y] = [tr.x[j], tr.y[j]];
    const k = j + 1;
    if (j < tr.exit && Number.isFinite(tr.x[k]) && Number.isFinite(tr.y[k])) {
      [x, y] = clipSegment(x, y, tr.x[k], tr.y[k], this.surface.window);
    }
    return [this.sx(x), this.sy(y)];
  }

  // -- painting -------------------------------------------------------------------------
  /** The colour of level t in [0, 1]: cividis, faded into the page's background. */
  _tint(t) {
    const dark = this.theme === "dark";
    const [base, fade] = dark ? [[40, 40, 40], 0.5] : [[255, 255, 255], 0.72];
    return cividis(t).map((c, k) => Math.round(c + (base[k] - c) * fade));
  }

  /** A grid as a small image (one pixel per grid point) in the colours shown. */
  _gridImage(grid) {
    const { nx, ny, values } = grid;
    const image = new ImageData(nx, ny);
    const empty = this.theme === "dark" ? [60, 60, 60] : [235, 235, 235];
    for (let r = 0; r < ny; r++) {
      const row = values[ny - 1 - r]; // grid rows go up in y; canvas rows go down
      for (let c = 0; c < nx; c++) {
        const z = row[c];
        const k = 4 * (r * nx + c);
        const [R, G, B] = z === null ? empty : this._tint(this.norm(z));
        image.data[k] = R;
        image.data[k + 1] = G;
        image.data[k + 2] = B;
        image.data[k + 3] = 255;
      }
    }
    const small = document.createElement("canvas");
    small.width = nx;
    small.height = ny;
    small.getContext("2d").putImageData(image, 0, 0);
    return small;
  }

  /** The background: the whole surface's grid, and over it a zoomed view's finer grid, both
   * in the colours of the levels shown (the images are made once per levels and theme). */
  _paintBackground() {
    const { plot } = this;
    const ctx = this.canvas.getContext("2d");
    ctx.fillStyle = this.theme === "dark" ? "#3c3c3c" : "#f3f3f3";
    ctx.fillRect(0, 0, plot, plot);
    if (!this.surface.grid) return;
    if (!this._images) {
      const detail = this.active !== this.whole && this.active.grid ? this._gridImage(this.active.grid) : null;
      this._images = { whole: this._gridImage(this.surface.grid), detail };
    }
    ctx.imageSmoothingEnabled = true;
    this._drawGrid(ctx, this._images.whole, this.surface.grid, this.surface.window);
    if (this._images.detail) this._drawGrid(ctx, this._images.detail, this.active.grid, this.active.region);
  }

  /** Draw the view's part of a grid image covering `region` (data units). */
  _drawGrid(ctx, small, grid, [wx0, wx1, wy0, wy1]) {
    const { plot } = this;
    const [vx0, vx1, vy0, vy1] = this.view;
    const { nx, ny } = grid;
    // the view's part of the grid image (rows top-down); the browser clips what lies outside
    const gx = ((vx0 - wx0) / (wx1 - wx0)) * nx;
    const gw = ((vx1 - vx0) / (wx1 - wx0)) * nx;
    const gy = ((wy1 - vy1) / (wy1 - wy0)) * ny;
    const gh = ((vy1 - vy0) / (wy1 - wy0)) * ny;
    // drawImage drops a source rectangle that leaves the image: cut it to the image and
    // shrink the target in proportion
    const sx0 = Math.max(0, gx);
    const sy0 = Math.max(0, gy);
    const sx1 = Math.min(nx, gx + gw);
    const sy1 = Math.min(ny, gy + gh);
    if (sx1 <= sx0 || sy1 <= sy0) return;
    ctx.drawImage(small, sx0, sy0, sx1 - sx0, sy1 - sy0,
      ((sx0 - gx) / gw) * plot, ((sy0 - gy) / gh) * plot, ((sx1 - sx0) / gw) * plot, ((sy1 - sy0) / gh) * plot);
  }

  /** A vertical colour bar right of the map: the background's colours, the contour levels as ticks. */
  _drawColorbar() {
    const { M, plot } = this;
    const levels = this.active.levels;
    if (!this.surface.grid || !levels.length) return this.gBar.replaceChildren();
    const x = M.left + plot + 12;
    const stops = [];
    for (let k = 0; k <= 16; k++) {
      const [r, g, b] = this._tint(k / 16);
      stops.push(svg("stop", { offset: `${(100 * k) / 16}%`, "stop-color": `rgb(${r},${g},${b})` }));
    }
    const gradient = svg("linearGradient", { id: "race-colorbar-gradient", x1: 0, y1: 1, x2: 0, y2: 0 }, ...stops);
    const y = (z) => M.top + plot * (1 - Math.min(1, Math.max(0, this.norm(z))));
    const items = [svg("defs", {}, gradient),
      svg("rect", { class: "race-colorbar-bar", x, y: M.top, width: BAR, height: plot, fill: "url(#race-colorbar-gradient)" },
        svg("title", { text: t("race.map.colorbarTitle") }))];
    const every = Math.max(1, Math.ceil(levels.length / 7));
    levels.forEach((level, k) => {
      const ly = y(level);
      items.push(svg("line", { class: "race-colorbar-level", x1: x, x2: x + BAR + 3, y1: ly, y2: ly }));
      if (k % every === 0) {
        items.push(svg("text", { class: "race-tick-label", x: x + BAR + 6, y: ly + 4, text: fmt(level) }));
      }
    });
    items.push(svg("text", {
      class: "race-axis-label", x: x + BAR + 6, y: M.top + plot + 18, "text-anchor": "start", text: t("race.map.colorbar"),
    }));
    this.gBar.replaceChildren(...items);
  }

  _drawAxes() {
    const { M, plot } = this;
    const [xlabel, ylabel] = this.axisLabels;
    const g = [svg("rect", { class: "race-frame", x: M.left, y: M.top, width: plot, height: plot })];
    for (const v of this.sx.ticks(6)) {
      const x = this.sx(v);
      g.push(svg("line", { class: "race-tick", x1: x, x2: x, y1: M.top + plot, y2: M.top + plot + 4 }));
      g.push(svg("text", { class: "race-tick-label", x, y: M.top + plot + 16, "text-anchor": "middle", text: fmt(v) }));
    }
    for (const v of this.sy.ticks(6)) {
      const y = this.sy(v);
      g.push(svg("line", { class: "race-tick", x1: M.left - 4, x2: M.left, y1: y, y2: y }));
      g.push(svg("text", { class: "race-tick-label", x: M.left - 7, y: y + 4, "text-anchor": "end", text: fmt(v) }));
    }
    g.push(svg("text", { class: "race-axis-label", id: "race-axis-x", x: M.left + plot / 2, y: this.height - 8, "text-anchor": "middle", text: xlabel }));
    g.push(svg("text", {
      class: "race-axis-label", id: "race-axis-y", x: 14, y: M.top + plot / 2, "text-anchor": "middle",
      transform: `rotate(-90 14 ${M.top + plot / 2})`, text: ylabel,
    }));
    this.gAxes.replaceChildren(...g);
  }

  _polyline(xs, ys) {
    let d = "";
    let pen = false;
    for (let i = 0; i < xs.length; i++) {
      if (xs[i] === null || ys[i] === null) {
        pen = false;
        continue;
      }
      const [x, y] = [clamp(xs[i], this.clampX), clamp(ys[i], this.clampY)];
      d += `${pen ? "L" : "M"}${this.sx(x).toFixed(1)} ${this.sy(y).toFixed(1)}`;
      pen = true;
    }
    return d;
  }

  // -- pointer: hover, click to seek, drag to pan, wheel / pinch to zoom -----------------
  _listen() {
    const o = this.overlay;
    const pointers = new Map(); // pointerId -> [clientX, clientY]
    let drag = null; // {x, y, view, moved}
    let pinch = null; // {distance, view}
    const spread = () => {
      const [a, b] = [...pointers.values()];
      return Math.hypot(a[0] - b[0], a[1] - b[1]);
    };
    o.addEventListener("pointerdown", (e) => {
      if (e.button !== 0 || !this.surface) return;
      pointers.set(e.pointerId, [e.clientX, e.clientY]);
      o.setPointerCapture(e.pointerId);
      if (pointers.size === 2) {
        drag = null;
        // zoom around the point between the two fingers
        const [a, b] = [...pointers.values()];
        const centre = this._dataAt({ clientX: (a[0] + b[0]) / 2, clientY: (a[1] + b[1]) / 2 });
        pinch = { distance: spread(), view: [...this.view], centre };
      } else {
        drag = { x: e.clientX, y: e.clientY, view: [...this.view], moved: false, event: e };
      }
    });
    o.addEventListener("pointermove", (e) => {
      if (pointers.has(e.pointerId)) pointers.set(e.pointerId, [e.clientX, e.clientY]);
      if (pinch && pointers.size === 2) {
        const f = pinch.distance / Math.max(1, spread());
        const [cx, cy] = pinch.centre;
        const [x0, x1, y0, y1] = pinch.view;
        this._schedule([cx - (cx - x0) * f, cx + (x1 - cx) * f, cy - (cy - y0) * f, cy + (y1 - cy) * f]);
        return;
      }
      if (!drag) return this._hover(e);
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < 4) return;
      drag.moved = true;
      this._hideHover();
      o.classList.add("race-panning");
      const [x0, x1, y0, y1] = drag.view;
      const ux = ((x1 - x0) / this.plot) * dx;
      const uy = ((y1 - y0) / this.plot) * dy;
      this._schedule([x0 - ux, x1 - ux, y0 + uy, y1 + uy]);
    });
    const end = (e) => {
      pointers.delete(e.pointerId);
      if (pinch) {
        if (pointers.size < 2) pinch = null;
        return;
      }
      if (drag && !drag.moved && e.type === "pointerup") {
        const hit = this._nearest(e);
        if (hit && this.onSeek) this.onSeek(hit.step);
      }
      drag = null;
      o.classList.remove("race-panning");
    };
    o.addEventListener("pointerup", end);
    o.addEventListener("pointercancel", end);
    o.addEventListener("mouseleave", () => this._hideHover());
    o.addEventListener("keydown", (e) => this._onKey(e));
    o.addEventListener("wheel", (e) => {
      if (!this.surface) return;
      e.preventDefault();
      // a trackpad pinch arrives as a wheel with ctrlKey and small deltas
      const f = Math.exp(Math.max(-1, Math.min(1, e.deltaY * (e.ctrlKey ? 0.01 : 0.002))));
      const [cx, cy] = this._dataAt(e);
      const [x0, x1, y0, y1] = this._pending || this.view;
      this._schedule([cx - (cx - x0) * f, cx + (x1 - cx) * f, cy - (cy - y0) * f, cy + (y1 - cy) * f]);
    }, { passive: false });
  }

  /** Focused map: arrows pan a tenth of the view (Shift: half), + and − zoom around the
   * centre, 0 shows the whole surface. The keys stay here: the page's own arrow keys (step
   * through the race) work everywhere else. */
  _onKey(e) {
    if (!this.surface || e.ctrlKey || e.metaKey || e.altKey) return;
    const [x0, x1, y0, y1] = this._pending || this.view;
    const share = e.shiftKey ? 0.5 : 0.1;
    const [dx, dy] = [(x1 - x0) * share, (y1 - y0) * share];
    const pans = { ArrowLeft: [-dx, 0], ArrowRight: [dx, 0], ArrowUp: [0, dy], ArrowDown: [0, -dy] };
    if (e.key in pans) {
      const [ux, uy] = pans[e.key];
      this._schedule([x0 + ux, x1 + ux, y0 + uy, y1 + uy]);
    } else if (e.key === "+" || e.key === "=") {
      this.zoomBy(1 / 1.5);
    } else if (e.key === "-" || e.key === "_") {
      this.zoomBy(1.5);
    } else if (e.key === "0") {
      this.setView(this.surface.window);
    } else {
      return;
    }
    e.preventDefault();
    e.stopPropagation();
  }

  /** One re-projection per animation frame, whatever the number of wheel or drag events. */
  _schedule(view) {
    this._pending = view;
    if (this._frame) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = null;
      const next = this._pending;
      this._pending = null;
      this.setView(next);
    });
  }

  /** The data point under a pointer event. */
  _dataAt(e) {
    const box = this.overlay.getBoundingClientRect();
    const mx = ((e.clientX - box.left) * this.width) / box.width;
    const my = ((e.clientY - box.top) * this.height) / box.height;
    return [this.sx.invert(mx), this.sy.invert(my)];
  }

  _nearest(event) {
    const box = this.overlay.getBoundingClientRect();
    const mx = ((event.clientX - box.left) * this.width) / box.width;
    const my = ((event.clientY - box.top) * this.height) / box.height;
    const { M, plot } = this;
    if (mx < M.left || mx > M.left + plot || my < M.top || my > M.top + plot) return null;
    let best = null;
    let bestD = HOVER_RADIUS * HOVER_RADIUS;
    for (const racer of this.racers) {
      const view = this.views.get(racer.id);
      if (!racer.visible || !view?.px) continue;
      const { px, py } = view;
      for (let i = 0; i < px.length; i++) {
        const dx = px[i] - mx;
        const dy = py[i] - my;
        const d2 = dx * dx + dy * dy;
        if (d2 < bestD) {
          bestD = d2;
          best = { racer, i };
        }
      }
    }
    if (!best) return null;
    const tr = best.racer.track;
    const view = this.views.get(best.racer.id);
    return { ...best, step: tr.step[best.i], x: tr.x[best.i], y: tr.y[best.i], loss: tr.loss[best.i],
      px: view.px[best.i], py: view.py[best.i] };
  }

  _hover(event) {
    const hit = this._nearest(event);
    if (!hit) return this._hideHover();
    this.hoverRing.setAttribute("cx", hit.px);
    this.hoverRing.setAttribute("cy", hit.py);
    this.hoverRing.setAttribute("stroke", hit.racer.color);
    this.hoverRing.setAttribute("visibility", "visible");
    const [xl, yl] = this.axisLabels;
    this.tooltip.replaceChildren(
      el("div", { class: "race-tooltip-title" },
        el("span", { class: "race-swatch" + (hit.racer.dash ? " race-swatch-dashed" : "") }),
        el("span", { class: "race-tooltip-name", text: hit.racer.title }),
        hit.racer.whatif ? t("race.map.whatifTag") : null),
      el("div", { text: t("race.map.tipStep", { step: hit.step }) }),
      el("div", { text: t("race.map.tipPosition", { xname: xl, yname: yl, x: fmt(hit.x, 4), y: fmt(hit.y, 4) }) }),
      el("div", { text: t("race.map.tipLoss", { loss: fmt(hit.loss, 4) }) }),
    );
    this.tooltip.querySelector(".race-swatch").style.background = hit.racer.color;
    this.tooltip.hidden = false;
    const left = hit.px + 14 > this.width - 170 ? hit.px - 170 : hit.px + 14;
    this.tooltip.style.left = `${left}px`;
    this.tooltip.style.top = `${Math.max(0, hit.py - 10)}px`;
  }

  _hideHover() {
    this.hoverRing.setAttribute("visibility", "hidden");
    this.tooltip.hidden = true;
  }
}

/** The levels and colour scale of a /surface answer (the whole surface's, or a zoomed
 * view's over `region`, the window its grid covers). */
function shading(answer, region) {
  const { zmin, zmax, scale } = answer;
  const levels = answer.levels || [];
  const eps = scale === "log" && levels.length ? Math.max(levels[0] - zmin, 1e-300) : 0;
  const norm = scale === "log"
    ? (z) => (Math.log10(z - zmin + eps) - Math.log10(eps)) / (Math.log10(zmax - zmin + eps) - Math.log10(eps) || 1)
    : (z) => (z - zmin) / (zmax - zmin || 1);
  return { levels, contours: answer.contours || [], scale, zmin, zmax, norm, grid: answer.grid, region,
    source: answer.source || null, key: null };
}

/** The colour bar's caption: how the contour levels are spaced. */
function levelText(scale, params) {
  return scale === "log" ? t("race.map.levelsLog", params) : t("race.map.levelsLinear", params);
}

/** A view window that is finite, ordered and neither absurdly small nor large; else null. */
function validView(view, window) {
  if (!Array.isArray(view) || view.length !== 4 || !view.every(Number.isFinite)) return null;
  const [x0, x1, y0, y1] = view;
  const [w, h] = [window[1] - window[0], window[3] - window[2]];
  const [vw, vh] = [x1 - x0, y1 - y0];
  if (!(vw > w * MIN_SPAN && vh > h * MIN_SPAN && vw < w * MAX_SPAN && vh < h * MAX_SPAN)) return null;
  return [x0, x1, y0, y1];
}

/** The point where the segment from (x0, y0) (inside the box) to (x1, y1) leaves the box. */
function clipSegment(x0, y0, x1, y1, [xmin, xmax, ymin, ymax]) {
  const dx = x1 - x0;
  const dy = y1 - y0;
  let f = 1; // Liang-Barsky with one end inside: the first border crossing
  if (dx > 0) f = Math.min(f, (xmax - x0) / dx);
  if (dx < 0) f = Math.min(f, (xmin - x0) / dx);
  if (dy > 0) f = Math.min(f, (ymax - y0) / dy);
  if (dy < 0) f = Math.min(f, (ymin - y0) / dy);
  f = Math.max(0, f);
  return [x0 + dx * f, y0 + dy * f];
}

function clamp(v, [lo, hi]) {
  return v < lo ? lo : v > hi ? hi : v;
}

function star(cx, cy, R, r) {
  let d = "";
  for (let k = 0; k < 10; k++) {
    const a = -Math.PI / 2 + (k * Math.PI) / 5;
    const rad = k % 2 ? r : R;
    d += `${k ? "L" : "M"}${(cx + rad * Math.cos(a)).toFixed(1)} ${(cy + rad * Math.sin(a)).toFixed(1)}`;
  }
  return `${d}Z`;
}

function cross(cx, cy, s) {
  return `M${cx - s} ${cy - s}L${cx + s} ${cy + s}M${cx - s} ${cy + s}L${cx + s} ${cy - s}`;
}
