/**
 * One simulated entity (a pod): its healthy profile, the state actions change, and its own seeded
 * random stream, so what happens to one entity never shifts the noise of another.
 */
import { seededGaussian, seededRandom } from '../classifier/seeded-random.js';
import type { OpsEvent } from '../common/contracts.js';

/** Seeded draws for one entity or for the scheduler. */
export class Draws {
  private readonly gaussian: () => number;

  constructor(readonly random: () => number) {
    this.gaussian = seededGaussian(random);
  }

  /** A generator for `seed` and a stream number, so each entity has its own independent stream. */
  static of(seed: number, stream: number): Draws {
    return new Draws(seededRandom(mix32(seed, stream)));
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.random();
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  /**
   * A normal draw with standard deviation `sd`, clipped at ±`limit` deviations. Why clipped: a
   * healthy entity's rare 5-sigma tail would look, to the rules, exactly like an incident.
   */
  noise(sd: number, limit = 2.5): number {
    return sd * Math.max(-limit, Math.min(limit, this.gaussian()));
  }

  /** A log-normal factor around 1 (for rates and latencies), clipped the same way. */
  factor(sd: number, limit = 2.5): number {
    return Math.exp(this.noise(sd, limit));
  }

  pick<T>(from: readonly T[]): T {
    return from[Math.floor(this.random() * from.length)]!;
  }

  /** Whether an event of `perSecond` rate happens within `dtMs` (a Poisson process). */
  happens(perSecond: number, dtMs: number): boolean {
    return this.random() < 1 - Math.exp((-perSecond * dtMs) / 1000);
  }
}

/** A 32-bit seed for stream `stream` of `seed` (a murmur-style finalizer over both). */
function mix32(seed: number, stream: number): number {
  let h = (seed >>> 0) ^ Math.imul(stream + 1, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The noise-free healthy levels of an entity at one time (before any incident). */
export interface HealthyLevels {
  cpu: number;
  mem: number;
  disk: number;
  errors: number;
  latency: number;
  upstream_errors: number;
}

/** What an entity is like when nothing is wrong: drawn once from its stream. */
export interface HealthyProfile {
  /** Percent at the nominal replica count, at the daily mean. */
  readonly cpu: number;
  /** Standard deviation of the cpu noise, in percent points. */
  readonly cpuNoise: number;
  readonly mem: number;
  /** Per second. */
  readonly errors: number;
  /** Milliseconds. */
  readonly latency: number;
  /** Per second. */
  readonly upstream: number;
  /** Radians: where the entity's service is in its daily traffic cycle. */
  readonly dailyPhase: number;
}

/** An event waiting to be emitted with the next tick (from an action or an injection). */
export type PendingEvent = Omit<OpsEvent, 'entity'>;

/** An entity's mutable state; only the model changes it. */
export interface EntityState {
  readonly id: string;
  readonly service: string;
  /** Services it calls, named in outage events. */
  readonly dependencies: readonly string[];
  readonly draws: Draws;
  readonly profile: HealthyProfile;
  /** The replica count its cpu profile was drawn at; scale_in never goes below it. */
  readonly minReplicas: number;
  replicas: number;
  restarts: number;
  /** Healthy disk usage, percent; clean_disk and expand_volume lower it. */
  diskLevel: number;
  version: string;
  /** The version a rollback goes back to. */
  previousVersion: string;
  /** The version the last rollback left, which a roll_forward returns to; null when none. */
  rolledBackFrom: string | null;
  breakerOpen: boolean;
  pending: PendingEvent[];
}

/** Dependencies an entity's service may call (names the classifier's training events use too). */
const DEPENDENCIES = ['payments', 'inventory', 'auth', 'postgres', 'redis', 'search'];

/** Most replicas scale_out goes to. */
export const MAX_REPLICAS = 20;

/** A new entity with a healthy profile drawn from its own stream. */
export function createEntity(
  seed: number,
  stream: number,
  service: string,
  pod: number,
  serviceIndex: number,
) {
  const draws = Draws.of(seed, stream);
  const lognormal = (median: number, sd: number, lo: number, hi: number) =>
    Math.min(hi, Math.max(lo, median * Math.exp(sd * draws.noise(1, 3))));
  const profile: HealthyProfile = {
    cpu: draws.uniform(15, 50),
    cpuNoise: draws.uniform(1.5, 3),
    mem: draws.uniform(30, 60),
    errors: lognormal(0.22, 0.4, 0.08, 0.5),
    latency: lognormal(110, 0.3, 50, 250),
    upstream: lognormal(0.15, 0.5, 0.03, 0.5),
    dailyPhase: serviceIndex * 0.7,
  };
  const replicas = 2 + Math.floor(draws.random() * 3);
  const version = `v2.${10 + Math.floor(draws.random() * 6)}.${Math.floor(draws.random() * 8)}`;
  const dependencies = DEPENDENCIES.filter((d) => d !== service && draws.chance(0.4));
  if (dependencies.length === 0) dependencies.push(draws.pick(DEPENDENCIES.filter((d) => d !== service)));
  const state: EntityState = {
    id: `${service}/pod-${pod}`,
    service,
    dependencies,
    draws,
    profile,
    minReplicas: replicas,
    replicas,
    restarts: 0,
    diskLevel: Math.round(draws.uniform(30, 68) * 100) / 100,
    version,
    previousVersion: version,
    rolledBackFrom: null,
    breakerOpen: false,
    pending: [],
  };
  return state;
}

const DAY_MS = 86_400_000;

/**
 * The entity's noise-free healthy levels at `nowMs`: a mild daily traffic cycle (±15% cpu) and
 * its load spread over its replicas; no upstream calls while its circuit breaker is open.
 */
export function healthyLevels(e: EntityState, nowMs: number): HealthyLevels {
  const daily = Math.sin((2 * Math.PI * (nowMs % DAY_MS)) / DAY_MS + e.profile.dailyPhase);
  const share = e.minReplicas / e.replicas;
  return {
    cpu: e.profile.cpu * share * (1 + 0.15 * daily),
    mem: e.profile.mem,
    disk: e.diskLevel,
    errors: e.profile.errors * (1 + 0.1 * daily),
    latency: e.profile.latency * (1 + 0.08 * daily),
    upstream_errors: e.breakerOpen ? 0 : e.profile.upstream,
  };
}

/** The healthy levels with everyday noise, clipped so that no healthy sample looks like an incident. */
export function withHealthyNoise(e: EntityState, levels: HealthyLevels): HealthyLevels {
  const d = e.draws;
  return {
    cpu: levels.cpu + d.noise(e.profile.cpuNoise),
    mem: levels.mem + d.noise(0.3),
    disk: levels.disk + d.noise(0.05),
    errors: levels.errors * d.factor(0.3),
    latency: levels.latency * d.factor(0.08),
    upstream_errors: levels.upstream_errors * d.factor(0.4),
  };
}

/** The version after `version`: the next minor release. */
export function nextVersion(version: string): string {
  const m = /^v(\d+)\.(\d+)\.(\d+)$/.exec(version);
  return m ? `v${m[1]}.${Number(m[2]) + 1}.0` : `${version}-next`;
}
