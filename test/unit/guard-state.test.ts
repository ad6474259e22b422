import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BudgetLimits, LeaseRequest } from '../../workflows/definitions.js';
import { ActionBudgetState, EntityGuardState, LEASE_TTL_MS } from '../../workflows/guard-state.js';

const T0 = 1_800_000_000_000;
const req = (holder: string, rule = 'cpu', action = 'scale_out', cooldownMs = 600_000): LeaseRequest => ({
  holder,
  entity: 'web-1',
  rule,
  action,
  cooldownMs,
});

describe('EntityGuardState', () => {
  it('grants one holder, absorbs others while it runs, and answers a repeated request the same way', () => {
    const g = new EntityGuardState();
    assert.equal(g.request(req('a'), T0).result, 'granted');
    assert.equal(g.request(req('a'), T0 + 1).result, 'granted');
    const b = g.request(req('b', 'mem', 'restart'), T0 + 2);
    assert.equal(b.result, 'denied');
    assert.match(b.reason, /remediation a \(cpu: scale_out\) of web-1 is in flight/);
    assert.equal(g.status(T0).recentDenials.length, 1);
  });

  it('holds the rule cooldown from the end of a remediation that acted, for that rule only', () => {
    const g = new EntityGuardState();
    g.request(req('a'), T0);
    g.release({ holder: 'a', endedAt: T0 + 60_000, acted: true });
    const again = g.request(req('b'), T0 + 60_000 + 599_999);
    assert.equal(again.result, 'denied');
    assert.match(again.reason, /rule cpu is cooling down on web-1 until .* after a/);
    assert.equal(
      g.request(req('c', 'mem', 'restart'), T0 + 61_000).result,
      'granted',
      'another rule may act',
    );
    g.release({ holder: 'c', endedAt: T0 + 62_000, acted: false });
    assert.equal(g.request(req('d'), T0 + 660_000).result, 'granted', 'cooldown over');
  });

  it('leaves no cooldown when the remediation never acted, and ignores releases of others', () => {
    const g = new EntityGuardState();
    g.request(req('a'), T0);
    g.release({ holder: 'zzz', endedAt: T0, acted: true });
    assert.equal(g.request(req('b'), T0 + 1).result, 'denied', 'a stranger cannot free the entity');
    g.release({ holder: 'a', endedAt: T0 + 2, acted: false });
    assert.equal(g.idle(T0 + 2), true);
    assert.equal(g.request(req('b'), T0 + 3).result, 'granted');
  });

  it('is idle (may end) only once nothing is held and every cooldown is over; survives a snapshot', () => {
    const g = new EntityGuardState();
    g.request(req('a'), T0);
    assert.equal(g.idle(T0), false);
    g.release({ holder: 'a', endedAt: T0, acted: true });
    assert.equal(g.idle(T0 + 1), false);
    assert.equal(g.msToNextExpiry(T0), 600_000);
    const copy = new EntityGuardState(JSON.parse(JSON.stringify(g.snapshot())));
    assert.equal(
      copy.request(req('b'), T0 + 1000).result,
      'denied',
      'the cooldown carries over continue-as-new',
    );
    assert.equal(copy.idle(T0 + 600_000), true);
  });

  it('drops a holder older than the lease TTL (a remediation terminated by hand)', () => {
    const g = new EntityGuardState();
    g.request(req('a'), T0);
    assert.equal(g.request(req('b'), T0 + LEASE_TTL_MS).result, 'denied');
    assert.equal(g.request(req('b'), T0 + LEASE_TTL_MS + 1).result, 'granted');
  });

  describe('remembers the last remediation that acted', () => {
    const AGE = 180_000;
    /** A request of `rule` whose input window ended at `inputEnd`. */
    const fresh = (holder: string, rule: string, inputEnd: number): LeaseRequest => ({
      ...req(holder, rule, rule === 'cpu' ? 'scale_out' : 'restart'),
      inputEnd,
      rememberActMs: AGE,
    });
    const acted = () => {
      const g = new EntityGuardState();
      assert.equal(g.request(fresh('a', 'cpu', T0), T0).result, 'granted');
      g.release({ holder: 'a', endedAt: T0 + 60_000, acted: true });
      return g;
    };

    it('denies any rule whose input ended before that act ended, naming it; a later input goes through', () => {
      const g = acted();
      const before = g.request(fresh('b', 'mem', T0 + 59_000), T0 + 70_000);
      assert.equal(before.result, 'denied');
      assert.match(
        before.reason,
        /its input ended at .*, before remediation a \(cpu: scale_out\) of web-1 acted and ended at .*: decided on the entity as it was before that fix/,
      );
      assert.deepEqual(before.inputBeforeAct, {
        holder: 'a',
        rule: 'cpu',
        action: 'scale_out',
        endedAt: T0 + 60_000,
        until: T0 + 60_000 + AGE,
        inputEnd: T0 + 59_000,
      });
      assert.equal(g.status(T0 + 70_000).lastAct?.holder, 'a');
      const after = g.request(fresh('c', 'mem', T0 + 61_000), T0 + 70_000);
      assert.equal(after.result, 'granted', 'a problem seen after the fix is a new one');
      assert.equal(after.inputBeforeAct, undefined);
    });

    it('leaves a rule cooling down to its cooldown, and requests without an input end to the rest', () => {
      const g = acted();
      const same = g.request(fresh('b', 'cpu', T0), T0 + 70_000);
      assert.match(same.reason, /rule cpu is cooling down/);
      assert.equal(same.inputBeforeAct, undefined, 'the cooldown holds it, as before the memory');
      assert.equal(g.request(req('d', 'mem', 'restart'), T0 + 70_000).result, 'granted');
    });

    it('checks the same rule against the memory when it has no cooldown', () => {
      const g = new EntityGuardState();
      g.request({ ...fresh('a', 'cpu', T0), cooldownMs: 0 }, T0);
      g.release({ holder: 'a', endedAt: T0 + 60_000, acted: true });
      assert.ok(g.request(fresh('b', 'cpu', T0 + 1), T0 + 70_000).inputBeforeAct);
    });

    it('keeps the memory for rememberActMs after the end, then is idle; survives a snapshot', () => {
      const g = new EntityGuardState();
      g.request({ ...fresh('a', 'cpu', T0), cooldownMs: 0 }, T0);
      g.release({ holder: 'a', endedAt: T0 + 60_000, acted: true });
      assert.equal(g.idle(T0 + 60_000), false, 'no cooldown, but the act is remembered');
      assert.equal(g.msToNextExpiry(T0 + 60_000), AGE);
      const copy = new EntityGuardState(JSON.parse(JSON.stringify(g.snapshot())));
      assert.equal(copy.request(fresh('b', 'mem', T0), T0 + 60_000 + AGE - 1).result, 'denied');
      assert.equal(copy.idle(T0 + 60_000 + AGE), true);
      assert.equal(copy.status(T0 + 60_000 + AGE).lastAct, undefined);
    });

    it('remembers nothing of a remediation that never acted, nor in a guard from before the memory', () => {
      const g = new EntityGuardState();
      g.request(fresh('a', 'cpu', T0), T0);
      g.release({ holder: 'a', endedAt: T0 + 60_000, acted: false });
      assert.equal(g.request(fresh('b', 'mem', T0), T0 + 70_000).result, 'granted');

      const old = new EntityGuardState(undefined, { remembersActs: false });
      old.request(fresh('a', 'cpu', T0), T0);
      old.release({ holder: 'a', endedAt: T0 + 60_000, acted: true });
      assert.equal(old.request(fresh('b', 'mem', T0), T0 + 70_000).result, 'granted');
      assert.equal(old.snapshot().lastAct, undefined);
    });
  });
});

const limits = (over: Partial<BudgetLimits> = {}): BudgetLimits => ({
  maxConcurrentPerAction: 2,
  maxConcurrentPerRule: 10,
  maxActionsPerPeriod: 100,
  periodMs: 600_000,
  maxDeferred: 10,
  ...over,
});
const results = (out: ReturnType<ActionBudgetState['request']>) =>
  out.map((o) => `${o.holder}:${o.answer.result}`);

describe('ActionBudgetState', () => {
  it('grants at most N concurrent actions of a kind, defers the rest with the reason, FIFO on release', () => {
    const b = new ActionBudgetState({ limits: limits() });
    assert.deepEqual(results(b.request(req('a'), undefined, T0)), ['a:granted']);
    assert.deepEqual(results(b.request(req('b'), undefined, T0)), ['b:granted']);
    const c = b.request(req('c'), undefined, T0);
    assert.deepEqual(results(c), ['c:deferred']);
    assert.match(
      c[0]!.answer.reason,
      /2 scale_out actions in flight \(AUTOGLM_MAX_CONCURRENT_PER_ACTION=2\)/,
    );
    assert.deepEqual(results(b.request(req('d'), undefined, T0)), ['d:deferred']);
    assert.deepEqual(
      results(b.request(req('e', 'mem', 'restart'), undefined, T0)),
      ['e:granted'],
      'another kind passes',
    );
    assert.deepEqual(results(b.release('a', T0 + 1)), ['c:granted']);
    assert.deepEqual(results(b.release('b', T0 + 2)), ['d:granted']);
    assert.equal(b.status(T0 + 2).holders.length, 3);
  });

  it('limits concurrency per rule', () => {
    const b = new ActionBudgetState({
      limits: limits({ maxConcurrentPerAction: 10, maxConcurrentPerRule: 1 }),
    });
    b.request(req('a', 'r1', 'x'), undefined, T0);
    const second = b.request(req('b', 'r1', 'y'), undefined, T0);
    assert.match(second[0]!.answer.reason, /1 actions of rule r1 in flight/);
  });

  it('limits actions per sliding period and says when a slot frees', () => {
    const b = new ActionBudgetState({
      limits: limits({ maxConcurrentPerAction: 10, maxActionsPerPeriod: 2, periodMs: 1000 }),
    });
    b.request(req('a'), undefined, T0);
    b.release('a', T0 + 10);
    b.request(req('b'), undefined, T0 + 500);
    b.release('b', T0 + 510);
    const c = b.request(req('c'), undefined, T0 + 600);
    assert.deepEqual(results(c), ['c:deferred']);
    assert.match(c[0]!.answer.reason, /2 actions in the last 1s/);
    assert.equal(b.msToNextSlot(T0 + 600), 400);
    assert.deepEqual(results(b.drain(T0 + 1001)), ['c:granted']);
  });

  it('denies at once beyond the deferred queue bound, and a withdrawn request leaves the queue', () => {
    const b = new ActionBudgetState({ limits: limits({ maxConcurrentPerAction: 1, maxDeferred: 1 }) });
    b.request(req('a'), undefined, T0);
    b.request(req('b'), undefined, T0);
    const c = b.request(req('c'), undefined, T0);
    assert.deepEqual(results(c), ['c:denied']);
    assert.match(c[0]!.answer.reason, /AUTOGLM_MAX_DEFERRED=1/);
    assert.deepEqual(results(b.release('b', T0)), [], 'b withdrew: nothing to grant');
    assert.deepEqual(results(b.release('a', T0)), []);
    assert.deepEqual(results(b.request(req('d'), undefined, T0)), ['d:granted']);
  });

  it('grants a request that fits at once even when no request may wait', () => {
    const b = new ActionBudgetState({ limits: limits({ maxConcurrentPerAction: 1, maxDeferred: 0 }) });
    assert.deepEqual(results(b.request(req('a'), undefined, T0)), ['a:granted']);
    assert.deepEqual(results(b.request(req('b'), undefined, T0)), ['b:denied']);
  });

  it('re-grants a holder that asks again and takes newer limits from a request', () => {
    const b = new ActionBudgetState({ limits: limits({ maxConcurrentPerAction: 1 }) });
    b.request(req('a'), undefined, T0);
    assert.deepEqual(results(b.request(req('a'), undefined, T0)), ['a:granted']);
    assert.deepEqual(results(b.request(req('b'), limits({ maxConcurrentPerAction: 2 }), T0)), ['b:granted']);
    const copy = new ActionBudgetState(JSON.parse(JSON.stringify(b.snapshot())));
    assert.deepEqual(results(copy.request(req('c'), undefined, T0)), ['c:deferred'], 'state carries over');
  });
});
