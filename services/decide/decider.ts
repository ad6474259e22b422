import { plainIncident } from '../classifier/incident-fact.js';
import type { IncidentFact } from '../classifier/model-types.js';
import type { Decision, FollowUp, Observation } from '../common/contracts.js';
import { parseDuration } from '../common/duration.js';
import { factsFor } from '../common/facts.js';
import type { RuleSetMatch } from './compiled-rules.js';
import { CooldownGate } from './cooldown.js';
import { decisionIdFor } from './decision-id.js';
import type { RuleSet } from './rule-set.js';
import { expandTemplate } from './template.js';

/** A rule that matched but was held back, and why. */
export interface Suppressed {
  readonly rule: string;
  readonly entity: string;
  readonly reason: 'cooldown';
}

/** A rule whose evaluation threw on one observation; the other rules decided as usual. */
export interface RuleFailure {
  readonly rule: string;
  readonly message: string;
}

/** What one observation gave: decisions (highest priority first), matches held back, rules that failed. */
export interface Decided {
  readonly decisions: Decision[];
  readonly suppressed: Suppressed[];
  readonly failures: RuleFailure[];
}

/**
 * The decide step's pure core: evaluates the current rule set on one observation (compiled
 * predicates; json-rules-engine is the authority they are tested against and the fallback for what
 * does not compile) and turns each rule that fires into a decision with a deterministic id.
 * Undefined facts make a condition false instead of failing the run. `use` swaps the rule set
 * atomically: each observation is decided by one set, whose hash the decision records.
 */
export class Decider {
  private current: RuleSet;
  private readonly cooldowns = new CooldownGate();

  /** `maxDecisionAgeMs`: a window that ended longer ago than this (wall clock) gives a stale decision. */
  constructor(
    ruleSet: RuleSet,
    private readonly opts: { maxDecisionAgeMs: number } = { maxDecisionAgeMs: 3 * 60_000 },
  ) {
    this.current = ruleSet;
  }

  get ruleSet(): RuleSet {
    return this.current;
  }

  /** Decides with `ruleSet` from the next observation on. */
  use(ruleSet: RuleSet): void {
    this.current = ruleSet;
  }

  /**
   * Decisions for one observation and the matches held back. A decision on a window that ended
   * more than the allowed age before `nowMs` is marked stale. `incident` is the classifier's
   * answer for the observation (null when rules-only). Synchronous unless a rule needed
   * json-rules-engine itself.
   */
  decide(obs: Observation, nowMs: number, incident: IncidentFact | null = null): Decided | Promise<Decided> {
    const set = this.current;
    // json-rules-engine follows a `path` through own properties only, and the classifier's facts
    // read their probabilities through a getter: rules it runs get a plain copy (compiled rules
    // have no paths, and read `incident.class` and `incident.confidence` as facts of their own).
    const forRules =
      incident !== null && set.compiled.stats.fallback > 0 ? plainIncident(incident) : incident;
    const facts = factsFor(obs, set.context.factsFor(obs.entity, obs.window.end), forRules);
    const match = set.compiled.evaluate(facts);
    return match instanceof Promise
      ? match.then((m) => this.build(set, obs, facts, m, nowMs, incident))
      : this.build(set, obs, facts, match, nowMs, incident);
  }

  private build(
    set: RuleSet,
    obs: Observation,
    facts: Record<string, unknown>,
    match: RuleSetMatch,
    nowMs: number,
    incident: IncidentFact | null,
  ): Decided {
    const failures = match.errors.map((e) => ({ rule: e.rule, message: e.error.message }));
    const decisions: Decision[] = [];
    const suppressed: Suppressed[] = [];
    if (match.matched.length === 0) return { decisions, suppressed, failures };
    // Templates too walk dotted names through own properties (`{{incident.probabilities.memory_leak}}`).
    const recorded = incident && plainIncident(incident);
    facts.incident = recorded;
    const { events: _events, incident: _incident, ...auditFacts } = facts;
    for (const name of match.matched) {
      const rule = set.byName.get(name);
      if (!rule) continue;
      const decisionId = decisionIdFor(obs.entity, rule.name, obs.window);
      const cooldownMs = parseDuration(rule.params.cooldown) ?? 0;
      if (!this.cooldowns.admit(obs.entity, rule.name, decisionId, obs.window.end, cooldownMs)) {
        suppressed.push({ rule: rule.name, entity: obs.entity, reason: 'cooldown' });
        continue;
      }
      decisions.push({
        decisionId,
        entity: obs.entity,
        rule: rule.name,
        ruleVersion: rule.version,
        ruleSet: set.hash,
        mode: rule.params.mode,
        action: rule.params.action,
        args: expandTemplate(rule.params.args, facts) as Record<string, unknown>,
        actuator: rule.params.actuator,
        cooldown: rule.params.cooldown,
        approval: rule.params.approval,
        verify: rule.params.verify,
        ...followUp('onVerifyFailure', rule.params.onVerifyFailure, facts),
        ...followUp('escalate', rule.params.escalate, facts),
        incident: recorded && plainIncident(recorded),
        facts: auditFacts,
        window: obs.window,
        stale: nowMs - obs.window.end > this.opts.maxDecisionAgeMs,
        ts: obs.window.end,
      });
    }
    return { decisions, suppressed, failures };
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
