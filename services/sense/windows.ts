import type { MetricSample, Observation, OpsEvent } from '../common/contracts.js';
import { BASELINE_STATS, METRIC_STATS } from '../common/facts-reference.js';
import { generated } from '../common/generated-code.js';
import type { BaselineStore } from './baseline.js';
import { FEATURE_STATS, metricStats } from './features.js';
import { MetricRing } from './metric-ring.js';
import { PointPool } from './point-pool.js';
import { FiringAlerts } from './firing-alerts.js';

/** Window settings, in milliseconds of event time, and the limits that bound memory. */
export interface WindowOptions {
  /** How far back a window reaches from its newest sample. */
  readonly windowMs: number;
  /** The emission grid: at most one observation per entity per `emitEveryMs` bucket of event time. */
  readonly emitEveryMs: number;
  /** Most recent events kept and carried per entity (20). */
  readonly maxEvents?: number;
  /** Metrics one entity may have in its window (AUTOGLM_MAX_METRICS_PER_ENTITY). */
  readonly maxMetricsPerEntity: number;
  /** Entities one process tracks (AUTOGLM_MAX_ENTITIES). */
  readonly maxEntities: number;
  /**
   * Largest observation, in bytes of its JSON (AUTOGLM_MAX_OBSERVATION_BYTES, 32 KiB): a new
   * metric or event that could take an entity's observation past it is refused.
   */
  readonly maxObservationBytes?: number;
  /** Points kept per metric (1024); the oldest is dropped beyond it. */
  readonly maxPointsPerMetric?: number;
  /**
   * Per entity and metric baselines, fed every accepted sample; observations then carry
   * `<metric>.baseline|deviation|anomaly` (or list the metric in `warmingUp`). Outlives the windows.
   */
  readonly baselines?: BaselineStore;
}

/** Why a sample or event was refused: the limit it hit, for the dead letter and the metric. */
export type RefusalReason = 'too_many_metrics' | 'too_many_entities' | 'observation_too_large';

/** A refused input: nothing changed; `message` names the limit and the setting that raises it. */
export interface WindowRefusal<R extends RefusalReason = RefusalReason> {
  readonly kind: 'refused';
  readonly reason: R;
  /** The input field the refusal is about (`metric`, `entity`, `message`). */
  readonly field: string;
  readonly message: string;
}

/** What happened to one sample, so the edge can publish, count or dead-letter it. */
export type SampleOutcome =
  | { readonly kind: 'observation'; readonly observation: Observation }
  | { readonly kind: 'buffered' }
  | { readonly kind: 'late' }
  /** The entity's metric holds this time and value already (a sender's retry): counted once. */
  | { readonly kind: 'duplicate' }
  | WindowRefusal;

/** What happened to one event: kept for the entity's next observations, or refused. */
export type EventOutcome =
  { readonly kind: 'event' } | WindowRefusal<'too_many_entities' | 'observation_too_large'>;

interface WindowEvent {
  readonly kind: string;
  readonly message: string;
  readonly ts: number;
}

interface EntityState {
  /** Newest sample time (-Infinity before the first). */
  watermark: number;
  /** One ring per metric, sorted by name: features come out in the same order on every run. */
  rings: MetricRing[];
  /** Sorted by time; allocated on the first event. */
  events: WindowEvent[] | undefined;
  /** The alerts firing for it (from `alert` events), allocated on the first. */
  alerts?: FiringAlerts;
  /** The layout of its last observation's features (see FeatureLayout), or undefined. */
  layout?: FeatureLayout | undefined;
  /**
   * Times of its `deploy` events, ascending: the newest at or before the last observation's end
   * (kept after the event leaves the window: observations carry it as `lastDeploy`) and any newer
   * ones read ahead of the samples; at most MAX_DEPLOYS, forgotten with the entity.
   */
  deploys?: number[];
}

/**
 * Deploy times kept per entity: the one the windows are at and those read ahead of the samples (an
 * events partition read ahead of its metrics: a backlog, a restart). Beyond it the oldest goes.
 */
const MAX_DEPLOYS = 8;

/**
 * The features of one observation in one go: its metrics (the rings' names, in order) and which
 * of them carry baseline facts, with a function that builds the object from the statistics as one
 * object literal (`{"cpu.avg": s[0], …}`: every property in place at once, the same shape for the
 * same layout) rather than a property added at a time by a name held in a variable (megamorphic
 * stores, the backing store grown as it goes: the largest cost of a snapshot). Undefined `build`:
 * code generation is disallowed, the features are written one by one.
 */
interface FeatureLayout {
  readonly metrics: readonly string[];
  readonly warm: readonly boolean[];
  readonly build: ((stats: Float64Array) => Record<string, number>) | undefined;
  /** Writes the statistics into an object `build` made, property by property in place (see EntityWindows.view). */
  readonly fill: ((features: Record<string, number>, stats: Float64Array) => void) | undefined;
  /** The features object `view` shows for this layout, made by `build` on first use and filled again after. */
  viewed?: Record<string, number>;
}

/** Statistics kept per metric while a snapshot is built: FEATURE_STATS, then the 4 baseline facts. */
const PER_METRIC = METRIC_STATS.length;
/** Feature layouts remembered (shared by entities with the same metrics); beyond it, built one by one. */
const MAX_LAYOUTS = 1024;

const MAX_EVENT_TEXT = 256;
const BUFFERED = { kind: 'buffered' } as const;
const LATE = { kind: 'late' } as const;
const DUPLICATE = { kind: 'duplicate' } as const;
const EVENT = { kind: 'event' } as const;
/** The events of a viewed observation that carries none (see EntityWindows.view): never written. */
const NO_EVENTS: Observation['events'] = Object.freeze([]) as unknown as Observation['events'];

/** What addSampleUnbuilt gives when the sample emits an observation, left unbuilt (see there). */
export const UNBUILT = { kind: 'unbuilt' } as const;

/** addSampleUnbuilt's outcomes: addSample's, with UNBUILT for an observation. */
export type UnbuiltOutcome = Exclude<SampleOutcome, { kind: 'observation' }> | typeof UNBUILT;

/** An observation's fields, written in place by EntityWindows.view. */
interface ViewedObservation {
  entity: string;
  seq: number;
  window: { start: number; end: number };
  features: Record<string, number>;
  events: Observation['events'];
  ts: number;
  warmingUp: string[] | undefined;
  alerts: Observation['alerts'];
  lastDeploy: number | undefined;
}
const MAX_CACHED_NAMES = 4096;
/** The longest JSON text of a finite double (`-2.2250738585072014e-308`). */
const MAX_NUMBER_TEXT = 24;
/** An observation's JSON without its entity, features and events: keys, five numbers, brackets. */
const OBSERVATION_BYTES =
  '{"entity":"","seq":,"window":{"start":,"end":},"features":{},"events":[],"ts":,"warmingUp":[],"lastDeploy":}'
    .length +
  5 * MAX_NUMBER_TEXT;
/** What a metric adds besides its name: per statistic `"."` `:` a number `,`, and `""` `,` in warmingUp. */
const METRIC_FIXED_BYTES = METRIC_STATS.reduce((n, stat) => n + stat.length + 5 + MAX_NUMBER_TEXT, 3);

/**
 * At most how many bytes one metric adds to an observation's JSON: each of its statistics as
 * `"<metric>.<stat>":<number>,` and its `warmingUp` entry. Metric names are ASCII (no escapes).
 */
export function metricJsonBytes(metric: string): number {
  return (METRIC_STATS.length + 1) * metric.length + METRIC_FIXED_BYTES;
}

/** How many bytes an event adds to an observation's JSON (escapes and UTF-8 counted). */
function eventJsonBytes(e: WindowEvent): number {
  return Buffer.byteLength(JSON.stringify(e)) + 1;
}
/** Shared by entities with no metric yet; never written (insertRing replaces it). */
const EMPTY: MetricRing[] = [];

/**
 * Sliding per-entity windows on event time, the pure core of the sense step. Each sample joins
 * its entity's window. A sample that advances the entity's watermark into a new `emitEveryMs`
 * bucket of event time emits an observation: features of every metric over `(ts - windowMs, ts]`
 * plus the recent events, with `seq` = the bucket index. Emission depends only on the watermark,
 * never on history: replaying one window length of samples rebuilds a window that emits exactly
 * what an uninterrupted run emits (what the edge does after a restart or a rebalance; exact
 * when emitEveryMs ≤ windowMs, nothing was refused, and the replay also covers how far samples
 * arrive out of order). The entity's last deploy time (`lastDeploy`) outlives the window: a
 * replay rebuilds it from the events it covers (sense replays its events partitions for
 * AUTOGLM_SENSE_EVENTS_REPLAY, longer than a window, for that).
 * Samples at or below the watermark are buffered in time order and never emit; samples older
 * than the window's reach are late and change nothing. Deterministic; no clock, no I/O.
 */
export class EntityWindows {
  private readonly entities = new Map<string, EntityState>();
  private readonly featureNames = new Map<string, readonly string[]>();
  private readonly layouts = new Map<string, FeatureLayout>();
  private stats = new Float64Array(4 * PER_METRIC);
  /** Per metric of the snapshot being built: whether it has baseline facts. */
  private warm: boolean[] = [];
  private readonly pool = new PointPool();
  private scratchTs = new Float64Array(64);
  private scratchValues = new Float64Array(64);
  private dropped = 0;
  /** The last emitting sample's entity and its state, and what the snapshot found (see gather). */
  private emittedEntity = '';
  private emittedState: EntityState | undefined;
  private emittedCount = 0;
  private emittedLayout: FeatureLayout | undefined;
  private emittedWarmingUp: string[] | undefined;
  private emittedDeploy: number | undefined;
  private readonly viewed: ViewedObservation = {
    entity: '',
    seq: 0,
    window: { start: 0, end: 0 },
    features: {},
    events: NO_EVENTS,
    ts: 0,
    warmingUp: undefined,
    alerts: undefined,
    lastDeploy: undefined,
  };
  private readonly windowMs: number;
  private readonly emitEveryMs: number;
  private readonly maxEvents: number;
  private readonly maxMetrics: number;
  private readonly maxEntities: number;
  private readonly maxPoints: number;
  private readonly maxBytes: number;
  private readonly baselines: BaselineStore | undefined;

  constructor(opts: WindowOptions) {
    this.windowMs = positive('windowMs', opts.windowMs);
    this.emitEveryMs = positive('emitEveryMs', opts.emitEveryMs);
    this.maxEvents = positive('maxEvents', opts.maxEvents ?? 20);
    this.maxMetrics = positive('maxMetricsPerEntity', opts.maxMetricsPerEntity);
    this.maxEntities = positive('maxEntities', opts.maxEntities);
    this.maxPoints = positive('maxPointsPerMetric', opts.maxPointsPerMetric ?? 1024);
    this.maxBytes = positive('maxObservationBytes', opts.maxObservationBytes ?? 32_768);
    this.baselines = opts.baselines;
  }

  /**
   * Adds a metric sample (read from input `partition`, where the baseline's changelog record goes);
   * returns the observation it emits, or why it does not emit.
   */
  addSample(sample: MetricSample, partition = 0): SampleOutcome {
    const outcome = this.advance(sample, partition);
    return outcome.kind === 'unbuilt' ? { kind: 'observation', observation: this.build() } : outcome;
  }

  /**
   * addSample for a replay that reads every observation once and keeps few of them (the
   * backtest): the same outcomes, but an observation is left unbuilt (UNBUILT). Until the next
   * sample, event or eviction, `view()` shows it in objects written in place, and `build()` builds the
   * observation addSample would have returned.
   */
  addSampleUnbuilt(sample: MetricSample, partition = 0): UnbuiltOutcome {
    return this.advance(sample, partition);
  }

  /** addSample's steps; an observation is gathered (see gather) and left unbuilt. */
  private advance(sample: MetricSample, partition: number): UnbuiltOutcome {
    const { entity, metric, ts } = sample;
    let w = this.entities.get(entity);
    if (w === undefined) {
      if (this.entities.size >= this.maxEntities) return this.tooManyEntities();
      w = this.newEntity(entity); // a first sample is never late and always fits
    }
    const watermark = w.watermark;
    if (ts <= watermark - this.windowMs) return LATE;
    const reach = Math.max(watermark, ts) - this.windowMs;
    let ring = findRing(w.rings, metric);
    if (ring?.holds(ts, sample.value)) return DUPLICATE;
    if (ring === undefined) {
      const refused = this.makeRoom(entity, w, reach, metricJsonBytes(metric));
      if (refused !== undefined) return refused;
      ring = new MetricRing(metric, this.pool, this.maxPoints);
      w.rings = insertRing(w.rings, ring);
    }
    ring.add(ts, sample.value);
    ring.dropThrough(reach);
    this.baselines?.update(entity, ring.name, ts, sample.value, partition);
    if (ts <= watermark) return BUFFERED;
    w.watermark = ts;
    if (Math.floor(ts / this.emitEveryMs) <= Math.floor(watermark / this.emitEveryMs)) return BUFFERED;
    this.gather(entity, w);
    return UNBUILT;
  }

  /**
   * The observation of the last sample that emitted (addSampleUnbuilt's UNBUILT), built as
   * addSample builds it. Only until the next sample, event or eviction, and once.
   */
  build(): Observation {
    const entity = this.emittedEntity;
    const w = this.emittedState as EntityState;
    const end = w.watermark;
    const start = end - this.windowMs;
    const build = this.emittedLayout?.build;
    const observation: Observation = {
      entity,
      seq: Math.floor(end / this.emitEveryMs),
      window: { start, end },
      features: build !== undefined ? build(this.stats) : this.featuresOneByOne(w.rings, this.emittedCount),
      events: this.eventsWithin(w, end) ?? [],
      ts: end,
    };
    if (this.emittedWarmingUp !== undefined) observation.warmingUp = this.emittedWarmingUp;
    if (w.alerts?.size) observation.alerts = w.alerts.list();
    if (this.emittedDeploy !== undefined) observation.lastDeploy = this.emittedDeploy;
    return observation;
  }

  /**
   * The same observation as build() would give, shown in objects of this instance written in place
   * (the features in one object per layout): for reading it at once, not keeping it; the next call
   * overwrites them. Its optional fields are present, undefined when absent. Undefined when the
   * features cannot be shown so (a statistic not finite, or code generation disallowed): build it.
   */
  view(): Observation | undefined {
    const layout = this.emittedLayout;
    if (layout?.fill === undefined) return undefined;
    const entity = this.emittedEntity;
    const w = this.emittedState as EntityState;
    const v = this.viewed;
    const end = w.watermark;
    let features = layout.viewed;
    if (features === undefined)
      layout.viewed = features = (layout.build as NonNullable<FeatureLayout['build']>)(this.stats);
    else layout.fill(features, this.stats);
    v.entity = entity;
    v.seq = Math.floor(end / this.emitEveryMs);
    v.window.start = end - this.windowMs;
    v.window.end = end;
    v.features = features;
    v.events = this.eventsWithin(w, end) ?? NO_EVENTS;
    v.ts = end;
    v.warmingUp = this.emittedWarmingUp;
    v.alerts = w.alerts?.size ? w.alerts.list() : undefined;
    v.lastDeploy = this.emittedDeploy;
    return v as Observation;
  }

  /**
   * Adds an event; it rides along in the entity's observations while inside the window. A `deploy`
   * event's time is also kept after that (the observations' `lastDeploy`).
   */
  addEvent(event: OpsEvent): EventOutcome {
    let w = this.entities.get(event.entity);
    if (w === undefined) {
      if (this.entities.size >= this.maxEntities) return this.tooManyEntities();
      w = this.newEntity(event.entity);
    }
    if (event.kind === 'alert' && event.attrs?.fingerprint !== undefined)
      (w.alerts ??= new FiringAlerts()).apply(event);
    const outcome = this.keepEvent(event, w);
    if (outcome === EVENT && event.kind === 'deploy') keepDeploy((w.deploys ??= []), event.ts);
    return outcome;
  }

  /** Keeps an event in the entity's time-sorted list while it may be in a window, unless refused. */
  private keepEvent(event: OpsEvent, w: EntityState): EventOutcome {
    const events = (w.events ??= []);
    let at = events.length;
    while (at > 0 && (events[at - 1] as WindowEvent).ts > event.ts) at--;
    if (at === 0 && events.length >= this.maxEvents) return EVENT; // older than every kept one
    const kept = { kind: event.kind, message: event.message.slice(0, MAX_EVENT_TEXT), ts: event.ts };
    // The same event sent again (Alertmanager re-sends a group, a retried request) is kept once.
    for (let i = at - 1; i >= 0 && (events[i] as WindowEvent).ts === kept.ts; i--) {
      const e = events[i] as WindowEvent;
      if (e.kind === kept.kind && e.message === kept.message) return EVENT;
    }
    const reach = w.watermark - this.windowMs;
    if (kept.ts > reach) {
      // Events past maxEvents drop out as this one comes in: counting them too stays an upper bound.
      const refused = this.fits(event.entity, w, reach, eventJsonBytes(kept), 'message');
      if (refused !== undefined) return refused;
    }
    events.splice(at, 0, kept);
    if (events.length > this.maxEvents) events.shift();
    return EVENT;
  }

  /**
   * Forgets entities whose newest sample or event is older than `nowEventMs - idleMs`; returns
   * how many. Pass the newest event time seen, not the wall clock, so a replay keeps its windows.
   */
  evictIdle(nowEventMs: number, idleMs: number): number {
    const bound = nowEventMs - idleMs;
    let evicted = 0;
    // forEach rather than for-of: no [entity, state] pair made per entity on every scan (a Map may
    // delete the entry being visited).
    this.entities.forEach((w, entity) => {
      const lastEvent = w.events?.at(-1)?.ts ?? -Infinity;
      if (w.watermark < bound && lastEvent < bound) {
        for (const ring of w.rings) ring.release();
        this.entities.delete(entity);
        evicted++;
      }
    });
    return evicted;
  }

  /** Bytes reserved for points (typed-array slabs, used or free): for a gauge. */
  get pointBytes(): number {
    return this.pool.reservedBytes;
  }

  /** Number of entities with a live window (the AUTOGLM_MAX_ENTITIES limit counts these). */
  get size(): number {
    return this.entities.size;
  }

  /** Features left out of observations because they were not finite, since start. */
  get nonFiniteDropped(): number {
    return this.dropped;
  }

  private newEntity(entity: string): EntityState {
    const w: EntityState = { watermark: -Infinity, rings: EMPTY, events: undefined };
    this.entities.set(entity, w);
    return w;
  }

  /**
   * Whether one more metric of `bytes` fits (in number and in observation bytes) once the metrics
   * with no point after `reach` are gone; removes those only when it fits, else returns the
   * refusal (which changes nothing). Counting only live metrics keeps the answer the same in a
   * window rebuilt from one window length of samples.
   */
  private makeRoom(entity: string, w: EntityState, reach: number, bytes: number): WindowRefusal | undefined {
    const rings = w.rings;
    if (rings.length >= this.maxMetrics) {
      let live = 0;
      for (const r of rings) if (r.lastTs > reach) live++;
      if (live >= this.maxMetrics) return this.tooManyMetrics(entity);
    }
    return this.fits(entity, w, reach, bytes, 'metric');
  }

  /**
   * Whether `bytes` more fit in the entity's observations: an upper bound of their JSON counts
   * every metric with a point after `reach` and every event after it (only those can be in an
   * observation from now on). Metrics with no point after `reach` are released when it fits.
   */
  private fits(
    entity: string,
    w: EntityState,
    reach: number,
    bytes: number,
    field: string,
  ): WindowRefusal<'observation_too_large'> | undefined {
    const rings = w.rings;
    let total = OBSERVATION_BYTES + entity.length + bytes;
    let dead = 0;
    for (const r of rings) {
      if (r.lastTs > reach) total += metricJsonBytes(r.name);
      else dead++;
    }
    for (const e of w.events ?? []) if (e.ts > reach) total += eventJsonBytes(e);
    if (total > this.maxBytes) return this.tooLarge(entity, total, field);
    // A metric left uncounted must not come back without this check: it goes (no observation
    // from now on could show it, as all its points are at or before `reach`).
    if (dead > 0) {
      let keep = 0;
      for (const r of rings) {
        if (r.lastTs > reach) rings[keep++] = r;
        else r.release();
      }
      rings.length = keep;
    }
    return undefined;
  }

  /**
   * An observation's state, as of its sample: each metric's statistics and baseline facts (in
   * `stats`, whether warm in `warm`), the metrics left in the window, the events before its
   * start dropped, its layout and last deploy; what build() and view() read.
   */
  private gather(entity: string, w: EntityState): void {
    const end = w.watermark;
    const start = end - this.windowMs;
    const rings = w.rings;
    const baselines = this.baselines;
    let warmingUp: string[] | undefined;
    let keep = 0;
    if (this.stats.length < rings.length * PER_METRIC)
      this.stats = new Float64Array(
        Math.max(rings.length, (2 * this.stats.length) / PER_METRIC) * PER_METRIC,
      );
    const stats = this.stats;
    const warm = this.warm;
    let finite = true;
    for (const ring of rings) {
      ring.dropThrough(start); // an emptied ring has given its block back
      if (ring.length === 0) continue;
      const at = keep * PER_METRIC;
      rings[keep++] = ring;
      if (this.scratchTs.length < ring.length) {
        this.scratchTs = new Float64Array(this.maxPoints);
        this.scratchValues = new Float64Array(this.maxPoints);
      }
      const n = ring.copyTo(this.scratchTs, this.scratchValues);
      metricStats(this.scratchTs, this.scratchValues, n, stats, at);
      for (let i = at; i < at + FEATURE_STATS.length; i++) if (!Number.isFinite(stats[i])) finite = false;
      const isWarm = baselines?.factsInto(entity, ring.name, stats, at + FEATURE_STATS.length) === true;
      warm[keep - 1] = isWarm;
      if (!isWarm && baselines?.has(entity, ring.name)) (warmingUp ??= []).push(ring.name);
    }
    if (keep < rings.length) rings.length = keep;
    if (w.events !== undefined) dropEventsThrough(w.events, start);
    this.emittedEntity = entity;
    this.emittedState = w;
    this.emittedCount = keep;
    this.emittedLayout = finite ? this.layoutOf(w, keep) : undefined;
    this.emittedWarmingUp = warmingUp;
    this.emittedDeploy = lastDeployAt(w, end);
  }

  /** The features from `stats`, a property at a time: a statistic that is not finite is left out (counted). */
  private featuresOneByOne(rings: readonly MetricRing[], count: number): Record<string, number> {
    const features: Record<string, number> = {};
    const stats = this.stats;
    for (let k = 0; k < count; k++) {
      const names = this.namesOf((rings[k] as MetricRing).name);
      const at = k * PER_METRIC;
      for (let i = 0; i < FEATURE_STATS.length; i++) {
        const v = stats[at + i] as number;
        if (Number.isFinite(v)) features[names[i] as string] = v;
        else this.dropped++;
      }
      if (!this.warm[k]) continue;
      for (let i = FEATURE_STATS.length; i < PER_METRIC; i++)
        features[names[i] as string] = stats[at + i] as number;
    }
    return features;
  }

  /** The layout of the entity's first `count` rings as they are now (remembered on the entity while it holds). */
  private layoutOf(w: EntityState, count: number): FeatureLayout {
    const rings = w.rings;
    const warm = this.warm;
    const last = w.layout;
    if (last !== undefined && last.metrics.length === count) {
      let same = true;
      for (let k = 0; k < count && same; k++)
        same = last.metrics[k] === (rings[k] as MetricRing).name && last.warm[k] === warm[k];
      if (same) return last;
    }
    let key = '';
    for (let k = 0; k < count; k++) key += `${warm[k] ? '+' : '-'}${(rings[k] as MetricRing).name}\n`;
    let layout = this.layouts.get(key);
    if (layout === undefined) {
      const metrics = rings.slice(0, count).map((r) => r.name);
      const flags = warm.slice(0, count);
      layout = { metrics, warm: flags, build: undefined, fill: undefined };
      if (this.layouts.size < MAX_LAYOUTS) {
        const names = metrics.map((m, k) =>
          this.namesOf(m).slice(0, flags[k] ? PER_METRIC : FEATURE_STATS.length),
        );
        const build = literalBuilder(names);
        layout = { metrics, warm: flags, build, fill: build && literalFiller(names) };
        this.layouts.set(key, layout);
      }
    }
    w.layout = layout;
    return layout;
  }

  /** The entity's events up to `end` (those before the window's start are gone: see gather); undefined when none. */
  private eventsWithin(w: EntityState, end: number): Observation['events'] | undefined {
    const events = w.events;
    if (events === undefined || events.length === 0 || (events[0] as WindowEvent).ts > end) return undefined;
    const carried: Observation['events'] = [];
    for (const e of events) if (e.ts <= end) carried.push(e);
    return carried;
  }

  private namesOf(metric: string): readonly string[] {
    let names = this.featureNames.get(metric);
    if (names === undefined) {
      names = [...FEATURE_STATS, ...BASELINE_STATS].map((stat) => `${metric}.${stat}`);
      if (this.featureNames.size < MAX_CACHED_NAMES) this.featureNames.set(metric, names);
    }
    return names;
  }

  private tooManyEntities(): WindowRefusal<'too_many_entities'> {
    return {
      kind: 'refused',
      reason: 'too_many_entities',
      field: 'entity',
      message: `already tracking ${this.maxEntities} entities, the limit set by AUTOGLM_MAX_ENTITIES`,
    };
  }

  private tooLarge(entity: string, bytes: number, field: string): WindowRefusal<'observation_too_large'> {
    const what = field === 'metric' ? 'this metric' : 'this event';
    return {
      kind: 'refused',
      reason: 'observation_too_large',
      field,
      message: `with ${what} an observation of entity "${entity}" could reach ${bytes} bytes, over the ${this.maxBytes} set by AUTOGLM_MAX_OBSERVATION_BYTES: use shorter metric names or fewer metrics per entity`,
    };
  }

  private tooManyMetrics(entity: string): WindowRefusal<'too_many_metrics'> {
    return {
      kind: 'refused',
      reason: 'too_many_metrics',
      field: 'metric',
      message: `entity "${entity}" already has ${this.maxMetrics} metrics in its window, the limit set by AUTOGLM_MAX_METRICS_PER_ENTITY`,
    };
  }
}

/** Adds deploy time `ts` to the ascending `deploys` (once), keeping the newest MAX_DEPLOYS. */
function keepDeploy(deploys: number[], ts: number): void {
  let at = deploys.length;
  while (at > 0 && (deploys[at - 1] as number) > ts) at--;
  if (at > 0 && deploys[at - 1] === ts) return;
  if (at === 0 && deploys.length >= MAX_DEPLOYS) return; // older than every kept one
  deploys.splice(at, 0, ts);
  if (deploys.length > MAX_DEPLOYS) deploys.shift();
}

/**
 * The entity's newest deploy at or before `end` (a deploy read ahead of the samples is not shown
 * early, as in the window's events); the older ones are dropped, as the windows only move on.
 */
function lastDeployAt(w: EntityState, end: number): number | undefined {
  const deploys = w.deploys;
  if (deploys === undefined) return undefined;
  let at = deploys.length;
  while (at > 0 && (deploys[at - 1] as number) > end) at--;
  if (at === 0) return undefined;
  if (at > 1) deploys.splice(0, at - 1);
  return deploys[0];
}

function positive(name: string, v: number): number {
  if (!(Number.isInteger(v) && v > 0)) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
}

/** Binary search by name in rings sorted by name. */
function findRing(rings: readonly MetricRing[], metric: string): MetricRing | undefined {
  let lo = 0;
  let hi = rings.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = rings[mid] as MetricRing;
    if (r.name === metric) return r;
    if (r.name < metric) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/**
 * Returns `rings` with `ring` in name order. The first ring gets an array of exactly one slot (a
 * push onto an empty array reserves 17: 128 bytes per entity at 100,000 entities).
 */
function insertRing(rings: MetricRing[], ring: MetricRing): MetricRing[] {
  if (rings.length === 0) return [ring];
  let at = rings.length;
  rings.push(ring);
  while (at > 0 && (rings[at - 1] as MetricRing).name > ring.name) {
    rings[at] = rings[at - 1] as MetricRing;
    at--;
  }
  rings[at] = ring;
  return rings;
}

/** Drops the events at or before `start` from the front of a time-sorted list. */
function dropEventsThrough(events: WindowEvent[], start: number): void {
  let gone = 0;
  while (gone < events.length && (events[gone] as WindowEvent).ts <= start) gone++;
  if (gone > 0) events.splice(0, gone);
}

/**
 * `(stats) => ({"<name>": stats[i], …})` for the feature names of each metric (metric k's at
 * `k * PER_METRIC`), or undefined where code generation is disallowed. The names enter the source
 * as JSON string literals; none is `__proto__` (every feature name is `<metric>.<stat>`).
 */
function literalBuilder(names: readonly (readonly string[])[]): FeatureLayout['build'] {
  const props = names.flatMap((list, k) =>
    list.map((name, i) => `${JSON.stringify(name)}: s[${k * PER_METRIC + i}]`),
  );
  return generated<FeatureLayout['build']>([], `return function (s) {\nreturn {${props.join(', ')}};\n};`);
}

/**
 * The function that writes the statistics into an object literalBuilder's function made for the
 * same names, a property at a time in the same order (its shape unchanged); undefined as there.
 */
function literalFiller(names: readonly (readonly string[])[]): FeatureLayout['fill'] {
  const stores = names.flatMap((list, k) =>
    list.map((name, i) => `o[${JSON.stringify(name)}] = s[${k * PER_METRIC + i}];`),
  );
  return generated<FeatureLayout['fill']>([], `return function (o, s) {\n${stores.join('\n')}\n};`);
}
