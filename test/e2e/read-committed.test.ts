/**
 * read_committed on the real Kafka when two producers' transactions overlap on one partition and
 * the later one aborts first (two ingest producers given up in one outage; any two transactional
 * writers). The broker lists the aborted transactions in abort order; the readers of the loop
 * (kafkajs through createKafka) must still skip both and read every committed record once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Producer } from 'kafkajs';
import type { Config } from '../../services/common/config.js';
import { createKafka, ensureTopics } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import { testConfig, unique } from '../support/config.js';
import { deleteTopicsWithPrefix, TopicTap } from '../support/kafka.js';

describe('read_committed with transactions aborted out of order (real Kafka)', () => {
  const logger = createLogger('error');
  let config: Config;
  let kafka: Kafka;
  const producers: Producer[] = [];

  before(() => {
    config = testConfig();
    kafka = createKafka(config, logger);
  });

  after(async () => {
    for (const p of producers) await p.disconnect().catch(() => undefined);
    if (kafka) await deleteTopicsWithPrefix(kafka, config.topicPrefix);
  });

  it('skips both aborted transactions and keeps every committed record', async () => {
    const topic = `${config.topicPrefix}.${unique('txn')}`;
    await ensureTopics(kafka, [topic], 1);
    const transactional = async (name: string) => {
      const p = kafka.producer({ transactionalId: unique(name), idempotent: true, maxInFlightRequests: 1 });
      await p.connect();
      producers.push(p);
      return p;
    };
    const [first, second, third] = [
      await transactional('a'),
      await transactional('b'),
      await transactional('c'),
    ];
    const send = (txn: Awaited<ReturnType<Producer['transaction']>>, values: string[]) =>
      txn.send({ topic, messages: values.map((value) => ({ key: 'k', value })) });

    const committedBefore = await third.transaction();
    await send(committedBefore, ['ok-0']);
    await committedBefore.commit();
    // First begins, then second; second aborts first, then first.
    const t1 = await first.transaction();
    await send(t1, ['aborted-a-1', 'aborted-a-2']);
    const t2 = await second.transaction();
    await send(t2, ['aborted-b-1']);
    await send(t1, ['aborted-a-3']);
    await t2.abort();
    await t1.abort();
    const committedAfter = await third.transaction();
    await send(committedAfter, ['ok-1', 'ok-2']);
    await committedAfter.commit();

    const tap = await new TopicTap(kafka, topic, logger).start();
    try {
      const deadline = Date.now() + 20_000;
      while (tap.messages.length < 3 && Date.now() < deadline) await sleep(100);
      await sleep(1000); // an aborted record would come with them
      assert.deepEqual(
        tap.messages.map((m) => m.raw?.toString()),
        ['ok-0', 'ok-1', 'ok-2'],
      );
    } finally {
      await tap.stop();
    }
  });
});
