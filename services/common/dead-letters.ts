import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KafkaMessage, Producer } from 'kafkajs';
import { Counter, type Registry } from 'prom-client';
import type { DeadLetter, Refusal } from './contracts.js';
import { sendJson } from './kafka.js';
import type { Logger } from './logger.js';

/** Where a refused message came from (an `eachMessage` payload has this shape). */
export interface RefusedSource {
  readonly topic: string;
  readonly partition: number;
  readonly message: Pick<KafkaMessage, 'offset' | 'key' | 'value'>;
}

/**
 * Builds the dead-letter record for a refused message: origin, reason, and at most
 * `maxValueBytes` of the original value (base64) with its full length and sha256, so the dead
 * letter itself always fits the broker's message limit.
 */
export function deadLetterFor(
  source: RefusedSource,
  refusal: Refusal,
  service: string,
  nowMs: number,
  maxValueBytes: number,
): DeadLetter {
  const { topic, partition, message } = source;
  const value = message.value;
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key?.subarray(0, 1024).toString('utf8') ?? null,
    value: value ? value.subarray(0, maxValueBytes).toString('base64') : null,
    valueBytes: value?.length ?? 0,
    valueSha256: value ? createHash('sha256').update(value).digest('hex') : null,
    valueTruncated: (value?.length ?? 0) > maxValueBytes,
    reason: refusal.reason,
    issues: refusal.issues.slice(0, 50).map((i) => ({ path: i.path, message: i.message.slice(0, 500) })),
    service,
    ts: nowMs,
  };
}

/** Delays between attempts to write dead letters before giving up on them (logged, never thrown). */
const RETRY_DELAYS_MS = [200, 1000, 5000];

/**
 * Sends refused messages to the dead-letter topic, counts them by reason, and logs why. A dead
 * letter that cannot be written after a few attempts is logged with its origin and offset and
 * counted: a broken dead-letter path must not stop the step from consuming good input.
 */
export class DeadLetters {
  private readonly refused: Counter<'topic' | 'reason'>;
  private readonly lost: Counter<'topic'>;

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly service: string,
    registry: Registry,
    private readonly logger: Logger,
    private readonly maxValueBytes = 16_384,
  ) {
    this.refused = new Counter({
      name: `autoglm_${service}_dead_letters_total`,
      help: `Messages the ${service} step refused to the dead-letter topic, by input topic and reason`,
      labelNames: ['topic', 'reason'],
      registers: [registry],
    });
    this.lost = new Counter({
      name: `autoglm_${service}_dead_letters_unwritten_total`,
      help: `Dead letters the ${service} step could not write after retries (logged with their offsets)`,
      labelNames: ['topic'],
      registers: [registry],
    });
  }

  /** Resolves once the dead letter is acknowledged, or given up on and logged. */
  send(source: RefusedSource, refusal: Refusal): Promise<void> {
    return this.sendAll([{ source, refusal }]);
  }

  /** Writes several dead letters in one request (a batch's worth); same guarantees as `send`. */
  async sendAll(items: ReadonlyArray<{ source: RefusedSource; refusal: Refusal }>): Promise<void> {
    if (items.length === 0) return;
    const now = Date.now();
    const letters = items.map((i) =>
      deadLetterFor(i.source, i.refusal, this.service, now, this.maxValueBytes),
    );
    const records = letters.map((l) => ({ key: l.key ?? `${l.topic}/${l.partition}`, value: l }));
    for (let attempt = 0; ; attempt++) {
      try {
        await sendJson(this.producer, this.topic, records);
        break;
      } catch (err) {
        const delay = RETRY_DELAYS_MS[attempt];
        if (delay === undefined) {
          for (const l of letters) {
            this.lost.inc({ topic: l.topic });
            this.logger.error(
              { err, topic: l.topic, partition: l.partition, offset: l.offset, reason: l.reason },
              'dead letter could not be written; the message is skipped',
            );
          }
          return;
        }
        await sleep(delay);
      }
    }
    for (const l of letters) {
      this.refused.inc({ topic: l.topic, reason: l.reason });
      this.logger.warn(
        { topic: l.topic, offset: l.offset, reason: l.reason, issues: l.issues.slice(0, 5) },
        'message refused to dead-letter topic',
      );
    }
  }
}
