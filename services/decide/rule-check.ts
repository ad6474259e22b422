import path from 'node:path';
import { Engine } from 'json-rules-engine';
import { sampleFact, unknownFact } from '../common/facts-reference.js';
import { DEFAULT_OPERATORS } from './compile-condition.js';
import type { LoadedRule } from './rule-file.js';
import { shadowedRules } from './rule-shadowing.js';

/** One leaf condition of a tree, with its JSON path inside the rule file. */
interface Leaf {
  readonly path: string;
  readonly node: Record<string, unknown>;
}

/** Every leaf condition (`{fact, operator, value}`) under `node`, depth first. */
function leaves(node: unknown, at: string): Leaf[] {
  if (node === null || typeof node !== 'object') return [];
  const n = node as Record<string, unknown>;
  const out: Leaf[] = [];
  for (const key of ['all', 'any'] as const) {
    const list = n[key];
    if (Array.isArray(list)) list.forEach((child, i) => out.push(...leaves(child, `${at}.${key}[${i}]`)));
  }
  if (n.not !== undefined) out.push(...leaves(n.not, `${at}.not`));
  if ('fact' in n) out.push({ path: at, node: n });
  return out;
}

/** The fact names a leaf reads: its own, and a `value: {fact}` it compares with. */
function factsOf(leaf: Leaf): Array<{ path: string; name: unknown }> {
  const refs = [{ path: `${leaf.path}.fact`, name: leaf.node.fact }];
  const value = leaf.node.value;
  if (value !== null && typeof value === 'object' && 'fact' in value)
    refs.push({ path: `${leaf.path}.value.fact`, name: (value as { fact: unknown }).fact });
  return refs;
}

/**
 * Dry-runs one leaf condition with json-rules-engine (the authority on what a condition means)
 * against sample facts of the right kinds: an unknown operator or a malformed path throws here,
 * at check time, instead of on every observation in production.
 */
async function dryRun(leaf: Leaf): Promise<string | undefined> {
  const engine = new Engine([], { allowUndefinedFacts: true });
  const facts: Record<string, unknown> = {};
  for (const { name } of factsOf(leaf)) if (typeof name === 'string') facts[name] = sampleFact(name);
  try {
    engine.addRule({ name: 'check', conditions: { all: [leaf.node] } as never, event: { type: 'check' } });
    await engine.run(facts);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * The semantic check of loaded rules, run by decide at start and by `autoglm rules check`:
 * every fact in `conditions` and `verify.conditions` must be in the facts reference, and every
 * leaf condition must run in json-rules-engine, and no enforced rule may be shadowed by another.
 * Each problem names the file, the JSON path and a fix.
 */
export async function checkRules(rules: readonly LoadedRule[]): Promise<string[]> {
  const problems: string[] = [];
  for (const rule of rules) {
    const file = path.basename(rule.file);
    const trees = [
      { at: 'conditions', tree: rule.conditions },
      { at: 'event.params.verify.conditions', tree: rule.params.verify.conditions },
    ];
    for (const { at, tree } of trees) {
      for (const leaf of leaves(tree, at)) {
        for (const ref of factsOf(leaf)) {
          const problem = unknownFact(ref.name);
          if (problem) problems.push(`${file}: ${ref.path}: ${problem}`);
        }
        const refused = await dryRun(leaf);
        if (refused && /Unknown operator/.test(refused)) {
          problems.push(
            `${file}: ${leaf.path}.operator: unknown operator ${JSON.stringify(leaf.node.operator)}; use one of ${DEFAULT_OPERATORS.join(', ')}`,
          );
        } else if (refused) {
          problems.push(`${file}: ${leaf.path}: json-rules-engine refused this condition: ${refused}`);
        }
      }
    }
  }
  problems.push(...shadowedRules(rules));
  return problems;
}
