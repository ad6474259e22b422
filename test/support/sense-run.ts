/**
 * One run of the sense step on topics and a group of its own, for the restart tests: produce
 * samples, start and stop sense (in this process or as its own process), wait until it caught
 * up, read every observation it produced, clean up.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { topicNames, type Config } from '../../services/common/config.js';
import type { MetricSample, Observation, OpsEvent } from '../../services/common/contracts.js';
import { connectProducer, createKafka, ensureTopics, sendJson } from '../../services/common/kafka.js';
import type { Logger } from '../../services/common/logger.js';
import type { Service } from '../../services/common/service.js';
import { startSense } from '../../services/sense/main.js';
import { testConfig } from './config.js';
import { deleteTopicsWithPrefix, TopicTap } from './kafka.js';
import { spawnService } from './service-process.js';

/** One run of the sense step on topics of its own. */
export class SenseRun {
  readonly config: Config;
  readonly kafka: Kafka;
  private readonly services: Service[] = [];

  private readonly children: ChildProcess[] = [];

  constructor(
    partitions: number,
    private readonly logger: Logger,
    overrides: Parameters<typeof testConfig>[0] = {},
  ) {
    this.config = testConfig({ topicPartitions: String(partitions), ...overrides });
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

  async produceEvents(events: readonly OpsEvent[]): Promise<void> {
    const producer = await connectProducer(this.kafka);
    await ensureTopics(this.kafka, Object.values(topicNames(this.config)), this.config.topicPartitions);
    await sendJson(
      producer,
      topicNames(this.config).events,
      events.map((e) => ({ key: e.entity, value: e })),
    );
    await producer.disconnect();
  }

  async startSense(): Promise<Service> {
    const s = await startSense({ config: this.config, logger: this.logger, registry: new Registry() });
    this.services.push(s);
    return s;
  }

  async stopSense(s: Service): Promise<void> {
    await s.stop();
    this.services.splice(this.services.indexOf(s), 1);
  }

  /** Waits until the sense group has committed every metrics and events message produced so far. */
  async caughtUp(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const { metrics, events } = topicNames(this.config);
      for (const topic of [metrics, events]) await this.caughtUpOn(admin, topic);
    } finally {
      await admin.disconnect();
    }
  }

  private async caughtUpOn(admin: ReturnType<Kafka['admin']>, topic: string): Promise<void> {
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
        `sense still behind on ${topic} partitions ${behind.map((b) => b.partition).join(',')}`,
      );
      await sleep(200);
    }
  }

  /** Messages of the metrics topic the sense group has not committed yet (0 when caught up). */
  async behind(): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const topic = topicNames(this.config).metrics;
      const ends = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({
        groupId: `${this.config.groupPrefix}-sense`,
        topics: [topic],
      });
      let behind = 0;
      for (const e of ends) {
        const c = Number(committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? '-1');
        behind += Number(e.high) - Math.max(c, Number(e.low));
      }
      return behind;
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Every observation produced, as comparable text, sorted: the observations topic read up to the
   * high watermarks it had when called (every record counted, none missed by a fixed sleep).
   */
  async observations(): Promise<string[]> {
    const topic = topicNames(this.config).observations;
    const admin = this.kafka.admin();
    await admin.connect();
    let expected = 0;
    try {
      for (const e of await admin.fetchTopicOffsets(topic)) expected += Number(e.high) - Number(e.low);
    } finally {
      await admin.disconnect();
    }
    const tap = await new TopicTap(this.kafka, topic, this.logger).start();
    try {
      const deadline = Date.now() + 60_000;
      while (tap.messages.length < expected) {
        assert.ok(Date.now() < deadline, `read ${tap.messages.length} of ${expected} observations`);
        await sleep(100);
      }
      assert.equal(tap.messages.length, expected, 'the observations topic is read to its high watermarks');
    } finally {
      await tap.stop();
    }
    return tap
      .values<Observation>(() => true)
      .map((o) => JSON.stringify(o))
      .sort();
  }

  /** Starts sense as its own process (`services/sense/main.ts`) with this run's settings. */
  spawnSense(): ChildProcess {
    const child = spawnService('sense', this.config, {
      AUTOGLM_WINDOW: `${this.config.window}ms`,
      AUTOGLM_EMIT_EVERY: `${this.config.emitEvery}ms`,
    });
    this.children.push(child);
    return child;
  }

  /** Kills a spawned sense process with `signal` and waits until it is gone. */
  async kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    }
    this.children.splice(this.children.indexOf(child), 1);
  }

  async cleanUp(): Promise<void> {
    for (const s of this.services) await s.stop();
    for (const c of [...this.children]) await this.kill(c, 'SIGKILL');
    await deleteTopicsWithPrefix(this.kafka, this.config.topicPrefix);
  }
}
