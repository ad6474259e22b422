import type { Observation } from './contracts.js';

/**
 * The facts rules and verify conditions see for one observation: every window feature by its
 * name (`cpu.avg`, …), the entity, recent events, and context (`maintenance`).
 */
export function factsFor(obs: Observation): Record<string, unknown> {
  // Features first: a feature named like a context fact (a hand-made observation) cannot override it.
  return {
    ...obs.features,
    entity: obs.entity,
    events: obs.events,
    maintenance: false,
  };
}
