/**
 * Incidents the loop will not act on by design, in the loop's own words: a shadow decision, one
 * waiting for an operator's approval, a remediation absorbed by the entity guard (a cooldown, or
 * another remediation in flight). Pure: read from decisions and verdicts, shown by the live view,
 * the demo and the scorecard, and used by the fleet to free the schedule's slots.
 */
import type { Decision, Verdict } from '../common/contracts.js';
import { workflowIdFor } from '../decide/decision-id.js';
import type { Parked } from './fleet-types.js';

/** The guard's words for a cooldown (workflows/guard-state.ts): the rule and when it ends. */
const COOLDOWN = /rule (\S+) is cooling down on \S+ until (\S+)/;

/** What a decision says about its entity's incident: shadow, or waiting for an approval. */
export function parkedByDecision(d: Decision): Parked | undefined {
  if (d.stale) return undefined;
  const workflowId = workflowIdFor(d);
  if (d.mode === 'shadow')
    return { kind: 'shadow', rule: d.rule, workflowId, why: `decided ${d.action}, not acted`, at: d.ts };
  if (d.approval === 'required')
    return {
      kind: 'awaiting_approval',
      rule: d.rule,
      workflowId,
      why: `${d.action} waits for an operator`,
      at: d.ts,
    };
  return undefined;
}

/** What a verdict says about its entity's incident: absorbed by the guard. */
export function parkedByVerdict(v: Verdict): Parked | undefined {
  if (v.outcome !== 'absorbed') return undefined;
  const reason = typeof v.evidence.reason === 'string' ? v.evidence.reason : 'the entity guard held it back';
  const cooldown = COOLDOWN.exec(reason);
  const until = cooldown ? Date.parse(cooldown[2]!) : NaN;
  return {
    kind: 'absorbed',
    rule: cooldown?.[1] ?? v.rule,
    workflowId: v.workflowId,
    ...(Number.isFinite(until) ? { until } : {}),
    why: reason,
    at: v.ts,
  };
}

/** hh:mm (UTC, as the live view's clock) of an epoch-ms time. */
const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

/**
 * What a person is told about a parked incident, one line: what to do (approve), or why nothing
 * happens (shadow, a cooldown until when, another remediation in flight).
 */
export function parkedText(p: Parked): string {
  switch (p.kind) {
    case 'awaiting_approval':
      return `waiting for approval: autoglm approve ${p.workflowId ?? '<id>'} --reason "…" (or autoglm reject; rule ${p.rule})`;
    case 'shadow':
      return `shadow mode: decided, not acted (rule ${p.rule})`;
    case 'absorbed':
      return p.until !== undefined
        ? `absorbed: cooldown of rule ${p.rule} until ${hhmm(p.until)}`
        : `absorbed: ${p.why}`;
  }
}
