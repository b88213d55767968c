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
  check(counts, k, mode);
  const values = Array.from(counts, Number);
  if (mode === "count") return values;
  if (mode === "share") {
    const total = values.reduce((a, b) => a + b, 0);
    return values.map((c) => (total > 0 ? c / total : NaN));
  }
  const sums = totals(values, k, mode);
  return values.map((c, i) => {
    const sum = sums[mode === "true" ? Math.floor(i / k) : i % k];
    return sum > 0 ? c / sum : NaN;
  });
}
