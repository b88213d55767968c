// Colour-blind-safe palettes shared by the Flowscope pages.

/** Okabe & Ito's eight colours, ordered so the weakest on white (yellow) comes last. */
export const OKABE_ITO = [
  "#E69F00", // orange
  "#56B4E9", // sky blue
  "#009E73", // bluish green
  "#0072B2", // blue
  "#D55E00", // vermillion
  "#CC79A7", // reddish purple
  "#000000", // black
  "#F0E442", // yellow
];

/** Four more from Paul Tol's muted scheme, distinct from the above, for series 9 to 12. */
export const TOL_EXTRA = ["#882255", "#332288", "#999933", "#44AA99"];

/** Category colours: Okabe-Ito then Tol; past eight, a dash pattern adds a second cue. */
export function categorical(index) {
  const palette = [...OKABE_ITO, ...TOL_EXTRA];
  const i = ((index % palette.length) + palette.length) % palette.length;
  return { color: palette[i], dash: index >= OKABE_ITO.length ? "6 3" : null };
}

// Cividis (Nuñez, Anderton & Renslow 2018), sampled at nine stops: sequential and
// readable with every common colour-vision deficiency.
const CIVIDIS = [
  [0, 34, 78], [18, 53, 112], [59, 73, 108], [87, 93, 109], [112, 113, 115],
  [138, 134, 120], [165, 156, 116], [195, 179, 105], [254, 232, 56],
];

/** An [r, g, b] colour of cividis at t in [0, 1]. */
export function cividis(t) {
  const x = Math.min(1, Math.max(0, t)) * (CIVIDIS.length - 1);
  const i = Math.min(CIVIDIS.length - 2, Math.floor(x));
  const f = x - i;
  return CIVIDIS[i].map((c, k) => Math.round(c + (CIVIDIS[i + 1][k] - c) * f));
}

/** Cividis blended towards white by `fade` (0 = full colour): a quiet map background. */
export function fadedCividis(t, fade = 0.75) {
  return cividis(t).map((c) => Math.round(c + (255 - c) * fade));
}
