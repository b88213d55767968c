// Colour-blind-safe palettes shared by the Flowscope pages.

// Series colours, one list per theme, slot by slot the same hue (an optimizer keeps its
// colour family when TensorBoard switches theme): Okabe & Ito's eight (black, which
// vanishes on a dark page, became violet), then four of Paul Tol's, each darkened (light
// theme) or lightened (dark theme) until it reaches WCAG's 3:1 contrast against every
// background of its theme (tests/test_page_review.py computes it). No series colour is
// a grey: the step cursors are the neutral, dashed --fs-cursor of common/style.css.
export const SERIES = {
  light: [
    "#B36B00", // orange
    "#1B7FC2", // sky blue
    "#00855F", // bluish green
    "#00467F", // blue
    "#C93C00", // vermillion
    "#B8558F", // reddish purple
    "#6F42A6", // violet
    "#877A00", // yellow (olive on white)
    "#882255", // Tol wine
    "#332288", // Tol indigo
    "#117733", // Tol green
    "#2F8A7B", // Tol teal
  ],
  dark: [
    "#E69F00",
    "#56B4E9",
    "#16B886",
    "#6E9CF5",
    "#FF7A33",
    "#E48BBE",
    "#B79AF2",
    "#F0E442",
    "#E0709F",
    "#9C8CF0",
    "#7FC97F",
    "#5CC8B5",
  ],
};

/** Series colours past which a dash pattern adds a second cue. */
const SOLID = 8;

/** The series colour of slot `index` in `theme` ("light" or "dark"). */
export function seriesColour(index, theme = "light") {
  const palette = SERIES[theme] || SERIES.light;
  return palette[((index % palette.length) + palette.length) % palette.length];
}

/** Category colours for `theme`: {color, dash}; past eight, a dash pattern adds a second cue. */
export function categorical(index, theme = "light") {
  return { color: seriesColour(index, theme), dash: index >= SOLID ? "6 3" : null };
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
