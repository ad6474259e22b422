import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Observation } from '../../services/common/contracts.js';
import { VerifyCondition } from '../../services/verify/condition.js';
import { ObservationState } from '../../services/verify/observation-state.js';
import { VerificationTracker } from '../../services/verify/tracker.js';

const ACTED = 1_800_000_000_000;
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
  it('evaluates a json-rules-engine condition on the observation features', async () => {
    const c = new VerifyCondition({ all: [{ fact: 'cpu.avg', operator: 'lessThan', value: 70 }] });
    assert.equal(await c.holds(obs(ACTED, 50)), true);
    assert.equal(await c.holds(obs(ACTED, 80)), false);
    const missing = new VerifyCondition({ all: [{ fact: 'latency.p95', operator: 'lessThan', value: 100 }] });
    assert.equal(await missing.holds(obs(ACTED, 50)), false);
  });
});

describe('ObservationState', () => {
  it('replays kept observations newer than the action, then streams new ones', () => {
    const s = new ObservationState(3);
    for (const ts of [1, 2, 3, 4]) s.add(obs(ACTED + ts * 1000, 50));
    s.add(obs(ACTED, 1, 'other'));
    const seen: number[] = [];
    const stop = s.subscribe('e', ACTED + 2000, (o) => seen.push(o.ts - ACTED));
    s.add(obs(ACTED + 5000, 50));
    stop();
    s.add(obs(ACTED + 6000, 50));
    assert.deepEqual(seen, [3000, 4000, 5000]);
  });
});
