import type { Observation, RelativeCheck } from '../common/contracts.js';
import { factsFor } from '../common/facts.js';
import { DecisionBaseline } from './decision-baseline.js';
import { and, TriStateCondition, type Truth } from './tri-state.js';

/** One comparison with a decision-time value, as evaluated on one observation (the evidence). */
export interface RelativeResult {
  readonly fact: string;
  readonly decisionValue: number | null;
  readonly value: number | null;
  readonly limit: number | null;
  /** `unknown` when either value is missing: it proves nothing either way. */
  readonly holds: Truth;
}

/** What one observation says: whether the condition held, and the facts that were not known. */
export interface Check {
  readonly holds: Truth;
  /** The facts whose absence made `holds` unknown (empty when it is known). */
  readonly unknown: readonly string[];
}

/** How a verification measures: the decision-time values and baseline, and sense's anomaly setting. */
export interface VerifyConditionOptions {
  /** The decision-time values of the facts `relativeTo` compares with. */
  readonly decisionValues?: Readonly<Record<string, unknown>>;
  /**
   * The decision's `<metric>.baseline|spread|deviation|last` facts of the metrics whose baseline the
   * condition reads; undefined (a workflow from before them) uses the observations' own baseline facts.
   */
  readonly decisionBaseline?: Readonly<Record<string, number>>;
  /** AUTOGLM_BASELINE_ANOMALY_DEVIATION, for `<metric>.anomaly` against the decision-time baseline. */
  readonly anomalyDeviation?: number;
}

/**
 * A rule's `verify.conditions` on one observation at a time, in three-valued logic (tri-state.ts:
 * a fact that is not known makes a condition that needs it unknown, not false), with the baseline
 * facts measured against the decision-time baseline (decision-baseline.ts), and its `relativeTo`
 * comparisons with the values at decision time.
 */
export class VerifyCondition {
  private readonly condition: TriStateCondition;
  private readonly decisionValues: Readonly<Record<string, unknown>>;
  /** The baseline each metric's baseline facts are measured against. */
  readonly baseline: DecisionBaseline;

  constructor(
    conditions: Record<string, unknown>,
    private readonly relativeTo: readonly RelativeCheck[] = [],
    opts: VerifyConditionOptions = {},
  ) {
    this.condition = new TriStateCondition(conditions);
    this.decisionValues = opts.decisionValues ?? {};
    this.baseline = new DecisionBaseline(
      [...this.condition.facts, ...relativeTo.map((c) => c.fact)],
      opts.decisionBaseline,
      opts.anomalyDeviation ?? 4.5,
    );
  }

  /** Whether the condition and every comparison hold on `obs` (Kleene's and); an evaluation error throws. */
  async check(obs: Observation): Promise<Check> {
    const facts = factsFor(obs);
    this.baseline.apply(facts);
    const result = await this.condition.evaluate(facts);
    let holds = result.value;
    const unknown = new Set(result.unknown);
    for (const r of this.compare(obs, facts)) {
      holds = and(holds, r.holds);
      if (r.holds === 'unknown') unknown.add(r.fact);
    }
    return { holds, unknown: holds === 'unknown' ? [...unknown] : [] };
  }

  /** Each comparison with its decision-time value on `obs`. */
  compare(obs: Observation, facts: Readonly<Record<string, unknown>> = this.factsOf(obs)): RelativeResult[] {
    return this.relativeTo.map((c) => {
      const then = this.decisionValues[c.fact];
      const now = facts[c.fact];
      const decisionValue = typeof then === 'number' && Number.isFinite(then) ? then : null;
      const value = typeof now === 'number' && Number.isFinite(now) ? now : null;
      const limit = decisionValue === null ? null : decisionValue * (c.atMost ?? c.atLeast!);
      const holds =
        value === null || limit === null
          ? 'unknown'
          : c.atMost !== undefined
            ? value <= limit
            : value >= limit;
      return { fact: c.fact, decisionValue, value, limit, holds };
    });
  }

  private factsOf(obs: Observation): Record<string, unknown> {
    const facts = factsFor(obs);
    this.baseline.apply(facts);
    return facts;
  }
}
