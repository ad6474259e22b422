import { eventSchema, type MetricSample, type OpsEvent, type Refusal } from '../common/contracts.js';
import type { LabelLookup, Mapping } from './mapping.js';
import type { Conversion, RefusedItem } from './source.js';

/** The bounds every sample and event is checked against, the same as sense's (AUTOGLM_MAX_CLOCK_SKEW, AUTOGLM_MAX_ABS_VALUE). */
export interface RecordLimits {
  readonly maxClockSkewMs: number;
  readonly maxAbsValue: number;
}

/** Where one series' points go once its entity and metric are known. */
export interface SeriesTarget {
  readonly entity: string;
  readonly metric: string;
  readonly labels: Record<string, string> | undefined;
  /** The series as dead-lettered if a point of it is refused. */
  readonly item: () => unknown;
}

/** Earliest event time the contracts accept (2000-01-01): a seconds timestamp is refused. */
const MIN_TS = 946_684_800_000;

/**
 * Collects one request's samples, events and refusals as a source converts it: a series' entity
 * and metric are resolved once through the mapping, each point is checked against the contracts'
 * bounds (finite value within AUTOGLM_MAX_ABS_VALUE, whole-ms time after 2000 and not beyond the
 * clock skew), and what fails is refused with its reason, aggregated per series.
 */
export class RecordBuilder implements Conversion {
  readonly samples: MetricSample[] = [];
  readonly events: OpsEvent[] = [];
  readonly refused: RefusedItem[] = [];
  /** NaN points (Prometheus's staleness markers are NaN) and records of dropped metric names: not samples, not refusals. */
  readonly skipped = { nan: 0, dropped: 0 };

  constructor(
    private readonly mapping: Mapping,
    private readonly limits: RecordLimits,
    private readonly now: number,
  ) {}

  /**
   * The target of a series named `name` with labels/attributes `lookup`, or undefined when it maps
   * to no entity or metric (then `points` are refused with the reason and `item` dead-lettered).
   */
  series(lookup: LabelLookup, name: string, points: number, item: () => unknown): SeriesTarget | undefined {
    if (this.mapping.drops(name)) {
      this.skipped.dropped += points;
      return undefined;
    }
    const entity = this.mapping.entityOf(lookup);
    if (!entity.ok) {
      this.refuse('no_entity', entity.message, points, item);
      return undefined;
    }
    const metric = this.mapping.metricOf(name);
    if (metric === undefined) {
      this.refuse('unmapped_metric', this.mapping.whyNoMetric(name), points, item);
      return undefined;
    }
    return { entity: entity.entity, metric, labels: this.mapping.labelsOf(lookup), item };
  }

  /** Adds one point of a series, or refuses it (out of range, clock skew). */
  point(target: SeriesTarget, value: number, ts: number): void {
    if (Number.isNaN(value)) {
      this.skipped.nan++;
      return;
    }
    const t = Math.round(ts);
    if (!Number.isFinite(value) || Math.abs(value) > this.limits.maxAbsValue) {
      this.refusePoint(
        target,
        'out_of_range',
        `value ${value} is not finite or beyond ±${this.limits.maxAbsValue} (AUTOGLM_MAX_ABS_VALUE)`,
      );
    } else if (!Number.isSafeInteger(t) || t < MIN_TS) {
      this.refusePoint(
        target,
        'out_of_range',
        `time ${ts} is before 2000-01-01 (times are epoch milliseconds)`,
      );
    } else if (t > this.now + this.limits.maxClockSkewMs) {
      this.refusePoint(
        target,
        'clock_skew',
        `time ${t} is ${Math.round((t - this.now) / 1000)}s in the future; check the sender's clock`,
      );
    } else {
      this.samples.push(
        target.labels
          ? { entity: target.entity, metric: target.metric, value, ts: t, labels: target.labels }
          : { entity: target.entity, metric: target.metric, value, ts: t },
      );
    }
  }

  /** Adds an event after checking it against the contract, or refuses it naming every bad field. */
  event(event: OpsEvent, item: () => unknown): void {
    const parsed = eventSchema.safeParse(event);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`)
        .join('; ');
      this.refuse('schema', `the event does not fit the contract: ${issues}`, 1, item);
      return;
    }
    if (parsed.data.ts > this.now + this.limits.maxClockSkewMs) {
      this.refuse(
        'clock_skew',
        `the event's time is ${Math.round((parsed.data.ts - this.now) / 1000)}s in the future; check the sender's clock`,
        1,
        item,
      );
      return;
    }
    this.events.push(parsed.data);
  }

  /** Refuses `points` records for `reason`; the same series and reason refused again adds up. */
  refuse(reason: Refusal['reason'], message: string, points: number, item: () => unknown): void {
    this.refused.push({ reason, message, points, item: item() });
  }

  private lastRefused: { target: SeriesTarget; reason: string; entry: { points: number } } | undefined;

  private refusePoint(target: SeriesTarget, reason: Refusal['reason'], message: string): void {
    const last = this.lastRefused;
    if (last && last.target === target && last.reason === reason) {
      last.entry.points++;
      return;
    }
    const entry = { reason, message, points: 1, item: target.item() };
    this.refused.push(entry);
    this.lastRefused = { target, reason, entry };
  }
}
