/**
 * The sense step on the real Kafka, against input that used to stop it: a value just under the
 * broker's limit, one over the dead-letter size, an entity with 10,000 metric names, a value of
 * 1e308 and a burst of binary garbage, interleaved with valid samples. Every bad message lands in
 * the dead-letter topic with its own reason and every valid entity keeps getting observations.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
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

describe('sense survives any input (real Kafka)', () => {
  const logger = createLogger('warn');
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

  it('dead-letters each kind of bad input with its own reason and keeps consuming', async () => {
    const { metrics } = topicNames(config);
    const good = [unique('good-a'), unique('good-b')];
    const wide = unique('wide');
    const huge = unique('huge');
    const t0 = Date.now() - 20_000;
    const sample = (entity: string, i: number, value = 50, metric = 'cpu') => ({
      key: entity,
      value: { entity, metric, value, ts: t0 + i * 500 },
    });
    const goodRound = (i: number) => good.map((e) => sample(e, i));

    await produce(producer, metrics, goodRound(0));
    // Just under the broker's ~1 MB limit: refused as too large; its dead letter keeps a prefix only.
    await produce(producer, metrics, [
      { key: 'big', value: `{"entity":"big","pad":"${'x'.repeat(1_000_000 - 40)}"}` },
    ]);
    await produce(producer, metrics, goodRound(1));
    // Over the dead-letter value size but under the input limit: refused for its schema, value cut.
    await produce(producer, metrics, [
      { key: 'mid', value: { entity: 'mid', metric: 'cpu', value: 'x'.repeat(40_000), ts: t0 } },
    ]);
    // 10,000 metric names on one entity: the first 64 (AUTOGLM_MAX_METRICS_PER_ENTITY) are kept.
    for (let chunk = 0; chunk < 10; chunk++) {
      await produce(
        producer,
        metrics,
        Array.from({ length: 1000 }, (_, j) => sample(wide, 2, 1, `m${chunk * 1000 + j}`)),
      );
    }
    await produce(producer, metrics, goodRound(2));
    // A finite value that overflows sums and slopes: refused at the edge.
    await produce(producer, metrics, [sample(huge, 3, 1e308)]);
    // Binary garbage.
    await producer.send({
      topic: metrics,
      acks: -1,
      messages: Array.from({ length: 50 }, () => ({ key: 'garbage', value: randomBytes(200) })),
    });
    for (let i = 3; i < 12; i++) await produce(producer, metrics, goodRound(i));

    const reasons = ['too_large', 'schema', 'too_many_metrics', 'out_of_range', 'not_json'];
    // Polled, not awaited per message: 10,000 dead letters would make a per-message check quadratic.
    const deadline = Date.now() + 90_000;
    const count = (p: (d: DeadLetter) => boolean) => dlq.values<DeadLetter>(p).length;
    while (
      count((d) => d.reason === 'too_many_metrics') < 10_000 - 64 ||
      count((d) => d.key === 'garbage') < 50 ||
      !reasons.every((r) => count((d) => d.reason === r) > 0)
    ) {
      assert.ok(Date.now() < deadline, `dead letters so far: ${dlq.messages.length}`);
      await sleep(500);
    }
    const big = dlq.values<DeadLetter>((d) => d.key === 'big')[0]!;
    assert.equal(big.reason, 'too_large');
    assert.equal(big.valueTruncated, true);
    assert.ok(big.valueBytes > 999_000);
    assert.equal(Buffer.from(big.value!, 'base64').length, config.dlqMaxValueBytes);
    assert.match(big.valueSha256 ?? '', /^[0-9a-f]{64}$/);
    const mid = dlq.values<DeadLetter>((d) => d.key === 'mid')[0]!;
    assert.equal(mid.reason, 'schema');
    assert.equal(mid.valueTruncated, true);
    const outOfRange = dlq.values<DeadLetter>((d) => d.key === huge)[0]!;
    assert.equal(outOfRange.reason, 'out_of_range');
    assert.match(outOfRange.issues[0]?.message ?? '', /AUTOGLM_MAX_ABS_VALUE/);
    assert.equal(
      dlq.values<DeadLetter>((d) => d.key === wide && d.reason === 'too_many_metrics').length,
      10_000 - 64,
    );

    // Every valid entity keeps getting observations, with finite features only, after all of it.
    for (const e of good) {
      await observations.waitFor<Observation>(
        (o) => o.entity === e && o.window.end === t0 + 11 * 500,
        30_000,
      );
    }
    const wideObs = observations.values<Observation>((o) => o.entity === wide);
    assert.ok(wideObs.length > 0);
    assert.ok(Object.keys(wideObs[wideObs.length - 1]!.features).length <= 64 * 7);
    for (const o of observations.values<Observation>(() => true))
      for (const v of Object.values(o.features)) assert.ok(Number.isFinite(v));
    assert.deepEqual(sense.liveness?.(), { 'sense.consumer': true });
    assert.deepEqual(sense.readiness(), { 'sense.consumer': true });
  });
});
