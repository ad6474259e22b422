/**
 * Online baselines: per entity and metric, the metric's normal level and spread, learned from the
 * samples in event time, so rules can ask how far an entity is from its own normal. The pure core;
 * the Kafka changelog that keeps it across restarts is in baseline-changelog.ts.
 *
 * The model, per entity and metric (one "state"):
 *   expected(t) = level + hour[hourOfDay(t)] + day[dayOfWeek(t)]      (UTC)
 *   deviation   = (x - expected) / spread                              (robust standard deviations)
 * - level and spread are exponentially weighted in event time with half-life `halfLifeMs`, after
 *   a running mean over the first samples (so a new state is useful after `warmupSamples`).
 * - Robust: each residual is clipped at ±3 spreads before it moves anything, and spread is the
 *   weighted mean absolute residual (×1.2533, a standard deviation for normal noise), clipped too.
 * - Seasonality: 24 hour-of-day and 7 day-of-week offsets learn the residual's pattern slowly (a
 *   bucket's half-life is `seasonHalfLifeMs` of its own visits); where the data have no pattern
 *   they stay near 0, so they cost nothing in accuracy.
 * - An ongoing incident is not learned: at |deviation| ≥ `freezeDeviation` nothing is updated.
 *   A deviation that keeps its sign for `adaptAfterMs` is a new normal (a deploy, a resize): the
 *   level jumps to the recent values and learning resumes.
 * - Facts are withheld until `warmupSamples` samples: the caller reports the metric as warming up.
 * Deterministic: the result depends only on the samples in arrival order; a sample at or before a
 * state's newest time changes nothing, so replaying samples the state already saw is harmless.
 *
 * Memory: a state is 7 doubles and 36 floats (200 bytes) in shared chunked typed arrays, plus a
 * slot in its entity's index (names are shared strings); no object per state.
 */

/** Settings of the baselines; every one has a config knob (AUTOGLM_BASELINE_*). */
export interface BaselineOptions {
  /** Half-life of level and spread in event time (6h). */
  readonly halfLifeMs: number;
  /** Samples before facts are given (30). */
  readonly warmupSamples: number;
  /** How long a one-sided high deviation must last to become the new normal (3h). */
  readonly adaptAfterMs: number;
  /** |deviation| at which learning stops (4). */
  readonly freezeDeviation: number;
  /** |deviation| at which the anomaly score is 0.5 (4.5). */
  readonly anomalyDeviation: number;
  /**
   * How long a new state learns everything (clipped) before it starts to freeze on high deviations
   * (2 days): long enough to learn a daily pattern instead of taking its peaks for incidents.
   */
  readonly learnMs: number;
  /** Learn hour-of-day offsets (true). */
  readonly daily: boolean;
  /** Learn day-of-week offsets (true). */
  readonly weekly: boolean;
  /** Half-life of an hour-of-day offset, in time spent in its hour (2h: about 2 days); a day-of-week offset's is 6 times that. */
  readonly seasonHalfLifeMs: number;
  /** Smallest spread, as a fraction of |expected| (0.02): a flat series is not alarmed by a blip. */
  readonly minSpreadRatio: number;
  /** States one process keeps (AUTOGLM_BASELINE_MAX_STATES); beyond it a metric gets no baseline. */
  readonly maxStates: number;
  /** A state is due for the changelog when it moved this far in event time since it last was. */
  readonly checkpointEveryMs: number;
}

export const DEFAULT_BASELINE_OPTIONS: BaselineOptions = {
  halfLifeMs: 6 * 3_600_000,
  warmupSamples: 30,
  adaptAfterMs: 3 * 3_600_000,
  freezeDeviation: 4,
  anomalyDeviation: 4.5,
  learnMs: 2 * 86_400_000,
  daily: true,
  weekly: true,
  seasonHalfLifeMs: 2 * 3_600_000,
  minSpreadRatio: 0.02,
  maxStates: 500_000,
  checkpointEveryMs: 15_000,
};

/** The facts of one metric once its baseline is warm. */
export interface BaselineFacts {
  /** What the metric's normal is at the newest sample's time (seasonal offsets included). */
  readonly baseline: number;
  /** How far the newest sample is from it, in robust standard deviations; signed. */
  readonly deviation: number;
  /** 0..1: 0.5 at |deviation| = anomalyDeviation, near 1 two deviations beyond it. */
  readonly anomaly: number;
}

/** A state due for the changelog, or gone from memory (value undefined: write a tombstone). */
export interface BaselineCheckpoint {
  readonly entity: string;
  readonly metric: string;
  readonly partition: number;
  readonly value: Buffer | undefined;
}

// Doubles of a state.
const LEVEL = 0;
const ABSDEV = 1;
const LAST_TS = 2;
const SHIFT_SINCE = 3; // NaN when no one-sided high deviation is running
const CHECKPOINT_TS = 4;
const CANDIDATE = 5; // the recent level while a high deviation runs
const FIRST_TS = 6;
const F64 = 7;
// Floats of a state.
const HOURS = 0; // 24
const DAYS = 24; // 7
const COUNT = 31;
const EXPECTED = 32;
const DEVIATION = 33;
const F32 = 36;

const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;
const CLIP = 3;
const SPREAD_PER_ABSDEV = 1.2533; // sqrt(pi/2): mean absolute deviation → standard deviation
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const MAX_COUNT = 16_000_000; // exact in a float
const MAX_CACHED_NAMES = 4096;
const FORMAT = 1;
/** Bytes of a changelog value: format byte, 3 bytes padding, the doubles then the floats. */
export const BASELINE_RECORD_BYTES = 4 + 4 + F64 * 8 + F32 * 4;

interface EntityBaselines {
  /** The input partition the entity's samples come from: its changelog records go to the same one. */
  partition: number;
  /** Newest sample time over the entity's metrics, for eviction. */
  lastTs: number;
  /** Metric names (shared strings) and their slots, in step. */
  names: string[];
  slots: number[];
}

/** Why a metric has no baseline facts yet. */
export type BaselineUpdate = 'warm' | 'warming_up' | 'full' | 'stale';

/** Per entity and metric baselines in event time; see the file comment. */
export class BaselineStore {
  private readonly entities = new Map<string, EntityBaselines>();
  private readonly f64Chunks: Float64Array[] = [];
  private readonly f32Chunks: Float32Array[] = [];
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private states = 0;
  private refusedFull = 0;
  private readonly dirty = new Map<number, Array<{ entity: string; metric: string; slot: number }>>();
  private readonly metricNames = new Map<string, string>();
  private readonly opts: BaselineOptions;
  private readonly aHour: number;
  private readonly aDay: number;

  constructor(opts: Partial<BaselineOptions> = {}) {
    this.opts = { ...DEFAULT_BASELINE_OPTIONS, ...opts };
    for (const key of [
      'halfLifeMs',
      'warmupSamples',
      'adaptAfterMs',
      'seasonHalfLifeMs',
      'maxStates',
    ] as const) {
      const v = this.opts[key];
      if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`${key} must be positive, got ${v}`);
    }
    if (!(this.opts.freezeDeviation > 0 && this.opts.anomalyDeviation > 0))
      throw new RangeError('freezeDeviation and anomalyDeviation must be positive');
    // Rates per ms spent in the bucket: an hour bucket's half-life is seasonHalfLifeMs of its own
    // time (2h: about 2 days); a day bucket's is 6 times that, half of one visit, since a weekday comes once a week.
    this.aHour = 1 / this.opts.seasonHalfLifeMs;
    this.aDay = 1 / (6 * this.opts.seasonHalfLifeMs);
  }

  /** States held. */
  get size(): number {
    return this.states;
  }

  /** Samples of a metric that got no state because maxStates were held, since start. */
  get refused(): number {
    return this.refusedFull;
  }

  /** Bytes reserved by the state arrays (used or free). */
  get reservedBytes(): number {
    return this.f64Chunks.length * CHUNK * (F64 * 8 + F32 * 4);
  }

  /**
   * Learns one sample of `metric` of `entity` (from input `partition`). Returns whether the metric
   * now has facts ('warm'), is still warming up, could not get a state ('full'), or the sample was
   * not newer than the state's newest ('stale': nothing changed).
   */
  update(entity: string, metric: string, ts: number, x: number, partition = 0): BaselineUpdate {
    let e = this.entities.get(entity);
    let slot = e === undefined ? -1 : slotOf(e, metric);
    if (slot < 0) {
      if (this.states >= this.opts.maxStates) {
        this.refusedFull++;
        return 'full';
      }
      e ??= this.newEntity(entity, partition);
      slot = this.newState(e, metric, ts, x);
      this.markDirty(e, entity, e.names[e.names.length - 1] as string, slot);
      return this.opts.warmupSamples <= 1 ? 'warm' : 'warming_up';
    }
    e!.partition = partition;
    const d = this.f64Chunks[slot >> CHUNK_BITS] as Float64Array;
    const f = this.f32Chunks[slot >> CHUNK_BITS] as Float32Array;
    const o = (slot & (CHUNK - 1)) * F64;
    const p = (slot & (CHUNK - 1)) * F32;
    const lastTs = d[o + LAST_TS] as number;
    if (!(ts > lastTs)) return 'stale';
    this.learn(d, o, f, p, ts, x);
    if (ts > e!.lastTs) e!.lastTs = ts;
    if (ts - (d[o + CHECKPOINT_TS] as number) >= this.opts.checkpointEveryMs)
      this.markDirty(e!, entity, metric, slot);
    return (f[p + COUNT] as number) >= this.opts.warmupSamples ? 'warm' : 'warming_up';
  }

  /** The facts of `metric` of `entity` as of its newest sample; undefined while warming up or unknown. */
  facts(entity: string, metric: string): BaselineFacts | undefined {
    const e = this.entities.get(entity);
    const slot = e === undefined ? -1 : slotOf(e, metric);
    if (slot < 0) return undefined;
    const f = this.f32Chunks[slot >> CHUNK_BITS] as Float32Array;
    const p = (slot & (CHUNK - 1)) * F32;
    if ((f[p + COUNT] as number) < this.opts.warmupSamples) return undefined;
    const deviation = f[p + DEVIATION] as number;
    return { baseline: f[p + EXPECTED] as number, deviation, anomaly: this.anomalyOf(deviation) };
  }

  /** Whether `entity` has any state (warm or not) for `metric`. */
  has(entity: string, metric: string): boolean {
    const e = this.entities.get(entity);
    return e !== undefined && slotOf(e, metric) >= 0;
  }

  /** The 0..1 anomaly score of a deviation. */
  anomalyOf(deviation: number): number {
    return 1 / (1 + Math.exp(-2 * (Math.abs(deviation) - this.opts.anomalyDeviation)));
  }

  /** The states of `partition` due for the changelog since the last call, encoded; marks them written. */
  takeCheckpoints(partition: number): BaselineCheckpoint[] {
    const due = this.dirty.get(partition);
    if (due === undefined) return [];
    this.dirty.delete(partition);
    const out: BaselineCheckpoint[] = [];
    for (const { entity, metric, slot } of due) {
      const e = this.entities.get(entity);
      if (e === undefined || slotOf(e, metric) !== slot) continue; // evicted since
      const d = this.f64Chunks[slot >> CHUNK_BITS] as Float64Array;
      d[(slot & (CHUNK - 1)) * F64 + CHECKPOINT_TS] = d[(slot & (CHUNK - 1)) * F64 + LAST_TS] as number;
      out.push({ entity, metric, partition, value: this.encode(slot) });
    }
    return out;
  }

  /**
   * Puts a state read from the changelog back. Returns an error message for a value that is not a
   * state of this format (the state is then learned again from scratch), undefined when restored.
   */
  restore(entity: string, metric: string, value: Buffer, partition: number): string | undefined {
    if (value.length !== BASELINE_RECORD_BYTES || value.readUInt8(0) !== FORMAT)
      return `not a baseline state of format ${FORMAT} (${value.length} bytes, expected ${BASELINE_RECORD_BYTES})`;
    const lastTs = value.readDoubleLE(8 + LAST_TS * 8);
    if (!Number.isFinite(lastTs)) return 'baseline state has no finite newest time';
    let e = this.entities.get(entity);
    let slot = e === undefined ? -1 : slotOf(e, metric);
    if (slot < 0) {
      if (this.states >= this.opts.maxStates)
        return `already ${this.opts.maxStates} states (AUTOGLM_BASELINE_MAX_STATES)`;
      e ??= this.newEntity(entity, partition);
      slot = this.newState(e, metric, lastTs, 0);
    }
    const d = this.f64Chunks[slot >> CHUNK_BITS] as Float64Array;
    const f = this.f32Chunks[slot >> CHUNK_BITS] as Float32Array;
    const o = (slot & (CHUNK - 1)) * F64;
    const p = (slot & (CHUNK - 1)) * F32;
    for (let i = 0; i < F64; i++) d[o + i] = value.readDoubleLE(8 + i * 8);
    for (let i = 0; i < F32; i++) f[p + i] = value.readFloatLE(8 + F64 * 8 + i * 4);
    d[o + CHECKPOINT_TS] = lastTs;
    e!.partition = partition;
    if (lastTs > e!.lastTs) e!.lastTs = lastTs;
    return undefined;
  }

  /** Forgets one state (a tombstone read from the changelog); returns whether there was one. */
  drop(entity: string, metric: string): boolean {
    const e = this.entities.get(entity);
    if (e === undefined) return false;
    const i = e.names.indexOf(metric);
    if (i < 0) return false;
    this.freeSlots.push(e.slots[i] as number);
    this.states--;
    e.names.splice(i, 1);
    e.slots.splice(i, 1);
    if (e.names.length === 0) this.entities.delete(entity);
    return true;
  }

  /**
   * Forgets the entities with no sample after `nowEventMs - idleMs` (event time, never the wall
   * clock); returns their states as tombstones for the changelog.
   */
  evictIdle(nowEventMs: number, idleMs: number): BaselineCheckpoint[] {
    const bound = nowEventMs - idleMs;
    const gone: BaselineCheckpoint[] = [];
    for (const [entity, e] of this.entities) {
      if (e.lastTs >= bound) continue;
      for (let i = 0; i < e.names.length; i++) {
        gone.push({ entity, metric: e.names[i] as string, partition: e.partition, value: undefined });
        this.freeSlots.push(e.slots[i] as number);
        this.states--;
      }
      this.entities.delete(entity);
    }
    return gone;
  }

  private learn(d: Float64Array, o: number, f: Float32Array, p: number, ts: number, x: number): void {
    const opts = this.opts;
    const dt = ts - (d[o + LAST_TS] as number);
    const n = Math.min(MAX_COUNT, (f[p + COUNT] as number) + 1);
    const warm = n > opts.warmupSamples;
    const hourAt = p + HOURS + Math.floor((ts % DAY_MS) / HOUR_MS);
    const dayAt = p + DAYS + ((Math.floor(ts / DAY_MS) + 4) % 7); // 1970-01-01 was a Thursday: 0 = Sunday
    const season = (opts.daily ? (f[hourAt] as number) : 0) + (opts.weekly ? (f[dayAt] as number) : 0);
    const level = d[o + LEVEL] as number;
    const expected = level + season;
    const spread = Math.max(
      SPREAD_PER_ABSDEV * (d[o + ABSDEV] as number),
      opts.minSpreadRatio * Math.abs(expected),
      1e-9,
    );
    const r = x - expected;
    const z = r / spread;
    f[p + EXPECTED] = expected;
    f[p + DEVIATION] = z;
    f[p + COUNT] = n;
    d[o + LAST_TS] = ts;

    const learning = ts - (d[o + FIRST_TS] as number) < opts.learnMs;
    if (warm && !learning && Math.abs(z) >= opts.freezeDeviation) {
      // Frozen: track the run of one-sided high deviation; a long one is the new normal.
      const since = d[o + SHIFT_SINCE] as number;
      const candidate = d[o + CANDIDATE] as number;
      if (Number.isNaN(since) || Math.sign(candidate - expected) !== Math.sign(r)) {
        d[o + SHIFT_SINCE] = ts;
        d[o + CANDIDATE] = x;
      } else {
        d[o + CANDIDATE] = candidate + 0.1 * (x - candidate);
        if (ts - since >= opts.adaptAfterMs) {
          d[o + LEVEL] = (d[o + CANDIDATE] as number) - season;
          d[o + SHIFT_SINCE] = Number.NaN;
        }
      }
      return;
    }
    if (Math.abs(z) < opts.freezeDeviation / 2) d[o + SHIFT_SINCE] = Number.NaN;
    const a = Math.min(0.5, Math.max(1 - 2 ** (-dt / opts.halfLifeMs), 1 / n));
    const clip = n > 5 ? CLIP * spread : Infinity;
    const rc = r > clip ? clip : r < -clip ? -clip : r;
    d[o + LEVEL] = level + a * rc;
    d[o + ABSDEV] = (d[o + ABSDEV] as number) + a * (Math.min(Math.abs(r), clip) - (d[o + ABSDEV] as number));
    if (!warm) return;
    if (opts.daily)
      f[hourAt] = (f[hourAt] as number) + Math.min(0.5, 1 - 2 ** (-dt * this.aHour)) * (1 - a) * rc;
    if (opts.weekly)
      f[dayAt] = (f[dayAt] as number) + Math.min(0.5, 1 - 2 ** (-dt * this.aDay)) * (1 - a) * rc;
  }

  private newEntity(entity: string, partition: number): EntityBaselines {
    const e: EntityBaselines = { partition, lastTs: -Infinity, names: [], slots: [] };
    this.entities.set(entity, e);
    return e;
  }

  private newState(e: EntityBaselines, metric: string, ts: number, x: number): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.nextSlot++;
      if (slot >> CHUNK_BITS >= this.f64Chunks.length) {
        this.f64Chunks.push(new Float64Array(CHUNK * F64));
        this.f32Chunks.push(new Float32Array(CHUNK * F32));
      }
    }
    const d = this.f64Chunks[slot >> CHUNK_BITS] as Float64Array;
    const f = this.f32Chunks[slot >> CHUNK_BITS] as Float32Array;
    const o = (slot & (CHUNK - 1)) * F64;
    const p = (slot & (CHUNK - 1)) * F32;
    d.fill(0, o, o + F64);
    f.fill(0, p, p + F32);
    d[o + LEVEL] = x;
    d[o + LAST_TS] = ts;
    d[o + FIRST_TS] = ts;
    d[o + SHIFT_SINCE] = Number.NaN;
    d[o + CHECKPOINT_TS] = -Infinity;
    f[p + COUNT] = 1;
    f[p + EXPECTED] = x;
    e.names.push(this.intern(metric));
    e.slots.push(slot);
    if (ts > e.lastTs) e.lastTs = ts;
    this.states++;
    return slot;
  }

  private markDirty(e: EntityBaselines, entity: string, metric: string, slot: number): void {
    const d = this.f64Chunks[slot >> CHUNK_BITS] as Float64Array;
    const o = (slot & (CHUNK - 1)) * F64;
    d[o + CHECKPOINT_TS] = Infinity; // queued once; takeCheckpoints sets it to the time it wrote
    let list = this.dirty.get(e.partition);
    if (list === undefined) this.dirty.set(e.partition, (list = []));
    list.push({ entity, metric, slot });
  }

  private encode(slot: number): Buffer {
    const d = this.f64Chunks[slot >> CHUNK_BITS] as Float64Array;
    const f = this.f32Chunks[slot >> CHUNK_BITS] as Float32Array;
    const o = (slot & (CHUNK - 1)) * F64;
    const p = (slot & (CHUNK - 1)) * F32;
    const out = Buffer.alloc(BASELINE_RECORD_BYTES);
    out.writeUInt8(FORMAT, 0);
    for (let i = 0; i < F64; i++) out.writeDoubleLE(d[o + i] as number, 8 + i * 8);
    for (let i = 0; i < F32; i++) out.writeFloatLE(f[p + i] as number, 8 + F64 * 8 + i * 4);
    return out;
  }

  private intern(metric: string): string {
    const known = this.metricNames.get(metric);
    if (known !== undefined) return known;
    if (this.metricNames.size < MAX_CACHED_NAMES) this.metricNames.set(metric, metric);
    return metric;
  }
}

function slotOf(e: EntityBaselines, metric: string): number {
  const names = e.names;
  for (let i = 0; i < names.length; i++) if (names[i] === metric) return e.slots[i] as number;
  return -1;
}
