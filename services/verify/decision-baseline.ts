import { anomalyScore } from '../common/facts-reference.js';

const BASELINE_FACT = /^([a-z][a-z0-9_]*)\.(baseline|deviation|anomaly|spread)$/;

/** Where a metric's baseline facts come from during one verification (the evidence says it). */
export type BaselineSource =
  /** The decision-time baseline and spread; deviation and anomaly recomputed from `<metric>.last`. */
  | 'decision'
  /** As `decision`, the spread derived from the decision-time deviation (a decision from before `spread`). */
  | 'decision-derived'
  /** None at decision time (warming up, or baselines off): unknown for the whole verification. */
  | 'none'
  /** The observations' own facts: a workflow from before this existed, or a spread that cannot be derived. */
  | 'live';

/** One metric's baseline as the verification uses it. */
export interface MetricBaseline {
  readonly source: BaselineSource;
  readonly baseline?: number;
  readonly spread?: number;
}

/**
 * Verification against the pre-incident normal. The baseline facts a verify condition reads
 * (`<metric>.baseline|deviation|anomaly|spread`) are those of the decision, not those sense has
 * learned since: a baseline still learning, or one that adapts to an incident longer than
 * AUTOGLM_BASELINE_ADAPT_AFTER, learns the incident as the entity's normal, and would then
 * "verify" an action that changed nothing. So each post-action observation gets
 * `deviation = (<metric>.last - baseline) / spread` with the decision-time `baseline` and `spread`,
 * as sense computes it (the deviation of the newest sample), and `anomaly` from it with sense's
 * formula. A metric with no baseline at decision time has no baseline facts for the whole
 * verification (unknown, never the newly learned ones).
 *
 * Why this and not freezing sense's baselines during a remediation: sense would need to know
 * which remediations are in flight (a new input to a partitioned, replayable step), and a frozen
 * state would still have to be unfrozen, retried and replayed consistently; here the decision
 * already carries the baseline in the workflow input, verify needs nothing else, and replaying a
 * verification gives the same facts.
 */
export class DecisionBaseline {
  /** Per metric whose baseline facts the verification reads. */
  readonly metrics: ReadonlyMap<string, MetricBaseline>;

  /**
   * `reads`: the facts the verify condition and comparisons read. `decisionFacts`: the decision's
   * `<metric>.baseline|spread|deviation|last` facts, undefined for a workflow from before they
   * were passed (the observations' own facts are used then, as before).
   */
  constructor(
    reads: Iterable<string>,
    decisionFacts: Readonly<Record<string, number>> | undefined,
    private readonly anomalyDeviation: number,
  ) {
    const metrics = new Map<string, MetricBaseline>();
    for (const fact of reads) {
      const metric = BASELINE_FACT.exec(fact)?.[1];
      if (metric === undefined || metrics.has(metric)) continue;
      metrics.set(metric, decisionFacts === undefined ? { source: 'live' } : of(metric, decisionFacts));
    }
    this.metrics = metrics;
  }

  /** Replaces the baseline facts in `facts` (an observation's) with the decision-time ones; in place. */
  apply(facts: Record<string, unknown>): void {
    for (const [metric, m] of this.metrics) {
      if (m.source === 'live') continue;
      const deviation = `${metric}.deviation`;
      const anomaly = `${metric}.anomaly`;
      facts[`${metric}.baseline`] = m.baseline;
      facts[`${metric}.spread`] = m.spread;
      const last = facts[`${metric}.last`];
      if (m.source === 'none' || typeof last !== 'number' || !Number.isFinite(last)) {
        facts[deviation] = undefined;
        facts[anomaly] = undefined;
        continue;
      }
      const z = (last - m.baseline!) / m.spread!;
      facts[deviation] = z;
      facts[anomaly] = anomalyScore(z, this.anomalyDeviation);
    }
  }

  /** For the evidence: each metric's source, baseline and spread. */
  describe(): Record<string, MetricBaseline> {
    return Object.fromEntries(this.metrics);
  }
}

/** The decision-time baseline of `metric` from the decision's facts. */
function of(metric: string, facts: Readonly<Record<string, number>>): MetricBaseline {
  const num = (stat: string) => {
    const v = facts[`${metric}.${stat}`];
    return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  };
  const baseline = num('baseline');
  if (baseline === undefined) return { source: 'none' };
  const spread = num('spread');
  if (spread !== undefined && spread > 0) return { source: 'decision', baseline, spread };
  // Before `spread` existed: deviation = (last - baseline) / spread gives it back, where the
  // deviation is large enough for its float32 rounding not to matter.
  const deviation = num('deviation');
  const last = num('last');
  if (deviation !== undefined && last !== undefined && Math.abs(deviation) >= 1) {
    const derived = (last - baseline) / deviation;
    if (derived > 0 && Number.isFinite(derived))
      return { source: 'decision-derived', baseline, spread: derived };
  }
  return { source: 'live' };
}
