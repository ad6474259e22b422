import type { Observation, RelativeCheck } from '../common/contracts.js';
import { factsFor } from '../common/facts.js';
import { CompiledRules } from '../decide/compiled-rules.js';

/** One comparison with a decision-time value, as evaluated on one observation (the evidence). */
export interface RelativeResult {
  readonly fact: string;
  readonly decisionValue: number | null;
  readonly value: number | null;
  readonly limit: number | null;
  readonly holds: boolean;
}

/**
 * A rule's `verify.conditions` on one observation at a time, with the decide step's evaluator
 * (compiled predicates, json-rules-engine as the authority and fallback; not one shared
 * json-rules-engine Engine, which evaluates nothing on the run after a rejected one), and its
 * `relativeTo` comparisons with the values at decision time. A missing value on either side
 * proves nothing: the comparison is false.
 */
export class VerifyCondition {
  private readonly rules: CompiledRules;

  constructor(
    conditions: Record<string, unknown>,
    private readonly relativeTo: readonly RelativeCheck[] = [],
    private readonly decisionFacts: Readonly<Record<string, unknown>> = {},
  ) {
    this.rules = new CompiledRules([{ name: 'verify', priority: 1, conditions }]);
  }

  /** True when the condition and every comparison hold on `obs`; an evaluation error throws. */
  async holds(obs: Observation): Promise<boolean> {
    const result = await this.rules.evaluate(factsFor(obs));
    if (result.errors.length > 0) throw result.errors[0]!.error;
    return result.matched.length > 0 && this.compare(obs).every((r) => r.holds);
  }

  /** Each comparison with its decision-time value on `obs`. */
  compare(obs: Observation): RelativeResult[] {
    return this.relativeTo.map((c) => {
      const then = this.decisionFacts[c.fact];
      const now = obs.features[c.fact];
      const decisionValue = typeof then === 'number' && Number.isFinite(then) ? then : null;
      const value = typeof now === 'number' && Number.isFinite(now) ? now : null;
      const limit = decisionValue === null ? null : decisionValue * (c.atMost ?? c.atLeast!);
      const holds =
        value !== null && limit !== null && (c.atMost !== undefined ? value <= limit : value >= limit);
      return { fact: c.fact, decisionValue, value, limit, holds };
    });
  }
}
