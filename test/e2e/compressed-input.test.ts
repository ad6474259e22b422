/**
 * The sense step reading samples that a librdkafka producer (Python confluent-kafka, the client
 * of Vector, Telegraf and many Go services) sent with each `compression.type`, on the real Kafka;
 * and a stored batch whose compressed payload is corrupt (as a bad disk leaves it: the broker
 * checks batches on produce only) is dead-lettered by its offset range while the samples after it
 * are still observed, also across a restart.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { topicNames, type Config } from '../../services/common/config.js';
import type { DeadLetter, Decision, Observation } from '../../services/common/contracts.js';
import { createKafka, ensureTopics } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import type { Service } from '../../services/common/service.js';
import { startDecide } from '../../services/decide/main.js';
import { startSense } from '../../services/sense/main.js';
import {
  BATCH_HEADER_BYTES,
  batchesOf,
  overwriteStored,
  storedBatches,
  type StoredBatch,
} from '../support/broker-log.js';
import { testConfig, unique } from '../support/config.js';
import { fastCpuRule, writeRuleDir } from '../support/fast-loop.js';
import { deleteTopicsWithPrefix, TopicTap } from '../support/kafka.js';
import { ensureLibrdkafka, produceWithLibrdkafka, type Compression } from '../support/librdkafka-producer.js';

const CODEC_IDS = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;

/** `n` samples of one entity, 500 ms apart from `t0` (+ `from` steps). */
const samples = (entity: string, t0: number, n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({
    key: entity,
    value: { entity, metric: 'cpu', value: 40 + ((from + i) % 7), ts: t0 + (from + i) * 500 },
  }));

const unreadable = (d: DeadLetter) => d.reason === 'unreadable_batch';

/** Waits for one unreadable-batch letter per corrupt stored batch, each naming its offset range. */
async function expectLetters(dlq: TopicTap, bad: readonly StoredBatch[], service: string, codec: string) {
  await dlq.waitFor<DeadLetter>((d) => unreadable(d) && d.offset === String(bad.at(-1)!.firstOffset), 30_000);
  const letters = dlq.values<DeadLetter>(unreadable);
  assert.equal(letters.length, bad.length, 'one letter per corrupt stored batch');
  letters.forEach((letter, i) => {
    assert.equal(letter.service, service);
    assert.equal(letter.partition, 0);
    assert.equal(letter.offset, String(bad[i]!.firstOffset));
    assert.deepEqual(letter.issues[0], {
      path: 'offsets',
      message: `${bad[i]!.firstOffset}-${bad[i]!.lastOffset} (${bad[i]!.records} records)`,
    });
    assert.match(letter.issues[1]?.message ?? '', new RegExp(`^${codec}: `));
  });
  return letters;
}

/** Resolves once `groupId` has committed at least `offset` on the partition (fails after 30 s). */
async function waitForCommitted(
  kafka: Kafka,
  groupId: string,
  topic: string,
  partition: number,
  offset: bigint,
) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const committed = BigInt(t?.partitions.find((p) => p.partition === partition)?.offset ?? '-1');
      if (committed >= offset) return;
      assert.ok(
        Date.now() < deadline,
        `${groupId} committed ${committed} on ${topic}/${partition}, not ${offset}`,
      );
      await sleep(200);
    }
  } finally {
    await admin.disconnect();
  }
}

describe('sense reads every codec a librdkafka producer sends (real Kafka)', () => {
  const logger = createLogger('warn');
  let config: Config;
  let kafka: Kafka;
  let sense: Service | undefined;
  let observations: TopicTap;
  let dlq: TopicTap;

  before(async () => {
    await ensureLibrdkafka(); // the first run installs it (pip), later runs find it
    config = testConfig();
    kafka = createKafka(config, logger);
    await ensureTopics(kafka, Object.values(topicNames(config)), config.topicPartitions);
    observations = await new TopicTap(kafka, topicNames(config).observations, logger).start();
    dlq = await new TopicTap(kafka, topicNames(config).dlq, logger).start();
  });

  after(async () => {
    await observations?.stop();
    await dlq?.stop();
    await sense?.stop();
    if (kafka) await deleteTopicsWithPrefix(kafka, config.topicPrefix);
  });

  it('observes samples sent with gzip, snappy, lz4 and zstd', async () => {
    sense = await startSense({ config, logger, registry: new Registry() });
    const { metrics } = topicNames(config);
    const t0 = Date.now() - 20_000;
    const codecs = ['gzip', 'snappy', 'lz4', 'zstd'] as const;
    const entities = codecs.map((c) => unique(`rdk-${c}`));
    const sent = await produceWithLibrdkafka(
      config.kafkaBrokers,
      metrics,
      codecs.map((compression, i) => ({ compression, partition: 1, records: samples(entities[i]!, t0, 12) })),
    );
    // Each went stored with its codec: the broker keeps the producer's (one batch as a rule).
    const stored = storedBatches(metrics, 1);
    codecs.forEach((c, i) => {
      for (const batch of batchesOf(stored, sent[i]!.first, sent[i]!.last))
        assert.equal(batch.codecId, CODEC_IDS[c], `${c} batch stored with codec ${batch.codecId}`);
    });
    for (const e of entities)
      await observations.waitFor<Observation>(
        (o) => o.entity === e && o.window.end === t0 + 11 * 500,
        30_000,
      );
    assert.equal(dlq.values<DeadLetter>((d) => entities.includes(d.key ?? '')).length, 0);
    assert.deepEqual(sense.liveness?.(), { 'sense.consumer': true });
  });

  it('dead-letters a stored batch whose payload is corrupt by its offset range, and reads on', async () => {
    await sense?.stop();
    sense = undefined;
    const { metrics } = topicNames(config);
    const t0 = Date.now() - 20_000;
    const steady = unique('steady');
    const lost = unique('lost');
    const batches: Array<{ compression: Compression; records: ReturnType<typeof samples> }> = [
      { compression: 'gzip', records: samples(steady, t0, 6) },
      { compression: 'lz4', records: samples(lost, t0, 20) },
      { compression: 'zstd', records: samples(steady, t0, 6, 6) },
    ];
    const sent = await produceWithLibrdkafka(
      config.kafkaBrokers,
      metrics,
      batches.map((b) => ({ ...b, partition: 0 })),
    );
    const bad = batchesOf(storedBatches(metrics, 0), sent[1]!.first, sent[1]!.last);
    assert.ok(
      bad.every((b) => b.codecId === CODEC_IDS.lz4),
      'the lz4 batch is stored as lz4',
    );
    // The LZ4 frame magic number gone: no LZ4 reader takes it for a frame.
    for (const b of bad) overwriteStored(b, BATCH_HEADER_BYTES, Buffer.alloc(4));

    sense = await startSense({ config, logger, registry: new Registry() });
    // One letter per stored batch (one unless librdkafka split the records), naming its offset range.
    const letters = await expectLetters(dlq, bad, 'sense', 'lz4');
    for (const letter of letters) assert.equal(letter.topic, metrics);
    assert.equal(
      bad.reduce((n, b) => n + b.records, 0),
      20,
    );
    // The samples after it are observed: the consumer moved past the batch.
    await observations.waitFor<Observation>(
      (o) => o.entity === steady && o.window.end === t0 + 11 * 500,
      30_000,
    );
    assert.equal(observations.values<Observation>((o) => o.entity === lost).length, 0);
    assert.deepEqual(sense.liveness?.(), { 'sense.consumer': true });

    // Restarted, sense replays over the batch to rebuild its windows: no second letter, no crash.
    // Committed past the whole batch (and the samples after it) before the restart.
    await waitForCommitted(kafka, `${config.groupPrefix}-sense`, metrics, 0, sent[2]!.last + 1n);
    await sense.stop();
    sense = await startSense({ config, logger, registry: new Registry() });
    await produceWithLibrdkafka(config.kafkaBrokers, metrics, [
      { compression: 'snappy', partition: 0, records: samples(steady, t0, 4, 12) },
    ]);
    await observations.waitFor<Observation>(
      (o) => o.entity === steady && o.window.end === t0 + 15 * 500,
      30_000,
    );
    await sleep(500);
    assert.equal(dlq.values<DeadLetter>(unreadable).length, bad.length);
    assert.deepEqual(sense.liveness?.(), { 'sense.consumer': true });
  });
});

describe('decide reads on past a batch no codec can read (real Kafka and Temporal)', () => {
  const logger = createLogger('warn');
  // A shadow rule: a decision is published for cpu.avg > 85, nothing is started.
  const rule = fastCpuRule('hot-cpu', '5s');
  const shadow = { ...rule, event: { ...rule.event, params: { ...rule.event.params, mode: 'shadow' } } };
  const rulesDir = writeRuleDir([shadow]);
  let config: Config;
  let kafka: Kafka;
  let decide: Service | undefined;
  let decisions: TopicTap;
  let dlq: TopicTap;

  before(async () => {
    await ensureLibrdkafka();
    config = testConfig({ rulesDir, modelDir: 'off' });
    kafka = createKafka(config, logger);
    await ensureTopics(kafka, Object.values(topicNames(config)), config.topicPartitions);
    decisions = await new TopicTap(kafka, topicNames(config).decisions, logger).start();
    dlq = await new TopicTap(kafka, topicNames(config).dlq, logger).start();
  });

  after(async () => {
    await decisions?.stop();
    await dlq?.stop();
    await decide?.stop();
    if (kafka) await deleteTopicsWithPrefix(kafka, config.topicPrefix);
    fs.rmSync(rulesDir, { recursive: true, force: true });
  });

  it('dead-letters the batch by its offset range and decides on the observations after it', async () => {
    const { observations } = topicNames(config);
    const now = Date.now();
    const observation = (entity: string, cpu: number, seq: number) => ({
      key: entity,
      value: {
        entity,
        seq,
        window: { start: now - 3000, end: now },
        features: { 'cpu.avg': cpu, 'cpu.count': 6 },
        events: [],
        ts: now,
      } satisfies Observation,
    });
    const before = unique('before');
    const lost = unique('lost');
    const afterBad = unique('after');
    const sent = await produceWithLibrdkafka(config.kafkaBrokers, observations, [
      { compression: 'snappy', partition: 0, records: [observation(before, 95, 0)] },
      {
        compression: 'zstd',
        partition: 0,
        records: Array.from({ length: 10 }, (_, i) => observation(lost, 95, i)),
      },
      {
        compression: 'lz4',
        partition: 0,
        records: [observation(afterBad, 20, 0), observation(afterBad, 95, 1)],
      },
    ]);
    const bad = batchesOf(storedBatches(observations, 0), sent[1]!.first, sent[1]!.last);
    assert.ok(
      bad.every((b) => b.codecId === CODEC_IDS.zstd),
      'the zstd batch is stored as zstd',
    );
    for (const b of bad) overwriteStored(b, BATCH_HEADER_BYTES, Buffer.alloc(4)); // no zstd frame magic

    decide = await startDecide({ config, logger, registry: new Registry() });
    await expectLetters(dlq, bad, 'decide', 'zstd');
    assert.equal(
      bad.reduce((n, b) => n + b.records, 0),
      10,
    );
    for (const entity of [before, afterBad])
      await decisions.waitFor<Decision>((d) => d.entity === entity && d.rule === 'hot-cpu', 30_000);
    await waitForCommitted(kafka, `${config.groupPrefix}-decide`, observations, 0, sent[2]!.last + 1n);
    assert.equal(decisions.values<Decision>((d) => d.entity === lost).length, 0);
    assert.deepEqual(decide.liveness?.(), { 'decide.consumer': true });
  });
});
