import { anomalyScore } from '../common/facts-reference.js';
import { BaselineDrift, DRIFT_FLOATS } from './baseline-drift.js';
import { CLIP, robustSpread } from './baseline-spread.js';
import { BaselinePeaks, PEAK_BYTES } from './baseline-peaks.js';
import { BaselineTail, RUN_MAX, TAIL_FLOATS } from './baseline-tail.js';

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
 *   they stay near 0, so they cost nothing in accuracy. A day-of-week offset stays within ±3 spreads
 *   (the residuals' clip): it corrects a whole day a little, and the level (half-life 3h) follows the
 *   rest. Unbounded, the additive hour + day model could not hold a pattern that differs by hour
 *   between days (nyc_taxi's busy weekend nights, quiet weekday ones), and each weekend's run of
 *   high deviations adapted the level up, after which the day's offset learned the way back down:
 *   the offsets ratcheted, week after week, to −187 on a series between 0 and 100, and every
 *   Saturday and Sunday midnight scored 10–36 deviations (bench/real-series.ts: 55 of the 133
 *   decisions outside windows were nyc_taxi's).
 * - An ongoing incident is not learned: at |deviation| ≥ `freezeDeviation` nothing is updated.
 *   A deviation that keeps its sign for `adaptAfterMs` is a new normal (a deploy, a resize): the
 *   level moves by the run's recent residual and learning resumes. (It used to jump to the run's
 *   recent values minus this hour's offsets: on a seasonal metric those values span several hours,
 *   so each adaptation put the offsets' change over the run into the level as an error.)
 * - Heavy tails (baseline-tail.ts): a metric whose excursions are common (disk writes at 0 that burst to 50% several
 *   times a day, a bursty network or CPU series) is not anomalous on each burst. Beside the spread,
 *   each state models its excursions beyond 2 spreads, peaks over a threshold as in SPOT (Siffer et
 *   al., "Anomaly detection in streams with extreme value theory", KDD 2017) with an exponential
 *   tail: how often they happen (`rate`, in event time, half-life `tailHalfLifeMs`) and how far they
 *   go beyond 2 spreads on average (`excess`). The deviation a sample as rare as `tailRisk` reaches
 *   is z_q = 2 + excess × ln(rate / tailRisk); where z_q is beyond `anomalyDeviation` the spread is
 *   widened by z_q / anomalyDeviation, so a sample scores `anomalyDeviation` where it is as rare as
 *   `tailRisk` by the metric's own excursions. Gaussian noise has rate 0.046 and excess 0.37
 *   (z_q 2.8 at the default risk): nothing changes for it. Unlike the spread, the tail learns from
 *   every sample, frozen or not (that is how it sees the bursts), but robustly: an excursion moves
 *   the excess by at most 4× its current value, and the k-th sample of one excursion by 1/k of a
 *   first sample's step, so an incident lasting hours counts about as much as a few bursts.
 * - Recurring excursions (baseline-peaks.ts): an exponential tail fitted to a metric's excursions
 *   underrates the large ones where there are two kinds, many small and a few large every day (a
 *   disk or network series' bursts to 30% and to 80%): the mean excess is the small ones', and each
 *   large burst scored 8-15 deviations for weeks (bench/real-series.ts: 10-12 decisions outside
 *   the windows on each such series). So each state also remembers the peaks of its recent
 *   excursions, as SPOT's peak set, in its spreads, each halving every `tailPeakHalfLifeMs` (2 days);
 *   where the tail model already widens the spread (the excursions are common), the deviation given
 *   is measured in a spread at least so wide that an excursion as large as the `tailPeakRank`-th
 *   (4th) largest recent peak scores `tailPeakDeviation` (3): a burst no larger than several of the
 *   last days' is not novel, one well beyond them still is. Where the tail does not widen (noise,
 *   rare spikes) nothing changes, and what is learned (the freeze) never reads the peaks.
 * - Drift (baseline-drift.ts): a shift the level follows (a slow decline, or a step the adaptation above takes in as the
 *   new normal) scores no deviation once learned. Beside the level, each state keeps a slow
 *   reference, the deseasonalized samples weighted with half-life `driftHalfLifeMs` (7 days), each
 *   clipped at ±3 of its own spreads (the mean absolute residual about it, ×1.2533); the `drift`
 *   fact is (level − slow reference) / that spread: how far this metric's normal of the last hours
 *   has moved from its normal of the last days. It learns from every sample, frozen or not, and is
 *   0 until the state is `driftHalfLifeMs` old (before that the seasonal offsets are still being
 *   learned, so the deseasonalized level wanders).
 * - Facts are withheld until `warmupSamples` samples: the caller reports the metric as warming up.
 * Deterministic: the result depends only on the samples in arrival order; a sample at or before a
 * state's newest time changes nothing, so replaying samples the state already saw is harmless.
 *
 * Memory: a state is 2 doubles, 43 floats, a 16-bit metric id, a 16-bit excursion run and 5 bytes of recent peaks (197 bytes) in shared chunked typed arrays, plus its
 * entity's key string and a small array of slots per entity; no object per state.
 */

/** Settings of the baselines; every one has a config knob (AUTOGLM_BASELINE_*). */
export interface BaselineOptions {
  /** Half-life of level and spread in event time (3h: calibrated on the real series in data/nab, bench/real-series.ts). */
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
  /**
   * Smallest spread per metric name, in the metric's own unit (AUTOGLM_BASELINE_MIN_SPREAD, cpu 0.3
   * percentage points): a metric that sits at one value (0 disk writes, a CPU pinned at 0.1%) learns
   * a spread near 0, and the relative floor is near 0 too when the value is near 0, so a blip of a
   * fraction of a percent scored a deviation of 1e8 and every burst was an incident.
   */
  readonly minSpread: Readonly<Record<string, number>>;
  /** States one process keeps (AUTOGLM_BASELINE_MAX_STATES); beyond it a metric gets no baseline. */
  readonly maxStates: number;
  /** A state is due for the changelog when it moved this far in event time since it last was. */
  readonly checkpointEveryMs: number;
  /**
   * How rare, as a share of samples by the metric's own excursions, a sample must be to score
   * `anomalyDeviation` (AUTOGLM_BASELINE_TAIL_RISK, 0.006: about once in 14 hours of 5-minute
   * samples); 0 turns the tail model off (deviations in the spread alone). See the file comment.
   */
  readonly tailRisk: number;
  /** Half-life of the excursions' rate, in event time (2 days). */
  readonly tailHalfLifeMs: number;
  /**
   * Half-life of the slow reference the `drift` fact is measured from, in event time
   * (AUTOGLM_BASELINE_DRIFT_HALF_LIFE, 7 days); drift is 0 until a state is that old.
   */
  readonly driftHalfLifeMs: number;
  /**
   * Which largest of the recent excursions' peaks an excursion must pass to be novel
   * (AUTOGLM_BASELINE_TAIL_PEAK_RANK, 4: the fourth largest; 0: off, and no memory for the peaks);
   * see "Recurring excursions" in the file comment.
   */
  readonly tailPeakRank: number;
  /** Half-life of the recent excursions' peaks, in event time (AUTOGLM_BASELINE_TAIL_PEAK_HALF_LIFE, 2 days). */
  readonly tailPeakHalfLifeMs: number;
  /**
   * The most an excursion as large as that recent peak scores (AUTOGLM_BASELINE_TAIL_PEAK_DEVIATION,
   * 3): below anomalyDeviation, so a repeat of the recent excursions is not an anomaly.
   */
  readonly tailPeakDeviation: number;
}

export const DEFAULT_BASELINE_OPTIONS: BaselineOptions = {
  halfLifeMs: 3 * 3_600_000,
  warmupSamples: 30,
  adaptAfterMs: 3 * 3_600_000,
  freezeDeviation: 4,
  anomalyDeviation: 4.5,
  learnMs: 2 * 86_400_000,
  daily: true,
  weekly: true,
  seasonHalfLifeMs: 2 * 3_600_000,
  minSpreadRatio: 0.02,
  minSpread: { cpu: 0.3 },
  maxStates: 500_000,
  checkpointEveryMs: 15_000,
  tailRisk: 0.006,
  tailHalfLifeMs: 2 * 86_400_000,
  driftHalfLifeMs: 7 * 86_400_000,
  tailPeakRank: 4,
  tailPeakHalfLifeMs: 2 * 86_400_000,
  tailPeakDeviation: 3,
};

/** The facts of one metric once its baseline is warm. */
export interface BaselineFacts {
  /** What the metric's normal is at the newest sample's time (seasonal offsets included). */
  readonly baseline: number;
  /** How far the newest sample is from it, in robust standard deviations; signed. */
  readonly deviation: number;
  /** 0..1: 0.5 at |deviation| = anomalyDeviation, near 1 two deviations beyond it. */
  readonly anomaly: number;
  /**
   * The robust standard deviation as learned through the newest sample (what the next sample's
   * deviation is measured in): with `baseline`, what a verification measures samples after an
   * action against, so that a baseline that learns the incident meanwhile cannot verify it.
   */
  readonly spread: number;
  /**
   * How far the level is from the slow reference (the deseasonalized level over days), in the slow
   * reference's spreads, signed; 0 until the state is `driftHalfLifeMs` old. See the file comment.
   */
  readonly drift: number;
}

/** A state due for the changelog, or gone from memory (value undefined: write a tombstone). */
export interface BaselineCheckpoint {
  readonly entity: string;
  readonly metric: string;
  readonly partition: number;
  readonly value: Buffer | undefined;
}

// Doubles of a state: what needs the precision.
const LEVEL = 0;
const LAST_TS = 1;
const F64 = 2;
// Floats of a state.
const HOURS = 0; // 24 hour-of-day offsets
const DAYS = 24; // 7 day-of-week offsets, 0 = Sunday
const COUNT = 31;
const EXPECTED = 32; // the newest sample's expected value
const DEVIATION = 33; // and its deviation
const ABSDEV = 34; // weighted mean absolute residual
const CANDIDATE = 35; // the run's recent residual while a one-sided deviation runs (format 2: its recent level)
const SHIFT_FOR = 36; // seconds that run has lasted; NaN when none runs
const AGE = 37; // seconds since the first sample, capped past learnMs
const SINCE_CHECKPOINT = 38; // seconds of event time since the state was last due; -Infinity while queued
const TAIL = 39; // the tail model's excess and rate (baseline-tail.ts; format 4)
const SLOW = TAIL + TAIL_FLOATS; // the slow reference and its absolute residual (baseline-drift.ts; format 5)
const F32 = SLOW + DRIFT_FLOATS;
// Beside the floats, 16 bits each: the metric id and the samples of the excursion running now
// (0 when none; at most RUN_MAX). A record holds the floats up to the tail's, the run, then the slow reference's.
/** Floats of a record: the state's, the run among them (after the tail's, where format 4 had it). */
const RECORD_RUN = SLOW;
const RECORD_FLOATS = F32 + 1;

/** facts()'s scratch for factsInto. */
const FACTS = new Float64Array(5);
const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const MAX_COUNT = 16_000_000; // exact in a float
/** Distinct metric names one store knows; a new name beyond it gets no baseline. */
const MAX_METRIC_NAMES = 65_536;
const FORMAT = 6;
/** The format before the peaks: a prefix of format 6 (which adds their PEAK_BYTES), restored with none remembered. */
const FORMAT_NO_PEAKS = 5;
/** The format before the slow reference: its floats are a prefix of format 5's, restored with drift 0. */
const FORMAT_NO_DRIFT = 4;
/** The formats before the tail model: their floats are a prefix of format 4's, restored with a Gaussian tail. */
const FORMAT_NO_TAIL = 3;
/** The format before the candidate held a residual: restored by converting it. */
const FORMAT_LEVEL_CANDIDATE = 2;
/** Bytes of a changelog value: format byte, 7 bytes padding, the doubles, the floats, then the peaks' bytes. */
export const BASELINE_RECORD_BYTES = 8 + F64 * 8 + RECORD_FLOATS * 4 + PEAK_BYTES;
/** Bytes of a format 5 value (no peaks). */
const RECORD_BYTES_NO_PEAKS = 8 + F64 * 8 + RECORD_FLOATS * 4;
/** Bytes of a format 4 value (no slow reference). */
const RECORD_BYTES_NO_DRIFT = 8 + F64 * 8 + (RECORD_RUN + 1) * 4;
/** Bytes of a format 2 or 3 value (no tail floats). */
const RECORD_BYTES_NO_TAIL = 8 + F64 * 8 + TAIL * 4;

/** Why a metric has no baseline facts yet. */
export type BaselineUpdate = 'warm' | 'warming_up' | 'full' | 'stale';

/** Per entity and metric baselines in event time; see the file comment. */
export class BaselineStore {
  /**
   * Entity → [partition, slot, slot, …]: the input partition its samples come from (its changelog
   * records go to the same one), then its states' slots (each slot's metric id is in idChunks).
   * Small integers only, in an array of exact length: 8 bytes an entry.
   */
  private readonly entities = new Map<string, number[]>();
  private readonly f64Chunks: Float64Array[] = [];
  private readonly f32Chunks: Float32Array[] = [];
  /** The metric id of each slot (below MAX_METRIC_NAMES: 2 bytes). */
  private readonly idChunks: Uint16Array[] = [];
  /** The samples of the excursion running now of each slot (the tail model; at most RUN_MAX). */
  private readonly runChunks: Uint16Array[] = [];
  /** The recent excursions' peaks of each slot (`peakBytes` a slot; baseline-peaks.ts). */
  private readonly peakChunks: Uint8Array[] = [];
  /** Bytes of peaks per slot: PEAK_BYTES, or none when tailPeakRank is 0 (no memory for them). */
  private readonly peakBytes: number;
  /**
   * The entity of each slot (the Map's key string, shared), for checkpoints and eviction, in chunks
   * of CHUNK slots like the typed arrays: one array grown by appending kept up to half again its
   * length in spare capacity.
   */
  private readonly entityChunks: (string | undefined)[][] = [];
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private states = 0;
  private refusedFull = 0;
  /** Partition → slots due for the changelog. */
  private readonly dirty = new Map<number, number[]>();
  private readonly metricIds = new Map<string, number>();
  private readonly metricNames: string[] = [];
  /** Each metric id's smallest spread (opts.minSpread by name, 0 when not named). */
  private readonly minSpreadOf: number[] = [];
  private readonly opts: BaselineOptions;
  private readonly aHour: number;
  private readonly aDay: number;
  /**
   * The learning rates of the last gap between samples (`decayDt`): most series are sampled at a
   * fixed step, so three Math.pow per sample become a comparison (same values: a pure function of dt).
   */
  private decayDt = Number.NaN;
  private decayLevel = 0;
  private decayHour = 0;
  private decayDay = 0;
  private readonly tail: BaselineTail;
  private readonly slow: BaselineDrift;
  private readonly peaks: BaselinePeaks;

  constructor(opts: Partial<BaselineOptions> = {}) {
    this.opts = { ...DEFAULT_BASELINE_OPTIONS, ...opts };
    for (const key of [
      'halfLifeMs',
      'warmupSamples',
      'adaptAfterMs',
      'seasonHalfLifeMs',
      'maxStates',
      'driftHalfLifeMs',
      'tailPeakDeviation',
    ] as const) {
      const v = this.opts[key];
      if (!(Number.isFinite(v) && v > 0)) throw new RangeError(`${key} must be positive, got ${v}`);
    }
    if (!(this.opts.freezeDeviation > 0 && this.opts.anomalyDeviation > 0))
      throw new RangeError('freezeDeviation and anomalyDeviation must be positive');
    this.tail = new BaselineTail(this.opts.tailRisk, this.opts.tailHalfLifeMs, this.opts.anomalyDeviation);
    this.slow = new BaselineDrift(this.opts.driftHalfLifeMs, this.opts.minSpreadRatio);
    // The peaks are read only where the tail widens the spread: with the tail model off they would
    // never be, so they are off too (and take no memory).
    this.peaks = new BaselinePeaks(this.tail.on ? this.opts.tailPeakRank : 0, this.opts.tailPeakHalfLifeMs);
    this.peakBytes = this.peaks.on ? PEAK_BYTES : 0;
    this.opts = { ...this.opts, minSpread: this.opts.minSpread ?? DEFAULT_BASELINE_OPTIONS.minSpread };
    for (const [metric, v] of Object.entries(this.opts.minSpread))
      if (!(Number.isFinite(v) && v >= 0))
        throw new RangeError(`minSpread of ${metric} must be 0 or more, got ${v}`);
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
    return this.f64Chunks.length * CHUNK * (F64 * 8 + F32 * 4 + 4 + this.peakBytes);
  }

  /**
   * Learns one sample of `metric` of `entity` (from input `partition`). Returns whether the metric
   * now has facts ('warm'), is still warming up, could not get a state ('full'), or the sample was
   * not newer than the state's newest ('stale': nothing changed).
   */
  update(entity: string, metric: string, ts: number, x: number, partition = 0): BaselineUpdate {
    const e = this.entities.get(entity);
    let slot = e === undefined ? -1 : this.slotOf(e, metric);
    if (slot < 0) {
      slot = this.newState(entity, metric, ts, x, partition);
      if (slot < 0) {
        this.refusedFull++;
        return 'full';
      }
      this.markDirty(slot, partition);
      return this.opts.warmupSamples <= 1 ? 'warm' : 'warming_up';
    }
    e![0] = partition;
    const d = this.f64Chunks[slot >> CHUNK_BITS] as Float64Array;
    const f = this.f32Chunks[slot >> CHUNK_BITS] as Float32Array;
    const o = (slot & (CHUNK - 1)) * F64;
    const p = (slot & (CHUNK - 1)) * F32;
    const dt = ts - (d[o + LAST_TS] as number);
    if (!(dt > 0)) return 'stale';
    this.learn(d, o, f, p, slot, ts, x, dt);
    const since = (f[p + SINCE_CHECKPOINT] as number) + dt / 1000;
    f[p + SINCE_CHECKPOINT] = since;
    if (since * 1000 >= this.opts.checkpointEveryMs) this.markDirty(slot, partition);
    return (f[p + COUNT] as number) >= this.opts.warmupSamples ? 'warm' : 'warming_up';
  }

  /** The facts of `metric` of `entity` as of its newest sample; undefined while warming up or unknown. */
  facts(entity: string, metric: string): BaselineFacts | undefined {
    const s = FACTS;
    if (!this.factsInto(entity, metric, s, 0)) return undefined;
    return { baseline: s[0]!, deviation: s[1]!, anomaly: s[2]!, spread: s[3]!, drift: s[4]! };
  }

  /**
   * The same facts written to `out[at..at+5)` in the order of BASELINE_STATS (baseline, deviation,
   * anomaly, spread, drift) rather than returned as an object: what sense's windows copy into their
   * statistics for every observation (a new object each time was a tenth of a replay's allocation).
   * False, writing nothing, while warming up or unknown.
   */
  factsInto(entity: string, metric: string, out: Float64Array, at: number): boolean {
    const e = this.entities.get(entity);
    const slot = e === undefined ? -1 : this.slotOf(e, metric);
    if (slot < 0) return false;
    const f = this.f32Chunks[slot >> CHUNK_BITS] as Float32Array;
    const p = (slot & (CHUNK - 1)) * F32;
    if ((f[p + COUNT] as number) < this.opts.warmupSamples) return false;
    const deviation = f[p + DEVIATION] as number;
    const baseline = f[p + EXPECTED] as number;
    const id = this.metricIdOf(slot);
    const own = this.spreadOf(f[p + ABSDEV] as number, baseline, id);
    const d = this.f64Chunks[slot >> CHUNK_BITS] as Float64Array;
    const level = d[(slot & (CHUNK - 1)) * F64 + LEVEL] as number;
    const ageMs = (f[p + AGE] as number) * 1000;
    out[at] = baseline;
    out[at + 1] = deviation;
    out[at + 2] = this.anomalyOf(deviation);
    out[at + 3] = this.peakSpread(slot, own, this.tail.widening(f, p + TAIL));
    out[at + 4] = this.slow.drift(f, p + SLOW, level, ageMs, this.minSpreadOf[id] ?? 0);
    return true;
  }

  /** Whether `entity` has any state (warm or not) for `metric`. */
  has(entity: string, metric: string): boolean {
    const e = this.entities.get(entity);
    return e !== undefined && this.slotOf(e, metric) >= 0;
  }

  /** The 0..1 anomaly score of a deviation. */
  anomalyOf(deviation: number): number {
    return anomalyScore(deviation, this.opts.anomalyDeviation);
  }

  /**
   * The spread the deviation given is measured in, from the state's own `spread` and the tail's
   * `widening`: spread × widening, and where the tail finds the excursions common (widening above
   * 1) at least so wide that an excursion as large as the recent peak of rank tailPeakRank scores
   * tailPeakDeviation ("Recurring excursions" in the file comment).
   */
  private peakSpread(slot: number, spread: number, widening: number): number {
    const w = spread * widening;
    if (!(widening > 1 && this.peaks.on)) return w;
    const b = this.peakChunks[slot >> CHUNK_BITS] as Uint8Array;
    const v =
      (this.peaks.novelFrom(b, (slot & (CHUNK - 1)) * PEAK_BYTES) * spread) / this.opts.tailPeakDeviation;
    return v > w ? v : w;
  }

  /** The spread deviations are measured in: robust, never below minSpreadRatio of |expected| nor the metric's minSpread. */
  private spreadOf(absdev: number, expected: number, metricId: number): number {
    return robustSpread(absdev, expected, this.opts.minSpreadRatio, this.minSpreadOf[metricId] ?? 0);
  }

  /** The states of `partition` due for the changelog since the last call, encoded; marks them written. */
  takeCheckpoints(partition: number): BaselineCheckpoint[] {
    const due = this.dirty.get(partition);
    if (due === undefined) return [];
    this.dirty.delete(partition);
    const out: BaselineCheckpoint[] = [];
    for (const slot of due) {
      const entity = this.entityOf(slot);
      if (entity === undefined) continue; // forgotten since
      const f = this.f32Chunks[slot >> CHUNK_BITS] as Float32Array;
      const p = (slot & (CHUNK - 1)) * F32;
      f[p + SINCE_CHECKPOINT] = 0;
      const metric = this.metricNames[this.metricIdOf(slot)] as string;
      out.push({ entity, metric, partition, value: this.encode(slot) });
    }
    return out;
  }

  /**
   * Puts a state read from the changelog back. Returns an error message for a value that is not a
   * state of this format (the state is then learned again from scratch), undefined when restored.
   */
  restore(entity: string, metric: string, value: Buffer, partition: number): string | undefined {
    const format = value.length > 0 ? value.readUInt8(0) : undefined;
    const current = format === FORMAT && value.length === BASELINE_RECORD_BYTES;
    const noPeaks = format === FORMAT_NO_PEAKS && value.length === RECORD_BYTES_NO_PEAKS;
    const noDrift = format === FORMAT_NO_DRIFT && value.length === RECORD_BYTES_NO_DRIFT;
    const noTail =
      (format === FORMAT_NO_TAIL || format === FORMAT_LEVEL_CANDIDATE) &&
      value.length === RECORD_BYTES_NO_TAIL;
    if (!current && !noPeaks && !noDrift && !noTail)
      return `not a baseline state of format ${FORMAT} (${BASELINE_RECORD_BYTES} bytes), ${FORMAT_NO_PEAKS} (${RECORD_BYTES_NO_PEAKS} bytes), ${FORMAT_NO_DRIFT} (${RECORD_BYTES_NO_DRIFT} bytes) or ${FORMAT_NO_TAIL} or ${FORMAT_LEVEL_CANDIDATE} (${RECORD_BYTES_NO_TAIL} bytes): format ${format ?? 'none'}, ${value.length} bytes`;
    const lastTs = value.readDoubleLE(8 + LAST_TS * 8);
    if (!Number.isFinite(lastTs)) return 'baseline state has no finite newest time';
    const e = this.entities.get(entity);
    let slot = e === undefined ? -1 : this.slotOf(e, metric);
    if (slot < 0) slot = this.newState(entity, metric, lastTs, 0, partition);
    if (slot < 0) return `no room for another state (AUTOGLM_BASELINE_MAX_STATES is ${this.opts.maxStates})`;
    const d = this.f64Chunks[slot >> CHUNK_BITS] as Float64Array;
    const f = this.f32Chunks[slot >> CHUNK_BITS] as Float32Array;
    const o = (slot & (CHUNK - 1)) * F64;
    const p = (slot & (CHUNK - 1)) * F32;
    for (let i = 0; i < F64; i++) d[o + i] = value.readDoubleLE(8 + i * 8);
    const floats = noTail ? TAIL : RECORD_RUN;
    const at = (i: number) => value.readFloatLE(8 + F64 * 8 + i * 4);
    for (let i = 0; i < floats; i++) f[p + i] = at(i);
    const q = slot & (CHUNK - 1);
    const runs = this.runChunks[slot >> CHUNK_BITS] as Uint16Array;
    runs[q] = noTail ? 0 : Math.min(RUN_MAX, Math.max(0, at(RECORD_RUN)));
    if (current || noPeaks) for (let i = SLOW; i < F32; i++) f[p + i] = at(i + 1);
    if (this.peaks.on) {
      const b = this.peakChunks[slot >> CHUNK_BITS] as Uint8Array;
      // Formats 2 to 5 had no peaks: none remembered, as a new state.
      if (current) value.copy(b, q * PEAK_BYTES, RECORD_BYTES_NO_PEAKS, BASELINE_RECORD_BYTES);
      else this.peaks.reset(b, q * PEAK_BYTES);
    }
    // Formats 2 and 3 had no tail: it starts as a new state's, Gaussian.
    if (noTail) this.tail.reset(f, p + TAIL, runs, q);
    // Formats 2 to 4 had no slow reference: it starts at the level, drift 0 until it is old enough.
    if (!current && !noPeaks) this.slow.reset(f, p + SLOW, d[o + LEVEL] as number, f[p + ABSDEV] as number);
    // Format 2 kept a running deviation's recent level: its residual is that minus the expected value.
    if (format === FORMAT_LEVEL_CANDIDATE && !Number.isNaN(f[p + SHIFT_FOR] as number))
      f[p + CANDIDATE] = (f[p + CANDIDATE] as number) - (f[p + EXPECTED] as number);
    f[p + SINCE_CHECKPOINT] = 0;
    this.entities.get(entity)![0] = partition;
    return undefined;
  }

  /** Forgets one state (a tombstone read from the changelog); returns whether there was one. */
  drop(entity: string, metric: string): boolean {
    const e = this.entities.get(entity);
    const id = this.metricIds.get(metric);
    if (e === undefined || id === undefined) return false;
    for (let i = 1; i < e.length; i++) {
      if (this.metricIdOf(e[i] as number) !== id) continue;
      this.release(e[i] as number);
      if (e.length === 2) this.entities.delete(entity);
      else this.entities.set(entity, e.slice(0, i).concat(e.slice(i + 1)));
      return true;
    }
    return false;
  }

  /**
   * Forgets the entities with no sample after `nowEventMs - idleMs` (event time, never the wall
   * clock); returns their states as tombstones for the changelog.
   */
  evictIdle(nowEventMs: number, idleMs: number): BaselineCheckpoint[] {
    const bound = nowEventMs - idleMs;
    const gone: BaselineCheckpoint[] = [];
    for (const [entity, e] of this.entities) {
      let newest = -Infinity;
      for (let i = 1; i < e.length; i++) newest = Math.max(newest, this.lastTsOf(e[i] as number));
      if (newest >= bound) continue;
      const partition = e[0] as number;
      for (let i = 1; i < e.length; i++) {
        gone.push({
          entity,
          metric: this.metricNames[this.metricIdOf(e[i] as number)] as string,
          partition,
          value: undefined,
        });
        this.release(e[i] as number);
      }
      this.entities.delete(entity);
    }
    return gone;
  }

  private learn(
    d: Float64Array,
    o: number,
    f: Float32Array,
    p: number,
    slot: number,
    ts: number,
    x: number,
    dt: number,
  ): void {
    const opts = this.opts;
    const id = this.metricIdOf(slot);
    const n = Math.min(MAX_COUNT, (f[p + COUNT] as number) + 1);
    const warm = n > opts.warmupSamples;
    const age = Math.min(
      (f[p + AGE] as number) + dt / 1000,
      Math.max(opts.learnMs, opts.driftHalfLifeMs) / 1000 + 1,
    );
    const hourAt = p + HOURS + Math.floor((ts % DAY_MS) / HOUR_MS);
    const dayAt = p + DAYS + ((Math.floor(ts / DAY_MS) + 4) % 7); // 1970-01-01 was a Thursday
    const season = (opts.daily ? (f[hourAt] as number) : 0) + (opts.weekly ? (f[dayAt] as number) : 0);
    const level = d[o + LEVEL] as number;
    const absdev = f[p + ABSDEV] as number;
    const expected = level + season;
    const spread = this.spreadOf(absdev, expected, id);
    const r = x - expected;
    // z decides what is learned (the tail's widening only); the deviation given is also measured
    // against the recent excursions' peaks ("Recurring excursions" in the file comment).
    const widening = this.tail.widening(f, p + TAIL);
    const z = r / (spread * widening);
    if (warm && this.tail.on) {
      const runs = this.runChunks[slot >> CHUNK_BITS] as Uint16Array;
      const a = Math.abs(r) / spread;
      this.tail.learn(f, p + TAIL, runs, slot & (CHUNK - 1), a, dt);
      if (this.peaks.on) {
        const b = this.peakChunks[slot >> CHUNK_BITS] as Uint8Array;
        this.peaks.learn(b, (slot & (CHUNK - 1)) * PEAK_BYTES, a, this.tail.over(a), ts, dt);
      }
    }
    this.slow.learn(f, p + SLOW, this.minSpreadOf[id] ?? 0, x - season, n, dt);
    f[p + EXPECTED] = expected;
    f[p + DEVIATION] = widening > 1 ? r / this.peakSpread(slot, spread, widening) : z;
    f[p + COUNT] = n;
    f[p + AGE] = age;
    d[o + LAST_TS] = ts;

    if (warm && age * 1000 >= opts.learnMs && Math.abs(z) >= opts.freezeDeviation) {
      // Frozen: track the run of one-sided deviation (its recent residual); a long one is the new normal.
      const shiftFor = f[p + SHIFT_FOR] as number;
      const candidate = f[p + CANDIDATE] as number;
      if (Number.isNaN(shiftFor) || Math.sign(candidate) !== Math.sign(r)) {
        f[p + SHIFT_FOR] = 0;
        f[p + CANDIDATE] = r;
      } else {
        f[p + CANDIDATE] = candidate + 0.1 * (r - candidate);
        f[p + SHIFT_FOR] = shiftFor + dt / 1000;
        if ((shiftFor + dt / 1000) * 1000 >= opts.adaptAfterMs) {
          d[o + LEVEL] = level + (f[p + CANDIDATE] as number);
          f[p + SHIFT_FOR] = Number.NaN;
        }
      }
      return;
    }
    if (Math.abs(z) < opts.freezeDeviation / 2) f[p + SHIFT_FOR] = Number.NaN;
    if (dt !== this.decayDt) {
      this.decayDt = dt;
      this.decayLevel = 1 - 2 ** (-dt / opts.halfLifeMs);
      this.decayHour = Math.min(0.5, 1 - 2 ** (-dt * this.aHour));
      this.decayDay = Math.min(0.5, 1 - 2 ** (-dt * this.aDay));
    }
    const a = Math.min(0.5, Math.max(this.decayLevel, 1 / n));
    const clip = n > 5 ? CLIP * spread : Infinity;
    const rc = r > clip ? clip : r < -clip ? -clip : r;
    d[o + LEVEL] = level + a * rc;
    f[p + ABSDEV] = absdev + a * (Math.min(Math.abs(r), clip) - absdev);
    if (!warm) return;
    if (opts.daily) f[hourAt] = (f[hourAt] as number) + this.decayHour * (1 - a) * rc;
    if (opts.weekly) {
      // A day-of-week offset stays within ±CLIP spreads (see the file comment).
      const v = (f[dayAt] as number) + this.decayDay * (1 - a) * rc;
      const bound = CLIP * spread;
      f[dayAt] = v > bound ? bound : v < -bound ? -bound : v;
    }
  }

  /** A new state for `metric` of `entity`; -1 when maxStates are held or too many metric names. */
  private newState(entity: string, metric: string, ts: number, x: number, partition: number): number {
    if (this.states >= this.opts.maxStates) return -1;
    let id = this.metricIds.get(metric);
    if (id === undefined) {
      if (this.metricNames.length >= MAX_METRIC_NAMES) return -1;
      id = this.metricNames.length;
      this.metricNames.push(metric);
      this.metricIds.set(metric, id);
      this.minSpreadOf.push(this.opts.minSpread[metric] ?? 0);
    }
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.nextSlot++;
      if (slot >> CHUNK_BITS >= this.f64Chunks.length) {
        this.f64Chunks.push(new Float64Array(CHUNK * F64));
        this.f32Chunks.push(new Float32Array(CHUNK * F32));
        this.idChunks.push(new Uint16Array(CHUNK));
        this.runChunks.push(new Uint16Array(CHUNK));
        this.peakChunks.push(new Uint8Array(CHUNK * this.peakBytes));
        this.entityChunks.push(new Array<string | undefined>(CHUNK).fill(undefined));
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
    f[p + SHIFT_FOR] = Number.NaN;
    f[p + COUNT] = 1;
    f[p + EXPECTED] = x;
    this.slow.reset(f, p + SLOW, x, 0);
    if (this.peaks.on)
      this.peaks.reset(this.peakChunks[slot >> CHUNK_BITS] as Uint8Array, (slot & (CHUNK - 1)) * PEAK_BYTES);
    (this.idChunks[slot >> CHUNK_BITS] as Uint16Array)[slot & (CHUNK - 1)] = id;
    this.tail.reset(f, p + TAIL, this.runChunks[slot >> CHUNK_BITS] as Uint16Array, slot & (CHUNK - 1));
    const e = this.entities.get(entity);
    // Exact-length arrays of small integers: the cheapest index V8 keeps.
    if (e === undefined) this.entities.set(entity, [partition, slot]);
    else this.entities.set(entity, e.concat(slot));
    // The Map keeps the first key string it saw for the entity: share that one.
    this.setEntity(slot, e === undefined ? entity : this.keyOf(entity, slot));
    this.states++;
    return slot;
  }

  /** The entity string another slot of the same entity already holds (one copy per entity). */
  private keyOf(entity: string, slot: number): string {
    const e = this.entities.get(entity)!;
    const other = e[1] as number;
    return other !== slot ? (this.entityOf(other) ?? entity) : entity;
  }

  private entityOf(slot: number): string | undefined {
    return (this.entityChunks[slot >> CHUNK_BITS] as (string | undefined)[])[slot & (CHUNK - 1)];
  }

  private setEntity(slot: number, entity: string | undefined): void {
    (this.entityChunks[slot >> CHUNK_BITS] as (string | undefined)[])[slot & (CHUNK - 1)] = entity;
  }

  private release(slot: number): void {
    this.setEntity(slot, undefined);
    this.freeSlots.push(slot);
    this.states--;
  }

  private metricIdOf(slot: number): number {
    return (this.idChunks[slot >> CHUNK_BITS] as Uint16Array)[slot & (CHUNK - 1)] as number;
  }

  private lastTsOf(slot: number): number {
    return (this.f64Chunks[slot >> CHUNK_BITS] as Float64Array)[
      (slot & (CHUNK - 1)) * F64 + LAST_TS
    ] as number;
  }

  private slotOf(e: number[], metric: string): number {
    const id = this.metricIds.get(metric);
    if (id === undefined) return -1;
    for (let i = 1; i < e.length; i++) {
      const slot = e[i] as number;
      if (this.metricIdOf(slot) === id) return slot;
    }
    return -1;
  }

  private markDirty(slot: number, partition: number): void {
    const f = this.f32Chunks[slot >> CHUNK_BITS] as Float32Array;
    f[(slot & (CHUNK - 1)) * F32 + SINCE_CHECKPOINT] = -Infinity; // queued once
    let list = this.dirty.get(partition);
    if (list === undefined) this.dirty.set(partition, (list = []));
    list.push(slot);
  }

  private encode(slot: number): Buffer {
    const d = this.f64Chunks[slot >> CHUNK_BITS] as Float64Array;
    const f = this.f32Chunks[slot >> CHUNK_BITS] as Float32Array;
    const o = (slot & (CHUNK - 1)) * F64;
    const p = (slot & (CHUNK - 1)) * F32;
    const out = Buffer.allocUnsafe(BASELINE_RECORD_BYTES).fill(0, 0, 8);
    out.writeUInt8(FORMAT, 0);
    for (let i = 0; i < F64; i++) out.writeDoubleLE(d[o + i] as number, 8 + i * 8);
    const at = (i: number, v: number) => out.writeFloatLE(v, 8 + F64 * 8 + i * 4);
    for (let i = 0; i < RECORD_RUN; i++) at(i, f[p + i] as number);
    at(RECORD_RUN, (this.runChunks[slot >> CHUNK_BITS] as Uint16Array)[slot & (CHUNK - 1)] as number);
    for (let i = SLOW; i < F32; i++) at(i + 1, f[p + i] as number);
    const q = (slot & (CHUNK - 1)) * PEAK_BYTES;
    if (this.peaks.on)
      out.set(
        (this.peakChunks[slot >> CHUNK_BITS] as Uint8Array).subarray(q, q + PEAK_BYTES),
        RECORD_BYTES_NO_PEAKS,
      );
    else out.fill(0, RECORD_BYTES_NO_PEAKS); // none kept: none remembered
    return out;
  }
}
