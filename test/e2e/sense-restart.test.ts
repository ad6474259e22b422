/**
 * The sense step loses and doubles nothing across a restart in the middle of a window, and across
 * processes joining and leaving its group: the observations equal those of an uninterrupted run
 * over the same samples (real Kafka; each run on topics and a group of its own).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { topicNames, type Config } from '../../services/common/config.js';
import type { MetricSample, Observation } from '../../services/common/contracts.js';
import { connectProducer, createKafka, ensureTopics, sendJson } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import type { Service } from '../../services/common/service.js';
import { startSense } from '../../services/sense/main.js';
import { testConfig, unique } from '../support/config.js';
import { deleteTopicsWithPrefix, TopicTap } from '../support/kafka.js';

const logger = createLogger('warn');
const ENTITIES = [unique('svc-a'), unique('svc-b'), unique('svc-c'), unique('svc-d'), unique('svc-e')];
const T0 = Date.now() - 120_000;

/** Samples of every entity every 250ms of event time, in event-time order. */
function stream(rounds: number): MetricSample[] {
  const out: MetricSample[] = [];
  for (let i = 0; i < rounds; i++)
    ENTITIES.forEach((entity, k) =>
      out.push({ entity, metric: 'cpu', value: 40 + ((i * 7 + k * 3) % 17), ts: T0 + i * 250 }),
    );
  return out;
}

/** One run of the sense step on topics of its own. */
class Run {
  readonly config: Config;
  readonly kafka: Kafka;
  private readonly services: Service[] = [];

  constructor(partitions: number) {
    this.config = testConfig({ topicPartitions: String(partitions) });
    this.kafka = createKafka(this.config, logger);
  }

  async produce(samples: readonly MetricSample[]): Promise<void> {
    const producer = await connectProducer(this.kafka);
    await ensureTopics(this.kafka, Object.values(topicNames(this.config)), this.config.topicPartitions);
    await sendJson(
      producer,
      topicNames(this.config).metrics,
      samples.map((s) => ({ key: s.entity, value: s })),
    );
    await producer.disconnect();
  }

  async startSense(): Promise<Service> {
    const s = await startSense({ config: this.config, logger, registry: new Registry() });
    this.services.push(s);
    return s;
  }

  async stopSense(s: Service): Promise<void> {
    await s.stop();
    this.services.splice(this.services.indexOf(s), 1);
  }

  /** Waits until the sense group has committed every metrics message produced so far. */
  async caughtUp(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const topic = topicNames(this.config).metrics;
      const deadline = Date.now() + 60_000;
      for (;;) {
        const ends = await admin.fetchTopicOffsets(topic);
        const [committed] = await admin.fetchOffsets({
          groupId: `${this.config.groupPrefix}-sense`,
          topics: [topic],
        });
        const behind = ends.filter((e) => {
          const c = committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? '-1';
          return e.high !== '0' && c !== e.high;
        });
        if (behind.length === 0) return;
        assert.ok(
          Date.now() < deadline,
          `sense still behind on partitions ${behind.map((b) => b.partition).join(',')}`,
        );
        await sleep(200);
      }
    } finally {
      await admin.disconnect();
    }
  }

  /** Every observation produced, as comparable text, sorted. */
  async observations(): Promise<string[]> {
    const tap = await new TopicTap(this.kafka, topicNames(this.config).observations, logger).start();
    await sleep(1500);
    const expected = tap.messages.length;
    await sleep(500);
    assert.equal(tap.messages.length, expected, 'the observations topic is read to its end');
    await tap.stop();
    return tap
      .values<Observation>(() => true)
      .map((o) => JSON.stringify(o))
      .sort();
  }

  async cleanUp(): Promise<void> {
    for (const s of this.services) await s.stop();
    await deleteTopicsWithPrefix(this.kafka, this.config.topicPrefix);
  }
}

describe('sense across restarts and rebalances (real Kafka)', () => {
  const runs: Run[] = [];
  const run = (partitions: number) => {
    const r = new Run(partitions);
    runs.push(r);
    return r;
  };
  after(async () => {
    for (const r of runs) await r.cleanUp();
  });

  /** The observations of one sense process reading all of `samples` without interruption. */
  async function uninterrupted(partitions: number, samples: readonly MetricSample[]): Promise<string[]> {
    const whole = run(partitions);
    await whole.produce(samples);
    const s = await whole.startSense();
    await whole.caughtUp();
    await whole.stopSense(s);
    return whole.observations();
  }

  it('emits after a restart in the middle of a window exactly what an uninterrupted run emits', async () => {
    const samples = stream(60);
    const expected = await uninterrupted(2, samples);
    assert.ok(expected.length >= 5 * 29, `${expected.length} observations (one per entity per 500ms)`);

    const restarted = run(2);
    const cut = 137; // not on a round: some entities of the round are before the cut, some after
    await restarted.produce(samples.slice(0, cut));
    const first = await restarted.startSense();
    await restarted.caughtUp();
    await restarted.stopSense(first);
    await restarted.produce(samples.slice(cut));
    const second = await restarted.startSense();
    await restarted.caughtUp();
    await restarted.stopSense(second);
    assert.deepEqual(await restarted.observations(), expected);
  });

  it('loses and doubles nothing while processes join and leave the group (1 → 2 → 3 → 2)', async () => {
    const samples = stream(80);
    const expected = await uninterrupted(6, samples);

    const scaled = run(6);
    const parts = [samples.slice(0, 90), samples.slice(90, 190), samples.slice(190, 290), samples.slice(290)];
    const p1 = await scaled.startSense();
    await scaled.produce(parts[0]!);
    await scaled.caughtUp();
    await scaled.startSense();
    await scaled.produce(parts[1]!);
    await scaled.caughtUp();
    await scaled.startSense();
    await scaled.produce(parts[2]!);
    await scaled.caughtUp();
    await scaled.stopSense(p1);
    await scaled.produce(parts[3]!);
    await scaled.caughtUp();
    assert.deepEqual(await scaled.observations(), expected);
  });
});
