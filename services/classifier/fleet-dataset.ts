/**
 * Labeled rows from the fleet simulator (services/fleet): a generator independent of the
 * classifier's own (scenarios.ts), for evaluation only. The fleet model is driven directly (no
 * Kafka, no clock) and its samples and events go through sense's own windows and baselines
 * (EntityWindows, BaselineStore), so a row is the observation the live loop would have classified,
 * baseline facts included once an entity has history. Deterministic: the same options give the
 * same rows.
 */
import type { Observation } from '../common/contracts.js';
import { applyMetricSet, type MetricSet } from '../fleet/metric-set.js';
import { FleetModel } from '../fleet/fleet-model.js';
import type { FleetScenarioClass } from '../fleet/fleet-types.js';
import { BaselineStore } from '../sense/baseline.js';
import { EntityWindows } from '../sense/windows.js';
import type { LabeledRow } from './model-types.js';
import { seededRandom, shuffleInPlace } from './seeded-random.js';

/** What the fleet traces look like; every field has a default. */
export interface FleetDatasetOptions {
  readonly seed: number;
  /** Injection rounds (8): each gives every entity a class for 4 minutes, then 1 minute to recover. */
  readonly rounds?: number;
  readonly services?: number;
  readonly podsPerService?: number;
  /** Healthy history before the first round (2h), so baselines are warm; 0: entities with no history. */
  readonly historyMs?: number;
  /** Metrics the fleet does not report (e.g. `upstream_errors`). */
  readonly dropMetrics?: readonly string[];
  /** A factor per metric the fleet reports it in (e.g. `{latency: 0.001}`: seconds, not ms). */
  readonly scale?: Readonly<Record<string, number>>;
  /** Metric names the fleet uses for ours (e.g. `{errors: 'http_5xx_rate'}`). */
  readonly rename?: Readonly<Record<string, string>>;
  /** Seconds after an injection at which each entity's observation is taken. */
  readonly sampleAtS?: readonly number[];
}

const INCIDENTS: readonly FleetScenarioClass[] = [
  'cpu_saturation',
  'memory_leak',
  'bad_deploy',
  'disk_pressure',
  'dependency_outage',
];
const TICK_MS = 1000;
const WINDOW_MS = 30_000;
const HISTORY_TICK_MS = 5_000;
const ROUND_MS = 5 * 60_000;
/** 2026-01-05T00:00:00Z, a Monday: where simulated time starts. */
const START_MS = Date.UTC(2026, 0, 5);

/** One labeled row with what it came from, for reports. */
export interface FleetRow extends LabeledRow {
  readonly entity: string;
  /** The scenario injected (noisy_healthy is labeled healthy); null when none. */
  readonly scenario: FleetScenarioClass | null;
  /** The injection round, from 0. */
  readonly round: number;
  /** Seconds since the round's injection. */
  readonly atS: number;
}

/**
 * The fleet's labeled observations: in each round every entity gets an incident class, the noisy
 * healthy scenario or nothing (in equal shares of incidents, noisy and quiet, shuffled), and its
 * observation is taken at each of `sampleAtS`.
 */
export function fleetDataset(opts: FleetDatasetOptions): FleetRow[] {
  const rounds = opts.rounds ?? 8;
  const services = opts.services ?? 6;
  const pods = opts.podsPerService ?? 5;
  const historyMs = opts.historyMs ?? 2 * 3_600_000;
  const sampleAt = (opts.sampleAtS ?? [45, 90, 150, 210]).map((s) => s * 1000);
  const metricSet: MetricSet = {
    drop: opts.dropMetrics ?? [],
    scale: opts.scale ?? {},
    rename: opts.rename ?? {},
  };
  const fleet = new FleetModel({
    services,
    podsPerService: pods,
    seed: opts.seed,
    incidentTimeoutMs: 4 * 60_000,
    noisyDurationMs: 4 * 60_000,
    recoveryMs: 20_000,
    tickMs: TICK_MS,
  });
  const baselines = new BaselineStore();
  const windows = new EntityWindows({
    windowMs: WINDOW_MS,
    emitEveryMs: 5_000,
    maxMetricsPerEntity: 64,
    maxEntities: 100_000,
    baselines,
  });
  const latest = new Map<string, Observation>();
  const feed = new FleetFeed({
    fleet,
    windows,
    baselines,
    metricSet,
    start: START_MS,
    tickMs: TICK_MS,
    // History samples every 5 s: a baseline learns the same normal from a fifth of the samples.
    historyTickMs: HISTORY_TICK_MS,
    onObservation: (o) => latest.set(o.entity, o),
  });
  const advanceTo = (until: number, history = false) => feed.advanceTo(until, history);
  const historyEnd = START_MS + historyMs;
  advanceTo(historyEnd - WINDOW_MS, true);
  advanceTo(historyEnd);
  const random = seededRandom(opts.seed ^ 0x5eed);
  const ids = fleet.entityIds;
  const rows: FleetRow[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = feed.now;
    const plan = planRound(ids.length, random);
    const assigned = new Map<string, FleetScenarioClass | null>();
    ids.forEach((entity, i) => {
      const cls = plan[i]!;
      if (cls === null) return assigned.set(entity, null);
      const r = fleet.inject({ class: cls, entity }, start);
      assigned.set(entity, r.ok ? cls : null);
    });
    for (const at of sampleAt) {
      advanceTo(start + at);
      for (const entity of ids) {
        const obs = latest.get(entity);
        if (!obs) continue;
        const scenario = assigned.get(entity) ?? null;
        const label = scenario === null || scenario === 'noisy_healthy' ? 'healthy' : scenario;
        rows.push({
          features: obs.features,
          events: obs.events.map((e) => ({ kind: e.kind, message: e.message })),
          label,
          entity,
          scenario,
          round,
          atS: at / 1000,
        });
      }
    }
    advanceTo(start + ROUND_MS - TICK_MS);
  }
  return rows;
}

/** Classes for `n` entities: incidents, noisy healthy and quiet ones in about equal shares, shuffled. */
function planRound(n: number, random: () => number): Array<FleetScenarioClass | null> {
  const pool: Array<FleetScenarioClass | null> = [...INCIDENTS, 'noisy_healthy', null];
  const plan = Array.from({ length: n }, (_, i) => pool[i % pool.length]!);
  shuffleInPlace(plan, random);
  return plan;
}

/**
 * A fleet's ticks fed through sense's windows (`metricSet` applied to its samples) every `tickMs`,
 * each observation to `onObservation`; history ticks (every `historyTickMs`) teach the baselines
 * only, no window is read before the last.
 */
export class FleetFeed {
  /** The next tick's time. */
  now: number;

  constructor(
    private readonly opts: {
      readonly fleet: FleetModel;
      readonly windows: EntityWindows;
      readonly baselines: BaselineStore;
      readonly metricSet: MetricSet;
      readonly start: number;
      readonly tickMs: number;
      readonly historyTickMs: number;
      readonly onObservation: (observation: Observation) => void;
    },
  ) {
    this.now = opts.start;
  }

  /** Ticks the fleet up to `until`; `history`: the baselines learn, the windows see nothing. */
  advanceTo(until: number, history = false): void {
    const { fleet, windows, baselines, metricSet, onObservation } = this.opts;
    const step = history ? this.opts.historyTickMs : this.opts.tickMs;
    for (; this.now <= until; this.now += step) {
      const out = fleet.tick(this.now);
      if (!history) for (const e of out.events) windows.addEvent(e);
      for (const sample of applyMetricSet(out.samples, metricSet)) {
        if (history) {
          baselines.update(sample.entity, sample.metric, sample.ts, sample.value);
          continue;
        }
        const r = windows.addSample(sample);
        if (r.kind === 'observation') onObservation(r.observation);
      }
    }
  }
}
