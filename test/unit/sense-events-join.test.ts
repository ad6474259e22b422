/**
 * The event-time join's decisions (EventsJoin): a metrics partition is held at the event time its
 * events partition is read to while that partition is behind, never when it has caught up or is
 * not this process's, and a hold ends after the wait and is not taken up again until the events
 * have caught up once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventsJoin } from '../../services/sense/events-join.js';

describe('EventsJoin', () => {
  it('holds live samples at the event time a lagging events partition is read to', () => {
    const join = new EventsJoin(30_000);
    join.reset([0, 1]);
    assert.deepEqual(join.limit(0, 0), { limit: Infinity, timedOut: false }, 'unknown: taken as caught up');
    join.eventsRead(0, 5_000, false);
    assert.equal(join.limit(0, 0).limit, 5_000);
    join.eventsRead(0, 4_000, false); // an older event read later does not move it back
    assert.equal(join.limit(0, 0).limit, 5_000);
    assert.equal(join.limit(1, 0).limit, Infinity, 'partition 1 is caught up');
    assert.equal(join.limit(2, 0).limit, Infinity, 'no events partition 2 here: never held');
    join.eventsRead(0, 6_000, true);
    assert.equal(join.limit(0, 0).limit, Infinity, 'read to its end: nothing to wait for');
  });

  it('gives up after the wait, and holds again only once the events have caught up', () => {
    const join = new EventsJoin(30_000);
    join.reset([0]);
    join.eventsRead(0, 5_000, false);
    join.held(0, 1_000);
    join.held(0, 20_000); // still the first hold's start
    assert.equal(join.heldSince(0), 1_000);
    assert.deepEqual(join.limit(0, 30_999), { limit: 5_000, timedOut: false });
    assert.deepEqual(join.limit(0, 31_000), { limit: Infinity, timedOut: true });
    join.eventsRead(0, 7_000, false);
    assert.deepEqual(
      join.limit(0, 31_500),
      { limit: Infinity, timedOut: false },
      'not held again while behind',
    );
    join.eventsRead(0, 8_000, true);
    join.eventsRead(0, 9_000, false);
    assert.equal(join.limit(0, 40_000).limit, 9_000, 'behind again after catching up: held again');
    join.held(0, 40_000);
    join.released(0);
    assert.equal(join.heldSince(0), undefined);
  });

  it('never holds with a wait of 0, and forgets the last generation on reset', () => {
    const off = new EventsJoin(0);
    off.reset([0]);
    off.eventsRead(0, 5_000, false);
    assert.equal(off.limit(0, 0).limit, Infinity);
    const join = new EventsJoin(30_000);
    join.reset([0]);
    join.eventsRead(0, 5_000, false);
    join.reset([0]);
    assert.equal(join.limit(0, 0).limit, Infinity);
  });
});
