import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { Worker } from 'node:worker_threads';
import { Engine, Fact, Rule } from 'json-rules-engine';
import { CompiledRules, type RuleInput, type RuleSetMatch } from '../../services/decide/compiled-rules.js';
import { RuleLoadError } from '../../services/decide/rule-file.js';
import { seededRandom as mulberry32 } from '../../services/classifier/seeded-random.js';

type Facts = Record<string, unknown>;

/** json-rules-engine's rule for `input`, on a deep copy (its Condition constructor rewrites leaf priorities). */
const engineRule = (r: RuleInput) =>
  new Rule({
    name: r.name,
    priority: r.priority,
    conditions: copy(r.conditions) as never,
    event: { type: 'match' },
  });

function copy(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(copy);
  if (x === null || typeof x !== 'object' || Object.getPrototypeOf(x) !== Object.prototype) return x;
  return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, copy(v)]));
}

/**
 * What json-rules-engine says about one rule on `facts`: matched, or the error it rejects with.
 * A fresh engine each time: after a rejected run an Engine silently skips its rules on the next one.
 */
async function engineSays(r: RuleInput, facts: Facts): Promise<boolean | Error> {
  const engine = new Engine([], { allowUndefinedFacts: true });
  engine.addRule(engineRule(r));
  try {
    return (await engine.run(facts)).results.length > 0;
  } catch (err) {
    return err as Error;
  }
}

/** CompiledRules and json-rules-engine (one engine per rule) on each facts object: same matches, same failing rules. */
async function assertAgrees(rules: RuleInput[], factsList: Facts[]): Promise<RuleSetMatch[]> {
  const compiled = new CompiledRules(rules);
  const answers: RuleSetMatch[] = [];
  for (const facts of factsList) {
    const got = await compiled.evaluate(facts);
    answers.push(got);
    for (const r of rules) {
      const want = await engineSays(r, facts);
      const said = got.matched.includes(r.name)
        ? true
        : got.errors.some((e) => e.rule === r.name)
          ? 'error'
          : false;
      assert.equal(
        said,
        want instanceof Error ? 'error' : want,
        `rule ${inspect(r.conditions, { depth: 9 })} on ${inspect(facts)}: json-rules-engine says ${String(want)}`,
      );
    }
  }
  return answers;
}

/** Whether one condition holds on `facts`, asserting first that CompiledRules and json-rules-engine agree. */
async function holds(condition: Record<string, unknown>, facts: Facts): Promise<boolean | 'error'> {
  const rule = { name: 'r', priority: 1, conditions: condition };
  const [got] = await assertAgrees([rule], [facts]);
  return got!.errors.length > 0 ? 'error' : got!.matched.length > 0;
}
const leaf = (fact: string, operator: string, value: unknown) => ({ all: [{ fact, operator, value }] });

describe('CompiledRules: the default operators, as json-rules-engine evaluates them', () => {
  it('numeric operators accept what parseFloat reads as a number, then compare with JS < and >', async () => {
    const gt85 = leaf('cpu.avg', 'greaterThan', 85);
    const cases: [unknown, boolean][] = [
      [90, true],
      [85, false],
      ['90', true], // the validator passes "90", and "90" > 85 converts it
      [' 90', true],
      ['90abc', false], // parseFloat reads 90, but "90abc" > 85 compares NaN
      ['abc', false],
      ['', false],
      [null, false],
      [undefined, false],
      [true, false], // true > 85 would be false anyway, but the validator refuses it first
      [Number.NaN, false],
      [Infinity, true],
      [[90], true], // [90] coerces to "90"
      [[1, 2], false],
      [{}, false],
    ];
    for (const [value, want] of cases)
      assert.equal(await holds(gt85, { 'cpu.avg': value }), want, inspect(value));
    assert.equal(await holds(leaf('x', 'greaterThanInclusive', 85), { x: 85 }), true);
    assert.equal(await holds(leaf('x', 'lessThanInclusive', 85), { x: 85 }), true);
    assert.equal(await holds(leaf('x', 'lessThan', 85), { x: 85 }), false);
    assert.equal(await holds(leaf('x', 'lessThan', 0), { x: false }), false);
    assert.equal(await holds(leaf('x', 'greaterThan', -1), { x: null }), false);
    // A string threshold compares strings: "90" < "100" is false.
    assert.equal(await holds(leaf('x', 'lessThan', '100'), { x: '90' }), false);
    assert.equal(await holds(leaf('x', 'lessThan', '100'), { x: 90 }), true);
    // A value that cannot become a primitive throws, as it does in json-rules-engine.
    assert.equal(await holds(leaf('x', 'greaterThan', 1), { x: JSON.parse('{"toString": 1}') }), 'error');
    assert.equal(await holds(leaf('x', 'greaterThan', 1), { x: Symbol('s') }), 'error');
  });

  it('equal and notEqual are === and !==, an undefined fact included', async () => {
    assert.equal(await holds(leaf('x', 'equal', 1), { x: 1 }), true);
    assert.equal(await holds(leaf('x', 'equal', 1), { x: '1' }), false);
    assert.equal(await holds(leaf('x', 'equal', null), { x: null }), true);
    assert.equal(await holds(leaf('x', 'equal', null), {}), false);
    assert.equal(await holds(leaf('x', 'equal', false), { x: 0 }), false);
    assert.equal(await holds(leaf('x', 'equal', Number.NaN), { x: Number.NaN }), false);
    // The engine compares with a fresh clone of the constant: an object is never equal.
    assert.equal(await holds(leaf('x', 'equal', { a: 1 }), { x: { a: 1 } }), false);
    assert.equal(await holds(leaf('x', 'notEqual', 5), {}), true);
    assert.equal(await holds(leaf('x', 'notEqual', 5), { x: 5 }), false);
  });

  it('compares with constants written into the compiled predicate as they are: -0, NaN, infinities, odd strings', async () => {
    assert.equal(await holds(leaf('x', 'equal', -0), { x: 0 }), true);
    assert.equal(await holds(leaf('x', 'lessThan', -0), { x: -1e-300 }), true);
    assert.equal(await holds(leaf('x', 'greaterThanInclusive', -0), { x: 0 }), true);
    assert.equal(await holds(leaf('x', 'lessThan', Number.NaN), { x: 1 }), false);
    assert.equal(await holds(leaf('x', 'notEqual', Number.NaN), { x: Number.NaN }), true);
    assert.equal(await holds(leaf('x', 'lessThan', Infinity), { x: 1e308 }), true);
    assert.equal(await holds(leaf('x', 'greaterThan', -Infinity), { x: -1e308 }), true);
    assert.equal(await holds(leaf('x', 'lessThanInclusive', 1e-7), { x: 1e-7 }), true);
    assert.equal(await holds(leaf('x', 'lessThan', 1e-7), { x: 1e-7 }), false);
    for (const odd of ['a"b', "it's", 'back\\slash', 'line\nbreak', 'sep\u2028arator', '${x}', '</script>'])
      for (const x of [odd, 'other']) {
        assert.equal(await holds(leaf('x', 'equal', odd), { x }), x === odd);
        assert.equal(await holds(leaf('x', 'in', `[${odd}]`), { x }), `[${odd}]`.includes(x));
      }
    // A number or null constant of `in` throws when evaluated; the rule still compiles.
    assert.equal(await holds(leaf('x', 'in', 5), { x: 5 }), 'error');
    assert.equal(await holds(leaf('x', 'notIn', -0.5), { x: 5 }), 'error');
  });

  it('in and notIn call value.indexOf: an array, a string (substring!), anything else throws', async () => {
    assert.equal(await holds(leaf('tier', 'in', [2, 3, 4]), { tier: 3 }), true);
    assert.equal(await holds(leaf('tier', 'in', [2, 3, 4]), { tier: '3' }), false);
    assert.equal(await holds(leaf('tier', 'in', [2, 3, 4]), {}), false);
    assert.equal(await holds(leaf('tier', 'in', [null]), { tier: null }), true);
    assert.equal(await holds(leaf('tier', 'notIn', [2, 3, 4]), {}), true);
    assert.equal(await holds(leaf('tier', 'notIn', [2, 3, 4]), { tier: 1 }), true);
    assert.equal(await holds(leaf('entity', 'in', 'web-1,web-2'), { entity: 'web-1' }), true);
    assert.equal(await holds(leaf('entity', 'in', 'web-1,web-2'), { entity: 'b-1' }), true);
    assert.equal(await holds(leaf('entity', 'in', 'web-1'), { entity: '' }), true);
    // String.prototype.indexOf(undefined) looks for "undefined".
    assert.equal(await holds(leaf('entity', 'in', 'an undefined thing'), {}), true);
    assert.equal(await holds(leaf('tier', 'in', 5), { tier: 5 }), 'error');
    assert.equal(await holds(leaf('tier', 'notIn', null), { tier: 5 }), 'error');
    assert.equal(await holds(leaf('tier', 'in', { a: 1 }), {}), 'error');
  });

  it('contains and doesNotContain need an array fact: an undefined or string fact is false for both', async () => {
    assert.equal(await holds(leaf('eventKinds', 'contains', 'deploy'), { eventKinds: ['deploy'] }), true);
    assert.equal(await holds(leaf('eventKinds', 'contains', 'deploy'), { eventKinds: 'deploy' }), false);
    assert.equal(await holds(leaf('eventKinds', 'contains', 'deploy'), {}), false);
    assert.equal(await holds(leaf('eventKinds', 'doesNotContain', 'deploy'), { eventKinds: [] }), true);
    assert.equal(await holds(leaf('eventKinds', 'doesNotContain', 'deploy'), {}), false);
    assert.equal(await holds(leaf('eventKinds', 'doesNotContain', 'de'), { eventKinds: 'abc' }), false);
    assert.equal(await holds(leaf('eventKinds', 'contains', [1]), { eventKinds: [[1]] }), false);
    assert.equal(await holds(leaf('eventKinds', 'contains', null), { eventKinds: [null] }), true);
  });

  it('compares one fact with another through value: {fact}', async () => {
    const over = leaf('cpu.avg', 'greaterThan', { fact: 'cpu.limit' });
    assert.equal(await holds(over, { 'cpu.avg': 90, 'cpu.limit': 80 }), true);
    assert.equal(await holds(over, { 'cpu.avg': 90, 'cpu.limit': '80' }), true);
    assert.equal(await holds(over, { 'cpu.avg': 90 }), false);
    assert.equal(await holds(leaf('a', 'equal', { fact: 'b' }), {}), true); // undefined === undefined
    assert.equal(await holds(leaf('a', 'in', { fact: 'b' }), { a: 1, b: [1] }), true);
    assert.equal(await holds(leaf('a', 'in', { fact: 'b' }), { a: 1 }), 'error');
    assert.equal(await holds(leaf('a', 'contains', { fact: 'b' }), { a: [1], b: 1 }), true);
  });

  it('reads fact ids literally: "cpu.avg" is a key, not a path', async () => {
    assert.equal(await holds(leaf('cpu.avg', 'equal', 1), { 'cpu.avg': 1 }), true);
    assert.equal(await holds(leaf('cpu.avg', 'equal', 1), { cpu: { avg: 1 } }), false);
    assert.equal(await holds(leaf('constructor', 'equal', undefined), {}), true);
    assert.equal(await holds(leaf('__proto__', 'equal', 1), JSON.parse('{"__proto__": 1}')), true);
  });
});

describe('CompiledRules: all, any and not', () => {
  const t = { fact: 'x', operator: 'equal', value: 1 };
  const f = { fact: 'x', operator: 'equal', value: 2 };
  const boom = { fact: 'x', operator: 'in', value: 5 };

  it('nests, and treats an empty all AND an empty any as true', async () => {
    const facts = { x: 1 };
    assert.equal(await holds({ all: [] }, facts), true);
    assert.equal(await holds({ any: [] }, facts), true);
    assert.equal(await holds({ not: { any: [] } }, facts), false);
    assert.equal(await holds({ all: [{ any: [] }, t] }, facts), true);
    assert.equal(await holds({ any: [f, { all: [t, { not: f }] }] }, facts), true);
    assert.equal(await holds({ not: { all: [t, { any: [f, { not: t }] }] } }, facts), true);
    assert.equal(await holds({ any: [f, f, f] }, facts), false);
  });

  it('evaluates every condition of a priority set, so a throwing one fails the rule even after a false one', async () => {
    const facts = { x: 1 };
    assert.equal(await holds({ all: [f, boom] }, facts), 'error');
    assert.equal(await holds({ any: [t, boom] }, facts), 'error');
    assert.equal(await holds({ not: boom }, facts), 'error');
    // A higher-priority set that decides stops the engine before the lower set that would throw.
    assert.equal(await holds({ all: [{ ...f, priority: 2 }, boom] }, facts), false);
    assert.equal(await holds({ any: [{ ...t, priority: 2 }, boom] }, facts), true);
    assert.equal(await holds({ all: [{ ...t, priority: 2 }, boom] }, facts), 'error');
    assert.equal(await holds({ all: [{ all: [f], priority: 3 }, { any: [boom, t] }] }, facts), false);
    // An undefined fact does not let the rule skip a sibling that throws.
    assert.equal(
      await holds({ all: [{ fact: 'y', operator: 'greaterThan', value: 1 }, boom] }, facts),
      'error',
    );
    assert.equal(
      await holds(
        { all: [{ fact: 'y', operator: 'greaterThan', value: 1 }, leaf('z', 'lessThan', 1).all[0]!] },
        { z: JSON.parse('{"toString": 1}') },
      ),
      'error',
    );
  });
});

describe('CompiledRules', () => {
  const rule = (name: string, priority: number, conditions: Record<string, unknown>): RuleInput => ({
    name,
    priority,
    conditions,
  });

  it('orders matches by priority, highest first, ties in input order, and evaluates synchronously', () => {
    const always = { all: [] };
    const rules = new CompiledRules([
      rule('a', 1, always),
      rule('b', 5, always),
      rule('c', 1, always),
      rule('d', 5, always),
    ]);
    const result = rules.evaluate({});
    assert.ok(!(result instanceof Promise));
    assert.deepEqual(result, { matched: ['b', 'd', 'a', 'c'], errors: [] });
    assert.deepEqual(rules.stats, { compiled: 4, fallback: 0 });
  });

  it('reports an error for the rule that throws only; the others still match', async () => {
    const rules = [
      rule('first', 10, leaf('cpu.avg', 'greaterThan', 85)),
      rule('typo', 5, leaf('cpu.avg', 'greaterThen', 85)),
      rule('broken-in', 5, leaf('tier', 'in', 2)),
      rule('last', 1, leaf('maintenance', 'equal', false)),
    ];
    const compiled = new CompiledRules(rules);
    assert.deepEqual(compiled.stats, { compiled: 3, fallback: 1 });
    assert.match(compiled.fallbacks[0]!.reason, /"greaterThen" is not a default operator/);
    const result = compiled.evaluate({ 'cpu.avg': 90, tier: 2, maintenance: false });
    assert.ok(result instanceof Promise);
    const { matched, errors } = await result;
    assert.deepEqual(matched, ['first', 'last']);
    assert.deepEqual(
      errors.map((e) => e.rule),
      ['typo', 'broken-in'],
    );
    assert.match(errors[0]!.error.message, /Unknown operator: greaterThen/);
    assert.ok(errors[1]!.error instanceof TypeError);
  });

  it('runs a rule with a path or params through json-rules-engine, and agrees with it', async () => {
    const rules = [
      rule('path', 2, {
        all: [{ fact: 'labels', path: '$.team', operator: 'equal', value: 'core' }],
      }),
      rule('params', 1, { any: [{ fact: 'x', params: { p: 1 }, operator: 'greaterThan', value: 1 }] }),
      rule('plain', 1, { all: [{ fact: 'x', operator: 'greaterThan', value: 1 }] }),
      rule('reference', 1, { all: [{ condition: 'shared' }] }),
    ];
    const compiled = new CompiledRules(rules);
    assert.deepEqual(compiled.stats, { compiled: 1, fallback: 3 });
    const answers = await assertAgrees(rules, [
      { labels: { team: 'core' }, x: 2 },
      { labels: { team: 'edge' }, x: '0' },
      { labels: 'core' },
      {},
    ]);
    assert.deepEqual(answers[0]!.matched, ['path', 'params', 'plain']);
    assert.match(answers[0]!.errors[0]!.error.message, /No condition shared exists/);
  });

  it('keeps concurrent evaluations through json-rules-engine apart', async () => {
    const compiled = new CompiledRules([
      rule('path', 1, { all: [{ fact: 'o', path: '$.v', operator: 'greaterThan', value: 50 }] }),
    ]);
    const values = Array.from({ length: 100 }, (_, i) => i);
    const results = await Promise.all(values.map((v) => compiled.evaluate({ o: { v } })));
    assert.deepEqual(
      results.map((r) => r.matched.length),
      values.map((v) => (v > 50 ? 1 : 0)),
    );
  });

  it('hands facts that are not plain data to json-rules-engine: dynamic facts, promises, Fact objects, a fact named ""', async () => {
    const rules = [rule('over', 1, leaf('x', 'greaterThan', 1)), rule('always', 1, { all: [] })];
    const [dynamic, promised, fact, empty] = await assertAgrees(rules, [
      { x: () => 5 },
      { x: Promise.resolve(5) },
      { y: new Fact('x', 5) },
      { '': 1, x: 5 },
    ]);
    assert.deepEqual(dynamic!.matched, ['over', 'always']);
    assert.deepEqual(promised!.matched, ['over', 'always']);
    assert.deepEqual(fact!.matched, ['over', 'always']);
    assert.deepEqual(empty!.matched, []);
    assert.match(empty!.errors[0]!.error.message, /factId required/);
  });

  it('refuses rules json-rules-engine refuses, and duplicate names, all in one error', () => {
    assert.throws(
      () =>
        new CompiledRules([
          rule('ok', 1, { all: [] }),
          rule('no-root', 1, { fact: 'x', operator: 'equal', value: 1 }),
          rule('not-array', 1, { all: { fact: 'x', operator: 'equal', value: 1 } }),
          rule('no-value', 1, { all: [{ fact: 'x', operator: 'equal' }] }),
          rule('ok', 1, { any: [] }),
          rule('negative', -1, { any: [] }),
        ]),
      (err: unknown) =>
        err instanceof RuleLoadError &&
        err.problems.length === 5 &&
        /"no-root".*root must contain/.test(err.problems[0]!) &&
        /"not-array".*must be an array/.test(err.problems[1]!) &&
        /"no-value".*"value" property required/.test(err.problems[2]!) &&
        /"ok": name: used by another rule/.test(err.problems[3]!) &&
        /"negative".*Priority must be greater than zero/.test(err.problems[4]!),
    );
  });

  it('does not change the rules it is given', () => {
    const conditions = { all: [{ fact: 'x', operator: 'equal', value: 1, priority: 2.5 }] };
    const before = JSON.stringify(conditions);
    const compiled = new CompiledRules([rule('r', 1, conditions)]);
    assert.deepEqual(compiled.evaluate({ x: 1 }), { matched: ['r'], errors: [] });
    assert.equal(JSON.stringify(conditions), before);
  });
});

const FACT_NAMES = [
  'cpu.avg',
  'cpu.max',
  'mem.avg',
  'errors.rate',
  'entity',
  'tier',
  'events',
  'eventKinds',
  'maintenance',
  'owner',
];
const OPERATORS = [
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
];
const NUMBERS = [-1, 0, 1, 2, 3, 5, 10, 50, 85, 90, 100, 2.5, 0.005, 1e21, Infinity];
const STRINGS = ['', 'a', 'abc', 'web-1', '90', '5', ' 85', '85px', '1,2', 'NaN', 'Infinity', 'undefined'];
const STRINGS_2 = ['null', 'deploy', 'alert', 'true', '[object Object]', 'team-a'];

/** Random rules and facts drawn from one seeded stream: numbers, strings, booleans, null, arrays, fact references. */
class Generator {
  private readonly random: () => number;

  constructor(readonly seed: number) {
    this.random = mulberry32(seed);
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.random() * list.length)]!;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  primitive(): unknown {
    const r = this.random();
    if (r < 0.4) return this.pick(NUMBERS);
    if (r < 0.75) return this.pick(this.chance(0.7) ? STRINGS : STRINGS_2);
    if (r < 0.88) return this.chance(0.5);
    return null;
  }

  array(): unknown[] {
    return Array.from({ length: this.int(0, 4) }, () =>
      this.chance(0.1) ? this.pick([[1], {}, [90]]) : this.primitive(),
    );
  }

  /** A constant for `value`, shaped to what the operator usually gets, with the odd wrong kind. */
  constant(operator: string): unknown {
    const r = this.random();
    switch (operator) {
      case 'in':
      case 'notIn':
        if (r < 0.78) return this.array();
        if (r < 0.97) return this.pick(this.chance(0.5) ? STRINGS : STRINGS_2);
        return this.chance(0.5) ? this.primitive() : {};
      case 'lessThan':
      case 'lessThanInclusive':
      case 'greaterThan':
      case 'greaterThanInclusive':
        if (r < 0.65) return this.pick(NUMBERS);
        if (r < 0.85) return this.pick(['90', '5', ' 85', '85px', 'abc', '']);
        return this.chance(0.5) ? this.primitive() : this.array();
      default:
        if (r < 0.8) return this.primitive();
        return this.chance(0.7) ? this.array() : { a: 1 };
    }
  }

  condition(depth: number): Record<string, unknown> {
    const node =
      depth >= 3 || this.chance(0.7) ? this.leaf() : this.boolean(depth, this.pick(['all', 'any', 'not']));
    // json-rules-engine groups a leaf by its raw priority and a boolean by parseInt(priority) || 1.
    if (this.chance(0.15)) node.priority = this.pick([1, 2, 3, 1, 2, 3, 2.5, -1, 0, 1e21]);
    return node;
  }

  boolean(depth: number, op: string): Record<string, unknown> {
    if (op === 'not') return { not: this.condition(depth + 1) };
    const count = this.chance(0.04) ? 0 : this.pick([1, 1, 2, 2, 3]);
    return { [op]: Array.from({ length: count }, () => this.condition(depth + 1)) };
  }

  leaf(): Record<string, unknown> {
    const operator = this.pick(OPERATORS);
    const fact = this.chance(0.05) ? 'nope' : this.pick(FACT_NAMES);
    // A reference for in/notIn mostly names a fact that is not an array, which throws: keep those rare.
    const refs = operator === 'in' || operator === 'notIn' ? 0.04 : 0.12;
    const value = this.chance(refs) ? { fact: this.pick(FACT_NAMES) } : this.constant(operator);
    return { fact, operator, value };
  }

  rule(i: number): RuleInput {
    return {
      name: `r${i}`,
      priority: this.int(1, 3),
      conditions: this.boolean(1, this.pick(['all', 'all', 'any', 'not'])),
    };
  }

  /** A fact value: mostly data as an observation carries it, rarely something whose coercion throws. */
  factValue(): unknown {
    const r = this.random();
    if (r < 0.3) return this.chance(0.05) ? Number.NaN : this.pick(NUMBERS);
    if (r < 0.55) return this.pick(this.chance(0.6) ? STRINGS : STRINGS_2);
    if (r < 0.62) return this.chance(0.5);
    if (r < 0.67) return null;
    if (r < 0.92) return this.array();
    if (r < 0.97) return this.pick([{}, { a: 1 }, undefined]);
    return this.pick([JSON.parse('{"toString": 1}'), Symbol('s'), 10n, [JSON.parse('{"valueOf": 1}')]]);
  }

  facts(): Facts {
    const facts: Facts = {};
    for (const name of FACT_NAMES) if (this.chance(0.7)) facts[name] = this.factValue();
    if (this.chance(0.3)) facts['extra.metric'] = this.factValue();
    return facts;
  }
}

/** What json-rules-engine said about one facts object, in the oracle worker. */
interface Verdict {
  /** The rules that matched, when engine.run resolved. */
  readonly matched?: string[];
  /** The error engine.run rejected with. */
  readonly threw?: string;
  /** Rules CompiledRules says fail that did not throw in an engine of their own. */
  readonly didNotThrow: string[];
}

/**
 * The oracle: json-rules-engine with all rules in one engine, in a worker thread. Inside a
 * node:test test (Node 20) every promise pays for the runner's async hooks, which makes
 * json-rules-engine five times slower; a worker has none, and the workers share the cores.
 * One throwing rule rejects a whole engine.run, so the rules CompiledRules says fail are taken
 * out of the run (which then shows that none of the others throws) and run each in an engine of
 * its own, where they must throw. Symbols cannot be posted; they travel as {__symbol__: true}.
 */
const ORACLE = `
const { parentPort, workerData } = require('node:worker_threads');
const { Engine, Rule } = require(workerData.engine);
const options = { allowUndefinedFacts: true };
// A copy each time: the Condition constructor parses leaf priorities in place, so a rule object
// built twice would not mean the same the second time.
const toRule = (r) => new Rule({ ...structuredClone(r), event: { type: 'match' } });
const rules = new Map(workerData.rules.map((r) => [r.name, r]));
const revive = (x) => {
  if (Array.isArray(x)) return x.map(revive);
  if (x === null || typeof x !== 'object') return x;
  if (x.__symbol__ === true) return Symbol('s');
  return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, revive(v)]));
};
const instances = () => new Map(workerData.rules.map((r) => [r.name, toRule(r)]));
(async () => {
  let all = instances();
  let engine = new Engine([...all.values()], options);
  const verdicts = [];
  for (let { facts, failing } of workerData.jobs) {
    facts = revive(facts);
    for (const name of failing) engine.removeRule(all.get(name));
    let verdict;
    try {
      verdict = { matched: (await engine.run(facts)).results.map((r) => r.name) };
      for (const name of failing) engine.addRule(all.get(name));
    } catch (err) {
      verdict = { threw: String(err) };
      // After a rejected run an Engine skips its rules on the next one: start over.
      all = instances();
      engine = new Engine([...all.values()], options);
    }
    verdict.didNotThrow = [];
    for (const name of failing) {
      try {
        await new Engine([toRule(rules.get(name))], options).run(facts);
        verdict.didNotThrow.push(name);
      } catch {}
    }
    verdicts.push(verdict);
  }
  parentPort.postMessage(verdicts);
})();
`;

/** `x` with each symbol as {__symbol__: true}, for postMessage. */
function postable(x: unknown): unknown {
  if (typeof x === 'symbol') return { __symbol__: true };
  if (Array.isArray(x)) return x.map(postable);
  if (x === null || typeof x !== 'object') return x;
  return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, postable(v)]));
}

function oracle(rules: RuleInput[], jobs: { facts: Facts; failing: string[] }[]): Promise<Verdict[]> {
  const engine = createRequire(import.meta.url).resolve('json-rules-engine');
  const worker = new Worker(ORACLE, { eval: true, execArgv: [], workerData: { engine, rules, jobs } });
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

/**
 * CompiledRules against the oracle on every facts object: the same rules match (as sets; the
 * order must be priority desc, then input order), and the same rules fail.
 */
async function differential(
  rules: RuleInput[],
  factsList: Facts[],
  seed: number,
): Promise<{ pairs: number; matched: number; threw: number }> {
  const compiled = new CompiledRules(rules);
  const answers: RuleSetMatch[] = [];
  for (const facts of factsList) answers.push(await compiled.evaluate(facts));
  const jobs = factsList.map((facts, i) => ({
    facts: postable(facts) as Facts,
    failing: answers[i]!.errors.map((e) => e.rule),
  }));
  const workers = Math.max(1, Math.min(4, availableParallelism()));
  const size = Math.ceil(jobs.length / workers);
  const slices = Array.from({ length: workers }, (_, w) => jobs.slice(w * size, (w + 1) * size));
  const verdicts = (await Promise.all(slices.map((slice) => oracle(rules, slice)))).flat();

  const byName = new Map(rules.map((r) => [r.name, r]));
  const rank = new Map(
    [...rules.entries()]
      .sort(([i, a], [j, b]) => b.priority - a.priority || i - j)
      .map(([, r], k) => [r.name, k]),
  );
  const problems: string[] = [];
  const explain = (name: string, facts: Facts, compiledSays: string, engineSays: string) =>
    `rule ${name} ${inspect(byName.get(name)!.conditions, { depth: 9, breakLength: 200 })}\n` +
    `  facts ${inspect(facts, { breakLength: 200 })}\n` +
    `  CompiledRules: ${compiledSays}; json-rules-engine: ${engineSays}`;
  for (const [i, facts] of factsList.entries()) {
    if (problems.length >= 5) break;
    const got = answers[i]!;
    const verdict = verdicts[i]!;
    if (verdict.matched) {
      const matched = new Set(got.matched);
      const want = new Set(verdict.matched);
      for (const name of new Set([...matched, ...want]))
        if (matched.has(name) !== want.has(name))
          problems.push(explain(name, facts, `matched ${matched.has(name)}`, `matched ${want.has(name)}`));
    } else {
      // A rule CompiledRules evaluated without error throws in json-rules-engine: find which.
      for (const r of rules)
        if (!got.errors.some((e) => e.rule === r.name)) {
          const said = await engineSays(r, facts);
          if (said instanceof Error)
            problems.push(explain(r.name, facts, 'no error', `throws ${said.message}`));
        }
      if (problems.length === 0) problems.push(`engine.run threw ${verdict.threw} on ${inspect(facts)}`);
    }
    for (const name of verdict.didNotThrow) {
      const error = got.errors.find((e) => e.rule === name)!.error;
      problems.push(explain(name, facts, `throws ${error.message}`, 'no error'));
    }
    const ordered = [...got.matched].sort((a, b) => rank.get(a)! - rank.get(b)!);
    if (ordered.join() !== got.matched.join())
      problems.push(`matches out of priority order: ${got.matched.join(', ')}`);
  }
  assert.deepEqual(
    problems,
    [],
    `seed ${seed} (rerun with COMPILED_RULES_SEED=${seed}):\n${problems.join('\n')}`,
  );
  return {
    pairs: rules.length * factsList.length,
    matched: answers.reduce((n, a) => n + a.matched.length, 0),
    threw: answers.reduce((n, a) => n + a.errors.length, 0),
  };
}

/** The comparison saw every outcome: (rule, facts) pairs that matched, did not match, and threw. */
function assertEveryOutcome(counts: { pairs: number; matched: number; threw: number }, seed: number): void {
  const { pairs, matched, threw } = counts;
  const said = `seed ${seed}: ${matched} of ${pairs} pairs matched, ${threw} threw`;
  assert.ok(matched >= pairs * 0.01, `too few matches to compare: ${said}`);
  assert.ok(threw >= pairs * 0.001, `too few errors to compare: ${said}`);
  assert.ok(pairs - matched - threw >= pairs * 0.1, `too few non-matches to compare: ${said}`);
}

describe('CompiledRules against json-rules-engine on random rules and facts', () => {
  // A new seed every run (printed on a failure, with how to rerun it): each run tries other rules.
  const seed = Number(process.env.COMPILED_RULES_SEED ?? Math.floor(Math.random() * 2 ** 31));

  it('matches the same rules, and fails the same rules, on 2,000 fact objects for 500 rules', async () => {
    const gen = new Generator(seed);
    const rules = Array.from({ length: 500 }, (_, i) => gen.rule(i));
    const factsList = Array.from({ length: 2000 }, () => gen.facts());
    const compiled = new CompiledRules(rules);
    assert.deepEqual(compiled.stats, { compiled: 500, fallback: 0 }, `seed ${seed}`);
    assertEveryOutcome(await differential(rules, factsList, seed), seed);
  });

  it('agrees with a mix of compiled rules and rules json-rules-engine runs (path, params)', async () => {
    const gen = new Generator(seed + 1);
    const rules = Array.from({ length: 60 }, (_, i) => {
      const r = gen.rule(i);
      if (i % 4 !== 0) return r;
      const extra = i % 8 === 0 ? { path: '$.a' } : { params: { window: '5m' } };
      return { ...r, conditions: { all: [r.conditions, { ...gen.leaf(), ...extra }] } };
    });
    const factsList = Array.from({ length: 300 }, () => {
      const facts = gen.facts();
      if (gen.chance(0.3)) facts[gen.pick(FACT_NAMES)] = { a: gen.factValue() };
      return facts;
    });
    assert.deepEqual(new CompiledRules(rules).stats, { compiled: 45, fallback: 15 }, `seed ${seed}`);
    assertEveryOutcome(await differential(rules, factsList, seed), seed);
  });
});
