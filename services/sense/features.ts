import { FEATURE_STATS } from '../common/facts-reference.js';

export { FEATURE_STATS };

/**
 * Writes the statistics of `n ≥ 1` points, `ts[0..n)` ascending with `values[0..n)`, into `out`
 * as `<metric>.<stat>`: avg, min, max, last, p95, count and slope (change per second, least
 * squares). `names` are the metric's 7 feature names in FEATURE_STATS order. A statistic that is
 * not a finite number is left out; returns how many were. Reorders `values` (for p95). Why plain
 * arrays: the window copies a ring into reusable scratch arrays once, and every pass here is a
 * straight loop; nothing is allocated but the properties of `out`.
 */
export function writeMetricFeatures(
  out: Record<string, number>,
  names: readonly string[],
  ts: Float64Array,
  values: Float64Array,
  n: number,
): number {
  const stats = STATS;
  metricStats(ts, values, n, stats, 0);
  let dropped = 0;
  for (let i = 0; i < FEATURE_STATS.length; i++) dropped += put(out, names[i], stats[i] as number);
  return dropped;
}

const STATS = new Float64Array(FEATURE_STATS.length);

/**
 * The same statistics as writeMetricFeatures, in FEATURE_STATS order into `out[at..at+7)`, finite
 * or not: for a caller that builds its features object in one go (sense's windows).
 */
export function metricStats(
  ts: Float64Array,
  values: Float64Array,
  n: number,
  out: Float64Array,
  at: number,
): void {
  const t0 = ts[0] as number;
  let sum = 0;
  let sumT = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    sum += v;
    sumT += (ts[i] as number) - t0;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  let avg = sum / n;
  // Values near the float limit overflow the sum; the mean of scaled values does not.
  if (!Number.isFinite(avg)) avg = scaledMean(values, n);
  const slope = slopePerSecond(ts, values, n, sumT / n, avg, Math.max(Math.abs(min), Math.abs(max)));
  out[at] = avg;
  out[at + 1] = min;
  out[at + 2] = max;
  out[at + 3] = values[n - 1] as number;
  out[at + 4] = p95(values, n);
  out[at + 5] = n;
  out[at + 6] = slope;
}

/** Sets `out[name] = v` when v is finite; returns 1 when it was not (left out), else 0. */
function put(out: Record<string, number>, name: string | undefined, v: number): number {
  if (name === undefined || !Number.isFinite(v)) return 1;
  out[name] = v;
  return 0;
}

/**
 * The nearest-rank 95th percentile: the value at rank `ceil(0.95 n)` in ascending order, found by
 * selection in `values[0..n)` (which it reorders). Why not sort: O(n) and no allocation.
 */
export function p95(values: Float64Array, n: number): number {
  return select(values, n, Math.min(n - 1, Math.ceil(0.95 * n) - 1));
}

/** The `k`-th smallest of `a[0..n)` (0-based), reordering `a`: Hoare quickselect, median of three. */
function select(a: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    const mid = (lo + hi) >> 1;
    if ((a[mid] as number) < (a[lo] as number)) swap(a, mid, lo);
    if ((a[hi] as number) < (a[lo] as number)) swap(a, hi, lo);
    if ((a[hi] as number) < (a[mid] as number)) swap(a, hi, mid);
    const pivot = a[mid] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) swap(a, i++, j--);
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k] as number;
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i] as number;
  a[i] = a[j] as number;
  a[j] = t;
}

function scaledMean(values: Float64Array, n: number): number {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += (values[i] as number) / n;
  return mean;
}

/**
 * Least-squares slope per second around the means (`mt`: mean of ts - ts[0]; exact for the
 * small windows here and stable for large times and values). 0 for one point or all points at
 * one time. When the sums overflow (values near the float limit), it is computed again on values
 * scaled by `maxAbs`.
 */
function slopePerSecond(
  ts: Float64Array,
  values: Float64Array,
  n: number,
  mt: number,
  mean: number,
  maxAbs: number,
): number {
  if (n < 2) return 0;
  const slope = slopeAround(ts, values, n, mt, mean, 1);
  if (Number.isFinite(slope) || !(maxAbs > 1)) return slope;
  return slopeAround(ts, values, n, mt, scaledMean(values, n) / maxAbs, maxAbs) * maxAbs;
}

function slopeAround(
  ts: Float64Array,
  values: Float64Array,
  n: number,
  mt: number,
  mean: number,
  scale: number,
): number {
  const t0 = ts[0] as number;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const dx = ((ts[i] as number) - t0 - mt) / 1000;
    sxx += dx * dx;
    sxy += dx * ((values[i] as number) / scale - mean);
  }
  return sxx === 0 ? 0 : sxy / sxx;
}
