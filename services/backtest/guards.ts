import type { Config } from '../common/config.js';
import { parseDuration } from '../common/duration.js';
import { ActionBudgetState, EntityGuardState, type Outgoing } from '../../workflows/guard-state.js';
import type { BudgetLimits } from '../../workflows/definitions.js';
import type { BacktestDecision } from './backtest.js';

/** What the guards would have made of the decisions, counted. */
export interface GuardReplay {
  /** Shadow decisions: nothing starts, no guard is asked. */
  readonly shadow: number;
  /** Enforced decisions that would have acted (granted by both guards, at once or after waiting). */
  readonly acted: number;
  /** Denied by the entity guard: another remediation of the entity in flight. */
  readonly inFlight: number;
  /** Denied by the entity guard: the rule cooling down on the entity after it acted. */
  readonly coolingDown: number;
  /** Waited for the fleet's action budget (blast radius) before acting. */
  readonly deferred: number;
  /** Denied by the budget (its queue full), or still waiting when the recording ended. */
  readonly deniedByBudget: number;
}

/** The budget limits of the act worker's configuration. */
export function budgetLimitsOf(
  config: Pick<
    Config,
    | 'maxConcurrentPerAction'
    | 'maxConcurrentPerRule'
    | 'maxActionsPerPeriod'
    | 'actionsPeriod'
    | 'maxDeferred'
  >,
): BudgetLimits {
  return {
    maxConcurrentPerAction: config.maxConcurrentPerAction,
    maxConcurrentPerRule: config.maxConcurrentPerRule,
    maxActionsPerPeriod: config.maxActionsPerPeriod,
    periodMs: config.actionsPeriod,
    maxDeferred: config.maxDeferred,
  };
}

/**
 * Passes enforced decisions, in time order, through the guards' own pure state on event time
 * (workflows/guard-state.ts): the entity guard (one remediation in flight per entity, then the
 * rule's cooldown) and the fleet's action budget. The backtest has no act or verify step, so a
 * remediation is assumed to act at once and to hold its lease for its verify's `within` (the
 * longest verify waits), then to end having acted: an upper bound on what the guards absorb.
 */
export function replayGuards(decisions: readonly BacktestDecision[], limits: BudgetLimits): GuardReplay {
  const entities = new Map<string, EntityGuardState>();
  const budget = new ActionBudgetState({ limits });
  const waiting = new Map<string, BacktestDecision>();
  /** Leases to end, by time: [endsAt, decision]. Kept sorted (few at a time). */
  let ends: Array<[number, BacktestDecision]> = [];
  const counts = { shadow: 0, acted: 0, inFlight: 0, coolingDown: 0, deferred: 0, deniedByBudget: 0 };
  const guardOf = (entity: string) => {
    let g = entities.get(entity);
    if (!g) entities.set(entity, (g = new EntityGuardState()));
    return g;
  };
  const holdOf = (d: BacktestDecision) => parseDuration(d.verify.within) ?? 0;
  const act = (d: BacktestDecision, at: number) => {
    counts.acted++;
    ends.push([at + holdOf(d), d]);
    ends.sort((a, b) => a[0] - b[0]);
  };
  const answer = (out: readonly Outgoing[], at: number) => {
    for (const o of out) {
      const d = waiting.get(o.holder);
      if (!d) continue;
      if (o.answer.result === 'granted') {
        waiting.delete(o.holder);
        act(d, at);
      } else if (o.answer.result === 'denied') {
        waiting.delete(o.holder);
        counts.deniedByBudget++;
        guardOf(d.entity).release({ holder: d.decisionId, endedAt: at, acted: false });
      }
    }
  };
  const endUntil = (t: number) => {
    while (ends.length > 0 && (ends[0] as [number, BacktestDecision])[0] <= t) {
      const [at, d] = ends.shift() as [number, BacktestDecision];
      guardOf(d.entity).release({ holder: d.decisionId, endedAt: at, acted: true });
      answer(budget.release(d.decisionId, at), at);
    }
  };
  for (const d of decisions) {
    if (d.mode === 'shadow') {
      counts.shadow++;
      continue;
    }
    endUntil(d.ts);
    const req = {
      holder: d.decisionId,
      entity: d.entity,
      rule: d.rule,
      action: d.action,
      cooldownMs: parseDuration(d.cooldown) ?? 0,
    };
    const lease = guardOf(d.entity).request(req, d.ts);
    if (lease.result !== 'granted') {
      if (lease.reason.includes('cooling down')) counts.coolingDown++;
      else counts.inFlight++;
      continue;
    }
    waiting.set(d.decisionId, d);
    const out = budget.request(req, limits, d.ts);
    if (out.some((o) => o.holder === d.decisionId && o.answer.result === 'deferred')) counts.deferred++;
    answer(out, d.ts);
  }
  endUntil(Infinity);
  counts.deniedByBudget += waiting.size;
  ends = [];
  return counts;
}
