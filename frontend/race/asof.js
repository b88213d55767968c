// The race "as of" a step: what has happened to a racer by the shown step, so that playing
// (or scrubbing) never gives the ending away. The server's metrics (/leaderboard rows, a
// what-if's `metrics`) are the verdict over the whole path; before its last row a racer's
// metrics are recomputed here from the rows the page already holds (its /trajectory
// answer), with the definitions of `summaries.race.metrics.trajectory_metrics`:
// the loss and distance now, the best loss so far, the first step inside the tolerance
// (exact: the server's first entry when it is not later than the step) and the step from
// which it has stayed inside. A racer that is still on its way is "racing"; an escape or a
// divergence shows from its step on; the full verdict shows at the racer's last step.
// An own-model racer's logged leaderboard (`model_metrics`: best validation value, time to
// its target) is recomputed the same way from the validation points it logged (`history`).
import { indexAt } from "./track.js";

/** The best finite [step, value] of `points` up to `step` by `goal`, or null. */
function bestUpTo(points, step, goal) {
  let best = null;
  for (const [s, v] of points || []) {
    if (s > step) break;
    if (!Number.isFinite(v)) continue;
    if (best === null || (goal === "max" ? v > best[1] : v < best[1])) best = [s, v];
  }
  return best;
}

/**
 * An own-model racer's leaderboard fields as of step `step` (`metrics`: the verdict, with
 * `history` {key: [[step, value], ...]}; `lossNow`: its training loss at the shown step):
 * the best validation values logged so far, and the time to the target once reached.
 */
export function modelAsOf(metrics, step, lossNow) {
  const history = metrics.history || {};
  const out = {};
  if (metrics.ranked_by === "loss") {
    out.score = lossNow;
    out.score_step = lossNow === null ? null : step;
  } else {
    const best = bestUpTo(history[metrics.ranked_by], step, metrics.goal);
    out.score = best ? best[1] : null;
    out.score_step = best ? best[0] : null;
  }
  const val = bestUpTo(history.val_loss, step, "min");
  out.best_val_loss = val ? val[1] : null;
  out.best_val_loss_step = val ? val[0] : null;
  const reached = typeof metrics.target_step === "number" && metrics.target_step <= step;
  out.target_step = reached ? metrics.target_step : null;
  out.target_seconds = reached ? metrics.target_seconds ?? null : null;
  return out;
}

/**
 * Per-row facts of a track for `metrics` (the verdict, for its tolerance and kind) and the
 * known `minima`: {inside, dist, best, lastOut}, computed once per track (cached on it).
 */
export function progressOf(track, metrics, minima) {
  const key = `${metrics?.tolerance}|${metrics?.tolerance_kind}|${JSON.stringify(minima || [])}`;
  if (track.progress?.key === key) return track.progress;
  const n = track.n;
  const inside = new Uint8Array(n);
  const dist = new Float64Array(n).fill(NaN);
  const best = new Float64Array(n).fill(NaN);
  const lastOut = new Int32Array(n); // index of the last row outside the tolerance, up to i (-1: none)
  const tol = typeof metrics?.tolerance === "number" ? metrics.tolerance : -Infinity;
  const byDistance = metrics?.tolerance_kind !== "loss" && Array.isArray(minima) && minima.length > 0;
  let low = Infinity;
  let out = -1;
  for (let i = 0; i < n; i++) {
    const [x, y, loss] = [track.x[i], track.y[i], track.loss[i]];
    const finite = Number.isFinite(x) && Number.isFinite(y) && Number.isFinite(loss);
    if (byDistance) {
      let d = Infinity;
      for (const [mx, my] of minima) d = Math.min(d, Math.hypot(x - mx, y - my));
      dist[i] = Number.isFinite(d) ? d : NaN;
      inside[i] = finite && d <= tol ? 1 : 0;
    } else {
      inside[i] = finite && loss <= tol ? 1 : 0;
    }
    if (Number.isFinite(loss)) low = Math.min(low, loss);
    best[i] = Number.isFinite(low) ? low : NaN;
    if (!inside[i]) out = i;
    lastOut[i] = out;
  }
  track.progress = { key, inside, dist, best, lastOut, byDistance };
  return track.progress;
}

/**
 * A racer's metrics as of step `s`, shaped like a /leaderboard row (`outcome` may also be
 * "racing"). `metrics` is the verdict; null when it is unknown. At or after the racer's last
 * row, or once it escaped or diverged (its metrics stop there), the verdict itself.
 */
export function metricsAsOf(track, metrics, minima, s) {
  if (!metrics || !metrics.outcome || !track || !track.n) return metrics;
  if (s >= track.lastStep) return metrics;
  if (track.divergedStep !== null && s >= track.divergedStep) return metrics;
  const p = progressOf(track, metrics, minima);
  const i = indexAt(track, s);
  const step = Math.max(0, Math.floor(s));
  const finite = (v) => (Number.isFinite(v) ? v : null);
  // the first entry is exact (rows before it are the same, whatever comes later)
  const first = typeof metrics.first_entry_step === "number" && metrics.first_entry_step <= step
    ? metrics.first_entry_step : null;
  let settled = null;
  if (typeof metrics.settled_step === "number" && metrics.settled_step <= step) {
    settled = metrics.settled_step; // inside from there to the end, so to this step too
  } else if (first !== null && p.inside[i]) {
    // inside now: since the row after the last one outside (from the kept rows)
    const from = p.lastOut[i] + 1;
    settled = Math.max(first, Math.min(step, track.step[Math.min(from, i)]));
  }
  const model = typeof metrics.ranked_by === "string" ? modelAsOf(metrics, step, finite(track.loss[i])) : {};
  return {
    ...metrics,
    ...model,
    final_loss: finite(track.loss[i]),
    best_loss: finite(p.best[i]),
    distance_to_minimum: p.byDistance ? finite(p.dist[i]) : metrics.distance_to_minimum ?? null,
    first_entry_step: first,
    settled_step: settled,
    outcome: settled !== null ? "arrived" : "racing",
    diverged: false,
    diverged_step: null,
    escaped_step: null,
    stopped_step: null,
    reason: null,
    steps: step,
    as_of: step,
  };
}
