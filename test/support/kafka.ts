import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Producer } from 'kafkajs';
import { runConsumer, type RunningConsumer } from '../../services/common/kafka.js';
import type { Logger } from '../../services/common/logger.js';
import { unique } from './config.js';

/** A message read back from a topic, value parsed as JSON when it is JSON. */
export interface Tapped {
  readonly key: string | null;
  readonly raw: Buffer | null;
  readonly value: unknown;
}

/** Reads a topic from the beginning in a group of its own and keeps every message. */
export class TopicTap {
  readonly messages: Tapped[] = [];
  private consumer?: RunningConsumer;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<this> {
    this.consumer = await runConsumer({
      kafka: this.kafka,
      groupId: unique('tap'),
      topics: [this.topic],
      fromBeginning: true,
      logger: this.logger,
      eachMessage: async ({ message }) => {
        const text = message.value?.toString('utf8');
        let value: unknown = text;
        try {
          value = text === undefined ? null : JSON.parse(text);
        } catch {
          // keep the text
        }
        this.messages.push({ key: message.key?.toString('utf8') ?? null, raw: message.value, value });
      },
    });
    return this;
  }

  /** Values matching `predicate`, as `T`. */
  values<T>(predicate: (v: T) => boolean = () => true): T[] {
    return this.messages.map((m) => m.value as T).filter((v) => v !== null && typeof v === 'object' && predicate(v));
  }

  /** Waits until `predicate` matches a value; throws after `timeoutMs` with what was seen. */
  async waitFor<T>(predicate: (v: T) => boolean, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.values<T>(predicate)[0];
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no matching message on ${this.topic} within ${timeoutMs}ms (${this.messages.length} seen)`);
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }
}

/** Produces JSON values (or raw strings) keyed by entity, acknowledged by all replicas. */
export async function produce(producer: Producer, topic: string, records: ReadonlyArray<{ key: string; value: unknown }>) {
  await producer.send({
    topic,
    acks: -1,
    messages: records.map((r) => ({ key: r.key, value: typeof r.value === 'string' ? r.value : JSON.stringify(r.value) })),
  });
}

/**
 * Produces one `metric` sample for `entity` every `everyMs` (event time = now) until `stop`
 * resolves true or `maxMs` passes; returns how many were sent.
 */
export async function streamMetric(
  producer: Producer,
  topic: string,
  sample: { entity: string; metric: string; value: number },
  opts: { everyMs: number; maxMs: number; until: () => boolean },
): Promise<number> {
  const deadline = Date.now() + opts.maxMs;
  let sent = 0;
  while (!opts.until() && Date.now() < deadline) {
    await produce(producer, topic, [{ key: sample.entity, value: { ...sample, ts: Date.now() } }]);
    sent++;
    await sleep(opts.everyMs);
  }
  return sent;
}
