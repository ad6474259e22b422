/**
 * CloudEvents 1.0 on the events topic (the Kafka protocol binding), read by the real sense: binary
 * mode (`ce_*` headers, the value is the data) and structured mode (`content-type:
 * application/cloudevents+json`) become events in the entity's windows beside our own event
 * records; one without its required attributes, one over the size limit and a batch record go to
 * the dead-letter topic with the reason, and the events after them are still read.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kafka, Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import { topicNames, type Config } from '../../services/common/config.js';
import type { DeadLetter, Observation } from '../../services/common/contracts.js';
import { connectProducer, createKafka } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import type { Service } from '../../services/common/service.js';
import { startSense } from '../../services/sense/main.js';
import { testConfig, unique } from '../support/config.js';
import { deleteTopicsWithPrefix, produce, TopicTap } from '../support/kafka.js';

describe('CloudEvents on the events topic (real Kafka, real sense)', () => {
  const logger = createLogger('error');
  let config: Config;
  let kafka: Kafka;
  let producer: Producer;
  let sense: Service;
  let observations: TopicTap;
  let dlq: TopicTap;

  before(async () => {
    config = testConfig();
    kafka = createKafka(config, logger);
    sense = await startSense({ config, logger, registry: new Registry() });
    producer = await connectProducer(kafka);
    observations = await new TopicTap(kafka, topicNames(config).observations, logger).start();
    dlq = await new TopicTap(kafka, topicNames(config).dlq, logger).start();
  });

  after(async () => {
    await observations?.stop();
    await dlq?.stop();
    await sense?.stop();
    if (kafka) await deleteTopicsWithPrefix(kafka, config.topicPrefix);
    await producer?.disconnect();
  });

  it('reads binary and structured mode into the windows, dead-letters malformed ones with the reason', async () => {
    const { metrics, events } = topicNames(config);
    const entity = `${unique('ce')}/pod-0`;
    const t0 = Date.now() - 20_000;
    const iso = (ms: number) => new Date(ms).toISOString();
    const ceHeaders = (id: string, type: string, ts: number) => ({
      ce_specversion: '1.0',
      ce_id: id,
      ce_source: '/ci/deployer',
      ce_type: type,
      ce_subject: entity,
      ce_time: iso(ts),
      'content-type': 'application/json',
    });
    await producer.send({
      topic: events,
      messages: [
        // Binary mode: the attributes in ce_ headers, the value is the data.
        {
          key: entity,
          headers: ceHeaders('b-1', 'deploy', t0 + 1000),
          value: JSON.stringify({ message: 'rolled out checkout v2.3.1' }),
        },
        // Missing ce_type (required): dead-lettered, naming it.
        {
          key: entity,
          headers: { ce_specversion: '1.0', ce_id: 'bad-1', ce_source: '/ci', ce_subject: entity },
          value: '{}',
        },
        // Over the size every event record is held to: refused before it is parsed.
        {
          key: entity,
          headers: ceHeaders('big-1', 'log', t0 + 1500),
          value: JSON.stringify({ message: 'x'.repeat(70_000) }),
        },
        // A batch record: the Kafka binding has none.
        {
          key: entity,
          headers: { 'content-type': 'application/cloudevents-batch+json' },
          value: '[]',
        },
        // Structured mode: the whole event in the value.
        {
          key: entity,
          headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
          value: JSON.stringify({
            specversion: '1.0',
            id: 's-1',
            source: '/k8s',
            type: 'k8s',
            subject: entity,
            time: iso(t0 + 2000),
            data: { message: 'Back-off restarting failed container' },
          }),
        },
        // Our own event record still reads as before.
        {
          key: entity,
          value: JSON.stringify({ entity, kind: 'log', message: 'plain record', ts: t0 + 3000 }),
        },
      ],
    });
    await produce(
      producer,
      metrics,
      Array.from({ length: 30 }, (_, i) => ({
        key: entity,
        value: { entity, metric: 'cpu', value: 40, ts: t0 + i * 500 },
      })),
    );

    const seen = await observations.waitFor<Observation>(
      (o) => o.entity === entity && o.events.length >= 3,
      30_000,
    );
    const byKind = new Map(seen.events.map((e) => [e.kind, e]));
    assert.equal(byKind.get('deploy')?.message, 'rolled out checkout v2.3.1');
    assert.equal(byKind.get('deploy')?.ts, t0 + 1000);
    assert.equal(byKind.get('k8s')?.message, 'Back-off restarting failed container');
    assert.equal(byKind.get('log')?.message, 'plain record');

    const letters = () => dlq.values<DeadLetter>((d) => d.service === 'sense' && d.topic === events);
    const deadline = Date.now() + 15_000;
    while (letters().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const text = letters().map((d) => d.issues.map((i) => i.message).join(' '));
    assert.ok(
      text.some((t) => /lacks type/.test(t)),
      `a letter names the missing type: ${text.join(' | ')}`,
    );
    assert.ok(
      text.some((t) => /no batch mode/.test(t)),
      `a letter refuses the batch: ${text.join(' | ')}`,
    );
    assert.ok(
      letters().some((d) => d.reason === 'too_large'),
      `a letter refuses the oversized event: ${letters()
        .map((d) => d.reason)
        .join(', ')}`,
    );
  });
});
