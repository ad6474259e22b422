/**
 * The words of the fleet simulator, shared by its pure model, its control API and its wiring:
 * scenario classes, action names, the metrics it emits, and the ground-truth records (incidents and
 * the action log) that tests and benchmarks score the loop against.
 */

/** The incident scenarios the simulator can inject; `noisy_healthy` is the one that needs no action. */
export const FLEET_SCENARIO_CLASSES = [
  'cpu_saturation',
  'memory_leak',
  'bad_deploy',
  'disk_pressure',
  'dependency_outage',
  'noisy_healthy',
] as const;
export type FleetScenarioClass = (typeof FLEET_SCENARIO_CLASSES)[number];

/** The actions the simulated fleet understands: the starter rules' actions, compensations and escalations. */
export const FLEET_ACTIONS = [
  'scale_out',
  'scale_in',
  'restart',
  'rollback',
  'roll_forward',
  'clean_disk',
  'expand_volume',
  'open_circuit_breaker',
  'close_circuit_breaker',
  'page',
] as const;
export type FleetAction = (typeof FLEET_ACTIONS)[number];

/** What each entity emits every tick, in the units of the starter rules. */
export const FLEET_METRICS = [
  'cpu',
  'mem',
  'latency',
  'errors',
  'disk',
  'restarts',
  'replicas',
  'upstream_errors',
] as const;
export type FleetMetric = (typeof FLEET_METRICS)[number];

/**
 * Where an incident stands: `active` until the right action (`resolved_by_action`), or until it
 * times out unfixed (`expired`); a `noisy_healthy` episode that runs its course is `ended`.
 */
export type IncidentStatus = 'active' | 'resolved_by_action' | 'expired' | 'ended';

/**
 * How an action received is judged against the entity's ground truth:
 * - `right`: one of the active incident's right actions (it resolves the incident);
 * - `wrong`: any other remediation while a real incident is active;
 * - `false_positive`: a remediation where there was nothing to fix (healthy, noisy_healthy, or
 *   an incident already resolved and still recovering);
 * - `duplicate`: an idempotency key seen before; nothing was done again;
 * - `escalation`: `page`, which tells a human and changes nothing;
 * - `refused`: an unknown entity or action; nothing was done and the key is not used up.
 */
export type ActionVerdict = 'right' | 'wrong' | 'false_positive' | 'duplicate' | 'escalation' | 'refused';

/** One action an incident received, in the order received. */
export interface IncidentAction {
  readonly seq: number;
  readonly action: string;
  readonly idempotencyKey: string;
  readonly at: number;
  readonly verdict: ActionVerdict;
}

/** The ground truth of one injected scenario. Times are epoch milliseconds of the model's clock. */
export interface Incident {
  /** `inc-<n>`, in injection order. */
  readonly id: string;
  readonly class: FleetScenarioClass;
  readonly entity: string;
  readonly service: string;
  /** `schedule` (the seeded mix) or `on_demand` (`inject`, `POST /scenarios`). */
  readonly source: 'schedule' | 'on_demand';
  readonly startedAt: number;
  /** The actions that fix it; empty for `noisy_healthy` (any action on it is a false positive). */
  readonly rightActions: readonly FleetAction[];
  readonly status: IncidentStatus;
  /** When the status left `active`; null while active. */
  readonly endedAt: number | null;
  /** When its metrics are back to the entity's healthy behaviour (endedAt + recovery); null while active. */
  readonly recoveredAt: number | null;
  /** The action that resolved it, when one did. */
  readonly resolvedBy: {
    readonly action: string;
    readonly idempotencyKey: string;
    readonly at: number;
  } | null;
  /** Every effective action received for the entity while this incident was active or recovering. */
  readonly actions: readonly IncidentAction[];
  /** Set once the loop said it will not act on it by design (absorbed, shadow, awaiting approval). */
  readonly parked?: Parked | null;
}

/** Why the loop will not act on an incident, by design: it does not hold a schedule slot. */
export const PARKED_KINDS = ['absorbed', 'shadow', 'awaiting_approval'] as const;
export type ParkedKind = (typeof PARKED_KINDS)[number];

/**
 * What the loop said about an incident it will not act on: the rule, the remediation's workflow id
 * (to approve it), and for a cooldown the time it ends; `why` is the loop's own words.
 */
export interface Parked {
  readonly kind: ParkedKind;
  readonly rule: string;
  readonly workflowId?: string;
  /** Epoch ms the cooldown that absorbed it ends, when the guard said so. */
  readonly until?: number;
  readonly why: string;
  readonly at: number;
}

/** A change an action made to an entity's state, e.g. `replicas: {from: 2, to: 3}`. */
export type StateChanges = Readonly<Record<string, { readonly from: unknown; readonly to: unknown }>>;

/** One entry of the action log: every action received, duplicates and refusals included. */
export interface ActionLogEntry {
  /** 1, 2, 3, … in the order received; `GET /actions?since=<seq>` pages on it. */
  readonly seq: number;
  readonly idempotencyKey: string;
  readonly decisionId: string | null;
  readonly entity: string;
  readonly action: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly at: number;
  /** True the first time a key is acted on; false for duplicates and refusals. */
  readonly effective: boolean;
  /** The incident the action was judged against (for a duplicate: the original's), or null. */
  readonly incidentId: string | null;
  readonly incidentClass: FleetScenarioClass | null;
  readonly verdict: ActionVerdict;
  readonly changed: StateChanges;
  /** Why a refused action was refused. */
  readonly reason?: string;
}

/** An action as the http actuator sends it (its JSON body plus the Idempotency-Key header). */
export interface ActionRequest {
  readonly action: string;
  readonly entity: string;
  readonly idempotencyKey: string;
  readonly args?: Readonly<Record<string, unknown>>;
  readonly decisionId?: string;
}

/** What `applyAction` did: the log entry it wrote, with its verdict and changes. */
export interface ActionOutcome {
  readonly entry: ActionLogEntry;
  /** Set when the action was refused: the entity or the action is unknown. */
  readonly refusal?: 'unknown_entity' | 'unknown_action';
}

/** A request to inject one scenario now; without `entity`, a free entity is picked. */
export interface InjectRequest {
  readonly class: FleetScenarioClass;
  readonly entity?: string;
}

/** Why an injection could not be made. */
export type InjectRefusal = 'unknown_entity' | 'entity_busy' | 'no_free_entity';

/** The current state of one simulated entity, for `GET /fleet` and views. */
export interface EntitySnapshot {
  readonly entity: string;
  readonly service: string;
  readonly replicas: number;
  readonly restarts: number;
  readonly version: string;
  readonly breakerOpen: boolean;
  /** The incident it has (active or recovering), or null. */
  readonly incidentId: string | null;
}
