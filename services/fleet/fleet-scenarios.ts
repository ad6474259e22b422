/**
 * What each scenario class does to an entity: where its metrics head at full strength, how fast
 * it gets there, what it logs, and which actions fix it. The shapes follow the classifier's training
 * scenarios (services/classifier/scenarios.ts) and the starter rules' thresholds, so that the
 * shipped model recognizes them and the rules fire; healthy and noisy entities stay well inside.
 */
import type { Draws, EntityState, HealthyLevels } from './fleet-entity.js';
import { nextVersion } from './fleet-entity.js';
import type { FleetAction, FleetScenarioClass } from './fleet-types.js';

/** One event's text, as the model emits it with the entity and the tick's time. */
export interface EventText {
  readonly kind: string;
  readonly message: string;
  readonly attrs?: Readonly<Record<string, string | number | boolean>>;
}

/** What a scenario's shape is computed from on one tick. */
export interface ShapeInput {
  readonly entity: EntityState;
  /** The entity's noise-free healthy levels now. */
  readonly levels: HealthyLevels;
  /** This tick's healthy sample (levels plus everyday noise). */
  readonly healthy: HealthyLevels;
  /** Time since the incident (or its current phase) started; frozen once it ends. */
  readonly sinceMs: number;
  readonly draws: Draws;
  /** Details drawn when it started (the failing dependency, …). */
  readonly detail: Readonly<Record<string, string>>;
}

/** One scenario class. */
export interface ScenarioSpec {
  readonly rightActions: readonly FleetAction[];
  /** How long from the start (or an OOM restart) to full strength; metrics move linearly meanwhile. */
  readonly onsetMs: number;
  /** How long an unfixed incident lasts before it expires (noisy_healthy: before it ends). */
  readonly lastsMs: 'timeout' | 'noisy';
  /** For a leak: the time after which the container is OOM-killed and the phase starts over. */
  readonly oomAfterMs?: number;
  /** Where the metrics it affects are at full strength, this tick (with its own noise). */
  target(input: ShapeInput): Partial<HealthyLevels>;
  /** Called once at injection: changes it makes at once (a deploy) and the events it logs. */
  start(entity: EntityState, draws: Draws): { events: EventText[]; detail: Record<string, string> };
  /** Events while it is active, for a tick `dtMs` after the previous one. */
  events(input: ShapeInput, dtMs: number): EventText[];
}

const MEMORY_ONSET_MS = 60_000;
/** Memory at the end of the leak's onset, percent of the limit, and its climb afterwards, per second. */
const LEAK_LEVEL = 87;
const LEAK_CLIMB = 0.1;
/** Memory at which the container is OOM-killed. */
const OOM_LEVEL = 99;
const DISK_ONSET_MS = 30_000;
const DISK_LEVEL = 93;
const DISK_CLIMB = 0.03;

const HARMLESS: readonly EventText[] = [
  { kind: 'log', message: 'GET /healthz 200' },
  { kind: 'log', message: 'cache warmed in 420ms' },
  { kind: 'log', message: 'config reloaded' },
  { kind: 'log', message: 'scheduled backup completed' },
  { kind: 'k8s', message: 'Pulled image successfully' },
  { kind: 'log', message: 'slow query took 1.2s' },
];

/** Everyday events any entity logs, whatever its state (about one every two minutes). */
export function backgroundEvents(e: EntityState, dtMs: number): EventText[] {
  return e.draws.happens(1 / 120, dtMs) ? [e.draws.pick(HARMLESS)] : [];
}

/** A `connection refused` log line as Go services print it. */
function refused(d: Draws, port: string): string {
  return `dial tcp 10.0.3.${1 + Math.floor(d.random() * 250)}:${port}: connect: connection refused`;
}

const PORTS: Readonly<Record<string, string>> = { postgres: '5432', redis: '6379' };

/** A deploy of the next version: the entity's version moves on, the previous one is kept for a rollback. */
function deploy(e: EntityState): EventText {
  e.previousVersion = e.version;
  e.version = nextVersion(e.version);
  e.rolledBackFrom = null;
  return {
    kind: 'deploy',
    message: `deployed ${e.version}`,
    attrs: { version: e.version, previous: e.previousVersion },
  };
}

const none = () => ({ events: [], detail: {} });

/** Every scenario class, by name. */
export const SCENARIOS: Readonly<Record<FleetScenarioClass, ScenarioSpec>> = {
  /** CPU pinned at the ceiling (≥ 97%, far above the entity's normal), latency doubled. */
  cpu_saturation: {
    rightActions: ['scale_out'],
    onsetMs: 15_000,
    lastsMs: 'timeout',
    target: ({ levels, healthy, draws }) => ({
      cpu: Math.min(100, 98.8 + draws.noise(0.4)),
      latency: levels.latency * 2.2 * draws.factor(0.1),
      errors: healthy.errors * 1.6,
    }),
    start: (_, d) => ({
      events: [
        { kind: 'alert', message: 'CPUThrottlingHigh' },
        ...(d.chance(0.5) ? [{ kind: 'k8s', message: 'HPA at max replicas' }] : []),
      ],
      detail: {},
    }),
    events: ({ draws }, dt) =>
      draws.happens(1 / 30, dt) ? [{ kind: 'alert', message: 'CPUThrottlingHigh' }] : [],
  },

  /**
   * Memory climbs to 87% of the limit over a minute, then 0.1 points a second; at 99% the container
   * is OOM-killed (restarts + 1, memory back to normal) and the leak starts over.
   */
  memory_leak: {
    rightActions: ['restart'],
    onsetMs: MEMORY_ONSET_MS,
    lastsMs: 'timeout',
    oomAfterMs: MEMORY_ONSET_MS + ((OOM_LEVEL - LEAK_LEVEL) / LEAK_CLIMB) * 1000,
    target: ({ healthy, sinceMs, draws }) => ({
      mem: leakLevel(sinceMs) + draws.noise(0.3),
      cpu: healthy.cpu * 1.15, // garbage collection
      latency: healthy.latency * 1.3,
    }),
    start: none,
    events: ({ sinceMs, draws }, dt) =>
      leakLevel(sinceMs) >= 92 && draws.happens(1 / 30, dt)
        ? [{ kind: 'log', message: 'GC overhead: heap usage above 90% of limit' }]
        : [],
  },

  /** A deploy, then errors at 10 per second or more (about 30× normal) and latency up 70%. */
  bad_deploy: {
    rightActions: ['rollback'],
    onsetMs: 2_000,
    lastsMs: 'timeout',
    target: ({ levels, healthy, draws }) => ({
      errors: Math.max(10, levels.errors * 30) * draws.factor(0.2),
      latency: levels.latency * 1.7 * draws.factor(0.1),
      cpu: healthy.cpu * 1.1,
    }),
    start: (e) => ({ events: [deploy(e)], detail: {} }),
    events: ({ entity, draws }, dt) => [
      ...(draws.happens(1 / 20, dt) ? [{ kind: 'alert', message: `5xx spike on ${entity.service}` }] : []),
      ...(draws.happens(1 / 10, dt)
        ? [{ kind: 'log', message: 'NullPointerException in OrderService' }]
        : []),
    ],
  },

  /** Disk fills to 93% over 30 s, then 0.03 points a second up to 99.5%; some writes fail. */
  disk_pressure: {
    rightActions: ['clean_disk'],
    onsetMs: DISK_ONSET_MS,
    lastsMs: 'timeout',
    target: ({ healthy, sinceMs, draws }) => ({
      disk: diskLevel(sinceMs) + draws.noise(0.1),
      errors: healthy.errors * 2,
      latency: healthy.latency * 1.3,
    }),
    start: none,
    events: ({ sinceMs, draws }, dt) => {
      // Nothing to complain about while the disk is still filling up to the pressure level.
      const level = sinceMs < DISK_ONSET_MS ? 0 : diskLevel(sinceMs);
      const out: EventText[] = [];
      if (level >= 90 && draws.happens(1 / 60, dt))
        out.push({ kind: 'k8s', message: 'node condition DiskPressure' });
      if (level >= 93 && draws.happens(1 / 10, dt))
        out.push({ kind: 'log', message: 'write failed: no space left on device' });
      if (level >= 99 && draws.happens(1 / 30, dt)) out.push({ kind: 'log', message: 'disk full' });
      if (level >= 95 && draws.happens(1 / 300, dt)) out.push({ kind: 'k8s', message: 'evicting pods' });
      return out;
    },
  },

  /**
   * Calls to one dependency fail: upstream_errors around 30 per second (never below 12), errors
   * 8 per second or more, latency p95 past 1.8 s; connection refused logs and upstream timeouts.
   */
  dependency_outage: {
    rightActions: ['open_circuit_breaker'],
    onsetMs: 3_000,
    lastsMs: 'timeout',
    target: ({ levels, healthy, draws }) => ({
      upstream_errors: Math.max(12, 30 * draws.factor(0.25)),
      errors: Math.max(8, levels.errors * 20) * draws.factor(0.2),
      latency: Math.min(30_000, Math.max(1800, levels.latency * 12) * draws.factor(0.15)),
      cpu: healthy.cpu * 0.85, // threads wait instead of working
    }),
    start: (e, d) => {
      const dependency = d.pick(e.dependencies);
      const events: EventText[] = [{ kind: 'alert', message: `upstream timeout ${dependency}` }];
      // An outage is felt only through a closed breaker: one left open earlier is closed by now.
      if (e.breakerOpen) {
        e.breakerOpen = false;
        events.unshift({ kind: 'log', message: 'circuit breaker closed' });
      }
      return { events, detail: { dependency } };
    },
    events: ({ draws, detail }, dt) => {
      const dependency = detail.dependency ?? 'upstream';
      const out: EventText[] = [];
      if (draws.happens(1 / 4, dt))
        out.push({ kind: 'log', message: refused(draws, PORTS[dependency] ?? '443') });
      if (draws.happens(1 / 30, dt)) out.push({ kind: 'alert', message: `upstream timeout ${dependency}` });
      return out;
    },
  },

  /**
   * Healthy but noisy: wider noise on every metric, a memory sawtooth, a flaky dependency that
   * retries succeed on, and misleading events (an old OOM kill, a refused connection retried, a
   * deploy that went fine). Bounded so no starter-rule threshold is ever crossed.
   */
  noisy_healthy: {
    rightActions: [],
    onsetMs: 10_000,
    lastsMs: 'noisy',
    target: ({ entity, levels, sinceMs, draws }) => ({
      // At most 2.7 of the entity's own cpu deviations from its normal: far from the rule's 4.5.
      cpu: levels.cpu + draws.noise(entity.profile.cpuNoise * 1.6, 1.7),
      // A slow sawtooth-free swing: a cache filling and being evicted, never a leak's steady climb.
      mem: levels.mem + 2.5 * Math.sin((2 * Math.PI * sinceMs) / 240_000) + draws.noise(0.5, 2),
      errors: levels.errors * draws.factor(0.6, 1.6),
      latency: levels.latency * draws.factor(0.25, 2) * (draws.chance(0.03) ? 2 : 1),
      upstream_errors: levels.upstream_errors * 4 * draws.factor(0.5, 1.6),
    }),
    start: none,
    events: ({ entity, draws }, dt) => {
      if (!draws.happens(1 / 20, dt)) return [];
      const pick = Math.floor(draws.random() * 5);
      if (pick === 0) return [{ kind: 'k8s', message: 'OOMKilled' }]; // an old restart, reported late
      if (pick === 1) return [{ kind: 'log', message: refused(draws, '6379') }]; // retried, fine
      if (pick === 2) return [{ kind: 'alert', message: 'CPUThrottlingHigh' }];
      if (pick === 3) return [{ kind: 'log', message: 'retrying request after 503' }];
      return [deploy(entity)]; // a deploy that went fine
    },
  },
};

/** Memory of a leak `sinceMs` into its phase, at full strength. */
function leakLevel(sinceMs: number): number {
  return Math.min(OOM_LEVEL + 0.5, LEAK_LEVEL + (LEAK_CLIMB * Math.max(0, sinceMs - MEMORY_ONSET_MS)) / 1000);
}

/** Disk usage of disk pressure `sinceMs` in, at full strength. */
function diskLevel(sinceMs: number): number {
  return Math.min(99.5, DISK_LEVEL + (DISK_CLIMB * Math.max(0, sinceMs - DISK_ONSET_MS)) / 1000);
}
