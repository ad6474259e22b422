import { CompiledRules } from '../decide/compiled-rules.js';

/** A verify condition's value on one observation: `unknown` when it needs a fact that is not known. */
export type Truth = boolean | 'unknown';

/** The value of a condition, and the unknown facts it needed (empty when the value is known). */
export interface TriStateResult {
  readonly value: Truth;
  readonly unknown: readonly string[];
}

/** A node of the condition tree: its value from the leaves' outcomes (true, false, or unknown). */
type Node = (leaves: readonly Truth[]) => Truth;

/**
 * A verify condition in Kleene's three-valued logic, in the rule language decide speaks: the same
 * condition trees, each leaf (`{fact, operator, value}`) evaluated by decide's CompiledRules
 * (compiled predicates, json-rules-engine as the authority for what they cannot mirror), and
 * `all`/`any`/`not` folded over the leaves' values. A leaf that reads a fact that is undefined (a
 * metric warming up, a baseline unknown at decision time, a metric missing from the window) is
 * `unknown` instead of json-rules-engine's false, and `any(unknown, true)` = true,
 * `all(unknown, false)` = false, `not(unknown)` = unknown. Decide keeps its own two-valued
 * semantics: this is a separate evaluator over the same leaves, for verify only, because there
 * "not known yet" must not read as "the fix did not work".
 */
export class TriStateCondition {
  private readonly leaves: CompiledRules;
  /** Per leaf, the facts it reads (`fact`, and a `value: {fact}` reference). */
  private readonly reads: (readonly string[])[] = [];
  private readonly root: Node;

  /** Throws (RuleLoadError, or an Error naming the node) for a condition tree json-rules-engine refuses. */
  constructor(conditions: Record<string, unknown>) {
    const leafInputs: { name: string; priority: number; conditions: Record<string, unknown> }[] = [];
    const build = (raw: unknown, at: string): Node => {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
        throw new Error(`${at}: must be a condition object`);
      const node = raw as Record<string, unknown>;
      for (const op of ['all', 'any'] as const) {
        if (!Object.hasOwn(node, op)) continue;
        const list = node[op];
        if (!Array.isArray(list)) throw new Error(`${at}.${op}: must be an array of conditions`);
        const children = list.map((c, i) => build(c, `${at}.${op}[${i}]`));
        return op === 'all' ? allOf(children) : anyOf(children);
      }
      if (Object.hasOwn(node, 'not')) {
        const child = build(node.not, `${at}.not`);
        return (v) => {
          const x = child(v);
          return x === 'unknown' ? x : !x;
        };
      }
      // A leaf (or a condition reference): json-rules-engine's semantics, through decide's evaluator.
      const index = leafInputs.length;
      leafInputs.push({ name: String(index), priority: 1, conditions: { all: [node] } });
      const reads: string[] = [];
      if (typeof node.fact === 'string') reads.push(node.fact);
      const value = node.value;
      if (
        value !== null &&
        typeof value === 'object' &&
        typeof (value as { fact?: unknown }).fact === 'string'
      )
        reads.push((value as { fact: string }).fact);
      this.reads.push(reads);
      return (v) => v[index]!;
    };
    this.root = build(conditions, 'conditions');
    this.leaves = new CompiledRules(leafInputs);
  }

  /** Every fact some leaf reads. */
  get facts(): string[] {
    return [...new Set(this.reads.flat())];
  }

  /** The condition's value on `facts`; an error evaluating a leaf with known facts throws. */
  async evaluate(facts: Readonly<Record<string, unknown>>): Promise<TriStateResult> {
    const match = await this.leaves.evaluate(facts);
    if (match.errors.length > 0) {
      // A leaf whose facts are unknown is unknown, whatever json-rules-engine made of it.
      const known = match.errors.find((e) => this.missing(Number(e.rule), facts).length === 0);
      if (known) throw known.error;
    }
    const matched = new Set(match.matched);
    const unknown = new Set<string>();
    const values = this.reads.map((_, i): Truth => {
      const missing = this.missing(i, facts);
      if (missing.length === 0) return matched.has(String(i));
      for (const f of missing) unknown.add(f);
      return 'unknown';
    });
    const value = this.root(values);
    return { value, unknown: value === 'unknown' ? [...unknown] : [] };
  }

  /** The facts leaf `i` reads that are undefined in `facts`. */
  private missing(i: number, facts: Readonly<Record<string, unknown>>): string[] {
    return this.reads[i]!.filter((f) => facts[f] === undefined);
  }
}

/** Kleene's `all`: false if one is false, else unknown if one is unknown; empty is true (as json-rules-engine). */
function allOf(children: readonly Node[]): Node {
  return (v) => {
    let result: Truth = true;
    for (const c of children) {
      const x = c(v);
      if (x === false) return false;
      if (x === 'unknown') result = 'unknown';
    }
    return result;
  };
}

/** Kleene's `any`: true if one is true, else unknown if one is unknown; empty is true (as json-rules-engine). */
function anyOf(children: readonly Node[]): Node {
  if (children.length === 0) return () => true;
  return (v) => {
    let result: Truth = false;
    for (const c of children) {
      const x = c(v);
      if (x === true) return true;
      if (x === 'unknown') result = 'unknown';
    }
    return result;
  };
}

/** Kleene's conjunction of two values. */
export function and(a: Truth, b: Truth): Truth {
  if (a === false || b === false) return false;
  return a === 'unknown' || b === 'unknown' ? 'unknown' : true;
}
