import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StartSlots } from '../../services/decide/start-slots.js';

/** Lets pending promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("decide's start slots, shared by lane", () => {
  it('keeps half the slots from routine starts and gives a freed slot to the most urgent waiting', async () => {
    const slots = new StartSlots(4);
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((l) => slots.capacity(l)),
      [4, 4, 3, 2, 2],
    );
    const order: string[] = [];
    const take = (name: string, lane: number) =>
      slots.acquire(lane).then((release) => {
        order.push(name);
        return release;
      });
    const r1 = take('r1', 4);
    void take('r2', 5);
    void take('r3', 4); // waits: lanes 4–5 hold their half already
    await settle();
    assert.deepEqual(order, ['r1', 'r2']);
    const u1 = take('u1', 1);
    const u2 = take('u2', 2);
    await settle();
    assert.deepEqual(order, ['r1', 'r2', 'u1', 'u2'], 'urgent starts take the slots routine ones may not');
    assert.equal(slots.busy, 4);
    void take('u3', 1);
    (await r1)();
    await settle();
    assert.deepEqual(
      order.slice(4),
      ['u3'],
      'the freed slot goes to the urgent start, not the older routine one',
    );
    (await u1)();
    (await u2)();
    await settle();
    assert.deepEqual(order.slice(5), ['r3'], 'with urgent slots free, the routine start gets its half again');
    assert.equal(slots.busy, 3);
  });

  it('refuses a size below 1', () => {
    assert.throws(() => new StartSlots(0), /at least 1/);
  });
});
