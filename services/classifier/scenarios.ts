/**
 * Synthetic, reproducible incident scenarios to train and test the classifier before real
 * verdicts exist: one labeled row per simulated 30 s window of one entity, with the window
 * features sense would compute from the samples and the events it would have seen. Incidents come
 * in every severity, so mild ones look almost healthy and healthy entities are sometimes hot,
 * spiky or carry a misleading event: learnable, but not trivially.
 *
 * Trained for the world, not for this generator: each row is also drawn from a random fleet, one
 * that may lack a metric (upstream_errors a third of the time, any other now and then), report
 * latency in seconds or errors per minute, collect no events, or word its events one of several
 * ways; and the entity may have a warm baseline (`<metric>.baseline|deviation|anomaly|spread`, as
 * sense gives them), none yet, or one that has learned the incident itself.
 */
import { FEATURE_STATS, anomalyScore } from '../common/facts-reference.js';
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
/** Share of CPU saturations and disk pressures whose onset (a step, a fast fill) is in the window. */
const ONSET_IN_WINDOW = 0.3;
/**
 * Share of CPU saturations caught on their way up: CPU climbing from the entity's normal over
 * 10-40 s, the window's last sample a quarter to 70% of the way up. The CPU rule decides on the first
 * samples far above the entity's normal, long before the ceiling: a live fleet's saturations
 * (a 15 s climb) were decided at 35-63% CPU, 4.7-7 deviations up, which the model had only seen
 * healthy entities do and called healthy at 0.86-0.99.
 */
const RAMP_IN_WINDOW = 0.5;

/**
 * Share of the healthy entities' deploys that went fine whose pods came up cold: latency noisier
 * than the baseline has seen (2-4 times) and up to a fifth above its level, errors unchanged. A
 * fleet's noisy healthy entity after a good deploy (latency 2-8 deviations up on its last sample,
 * errors reported under another name) was otherwise named a bad deploy at 0.91-0.99.
 */
const COLD_START = 0.6;
/**
 * Share of healthy windows with a deploy that went fine (besides the 7% of every class's windows
 * with one): most deploys go fine, so a deploy event alone is no bad deploy.
 */
const GOOD_DEPLOY = 0.15;
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
  /** From `rampFromMs` on, the level climbs linearly to `rampTo` over `rampMs` (load building up). */
  rampFromMs?: number;
  rampMs?: number;
  rampTo?: number;
}

interface Event {
  kind: string;
  message: string;
  /** The PHRASINGS key of a message that names a service (the name varies, its wordings do not). */
  phrasing?: string;
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
    let normal = cloneSeries(series);
    switch (label) {
      case 'healthy': {
        const calm = normal;
        const episode = this.healthyQuirks(series, events);
        normal = cloneSeries(series); // a hot or big entity's baseline knows it
        // A noisy spell the baseline has not seen: its spread is the calm one.
        if (episode) for (const m of SCENARIO_METRICS) normal[m].noise = calm[m].noise;
        break;
      }
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
    for (let i = 0; i < harmless; i++) events.push(this.chance(0.5) ? this.chatter() : this.pick(HARMLESS));
    if (label !== 'bad_deploy' && this.chance(0.07)) events.push(...this.deployEvents());
    shuffleInPlace(events, this.random);

    const features: Record<string, number> = {};
    const fleet = this.fleet();
    const history = this.history();
    for (const metric of SCENARIO_METRICS) {
      if (metric === 'upstream_errors' && !hasUpstream) continue;
      if (fleet.missing.has(metric)) continue;
      this.sample(features, metric, series[metric]);
      if (history !== 'none') this.baselineFacts(features, metric, normal[metric], history);
      const unit = fleet.unit[metric];
      if (unit !== undefined)
        for (const stat of SCALED_STATS) scaleFeature(features, `${metric}.${stat}`, unit);
    }
    const seen = fleet.noEvents ? [] : events.map((e) => this.reword(e));
    return { features, events: seen, label };
  }

  /** How this row's fleet differs: metrics it lacks, units it reports in, no event collection. */
  private fleet(): { missing: Set<string>; unit: Partial<Record<string, number>>; noEvents: boolean } {
    const missing = new Set<string>();
    if (this.chance(0.3)) missing.add('upstream_errors');
    for (const metric of ['cpu', 'mem', 'disk', 'errors', 'latency'])
      if (this.chance(0.04)) missing.add(metric);
    const unit: Partial<Record<string, number>> = {};
    if (this.chance(0.3)) unit.latency = 0.001; // seconds
    if (this.chance(0.15)) unit.errors = 60; // per minute
    if (this.chance(0.15)) unit.upstream_errors = 60;
    return { missing, unit, noEvents: this.chance(0.15) };
  }

  /** The entity's history: a warm baseline, none yet (warming up), or one that learned the incident. */
  private history(): 'warm' | 'none' | 'learned' {
    const u = this.random();
    return u < 0.6 ? 'warm' : u < 0.8 ? 'none' : 'learned';
  }

  /**
   * The baseline facts sense would add for `metric`: its normal level and spread (with the error of
   * a learned estimate) and the newest sample's deviation from it; for `learned`, a baseline that
   * took in the window's own level, so the deviation is small whatever is going on.
   */
  private baselineFacts(
    out: Record<string, number>,
    metric: string,
    normal: Series,
    history: 'warm' | 'learned',
  ): void {
    const last = out[`${metric}.last`];
    const avg = out[`${metric}.avg`];
    if (last === undefined || avg === undefined) return;
    const jitter = this.uniform(0.75, 1.4);
    let level = normal.multiplicative
      ? normal.level * Math.exp(this.normal(0, 0.1))
      : normal.level + this.normal(0, normal.noise * 0.3);
    let spread = (normal.multiplicative ? normal.level * normal.noise : normal.noise) * jitter;
    if (history === 'learned') {
      level = avg * (normal.multiplicative ? Math.exp(this.normal(0, 0.1)) : 1) + this.normal(0, 0.2);
      spread *= this.uniform(1, 4);
    }
    spread = Math.max(spread, 0.02 * Math.abs(level), 1e-9);
    const deviation = (last - level) / spread;
    out[`${metric}.baseline`] = level;
    out[`${metric}.deviation`] = deviation;
    out[`${metric}.anomaly`] = anomalyScore(deviation, 4.5);
    out[`${metric}.spread`] = spread;
  }

  /** One event as this fleet's software might word it: one of a few phrasings of the same thing. */
  private reword(e: Event): Event {
    const ways = PHRASINGS[e.phrasing ?? e.message];
    if (ways === undefined || this.chance(0.4)) return { kind: e.kind, message: e.message };
    return { kind: e.kind, message: this.pick(ways)() };
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
  /** Returns whether the entity is in a noisy spell its baseline has not seen. */
  private healthyQuirks(series: Record<string, Series>, events: Event[]): boolean {
    const cpu = series.cpu!;
    const mem = series.mem!;
    // A noisy spell (a traffic mix change, a flaky network): wide noise, a flaky dependency that
    // retries absorb, retried refusals; far from the calm normal in deviations, but healthy.
    const episode = this.chance(0.12);
    if (episode) {
      series.latency!.noise *= this.uniform(2, 3.5);
      series.errors!.noise *= this.uniform(1.5, 2.5);
      series.upstream_errors!.level *= this.uniform(2, 6);
      series.upstream_errors!.noise *= 1.5;
      cpu.noise *= 1.6;
      if (this.chance(0.3)) events.push({ kind: 'log', message: 'retrying request after 503' });
      if (this.chance(0.2)) events.push({ kind: 'log', message: this.refused() });
    }
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
    // A deploy that went fine; as often as not its pods come up cold (caches, connection pools, JIT):
    // latency wobbles wider than the baseline has seen for a while, errors stay where they were.
    if (this.chance(GOOD_DEPLOY)) {
      events.push(...this.deployEvents());
      if (this.chance(COLD_START)) {
        series.latency!.noise *= this.uniform(2, 4);
        series.latency!.level *= this.uniform(1, 1.2);
        return true;
      }
    }
    return episode;
  }

  private cpuSaturation(series: Record<string, Series>, s: number, events: Event[]): void {
    const cpu = series.cpu!;
    const normal = cpu.level;
    cpu.level = Math.max(cpu.level, Math.min(100, lerp(62, 99, s) + this.normal(0, 3)));
    cpu.slope = this.normal(lerp(0, 0.25, s), 0.1);
    cpu.noise = lerp(4, 2, s);
    const latency = series.latency!;
    const errors = series.errors!;
    const latencyFactor = lerp(1.05, 2.2, s) * this.uniform(0.9, 1.1);
    const errorsFactor = lerp(1, 2.5, s);
    // The first windows of a saturation hold its onset: the loop classifies every few seconds.
    const onset = this.random();
    if (onset < ONSET_IN_WINDOW) {
      const before = clamp(this.normal(36, 13), 3, 82);
      cpu.stepAt = 1 + Math.floor(this.random() * (POINTS - 2));
      cpu.stepFactor = cpu.level / before;
      cpu.level = before;
      cpu.slope = 0;
    } else if (onset < ONSET_IN_WINDOW + RAMP_IN_WINDOW) {
      // Caught on its way up: from the entity's normal (which its baseline knows) towards the
      // ceiling, latency and errors climbing with it; only the last samples have left the normal.
      const rampMs = this.uniform(10, 40) * 1000;
      // A quarter to 70% of the way up: a climb that has not visibly started yet is no evidence.
      const rampFromMs = WINDOW_MS - rampMs * this.uniform(0.25, 0.7);
      for (const [climbing, to] of [
        [cpu, cpu.level],
        [latency, latency.level * latencyFactor],
        [errors, errors.level * errorsFactor],
      ] as const) {
        climbing.rampFromMs = rampFromMs;
        climbing.rampMs = rampMs;
        climbing.rampTo = to;
      }
      cpu.level = normal;
      cpu.slope = 0;
      cpu.noise = 4;
    }
    if (latency.rampTo === undefined) latency.level *= latencyFactor;
    if (errors.rampTo === undefined) errors.level *= errorsFactor;
    // Alerts fire once the saturation has lasted ("cpu usage above 90% for 5m"): none on the way up.
    const quiet = cpu.rampTo !== undefined;
    if (this.chance(lerp(0.2, 0.7, s)) && !quiet)
      events.push({ kind: 'alert', message: 'CPUThrottlingHigh' });
    if (this.chance(0.15) && !quiet) events.push({ kind: 'k8s', message: 'HPA at max replicas' });
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
    // A leaking runtime's collector works ever harder before the OOM kill.
    if (this.chance(lerp(0.1, 0.45, s))) events.push({ kind: 'log', message: 'GC overhead limit exceeded' });
  }

  private badDeploy(series: Record<string, Series>, s: number, events: Event[]): void {
    const at = 1 + Math.floor(this.random() * (POINTS - 2));
    const errors = series.errors!;
    errors.stepAt = at;
    errors.stepFactor = lerp(1.8, 40, s) * this.uniform(0.7, 1.3);
    const latency = series.latency!;
    latency.stepAt = at;
    latency.stepFactor = lerp(1.05, 1.8, s);
    series.cpu!.level *= lerp(1, 1.15, s);
    if (this.chance(0.7)) events.push(...this.deployEvents()); // versions vary: the version is no tell
    // The service is no tell: outages name the same services as their dependency (a fleet's bad
    // deploys on `search` alerted `... on search`, and that token alone made them outages).
    if (this.chance(lerp(0.15, 0.6, s)))
      events.push({
        kind: 'alert',
        message: `5xx spike on ${this.pick(['checkout', ...DEPENDENCIES])}`,
        phrasing: '5xx spike on checkout',
      });
    if (this.chance(0.15)) events.push({ kind: 'log', message: 'NullPointerException in OrderService' });
  }

  private diskPressure(series: Record<string, Series>, s: number, events: Event[]): void {
    const disk = series.disk!;
    disk.level = clamp(lerp(78, 97, s) + this.normal(0, 3), 65, 99.5);
    disk.slope = lerp(0.002, 0.05, s) * this.uniform(0.5, 1.5);
    disk.noise = 0.2;
    // A disk filled fast (a log flood, a runaway export): points per second, not per hour.
    if (this.chance(ONSET_IN_WINDOW)) {
      disk.slope = this.uniform(0.2, 2.5);
      disk.level = Math.max(5, disk.level - disk.slope * (WINDOW_MS / 1000) * this.uniform(0.3, 1));
    }
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
    latency.stepFactor = lerp(1.3, 15, s) * this.uniform(0.8, 1.2);
    series.errors!.stepAt = at;
    series.errors!.stepFactor = lerp(1.5, 30, s) * this.uniform(0.7, 1.3);
    series.cpu!.level *= lerp(1, 0.8, s); // threads wait instead of working
    const dependency = this.pick(DEPENDENCIES);
    if (this.chance(lerp(0.2, 0.6, s))) events.push({ kind: 'log', message: this.refused() });
    if (this.chance(lerp(0.2, 0.6, s)))
      events.push({
        kind: 'alert',
        message: this.chance(0.5) ? `upstream timeout ${dependency}` : this.pick(UNREACHABLE)(dependency),
      });
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
      if (s.rampTo !== undefined && s.rampFromMs !== undefined && s.rampMs !== undefined)
        v += (s.rampTo - s.level) * clamp((t - s.rampFromMs) / s.rampMs, 0, 1);
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

  /**
   * A rollout as the window's events show it: one deploy event, or now and then two (the deploy
   * tool and the cluster both report it, or a second rollout follows), for a good deploy as for a
   * bad one: a fleet's noisy healthy entity with two good deploys in its window was named a bad
   * deploy at 0.96 on the count alone.
   */
  private deployEvents(): Event[] {
    return this.chance(0.25) ? [this.deployEvent(), this.deployEvent()] : [this.deployEvent()];
  }

  private deployEvent(): Event {
    const v = `v2.${10 + Math.floor(this.random() * 6)}.${Math.floor(this.random() * 8)}`;
    const message = this.pick([
      `deployed ${v}`,
      `deployed ${v}`,
      `Deployment updated to image app:${v}`,
      `release ${v} rolled out`,
      `helm upgrade to ${v} succeeded`,
    ]);
    return { kind: this.chance(0.8) ? 'deploy' : 'k8s', message };
  }

  /**
   * An everyday log line with numbers and function words in it, as every entity logs whatever its
   * state: such words and numbers (an address, a count, a duration) name no class.
   */
  private chatter(): Event {
    const n = () => String(Math.floor(Math.exp(this.uniform(0, 8))));
    const line = this.pick([
      () => `request for /api/v${n()}/orders took ${n()}ms`,
      () => `processed ${n()} of ${n()} jobs in ${n()}s`,
      () => `waiting for ${n()} workers to finish`,
      () => `flushed ${n()} entries to the cache`,
      () => `checked ${n()} of the ${n()} peers at 10.0.${n()}.${n()}`,
      () => `worker ${n()} is up after ${n()}s on port ${n()}`,
    ])();
    return { kind: 'log', message: line };
  }

  private refused(): string {
    const port = this.pick(['5432', '6379', '8080', '443']);
    const address = `10.0.3.${1 + Math.floor(this.random() * 250)}:${port}`;
    if (this.chance(0.5)) return `dial tcp ${address}: connect: connection refused`;
    return this.pick(REFUSED)(address);
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

/** Statistics that carry the metric's unit (count, deviation and anomaly do not). */
const SCALED_STATS = ['avg', 'min', 'max', 'last', 'p95', 'slope', 'baseline', 'spread'] as const;

function scaleFeature(out: Record<string, number>, name: string, factor: number): void {
  const v = out[name];
  if (v !== undefined) out[name] = v * factor;
}

function cloneSeries<K extends string>(series: Record<K, Series>): Record<K, Series> {
  const copy = {} as Record<K, Series>;
  for (const k of Object.keys(series) as K[]) copy[k] = { ...series[k] };
  return copy;
}

/**
 * Other wordings of the generator's event messages, as other software logs the same thing. None
 * is a wording of the cross-generator test's "stranger" fleet (cross-evaluate.ts): that one must
 * stay unseen.
 */
const PHRASINGS: Readonly<Record<string, ReadonlyArray<() => string>>> = {
  CPUThrottlingHigh: [
    () => 'HighCPUUsage firing',
    () => 'cpu usage above 90% for 5m',
    () => 'load average 14.2 on 4 cores',
  ],
  'HPA at max replicas': [() => 'HorizontalPodAutoscaler reached maxReplicas'],
  OOMKilled: [
    () => 'java.lang.OutOfMemoryError: Java heap space',
    () => 'container exceeded its memory limit',
    () => 'Reason: OOMKilled, exit code 137',
  ],
  'container restarted': [() => 'Started container app', () => 'restart count increased'],
  'GC overhead limit exceeded': [
    () => 'heap near its limit, collector running hot',
    () => 'long GC pauses: 2.1s',
  ],
  'Back-off restarting failed container': [() => 'CrashLoopBackOff'],
  '5xx spike on checkout': [() => 'ErrorRateHigh firing', () => 'error budget burn rate alert'],
  'NullPointerException in OrderService': [
    () => 'panic: runtime error: nil pointer dereference',
    () => "KeyError: 'user_id'",
    () => 'unhandled exception in request handler',
  ],
  'write failed: no space left on device': [
    () => 'IOError: [Errno 28] No space left on device',
    () => 'filesystem /var at 97% used',
  ],
  'node condition DiskPressure': [() => 'FreeDiskSpaceFailed', () => 'DiskUsageHigh firing'],
  'evicting pods': [() => 'The node was low on resource: ephemeral-storage'],
  'circuit breaker half-open': [() => 'breaker state HALF_OPEN'],
};

/** Wordings of a refused connection and of an unreachable dependency, by other clients. */
const REFUSED: ReadonlyArray<(address: string) => string> = [
  (address) => `java.net.ConnectException: Connection refused (${address})`,
  () => 'upstream connect error or disconnect/reset before headers',
  () => 'no healthy upstream',
  (address) => `failed to connect to ${address}: connection reset by peer`,
];
const UNREACHABLE: ReadonlyArray<(dependency: string) => string> = [
  (d) => `upstream timeout ${d}`,
  (d) => `${d} request timed out after 5000ms`,
  (d) => `dependency ${d} unavailable`,
  (d) => `503 Service Unavailable from ${d}`,
];

function lerp(lo: number, hi: number, t: number): number {
  return lo + (hi - lo) * t;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
