import { Engine } from 'json-rules-engine';
import type { Decision, FollowUp, Observation } from '../common/contracts.js';
import { parseDuration } from '../common/duration.js';
import { factsFor } from '../common/facts.js';
import { CooldownGate } from './cooldown.js';
import { decisionIdFor } from './decision-id.js';
import type { LoadedRule } from './rule-file.js';
import { expandTemplate } from './template.js';

/** A rule that matched but was held back, and why. */
export interface Suppressed {
  readonly rule: string;
  readonly entity: string;
  readonly reason: 'cooldown';
}

/**
 * The decide step's pure core: evaluates the rules on one observation with json-rules-engine and
 * turns each rule that fires into a decision with a deterministic id. Undefined facts (a metric
 * the entity does not report) make a condition false instead of failing the run.
 */
export class Decider {
  private readonly engine: Engine;
  private readonly byName: Map<string, LoadedRule>;
  private readonly cooldowns = new CooldownGate();

  /** `maxDecisionAgeMs`: a window that ended longer ago than this (wall clock) gives a stale decision. */
  constructor(
    rules: readonly LoadedRule[],
    private readonly opts: { maxDecisionAgeMs: number } = { maxDecisionAgeMs: 3 * 60_000 },
  ) {
    this.engine = new Engine([], { allowUndefinedFacts: true });
    this.byName = new Map(rules.map((r) => [r.name, r]));
    for (const r of rules) {
      this.engine.addRule({
        name: r.name,
        priority: r.priority,
        conditions: r.conditions as never,
        event: { type: 'remediate' },
      });
    }
  }

  /**
   * Decisions for one observation, highest rule priority first, and the matches held back. A
   * decision on a window that ended more than the allowed age before `nowMs` is marked stale.
   */
  async decide(
    obs: Observation,
    nowMs: number,
  ): Promise<{ decisions: Decision[]; suppressed: Suppressed[] }> {
    const facts = factsFor(obs);
    const { results } = await this.engine.run(facts);
    const decisions: Decision[] = [];
    const suppressed: Suppressed[] = [];
    for (const result of results) {
      const rule = this.byName.get(result.name);
      if (!rule) continue;
      const decisionId = decisionIdFor(obs.entity, rule.name, obs.window);
      const cooldownMs = parseDuration(rule.params.cooldown) ?? 0;
      if (!this.cooldowns.admit(obs.entity, rule.name, decisionId, obs.window.end, cooldownMs)) {
        suppressed.push({ rule: rule.name, entity: obs.entity, reason: 'cooldown' });
        continue;
      }
      const { events, ...auditFacts } = facts;
      decisions.push({
        decisionId,
        entity: obs.entity,
        rule: rule.name,
        ruleVersion: rule.version,
        mode: rule.params.mode,
        action: rule.params.action,
        args: expandTemplate(rule.params.args, facts) as Record<string, unknown>,
        actuator: rule.params.actuator,
        cooldown: rule.params.cooldown,
        approval: rule.params.approval,
        verify: rule.params.verify,
        ...followUp('onVerifyFailure', rule.params.onVerifyFailure, facts),
        ...followUp('escalate', rule.params.escalate, facts),
        incident: null,
        facts: auditFacts,
        window: obs.window,
        stale: nowMs - obs.window.end > this.opts.maxDecisionAgeMs,
        ts: obs.window.end,
      });
    }
    return { decisions, suppressed };
  }
}

function followUp<K extends 'onVerifyFailure' | 'escalate'>(
  key: K,
  step: FollowUp | undefined,
  context: Record<string, unknown>,
): Partial<Record<K, FollowUp>> {
  if (!step) return {};
  return { [key]: { action: step.action, args: expandTemplate(step.args, context) } } as Partial<
    Record<K, FollowUp>
  >;
}
