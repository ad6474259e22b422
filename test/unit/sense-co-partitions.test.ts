import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coPartitionedAssignment } from '../../services/sense/co-partitioned-assigner.js';

const TOPICS = new Map([
  ['events', [0, 1, 2]],
  ['metrics', [0, 1, 2]],
]);

describe('coPartitionedAssignment', () => {
  it('gives partition p of every topic to one member, dealt over the members sorted by id', () => {
    const a = coPartitionedAssignment(['m-b', 'm-a'], TOPICS);
    assert.deepEqual(Object.fromEntries(a), {
      'm-a': { events: [0, 2], metrics: [0, 2] },
      'm-b': { events: [1], metrics: [1] },
    });
  });

  it('assigns every partition once, whatever the number of members', () => {
    for (const n of [1, 2, 3, 4, 7]) {
      const members = Array.from({ length: n }, (_, i) => `m-${i}`);
      const a = coPartitionedAssignment(members, TOPICS);
      for (const [topic, partitions] of TOPICS) {
        const owners = partitions.map((p) => [...a].filter(([, t]) => t[topic]?.includes(p)).map(([m]) => m));
        assert.ok(
          owners.every((o) => o.length === 1),
          `${n} members: each ${topic} partition has one owner`,
        );
        const events = partitions.map((p) => [...a].find(([, t]) => t.events?.includes(p))?.[0]);
        const metrics = partitions.map((p) => [...a].find(([, t]) => t.metrics?.includes(p))?.[0]);
        assert.deepEqual(metrics, events, `${n} members: metrics p and events p together`);
      }
      assert.equal(a.size, Math.min(n, 3), `${n} members: as many busy members as partitions allow`);
    }
  });
});
