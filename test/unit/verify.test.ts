import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Observation } from '../../services/common/contracts.js';
import { VerifyCondition } from '../../services/verify/condition.js';
import { ObservationState } from '../../services/verify/observation-state.js';
import { VerificationTracker } from '../../services/verify/tracker.js';

const ACTED = 1_800_000_000_000;
/** Whether the condition held on `o` (true, false or 'unknown'). */
const holds = async (c: VerifyCondition, o: Observation) => (await c.check(o)).holds;
const obs = (ts: number, cpu: number, entity = 'e'): Observation => ({
  entity,
  seq: 0,
  window: { start: ts - 3000, end: ts },
  features: { 'cpu.avg': cpu },
  events: [],
  ts,
});

describe('VerificationTracker', () => {
  it('verifies once the condition has held for stableFor, before the deadline', () => {
    const t = new VerificationTracker({ actedAt: ACTED, withinMs: 10_000, stableForMs: 2000 });
    assert.equal(t.observe(obs(ACTED - 500, 10), true), 'pending', 'pre-action observations do not count');
    assert.equal(t.observe(obs(ACTED + 1000, 50), true), 'pending');
    assert.equal(t.observe(obs(ACTED + 2000, 90), false), 'pending', 'a break resets the streak');
    assert.equal(t.observe(obs(ACTED + 3000, 50), true), 'pending');
    assert.equal(t.observe(obs(ACTED + 4000, 50), true), 'pending');
    assert.equal(t.observe(obs(ACTED + 5000, 50), true), 'verified');
    assert.equal(t.evidence().observationsChecked, 5);
    assert.equal(t.evidence().holdingSince, ACTED + 3000);
    assert.deepEqual(
      (t.evidence().observations as Array<{ ts: number; holds: boolean }>).map((o) => [
        o.ts - ACTED,
        o.holds,
      ]),
      [
        [1000, true],
        [2000, false],
        [3000, true],
        [4000, true],
        [5000, true],
      ],
      'the evidence lists each checked observation with its time and result',
    );
  });

  it('fails when an observation past the deadline arrives unverified', () => {
    const t = new VerificationTracker({ actedAt: ACTED, withinMs: 5000, stableForMs: 0 });
    assert.equal(t.observe(obs(ACTED + 4000, 95), false), 'pending');
    assert.equal(t.observe(obs(ACTED + 6000, 95), false), 'failed');
    assert.equal(t.observe(obs(ACTED + 7000, 10), true), 'failed', 'settled stays settled');
  });

  it('expires on the wall clock when no observation arrived: no data is not a failure', () => {
    const t = new VerificationTracker({ actedAt: ACTED, withinMs: 5000, stableForMs: 0 });
    assert.equal(t.expire(ACTED + 6000, 2000), 'pending');
    assert.equal(t.expire(ACTED + 7001, 2000), 'expired');
    assert.equal(t.evidence().lastObservation, null);
  });

  it('fails on the wall clock when the last observation disproved it, expires when a streak was cut off', () => {
    const failed = new VerificationTracker({ actedAt: ACTED, withinMs: 5000, stableForMs: 3000 });
    failed.observe(obs(ACTED + 1000, 95), false);
    assert.equal(failed.expire(ACTED + 8000, 2000), 'failed');
    const cut = new VerificationTracker({ actedAt: ACTED, withinMs: 5000, stableForMs: 3000 });
    cut.observe(obs(ACTED + 1000, 95), false);
    cut.observe(obs(ACTED + 2000, 50), true);
    assert.equal(
      cut.expire(ACTED + 8000, 2000),
      'expired',
      'held, but not for stableFor before data stopped',
    );
  });
});

describe('VerifyCondition', () => {
  it('evaluates a json-rules-engine condition on the observation features; a missing fact is unknown', async () => {
    const c = new VerifyCondition({ all: [{ fact: 'cpu.avg', operator: 'lessThan', value: 70 }] });
    assert.deepEqual(await c.check(obs(ACTED, 50)), { holds: true, unknown: [] });
    assert.deepEqual(await c.check(obs(ACTED, 80)), { holds: false, unknown: [] });
    const missing = new VerifyCondition({ all: [{ fact: 'latency.p95', operator: 'lessThan', value: 100 }] });
    assert.deepEqual(await missing.check(obs(ACTED, 50)), { holds: 'unknown', unknown: ['latency.p95'] });
  });
});

describe('VerifyCondition relativeTo (decision-time values)', () => {
  const rel = (features: Record<string, number>): Observation => ({ ...obs(ACTED + 1000, 50), features });
  const always = { all: [{ fact: 'cpu.count', operator: 'greaterThanInclusive', value: 0 }] };

  it('holds when the value fell to at most the given share of what it was, and not otherwise', async () => {
    const c = new VerifyCondition(always, [{ fact: 'errors.avg', atMost: 0.5 }], {
      decisionValues: { 'errors.avg': 20 },
    });
    assert.equal(await holds(c, rel({ 'cpu.count': 6, 'errors.avg': 9 })), true);
    assert.equal(await holds(c, rel({ 'cpu.count': 6, 'errors.avg': 10 })), true, 'exactly half');
    assert.equal(await holds(c, rel({ 'cpu.count': 6, 'errors.avg': 11 })), false);
    assert.deepEqual(c.compare(rel({ 'cpu.count': 6, 'errors.avg': 11 })), [
      { fact: 'errors.avg', decisionValue: 20, value: 11, limit: 10, holds: false },
    ]);
  });

  it('holds when the value rose to at least the given multiple of what it was, and not otherwise', async () => {
    const c = new VerifyCondition(always, [{ fact: 'throughput.avg', atLeast: 1.2 }], {
      decisionValues: { 'throughput.avg': 100 },
    });
    assert.equal(await holds(c, rel({ 'cpu.count': 6, 'throughput.avg': 130 })), true);
    assert.equal(await holds(c, rel({ 'cpu.count': 6, 'throughput.avg': 110 })), false);
  });

  it('proves nothing either way when either value is missing (unknown), and needs the condition too', async () => {
    const c = new VerifyCondition(always, [{ fact: 'errors.avg', atMost: 0.5 }], {});
    assert.deepEqual(
      await c.check(rel({ 'cpu.count': 6, 'errors.avg': 1 })),
      { holds: 'unknown', unknown: ['errors.avg'] },
      'no decision-time value',
    );
    const twenty = { decisionValues: { 'errors.avg': 20 } };
    const d = new VerifyCondition(always, [{ fact: 'errors.avg', atMost: 0.5 }], twenty);
    assert.equal(await holds(d, rel({ 'cpu.count': 6 })), 'unknown', 'no value now');
    const e = new VerifyCondition(
      { all: [{ fact: 'cpu.avg', operator: 'lessThan', value: 70 }] },
      [{ fact: 'errors.avg', atMost: 0.5 }],
      twenty,
    );
    assert.equal(await holds(e, rel({ 'cpu.avg': 90, 'errors.avg': 1 })), false, 'the condition fails');
    assert.equal(await holds(e, rel({ 'cpu.avg': 90 })), false, 'false and unknown is false');
  });
});

describe('ObservationState', () => {
  it('keeps only watched entities, replays what it kept since the action, then streams new ones', () => {
    const s = new ObservationState(3);
    s.add(obs(ACTED + 1000, 50));
    assert.equal(s.entities, 0, 'an unwatched entity is not kept');
    assert.equal(s.droppedTotal, 1);
    const seen: number[] = [];
    const stop = s.watch('e', ACTED + 2000, (o) => seen.push(o.ts - ACTED));
    for (const ts of [1, 2, 3, 4]) s.add(obs(ACTED + ts * 1000, 50));
    s.add(obs(ACTED, 1, 'other'));
    assert.deepEqual(seen, [3000, 4000]);
    assert.equal(s.observations, 3, 'at most maxPerEntity kept');
    const late: number[] = [];
    const stopLate = s.watch('e', ACTED, (o) => late.push(o.ts - ACTED));
    assert.deepEqual(late, [2000, 3000, 4000], 'a second watcher gets the kept ones');
    stop();
    stopLate();
    assert.equal(s.entities, 0, 'forgotten with its last watcher');
    assert.equal(s.observations, 0);
  });

  it('merges a read-back with the live stream, once each, in event-time order', () => {
    const s = new ObservationState();
    const seen: number[] = [];
    const stop = s.watch('e', ACTED, (o) => seen.push(o.ts - ACTED));
    s.add(obs(ACTED + 3000, 50));
    s.load('e', [obs(ACTED + 2000, 50), obs(ACTED + 3000, 50), obs(ACTED + 1000, 50), obs(ACTED - 1000, 50)]);
    assert.deepEqual(seen, [3000, 1000, 2000], 'the duplicate and the pre-action one are not announced');
    assert.deepEqual(
      s.snapshot('e', ACTED).map((o) => o.ts - ACTED),
      [1000, 2000, 3000],
    );
    stop();
  });

  it('grows with the watched entities, not with the fleet', () => {
    const s = new ObservationState(16);
    const stops = Array.from({ length: 10 }, (_, i) => s.watch(`w-${i}`, 0, () => {}));
    for (let round = 0; round < 20; round++)
      for (let e = 0; e < 5000; e++) s.add(obs(ACTED + round * 1000, 50, e < 10 ? `w-${e}` : `fleet-${e}`));
    assert.equal(s.entities, 10);
    assert.equal(s.observations, 10 * 16);
    for (const stop of stops) stop();
    assert.equal(s.entities, 0);
  });
});
