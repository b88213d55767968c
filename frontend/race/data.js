// Data access for the Optimizer Race page: the plugin's routes (relative URLs: TensorBoard
// serves plugins under a <base href>). A view's request answers {error} when it fails, so
// one racer or view failing never stops the page.
import { getJSON } from "../common/dom.js";
import { errorText } from "../common/i18n.js";

const POINTS = 1500; // rows per path the server keeps (LTTB); plenty for a 500 px map

/** Every race of the logdir, each with its racers (/races). */
export async function fetchRaces() {
  const { races } = await getJSON("races");
  return races;
}

/** A racer's logged path (/trajectory, thinned to POINTS rows), or {error}. */
export function fetchTrack(racer) {
  return orError(getJSON("trajectory", { run: racer.run, tag: racer.tag, points: POINTS }));
}

/** One race's loss surface: grid, contours and minima (/surface), or {error}; with a `view`
 * [xmin, xmax, ymin, ymax], that zoomed window's levels, colour scale, contours and grid. */
export function fetchSurface(race, { view = null, signal } = {}) {
  const params = view ? { race, view: view.join(",") } : { race };
  return orError(getJSON("surface", params, { signal }));
}

/** One race's leaderboard rows (/leaderboard), or {error}. */
export function fetchLeaderboard(race) {
  return orError(getJSON("leaderboard", { race }));
}

/** Have the server prepare the what-if of every re-runnable racer of a race, in the
 * background (/warmup): the first drag then does not pay for TensorFlow's import. */
export function warmUp(race) {
  return getJSON("warmup", { race });
}

/** The query of a what-if (learning rate as typed); the caller adds `momentum`. */
export function whatifParams(race, racer, learningRate) {
  return { race, racer: racer.id, learning_rate: learningRate, points: POINTS };
}

/** A racer re-run with other values (/whatif), its path shaped like /trajectory's. */
export function fetchWhatif(params, signal) {
  return getJSON("whatif", params, { signal });
}

/** A request's answer, or {error} when it fails (in the page's language, with what to do). */
function orError(request) {
  return request.catch((err) => ({ error: errorText(err) }));
}
