import type { IncidentFact } from '../classifier/model-types.js';
import type { Observation } from './contracts.js';
import { type ContextFacts, NO_CONTEXT_FACTS } from './context/context-files.js';

/**
 * The facts rules and verify conditions see for one observation: every window feature by its
 * name (`cpu.avg`, …), the entity, recent events and their kinds, how long ago it was last
 * deployed, and the entity's context facts
 * (service, owner, tier, labels, dependencies, maintenance) from the catalog and the windows, and
 * the classifier's incident (null when decide runs rules-only).
 */
export function factsFor(
  obs: Observation,
  context: ContextFacts = NO_CONTEXT_FACTS,
  incident: IncidentFact | null = null,
): Record<string, unknown> {
  // Features first: a feature named like a context fact (a hand-made observation) cannot override it.
  // Assigned one by one: `{...features, entity, …}` is two orders of magnitude slower in V8 here.
  const facts: Record<string, unknown> = Object.assign({}, obs.features);
  facts.entity = obs.entity;
  facts.events = obs.events;
  facts.eventKinds = kindsOf(obs.events);
  facts['deploy.ageSeconds'] = deployAgeSeconds(obs);
  const alerts = obs.alerts ?? [];
  facts.alerts = alerts;
  facts['alerts.firing'] = alerts.length;
  facts['alerts.names'] = alertNames(alerts);
  facts['alerts.severities'] = alertSeverities(alerts);
  facts.maintenance = context.maintenance;
  facts.maintenanceWindow = context.maintenanceWindow;
  facts.service = context.service;
  facts.owner = context.owner;
  facts.tier = context.tier;
  facts.labels = context.labels;
  facts.dependencies = context.dependencies;
  // The classifier's answer, whole and as two flat facts rules compare without a JSONPath.
  facts.incident = incident;
  facts['incident.class'] = incident?.class ?? null;
  facts['incident.confidence'] = incident?.confidence ?? null;
  return facts;
}

/** The distinct kinds of `events`, in the order they first appear. */
function kindsOf(events: Observation['events']): string[] {
  const kinds: string[] = [];
  for (const e of events) if (!kinds.includes(e.kind)) kinds.push(e.kind);
  return kinds;
}

/**
 * Seconds from the entity's newest known deploy to the observation's window end (the deploy may
 * have left the window: sense keeps its time per entity); null when no deploy is known.
 */
function deployAgeSeconds(obs: Observation): number | null {
  return obs.lastDeploy === undefined ? null : (obs.window.end - obs.lastDeploy) / 1000;
}

/** The distinct names of the alerts firing, longest-firing first. */
function alertNames(alerts: NonNullable<Observation['alerts']>): string[] {
  return [...new Set(alerts.map((a) => a.name))];
}

/** The distinct severities of the alerts firing (those with one). */
function alertSeverities(alerts: NonNullable<Observation['alerts']>): string[] {
  return [...new Set(alerts.flatMap((a) => (a.severity === null ? [] : [a.severity])))];
}

/** Reads one fact of an observation as `factsFor` would hold it. */
export type FactReader = (obs: Observation, context: ContextFacts, incident: IncidentFact | null) => unknown;

const enumerable = Object.prototype.propertyIsEnumerable;
/** The kinds of no events (NAMED_READERS' eventKinds). */
const NO_KINDS: string[] = Object.freeze([]) as unknown as string[];

/** Readers of the facts factsFor sets after the features (so a feature of the same name never shows). */
const NAMED_READERS: Readonly<Record<string, FactReader>> = {
  entity: (o) => o.entity,
  events: (o) => o.events,
  // Most observations carry no event: one shared empty list, never written, rather than a new one each.
  eventKinds: (o) => (o.events.length === 0 ? NO_KINDS : kindsOf(o.events)),
  'deploy.ageSeconds': deployAgeSeconds,
  alerts: (o) => o.alerts ?? [],
  'alerts.firing': (o) => o.alerts?.length ?? 0,
  'alerts.names': (o) => alertNames(o.alerts ?? []),
  'alerts.severities': (o) => alertSeverities(o.alerts ?? []),
  maintenance: (_, c) => c.maintenance,
  maintenanceWindow: (_, c) => c.maintenanceWindow,
  service: (_, c) => c.service,
  owner: (_, c) => c.owner,
  tier: (_, c) => c.tier,
  labels: (_, c) => c.labels,
  dependencies: (_, c) => c.dependencies,
  incident: (_, __, i) => i,
  'incident.class': (_, __, i) => i?.class ?? null,
  'incident.confidence': (_, __, i) => i?.confidence ?? null,
};

/** Whether fact `name` is read from the observation's features (no fact factsFor sets after them has that name). */
export function isFeatureFact(name: string): boolean {
  return !Object.hasOwn(NAMED_READERS, name);
}

/**
 * The reader of the value `factsFor(obs, context, incident)` holds under `name`, made once per
 * name, so that a backtest reads only the facts its rules name without building the object.
 * Exact for an observation whose features are plain (see `plainFeatures`).
 */
export function factReader(name: string): FactReader {
  if (Object.hasOwn(NAMED_READERS, name)) return NAMED_READERS[name]!;
  // A number is the features' own (enumerable) value: Object.prototype holds no numbers.
  return (obs) => {
    const value = obs.features[name];
    if (typeof value === 'number' || value === undefined) return value;
    return enumerable.call(obs.features, name) ? value : undefined;
  };
}

/** The value `factsFor(obs, context, incident)` holds under `name` (see `factReader`). */
export function factOf(
  name: string,
  obs: Observation,
  context: ContextFacts = NO_CONTEXT_FACTS,
  incident: IncidentFact | null = null,
): unknown {
  return factReader(name)(obs, context, incident);
}

/**
 * Whether `obs.features` is what `factReader` assumes: an object literal (its values are numbers,
 * as the observation's schema has them, in enumerable properties as sense writes them and JSON
 * reads them) with no feature named "" (engine.run refuses that fact) nor `__proto__`
 * (Object.assign would set the copy's prototype).
 */
export function plainFeatures(obs: Observation): boolean {
  const features = obs.features;
  return (
    Object.getPrototypeOf(features) === Object.prototype &&
    !Object.hasOwn(features, '') &&
    !Object.hasOwn(features, '__proto__')
  );
}
