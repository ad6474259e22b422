/**
 * The backtest skips the Decider on observations the compiled rules clear without building their
 * facts. That is exact only if `factOf` gives what `factsFor` holds under every name, and if
 * `CompiledRules.cannotMatch` never clears facts on which `evaluate` matches or fails a rule:
 * both checked here on random observations, against the starter rules and hand-made rules using
 * every operator, a fact reference, `not`, and facts that make rules throw.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { IncidentFact } from '../../services/classifier/model-types.js';
import type { Observation } from '../../services/common/contracts.js';
import { NO_CONTEXT_FACTS, type ContextFacts } from '../../services/common/context/context-files.js';
import { factOf, factsFor, isFeatureFact, plainFeatures } from '../../services/common/facts.js';
import { BOUND_ALWAYS_FACT, boundBeyondClassifier } from '../../services/backtest/classifier-bound.js';
import { Inert } from '../../services/backtest/inert.js';
import { Decider } from '../../services/decide/decider.js';
import { EpisodeTracker } from '../../services/decide/episodes.js';
import type { RuleSet } from '../../services/decide/rule-set.js';
import { CompiledRules, type RuleInput } from '../../services/decide/compiled-rules.js';
import { loadRuleSet } from '../../services/decide/rule-set.js';
import { seededRandom as mulberry32 } from '../../services/classifier/seeded-random.js';

const FEATURES = ['cpu.avg', 'cpu.deviation', 'cpu.count', 'mem.avg', 'errors.rate', 'entity', 'tier'];
const NAMES = [
  ...FEATURES,
  'events',
  'eventKinds',
  'maintenance',
  'maintenanceWindow',
  'service',
  'owner',
  'labels',
  'dependencies',
  'incident',
  'incident.class',
  'incident.confidence',
  'toString',
  'constructor',
  '__proto__',
  'missing',
];

/** Rules over every operator, a fact reference and not; `in` on a number fact throws in json-rules-engine. */
const HAND_MADE: RuleInput[] = [
  {
    name: 'hot',
    priority: 5,
    conditions: { all: [{ fact: 'cpu.avg', operator: 'greaterThan', value: 90 }] },
  },
  {
    name: 'over-mem',
    priority: 1,
    conditions: { any: [{ fact: 'cpu.avg', operator: 'greaterThanInclusive', value: { fact: 'mem.avg' } }] },
  },
  {
    name: 'deploy',
    priority: 1,
    conditions: {
      all: [
        { fact: 'eventKinds', operator: 'contains', value: 'deploy' },
        { not: { fact: 'errors.rate', operator: 'lessThan', value: 0.05 } },
      ],
    },
  },
  {
    name: 'tiered',
    priority: 2,
    conditions: {
      all: [
        { fact: 'tier', operator: 'in', value: [1, 2] },
        { fact: 'maintenance', operator: 'equal', value: false },
      ],
    },
  },
  {
    name: 'leak',
    priority: 3,
    conditions: {
      all: [
        { fact: 'mem.avg', operator: 'greaterThan', value: 80 },
        { fact: 'incident.class', operator: 'equal', value: 'memory_leak' },
        { fact: 'incident.confidence', operator: 'greaterThan', value: 0.6 },
      ],
    },
  },
  { name: 'owned', priority: 1, conditions: { all: [{ fact: 'owner', operator: 'notEqual', value: null }] } },
];

/**
 * A rule that always throws in json-rules-engine (it evaluates both conditions, and `in` calls
 * indexOf on labels, an object without one) though its first condition is mostly false, and a
 * plain rule: the check must never clear what throws.
 */
const THROWING: RuleInput[] = [
  {
    name: 'throws-when-hot',
    priority: 1,
    conditions: {
      all: [
        { fact: 'cpu.avg', operator: 'greaterThan', value: 95 },
        { fact: 'cpu.count', operator: 'in', value: { fact: 'labels' } },
      ],
    },
  },
  {
    name: 'hot',
    priority: 1,
    conditions: { all: [{ fact: 'cpu.avg', operator: 'greaterThan', value: 90 }] },
  },
];

class Gen {
  private readonly random: () => number;
  constructor(seed: number) {
    this.random = mulberry32(seed);
  }
  chance(p: number) {
    return this.random() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.random() * xs.length)]!;
  }
  observation(): Observation {
    const features: Record<string, number> = {};
    for (const f of FEATURES)
      if (this.chance(0.6)) features[f] = this.pick([0, 1, 2, 3, 4.5, 50, 85, 91, 97, 99, NaN]);
    // Now and then a feature that is no number: a function, a thenable, an object or a string.
    if (this.chance(0.05))
      (features as Record<string, unknown>)[this.pick(FEATURES)] = this.pick<unknown>([
        () => 99,
        { then: (resolve: (v: number) => void) => resolve(99) },
        { value: 99 },
        '99',
      ]);
    const events = Array.from({ length: this.chance(0.3) ? 2 : 0 }, (_, i) => ({
      entity: 'web-1',
      kind: this.pick(['deploy', 'alert', 'restart']),
      message: `event ${i}`,
      ts: 1_000 + i,
    }));
    return {
      entity: 'web-1',
      seq: 1,
      window: { start: 0, end: 30_000 },
      features,
      events,
      ts: 30_000,
    } as unknown as Observation;
  }
  context(): ContextFacts {
    if (this.chance(0.5)) return NO_CONTEXT_FACTS;
    return {
      maintenance: this.chance(0.3),
      maintenanceWindow: null,
      service: 'web',
      owner: this.pick(['team-a', null]),
      tier: this.pick([1, 2, 3, null]),
      labels: { team: 'a' },
      dependencies: ['db'],
    };
  }
  incident(): IncidentFact | null {
    if (this.chance(0.4)) return null;
    return {
      class: this.pick(['memory_leak', 'cpu_saturation', 'none']),
      confidence: this.pick([0.2, 0.7, 0.95]),
      probabilities: {},
      modelVersion: 'm1',
    };
  }
}

const seed = Number(process.env.BACKTEST_SKIP_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe('the backtest skip: factOf and CompiledRules.cannotMatch', () => {
  it('factOf gives what factsFor holds under every name', () => {
    const gen = new Gen(seed);
    for (let n = 0; n < 2000; n++) {
      const obs = gen.observation();
      const context = gen.context();
      const incident = gen.incident();
      const facts = factsFor(obs, context, incident);
      for (const name of NAMES) {
        const want = Object.prototype.propertyIsEnumerable.call(facts, name) ? facts[name] : undefined;
        assert.deepEqual(factOf(name, obs, context, incident), want, `seed ${seed}: ${name}`);
      }
    }
  });

  it('plainFeatures refuses a feature named "" or __proto__, or features that are not an object literal', () => {
    const obs = new Gen(seed).observation();
    assert.equal(plainFeatures({ ...obs, features: { 'cpu.avg': 1 } }), true);
    assert.equal(plainFeatures({ ...obs, features: { '': 1 } }), false);
    assert.equal(
      plainFeatures({ ...obs, features: JSON.parse('{"__proto__": 1}') as Record<string, number> }),
      false,
    );
    assert.equal(
      plainFeatures({ ...obs, features: Object.create({ 'cpu.avg': 99 }) as Record<string, number> }),
      false,
    );
  });

  it('clears only facts on which evaluate matches no rule and fails none', async () => {
    const { ruleSet, problems } = await loadRuleSet(path.resolve(import.meta.dirname, '..', '..', 'rules'));
    assert.deepEqual(problems, []);
    const sets = [ruleSet!.compiled, new CompiledRules(HAND_MADE), new CompiledRules(THROWING)];
    const gen = new Gen(seed + 1);
    const counts = sets.map(() => ({ cleared: 0, clearedUnclassified: 0, matched: 0, failed: 0, maybe: 0 }));
    for (let n = 0; n < 3000; n++) {
      const obs = gen.observation();
      const context = gen.context();
      const incident = gen.incident();
      for (const [k, compiled] of sets.entries()) {
        const count = counts[k]!;
        const cleared = compiled.cannotMatch(
          compiled.factNames.map((name) => factOf(name, obs, context, incident)),
        );
        const got = await compiled.evaluate(factsFor(obs, context, incident));
        // Before the classifier ran: cleared whatever it answers (`incident` stands for any answer).
        const names = compiled.factNames;
        const unknown = names.map((n) => n === 'incident.class' || n === 'incident.confidence');
        if (!names.includes('incident')) {
          const values = names.map((name) => factOf(name, obs, context, null));
          if (compiled.cannotMatch(values, unknown)) {
            count.clearedUnclassified++;
            assert.deepEqual(
              { matched: got.matched, errors: got.errors.map((e) => e.rule) },
              { matched: [], errors: [] },
              `seed ${seed}: cleared unclassified ${JSON.stringify({ features: obs.features, context, incident })}`,
            );
          }
        }
        if (got.matched.length > 0) count.matched++;
        if (got.errors.length > 0) count.failed++;
        if (cleared) {
          count.cleared++;
          assert.deepEqual(
            { matched: got.matched, errors: got.errors.map((e) => e.rule) },
            { matched: [], errors: [] },
            `seed ${seed}: cleared ${JSON.stringify({ features: obs.features, context, incident })}`,
          );
        } else if (got.matched.length === 0 && got.errors.length === 0) count.maybe++;
      }
    }
    // Every outcome was seen, and the check clears most observations that match nothing.
    const [starter, hand, throwing] = counts as [(typeof counts)[0], (typeof counts)[0], (typeof counts)[0]];
    const said = JSON.stringify(counts);
    assert.ok(starter.matched > 100 && hand.matched > 100 && throwing.failed > 100, said);
    assert.ok(starter.cleared > 4 * starter.maybe && hand.cleared > 4 * hand.maybe, said);
    assert.ok(starter.clearedUnclassified > 100 && hand.clearedUnclassified > 100, said);
  });

  it('boundBeyondClassifier clears only facts on which no classifier answer matches or fails a rule', async () => {
    const { ruleSet } = await loadRuleSet(path.resolve(import.meta.dirname, '..', '..', 'rules'));
    // A classifier condition under `not` is replaced by false: the rule may still match.
    const negated: RuleInput = {
      name: 'hot-unless-known',
      priority: 1,
      conditions: {
        all: [
          { fact: 'cpu.avg', operator: 'greaterThan', value: 90 },
          { not: { fact: 'incident.class', operator: 'equal', value: 'cpu_saturation' } },
          { fact: 'incident.confidence', operator: 'lessThan', value: { fact: 'cpu.deviation' } },
        ],
      },
    };
    const sets = [ruleSet!.rules, [...HAND_MADE, negated], THROWING];
    const answers: (IncidentFact | null)[] = [null];
    for (const cls of ['memory_leak', 'cpu_saturation', 'none'])
      for (const confidence of [0, 0.65, 0.95, 1])
        answers.push({ class: cls, confidence, probabilities: {}, modelVersion: 'm1' });
    const gen = new Gen(seed + 2);
    const counts = sets.map(() => ({ bound: 0, unknown: 0 }));
    for (const [k, rules] of sets.entries()) {
      const bound = boundBeyondClassifier(rules);
      assert.ok(bound, `set ${k} has a bound`);
      const compiled = new CompiledRules(rules);
      const names = compiled.factNames;
      const unknown = names.map((n) => n === 'incident.class' || n === 'incident.confidence');
      for (let n = 0; n < 3000; n++) {
        const obs = gen.observation();
        const context = gen.context();
        const values = bound.factNames.map((name) =>
          name === BOUND_ALWAYS_FACT ? true : factOf(name, obs, context, null),
        );
        if (
          compiled.cannotMatch(
            names.map((name) => factOf(name, obs, context, null)),
            unknown,
          )
        )
          counts[k]!.unknown++;
        if (!bound.cannotMatch(values)) continue;
        counts[k]!.bound++;
        for (const incident of answers) {
          const got = await compiled.evaluate(factsFor(obs, context, incident));
          assert.deepEqual(
            { matched: got.matched, errors: got.errors.map((e) => e.rule) },
            { matched: [], errors: [] },
            `seed ${seed}: bound cleared ${JSON.stringify({ features: obs.features, context, incident })}`,
          );
        }
      }
    }
    // At least what the unknown-facts check clears, and more where a classifier rule fails on
    // other facts that are defined (the hand-made leak rule at mem.avg ≤ 80).
    const said = JSON.stringify(counts);
    assert.ok(counts.every((c) => c.bound >= c.unknown) && counts[1]!.bound > counts[1]!.unknown, said);
    // No bound where it would not be exact: a rule reading the whole `incident`.
    const whole: RuleInput = {
      name: 'whole',
      priority: 1,
      conditions: { all: [{ fact: 'incident', operator: 'notEqual', value: null }] },
    };
    assert.equal(boundBeyondClassifier([...HAND_MADE, whole]), undefined);
  });

  it('boundBeyondClassifier onlyReaders clears only facts on which every classifier answer matches and fails the same rules', async () => {
    const { ruleSet } = await loadRuleSet(path.resolve(import.meta.dirname, '..', '..', 'rules'));
    const negated: RuleInput = {
      name: 'hot-unless-known',
      priority: 1,
      conditions: {
        all: [
          { fact: 'cpu.avg', operator: 'greaterThan', value: 90 },
          { not: { fact: 'incident.class', operator: 'equal', value: 'cpu_saturation' } },
        ],
      },
    };
    const sets = [ruleSet!.rules, [...HAND_MADE, negated], [...THROWING, HAND_MADE[4]!]];
    const answers: (IncidentFact | null)[] = [null];
    for (const cls of ['memory_leak', 'cpu_saturation', 'none'])
      for (const confidence of [0, 0.65, 0.95, 1])
        answers.push({ class: cls, confidence, probabilities: {}, modelVersion: 'm1' });
    const gen = new Gen(seed + 3);
    const counts = sets.map(() => ({ cleared: 0, matchedCleared: 0, differ: 0 }));
    for (const [k, rules] of sets.entries()) {
      const readers = boundBeyondClassifier(rules, { onlyReaders: true });
      assert.ok(readers, `set ${k} has a bound`);
      const compiled = new CompiledRules(rules);
      for (let n = 0; n < 3000; n++) {
        const obs = gen.observation();
        const context = gen.context();
        const outcomes = new Set<string>();
        for (const incident of answers) {
          const got = await compiled.evaluate(factsFor(obs, context, incident));
          outcomes.add(JSON.stringify({ matched: got.matched, errors: got.errors.map((e) => e.rule) }));
        }
        if (outcomes.size > 1) counts[k]!.differ++;
        const values = readers.factNames.map((name) =>
          name === BOUND_ALWAYS_FACT ? true : factOf(name, obs, context, null),
        );
        if (!readers.cannotMatch(values)) continue;
        counts[k]!.cleared++;
        if (!outcomes.has(JSON.stringify({ matched: [], errors: [] }))) counts[k]!.matchedCleared++;
        assert.equal(
          outcomes.size,
          1,
          `seed ${seed}: onlyReaders cleared ${JSON.stringify({ features: obs.features, context })} where answers differ: ${[...outcomes].join(' ')}`,
        );
      }
    }
    // It clears observations some rule matches (those the full bound cannot clear), and in the
    // hand-made sets the answer does change the outcome elsewhere (the check can fail; the
    // generator gives none of the facts the starter classifier rules need besides it).
    const said = JSON.stringify(counts);
    assert.ok(counts.every((c) => c.cleared > 100) && counts[1]!.matchedCleared > 100, said);
    assert.ok(counts[1]!.differ > 50 && counts[2]!.differ > 50, said);
  });

  it("the replay's Inert answers as cannotMatch on every fact read with factOf, for the rules, their bound and the classifier readers' bound", async () => {
    const { ruleSet } = await loadRuleSet(path.resolve(import.meta.dirname, '..', '..', 'rules'));
    const sets = [ruleSet!.rules, HAND_MADE, THROWING];
    const gen = new Gen(seed + 4);
    const counts = sets.map(() => ({ cleared: 0, kept: 0, bound: 0, readers: 0 }));
    for (const [k, rules] of sets.entries()) {
      let context: ContextFacts = NO_CONTEXT_FACTS;
      const compiled = new CompiledRules(rules);
      const set = { rules, compiled, context: { factsFor: () => context } } as unknown as RuleSet;
      const inert = new Inert(set);
      const bound = Inert.beyondClassifier(set)!;
      const readers = Inert.beyondClassifier(set, { onlyReaders: true })!;
      const boundCompiled = boundBeyondClassifier(rules)!;
      const readersCompiled = boundBeyondClassifier(rules, { onlyReaders: true })!;
      const unknown = compiled.factNames.map((n) => n === 'incident.class' || n === 'incident.confidence');
      const valuesOf = (c: CompiledRules, incident: IncidentFact | null) =>
        c.factNames.map((name) => (name === BOUND_ALWAYS_FACT ? true : factOf(name, obs, context, incident)));
      let obs = gen.observation();
      for (let n = 0; n < 3000; n++) {
        obs = gen.observation();
        context = gen.context();
        const incident = gen.incident();
        const said = `seed ${seed}: set ${k} ${JSON.stringify({ features: obs.features, context, incident })}`;
        const cleared = inert.test(obs, incident);
        assert.equal(cleared, compiled.cannotMatch(valuesOf(compiled, incident)), said);
        assert.equal(
          inert.testUnclassified(obs),
          compiled.cannotMatch(valuesOf(compiled, null), unknown),
          said,
        );
        assert.equal(bound.test(obs, null), boundCompiled.cannotMatch(valuesOf(boundCompiled, null)), said);
        assert.equal(
          readers.test(obs, null),
          readersCompiled.cannotMatch(valuesOf(readersCompiled, null)),
          said,
        );
        if (cleared) {
          counts[k]!.cleared++;
          const got = await compiled.evaluate(factsFor(obs, context, incident));
          assert.deepEqual(
            { matched: got.matched, errors: got.errors.length },
            { matched: [], errors: 0 },
            said,
          );
        } else counts[k]!.kept++;
        if (bound.test(obs, null)) counts[k]!.bound++;
        if (readers.test(obs, null)) counts[k]!.readers++;
      }
    }
    const said = JSON.stringify(counts);
    // The throwing set is never cleared (its careful rule may throw): the others are, often.
    assert.ok(
      counts.every((c) => c.kept > 100) && counts[0]!.cleared > 100 && counts[1]!.cleared > 100,
      said,
    );
    assert.ok(counts[0]!.bound > 100 && counts[1]!.bound > 100, said);
  });

  it('the Decider given the facts Inert read (its checkedValues) decides exactly as on the whole facts object', async () => {
    const { ruleSet } = await loadRuleSet(path.resolve(import.meta.dirname, '..', '..', 'rules'));
    const set = ruleSet!;
    const inert = new Inert(set);
    // Every feature the starter rules read, at values on either side of their thresholds.
    const features = set.compiled.factNames.filter(isFeatureFact);
    const random = mulberry32(seed + 5);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const options = { maxDecisionAgeMs: 3 * 60_000 };
    const whole = new Decider(set, { ...options, episodes: new EpisodeTracker() });
    const known = new Decider(set, { ...options, episodes: new EpisodeTracker() });
    const counts = { known: 0, decisions: 0, held: 0, suppressed: 0 };
    let end = 0;
    for (let n = 0; n < 4000; n++) {
      const values: Record<string, number> = {};
      for (const f of features)
        if (random() < 0.7) values[f] = pick([-4, -1, 0, 0.5, 1, 2.6, 3, 5, 20, 50, 85, 91, 97, 99, 600]);
      // Each entity's episodes begin, hold and end: a few entities, minutes to hours apart.
      end += pick([1, 1, 5, 30, 120]) * 60_000;
      const obs = {
        entity: pick(['web-1', 'web-2', 'web-3', 'db-1', 'db-2', 'cache-1']),
        seq: n,
        window: { start: end - 15 * 60_000, end },
        features: values,
        events: random() < 0.2 ? [{ entity: 'web-1', kind: 'deploy', message: 'v2', ts: end - 1_000 }] : [],
        ts: end,
      } as unknown as Observation;
      const incident: IncidentFact | null =
        random() < 0.5
          ? null
          : {
              class: pick(['memory_leak', 'cpu_saturation']),
              confidence: 0.9,
              probabilities: {},
              modelVersion: 'm1',
            };
      // Now and then "now" is late: stale decisions and deferred episodes.
      const now = end + (random() < 0.1 ? 10 * 60_000 : 0);
      const cleared = inert.test(obs, incident);
      const checked = inert.checkedValues;
      if (checked !== undefined) counts.known++;
      const want = await whole.decide(obs, now, incident);
      // The skipped observations are decided too: the same Decided (nothing), episodes stepped alike.
      const got = await known.decide(obs, now, incident, 0, checked);
      assert.equal(JSON.stringify(got), JSON.stringify(want), `seed ${seed}: ${JSON.stringify(obs)}`);
      if (cleared) assert.equal(want.decisions.length + want.held.length + want.failures.length, 0);
      counts.decisions += want.decisions.length;
      counts.held += want.held.length;
      counts.suppressed += want.suppressed.length;
    }
    const said = JSON.stringify(counts);
    assert.ok(counts.known > 3000 && counts.decisions > 100 && counts.held > 100, said);
  });
});
