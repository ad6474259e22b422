import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PartitionProgress } from '../../services/sense/partition-progress.js';

const T0 = 1_800_000_000_000;

describe('PartitionProgress', () => {
  it('starts live without a commit, skips redeliveries, and says what to commit', () => {
    const p = new PartitionProgress(30_000, 5000);
    assert.equal(p.begin(undefined, undefined, 0), undefined);
    assert.equal(p.shouldApply(0), true);
    p.applied(0, T0);
    p.applied(1, T0 + 1000);
    assert.equal(p.shouldApply(1), false, 'a redelivered offset is not applied twice');
    assert.equal(p.isReplay(2), false);
    assert.equal(p.nextOffset, 2);
  });

  it('rebuilds from the committed rebuild offset without emitting, then goes live at the committed offset', () => {
    const p = new PartitionProgress(30_000, 5000);
    assert.equal(p.begin(100, 40, 100), 40, 'seek back to the rebuild offset');
    assert.equal(p.isReplay(40), true);
    p.applied(40, T0);
    assert.equal(p.isReplay(99), true);
    p.applied(99, T0 + 1);
    assert.equal(p.isReplay(100), false, 'emits again from the committed offset');
    assert.equal(p.begin(100, 40, 40) === undefined, true, 'no seek when the batch already starts there');
  });

  it('commits as rebuild offset the first message that may still be inside a window', () => {
    const p = new PartitionProgress(30_000, 5000);
    p.begin(undefined, undefined, 0);
    // One message a second of event time, offsets 0..99.
    for (let i = 0; i < 100; i++) p.applied(i, T0 + i * 1000);
    const r = p.rebuildOffset();
    // Newest is T0+99s; anything newer than T0+69s may be needed; the checkpoint is at a 5s boundary.
    const newestNeeded = 69;
    assert.ok(r <= newestNeeded + 1, `rebuild offset ${r} covers every message within the window`);
    assert.ok(r >= newestNeeded - 10, `rebuild offset ${r} is not much older than needed`);
    assert.ok(r > 0);
  });

  it('keeps the first offset while the partition holds less than a window', () => {
    const p = new PartitionProgress(30_000, 5000);
    p.begin(undefined, undefined, 7);
    p.applied(7, T0);
    p.applied(8, T0 + 1000);
    assert.equal(p.rebuildOffset(), 7);
  });
});
