// One racer's trajectory as typed arrays, and where it is at a given step.

/** Typed-array form of a /trajectory or /whatif answer (null becomes NaN). */
export function prepareTrack(json) {
  const n = json.step.length;
  const step = new Float64Array(n);
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  const loss = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    step[i] = json.step[i];
    x[i] = json.x[i] ?? NaN;
    y[i] = json.y[i] ?? NaN;
    loss[i] = json.loss[i] ?? NaN;
  }
  const divergedIndex = json.diverged_index ?? null;
  // The "exit" point: the divergence row if it has a position, else the last one before.
  let exit = null;
  if (divergedIndex !== null) {
    exit = divergedIndex;
    while (exit > 0 && !(Number.isFinite(x[exit]) && Number.isFinite(y[exit]))) exit--;
  }
  const end = divergedIndex === null ? n - 1 : exit;
  return {
    n,
    step,
    x,
    y,
    loss,
    divergedIndex,
    divergedStep: json.diverged_step ?? null,
    exit,
    end,
    firstStep: n ? step[0] : 0,
    lastStep: n ? step[n - 1] : 0,
    totalPoints: json.total_points ?? n,
    metrics: json.metrics ?? null,
    whatif: Boolean(json.whatif),
    hyperparameters: json.hyperparameters ?? {},
  };
}

/** Index of the last row whose step is <= s (0 when s is before the first row). */
export function indexAt(track, s) {
  const { step, n } = track;
  if (n === 0 || s <= step[0]) return 0;
  if (s >= step[n - 1]) return n - 1;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (step[mid] <= s) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * Where the racer is at step s: {i, f, x, y, loss, step, diverged}. Between two kept rows
 * the position is interpolated along the drawn segment; after divergence it stays at the
 * exit point.
 */
export function locate(track, s) {
  const i = indexAt(track, s);
  if (track.divergedIndex !== null && (i >= track.divergedIndex || s >= track.divergedStep)) {
    const e = track.exit;
    return { i: e, f: 0, x: track.x[e], y: track.y[e], loss: track.loss[track.divergedIndex],
      step: track.divergedStep, diverged: true };
  }
  const j = Math.min(i + 1, track.n - 1);
  const span = track.step[j] - track.step[i];
  let f = span > 0 ? (s - track.step[i]) / span : 0;
  f = Math.min(1, Math.max(0, f));
  const lerp = (a) => (Number.isFinite(a[j]) ? a[i] + (a[j] - a[i]) * f : a[i]);
  return { i, f, x: lerp(track.x), y: lerp(track.y), loss: lerp(track.loss),
    step: Math.min(Math.round(s), track.lastStep), diverged: false };
}
