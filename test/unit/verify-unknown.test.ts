/**
 * Unknown is not failure, and verification measures against the pre-incident normal: the
 * three-valued verify condition (Kleene logic over decide's leaves, json-rules-engine the
 * authority for known facts), the decision-time baseline, and the tracker with unknown results.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Engine } from 'json-rules-engine';
import type { Observation } from '../../services/common/contracts.js';
import { anomalyScore } from '../../services/common/facts-reference.js';
import { CompiledRules } from '../../services/decide/compiled-rules.js';
import { BaselineStore } from '../../services/sense/baseline.js';
import { VerifyCondition } from '../../services/verify/condition.js';
import { DecisionBaseline } from '../../services/verify/decision-baseline.js';
import { TriStateCondition } from '../../services/verify/tri-state.js';
import { VerificationTracker } from '../../services/verify/tracker.js';

const ACTED = 1_800_000_000_000;
const low = { fact: 'cpu.avg', operator: 'lessThan', value: 70 };
const calm = { fact: 'cpu.deviation', operator: 'lessThan', value: 2 };
const value = async (conditions: Record<string, unknown>, facts: Record<string, unknown>) =>
  (await new TriStateCondition(conditions).evaluate(facts)).value;

describe('TriStateCondition (Kleene logic)', () => {
  it('any(unknown, true) = true, any(unknown, false) = unknown', async () => {
    assert.equal(await value({ any: [calm, low] }, { 'cpu.avg': 50 }), true);
    assert.equal(await value({ any: [calm, low] }, { 'cpu.avg': 97 }), 'unknown');
  });

  it('all(unknown, false) = false, all(unknown, true) = unknown', async () => {
    assert.equal(await value({ all: [calm, low] }, { 'cpu.avg': 97 }), false);
    assert.equal(await value({ all: [calm, low] }, { 'cpu.avg': 50 }), 'unknown');
  });

  it('not(unknown) = unknown; not of a known value negates it', async () => {
    assert.equal(await value({ not: calm }, { 'cpu.avg': 50 }), 'unknown');
    assert.equal(await value({ not: calm }, { 'cpu.deviation': 5 }), true);
    assert.equal(await value({ not: { any: [calm, low] } }, { 'cpu.deviation': 5, 'cpu.avg': 50 }), false);
  });

  it('names the facts that were not known, only when the value is unknown', async () => {
    const c = new TriStateCondition({
      any: [calm, { fact: 'mem.avg', operator: 'lessThan', value: { fact: 'mem.max' } }],
    });
    assert.deepEqual(await c.evaluate({ 'mem.avg': 1 }), {
      value: 'unknown',
      unknown: ['cpu.deviation', 'mem.max'],
    });
    assert.deepEqual(await c.evaluate({ 'cpu.deviation': 1 }), { value: true, unknown: [] });
  });

  it('agrees with json-rules-engine whenever every fact is known (paths, references, priorities)', async () => {
    const trees: Record<string, unknown>[] = [
      { any: [calm, low] },
      { all: [{ not: calm }, { any: [low, { fact: 'tier', operator: 'in', value: [1, 2] }] }] },
      { all: [{ fact: 'labels', path: '$.team', operator: 'equal', value: 'core' }, low] },
      { any: [{ fact: 'cpu.avg', operator: 'greaterThan', value: { fact: 'cpu.baseline' } }, { all: [] }] },
      { all: [{ fact: 'eventKinds', operator: 'contains', value: 'deploy', priority: 5 }, { not: low }] },
    ];
    const factSets: Record<string, unknown>[] = [
      {
        'cpu.avg': 50,
        'cpu.deviation': 1,
        'cpu.baseline': 40,
        tier: 1,
        labels: { team: 'core' },
        eventKinds: [],
      },
      {
        'cpu.avg': 97,
        'cpu.deviation': 9,
        'cpu.baseline': 98,
        tier: 3,
        labels: { team: 'x' },
        eventKinds: ['deploy'],
      },
      {
        'cpu.avg': 69.9,
        'cpu.deviation': 2,
        'cpu.baseline': 69.9,
        tier: 2,
        labels: {},
        eventKinds: ['deploy'],
      },
    ];
    for (const conditions of trees)
      for (const facts of factSets) {
        const engine = new Engine([], { allowUndefinedFacts: true });
        engine.addRule({ conditions: conditions as never, event: { type: 'match' } });
        const expected = (await engine.run(facts)).results.length > 0;
        assert.equal(
          await value(conditions, facts),
          expected,
          `${JSON.stringify(conditions)} on ${JSON.stringify(facts)}`,
        );
      }
  });

  it('leaves decide two-valued: the same condition with a fact missing is false there', async () => {
    const rules = new CompiledRules([{ name: 'r', priority: 1, conditions: { not: calm } }]);
    const decided = await rules.evaluate({ 'cpu.avg': 97 });
    assert.deepEqual(decided.matched, ['r'], 'decide: not(missing < 2) = not(false) = true');
    assert.equal(await value({ not: calm }, { 'cpu.avg': 97 }), 'unknown', 'verify: unknown');
  });

  it('throws the error of a leaf whose facts are known, as json-rules-engine would', async () => {
    const c = new TriStateCondition({ all: [{ fact: 'cpu.avg', operator: 'nearly', value: 1 }] });
    await assert.rejects(c.evaluate({ 'cpu.avg': 1 }), /nearly/);
  });
});

describe('DecisionBaseline (the pre-incident normal)', () => {
  const reads = ['cpu.deviation', 'cpu.avg'];
  const hot: Record<string, unknown> = {
    'cpu.avg': 97,
    'cpu.last': 97,
    // What sense says once its baseline has learned the incident: the normal is 97 now.
    'cpu.baseline': 97,
    'cpu.deviation': 0.1,
    'cpu.anomaly': 0.0001,
    'cpu.spread': 1,
  };

  it('measures the observation against the decision-time baseline and spread, as sense does', () => {
    const b = new DecisionBaseline(
      reads,
      { 'cpu.baseline': 40, 'cpu.spread': 2, 'cpu.deviation': 28.5 },
      4.5,
    );
    const facts = { ...hot };
    b.apply(facts);
    assert.equal(facts['cpu.baseline'], 40);
    assert.equal(facts['cpu.spread'], 2);
    assert.equal(facts['cpu.deviation'], (97 - 40) / 2);
    assert.equal(facts['cpu.anomaly'], anomalyScore(28.5, 4.5));
    assert.deepEqual(b.describe(), { cpu: { source: 'decision', baseline: 40, spread: 2 } });
  });

  it("computes the deviation sense would have given with that baseline (the store's own numbers)", () => {
    const store = new BaselineStore({ warmupSamples: 5, learnMs: 1 });
    for (let i = 0; i < 40; i++) store.update('e', 'cpu', ACTED + i * 1000, 40 + (i % 3));
    const atDecision = store.facts('e', 'cpu')!;
    store.update('e', 'cpu', ACTED + 40_000, 97); // frozen: |deviation| >= 4, the state does not move
    const next = store.facts('e', 'cpu')!;
    const b = new DecisionBaseline(
      reads,
      { 'cpu.baseline': next.baseline, 'cpu.spread': atDecision.spread },
      4.5,
    );
    const facts: Record<string, unknown> = { 'cpu.last': 97 };
    b.apply(facts);
    assert.ok(
      Math.abs((facts['cpu.deviation'] as number) - next.deviation) < 1e-3 * next.deviation,
      `${facts['cpu.deviation']} vs ${next.deviation}`,
    );
  });

  it('keeps a metric with no baseline at decision time unknown for the whole verification', () => {
    const b = new DecisionBaseline(reads, { 'cpu.last': 97 }, 4.5);
    const facts = { ...hot };
    b.apply(facts);
    for (const stat of ['baseline', 'deviation', 'anomaly', 'spread'])
      assert.equal(facts[`cpu.${stat}`], undefined, `cpu.${stat} is not the newly learned value`);
    assert.equal(facts['cpu.avg'], 97, 'window features are untouched');
  });

  it('derives the spread of a decision from before `spread` from its deviation; an old workflow uses live facts', () => {
    const derived = new DecisionBaseline(
      reads,
      { 'cpu.baseline': 40, 'cpu.deviation': 20, 'cpu.last': 80 },
      4.5,
    );
    assert.deepEqual(derived.describe(), { cpu: { source: 'decision-derived', baseline: 40, spread: 2 } });
    const flat = new DecisionBaseline(
      reads,
      { 'cpu.baseline': 40, 'cpu.deviation': 0.2, 'cpu.last': 40.4 },
      4.5,
    );
    assert.equal(flat.metrics.get('cpu')!.source, 'live', 'a small deviation gives no reliable spread');
    const old = new DecisionBaseline(reads, undefined, 4.5);
    const facts = { ...hot };
    old.apply(facts);
    assert.deepEqual(
      facts,
      hot,
      'no decision baseline passed: the observation as it is (the behaviour before)',
    );
  });

  it('a verify condition on cpu.deviation does not verify an incident the live baseline has learned', async () => {
    const o: Observation = {
      entity: 'e',
      seq: 1,
      window: { start: ACTED, end: ACTED + 3000 },
      features: hot as never,
      events: [],
      ts: ACTED + 3000,
    };
    const live = new VerifyCondition({ any: [calm, low] });
    assert.equal((await live.check(o)).holds, true, 'against the learned baseline (the false verified)');
    const frozen = new VerifyCondition({ any: [calm, low] }, [], {
      decisionBaseline: { 'cpu.baseline': 40, 'cpu.spread': 2 },
    });
    assert.equal((await frozen.check(o)).holds, false);
    const none = new VerifyCondition({ any: [calm, low] }, [], { decisionBaseline: {} });
    assert.deepEqual(await none.check(o), { holds: 'unknown', unknown: ['cpu.deviation'] });
  });
});

describe('VerificationTracker with unknown results', () => {
  const o = (ms: number): Observation => ({
    entity: 'e',
    seq: ms,
    window: { start: ACTED + ms - 3000, end: ACTED + ms },
    features: {},
    events: [],
    ts: ACTED + ms,
  });
  const unknown = { holds: 'unknown' as const, unknown: ['cpu.deviation'] };

  it('an unknown observation neither advances nor breaks the streak', () => {
    const t = new VerificationTracker({ actedAt: ACTED, withinMs: 10_000, stableForMs: 3000 });
    t.observe(o(1000), true);
    t.observe(o(2000), unknown);
    assert.equal(t.evidence().holdingSince, ACTED + 1000, 'not broken');
    assert.equal(t.observe(o(4500), unknown), 'pending', 'an unknown one does not complete stableFor');
    assert.equal(t.observe(o(5000), true), 'verified', 'the next known one does');
    const broken = new VerificationTracker({ actedAt: ACTED, withinMs: 10_000, stableForMs: 3000 });
    broken.observe(o(1000), true);
    broken.observe(o(2000), unknown);
    broken.observe(o(3000), false);
    assert.equal(broken.evidence().holdingSince, null, 'a known false one breaks it');
  });

  it('is expired, not failed, at the deadline when no result was known; failed when a known one disproved it', () => {
    const t = new VerificationTracker({ actedAt: ACTED, withinMs: 5000, stableForMs: 0 });
    assert.equal(t.observe(o(1000), unknown), 'pending');
    assert.equal(t.observe(o(5000), unknown), 'expired');
    const e = t.evidence();
    assert.equal(e.observationsUnknown, 2);
    assert.deepEqual(e.unknownFacts, ['cpu.deviation']);
    assert.deepEqual(e.observations, [
      { seq: 1000, ts: ACTED + 1000, holds: 'unknown', unknown: ['cpu.deviation'] },
      { seq: 5000, ts: ACTED + 5000, holds: 'unknown', unknown: ['cpu.deviation'] },
    ]);
    const f = new VerificationTracker({ actedAt: ACTED, withinMs: 5000, stableForMs: 0 });
    f.observe(o(1000), false);
    assert.equal(f.observe(o(5000), unknown), 'failed');
  });

  it('on the wall clock: expired when only unknown results came, failed when the last known one was false', () => {
    const t = new VerificationTracker({ actedAt: ACTED, withinMs: 5000, stableForMs: 0 });
    t.observe(o(1000), unknown);
    assert.equal(t.expire(ACTED + 8000, 2000), 'expired');
    const f = new VerificationTracker({ actedAt: ACTED, withinMs: 5000, stableForMs: 2000 });
    f.observe(o(1000), false);
    f.observe(o(2000), unknown);
    assert.equal(f.expire(ACTED + 8000, 2000), 'failed');
  });
});
