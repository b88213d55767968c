// The contour map: surface background (canvas), contour lines, minima, start point and one
// path per racer (static SVG), the travelled part of each path (a canvas redrawn per frame)
// and the markers (a small SVG on its own compositing layer). Playing the race repaints
// only those two light layers: repainting the static SVG (12 x 1,500-point paths plus
// contours) would cost about 100 ms a frame in software rendering.
import { el, svg } from "../common/dom.js";
import { fadedCividis } from "../common/colors.js";
import { fmt, linear } from "./scale.js";
import { locate } from "./track.js";

const PLOT = 500;
const M = { left: 48, right: 14, top: 14, bottom: 40 };
const HOVER_RADIUS = 14;

export class ContourMap {
  constructor({ onSeek } = {}) {
    this.onSeek = onSeek;
    this.width = PLOT + M.left + M.right;
    this.height = PLOT + M.top + M.bottom;
    this.racers = [];
    this.views = new Map();
    this.canvas = el("canvas", { class: "race-map-canvas", width: PLOT, height: PLOT });
    this.canvas.style.left = `${M.left}px`;
    this.canvas.style.top = `${M.top}px`;
    this.svg = svg("svg", {
      class: "race-map-svg",
      id: "race-map-svg",
      width: this.width,
      height: this.height,
      viewBox: `0 0 ${this.width} ${this.height}`,
    });
    const clipId = "race-map-clip";
    this.svg.append(
      svg("defs", {}, svg("clipPath", { id: clipId },
        svg("rect", { x: M.left, y: M.top, width: PLOT, height: PLOT }))),
    );
    this.gAxes = svg("g", { class: "race-axes" });
    this.gContours = svg("g", { class: "race-contours", "clip-path": `url(#${clipId})` });
    this.gPaths = svg("g", { class: "race-paths", "clip-path": `url(#${clipId})` });
    this.gMarks = svg("g", { class: "race-marks" }); // minima, start, divergence crosses
    this.svg.append(this.gContours, this.gAxes, this.gPaths);
    // the travelled part of every path, redrawn per frame (device pixels for crispness)
    this.ratio = Math.min(2, window.devicePixelRatio || 1);
    this.trails = el("canvas", {
      class: "race-trails", width: PLOT * this.ratio, height: PLOT * this.ratio,
    });
    this.trails.style.left = `${M.left}px`;
    this.trails.style.top = `${M.top}px`;
    this.overlay = svg("svg", {
      class: "race-map-overlay", id: "race-map-overlay", width: this.width, height: this.height,
      viewBox: `0 0 ${this.width} ${this.height}`,
    });
    this.gMarkers = svg("g", { class: "race-markers" });
    this.hoverRing = svg("circle", { class: "race-hover-ring", r: 6, visibility: "hidden" });
    this.overlay.append(this.gMarks, this.gMarkers, this.hoverRing);
    this.tooltip = el("div", { class: "race-tooltip", id: "race-map-tooltip" });
    this.tooltip.hidden = true;
    this.caption = el("div", { class: "race-caption", id: "race-map-caption" });
    const stage = el("div", { class: "race-map-stage" },
      this.canvas, this.svg, this.trails, this.overlay, this.tooltip);
    stage.style.width = `${this.width}px`;
    stage.style.height = `${this.height}px`;
    this.root = el("div", { class: "race-map", id: "race-map" }, stage, this.caption);
    this.overlay.addEventListener("mousemove", (e) => this._hover(e));
    this.overlay.addEventListener("mouseleave", () => this._hideHover());
    this.overlay.addEventListener("click", (e) => {
      const hit = this._nearest(e);
      if (hit && this.onSeek) this.onSeek(hit.step);
    });
  }

  /** Draw the surface: background, contour lines, axes, minima and the start point. */
  setSurface(surface, { axisLabels = ["x", "y"] } = {}) {
    this.surface = surface;
    const [xmin, xmax, ymin, ymax] = surface.window;
    this.sx = linear([xmin, xmax], [M.left, M.left + PLOT]);
    this.sy = linear([ymin, ymax], [M.top + PLOT, M.top]);
    // Clamp far-away points (a racer flying off) to a band around the plot; the clip
    // path hides the band, and coordinates stay small enough for the renderer.
    this.clampX = [xmin - (xmax - xmin), xmax + (xmax - xmin)];
    this.clampY = [ymin - (ymax - ymin), ymax + (ymax - ymin)];
    this._paintBackground(surface);
    this.gContours.replaceChildren(
      ...surface.contours.map((c, k) =>
        svg("path", {
          class: `race-contour${k % 4 === 0 ? " race-contour-major" : ""}`,
          d: c.lines.map((line) => this._polyline(line[0], line[1])).join(""),
          "data-level": c.level,
        }),
      ),
    );
    this._drawAxes(axisLabels);
    const marks = [];
    for (const [mx, my] of surface.minima || []) {
      const px = this.sx(mx);
      const py = this.sy(my);
      marks.push(svg("path", {
        class: "race-minimum",
        d: star(px, py, 7, 3),
      }, svg("title", { text: `known minimum (${fmt(mx, 4)}, ${fmt(my, 4)})` })));
    }
    if (surface.start) {
      const [px, py] = [this.sx(surface.start[0]), this.sy(surface.start[1])];
      marks.push(svg("circle", { class: "race-start", id: "race-start", cx: px, cy: py, r: 6 },
        svg("title", { text: `start (${fmt(surface.start[0], 4)}, ${fmt(surface.start[1], 4)})` })));
      marks.push(svg("text", { class: "race-start-label", x: px + 9, y: py - 8, text: "start" }));
    }
    this.gStatic = svg("g", { class: "race-static-marks" }, ...marks);
    this.gMarks.replaceChildren(this.gStatic);
    const levels = surface.levels;
    this.caption.textContent = levels.length
      ? `${levels.length} ${surface.scale === "log" ? "log-spaced" : "evenly spaced"} contour ` +
        `levels from ${fmt(levels[0])} to ${fmt(levels[levels.length - 1])}` +
        `${surface.minima?.length ? " · ★ known minimum" : ""} · ○ start · × diverged or escaped` +
        " · click a path to jump to that step"
      : "";
  }

  /** Build one path group per racer (replacing any previous racers). */
  setRacers(racers) {
    this.racers = racers;
    this.views.clear();
    this.gPaths.replaceChildren();
    this.gMarkers.replaceChildren();
    const crosses = svg("g", { class: "race-crosses" });
    for (const racer of racers) {
      const view = {
        group: svg("g", { class: "race-racer", "data-optimizer": racer.optimizer, "data-run": racer.run, "data-racer": racer.id }),
        ghost: svg("path", { class: "race-ghost", stroke: racer.color }),
        halo: svg("path", { class: "race-halo" }),
        base: svg("path", {
          class: "race-path",
          stroke: racer.color,
          "stroke-dasharray": racer.dash || null,
          "data-optimizer": racer.optimizer, "data-run": racer.run, "data-racer": racer.id,
        }),
        cross: svg("path", { class: "race-diverged", stroke: racer.color, visibility: "hidden",
          "data-optimizer": racer.optimizer, "data-run": racer.run, "data-racer": racer.id }),
        marker: svg("circle", { class: "race-marker", r: 5.5, fill: racer.color,
          "data-optimizer": racer.optimizer, "data-run": racer.run, "data-racer": racer.id }),
      };
      view.group.append(view.ghost, view.halo, view.base);
      this.gPaths.append(view.group);
      crosses.append(view.cross);
      this.gMarkers.append(view.marker);
      this.views.set(racer.id, view);
      this.updateRacer(racer);
    }
    this.gMarks.replaceChildren(...[this.gStatic, crosses].filter(Boolean));
  }

  /** Redraw one racer's path (after a what-if, a reset or new logged steps). */
  updateRacer(racer) {
    const view = this.views.get(racer.id);
    if (!view || !this.sx) return;
    const t = racer.track;
    const { px, py, d } = this._project(t);
    Object.assign(view, { px, py });
    for (const p of [view.halo, view.base]) p.setAttribute("d", d || "M0 0");
    view.group.classList.toggle("race-whatif", t.whatif);
    // the logged path, dotted, under a what-if (it may have grown since the what-if ran)
    view.ghost.setAttribute("d", racer.whatif && racer.loggedTrack ? this._project(racer.loggedTrack).d : "");
    view.exitXY = this._exitPoint(t);
    if (view.exitXY) {
      view.cross.setAttribute("d", cross(view.exitXY[0], view.exitXY[1], 6));
      view.cross.setAttribute("visibility", racer.visible ? "visible" : "hidden");
      view.cross.replaceChildren(svg("title", {
        text: `${racer.title} ${t.metrics?.outcome === "escaped" ? "escaped" : "diverged"} at step ${t.divergedStep}`,
      }));
    } else {
      view.cross.setAttribute("visibility", "hidden");
    }
    this.setVisible(racer);
    if (this.step !== undefined) this.setStep(this.step);
  }

  /** Pixel coordinates of a track's rows and its SVG path (far-off points clipped). */
  _project(t) {
    const px = new Float64Array(t.n);
    const py = new Float64Array(t.n);
    let d = "";
    let pen = false;
    for (let i = 0; i < t.n; i++) {
      const ok = i <= t.end && Number.isFinite(t.x[i]) && Number.isFinite(t.y[i]);
      let [x, y] = [t.x[i], t.y[i]];
      if (ok && i > 0 && Number.isFinite(t.x[i - 1]) && !this._inBand(x, y)) {
        // A racer flying off: end the drawn segment at the band around the map, in the
        // segment's own direction (clamping x and y separately would bend it).
        [x, y] = clipSegment(t.x[i - 1], t.y[i - 1], x, y, [...this.clampX, ...this.clampY]);
      }
      px[i] = ok ? this.sx(clamp(x, this.clampX)) : NaN;
      py[i] = ok ? this.sy(clamp(y, this.clampY)) : NaN;
      if (!ok) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${px[i].toFixed(1)} ${py[i].toFixed(1)}`;
      pen = true;
    }
    return { px, py, d };
  }

  /** Show or hide one racer (legend toggle). */
  setVisible(racer) {
    const view = this.views.get(racer.id);
    if (!view) return;
    const vis = racer.visible ? "visible" : "hidden";
    view.group.setAttribute("visibility", vis);
    view.marker.setAttribute("visibility", vis);
    view.cross.setAttribute("visibility", racer.visible && view.exitXY ? "visible" : "hidden");
    if (this.step !== undefined) this.setStep(this.step);
  }

  /** Move every marker to step s and redraw the travelled part of every path. */
  setStep(s) {
    this.step = s;
    const ctx = this.trails.getContext("2d");
    ctx.setTransform(this.ratio, 0, 0, this.ratio, -M.left * this.ratio, -M.top * this.ratio);
    ctx.clearRect(M.left, M.top, PLOT, PLOT);
    ctx.lineJoin = "round";
    ctx.lineCap = "round";
    for (const racer of this.racers) {
      const view = this.views.get(racer.id);
      if (view && racer.visible) this._place(racer, view, s, ctx);
    }
  }

  _place(racer, view, s, ctx = null) {
    const t = racer.track;
    if (!t.n || !view.px) return;
    const at = locate(t, s);
    let x;
    let y;
    let last = at.i;
    if (at.diverged) {
      last = t.exit;
      [x, y] = view.exitXY || [view.px[t.exit], view.py[t.exit]];
    } else {
      const j = Math.min(at.i + 1, t.n - 1);
      const ok = Number.isFinite(view.px[j]);
      x = ok ? view.px[at.i] + (view.px[j] - view.px[at.i]) * at.f : view.px[at.i];
      y = ok ? view.py[at.i] + (view.py[j] - view.py[at.i]) * at.f : view.py[at.i];
    }
    if (ctx) this._trail(ctx, racer, view, last, x, y);
    if (Number.isFinite(x) && Number.isFinite(y)) {
      view.marker.setAttribute("cx", x.toFixed(1));
      view.marker.setAttribute("cy", y.toFixed(1));
    }
  }

  /** Stroke the path from the start to row `last`, then to the marker at (x, y). */
  _trail(ctx, racer, view, last, x, y) {
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
    ctx.setLineDash([]);
    ctx.strokeStyle = "rgba(255, 255, 255, 0.85)";
    ctx.lineWidth = 4.5;
    ctx.stroke();
    ctx.setLineDash(racer.dash ? racer.dash.split(" ").map(Number) : []);
    ctx.strokeStyle = racer.color;
    ctx.lineWidth = 2.2;
    ctx.stroke();
  }

  _inBand(x, y) {
    return x >= this.clampX[0] && x <= this.clampX[1] && y >= this.clampY[0] && y <= this.clampY[1];
  }

  /** Screen point where a diverged racer left the map (or its last position on it). */
  _exitPoint(t) {
    if (t.exit === null) return null;
    const [xmin, xmax, ymin, ymax] = this.surface.window;
    const inside = (i) => t.x[i] >= xmin && t.x[i] <= xmax && t.y[i] >= ymin && t.y[i] <= ymax;
    let j = t.exit;
    while (j > 0 && !inside(j)) j--;
    if (!inside(j)) return null;
    let [x, y] = [t.x[j], t.y[j]];
    const k = j + 1;
    if (j < t.exit && Number.isFinite(t.x[k]) && Number.isFinite(t.y[k])) {
      [x, y] = clipSegment(x, y, t.x[k], t.y[k], this.surface.window);
    }
    return [this.sx(x), this.sy(y)];
  }

  _paintBackground(surface) {
    const ctx = this.canvas.getContext("2d");
    if (!surface.grid) {
      ctx.fillStyle = "#f3f3f3";
      ctx.fillRect(0, 0, PLOT, PLOT);
      return;
    }
    const { nx, ny, values } = surface.grid;
    const image = new ImageData(nx, ny);
    const { zmin, zmax, levels, scale } = surface;
    const eps = scale === "log" && levels.length ? Math.max(levels[0] - zmin, 1e-300) : 0;
    const norm =
      scale === "log"
        ? (z) => (Math.log10(z - zmin + eps) - Math.log10(eps)) /
            (Math.log10(zmax - zmin + eps) - Math.log10(eps) || 1)
        : (z) => (z - zmin) / (zmax - zmin || 1);
    for (let r = 0; r < ny; r++) {
      const row = values[ny - 1 - r]; // grid rows go up in y; canvas rows go down
      for (let c = 0; c < nx; c++) {
        const z = row[c];
        const k = 4 * (r * nx + c);
        const [R, G, B] = z === null ? [235, 235, 235] : fadedCividis(norm(z), 0.72);
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
    ctx.imageSmoothingEnabled = true;
    ctx.clearRect(0, 0, PLOT, PLOT);
    ctx.drawImage(small, 0, 0, PLOT, PLOT);
  }

  _drawAxes([xlabel, ylabel]) {
    const g = [];
    g.push(svg("rect", { class: "race-frame", x: M.left, y: M.top, width: PLOT, height: PLOT }));
    for (const v of this.sx.ticks(6)) {
      const x = this.sx(v);
      g.push(svg("line", { class: "race-tick", x1: x, x2: x, y1: M.top + PLOT, y2: M.top + PLOT + 4 }));
      g.push(svg("text", { class: "race-tick-label", x, y: M.top + PLOT + 16, "text-anchor": "middle", text: fmt(v) }));
    }
    for (const v of this.sy.ticks(6)) {
      const y = this.sy(v);
      g.push(svg("line", { class: "race-tick", x1: M.left - 4, x2: M.left, y1: y, y2: y }));
      g.push(svg("text", { class: "race-tick-label", x: M.left - 7, y: y + 4, "text-anchor": "end", text: fmt(v) }));
    }
    g.push(svg("text", { class: "race-axis-label", x: M.left + PLOT / 2, y: this.height - 6, "text-anchor": "middle", text: xlabel }));
    g.push(svg("text", {
      class: "race-axis-label", x: 12, y: M.top + PLOT / 2, "text-anchor": "middle",
      transform: `rotate(-90 12 ${M.top + PLOT / 2})`, text: ylabel,
    }));
    this.gAxes.replaceChildren(...g);
  }

  _polyline(xs, ys) {
    let d = "";
    for (let i = 0; i < xs.length; i++) {
      if (xs[i] === null || ys[i] === null) continue;
      d += `${i ? "L" : "M"}${this.sx(xs[i]).toFixed(1)} ${this.sy(ys[i]).toFixed(1)}`;
    }
    return d;
  }

  _nearest(event) {
    const box = this.overlay.getBoundingClientRect();
    const mx = ((event.clientX - box.left) * this.width) / box.width;
    const my = ((event.clientY - box.top) * this.height) / box.height;
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
    const t = best.racer.track;
    return { ...best, step: t.step[best.i], x: t.x[best.i], y: t.y[best.i], loss: t.loss[best.i],
      px: this.views.get(best.racer.id).px[best.i],
      py: this.views.get(best.racer.id).py[best.i], mx, my };
  }

  _hover(event) {
    const hit = this._nearest(event);
    if (!hit) return this._hideHover();
    this.hoverRing.setAttribute("cx", hit.px);
    this.hoverRing.setAttribute("cy", hit.py);
    this.hoverRing.setAttribute("stroke", hit.racer.color);
    this.hoverRing.setAttribute("visibility", "visible");
    this.tooltip.replaceChildren(
      el("div", { class: "race-tooltip-title" },
        el("span", { class: "race-swatch" + (hit.racer.dash ? " race-swatch-dashed" : "") }),
        el("span", { class: "race-tooltip-name", text: hit.racer.title }),
        hit.racer.whatif ? "(what-if)" : null),
      el("div", { text: `step ${hit.step}` }),
      el("div", { text: `position (${fmt(hit.x, 4)}, ${fmt(hit.y, 4)})` }),
      el("div", { text: `loss ${fmt(hit.loss, 4)}` }),
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
