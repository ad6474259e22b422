/**
 * Generated metric series with known ground truth, for the baseline tests and the detection
 * report (bench/baseline-detection.ts). Each sample is labeled:
 * - `healthy`: an alarm here is a false alarm;
 * - `anomaly`: part of an injected anomaly (`anomaly` gives which one); it should be flagged;
 * - `transition`: the expected lag while a persistent level shift becomes the new normal, and the
 *   learning period of seasonal series (neither counted as healthy nor as an anomaly).
 * Seeded: the same kind and seed give the same series.
 */
import { seededGaussian, seededRandom } from '../../services/classifier/seeded-random.js';

export const SERIES_KINDS = [
  'flat',
  'noisy',
  'daily_seasonal',
  'weekly_seasonal',
  'slow_drift',
  'level_shift',
  'spikes',
  'dips',
  'sustained_incidents',
  'always_hot',
] as const;
export type SeriesKind = (typeof SERIES_KINDS)[number];

export type SampleLabel = 'healthy' | 'anomaly' | 'transition';

export interface LabeledSeries {
  readonly kind: SeriesKind;
  readonly ts: Float64Array;
  readonly values: Float64Array;
  readonly labels: SampleLabel[];
  /** For anomaly samples, the index of their anomaly (-1 elsewhere). */
  readonly anomaly: Int32Array;
  /** Injected anomalies: first and last sample index. */
  readonly anomalies: Array<{ start: number; end: number }>;
}

export interface SeriesOptions {
  /** Sample spacing (5 min, as the cloud CPU traces). */
  readonly stepMs?: number;
  /** Length (21 days). */
  readonly days?: number;
  /** First sample time (a Monday 00:00 UTC). */
  readonly startMs?: number;
  /** Samples at the start left out of every count (the baseline's warm-up). */
  readonly warmupSamples?: number;
  /** How long a level shift takes to become normal (the baseline's adaptAfter), plus slack. */
  readonly adaptMs?: number;
}

const DAY = 86_400_000;

/** A labeled series of `kind`, seeded. */
export function generateSeries(kind: SeriesKind, seed: number, opts: SeriesOptions = {}): LabeledSeries {
  const step = opts.stepMs ?? 300_000;
  const days = opts.days ?? 21;
  const start = opts.startMs ?? Date.UTC(2026, 0, 5); // a Monday
  const warmup = opts.warmupSamples ?? 30;
  const adaptMs = opts.adaptMs ?? 3 * 3_600_000;
  const n = Math.floor((days * DAY) / step);
  const random = seededRandom(seed * 7919 + SERIES_KINDS.indexOf(kind));
  const gaussian = seededGaussian(random);
  const ts = new Float64Array(n);
  const values = new Float64Array(n);
  const labels: SampleLabel[] = new Array<SampleLabel>(n).fill('healthy');
  const anomaly = new Int32Array(n).fill(-1);
  const anomalies: Array<{ start: number; end: number }> = [];

  const base = 20 + 40 * random();
  const sigma = kind === 'noisy' ? 6 + 4 * random() : 1 + 2 * random();
  for (let i = 0; i < n; i++) {
    const t = start + i * step;
    ts[i] = t;
    const dayFrac = ((t % DAY) + DAY) / DAY;
    let level = base;
    if (kind === 'daily_seasonal' || kind === 'weekly_seasonal')
      level += 15 * Math.sin(2 * Math.PI * (dayFrac - 0.3)) + 6 * Math.sin(4 * Math.PI * dayFrac);
    if (kind === 'weekly_seasonal') {
      const weekday = (Math.floor(t / DAY) + 4) % 7; // 0 = Sunday
      if (weekday === 0 || weekday === 6) level -= 12;
    }
    if (kind === 'slow_drift') level += (1.5 * sigma * (t - start)) / DAY; // 1.5 σ a day
    if (kind === 'always_hot') level = 91;
    values[i] = level + sigma * gaussian();
    if (kind === 'always_hot') values[i] = Math.min(100, values[i] as number);
  }

  const inject = (from: number, length: number, delta: (k: number) => number) => {
    const id = anomalies.length;
    const end = Math.min(n - 1, from + length - 1);
    for (let i = from; i <= end; i++) {
      values[i] = (values[i] as number) + delta(i - from);
      labels[i] = 'anomaly';
      anomaly[i] = id;
    }
    anomalies.push({ start: from, end });
  };
  /** Anomaly starts spread over the series after two days, at least `gap` samples apart. */
  const starts = (count: number, gap: number) => {
    const first = Math.floor((2 * DAY) / step);
    const span = Math.floor((n - first - gap) / count);
    return Array.from({ length: count }, (_, k) => first + k * span + Math.floor(random() * (span - gap)));
  };
  switch (kind) {
    case 'spikes':
      for (const s of starts(30, 12)) inject(s, 1, () => (6 + 9 * random()) * sigma);
      break;
    case 'dips':
      // Half of them are a drop to zero (traffic gone), the others a deep dip.
      starts(30, 12).forEach((s, k) =>
        inject(s, 1 + Math.floor(random() * 3), () => (k % 2 === 0 ? -base : -(6 + 6 * random()) * sigma)),
      );
      break;
    case 'sustained_incidents':
      for (const s of starts(15, 60)) {
        const size = (5 + 7 * random()) * sigma;
        const ramp = Math.floor(random() * 6);
        inject(s, 6 + Math.floor(random() * 24), (k) => (size * Math.min(k + 1, ramp + 1)) / (ramp + 1));
      }
      break;
    case 'daily_seasonal':
    case 'weekly_seasonal':
      for (const s of starts(8, 60).map((s) => s + Math.floor((5 * DAY) / step) * 0))
        if (s * step >= 7 * DAY) inject(s, 3 + Math.floor(random() * 12), () => (7 + 5 * random()) * sigma);
      break;
    case 'level_shift': {
      const at = Math.floor((8 * DAY) / step);
      const shift = (10 + 6 * random()) * sigma * (random() < 0.5 ? -1 : 1);
      const shiftFloor = -base + 2 * sigma; // a shift down stays above zero
      for (let i = at; i < n; i++) values[i] = (values[i] as number) + Math.max(shift, shiftFloor);
      inject(at, 3, () => 0); // the onset is the anomaly
      const settled = at + Math.ceil((adaptMs + 2 * 3_600_000) / step);
      for (let i = at + 3; i < Math.min(n, settled); i++) labels[i] = 'transition';
      break;
    }
    default:
      break;
  }
  for (let i = 0; i < Math.min(n, warmup); i++) if (labels[i] === 'healthy') labels[i] = 'transition';
  // Seasonal series: the first two days are learning (reported, not counted as false alarms).
  if (kind === 'daily_seasonal' || kind === 'weekly_seasonal') {
    const learn = Math.floor((2 * DAY) / step);
    for (let i = 0; i < Math.min(n, learn); i++) if (labels[i] === 'healthy') labels[i] = 'transition';
  }
  return { kind, ts, values, labels, anomaly, anomalies };
}

/** What the baseline made of one labeled series. */
export interface DetectionResult {
  readonly kind: SeriesKind;
  /** Injected anomalies, and those with at least one flagged sample. */
  readonly anomalies: number;
  readonly detected: number;
  /** Per detected anomaly, how many samples from its start to the first flagged one (1 = at once). */
  readonly samplesToDetect: number[];
  /** Healthy samples, and those flagged. */
  readonly healthy: number;
  readonly falseAlarms: number;
  /** Transition samples (warm-up, learning, level-shift lag), and those flagged. */
  readonly transition: number;
  readonly transitionFlagged: number;
  /** Samples with no baseline facts yet. */
  readonly withoutFacts: number;
  /** The deviation and anomaly given for each sample (NaN without facts). */
  readonly deviation: Float64Array;
  readonly anomalyScore: Float64Array;
}

/** Runs a series through `store` as entity `entity`, metric "cpu"; a sample is flagged at anomaly ≥ 0.5. */
export function detect(
  store: {
    update(entity: string, metric: string, ts: number, x: number): string;
    facts(entity: string, metric: string): { deviation: number; anomaly: number } | undefined;
  },
  series: LabeledSeries,
  entity = `host-${series.kind}`,
): DetectionResult {
  const n = series.ts.length;
  const deviation = new Float64Array(n).fill(Number.NaN);
  const anomalyScore = new Float64Array(n).fill(Number.NaN);
  const firstFlag = new Int32Array(series.anomalies.length).fill(-1);
  let healthy = 0;
  let falseAlarms = 0;
  let transition = 0;
  let transitionFlagged = 0;
  let withoutFacts = 0;
  for (let i = 0; i < n; i++) {
    store.update(entity, 'cpu', series.ts[i] as number, series.values[i] as number);
    const facts = store.facts(entity, 'cpu');
    if (facts === undefined) withoutFacts++;
    else {
      deviation[i] = facts.deviation;
      anomalyScore[i] = facts.anomaly;
    }
    const flagged = facts !== undefined && facts.anomaly >= 0.5;
    const label = series.labels[i];
    if (label === 'healthy') {
      healthy++;
      if (flagged) falseAlarms++;
    } else if (label === 'transition') {
      transition++;
      if (flagged) transitionFlagged++;
    } else if (flagged) {
      const id = series.anomaly[i] as number;
      if (firstFlag[id] === -1) firstFlag[id] = i;
    }
  }
  const samplesToDetect: number[] = [];
  series.anomalies.forEach((a, id) => {
    if (firstFlag[id] !== -1) samplesToDetect.push((firstFlag[id] as number) - a.start + 1);
  });
  return {
    kind: series.kind,
    anomalies: series.anomalies.length,
    detected: samplesToDetect.length,
    samplesToDetect,
    healthy,
    falseAlarms,
    transition,
    transitionFlagged,
    withoutFacts,
    deviation,
    anomalyScore,
  };
}
