/**
 * The robust spread the baselines measure deviations in (baseline.ts, and the slow reference of
 * baseline-drift.ts): the weighted mean absolute residual as a standard deviation, with floors.
 */

/** Residuals are clipped at this many spreads before they move a level or a spread. */
export const CLIP = 3;
/** sqrt(pi/2): mean absolute deviation → standard deviation for normal noise. */
export const SPREAD_PER_ABSDEV = 1.2533;

/**
 * The spread of a mean absolute residual `absdev` about `expected`: never below `ratio` of
 * |expected| (minSpreadRatio) nor `floor` (the metric's minSpread), nor 1e-9.
 */
export function robustSpread(absdev: number, expected: number, ratio: number, floor: number): number {
  return Math.max(SPREAD_PER_ABSDEV * absdev, ratio * Math.abs(expected), floor, 1e-9);
}
