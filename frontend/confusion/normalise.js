// The Confusion page's one implementation of each normalisation of a K x K count matrix
// (row-major [true][predicted]). The plugin sends counts only; every view derives from them.

/** The modes normalise() knows: as is, by true class (row), by predicted class (column),
 * and each cell's share of all samples (compare mode in count view). */
export const NORMALISATIONS = Object.freeze(["count", "true", "predicted", "share"]);

function check(counts, k, mode) {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  if (counts === null || typeof counts !== "object" || counts.length !== k * k) {
    throw new RangeError(`counts must hold k * k = ${k * k} values, got ${counts?.length}`);
  }
  if (!NORMALISATIONS.includes(mode)) {
    throw new RangeError(`mode must be one of ${NORMALISATIONS.join(", ")}, got ${JSON.stringify(mode)}`);
  }
}

/**
 * Sums of each row ("true": samples of each true class) or column ("predicted": samples
 * predicted as each class) of a K x K matrix.
 * @param {ArrayLike<number>} counts K*K counts
 * @param {number} k
 * @param {"true"|"predicted"} by
 * @returns {number[]} K sums
 */
export function totals(counts, k, by) {
  if (by !== "true" && by !== "predicted") {
    throw new RangeError(`by must be "true" or "predicted", got ${JSON.stringify(by)}`);
  }
  check(counts, k, by);
  const sums = new Array(k).fill(0);
  for (let i = 0; i < k * k; i++) sums[by === "true" ? Math.floor(i / k) : i % k] += Number(counts[i]);
  return sums;
}

/**
 * Normalised K*K values as plain numbers: "count" unchanged, "true" divided by row sums,
 * "predicted" by column sums, "share" by the total. A row, column or matrix without any
 * sample gives NaN (no value), never 0.
 * @param {ArrayLike<number>} counts K*K counts (plain or typed array)
 * @param {number} k number of classes
 * @param {"count"|"true"|"predicted"|"share"} mode
 * @returns {number[]}
 */
export function normalise(counts, k, mode) {
  return Array.from(normaliseTyped(counts, k, mode));
}

/**
 * normalise() as a Float64Array: what the maps use, since a 1,000-class matrix is a million
 * values (a plain array of them, built value by value, costs a frame several times over).
 * @returns {Float64Array}
 */
export function normaliseTyped(counts, k, mode) {
  check(counts, k, mode);
  const n = k * k;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Number(counts[i]);
  if (mode === "count") return out;
  if (mode === "share") {
    let total = 0;
    for (let i = 0; i < n; i++) total += out[i];
    for (let i = 0; i < n; i++) out[i] = total > 0 ? out[i] / total : NaN;
    return out;
  }
  const sums = new Float64Array(k);
  const byRow = mode === "true";
  for (let r = 0, i = 0; r < k; r++) {
    for (let c = 0; c < k; c++, i++) sums[byRow ? r : c] += out[i];
  }
  for (let r = 0, i = 0; r < k; r++) {
    for (let c = 0; c < k; c++, i++) {
      const sum = sums[byRow ? r : c];
      out[i] = sum > 0 ? out[i] / sum : NaN;
    }
  }
  return out;
}
