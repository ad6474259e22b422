import type { Observation } from './contracts.js';

/**
 * The facts rules and verify conditions see for one observation: every window feature by its
 * name (`cpu.avg`, …), the entity, recent events, and context (`maintenance`).
 */
export function factsFor(obs: Observation): Record<string, unknown> {
  return {
    entity: obs.entity,
    ...obs.features,
    events: obs.events,
    maintenance: false,
  };
}
