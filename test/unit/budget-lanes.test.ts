import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BudgetLimits, LeaseRequest } from '../../workflows/definitions.js';
import { ActionBudgetState, type Outgoing } from '../../workflows/guard-state.js';

const T0 = 1_800_000_000_000;
/** One action at a time fleet-wide (the period limit), so the queue's order is the grant order. */
const ONE_AT_A_TIME: BudgetLimits = {
  maxConcurrentPerAction: 100,
  maxConcurrentPerRule: 100,
  maxActionsPerPeriod: 1,
  periodMs: 1000,
  maxDeferred: 1000,
};
const req = (holder: string, lane?: number, fairnessKey?: string, action = 'clean_disk'): LeaseRequest => ({
  holder,
  entity: holder,
  rule: action,
  action,
  cooldownMs: 0,
  ...(lane !== undefined ? { lane } : {}),
  ...(fairnessKey !== undefined ? { fairnessKey } : {}),
});
const granted = (out: Outgoing[]) => out.filter((o) => o.answer.result === 'granted').map((o) => o.holder);

/** Lets one period pass per grant, and returns the holders in the order they were granted. */
function grantOrder(b: ActionBudgetState, start: number, n: number): string[] {
  const order: string[] = [];
  for (let i = 1; i <= n; i++) order.push(...granted(b.drain(start + i * 1000)));
  return order;
}

describe('the action budget’s lanes (lane, then fairness, then age)', () => {
  it('grants a later, more urgent request before the routine ones that wait, and says who overtook them', () => {
    const b = new ActionBudgetState({ limits: ONE_AT_A_TIME });
    assert.deepEqual(granted(b.request(req('r0', 4, 'service:batch'), ONE_AT_A_TIME, T0)), ['r0']);
    for (let i = 1; i <= 5; i++) b.request(req(`r${i}`, 4, 'service:batch'), ONE_AT_A_TIME, T0 + i);
    b.request(req('urgent', 1, 'service:checkout', 'rollback'), ONE_AT_A_TIME, T0 + 10);
    assert.deepEqual(grantOrder(b, T0, 3), ['urgent', 'r1', 'r2']);
    const waiting = b.status(T0 + 3000).deferred;
    assert.deepEqual(
      waiting.map((d) => d.holder),
      ['r3', 'r4', 'r5'],
    );
    for (const d of waiting) {
      assert.equal(d.lane, 4);
      assert.equal(d.overtaken?.by, 'urgent');
      assert.equal(d.overtaken?.because, 'lane 1 before lane 4');
      assert.equal(d.overtaken?.count, 1);
    }
  });

  it('serves the key least recently served first within a lane: a quiet service is not last', () => {
    const b = new ActionBudgetState({ limits: ONE_AT_A_TIME });
    for (let i = 0; i < 20; i++) b.request(req(`a${i}`, 4, 'service:a'), ONE_AT_A_TIME, T0 + i);
    for (let i = 0; i < 3; i++) b.request(req(`b${i}`, 4, 'service:b'), ONE_AT_A_TIME, T0 + 100 + i);
    const order = ['a0', ...grantOrder(b, T0, 22)];
    assert.deepEqual(order.slice(0, 7), ['a0', 'b0', 'a1', 'b1', 'a2', 'b2', 'a3']);
    assert.equal(order.length, 23);
    const status = b.status(T0 + 30_000);
    assert.equal(status.deferred.length, 0);
  });

  it('keeps first come, first served for requests without a lane (rules without priority, old queues)', () => {
    const b = new ActionBudgetState({ limits: ONE_AT_A_TIME });
    for (let i = 0; i < 4; i++) b.request(req(`x${i}`), ONE_AT_A_TIME, T0 + i);
    assert.deepEqual(['x0', ...grantOrder(b, T0, 3)], ['x0', 'x1', 'x2', 'x3']);
    assert.equal(b.snapshot().lastServed, undefined, 'nothing new in the snapshot either');
    assert.deepEqual(Object.keys(b.snapshot()), ['limits', 'active', 'grants', 'queue', 'recentDenials']);
  });

  it('lets a request of another kind pass one that is blocked, and records it', () => {
    const limits: BudgetLimits = { ...ONE_AT_A_TIME, maxConcurrentPerAction: 1, maxActionsPerPeriod: 100 };
    const b = new ActionBudgetState({ limits });
    b.request(req('d0', 2, 'k'), limits, T0);
    b.request(req('d1', 2, 'k'), limits, T0 + 1);
    assert.deepEqual(granted(b.request(req('s0', 4, 'k', 'scale_out'), limits, T0 + 2)), ['s0']);
    const [d1] = b.status(T0 + 3).deferred;
    assert.equal(d1?.holder, 'd1');
    assert.match(
      d1?.overtaken?.because ?? '',
      /^it fits while this one waits for: 1 clean_disk actions in flight/,
    );
  });

  it('when the queue is full, the newest least urgent request gives way to an urgent one', () => {
    const limits: BudgetLimits = { ...ONE_AT_A_TIME, maxDeferred: 3 };
    const b = new ActionBudgetState({ limits });
    for (let i = 0; i < 4; i++) b.request(req(`r${i}`, 4, 'batch'), limits, T0 + i); // r0 granted, 3 wait
    const routine = b.request(req('r4', 4, 'batch'), limits, T0 + 5);
    assert.deepEqual(
      routine.filter((o) => o.answer.result === 'denied').map((o) => o.holder),
      ['r4'],
      'a routine one is still denied at once',
    );
    const urgent = b.request(req('u', 1, 'checkout', 'rollback'), limits, T0 + 6);
    const denied = urgent.filter((o) => o.answer.result === 'denied');
    assert.deepEqual(
      denied.map((o) => o.holder),
      ['r3'],
    );
    assert.match(denied[0]!.answer.reason, /gave way to u, lane 1 before lane 4/);
    assert.deepEqual(
      b.status(T0 + 7).deferred.map((d) => d.holder),
      ['r1', 'r2', 'u'],
    );
    assert.deepEqual(grantOrder(b, T0, 1), ['u']);
  });

  it('carries lanes, keys and the fairness clock across continue-as-new', () => {
    const b = new ActionBudgetState({ limits: ONE_AT_A_TIME });
    b.request(req('a0', 3, 'a'), ONE_AT_A_TIME, T0);
    b.request(req('a1', 3, 'a'), ONE_AT_A_TIME, T0 + 1);
    b.request(req('b0', 3, 'b'), ONE_AT_A_TIME, T0 + 2);
    const copy = new ActionBudgetState(JSON.parse(JSON.stringify(b.snapshot())));
    assert.deepEqual(grantOrder(copy, T0, 2), ['b0', 'a1'], 'a was served last: b goes first');
  });
});
