/**
 * The simulated fleet, as a pure core: N services of a few pods each, emitting metrics and events
 * every tick, with incident scenarios injected on a seeded schedule or on demand, and actions that
 * change what it emits. No clock and no I/O: time is what the caller passes, randomness comes from
 * the seed, so the same seed and the same calls give the same output. The ground truth (incidents
 * and the action log) is what tests and benchmarks score the loop against.
 */
import type { MetricSample, OpsEvent } from '../common/contracts.js';
import { applyEffects } from './fleet-actions.js';
import {
  Draws,
  createEntity,
  healthyLevels,
  withHealthyNoise,
  type EntityState,
  type HealthyLevels,
} from './fleet-entity.js';
import { SCENARIOS, backgroundEvents, type EventText, type ShapeInput } from './fleet-scenarios.js';
import {
  FLEET_ACTIONS,
  FLEET_SCENARIO_CLASSES,
  type ActionLogEntry,
  type ActionOutcome,
  type ActionRequest,
  type ActionVerdict,
  type EntitySnapshot,
  type FleetAction,
  type FleetScenarioClass,
  type Incident,
  type IncidentAction,
  type IncidentStatus,
  type InjectRefusal,
  type InjectRequest,
  type Parked,
} from './fleet-types.js';

export * from './fleet-types.js';

/** Service names, so that the ones the starter catalog knows (checkout, search, …) come first. */
const SERVICE_NAMES = [
  'checkout',
  'search',
  'payments',
  'inventory',
  'batch',
  'shipping',
  'auth',
  'catalog',
  'recommendations',
  'notifications',
  'ledger',
  'media',
];

/** One class of the scheduled mix and its relative weight. */
export interface MixEntry {
  readonly class: FleetScenarioClass;
  readonly weight: number;
}

/** How the fleet is built and how scenarios come and go. Durations are milliseconds. */
export interface FleetModelOptions {
  readonly services: number;
  readonly podsPerService: number;
  readonly seed: number;
  /** The scheduled mix; empty (the default) means scenarios come only on demand. */
  readonly mix?: readonly MixEntry[];
  /** Mean time between scheduled injections (±25%, seeded); 0 (the default) turns the schedule off. */
  readonly scenarioEveryMs?: number;
  /** How long metrics take to get back to healthy once an incident is resolved or expires (20 s). */
  readonly recoveryMs?: number;
  /** How long an unfixed incident lasts before it expires (15 min). */
  readonly incidentTimeoutMs?: number;
  /** How long a noisy_healthy episode lasts (5 min). */
  readonly noisyDurationMs?: number;
  /**
   * Most incidents the schedule keeps active at once (3), those the loop will not act on by design
   * not counted (parked: absorbed, shadow, awaiting approval; noisy_healthy); on-demand ones are not limited.
   */
  readonly maxActiveIncidents?: number;
  /** The tick interval the first tick assumes for its event rates (1 s); later ticks use the real gap. */
  readonly tickMs?: number;
  /** Action log entries (and idempotency keys) kept; the oldest go first (100 000). */
  readonly maxLogEntries?: number;
  /** Incidents kept in `incidents()`; the oldest ended ones go first (10 000). */
  readonly maxIncidents?: number;
}

/** What one tick produces: samples and events to publish, and the incidents that began or ended. */
export interface TickOutput {
  readonly samples: MetricSample[];
  readonly events: OpsEvent[];
  readonly injected: Incident[];
  readonly ended: Incident[];
}

/**
 * What the schedule stays away from, as the loop's guards say (services/fleet/loop-feedback.ts):
 * whole entities (a remediation in flight), and per entity the actions whose rule would not act
 * now (a cooldown, an episode still firing); the value is the reason, for logs.
 */
export interface AvoidList {
  readonly entities: ReadonlyMap<string, string>;
  readonly actions: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

/** The result of an injection: the new incident, or why there is none. */
export type InjectResult =
  | { readonly ok: true; readonly incident: Incident }
  | { readonly ok: false; readonly refusal: InjectRefusal; readonly message: string };

interface IncidentRecord {
  readonly id: string;
  readonly class: FleetScenarioClass;
  readonly entity: EntityState;
  readonly source: Incident['source'];
  readonly startedAt: number;
  readonly detail: Record<string, string>;
  /** When the current phase began: the start, or the last OOM kill of a leak. */
  phaseStartedAt: number;
  status: IncidentStatus;
  endedAt: number | null;
  intensityAtEnd: number;
  sinceAtEnd: number;
  resolvedBy: Incident['resolvedBy'];
  readonly actions: IncidentAction[];
  parked: Parked | null;
}

const ACTIONS: ReadonlySet<string> = new Set(FLEET_ACTIONS);
const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/** The simulated fleet. Not thread-safe by design: one caller drives it (ticks, actions, injections). */
export class FleetModel {
  private readonly entityList: EntityState[] = [];
  private readonly byId = new Map<string, EntityState>();
  private readonly scheduler: Draws;
  private readonly opts: Required<FleetModelOptions>;
  /** The incident each entity has now (active, or recovering after its end). */
  private readonly current = new Map<string, IncidentRecord>();
  private readonly records: IncidentRecord[] = [];
  private readonly log: ActionLogEntry[] = [];
  private readonly keys = new Map<string, ActionLogEntry>();
  private incidentSeq = 0;
  private actionSeq = 0;
  private lastTickAt: number | undefined;
  private nextScenarioAt: number | undefined;
  private avoiding: AvoidList = { entities: new Map(), actions: new Map() };

  /** Throws a RangeError on a setting out of range. */
  constructor(options: FleetModelOptions) {
    this.opts = {
      mix: [],
      scenarioEveryMs: 0,
      recoveryMs: 20_000,
      incidentTimeoutMs: 15 * 60_000,
      noisyDurationMs: 5 * 60_000,
      maxActiveIncidents: 3,
      tickMs: 1000,
      maxLogEntries: 100_000,
      maxIncidents: 10_000,
      ...options,
    };
    const o = this.opts;
    const whole = (name: string, v: number, min: number) => {
      if (!Number.isInteger(v) || v < min)
        throw new RangeError(`${name} must be a whole number ≥ ${min}, got ${v}`);
    };
    whole('services', o.services, 1);
    whole('podsPerService', o.podsPerService, 1);
    whole('seed', o.seed, 0);
    whole('maxActiveIncidents', o.maxActiveIncidents, 1);
    whole('maxLogEntries', o.maxLogEntries, 1);
    whole('maxIncidents', o.maxIncidents, 1);
    for (const [name, v] of Object.entries({
      scenarioEveryMs: o.scenarioEveryMs,
      recoveryMs: o.recoveryMs,
      incidentTimeoutMs: o.incidentTimeoutMs,
      noisyDurationMs: o.noisyDurationMs,
      tickMs: o.tickMs,
    }))
      if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a duration ≥ 0 ms, got ${v}`);
    for (const m of o.mix)
      if (!FLEET_SCENARIO_CLASSES.includes(m.class) || !(m.weight > 0))
        throw new RangeError(`mix entry ${JSON.stringify(m)}: a known class with a weight > 0`);

    this.scheduler = Draws.of(o.seed, 0);
    let stream = 1;
    for (let s = 0; s < o.services; s++) {
      const service = SERVICE_NAMES[s] ?? `service-${s + 1}`;
      for (let p = 1; p <= o.podsPerService; p++) {
        const e = createEntity(o.seed, stream++, service, p, s);
        this.entityList.push(e);
        this.byId.set(e.id, e);
      }
    }
  }

  /** Every entity id, `<service>/pod-<k>`, in a fixed order. */
  get entityIds(): string[] {
    return this.entityList.map((e) => e.id);
  }

  /**
   * Advances the fleet to `nowMs` (epoch ms, not before the previous tick): ends incidents that
   * ran out, injects the next scheduled one when due, and returns one sample of every metric of
   * every entity at `nowMs`, with the events since the previous tick.
   */
  tick(nowMs: number): TickOutput {
    const now = Math.round(nowMs);
    if (this.lastTickAt !== undefined && now < this.lastTickAt)
      throw new RangeError(`tick at ${now} is before the previous tick at ${this.lastTickAt}`);
    const dtMs = this.lastTickAt === undefined ? this.opts.tickMs : now - this.lastTickAt;
    this.lastTickAt = now;

    const ended: Incident[] = [];
    for (const r of this.current.values()) {
      if (r.status !== 'active') continue;
      const noisy = SCENARIOS[r.class].lastsMs === 'noisy';
      const limit = noisy ? this.opts.noisyDurationMs : this.opts.incidentTimeoutMs;
      if (now - r.startedAt >= limit) {
        this.end(r, noisy ? 'ended' : 'expired', now);
        ended.push(snapshot(r, this.opts.recoveryMs));
      }
    }
    const injected = this.schedule(now);

    const samples: MetricSample[] = [];
    const events: OpsEvent[] = [];
    for (const e of this.entityList) {
      const texts: EventText[] = [];
      const values = this.valuesOf(e, now, dtMs, texts);
      texts.push(...backgroundEvents(e, dtMs));
      for (const p of e.pending) events.push({ entity: e.id, ...p });
      e.pending = [];
      for (const t of texts) events.push({ entity: e.id, ts: now, ...t });
      const metric = (name: string, value: number) =>
        samples.push({ entity: e.id, metric: name, value, ts: now });
      metric('cpu', round(clamp(values.cpu, 0, 100), 2));
      metric('mem', round(clamp(values.mem, 0, 100), 2));
      metric('latency', round(Math.max(1, values.latency), 1));
      metric('errors', round(Math.max(0, values.errors), 3));
      metric('disk', round(clamp(values.disk, 0, 100), 2));
      metric('restarts', e.restarts);
      metric('replicas', e.replicas);
      metric('upstream_errors', round(Math.max(0, values.upstream_errors), 3));
    }
    return { samples, events, injected, ended };
  }

  /**
   * Injects one scenario now; on an entity that already has an incident (even recovering) it is
   * refused. Without an entity, a free one where the loop would act is picked if there is one.
   */
  inject(request: InjectRequest, nowMs: number): InjectResult {
    if (!FLEET_SCENARIO_CLASSES.includes(request.class))
      throw new RangeError(`unknown scenario class ${JSON.stringify(request.class)}`);
    const now = Math.round(nowMs);
    let entity: EntityState | undefined;
    if (request.entity !== undefined) {
      entity = this.byId.get(request.entity);
      if (!entity) return { ok: false, refusal: 'unknown_entity', message: `no entity ${request.entity}` };
      if (this.incidentOf(entity.id, now))
        return { ok: false, refusal: 'entity_busy', message: `${entity.id} already has an incident` };
    } else {
      entity = this.pickFree(now, request.class);
      if (!entity) return { ok: false, refusal: 'no_free_entity', message: 'every entity has an incident' };
    }
    return {
      ok: true,
      incident: snapshot(this.start(request.class, entity, 'on_demand', now), this.opts.recoveryMs),
    };
  }

  /**
   * Receives one action, as the control API does: at most once per idempotency key, judged against
   * the entity's ground truth, logged whatever happens. The right action resolves the incident (its
   * metrics recover over `recoveryMs`); a wrong one only does what it does by itself.
   */
  applyAction(request: ActionRequest, nowMs: number): ActionOutcome {
    const at = Math.round(nowMs);
    const args = request.args ?? {};
    const base = {
      idempotencyKey: request.idempotencyKey,
      decisionId: request.decisionId ?? null,
      entity: request.entity,
      action: request.action,
      args,
      at,
    };
    const seen = this.keys.get(request.idempotencyKey);
    if (seen) {
      const entry = this.record({
        ...base,
        effective: false,
        incidentId: seen.incidentId,
        incidentClass: seen.incidentClass,
        verdict: 'duplicate',
        changed: {},
      });
      return { entry };
    }
    const e = this.byId.get(request.entity);
    const refusal = !e ? 'unknown_entity' : !ACTIONS.has(request.action) ? 'unknown_action' : undefined;
    if (!e || refusal) {
      const reason =
        refusal === 'unknown_entity'
          ? `no entity ${request.entity} in this fleet`
          : `unknown action ${JSON.stringify(request.action)} (known: ${FLEET_ACTIONS.join(', ')})`;
      const entry = this.record({
        ...base,
        effective: false,
        incidentId: null,
        incidentClass: null,
        verdict: 'refused',
        changed: {},
        reason,
      });
      return { entry, refusal: refusal ?? 'unknown_entity' };
    }
    const action = request.action as FleetAction;
    const incident = this.incidentOf(e.id, at);
    const verdict: ActionVerdict =
      action === 'page'
        ? 'escalation'
        : incident?.status === 'active' && SCENARIOS[incident.class].rightActions.length > 0
          ? SCENARIOS[incident.class].rightActions.includes(action)
            ? 'right'
            : 'wrong'
          : 'false_positive';
    const changed = applyEffects(e, action, args, at);
    if (verdict === 'right' && incident)
      this.end(incident, 'resolved_by_action', at, { action, idempotencyKey: request.idempotencyKey, at });
    const entry = this.record({
      ...base,
      effective: true,
      incidentId: incident?.id ?? null,
      incidentClass: incident?.class ?? null,
      verdict,
      changed,
    });
    this.keys.set(request.idempotencyKey, entry);
    if (this.keys.size > this.opts.maxLogEntries) this.keys.delete(this.keys.keys().next().value!);
    incident?.actions.push({ seq: entry.seq, action, idempotencyKey: request.idempotencyKey, at, verdict });
    return { entry };
  }

  /** Every action received, oldest first (at most `maxLogEntries`). */
  get actionLog(): readonly ActionLogEntry[] {
    return this.log;
  }

  /** The actions received after `seq`, oldest first. */
  actionsSince(seq: number): ActionLogEntry[] {
    return this.log.filter((a) => a.seq > seq);
  }

  /** The ground truth of every incident injected (at most `maxIncidents`), oldest first. */
  incidents(): Incident[] {
    return this.records.map((r) => snapshot(r, this.opts.recoveryMs));
  }

  /** How many incidents are active now. */
  activeIncidents(): number {
    let n = 0;
    for (const r of this.current.values()) if (r.status === 'active') n++;
    return n;
  }

  /**
   * How many active incidents hold a schedule slot: those the loop should act on and has not said
   * it will not (parked ones and noisy-but-healthy entities, which need no action, do not).
   */
  blockingIncidents(): number {
    let n = 0;
    for (const r of this.current.values())
      if (r.status === 'active' && r.parked === null && SCENARIOS[r.class].rightActions.length > 0) n++;
    return n;
  }

  /**
   * Marks the active incident of `entity` that began by `parked.at` as one the loop will not act
   * on by design, freeing its schedule slot (a later word replaces an earlier one). Returns the
   * incident, or undefined when the entity has none (a decision on a healthy entity).
   */
  park(entity: string, parked: Parked): Incident | undefined {
    const r = this.current.get(entity);
    if (!r || r.status !== 'active' || r.startedAt > parked.at) return undefined;
    r.parked = parked;
    return snapshot(r, this.opts.recoveryMs);
  }

  /** What the schedule avoids from now on (replaces the previous list). */
  avoid(list: AvoidList): void {
    this.avoiding = list;
  }

  /** Why the schedule would not put `cls` on `entity` now, or undefined when it may. */
  avoidedBecause(entity: string, cls: FleetScenarioClass): string | undefined {
    const whole = this.avoiding.entities.get(entity);
    if (whole !== undefined) return whole;
    const actions = this.avoiding.actions.get(entity);
    if (!actions) return undefined;
    for (const a of SCENARIOS[cls].rightActions) {
      const why = actions.get(a);
      if (why !== undefined) return why;
    }
    return undefined;
  }

  /** The state of every entity now, for views. */
  entities(): EntitySnapshot[] {
    return this.entityList.map((e) => ({
      entity: e.id,
      service: e.service,
      replicas: e.replicas,
      restarts: e.restarts,
      version: e.version,
      breakerOpen: e.breakerOpen,
      incidentId: this.current.get(e.id)?.id ?? null,
    }));
  }

  /** This tick's metric values of `e`: healthy, moved towards its incident's shape by the incident's strength. */
  private valuesOf(e: EntityState, now: number, dtMs: number, texts: EventText[]): HealthyLevels {
    const levels = healthyLevels(e, now);
    const healthy = withHealthyNoise(e, levels);
    const r = this.incidentOf(e.id, now);
    if (!r) return healthy;
    const spec = SCENARIOS[r.class];
    let since = r.status === 'active' ? now - r.phaseStartedAt : r.sinceAtEnd;
    if (r.status === 'active' && spec.oomAfterMs !== undefined && since >= spec.oomAfterMs) {
      // The OOM killer got there first: the container restarts and the leak starts over.
      r.phaseStartedAt = now;
      since = 0;
      e.restarts++;
      texts.push({ kind: 'k8s', message: 'OOMKilled' }, { kind: 'k8s', message: 'container restarted' });
      if (e.draws.chance(0.3)) texts.push({ kind: 'k8s', message: 'Back-off restarting failed container' });
    }
    const input: ShapeInput = {
      entity: e,
      levels,
      healthy,
      sinceMs: since,
      draws: e.draws,
      detail: r.detail,
    };
    const target = spec.target(input);
    const strength = this.intensity(r, now);
    const values = { ...healthy };
    for (const [key, value] of Object.entries(target) as Array<[keyof HealthyLevels, number]>)
      values[key] = healthy[key] + (value - healthy[key]) * strength;
    if (r.status === 'active') texts.push(...spec.events(input, dtMs));
    return values;
  }

  /** 0 (healthy) to 1 (full strength): up over the onset, down over the recovery once it ended. */
  private intensity(r: IncidentRecord, now: number): number {
    if (r.status !== 'active') {
      const recovery = this.opts.recoveryMs;
      return recovery === 0 ? 0 : r.intensityAtEnd * clamp(1 - (now - (r.endedAt ?? now)) / recovery, 0, 1);
    }
    const onset = SCENARIOS[r.class].onsetMs;
    return onset === 0 ? 1 : Math.min(1, (now - r.phaseStartedAt) / onset);
  }

  /** The entity's incident at `now`, forgetting one whose recovery is over. */
  private incidentOf(entity: string, now: number): IncidentRecord | undefined {
    const r = this.current.get(entity);
    if (r && r.status !== 'active' && now >= (r.endedAt ?? now) + this.opts.recoveryMs) {
      this.current.delete(entity);
      return undefined;
    }
    return r;
  }

  private end(
    r: IncidentRecord,
    status: IncidentStatus,
    now: number,
    by: Incident['resolvedBy'] = null,
  ): void {
    r.intensityAtEnd = this.intensity(r, now);
    r.sinceAtEnd = now - r.phaseStartedAt;
    r.status = status;
    r.endedAt = now;
    r.resolvedBy = by;
  }

  /** The scheduled injection due at `now`, if any: a class from the mix on a free entity. */
  private schedule(now: number): Incident[] {
    const every = this.opts.scenarioEveryMs;
    if (every === 0 || this.opts.mix.length === 0) return [];
    const jittered = () => Math.round(every * this.scheduler.uniform(0.75, 1.25));
    if (this.nextScenarioAt === undefined) {
      this.nextScenarioAt = now + jittered();
      return [];
    }
    if (now < this.nextScenarioAt) return [];
    this.nextScenarioAt = now + jittered();
    if (this.blockingIncidents() >= this.opts.maxActiveIncidents) return [];
    // The class drawn, else another of the mix the loop would act on somewhere free; else none
    // this time (an incident the loop would not decide on, its episode still firing, would sit there).
    const drawn = this.pickClass();
    for (const cls of [drawn, ...this.opts.mix.map((m) => m.class).filter((c) => c !== drawn)]) {
      const entity = this.pickWelcome(now, cls);
      if (entity) return [snapshot(this.start(cls, entity, 'schedule', now), this.opts.recoveryMs)];
    }
    return [];
  }

  /** A free entity the loop would act on for `cls` (not avoided), if any. */
  private pickWelcome(now: number, cls: FleetScenarioClass): EntityState | undefined {
    const welcome = this.entityList.filter(
      (e) => !this.incidentOf(e.id, now) && this.avoidedBecause(e.id, cls) === undefined,
    );
    return welcome.length === 0 ? undefined : this.scheduler.pick(welcome);
  }

  private pickClass(): FleetScenarioClass {
    const mix = this.opts.mix;
    let u = this.scheduler.random() * mix.reduce((sum, m) => sum + m.weight, 0);
    for (const m of mix) {
      u -= m.weight;
      if (u < 0) return m.class;
    }
    return mix[mix.length - 1]!.class;
  }

  /**
   * A free entity, for `cls` one the loop would act on if any (else, as asked on demand, a free one
   * all the same: the loop then says why it does not act).
   */
  private pickFree(now: number, cls?: FleetScenarioClass): EntityState | undefined {
    const free = this.entityList.filter((e) => !this.incidentOf(e.id, now));
    const welcome = cls ? free.filter((e) => this.avoidedBecause(e.id, cls) === undefined) : free;
    const from = welcome.length > 0 ? welcome : free;
    return from.length === 0 ? undefined : this.scheduler.pick(from);
  }

  private start(
    cls: FleetScenarioClass,
    e: EntityState,
    source: Incident['source'],
    now: number,
  ): IncidentRecord {
    const { events, detail } = SCENARIOS[cls].start(e, e.draws);
    for (const t of events) e.pending.push({ ts: now, ...t });
    const r: IncidentRecord = {
      id: `inc-${++this.incidentSeq}`,
      class: cls,
      entity: e,
      source,
      startedAt: now,
      detail,
      phaseStartedAt: now,
      status: 'active',
      endedAt: null,
      intensityAtEnd: 0,
      sinceAtEnd: 0,
      resolvedBy: null,
      actions: [],
      parked: null,
    };
    this.current.set(e.id, r);
    this.records.push(r);
    if (this.records.length > this.opts.maxIncidents) {
      const i = this.records.findIndex((old) => old.status !== 'active');
      this.records.splice(i === -1 ? 0 : i, 1);
    }
    return r;
  }

  private record(entry: Omit<ActionLogEntry, 'seq'>): ActionLogEntry {
    const full: ActionLogEntry = { seq: ++this.actionSeq, ...entry };
    this.log.push(full);
    if (this.log.length > this.opts.maxLogEntries) this.log.shift();
    return full;
  }
}

/** The public ground truth of a record, copied so callers cannot change the model. */
function snapshot(r: IncidentRecord, recoveryMs: number): Incident {
  return {
    id: r.id,
    class: r.class,
    entity: r.entity.id,
    service: r.entity.service,
    source: r.source,
    startedAt: r.startedAt,
    rightActions: [...SCENARIOS[r.class].rightActions],
    status: r.status,
    endedAt: r.endedAt,
    recoveredAt: r.endedAt === null ? null : r.endedAt + recoveryMs,
    resolvedBy: r.resolvedBy,
    actions: r.actions.map((a) => ({ ...a })),
    parked: r.parked,
  };
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
