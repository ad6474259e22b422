import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { LoadedRule } from './rule-file.js';

/** A plain leaf condition: one fact, one operator, a literal value (no path, params or fact reference). */
interface PlainLeaf {
  readonly fact: string;
  readonly operator: string;
  readonly value: unknown;
}

function plainLeaf(node: unknown): PlainLeaf | undefined {
  if (node === null || typeof node !== 'object') return undefined;
  const n = node as Record<string, unknown>;
  const keys = Object.keys(n).filter((k) => k !== 'name' && k !== 'priority');
  if (keys.length !== 3 || typeof n.fact !== 'string' || typeof n.operator !== 'string') return undefined;
  if (!('value' in n)) return undefined;
  if (n.value !== null && typeof n.value === 'object' && !Array.isArray(n.value)) return undefined;
  return { fact: n.fact, operator: n.operator, value: n.value };
}

/**
 * The leaves that must all hold for the tree to hold (the top-level `all`, nested `all`s
 * flattened), and whether that list is the whole tree (no `any` or `not` left out).
 */
function conjunction(tree: unknown): { leaves: PlainLeaf[]; complete: boolean } {
  const leaves: PlainLeaf[] = [];
  let complete = true;
  const visit = (node: unknown): void => {
    const leaf = plainLeaf(node);
    if (leaf) return void leaves.push(leaf);
    const n = (node ?? {}) as Record<string, unknown>;
    if (Array.isArray(n.all) && Object.keys(n).every((k) => k === 'all' || k === 'priority'))
      return n.all.forEach(visit);
    complete = false;
  };
  visit(tree);
  return { leaves, complete };
}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** True when the operator holds on a known number or string `v` (the plain cases only). */
function holdsOn(leaf: PlainLeaf, v: unknown): boolean | undefined {
  const x = leaf.value;
  switch (leaf.operator) {
    case 'equal':
      return isDeepStrictEqual(v, x);
    case 'notEqual':
      return !isDeepStrictEqual(v, x);
    case 'in':
      return Array.isArray(x) ? x.some((e) => isDeepStrictEqual(e, v)) : undefined;
    case 'notIn':
      return Array.isArray(x) ? !x.some((e) => isDeepStrictEqual(e, v)) : undefined;
    case 'greaterThan':
      return num(v) && num(x) ? v > x : undefined;
    case 'greaterThanInclusive':
      return num(v) && num(x) ? v >= x : undefined;
    case 'lessThan':
      return num(v) && num(x) ? v < x : undefined;
    case 'lessThanInclusive':
      return num(v) && num(x) ? v <= x : undefined;
    default:
      return undefined;
  }
}

/** True when `r` holding on a fact proves `s` holds on it too (same fact). */
function leafImplies(r: PlainLeaf, s: PlainLeaf): boolean {
  if (r.fact !== s.fact) return false;
  if (r.operator === s.operator && isDeepStrictEqual(r.value, s.value)) return true;
  if (r.operator === 'equal') return holdsOn(s, r.value) === true;
  if (r.operator === 'in' && Array.isArray(r.value))
    return r.value.length > 0 && r.value.every((v) => holdsOn(s, v) === true);
  const a = r.value;
  const b = s.value;
  if (!num(a) || !num(b)) return false;
  const up = (op: string) => op === 'greaterThan' || op === 'greaterThanInclusive';
  const down = (op: string) => op === 'lessThan' || op === 'lessThanInclusive';
  const strictR = !r.operator.endsWith('Inclusive');
  const strictS = !s.operator.endsWith('Inclusive');
  // r: x > a (or ≥), s: x > b (or ≥): r ⇒ s when a ≥ b, or a = b with s no stricter than r.
  if (up(r.operator) && up(s.operator)) return a > b || (a === b && (strictR || !strictS));
  if (down(r.operator) && down(s.operator)) return a < b || (a === b && (strictR || !strictS));
  return false;
}

/** True when every observation on which `r`'s conditions hold also satisfies `s`'s (provably, plain cases). */
export function conditionsImply(r: unknown, s: unknown): boolean {
  const need = conjunction(s);
  if (!need.complete || need.leaves.length === 0) return false;
  const have = conjunction(r).leaves;
  return need.leaves.every((sl) => have.some((rl) => leafImplies(rl, sl)));
}

/**
 * Enforced rules that can never act: whenever one matches, another enforced rule of at least its
 * priority matches too, starts first and takes the entity's lease, so this one is always absorbed.
 * Shadow-mode rules are left out (trying a new threshold beside the live rule is what they are for).
 */
export function shadowedRules(rules: readonly LoadedRule[]): string[] {
  const problems: string[] = [];
  const enforced = rules.filter((r) => r.params.mode === 'enforce');
  enforced.forEach((r, i) => {
    const by = enforced.find(
      (s, j) =>
        s !== r &&
        (s.priority > r.priority || (s.priority === r.priority && j < i)) &&
        conditionsImply(r.conditions, s.conditions),
    );
    if (!by) return;
    problems.push(
      `${path.basename(r.file)}: conditions: shadowed by "${by.name}" (${path.basename(by.file)}, priority ${by.priority} ≥ ${r.priority}): ` +
        `whenever this rule matches, "${by.name}" matches too and takes the entity's lease first, so this rule never acts; ` +
        `give it a priority above ${by.priority}, narrow "${by.name}", or set its mode to "shadow"`,
    );
  });
  return problems;
}
