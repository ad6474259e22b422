/**
 * Sense's failover after a kill -9 (real Kafka, topics and groups of the test's own): the group
 * hands a dead member's partitions to a live one after AUTOGLM_KAFKA_SESSION_TIMEOUT (10 s; it
 * was kafkajs' 30 s, and decisions on the windows that waited went stale under load), and a live
 * member whose first batch waits on a long restore keeps heartbeating, so it is not taken for dead.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { topicNames } from '../../services/common/config.js';
import type { MetricSample, Observation } from '../../services/common/contracts.js';
import {
  connectProducer,
  createKafka,
  ensureTopics,
  runConsumer,
  sendJson,
  whileHeartbeating,
} from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import { deleteTopicsWithPrefix, TopicTap } from '../support/kafka.js';
import { testConfig, unique } from '../support/config.js';
import { SenseRun } from '../support/sense-run.js';

const logger = createLogger('warn');

/** Two entities on each of two partitions (kafkajs' default partitioner, as sendJson uses it). */
function entitiesOnBothPartitions(): string[] {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = [0, 1].map((partitionId) => ({ partitionId, leader: 0 }) as PartitionMetadata);
  const byPartition: string[][] = [[], []];
  for (let i = 0; byPartition.some((p) => p.length < 2); i++) {
    const entity = unique(`pod-${i}`);
    const p = partitioner({ topic: 'metrics', partitionMetadata, message: { key: entity, value: '' } });
    if (byPartition[p]!.length < 2) byPartition[p]!.push(entity);
  }
  return byPartition.flat();
}

describe('sense failover after kill -9 (real Kafka)', () => {
  const cleanUps: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanUps.reverse()) await c().catch(() => undefined);
  });

  it('a live sense takes over the partitions of one killed with -9 within 25 s (30 s and more before)', async (t) => {
    const run = new SenseRun(2, logger);
    cleanUps.push(() => run.cleanUp());
    const entities = entitiesOnBothPartitions();
    await run.produce([]);
    const tap = await new TopicTap(run.kafka, topicNames(run.config).observations, logger).start();
    cleanUps.push(() => tap.stop());
    const producer = await connectProducer(run.kafka);
    cleanUps.push(() => producer.disconnect());
    let producing = true;
    const samples = (async () => {
      for (let i = 0; producing; i++) {
        const ts = Date.now();
        const batch: MetricSample[] = entities.map((entity) => ({
          entity,
          metric: 'cpu',
          value: 40 + (i % 7),
          ts,
        }));
        await sendJson(
          producer,
          topicNames(run.config).metrics,
          batch.map((s) => ({ key: s.entity, value: s })),
        );
        await sleep(200);
      }
    })();
    cleanUps.push(async () => {
      producing = false;
      await samples;
    });
    /** Resolves once every entity has an observation of a window ending at or after `since`. */
    const allEmittedSince = (since: number, timeoutMs: number) =>
      Promise.all(
        entities.map((entity) =>
          tap.waitFor<Observation>((o) => o.entity === entity && o.window.end >= since, timeoutMs),
        ),
      );

    // The process to kill takes both partitions, then an in-process sense joins: one partition each.
    const doomed = run.spawnSense();
    await allEmittedSince(Date.now(), 60_000);
    const survivor = await run.startSense();
    await allEmittedSince(Date.now() + 1000, 60_000);

    const killedAt = Date.now();
    await run.kill(doomed, 'SIGKILL');
    // Every entity's windows again, of samples sent after the kill: the dead member's too.
    await allEmittedSince(killedAt + 500, 90_000);
    const failoverMs = Date.now() - killedAt;
    t.diagnostic(`observations of every entity again ${(failoverMs / 1000).toFixed(1)} s after the kill`);
    assert.ok(
      failoverMs < 25_000,
      `the dead member's entities were silent for ${failoverMs} ms (session timeout ${run.config.kafkaSessionTimeout} ms)`,
    );
    await run.stopSense(survivor);
  });

  it('a member whose batch waits longer than its session timeout (a long restore) keeps its partitions', async () => {
    const config = testConfig({ kafkaSessionTimeout: '6s' });
    const kafka = createKafka(config, logger);
    const topic = `${config.topicPrefix}.restore-heartbeat`;
    cleanUps.push(() => deleteTopicsWithPrefix(kafka, config.topicPrefix));
    await ensureTopics(kafka, [topic], 1);
    const producer = await connectProducer(kafka);
    await sendJson(producer, topic, [{ key: 'a', value: 1 }]);
    await producer.disconnect();
    let joins = 0;
    let handled!: () => void;
    const firstBatchDone = new Promise<void>((resolve) => (handled = resolve));
    const consumer = await runConsumer({
      kafka,
      groupId: `${config.groupPrefix}-restore-heartbeat`,
      topics: [topic],
      fromBeginning: true,
      logger,
      onJoin: () => joins++,
      fastFailover: true,
      eachBatch: async ({ batch, heartbeat, resolveOffset }) => {
        if (joins === 1) await whileHeartbeating(heartbeat, sleep(9000)); // 1.5 session timeouts
        for (const m of batch.messages) resolveOffset(m.offset);
        handled();
      },
    });
    cleanUps.push(() => consumer.stop());
    await firstBatchDone;
    // A member dropped while its batch ran learns it at its next heartbeat and joins again.
    await sleep(5000);
    assert.equal(joins, 1, 'the member joined once: the group never dropped it');
    assert.ok(consumer.joined() && consumer.alive());
  });
});
