import { CompiledRules } from './compiled-rules.js';
import type { LoadedRule } from './rule-file.js';

/** One node of a rule's condition tree, as evaluated on one set of facts. */
export interface ExplainedNode {
  /** JSON path in the rule file, e.g. `conditions.all[1]`. */
  readonly path: string;
  readonly kind: 'all' | 'any' | 'not' | 'leaf' | 'other';
  readonly result: boolean | 'error';
  /** Leaves: the fact, its value here, the operator and the value it is compared with. */
  readonly fact?: string;
  readonly factValue?: unknown;
  readonly operator?: string;
  readonly value?: unknown;
  readonly error?: string;
  readonly children?: readonly ExplainedNode[];
}

/**
 * Each condition of a rule on `facts`: every leaf evaluated on its own (so the author sees every
 * value, not just up to the first false one, as the engine stops), and each `all`/`any`/`not`
 * combined from its children. Leaves run through the same evaluator as decide.
 */
export function explainConditions(
  tree: unknown,
  facts: Readonly<Record<string, unknown>>,
  at = 'conditions',
): ExplainedNode {
  if (tree === null || typeof tree !== 'object')
    return { path: at, kind: 'other', result: 'error', error: 'not a condition' };
  const n = tree as Record<string, unknown>;
  for (const kind of ['all', 'any'] as const) {
    const list = n[kind];
    if (!Array.isArray(list)) continue;
    const children = list.map((c, i) => explainConditions(c, facts, `${at}.${kind}[${i}]`));
    const results = children.map((c) => c.result);
    const result = results.includes('error')
      ? 'error'
      : kind === 'all'
        ? results.every((r) => r === true)
        : results.some((r) => r === true);
    return { path: at, kind, result, children };
  }
  if (n.not !== undefined) {
    const child = explainConditions(n.not, facts, `${at}.not`);
    return {
      path: at,
      kind: 'not',
      result: child.result === 'error' ? 'error' : !child.result,
      children: [child],
    };
  }
  if (typeof n.fact === 'string') return explainLeaf(n, facts, at);
  return { path: at, kind: 'other', result: 'error', error: 'not a leaf, all, any or not' };
}

function explainLeaf(
  node: Record<string, unknown>,
  facts: Readonly<Record<string, unknown>>,
  at: string,
): ExplainedNode {
  const value = node.value;
  const compared =
    value !== null && typeof value === 'object' && 'fact' in value
      ? facts[(value as { fact: string }).fact]
      : value;
  const base = {
    path: at,
    kind: 'leaf' as const,
    fact: node.fact as string,
    factValue: facts[node.fact as string],
    operator: String(node.operator),
    value: compared,
  };
  try {
    const one = new CompiledRules([{ name: 'leaf', priority: 1, conditions: { all: [node] } }]);
    const outcome = one.evaluate(facts);
    if (outcome instanceof Promise) {
      // Only leaves with a path or params fall back to the engine; show them without a verdict.
      return { ...base, result: 'error', error: 'evaluated by json-rules-engine only (path/params)' };
    }
    if (outcome.errors.length > 0)
      return { ...base, result: 'error', error: outcome.errors[0]!.error.message };
    return { ...base, result: outcome.matched.length > 0 };
  } catch (err) {
    return { ...base, result: 'error', error: (err as Error).message };
  }
}

/** Lines that show a tree: one per leaf, `✔`/`✖` first, indented by depth. */
export function renderExplained(node: ExplainedNode, indent = '    '): string[] {
  const mark = node.result === 'error' ? '!' : node.result ? '✔' : '✖';
  if (node.kind === 'leaf') {
    const fact = node.factValue === undefined ? '(not reported)' : JSON.stringify(node.factValue);
    const err = node.error ? `  (${node.error})` : '';
    return [
      `${indent}${mark} ${node.path}: ${node.fact} = ${fact}; ${node.operator} ${JSON.stringify(node.value)}${err}`,
    ];
  }
  const head =
    node.kind === 'other'
      ? `${indent}${mark} ${node.path}: ${node.error}`
      : `${indent}${mark} ${node.path} (${node.kind})`;
  const lines = node.path === 'conditions' && node.kind !== 'not' ? [] : [head];
  const childIndent = lines.length > 0 ? `${indent}  ` : indent;
  for (const c of node.children ?? []) lines.push(...renderExplained(c, childIndent));
  return lines;
}

/** Whether each rule matches `facts`, with its explained conditions, highest priority first. */
export function explainRules(
  rules: readonly LoadedRule[],
  facts: Readonly<Record<string, unknown>>,
): Array<{ rule: LoadedRule; tree: ExplainedNode }> {
  return [...rules]
    .sort((a, b) => b.priority - a.priority)
    .map((rule) => ({ rule, tree: explainConditions(rule.conditions, facts) }));
}

/**
 * What a rule's episode settings mean, for `rules explain` (none for a rule without them): when
 * it decides and when its episode is over.
 */
export function episodeLines(rule: LoadedRule): string[] {
  const { for: holdFor, keepFiringFor } = rule.params;
  if (holdFor === undefined && keepFiringFor === undefined) return [];
  const decides = holdFor
    ? `once its conditions have held for ${holdFor}, observation after observation`
    : 'at its first match';
  const ends = keepFiringFor
    ? `after ${keepFiringFor} without a match (matches before that are the same episode)`
    : 'at the first observation without a match';
  return [`  one decision per episode: it decides ${decides}; the episode ends ${ends}`];
}
