import { compileConditions } from '../decide/compile-condition.js';
import { CompiledRules, type RuleInput } from '../decide/compiled-rules.js';

/**
 * Rules as they could be at best whatever the classifier answers, so a backtest asks the
 * classifier only about observations where its answer could matter: with the starter rules almost
 * none, since the CPU rule does not read it and the rules that do are false on their other facts
 * (the new-entity CPU rule needs `cpu.count` ≥ 6), which CompiledRules.cannotMatch with unknown
 * facts cannot tell (it clears a rule reading an unknown fact only when a fact it needs is undefined).
 */

/** The facts the classifier gives. */
const CLASSIFIER_FACTS = new Set(['incident.class', 'incident.confidence']);

/** A fact of the bound's own, always true: each replaced condition compares it with true or false. */
export const BOUND_ALWAYS_FACT = '__backtest_always';

/**
 * The rules with every condition on `incident.class` or `incident.confidence` replaced by the value
 * that helps the rule most (true, or false under an odd number of `not`s): an upper bound, so
 * facts on which it cannotMatch (with BOUND_ALWAYS_FACT true) match and fail no rule whatever the
 * classifier answers. Undefined where that would not be exact: a rule reads the whole `incident`,
 * runs in json-rules-engine, or has a condition that always throws (which a replaced one may be).
 *
 * `onlyReaders`: the bound of only the rules that read `incident.class` or `incident.confidence`.
 * Facts it clears are facts on which the answer changes nothing that is evaluated: those rules
 * neither match nor fail whatever it is, and the others do not read it. Decide's decisions then
 * differ by answer only in what is built from it (the decision's `incident`, templated args,
 * runbooks), none of which a backtest reports, so the replay decides those without asking.
 */
export function boundBeyondClassifier(
  rules: readonly RuleInput[],
  opts: { readonly onlyReaders?: boolean } = {},
): CompiledRules | undefined {
  const inputs = boundRules(rules, opts);
  return inputs && new CompiledRules(inputs);
}

/** The rules boundBeyondClassifier compiles (see there), or undefined where that is not exact. */
export function boundRules(
  rules: readonly RuleInput[],
  opts: { readonly onlyReaders?: boolean } = {},
): RuleInput[] | undefined {
  const inputs: RuleInput[] = [];
  for (const r of rules) {
    let readsIncident = false;
    let readsClassifier = false;
    const c = compileConditions(r.conditions, (fact) => {
      if (fact === 'incident') readsIncident = true;
      if (CLASSIFIER_FACTS.has(fact)) readsClassifier = true;
      return 0;
    });
    if (readsIncident || 'reason' in c || c.compiled.alwaysCareful) return undefined;
    if (opts.onlyReaders && !readsClassifier) continue;
    inputs.push({
      name: r.name,
      priority: r.priority,
      conditions: withoutClassifier(r.conditions, true) as Record<string, unknown>,
    });
  }
  return inputs;
}

/** `node` with each condition reading a classifier fact replaced by `positive` (flipped under `not`). */
function withoutClassifier(node: unknown, positive: boolean): unknown {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return node;
  const n = node as Record<string, unknown>;
  for (const op of ['all', 'any'] as const) {
    const list = n[op];
    if (Array.isArray(list)) return { ...n, [op]: list.map((c: unknown) => withoutClassifier(c, positive)) };
  }
  if (Object.hasOwn(n, 'not')) return { ...n, not: withoutClassifier(n.not, !positive) };
  const ref =
    n.value !== null && typeof n.value === 'object' ? (n.value as { fact?: unknown }).fact : undefined;
  if ([n.fact, ref].some((f) => typeof f === 'string' && CLASSIFIER_FACTS.has(f)))
    return { fact: BOUND_ALWAYS_FACT, operator: 'equal', value: positive };
  return n;
}
