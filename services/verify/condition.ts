import { Engine } from 'json-rules-engine';
import type { Observation } from '../common/contracts.js';
import { factsFor } from '../common/facts.js';

/** A rule's `verify.conditions`, evaluated by json-rules-engine on one observation at a time. */
export class VerifyCondition {
  private readonly engine: Engine;

  constructor(conditions: Record<string, unknown>) {
    this.engine = new Engine([], { allowUndefinedFacts: true });
    this.engine.addRule({ name: 'verify', conditions: conditions as never, event: { type: 'verified' } });
  }

  /** True when the condition holds on `obs`; a missing feature makes it false. */
  async holds(obs: Observation): Promise<boolean> {
    const { events } = await this.engine.run(factsFor(obs));
    return events.length > 0;
  }
}
