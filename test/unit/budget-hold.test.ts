/**
 * The action budget's lane hold (pure state, no server): a grant made while less urgent lanes wait
 * holds them back until its remediation reports it acted, it is released, or the hold times out;
 * without `laneHoldMs` (act workers from before it) nothing is held.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../services/common/config.js';
import type { BudgetLimits, LeaseRequest } from '../../workflows/definitions.js';
import { ActionBudgetState, type Outgoing } from '../../workflows/guard-state.js';

const T0 = 1_800_000_000_000;
/** One action a second fleet-wide, a 60 s hold. */
const LIMITS: BudgetLimits = {
  maxConcurrentPerAction: 100,
  maxConcurrentPerRule: 100,
  maxActionsPerPeriod: 1,
  periodMs: 1000,
  maxDeferred: 1000,
  laneHoldMs: 60_000,
};
const req = (holder: string, lane: number, action = 'clean_disk'): LeaseRequest => ({
  holder,
  entity: holder,
  rule: action,
  action,
  cooldownMs: 0,
  lane,
  fairnessKey: `service:${holder}`,
});
const granted = (out: Outgoing[]) => out.filter((o) => o.answer.result === 'granted').map((o) => o.holder);

/** A budget whose period slot `r0` took, with routine r1..r3 waiting and `urgent` waiting behind them. */
function storm(limits: BudgetLimits) {
  const b = new ActionBudgetState({ limits });
  b.request(req('r0', 4), limits, T0);
  for (let i = 1; i <= 3; i++) b.request(req(`r${i}`, 4), limits, T0 + i);
  b.request(req('urgent', 1, 'rollback'), limits, T0 + 10);
  return b;
}

describe('the action budget’s lane hold', () => {
  it('holds the routine lane after an urgent grant until the urgent action is reported acted', () => {
    const b = storm(LIMITS);
    const first = b.drain(T0 + 1000);
    assert.deepEqual(granted(first), ['urgent']);
    assert.equal(first.find((o) => o.holder === 'urgent')?.answer.reportActed, true, 'asked to report');
    // Periods pass, slots free: no routine grant while the urgent action is on its way.
    for (let t = 2000; t <= 30_000; t += 1000) assert.deepEqual(granted(b.drain(T0 + t)), []);
    const waiting = b.status(T0 + 30_000).deferred;
    assert.match(waiting[0]!.reason, /lane 1 urgent acts first, before lane 4 \(AUTOGLM_LANE_HOLD=60s\)/);
    assert.deepEqual(granted(b.acted('urgent', T0 + 30_500)), ['r1']);
    assert.deepEqual(granted(b.drain(T0 + 31_500)), ['r2'], 'then one a period again');
  });

  it('lets the routine lane go when the hold times out (a lost urgent remediation) or on release', () => {
    const b = storm(LIMITS);
    assert.deepEqual(granted(b.drain(T0 + 1000)), ['urgent']);
    assert.deepEqual(granted(b.drain(T0 + 2000)), []);
    assert.equal(b.msToNextSlot(T0 + 2000), 59_000, 'the budget wakes when the hold ends');
    assert.deepEqual(granted(b.drain(T0 + 60_999)), []);
    assert.deepEqual(granted(b.drain(T0 + 61_000)), ['r1']);

    const c = storm(LIMITS);
    c.drain(T0 + 1000);
    assert.deepEqual(granted(c.release('urgent', T0 + 5000)), ['r1'], 'released without acting');
  });

  it('holds only less urgent lanes, and only when they waited at the grant; a hold survives continue-as-new', () => {
    const b = new ActionBudgetState({ limits: LIMITS });
    // Nothing waits: no hold, no report asked.
    const alone = b.request(req('u0', 1, 'rollback'), LIMITS, T0);
    assert.deepEqual(granted(alone), ['u0']);
    assert.equal(alone[0]!.answer.reportActed, undefined);
    b.request(req('r1', 4), LIMITS, T0 + 1);
    assert.deepEqual(granted(b.drain(T0 + 1000)), ['r1'], 'u0 holds nothing');
    // An urgent grant with routine waiting holds lane 4, not lane 1.
    b.request(req('r2', 4), LIMITS, T0 + 1001);
    b.request(req('u1', 1, 'rollback'), LIMITS, T0 + 1002);
    assert.deepEqual(granted(b.drain(T0 + 2000)), ['u1']);
    b.request(req('u2', 1, 'rollback'), LIMITS, T0 + 2001);
    const next = new ActionBudgetState(b.snapshot());
    assert.deepEqual(granted(next.drain(T0 + 3000)), ['u2'], 'the same lane is not held');
    assert.deepEqual(granted(next.drain(T0 + 4000)), [], 'r2 still held (u1 and u2 out)');
    next.acted('u1', T0 + 4100);
    assert.deepEqual(granted(next.drain(T0 + 5000)), [], 'u2 still out');
    assert.deepEqual(granted(next.acted('u2', T0 + 5100)), ['r2']);
    // A re-ask of an urgent holder is told to report again.
    next.request(req('r3', 4), LIMITS, T0 + 5200);
    next.request(req('u3', 1, 'rollback'), LIMITS, T0 + 5300);
    next.drain(T0 + 6100);
    assert.equal(next.request(req('u3', 1, 'rollback'), LIMITS, T0 + 6200)[0]!.answer.reportActed, true);
  });

  it('holds nothing without laneHoldMs (act workers from before it), and a hold does not re-answer the queue', () => {
    const { laneHoldMs: _none, ...before } = LIMITS;
    const b = storm(before);
    const out = b.drain(T0 + 1000);
    assert.deepEqual(granted(out), ['urgent']);
    assert.equal(out[0]!.answer.reportActed, undefined);
    assert.deepEqual(granted(b.drain(T0 + 2000)), ['r1'], 'the routine lane goes on');
    assert.equal(b.snapshot().unacted, undefined, 'the snapshot is as before');

    // With the hold: the routine requests already told why they wait hear nothing new while held.
    const c = storm(LIMITS);
    const answered = [...c.drain(T0 + 1000), ...c.drain(T0 + 2000), ...c.drain(T0 + 3000)];
    assert.deepEqual(
      answered.filter((o) => o.answer.result === 'deferred').map((o) => o.holder),
      [],
      'no deferred answer sent for the hold',
    );
  });

  it('takes its length from AUTOGLM_LANE_HOLD: 60 s by default, "0s" for none, at most 1h', () => {
    assert.equal(loadConfig({}).laneHold, 60_000);
    assert.equal(loadConfig({ AUTOGLM_LANE_HOLD: '0s' }).laneHold, 0);
    for (const bad of ['2h', 'soon'])
      assert.throws(
        () => loadConfig({ AUTOGLM_LANE_HOLD: bad }),
        (err: unknown) => err instanceof ConfigError && /AUTOGLM_LANE_HOLD/.test(err.message),
      );
  });
});
