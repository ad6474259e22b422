/**
 * Detection report of the online baselines (services/sense/baseline.ts) on generated series with
 * known ground truth (test/support/baseline-series.ts): flat, noisy, daily and weekly seasonal,
 * slow drift, level shift, spikes, dips (half of them a drop to zero), sustained incidents and an
 * always-hot host; 5-minute samples over 21 days, `hosts` seeded hosts per kind.
 *
 *   npx tsx bench/baseline-detection.ts [hosts=5]
 *
 * The baselines take the services' settings (AUTOGLM_BASELINE_* in the environment wins).
 *
 * Prints per kind: anomalies injected and detected (recall), false alarms per 10,000 healthy
 * samples, median samples to detection, and the flagged share of transition samples (warm-up,
 * the learning days of seasonal series, a level shift's adaptation). A sample is flagged when its
 * anomaly score is ≥ 0.5 (|deviation| ≥ 4.5). Beside it, the same counts for a static threshold
 * (the old starter rule: cpu above 85) on the same samples.
 * Targets: recall ≥ 0.9, ≤ 1 false alarm per 10,000 healthy samples.
 */
import { loadConfig } from '../services/common/config.js';
import { BaselineStore } from '../services/sense/baseline.js';
import { baselineOptionsOf } from '../services/sense/sense-options.js';
import {
  SERIES_KINDS,
  detect,
  generateSeries,
  type DetectionResult,
} from '../test/support/baseline-series.js';

const hosts = Number(process.argv[2] ?? 5);
// The services' baseline settings: the defaults, or AUTOGLM_BASELINE_* from the environment.
const options = baselineOptionsOf(loadConfig(process.env));

function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
}

/** A static threshold in the shape of a store, for the side-by-side line. */
function staticThreshold(limit: number) {
  const last = new Map<string, number>();
  return {
    update(entity: string, _metric: string, _ts: number, x: number) {
      last.set(entity, x);
      return 'warm';
    },
    facts(entity: string) {
      const x = last.get(entity) ?? 0;
      return { deviation: x, anomaly: x > limit ? 1 : 0 };
    },
  };
}

function sum(results: DetectionResult[]) {
  const all = {
    anomalies: 0,
    detected: 0,
    samplesToDetect: [] as number[],
    healthy: 0,
    falseAlarms: 0,
    transition: 0,
    transitionFlagged: 0,
  };
  for (const r of results) {
    all.anomalies += r.anomalies;
    all.detected += r.detected;
    all.samplesToDetect.push(...r.samplesToDetect);
    all.healthy += r.healthy;
    all.falseAlarms += r.falseAlarms;
    all.transition += r.transition;
    all.transitionFlagged += r.transitionFlagged;
  }
  return all;
}

const line = (name: string, s: ReturnType<typeof sum>) =>
  [
    name.padEnd(20),
    `${s.detected}/${s.anomalies}`.padStart(9),
    (s.anomalies ? (s.detected / s.anomalies).toFixed(3) : '-').padStart(7),
    ((s.falseAlarms / Math.max(1, s.healthy)) * 10_000).toFixed(2).padStart(12),
    String(s.healthy).padStart(8),
    String(median(s.samplesToDetect)).padStart(8),
    (s.transition ? ((100 * s.transitionFlagged) / s.transition).toFixed(1) + '%' : '-').padStart(10),
  ].join(' ');

const header = [
  'kind'.padEnd(20),
  'detected'.padStart(9),
  'recall'.padStart(7),
  'FA/10k'.padStart(12),
  'healthy'.padStart(8),
  'median'.padStart(8),
  'trans.flag'.padStart(10),
].join(' ');
const started = performance.now();
const baselineResults: DetectionResult[] = [];
const staticResults: DetectionResult[] = [];
console.log(`baseline detection: ${hosts} hosts per kind, 21 days of 5-minute samples each\n`);
console.log(header);
for (const kind of SERIES_KINDS) {
  const perKind: DetectionResult[] = [];
  for (let h = 0; h < hosts; h++) {
    const series = generateSeries(kind, h + 1);
    perKind.push(detect(new BaselineStore(options), series));
    staticResults.push(detect(staticThreshold(85), series));
  }
  baselineResults.push(...perKind);
  console.log(line(kind, sum(perKind)));
}
const total = sum(baselineResults);
console.log(line('ALL (baseline)', total));
console.log(line('ALL (cpu > 85)', sum(staticResults)));
const samples = baselineResults.reduce((a, r) => a + r.deviation.length, 0);
console.log(
  `\nrecall ${(total.detected / total.anomalies).toFixed(3)} (target ≥ 0.9), ` +
    `false alarms ${((total.falseAlarms / total.healthy) * 10_000).toFixed(2)} per 10,000 healthy samples (target ≤ 1), ` +
    `median samples to detection ${median(total.samplesToDetect)}; ` +
    `${samples} samples in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
