// A racer's family (/family): its real Keras paths at a grid of learning rates (and
// momenta), computed by the server when the race opens. While a slider is dragged the page
// draws the path between the family's members (interpolated, and said to be approximate)
// without asking the server; the exact what-if replaces it when the drag stops.
import { getJSON } from "../common/dom.js";

/** A racer's family, or {state: "warming"|"failed", reason} while there is none. */
export function fetchFamily(race, racerId, signal) {
  return getJSON("family", { race, racer: racerId }, { signal });
}

/** Poll /family until the racer's family is ready (or failed, or `signal` aborts). */
export async function loadFamily(race, racerId, signal, { waitMs = 400, tries = 150 } = {}) {
  for (let i = 0; i < tries; i++) {
    const json = await fetchFamily(race, racerId, signal);
    if (json.state === "ready") return decodeFamily(json);
    if (json.state !== "warming") return null;
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    if (signal?.aborted) return null;
  }
  return null;
}

/** The typed form of a /family answer. */
export function decodeFamily(json) {
  const bytes = Uint8Array.from(atob(json.rows), (c) => c.charCodeAt(0));
  const rows = new Float32Array(bytes.buffer); // little-endian: every browser the page runs on
  const [nm, nl, np] = json.shape;
  return {
    logRates: json.learning_rates.map(Math.log10),
    // momenta on the momentum slider's scale, -log10(1 - m)
    momentumU: json.momenta ? json.momenta.map((m) => -Math.log10(1 - m)) : null,
    momenta: json.momenta,
    rates: json.learning_rates,
    steps: Float64Array.from(json.steps),
    diverged: json.diverged_index,
    rows,
    nm,
    nl,
    np,
    count: nm * nl,
  };
}

/** Where `v` falls on the ascending `grid`: [i, w] (v = grid[i] + w * step; clamped). */
function bracket(grid, v) {
  if (!(v > grid[0])) return [0, 0];
  const last = grid.length - 1;
  if (v >= grid[last]) return [Math.max(0, last - 1), last > 0 ? 1 : 0];
  let i = 0;
  while (i < last - 1 && grid[i + 1] <= v) i++;
  return [i, (v - grid[i]) / (grid[i + 1] - grid[i])];
}

/**
 * The approximate path at learning rate `lr` (and `momentum`): per recorded step, the
 * bilinear blend (log learning rate x momentum-slider position) of the nearest members
 * that are still on the surface there; it stops where the nearest member stopped.
 * Shaped like `prepareTrack`'s answer, with `approx` = {nearest: {lr, momentum}, outside}.
 */
export function approximateTrack(fam, lr, momentum, verdict, minima) {
  const [i, wl] = bracket(fam.logRates, Math.log10(lr));
  const u = fam.momentumU ? -Math.log10(1 - Math.min(0.999, Math.max(0, momentum ?? 0))) : 0;
  const [j, wm] = fam.momentumU ? bracket(fam.momentumU, u) : [0, 0];
  const members = [];
  for (const [dj, fm] of [[0, 1 - wm], [1, wm]]) {
    for (const [di, fl] of [[0, 1 - wl], [1, wl]]) {
      const w = fm * fl;
      const mj = Math.min(j + dj, fam.nm - 1);
      const li = Math.min(i + di, fam.nl - 1);
      if (w > 0 || !members.length) members.push({ w, base: (mj * fam.nl + li) * fam.np * 3, mj, li });
    }
  }
  const nearest = members.reduce((a, b) => (b.w > a.w ? b : a));
  const cut = fam.diverged[nearest.mj][nearest.li];
  const n = fam.np;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  const loss = new Float64Array(n);
  const { rows } = fam;
  for (let p = 0; p < n; p++) {
    let sx = 0, sy = 0, sl = 0, sw = 0;
    for (const m of members) {
      const k = m.base + p * 3;
      if (m.w > 0 && Number.isFinite(rows[k]) && Number.isFinite(rows[k + 1]) && Number.isFinite(rows[k + 2])) {
        sx += m.w * rows[k];
        sy += m.w * rows[k + 1];
        sl += m.w * rows[k + 2];
        sw += m.w;
      }
    }
    const k = nearest.base + p * 3;
    if (sw >= nearest.w && sw > 0 && (cut < 0 || p < cut)) {
      x[p] = sx / sw;
      y[p] = sy / sw;
      loss[p] = sl / sw;
    } else { // a blended member has stopped here: the nearest one's row
      x[p] = rows[k];
      y[p] = rows[k + 1];
      loss[p] = rows[k + 2];
    }
  }
  const divergedIndex = cut >= 0 ? cut : null;
  let exit = null;
  if (divergedIndex !== null) {
    exit = divergedIndex;
    while (exit > 0 && !(Number.isFinite(x[exit]) && Number.isFinite(y[exit]))) exit--;
  }
  const track = {
    n,
    step: fam.steps,
    x,
    y,
    loss,
    divergedIndex,
    divergedStep: divergedIndex === null ? null : fam.steps[divergedIndex],
    exit,
    end: divergedIndex === null ? n - 1 : exit,
    firstStep: fam.steps[0],
    lastStep: divergedIndex === null ? fam.steps[n - 1] : fam.steps[divergedIndex],
    totalPoints: n,
    whatif: true,
    hyperparameters: momentum === null || momentum === undefined ? { learning_rate: lr } : { learning_rate: lr, momentum },
    approx: {
      nearest: { lr: fam.rates[nearest.li], momentum: fam.momenta ? fam.momenta[nearest.mj] : null },
      outside: Math.log10(lr) < fam.logRates[0] - 1e-9 || Math.log10(lr) > fam.logRates[fam.nl - 1] + 1e-9,
      count: fam.count,
    },
  };
  track.metrics = approximateMetrics(track, verdict, minima);
  return track;
}

/** Leaderboard metrics of an approximate path, as `summaries.race.metrics` defines them
 * (on its recorded rows only: steps are as exact as the rows are dense). */
function approximateMetrics(track, verdict, minima) {
  const tol = typeof verdict?.tolerance === "number" ? verdict.tolerance : -Infinity;
  const byDistance = verdict?.tolerance_kind !== "loss" && Array.isArray(minima) && minima.length > 0;
  const end = track.divergedIndex === null ? track.n - 1 : track.divergedIndex;
  let best = Infinity;
  let first = null;
  let lastOut = -1;
  let dist = null;
  let inside = false;
  for (let i = 0; i <= end; i++) {
    const [x, y, l] = [track.x[i], track.y[i], track.loss[i]];
    const finite = Number.isFinite(x) && Number.isFinite(y) && Number.isFinite(l);
    if (Number.isFinite(l)) best = Math.min(best, l);
    let d = Infinity;
    if (byDistance) for (const [mx, my] of minima) d = Math.min(d, Math.hypot(x - mx, y - my));
    inside = finite && (byDistance ? d <= tol : l <= tol);
    if (byDistance) dist = Number.isFinite(d) ? d : null;
    if (inside && first === null) first = track.step[i];
    if (!inside) lastOut = i;
  }
  const stopped = track.divergedIndex === null ? null : track.divergedStep;
  const escapes = typeof verdict?.escaped_step === "number"; // only a surface unbounded below
  const diverged = stopped !== null && !escapes;
  const settled = !diverged && first !== null && inside ? track.step[Math.min(lastOut + 1, end)] : null;
  const finalLoss = track.loss[end];
  return {
    ...(verdict || {}),
    final_loss: Number.isFinite(finalLoss) ? finalLoss : null,
    best_loss: Number.isFinite(best) ? best : null,
    distance_to_minimum: byDistance ? dist : null,
    first_entry_step: first,
    settled_step: settled,
    outcome: diverged ? "diverged" : stopped !== null ? "escaped" : settled !== null ? "arrived" : "not_arrived",
    diverged,
    diverged_step: diverged ? stopped : null,
    escaped_step: !diverged && stopped !== null ? stopped : null,
    stopped_step: stopped,
    reason: stopped === null ? null : "approximate",
    steps: track.step[end],
    approximate: true,
  };
}
