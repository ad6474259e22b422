/**
 * Two sense processes in one group: each entity's events reach the process that has its samples,
 * so every window that covers an event carries it (real Kafka, topics and a group of their own).
 * With kafkajs' round robin, two members and three partitions, most entities' events went to the
 * other process and their windows carried none.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MetricSample, Observation, OpsEvent } from '../../services/common/contracts.js';
import { createLogger } from '../../services/common/logger.js';
import { unique } from '../support/config.js';
import { SenseRun } from '../support/sense-run.js';

const logger = createLogger('warn');
const T0 = Date.now() - 3_600_000;
const ROUND_MS = 250;

describe('sense with two processes in one group (real Kafka)', () => {
  const run = new SenseRun(3, logger);
  after(async () => {
    await run.cleanUp();
  });

  it("gives each process an entity's events with its samples: every window over an event carries it", async () => {
    const entities = Array.from({ length: 24 }, (_, i) => unique(`pod-${i}`));
    await run.startSense();
    await run.startSense();
    await stableWithMembers(run, 2);

    // One event per entity at round 10, then 30 rounds of samples (7.5s; windows of 3s).
    const events: OpsEvent[] = entities.map((entity) => ({
      entity,
      kind: 'deploy',
      message: 'v2',
      ts: T0 + 10 * ROUND_MS - 100,
    }));
    await run.produceEvents(events);
    await run.caughtUp();
    const samples: MetricSample[] = [];
    for (let i = 0; i < 30; i++)
      for (const entity of entities)
        samples.push({ entity, metric: 'cpu', value: 50, ts: T0 + i * ROUND_MS });
    await run.produce(samples);
    await run.caughtUp();

    const observations = (await run.observations()).map((text) => JSON.parse(text) as Observation);
    const eventTs = events[0]!.ts;
    const covering = observations.filter((o) => o.window.start < eventTs && eventTs <= o.window.end);
    const without = covering.filter((o) => !o.events.some((e) => e.kind === 'deploy'));
    assert.ok(
      new Set(covering.map((o) => o.entity)).size === entities.length,
      `every entity has windows over its event (${covering.length} windows)`,
    );
    assert.deepEqual(
      [...new Set(without.map((o) => o.entity))],
      [],
      `windows over the event without it: ${without.length} of ${covering.length}`,
    );
  });
});

/** Waits until the sense group is stable with `members` members (both processes have their partitions). */
async function stableWithMembers(run: SenseRun, members: number): Promise<void> {
  const admin = run.kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { groups } = await admin.describeGroups([`${run.config.groupPrefix}-sense`]);
      const group = groups[0];
      if (group?.state === 'Stable' && group.members.length === members) return;
      assert.ok(Date.now() < deadline, `group ${group?.state} with ${group?.members.length} members`);
      await sleep(200);
    }
  } finally {
    await admin.disconnect();
  }
}
