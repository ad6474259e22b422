/**
 * The last point of each cumulative series (OTLP cumulative sums and histograms), so the next one
 * becomes a per-interval value: a rate per second, an interval's mean and bucket counts. Bounded:
 * past `maxSeries` the oldest series are forgotten (their next point starts them again). Kept per
 * ingest process: a series whose exports alternate between replicas needs a sticky load balancer.
 */
export class CumulativeState<V> {
  private readonly last = new Map<string, { startNs: number; timeNs: number; value: V }>();

  constructor(private readonly maxSeries = 100_000) {}

  /**
   * The previous point of `key` when it belongs to the same run (same start time, earlier time);
   * records this point as the last either way. A new start time is a reset: no previous point.
   */
  swap(key: string, startNs: number, timeNs: number, value: V): { timeNs: number; value: V } | undefined {
    const prev = this.last.get(key);
    this.last.delete(key);
    this.last.set(key, { startNs, timeNs, value });
    if (this.last.size > this.maxSeries) {
      const oldest = this.last.keys().next().value;
      if (oldest !== undefined) this.last.delete(oldest);
    }
    if (!prev || prev.startNs !== startNs || prev.timeNs >= timeNs) return undefined;
    return prev;
  }
}

/**
 * The q-quantile (0.95) of a histogram's interval from its bucket counts, as Prometheus's
 * histogram_quantile estimates it: linear within the bucket holding the rank; the first bucket
 * starts at `min` (or 0), the +Inf bucket ends at `max` (or the last finite bound).
 */
export function bucketQuantile(
  q: number,
  bounds: readonly number[],
  counts: readonly number[],
  min?: number,
  max?: number,
): number | undefined {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total <= 0 || counts.length !== bounds.length + 1) return undefined;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (below + c >= rank && c > 0) {
      const lower = i === 0 ? Math.min(min ?? 0, bounds[0] ?? 0) : bounds[i - 1]!;
      const upper = i < bounds.length ? bounds[i]! : (max ?? bounds[bounds.length - 1] ?? lower);
      let v = lower + (upper - lower) * ((rank - below) / c);
      if (min !== undefined) v = Math.max(v, min);
      if (max !== undefined) v = Math.min(v, max);
      return v;
    }
    below += c;
  }
  return undefined;
}
