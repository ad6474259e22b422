import type { BacktestDecision } from './backtest.js';

/** What a candidate rule set decides differently from a baseline on the same recording. */
export interface DecisionDiff {
  /** Decisions only the candidate makes. */
  readonly gained: BacktestDecision[];
  /** Decisions only the baseline makes. */
  readonly lost: BacktestDecision[];
  /** Decisions both make (same entity, rule and window). */
  readonly same: number;
}

const keyOf = (d: BacktestDecision) =>
  `${d.entity}\u0000${d.rule}\u0000${d.window.start}\u0000${d.window.end}`;

/**
 * Compares two replays' decisions by entity, rule and window (what a decision's id is made of, and
 * what stays the same when only the rule's version changes), in time order.
 */
export function diffDecisions(
  baseline: readonly BacktestDecision[],
  candidate: readonly BacktestDecision[],
): DecisionDiff {
  const before = new Set(baseline.map(keyOf));
  const after = new Set(candidate.map(keyOf));
  const gained = candidate.filter((d) => !before.has(keyOf(d)));
  const lost = baseline.filter((d) => !after.has(keyOf(d)));
  return { gained, lost, same: candidate.length - gained.length };
}
