import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kafka, Producer } from 'kafkajs';
import { connectProducer, createKafka, ensureTopics } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import { testConfig, unique } from '../support/config.js';
import { deleteTopicsWithPrefix, produce, TopicTap } from '../support/kafka.js';

describe('Kafka smoke (real broker)', () => {
  const config = testConfig();
  const logger = createLogger('warn');
  let kafka: Kafka;
  let producer: Producer;

  before(async () => {
    kafka = createKafka(config, logger);
    producer = await connectProducer(kafka);
  });
  after(async () => {
    await deleteTopicsWithPrefix(kafka, `smoke.${config.groupPrefix}.`);
    await producer.disconnect();
  });

  it('round-trips keyed JSON through a fresh topic, in order per key', async () => {
    const topic = unique(`smoke.${config.groupPrefix}.roundtrip`);
    await ensureTopics(kafka, [topic], 3);
    const tap = await new TopicTap(kafka, topic, logger).start();
    try {
      const sent = Array.from({ length: 20 }, (_, i) => ({ key: `entity-${i % 4}`, value: { i } }));
      await produce(producer, topic, sent);
      await tap.waitFor<{ i: number }>(() => tap.messages.length >= 20, 30_000);
      assert.equal(tap.messages.length, 20);
      for (let k = 0; k < 4; k++) {
        const order = tap.messages
          .filter((m) => m.key === `entity-${k}`)
          .map((m) => (m.value as { i: number }).i);
        assert.deepEqual(order, [k, k + 4, k + 8, k + 12, k + 16]);
      }
    } finally {
      await tap.stop();
    }
  });

  it('creates missing topics with the configured partition count and leaves existing ones', async () => {
    const topic = unique(`smoke.${config.groupPrefix}.partitions`);
    await ensureTopics(kafka, [topic], 2);
    await ensureTopics(kafka, [topic], 5);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
      assert.equal(meta?.partitions.length, 2);
    } finally {
      await admin.disconnect();
    }
  });
});
