/**
 * Synthetic, reproducible incident scenarios to train and test the classifier before real
 * verdicts exist: one labeled row per simulated 30 s window of one entity, with the window
 * features sense would compute from the samples and the events it would have seen. Incidents come
 * in every severity, so mild ones look almost healthy and healthy entities are sometimes hot,
 * spiky or carry a misleading event: learnable, but not trivially.
 */
import { FEATURE_STATS } from '../common/facts-reference.js';
// The same computation as the live windows, so what the model learns is what it is served.
import { writeMetricFeatures } from '../sense/features.js';
import type { LabeledRow } from './model-types.js';
import { seededGaussian, seededRandom, shuffleInPlace } from './seeded-random.js';

/** The metrics each scenario row has, as sense names them. */
export const SCENARIO_METRICS = ['cpu', 'mem', 'disk', 'errors', 'latency', 'upstream_errors'] as const;

/** The classes the scenarios produce, healthy first. */
export const SCENARIO_CLASSES = [
  'healthy',
  'cpu_saturation',
  'memory_leak',
  'bad_deploy',
  'disk_pressure',
  'dependency_outage',
] as const;
export type ScenarioClass = (typeof SCENARIO_CLASSES)[number];

/** The share of each class: most windows of a fleet are healthy, incidents each a minority. */
export const SCENARIO_MIX: Readonly<Record<ScenarioClass, number>> = {
  healthy: 0.4,
  cpu_saturation: 0.13,
  memory_leak: 0.12,
  bad_deploy: 0.13,
  disk_pressure: 0.1,
  dependency_outage: 0.12,
};

/** Options of `generateScenarios`. */
export interface ScenarioOptions {
  readonly rows: number;
  readonly seed: number;
  /** A constant added to named features after they are computed (to simulate drift). */
  readonly shift?: Partial<Record<string, number>>;
}

/** The numeric features every scenario row may have: `<metric>.<stat>` for each metric and stat. */
export function scenarioFeatureNames(): string[] {
  return SCENARIO_METRICS.flatMap((m) => FEATURE_STATS.map((s) => `${m}.${s}`));
}

const WINDOW_MS = 30_000;
const SCRAPE_MS = 5_000;
const POINTS = WINDOW_MS / SCRAPE_MS + 1;
/** Share of entities without dependencies, which report no upstream_errors. */
const NO_UPSTREAM = 0.05;

/**
 * `rows` labeled rows; the same seed gives the same rows. Throws a RangeError on a bad count or a
 * shift of a feature the scenarios do not have.
 */
export function generateScenarios(opts: ScenarioOptions): LabeledRow[] {
  if (!Number.isInteger(opts.rows) || opts.rows < 0)
    throw new RangeError(`rows must be a whole number ≥ 0, got ${opts.rows}`);
  const known = new Set(scenarioFeatureNames());
  const shift = Object.entries(opts.shift ?? {}).filter(
    (e): e is [string, number] => typeof e[1] === 'number' && e[1] !== 0,
  );
  const unknown = shift.map(([name]) => name).filter((name) => !known.has(name));
  if (unknown.length > 0)
    throw new RangeError(
      `cannot shift ${unknown.join(', ')}: scenario features are <metric>.<stat> of ${SCENARIO_METRICS.join(', ')}`,
    );
  const sim = new Simulator(seededRandom(opts.seed));
  const rows: LabeledRow[] = [];
  for (let i = 0; i < opts.rows; i++) {
    const row = sim.row();
    for (const [name, delta] of shift) if (name in row.features) row.features[name]! += delta;
    rows.push(row);
  }
  return rows;
}

/** How one metric moves over the window: a level, a trend, noise, and at most one spike. */
interface Series {
  level: number;
  /** Change per second. */
  slope: number;
  /** Standard deviation of additive noise, or of log-noise for `multiplicative`. */
  noise: number;
  multiplicative: boolean;
  floor: number;
  ceiling: number;
  /** From this point on, the level is multiplied by `stepFactor` (a deploy, an outage starting). */
  stepAt?: number;
  stepFactor?: number;
  /** One point is multiplied (multiplicative) or raised by `spikeSize`. */
  spikeAt?: number;
  spikeSize?: number;
  /** From this point on, the value restarts at `resetTo` (an OOM kill and restart). */
  resetAt?: number;
  resetTo?: number;
}

interface Event {
  kind: string;
  message: string;
}

const DEPENDENCIES = ['payments', 'inventory', 'auth', 'postgres', 'redis', 'search'];
const HARMLESS: readonly Event[] = [
  { kind: 'log', message: 'GET /healthz 200' },
  { kind: 'log', message: 'cache warmed in 420ms' },
  { kind: 'log', message: 'config reloaded' },
  { kind: 'log', message: 'scheduled backup completed' },
  { kind: 'k8s', message: 'Scaled replica set to 4' },
  { kind: 'k8s', message: 'Pulled image successfully' },
  { kind: 'alert', message: 'certificate expires in 29 days' },
  { kind: 'log', message: 'slow query took 1.2s' },
  { kind: 'log', message: 'retrying request after 503' },
];

/** Draws one scenario at a time from one random stream. */
class Simulator {
  private readonly gaussian: () => number;

  constructor(private readonly random: () => number) {
    this.gaussian = seededGaussian(random);
  }

  row(): LabeledRow & { features: Record<string, number> } {
    const label = this.pickClass();
    const s = this.severity();
    const base = this.baseline();
    const events: Event[] = [];
    const series = this.healthySeries(base);
    const hasUpstream = label === 'dependency_outage' || this.random() >= NO_UPSTREAM;
    switch (label) {
      case 'healthy':
        this.healthyQuirks(series, events);
        break;
      case 'cpu_saturation':
        this.cpuSaturation(series, s, events);
        break;
      case 'memory_leak':
        this.memoryLeak(series, s, base, events);
        break;
      case 'bad_deploy':
        this.badDeploy(series, s, events);
        break;
      case 'disk_pressure':
        this.diskPressure(series, s, events);
        break;
      case 'dependency_outage':
        this.dependencyOutage(series, s, events);
        break;
    }
    // Everyday noise any entity's events carry, whatever its state.
    const harmless = this.poisson(0.8);
    for (let i = 0; i < harmless; i++) events.push(this.pick(HARMLESS));
    if (label !== 'bad_deploy' && this.chance(0.07)) events.push(this.deployEvent());
    shuffleInPlace(events, this.random);

    const features: Record<string, number> = {};
    for (const metric of SCENARIO_METRICS) {
      if (metric === 'upstream_errors' && !hasUpstream) continue;
      this.sample(features, metric, series[metric]);
    }
    return { features, events, label };
  }

  /** Healthy entities: load, memory and disk vary a lot across a fleet; errors and latency are heavy-tailed. */
  private baseline() {
    return {
      cpu: clamp(this.normal(36, 13), 3, 82),
      mem: clamp(this.normal(52, 12), 10, 86),
      disk: clamp(this.normal(55, 14), 5, 88),
      errors: Math.exp(this.normal(Math.log(0.4), 0.7)),
      latency: Math.exp(this.normal(Math.log(120), 0.4)),
      upstream: Math.exp(this.normal(Math.log(0.15), 0.8)),
    };
  }

  private healthySeries(
    base: ReturnType<Simulator['baseline']>,
  ): Record<(typeof SCENARIO_METRICS)[number], Series> {
    const percent = (level: number, slope: number, noise: number): Series => ({
      level,
      slope,
      noise,
      multiplicative: false,
      floor: 0,
      ceiling: 100,
    });
    const rate = (level: number, noise: number, ceiling = Infinity): Series => ({
      level,
      slope: 0,
      noise,
      multiplicative: true,
      floor: 0,
      ceiling,
    });
    return {
      cpu: percent(base.cpu, this.normal(0, 0.08), 4),
      mem: percent(base.mem, this.normal(0, 0.015), 0.6),
      disk: percent(base.disk, Math.abs(this.normal(0, 0.002)), 0.15),
      errors: rate(base.errors, 0.35),
      latency: rate(base.latency, 0.15, 30_000),
      upstream_errors: rate(base.upstream, 0.4),
    };
  }

  /** Healthy but noisy: hot or spiky entities, warming caches, filling disks and misleading events. */
  private healthyQuirks(series: Record<string, Series>, events: Event[]): void {
    const cpu = series.cpu!;
    const mem = series.mem!;
    if (this.chance(0.1)) cpu.level = clamp(this.normal(70, 8), 50, 90); // runs hot by design
    if (this.chance(0.3)) {
      cpu.noise *= 2.2;
      series.latency!.noise *= 2;
      series.errors!.noise *= 1.8;
    }
    if (this.chance(0.2)) this.spike(cpu, this.uniform(15, 40));
    if (this.chance(0.15)) this.spike(series.latency!, this.uniform(1.8, 4));
    if (this.chance(0.12)) this.spike(series.errors!, this.uniform(3, 10));
    if (this.chance(0.07)) mem.slope = this.uniform(0.02, 0.09); // a cache warming up
    if (this.chance(0.08)) mem.level = clamp(this.normal(80, 5), 60, 92); // big heap, steady
    if (this.chance(0.08)) series.disk!.level = this.uniform(78, 93); // full but not filling
    if (this.chance(0.05)) series.disk!.slope = this.uniform(0.003, 0.015); // logs growing
    if (this.chance(0.05)) series.upstream_errors!.level *= this.uniform(3, 8); // flaky dependency, retried
    if (this.chance(0.04)) events.push({ kind: 'k8s', message: 'OOMKilled' }); // an old restart
    if (this.chance(0.03)) events.push({ kind: 'log', message: this.refused() }); // retried once
    if (this.chance(0.04)) events.push({ kind: 'alert', message: 'CPUThrottlingHigh' });
    if (this.chance(0.02)) events.push({ kind: 'k8s', message: 'container restarted' });
    if (this.chance(0.05)) events.push(this.deployEvent()); // a deploy that went fine
  }

  private cpuSaturation(series: Record<string, Series>, s: number, events: Event[]): void {
    const cpu = series.cpu!;
    cpu.level = Math.max(cpu.level, lerp(62, 97, s) + this.normal(0, 4));
    cpu.slope = this.normal(lerp(0, 0.25, s), 0.1);
    cpu.noise = lerp(4, 2, s);
    series.latency!.level *= lerp(1.05, 2.2, s) * this.uniform(0.9, 1.1);
    series.errors!.level *= lerp(1, 2.5, s);
    if (this.chance(lerp(0.2, 0.7, s))) events.push({ kind: 'alert', message: 'CPUThrottlingHigh' });
    if (this.chance(0.15)) events.push({ kind: 'k8s', message: 'HPA at max replicas' });
  }

  private memoryLeak(
    series: Record<string, Series>,
    s: number,
    base: ReturnType<Simulator['baseline']>,
    events: Event[],
  ): void {
    const mem = series.mem!;
    mem.level = clamp(lerp(58, 86, s) + this.normal(0, 5), 40, 97);
    mem.slope = lerp(0.015, 0.2, s) * this.uniform(0.6, 1.4);
    mem.noise = 0.5;
    mem.ceiling = 99.5;
    if (this.chance(lerp(0.05, 0.3, s))) {
      mem.resetAt = 2 + Math.floor(this.random() * (POINTS - 3));
      mem.resetTo = base.mem;
      this.spike(series.latency!, this.uniform(1.5, 3));
    }
    series.cpu!.level *= lerp(1, 1.25, s); // garbage collection
    series.latency!.level *= lerp(1, 1.4, s);
    if (this.chance(lerp(0.15, 0.6, s))) events.push({ kind: 'k8s', message: 'OOMKilled' });
    if (this.chance(lerp(0.15, 0.5, s))) events.push({ kind: 'k8s', message: 'container restarted' });
    if (this.chance(0.08)) events.push({ kind: 'k8s', message: 'Back-off restarting failed container' });
  }

  private badDeploy(series: Record<string, Series>, s: number, events: Event[]): void {
    const at = 1 + Math.floor(this.random() * (POINTS - 2));
    const errors = series.errors!;
    errors.stepAt = at;
    errors.stepFactor = lerp(1.8, 25, s) * this.uniform(0.7, 1.3);
    const latency = series.latency!;
    latency.stepAt = at;
    latency.stepFactor = lerp(1.05, 1.8, s);
    series.cpu!.level *= lerp(1, 1.15, s);
    if (this.chance(0.7)) events.push(this.deployEvent()); // versions vary: the version is no tell
    if (this.chance(lerp(0.15, 0.6, s))) events.push({ kind: 'alert', message: '5xx spike on checkout' });
    if (this.chance(0.15)) events.push({ kind: 'log', message: 'NullPointerException in OrderService' });
  }

  private diskPressure(series: Record<string, Series>, s: number, events: Event[]): void {
    const disk = series.disk!;
    disk.level = clamp(lerp(78, 97, s) + this.normal(0, 3), 65, 99.5);
    disk.slope = lerp(0.002, 0.05, s) * this.uniform(0.5, 1.5);
    disk.noise = 0.2;
    series.errors!.level *= lerp(1, 4, s);
    series.latency!.level *= lerp(1, 1.4, s);
    if (this.chance(lerp(0.15, 0.6, s)))
      events.push({ kind: 'log', message: 'write failed: no space left on device' });
    if (this.chance(lerp(0.15, 0.55, s)))
      events.push({ kind: 'k8s', message: 'node condition DiskPressure' });
    if (this.chance(0.08)) events.push({ kind: 'k8s', message: 'evicting pods' });
  }

  private dependencyOutage(series: Record<string, Series>, s: number, events: Event[]): void {
    const at = this.chance(0.5) ? 1 + Math.floor(this.random() * (POINTS - 2)) : 0;
    const upstream = series.upstream_errors!;
    upstream.stepAt = at;
    upstream.stepFactor = lerp(3, 60, s) * this.uniform(0.6, 1.4);
    const latency = series.latency!;
    latency.stepAt = at;
    latency.stepFactor = lerp(1.3, 4.5, s);
    series.errors!.stepAt = at;
    series.errors!.stepFactor = lerp(1.5, 12, s);
    series.cpu!.level *= lerp(1, 0.8, s); // threads wait instead of working
    const dependency = this.pick(DEPENDENCIES);
    if (this.chance(lerp(0.2, 0.6, s))) events.push({ kind: 'log', message: this.refused() });
    if (this.chance(lerp(0.2, 0.6, s)))
      events.push({ kind: 'alert', message: `upstream timeout ${dependency}` });
    if (this.chance(0.1)) events.push({ kind: 'alert', message: 'circuit breaker half-open' });
  }

  /** Samples the series every 5 s (±300 ms, the odd scrape lost) and writes its window features. */
  private sample(out: Record<string, number>, metric: string, s: Series): void {
    const ts = new Float64Array(POINTS);
    const values = new Float64Array(POINTS);
    let n = 0;
    for (let i = 0; i < POINTS; i++) {
      if (n > 0 && i < POINTS - 1 && this.chance(0.04)) continue;
      const t = i * SCRAPE_MS + (i === 0 ? 0 : this.uniform(-300, 300));
      let v: number;
      if (s.resetAt !== undefined && i >= s.resetAt) {
        v = (s.resetTo ?? s.level) + (s.slope * ((i - s.resetAt) * SCRAPE_MS)) / 1000;
      } else {
        v = s.level + (s.slope * t) / 1000;
      }
      if (s.stepAt !== undefined && i >= s.stepAt) v *= s.stepFactor ?? 1;
      v = s.multiplicative ? v * Math.exp(this.normal(0, s.noise)) : v + this.normal(0, s.noise);
      if (i === s.spikeAt) v = s.multiplicative ? v * (s.spikeSize ?? 1) : v + (s.spikeSize ?? 0);
      ts[n] = t;
      values[n++] = clamp(v, s.floor, s.ceiling);
    }
    writeMetricFeatures(
      out,
      FEATURE_STATS.map((stat) => `${metric}.${stat}`),
      ts,
      values,
      n,
    );
  }

  private spike(s: Series, size: number): void {
    s.spikeAt = Math.floor(this.random() * POINTS);
    s.spikeSize = size;
  }

  private deployEvent(): Event {
    const v = `v2.${10 + Math.floor(this.random() * 6)}.${Math.floor(this.random() * 8)}`;
    return { kind: 'deploy', message: `deployed ${v}` };
  }

  private refused(): string {
    const port = this.pick(['5432', '6379', '8080', '443']);
    return `dial tcp 10.0.3.${1 + Math.floor(this.random() * 250)}:${port}: connect: connection refused`;
  }

  private pickClass(): ScenarioClass {
    let u = this.random();
    for (const c of SCENARIO_CLASSES) {
      u -= SCENARIO_MIX[c];
      if (u < 0) return c;
    }
    return 'healthy';
  }

  /** How bad an incident is, 0 (barely visible) to 1; most are in between. */
  private severity(): number {
    return Math.min(1, Math.max(0, (this.random() + this.random()) / 2 + this.normal(0, 0.12)));
  }

  private pick<T>(from: readonly T[]): T {
    return from[Math.floor(this.random() * from.length)]!;
  }

  private chance(p: number): boolean {
    return this.random() < p;
  }

  private uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.random();
  }

  private poisson(mean: number): number {
    const limit = Math.exp(-mean);
    let k = 0;
    for (let p = this.random(); p > limit; p *= this.random()) k++;
    return k;
  }

  private normal(mean: number, sd: number): number {
    return mean + sd * this.gaussian();
  }
}

function lerp(lo: number, hi: number, t: number): number {
  return lo + (hi - lo) * t;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
