/** One timed value inside a window. */
export interface Point {
  readonly ts: number;
  readonly value: number;
}

/**
 * The statistics of one metric over a window, named `<metric>.<stat>`:
 * avg, min, max, last, p95, count and slope (change per second, least squares).
 * `points` must be sorted by time and non-empty.
 */
export function metricFeatures(metric: string, points: readonly Point[]): Record<string, number> {
  const n = points.length;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const p of points) {
    sum += p.value;
    if (p.value < min) min = p.value;
    if (p.value > max) max = p.value;
  }
  const sorted = points.map((p) => p.value).sort((a, b) => a - b);
  const p95 = sorted[Math.min(n - 1, Math.ceil(0.95 * n) - 1)] ?? Number.NaN;
  return {
    [`${metric}.avg`]: sum / n,
    [`${metric}.min`]: min,
    [`${metric}.max`]: max,
    [`${metric}.last`]: points[n - 1]?.value ?? Number.NaN,
    [`${metric}.p95`]: p95,
    [`${metric}.count`]: n,
    [`${metric}.slope`]: slopePerSecond(points),
  };
}

function slopePerSecond(points: readonly Point[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const t0 = points[0]?.ts ?? 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    const x = (p.ts - t0) / 1000;
    sx += x;
    sy += p.value;
    sxx += x * x;
    sxy += x * p.value;
  }
  const denom = n * sxx - sx * sx;
  return denom === 0 ? 0 : (n * sxy - sx * sy) / denom;
}
