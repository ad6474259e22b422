import type { MetricSample, Observation, OpsEvent } from '../common/contracts.js';
import { metricFeatures, type Point } from './features.js';

/** Window settings, in milliseconds of event time. */
export interface WindowOptions {
  /** How far back a window reaches from its newest sample. */
  readonly windowMs: number;
  /** Least event time between two observations of one entity. */
  readonly emitEveryMs: number;
  /** Most recent events carried in an observation. */
  readonly maxEvents?: number;
}

/** What happened to one sample. */
export type SampleOutcome =
  | { readonly kind: 'observation'; readonly observation: Observation }
  | { readonly kind: 'buffered' }
  | { readonly kind: 'late' };

interface EntityWindow {
  readonly metrics: Map<string, Point[]>;
  events: Array<{ kind: string; message: string; ts: number }>;
  watermark: number;
  lastEmit: number;
  seq: number;
}

const MAX_EVENT_TEXT = 256;

/**
 * Sliding per-entity windows on event time. Each sample joins its entity's window; once
 * `emitEveryMs` of event time has passed since the last observation, the sample closes a
 * snapshot: features of every metric over `(ts - windowMs, ts]` plus the recent events.
 * Samples older than the window's reach are late: counted by the caller, never mixed in.
 * Deterministic: the same samples in the same order give the same observations.
 */
export class EntityWindows {
  private readonly entities = new Map<string, EntityWindow>();

  constructor(private readonly opts: WindowOptions) {}

  /** Adds a metric sample; returns the observation it closes, if any. */
  addSample(sample: MetricSample): SampleOutcome {
    const w = this.windowOf(sample.entity);
    if (sample.ts <= w.watermark - this.opts.windowMs) return { kind: 'late' };
    insertSorted(w.metrics, sample.metric, { ts: sample.ts, value: sample.value });
    if (sample.ts <= w.watermark) return { kind: 'buffered' };
    w.watermark = sample.ts;
    if (sample.ts - w.lastEmit < this.opts.emitEveryMs) return { kind: 'buffered' };
    w.lastEmit = sample.ts;
    return { kind: 'observation', observation: this.snapshot(sample.entity, w) };
  }

  /** Adds an event; it rides along in the entity's next observations while inside the window. */
  addEvent(event: OpsEvent): void {
    const w = this.windowOf(event.entity);
    w.events.push({ kind: event.kind, message: event.message.slice(0, MAX_EVENT_TEXT), ts: event.ts });
    w.events.sort((a, b) => a.ts - b.ts);
    const max = this.opts.maxEvents ?? 20;
    if (w.events.length > max) w.events.splice(0, w.events.length - max);
  }

  /** Forgets entities with no sample in `idleMs` of event time before `nowMs`; returns how many. */
  evictIdle(nowMs: number, idleMs: number): number {
    let evicted = 0;
    for (const [entity, w] of this.entities) {
      if (w.watermark < nowMs - idleMs) {
        this.entities.delete(entity);
        evicted++;
      }
    }
    return evicted;
  }

  /** Number of entities with a live window. */
  get size(): number {
    return this.entities.size;
  }

  private windowOf(entity: string): EntityWindow {
    let w = this.entities.get(entity);
    if (!w) {
      w = { metrics: new Map(), events: [], watermark: -Infinity, lastEmit: -Infinity, seq: 0 };
      this.entities.set(entity, w);
    }
    return w;
  }

  private snapshot(entity: string, w: EntityWindow): Observation {
    const end = w.watermark;
    const start = end - this.opts.windowMs;
    const features: Record<string, number> = {};
    for (const [metric, points] of w.metrics) {
      const firstInside = points.findIndex((p) => p.ts > start);
      if (firstInside === -1) {
        w.metrics.delete(metric);
        continue;
      }
      if (firstInside > 0) points.splice(0, firstInside);
      Object.assign(features, metricFeatures(metric, points));
    }
    w.events = w.events.filter((e) => e.ts > start);
    return {
      entity,
      seq: w.seq++,
      window: { start, end },
      features,
      events: w.events.filter((e) => e.ts <= end),
      ts: end,
    };
  }
}

function insertSorted(metrics: Map<string, Point[]>, metric: string, point: Point): void {
  let points = metrics.get(metric);
  if (!points) {
    points = [];
    metrics.set(metric, points);
  }
  let i = points.length;
  while (i > 0 && (points[i - 1]?.ts ?? 0) > point.ts) i--;
  points.splice(i, 0, point);
}
