/**
 * Sense forgets idle entities on event time, and on the slowest partition's clock: one partition
 * replaying samples from two hours ago while another carries live ones does not wipe the replayed
 * entity's window (real Kafka). With the newest event time of any partition as the clock (or the
 * wall clock), every sweep would forget the replayed entity and its observations would restart
 * from one point.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { topicNames } from '../../services/common/config.js';
import type { Observation } from '../../services/common/contracts.js';
import { connectProducer, ensureTopics } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import { unique } from '../support/config.js';
import { SenseRun } from '../support/sense-run.js';

const logger = createLogger('warn');

describe('sense on event time (real Kafka)', () => {
  const run = new SenseRun(2, logger, { window: '3s', emitEvery: '1s' });
  after(() => run.cleanUp());

  it('keeps the window of an entity replayed from two hours ago while another partition is live', async () => {
    const old = unique('replayed');
    const live = unique('live');
    const rounds = 90; // 90 s of event time each: idle eviction (10 windows = 30 s) sweeps many times
    const now = Date.now() - rounds * 1000;
    const past = now - 2 * 3_600_000;
    const { metrics } = topicNames(run.config);
    await ensureTopics(run.kafka, Object.values(topicNames(run.config)), 2);
    const sense = await run.startSense();
    const producer = await connectProducer(run.kafka);
    try {
      for (let i = 0; i < rounds; i++) {
        // One send per sample, each to its own partition: sense sees them in many small batches.
        await producer.send({
          topic: metrics,
          acks: -1,
          messages: [
            {
              key: old,
              partition: 0,
              value: JSON.stringify({ entity: old, metric: 'cpu', value: 40, ts: past + i * 1000 }),
            },
          ],
        });
        await producer.send({
          topic: metrics,
          acks: -1,
          messages: [
            {
              key: live,
              partition: 1,
              value: JSON.stringify({ entity: live, metric: 'cpu', value: 40, ts: now + i * 1000 }),
            },
          ],
        });
      }
    } finally {
      await producer.disconnect();
    }
    await run.caughtUp();
    await run.stopSense(sense);
    const observations = (await run.observations()).map((o) => JSON.parse(o) as Observation);
    const replayed = observations.filter((o) => o.entity === old).sort((a, b) => a.ts - b.ts);
    assert.ok(replayed.length >= rounds - 5, `${replayed.length} observations of the replayed entity`);
    // A 3 s window over one sample a second holds 3 points once full (the first two are filling).
    const short = replayed.slice(2).filter((o) => o.features['cpu.count'] !== 3);
    assert.deepEqual(
      short.map((o) => `${o.ts - past}: ${o.features['cpu.count']}`),
      [],
      'no window of the replayed entity was forgotten',
    );
  });
});
