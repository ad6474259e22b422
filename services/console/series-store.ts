/**
 * The console's per-entity metric history: for each entity and metric, `points` values over
 * `rangeMs` (a point is rangeMs/points wide and holds the sample of that span furthest from the
 * normal, so a short spike stays visible), and the learned normal (baseline and spread) once per
 * `BAND_EVERY` points. Bounded: at most `maxEntities` entities (the least recently seen is
 * forgotten), `maxMetrics` metrics each; nothing else grows. Memory per entity and metric is
 * points × 4 bytes + points / BAND_EVERY × 8 bytes (360 points: 1.7 KB); bench/console-memory.ts
 * measures the whole at 10,000 entities × 6 h.
 *
 * All entities share one time axis: point p of every entity covers [p × width, (p + 1) × width),
 * stored in slot p mod points. An entity keeps its newest point; slots it skips are emptied (NaN).
 */

/** Points per stored normal (baseline, spread): the normal moves slowly (hours), values do not. */
export const BAND_EVERY = 10;

/** One metric of one entity as its arrays. */
interface MetricSeries {
  readonly values: Float32Array;
  /** |deviation| of the value kept in the newest point, to keep the furthest. */
  newestDeviation: number;
  /** baseline, spread pairs, one per BAND_EVERY points. */
  readonly band: Float32Array;
}

interface EntitySeries {
  /** Newest point index (time / width). */
  newest: number;
  readonly metrics: Map<string, MetricSeries>;
}

/** What the chart of one entity draws: times (epoch ms, a point's start) and per metric its arrays. */
export interface EntityChart {
  readonly entity: string;
  readonly widthMs: number;
  readonly times: number[];
  readonly metrics: Record<
    string,
    { values: (number | null)[]; baseline: (number | null)[]; spread: (number | null)[] }
  >;
}

/** The bounded store of entity metrics the console charts. */
export class SeriesStore {
  readonly widthMs: number;
  private readonly entities = new Map<string, EntitySeries>();
  private readonly bands: number;

  constructor(
    readonly opts: {
      readonly rangeMs: number;
      readonly points: number;
      readonly maxEntities: number;
      readonly maxMetrics: number;
    },
  ) {
    this.widthMs = Math.max(1, Math.ceil(opts.rangeMs / opts.points));
    this.bands = Math.ceil(opts.points / BAND_EVERY);
  }

  /** How many entities it holds. */
  get size(): number {
    return this.entities.size;
  }

  /** Entity ids, least recently seen first. */
  entityIds(): IterableIterator<string> {
    return this.entities.keys();
  }

  /**
   * Records one observation's sample of `metric` at `ts`: its value and, once the baseline is
   * warm, the normal. Samples older than the entity's kept range are ignored.
   */
  record(
    entity: string,
    metric: string,
    ts: number,
    value: number,
    baseline: number | undefined,
    spread: number | undefined,
  ): void {
    const point = Math.floor(ts / this.widthMs);
    let e = this.entities.get(entity);
    if (e === undefined) {
      if (this.entities.size >= this.opts.maxEntities) {
        const oldest = this.entities.keys().next().value;
        if (oldest !== undefined) this.entities.delete(oldest);
      }
      e = { newest: point, metrics: new Map() };
      this.entities.set(entity, e);
    } else if (point > e.newest) {
      // Most recently seen last: re-inserted when it moves on (once per point, not per sample).
      this.entities.delete(entity);
      this.entities.set(entity, e);
    }
    if (point <= e.newest - this.opts.points) return;
    if (point > e.newest) this.advance(e, point);
    let m = e.metrics.get(metric);
    if (m === undefined) {
      if (e.metrics.size >= this.opts.maxMetrics) return;
      m = {
        values: new Float32Array(this.opts.points).fill(NaN),
        newestDeviation: -1,
        band: new Float32Array(this.bands * 2).fill(NaN),
      };
      e.metrics.set(metric, m);
    }
    const slot = point % this.opts.points;
    const deviation =
      baseline !== undefined && spread !== undefined && spread > 0 ? Math.abs(value - baseline) / spread : 0;
    const current = m.values[slot] as number;
    if (Number.isNaN(current) || point < e.newest || deviation >= m.newestDeviation) {
      m.values[slot] = value;
      if (point === e.newest) m.newestDeviation = deviation;
    }
    if (baseline !== undefined && spread !== undefined) {
      const b = (Math.floor(point / BAND_EVERY) % this.bands) * 2;
      m.band[b] = baseline;
      m.band[b + 1] = spread;
    }
  }

  /** Empties the slots between the entity's newest point and `point` (at most a whole range). */
  private advance(e: EntitySeries, point: number): void {
    const from = Math.max(e.newest + 1, point - this.opts.points + 1);
    for (const m of e.metrics.values()) {
      for (let p = from; p <= point; p++) m.values[p % this.opts.points] = NaN;
      const firstBand = Math.floor(e.newest / BAND_EVERY) + 1;
      const lastBand = Math.floor(point / BAND_EVERY);
      for (let b = Math.max(firstBand, lastBand - this.bands + 1); b <= lastBand; b++) {
        m.band[(b % this.bands) * 2] = NaN;
        m.band[(b % this.bands) * 2 + 1] = NaN;
      }
      m.newestDeviation = -1;
    }
    e.newest = point;
  }

  /** The newest |deviation| of each metric of `entity` (0 before its baseline is warm). */
  latestDeviation(entity: string): number {
    const e = this.entities.get(entity);
    if (e === undefined) return 0;
    let worst = 0;
    for (const m of e.metrics.values()) worst = Math.max(worst, m.newestDeviation);
    return worst;
  }

  /** The points of `entity` from `sinceMs` on (the whole kept range at most), oldest first, from its first value. */
  chart(entity: string, sinceMs: number): EntityChart | undefined {
    const e = this.entities.get(entity);
    if (e === undefined) return undefined;
    const n = this.opts.points;
    let first = Math.max(e.newest - n + 1, Math.floor(sinceMs / this.widthMs));
    // From the first point that holds a value: a new entity's chart is not mostly empty.
    const has = (p: number) => [...e.metrics.values()].some((m) => !Number.isNaN(m.values[p % n] as number));
    while (first < e.newest && !has(first)) first++;
    // A band slot is reused every `bands` band buckets: older buckets than that are not kept.
    const oldestBand = Math.floor(e.newest / BAND_EVERY) - this.bands + 1;
    const times: number[] = [];
    for (let p = first; p <= e.newest; p++) times.push(p * this.widthMs);
    const metrics: EntityChart['metrics'] = {};
    const num = (x: number) => (Number.isNaN(x) ? null : x);
    for (const [name, m] of e.metrics) {
      const values: (number | null)[] = [];
      const baseline: (number | null)[] = [];
      const spread: (number | null)[] = [];
      for (let p = first; p <= e.newest; p++) {
        const value = num(m.values[p % n] as number);
        values.push(value);
        const bucket = Math.floor(p / BAND_EVERY);
        const b = (bucket % this.bands) * 2;
        const kept = value !== null && bucket >= oldestBand;
        baseline.push(kept ? num(m.band[b] as number) : null);
        spread.push(kept ? num(m.band[b + 1] as number) : null);
      }
      metrics[name] = { values, baseline, spread };
    }
    return { entity, widthMs: this.widthMs, times, metrics };
  }
}
