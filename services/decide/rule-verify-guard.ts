import { decisionValuesOf } from '../../workflows/definitions.js';
import type { Decision, Observation, RelativeCheck } from '../common/contracts.js';
import { VerifyCondition } from '../verify/condition.js';

/**
 * A rule test guard: a case that decides must not already pass its rule's verification on its own
 * facts, or an action that changes nothing would be verified (a rule that decides from 1.5
 * deviations up and verifies below 2 verifies its own decision). The case's observation is taken as
 * verify would take it (services/verify: VerifyCondition, three-valued, `relativeTo` against the
 * decision's values) with the case's facts as the decision-time values and as the post-action
 * observation. Its baseline facts are the observation's own: they are the decision's too here, and
 * a case that gives a deviation but not the baseline behind it still counts. Only `true` is a
 * finding: unknown (a fact verify needs is not in the case) proves nothing.
 */
export async function verifiedByItsOwnFacts(
  decision: Decision,
  obs: Observation,
): Promise<string | undefined> {
  const { conditions, relativeTo = [] } = decision.verify;
  const condition = new VerifyCondition(conditions, relativeTo, {
    decisionValues: decisionValuesOf(decision),
  });
  const check = await condition.check(obs);
  if (check.holds !== true) return undefined;
  return verifyText(conditions, relativeTo);
}

const OPERATORS: Readonly<Record<string, string>> = {
  lessThan: '<',
  lessThanInclusive: '<=',
  greaterThan: '>',
  greaterThanInclusive: '>=',
  equal: '=',
  notEqual: '!=',
};

/** `verify.conditions` (and `relativeTo`) in one line, e.g. `latency.deviation < 2`. */
export function verifyText(conditions: unknown, relativeTo: readonly RelativeCheck[] = []): string {
  const parts = [conditionText(conditions, true)].filter((p) => p !== '');
  for (const c of relativeTo)
    parts.push(
      c.atMost !== undefined
        ? `${c.fact} <= ${c.atMost} × its decision-time value`
        : `${c.fact} >= ${c.atLeast} × its decision-time value`,
    );
  return parts.join(' and ');
}

function conditionText(node: unknown, top = false): string {
  if (node === null || typeof node !== 'object') return JSON.stringify(node);
  const n = node as Record<string, unknown>;
  for (const [kind, word] of [
    ['all', ' and '],
    ['any', ' or '],
  ] as const) {
    const list = n[kind];
    if (!Array.isArray(list)) continue;
    const text = list.map((c) => conditionText(c)).join(word);
    return top || list.length < 2 ? text : `(${text})`;
  }
  if (n.not !== undefined) return `not ${conditionText(n.not)}`;
  const value =
    n.value !== null && typeof n.value === 'object' && 'fact' in n.value
      ? String((n.value as { fact: unknown }).fact)
      : JSON.stringify(n.value);
  return `${String(n.fact)} ${OPERATORS[String(n.operator)] ?? String(n.operator)} ${value}`;
}
