import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANSWERS_IN_FLIGHT, BudgetOutbox, DEFERRED_IN_FLIGHT } from '../../workflows/budget-outbox.js';
import type { Outgoing } from '../../workflows/guard-state.js';

const answer = (
  holder: string,
  result: 'granted' | 'denied' | 'deferred',
  reason: string = result,
): Outgoing => ({
  holder,
  answer: { guard: 'budget', result, reason },
});

/** Takes answers until none may go; returns them. */
function takeAll(box: BudgetOutbox): Outgoing[] {
  const out: Outgoing[] = [];
  for (let o = box.take(); o; o = box.take()) out.push(o);
  return out;
}

describe("the action budget's outbox", () => {
  it('sends grants and denials before the deferred answers owed earlier', () => {
    const box = new BudgetOutbox();
    box.owe([
      answer('a', 'deferred'),
      answer('b', 'deferred'),
      answer('c', 'granted'),
      answer('d', 'denied'),
    ]);
    assert.deepEqual(
      takeAll(box).map((o) => `${o.holder}:${o.answer.result}`),
      ['c:granted', 'd:denied', 'a:deferred', 'b:deferred'],
    );
  });

  it('keeps only the newest deferred answer not sent yet per holder, and drops it for a grant', () => {
    const box = new BudgetOutbox();
    box.owe([answer('a', 'deferred', 'first'), answer('b', 'deferred')]);
    box.owe([answer('a', 'deferred', 'second')]);
    box.owe([answer('b', 'granted')]);
    assert.deepEqual(
      takeAll(box).map((o) => `${o.holder}:${o.answer.reason}`),
      ['b:granted', 'a:second'],
    );
  });

  it('keeps room for grants while deferred answers are on their way, within the cap on all', () => {
    const box = new BudgetOutbox();
    box.owe(Array.from({ length: 200 }, (_, i) => answer(`w${i}`, 'deferred')));
    const first = takeAll(box);
    assert.equal(first.length, DEFERRED_IN_FLIGHT, 'deferred answers take part of the room');
    assert.equal(box.ready(), false);
    box.owe(Array.from({ length: 200 }, (_, i) => answer(`g${i}`, 'granted')));
    assert.equal(box.ready(), true, 'a grant may go though deferred answers wait');
    const grants = takeAll(box);
    assert.equal(grants.length, ANSWERS_IN_FLIGHT - DEFERRED_IN_FLIGHT);
    assert.ok(grants.every((o) => o.answer.result === 'granted'));
    box.settled(grants[0]!);
    assert.equal(box.take()?.answer.result, 'granted', 'a delivery frees room for the next grant first');
    for (const o of first) box.settled(o);
    assert.equal(box.quiet(), false, 'answers still owed or on their way');
  });

  it('is quiet only with nothing owed and nothing on its way', () => {
    const box = new BudgetOutbox();
    assert.equal(box.quiet(), true);
    box.owe([answer('a', 'granted')]);
    assert.equal(box.quiet(), false);
    const o = box.take()!;
    assert.equal(box.quiet(), false, 'on its way');
    box.settled(o);
    assert.equal(box.quiet(), true);
  });
});
