import type { Kafka } from 'kafkajs';
import { runConsumer, type RunningConsumer } from './kafka.js';
import type { Logger } from './logger.js';
import { uniqueName } from './unique-name.js';

/** A message read back from a topic, value parsed as JSON when it is JSON. */
export interface Tapped {
  readonly key: string | null;
  readonly raw: Buffer | null;
  readonly value: unknown;
}

/** Reads a topic from the beginning in a group of its own and keeps every message (tests, demo, bench). */
export class TopicTap {
  readonly messages: Tapped[] = [];
  private consumer?: RunningConsumer;
  private readonly waiters = new Set<(value: unknown) => void>();

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<this> {
    this.consumer = await runConsumer({
      kafka: this.kafka,
      groupId: uniqueName('tap'),
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
        for (const wake of this.waiters) wake(value);
      },
    });
    return this;
  }

  /** Values matching `predicate`, as `T`. */
  values<T>(predicate: (v: T) => boolean = () => true): T[] {
    return this.messages
      .map((m) => m.value as T)
      .filter((v) => v !== null && typeof v === 'object' && predicate(v));
  }

  /** Waits until `predicate` matches a value (one already read, or the next ones); throws after `timeoutMs`. */
  async waitFor<T>(predicate: (v: T) => boolean, timeoutMs: number): Promise<T> {
    const found = () => this.values<T>(predicate)[0];
    const now = found();
    if (now !== undefined) return now;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        reject(
          new Error(
            `no matching message on ${this.topic} within ${timeoutMs}ms (${this.messages.length} seen)`,
          ),
        );
      }, timeoutMs);
      // Only the new message is checked: re-reading every message each time would be quadratic.
      const wake = (value: unknown) => {
        if (value === null || typeof value !== 'object' || !predicate(value as T)) return;
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(value as T);
      };
      this.waiters.add(wake);
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }
}

/** Deletes every topic whose name starts with `prefix` (the topics of a test or bench run). */
export async function deleteTopicsWithPrefix(kafka: Kafka, prefix: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}
