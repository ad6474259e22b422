/**
 * Compiles one json-rules-engine condition tree to synchronous predicates over fact values held in
 * numbered slots. It mirrors json-rules-engine 7.3.1 (dist/rule.js, condition.js, almanac.js,
 * engine-default-operators.js): all/any/not, the ten default operators with their fact validators,
 * `value: {fact}` comparisons, and which conditions are evaluated, so that a condition that throws
 * in json-rules-engine throws here too. A tree it cannot mirror with certainty is refused with a
 * reason; the caller then runs that rule in json-rules-engine.
 */
import { generated } from '../common/generated-code.js';

/** Fact values by slot number, filled from the facts object once per evaluation. */
export type Slots = readonly unknown[];

/** A compiled condition: true when it holds on the slots. */
export type Predicate = (slots: Slots) => boolean;

/** A condition tree as predicates, with what the caller needs to choose and skip between them. */
export interface CompiledCondition {
  /**
   * The result, evaluated in any order with short-circuits. Exact only when no condition can throw
   * on this input: then json-rules-engine's evaluation is a pure boolean formula too.
   */
  readonly fast: Predicate;
  /**
   * The result in json-rules-engine's order: the priority sets of an all/any in turn, stopping once
   * one decides, and every condition of a set evaluated (it runs them with Promise.all), so a
   * condition that throws does so here exactly when it would there.
   */
  readonly careful: Predicate;
  /** Some condition throws whenever it is evaluated (`in` on a constant without indexOf): always use `careful`. */
  readonly alwaysCareful: boolean;
  /** Slots that some condition coerces (numeric operators, `in` a string): an object or symbol there may throw. */
  readonly coerced: ReadonlySet<number>;
  /** Slots that some `in`/`notIn` calls indexOf on: anything but an array there may throw. */
  readonly indexed: ReadonlySet<number>;
  /** Slots that make the whole tree false when their fact is undefined (sound for `fast` only). */
  readonly killers: ReadonlySet<number>;
}

/** The compiled tree, or why it runs in json-rules-engine instead. */
export type CompileResult = { readonly compiled: CompiledCondition } | { readonly reason: string };

/** The ten operators json-rules-engine registers by default. */
export const DEFAULT_OPERATORS = [
  'equal',
  'notEqual',
  'in',
  'notIn',
  'contains',
  'doesNotContain',
  'lessThan',
  'lessThanInclusive',
  'greaterThan',
  'greaterThanInclusive',
] as const;
type OperatorName = (typeof DEFAULT_OPERATORS)[number];

const LEAF_KEYS = new Set(['fact', 'operator', 'value', 'priority', 'name']);
const BOOLEAN_KEYS = new Set(['all', 'any', 'not', 'priority', 'name']);
const MAX_DEPTH = 64;

/** Thrown inside the compiler to refuse the whole tree. */
class Refused {
  constructor(readonly reason: string) {}
}

/** A compiled node, and the key json-rules-engine groups it by among its siblings. */
interface Node {
  readonly fast: Predicate;
  readonly careful: Predicate;
  readonly priorityKey: number;
  readonly killers: ReadonlySet<number>;
  /** `fast` as a JavaScript expression over `v` (see fastFunction). */
  readonly code: string;
}

/** What the leaves of one tree add up to. */
interface Hazards {
  alwaysCareful: boolean;
  readonly coerced: Set<number>;
  readonly indexed: Set<number>;
  /** The constants the nodes' `code` reads as `k[i]`. */
  readonly consts: unknown[];
}

/**
 * Compiles `conditions` (the root of a rule that json-rules-engine's Rule constructor accepted);
 * `slotFor` numbers each fact name the tree reads.
 */
export function compileConditions(conditions: unknown, slotFor: (fact: string) => number): CompileResult {
  const hazards: Hazards = { alwaysCareful: false, coerced: new Set(), indexed: new Set(), consts: [] };
  try {
    const root = plainRecord(conditions, 'conditions');
    if (!['all', 'any', 'not'].some((k) => Object.hasOwn(root, k)))
      throw new Refused('the root is a condition reference');
    const node = compileNode(root, 'conditions', 0, slotFor, hazards);
    return {
      compiled: {
        fast: fastFunction(node.code, hazards.consts) ?? node.fast,
        careful: node.careful,
        alwaysCareful: hazards.alwaysCareful,
        coerced: hazards.coerced,
        indexed: hazards.indexed,
        killers: node.killers,
      },
    };
  } catch (err) {
    if (err instanceof Refused) return { reason: err.reason };
    throw err;
  }
}

function compileNode(
  raw: unknown,
  at: string,
  depth: number,
  slotFor: (fact: string) => number,
  hazards: Hazards,
): Node {
  if (depth > MAX_DEPTH) throw new Refused(`${at}: nested deeper than ${MAX_DEPTH}`);
  const node = plainRecord(raw, at);
  if (Object.hasOwn(node, 'condition')) throw new Refused(`${at}: a condition reference`);
  const bool = (['any', 'all', 'not'] as const).filter((k) => Object.hasOwn(node, k));
  if (bool.length === 0) return compileLeaf(node, at, slotFor, hazards);
  if (bool.length > 1) throw new Refused(`${at}: both ${bool.join(' and ')}`);
  for (const key of Object.keys(node))
    if (!BOOLEAN_KEYS.has(key)) throw new Refused(`${at}: unsupported key "${key}"`);
  // Boolean conditions get parseInt(priority) || 1 (condition.js).
  const priorityKey = Number.parseInt(numberOrAbsent(node.priority, `${at}.priority`) as never, 10) || 1;
  const op = bool[0]!;
  if (op === 'not') {
    const child = compileNode(node.not, `${at}.not`, depth + 1, slotFor, hazards);
    const { fast, careful } = child;
    return {
      fast: (v) => !fast(v),
      careful: (v) => !careful(v),
      priorityKey,
      killers: new Set(),
      code: `!${child.code}`,
    };
  }
  const list = node[op];
  if (!Array.isArray(list) || Object.getPrototypeOf(list) !== Array.prototype)
    throw new Refused(`${at}.${op}: not a plain array`);
  if (Object.keys(list).length !== list.length) throw new Refused(`${at}.${op}: an array with holes`);
  const children = list.map((c, i) => compileNode(c, `${at}.${op}[${i}]`, depth + 1, slotFor, hazards));
  return op === 'all' ? allOf(children, priorityKey) : anyOf(children, priorityKey);
}

/** `all`: empty is true, one condition is that condition (rule.js prioritizeAndRun). */
function allOf(children: Node[], priorityKey: number): Node {
  const killers = new Set(children.flatMap((c) => [...c.killers]));
  if (children.length === 0)
    return { fast: () => true, careful: () => true, priorityKey, killers, code: 'true' };
  if (children.length === 1) return { ...children[0]!, priorityKey, killers };
  const fasts = children.map((c) => c.fast);
  const sets = prioritySets(children).map((set) => set.map((c) => c.careful));
  const fast: Predicate = (v) => {
    for (let i = 0; i < fasts.length; i++) if (!fasts[i]!(v)) return false;
    return true;
  };
  const careful: Predicate = (v) => {
    for (let s = 0; s < sets.length; s++) {
      const set = sets[s]!;
      let every = true;
      for (let i = 0; i < set.length; i++) if (!set[i]!(v)) every = false;
      if (!every) return false;
    }
    return true;
  };
  return { fast, careful, priorityKey, killers, code: `(${children.map((c) => c.code).join(' && ')})` };
}

/** `any`: empty is TRUE in json-rules-engine (prioritizeAndRun resolves true for no conditions). */
function anyOf(children: Node[], priorityKey: number): Node {
  if (children.length === 0)
    return { fast: () => true, careful: () => true, priorityKey, killers: new Set(), code: 'true' };
  if (children.length === 1) return { ...children[0]!, priorityKey };
  const [first, ...rest] = children.map((c) => c.killers);
  const killers = new Set([...first!].filter((s) => rest.every((k) => k.has(s))));
  const fasts = children.map((c) => c.fast);
  const sets = prioritySets(children).map((set) => set.map((c) => c.careful));
  const fast: Predicate = (v) => {
    for (let i = 0; i < fasts.length; i++) if (fasts[i]!(v)) return true;
    return false;
  };
  const careful: Predicate = (v) => {
    for (let s = 0; s < sets.length; s++) {
      const set = sets[s]!;
      let some = false;
      for (let i = 0; i < set.length; i++) if (set[i]!(v)) some = true;
      if (some) return true;
    }
    return false;
  };
  return { fast, careful, priorityKey, killers, code: `(${children.map((c) => c.code).join(' || ')})` };
}

/** Siblings grouped and ordered exactly as rule.js prioritizeConditions does, highest first. */
function prioritySets(nodes: readonly Node[]): Node[][] {
  const sets: Record<string, Node[]> = {};
  for (const n of nodes) (sets[n.priorityKey] ??= []).push(n);
  return Object.keys(sets)
    .sort((a, b) => (Number(a) > Number(b) ? -1 : 1))
    .map((k) => sets[k]!);
}

function compileLeaf(
  node: Record<string, unknown>,
  at: string,
  slotFor: (fact: string) => number,
  hazards: Hazards,
): Node {
  for (const key of Object.keys(node)) {
    if (key === 'path' || key === 'params') throw new Refused(`${at}: has "${key}"`);
    if (!LEAF_KEYS.has(key)) throw new Refused(`${at}: unsupported key "${key}"`);
  }
  const { fact, operator, value } = node;
  if (typeof fact !== 'string') throw new Refused(`${at}.fact: not a string`);
  if (!(DEFAULT_OPERATORS as readonly unknown[]).includes(operator))
    throw new Refused(`${at}.operator: ${JSON.stringify(operator)} is not a default operator`);
  // A leaf keeps its raw priority (condition.js assigns before it parses); falsy means the fact's, 1.
  const priorityKey = numberOrAbsent(node.priority, `${at}.priority`) || 1;
  const s = slotFor(fact);
  const op = operator as OperatorName;
  if (value !== null && typeof value === 'object' && Object.hasOwn(value, 'fact')) {
    const ref = plainRecord(value, `${at}.value`);
    if (Object.keys(ref).length !== 1 || typeof ref.fact !== 'string')
      throw new Refused(`${at}.value: a fact reference with more than a fact name`);
    return refLeaf(op, s, slotFor(ref.fact), priorityKey, hazards);
  }
  if (!isTame(value, 0)) throw new Refused(`${at}.value: not plain JSON data`);
  return constLeaf(op, s, privateCopy(value), priorityKey, hazards);
}

/** A leaf comparing with a constant. */
function constLeaf(op: OperatorName, s: number, b: unknown, priorityKey: number, hazards: Hazards): Node {
  const test = CONST_TESTS[op](s, b);
  if (op === 'in' || op === 'notIn') {
    if (typeof b === 'string') hazards.coerced.add(s);
    else if (!Array.isArray(b)) hazards.alwaysCareful = true;
  } else if (NUMERIC.has(op)) hazards.coerced.add(s);
  // The constant is fixed, so whether an undefined fact decides the leaf is known now.
  let killed = false;
  try {
    killed = test([]) === false;
  } catch {
    killed = false;
  }
  const code = LEAF_CODE[op](`v[${s}]`, constantCode(b, hazards.consts));
  return { fast: test, careful: test, priorityKey, killers: new Set(killed ? [s] : []), code };
}

/** A leaf comparing with another fact (`value: {fact}`). */
function refLeaf(op: OperatorName, s: number, t: number, priorityKey: number, hazards: Hazards): Node {
  const test = REF_TESTS[op](s, t);
  let killers: number[] = [];
  if (op === 'in' || op === 'notIn') {
    hazards.indexed.add(t);
    hazards.coerced.add(s);
  } else if (NUMERIC.has(op)) {
    hazards.coerced.add(s);
    hazards.coerced.add(t);
    // The validator refuses an undefined fact; `x < undefined` compares with NaN: false either way.
    killers = [s, t];
  } else if (op === 'contains' || op === 'doesNotContain') killers = [s];
  return {
    fast: test,
    careful: test,
    priorityKey,
    killers: new Set(killers),
    code: LEAF_CODE[op](`v[${s}]`, `v[${t}]`),
  };
}

const NUMERIC: ReadonlySet<OperatorName> = new Set([
  'lessThan',
  'lessThanInclusive',
  'greaterThan',
  'greaterThanInclusive',
]);

/**
 * json-rules-engine's numberValidator, `Number.parseFloat(x).toString() !== 'NaN'`: a number that is
 * not NaN, or anything whose string form starts like a number ("90", " 9px", [5], "Infinity").
 */
function numberLike(a: unknown): boolean {
  if (typeof a === 'number') return a === a;
  if (a === undefined || a === null || typeof a === 'boolean') return false;
  return !Number.isNaN(Number.parseFloat(a as string));
}

interface Indexable {
  indexOf(x: unknown): number;
}
type LeafFactory<B> = (s: number, b: B) => Predicate;

// The operator bodies are json-rules-engine's, with the same JS operators and calls, so coercions,
// comparisons and the TypeErrors they throw are the same.
const CONST_TESTS: Record<OperatorName, LeafFactory<unknown>> = {
  equal: (s, b) => (v) => v[s] === b,
  notEqual: (s, b) => (v) => v[s] !== b,
  in: (s, b) => (v) => (b as Indexable).indexOf(v[s]) > -1,
  notIn: (s, b) => (v) => (b as Indexable).indexOf(v[s]) === -1,
  contains: (s, b) => (v) => {
    const a = v[s];
    return Array.isArray(a) && a.indexOf(b) > -1;
  },
  doesNotContain: (s, b) => (v) => {
    const a = v[s];
    return Array.isArray(a) && a.indexOf(b) === -1;
  },
  lessThan: (s, b) => (v) => {
    const a = v[s];
    return numberLike(a) && (a as number) < (b as number);
  },
  lessThanInclusive: (s, b) => (v) => {
    const a = v[s];
    return numberLike(a) && (a as number) <= (b as number);
  },
  greaterThan: (s, b) => (v) => {
    const a = v[s];
    return numberLike(a) && (a as number) > (b as number);
  },
  greaterThanInclusive: (s, b) => (v) => {
    const a = v[s];
    return numberLike(a) && (a as number) >= (b as number);
  },
};

const REF_TESTS: Record<OperatorName, LeafFactory<number>> = {
  equal: (s, t) => (v) => v[s] === v[t],
  notEqual: (s, t) => (v) => v[s] !== v[t],
  in: (s, t) => (v) => (v[t] as Indexable).indexOf(v[s]) > -1,
  notIn: (s, t) => (v) => (v[t] as Indexable).indexOf(v[s]) === -1,
  contains: (s, t) => (v) => {
    const a = v[s];
    return Array.isArray(a) && a.indexOf(v[t]) > -1;
  },
  doesNotContain: (s, t) => (v) => {
    const a = v[s];
    return Array.isArray(a) && a.indexOf(v[t]) === -1;
  },
  lessThan: (s, t) => (v) => {
    const a = v[s];
    return numberLike(a) && (a as number) < (v[t] as number);
  },
  lessThanInclusive: (s, t) => (v) => {
    const a = v[s];
    return numberLike(a) && (a as number) <= (v[t] as number);
  },
  greaterThan: (s, t) => (v) => {
    const a = v[s];
    return numberLike(a) && (a as number) > (v[t] as number);
  },
  greaterThanInclusive: (s, t) => (v) => {
    const a = v[s];
    return numberLike(a) && (a as number) >= (v[t] as number);
  },
};

/**
 * The leaves of CONST_TESTS and REF_TESTS as expressions for fastFunction, given the code of the
 * fact (`v[s]`) and of the other operand (a constant's, see constantCode, or `v[t]`): the same
 * operators and calls in the same order, so the same results, coercions and errors (`a` is a
 * scratch variable, `nl` numberLike, its number case written out).
 */
const numeric = (cmp: string) => (fact: string, other: string) =>
  `(a = ${fact}, (typeof a === 'number' ? a === a : nl(a)) && a ${cmp} ${other})`;
const LEAF_CODE: Record<OperatorName, (fact: string, other: string) => string> = {
  equal: (fact, other) => `(${fact} === ${other})`,
  notEqual: (fact, other) => `(${fact} !== ${other})`,
  in: (fact, other) => `((${other}).indexOf(${fact}) > -1)`,
  notIn: (fact, other) => `((${other}).indexOf(${fact}) === -1)`,
  contains: (fact, other) => `(a = ${fact}, Array.isArray(a) && a.indexOf(${other}) > -1)`,
  doesNotContain: (fact, other) => `(a = ${fact}, Array.isArray(a) && a.indexOf(${other}) === -1)`,
  lessThan: numeric('<'),
  lessThanInclusive: numeric('<='),
  greaterThan: numeric('>'),
  greaterThanInclusive: numeric('>='),
};

/**
 * A constant as code: a string, boolean, null or finite number written in (JSON is JavaScript for
 * those; -0 kept), anything else (objects, NaN, the infinities) read from `consts`.
 */
function constantCode(b: unknown, consts: unknown[]): string {
  if (typeof b === 'string' || typeof b === 'boolean' || b === null) return JSON.stringify(b);
  if (typeof b === 'number' && Number.isFinite(b)) return Object.is(b, -0) ? '-0' : String(b);
  consts.push(b);
  return `k[${consts.length - 1}]`;
}

/**
 * The fast predicate as one function, from the tree's `code`: the closure tree calls a function per
 * node, at call sites shared by every rule (a backtest's skip check spent most of its time in those
 * calls), where this is straight-line code. Undefined where code generation is disallowed.
 */
function fastFunction(code: string, consts: readonly unknown[]): Predicate | undefined {
  return generated<Predicate>(
    ['k', 'nl'],
    `return function fast(v) {\nlet a;\nreturn ${code};\n};`,
    consts,
    numberLike,
  );
}

function numberOrAbsent(x: unknown, at: string): number | undefined {
  if (x === undefined || typeof x === 'number') return x;
  throw new Refused(`${at}: not a number`);
}

/** An object literal's shape: Object.prototype, enumerable data properties with string keys. */
function plainRecord(x: unknown, at: string): Record<string, unknown> {
  if (!isPlainRecord(x)) throw new Refused(`${at}: not a plain object`);
  return x;
}

function isPlainRecord(x: unknown): x is Record<string, unknown> {
  return (
    x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype && dataOnly(x, '')
  );
}

/** Own properties are enumerable data properties with string keys (`except` aside). */
function dataOnly(x: object, except: string): boolean {
  return Reflect.ownKeys(x).every((k) => {
    if (k === except) return true;
    const d = typeof k === 'string' ? Object.getOwnPropertyDescriptor(x, k) : undefined;
    return d !== undefined && d.enumerable === true && 'value' in d;
  });
}

/**
 * Data as JSON.parse makes it, whose coercion to a primitive cannot throw (no own toString or
 * valueOf) and which json-rules-engine does not await (no functions): what a constant may hold.
 */
function isTame(x: unknown, depth: number): boolean {
  if (x === null || x === undefined) return true;
  const t = typeof x;
  if (t === 'string' || t === 'number' || t === 'boolean') return true;
  if (t !== 'object' || depth > MAX_DEPTH) return false;
  if (Array.isArray(x)) {
    if (Object.getPrototypeOf(x) !== Array.prototype || !dataOnly(x, 'length')) return false;
    if (Object.keys(x).length !== x.length) return false;
    return x.every((e) => isTame(e, depth + 1));
  }
  if (!isPlainRecord(x) || Object.hasOwn(x, 'toString') || Object.hasOwn(x, 'valueOf')) return false;
  return Object.values(x).every((e) => isTame(e, depth + 1));
}

/**
 * json-rules-engine compares with a deep clone of the constant made on every run (rule-result.js),
 * so an object constant is never `===` a fact value; a copy nobody else holds keeps that true.
 */
function privateCopy(x: unknown): unknown {
  return x !== null && typeof x === 'object' ? structuredClone(x) : x;
}
