import type { EachMessagePayload, Producer } from 'kafkajs';
import { Counter, type Registry } from 'prom-client';
import type { DeadLetter, Refusal } from './contracts.js';
import { sendJson } from './kafka.js';
import type { Logger } from './logger.js';

/** Builds the dead-letter record for a refused message: original bytes, origin and reason. */
export function deadLetterFor(
  payload: EachMessagePayload,
  refusal: Refusal,
  service: string,
  nowMs: number,
): DeadLetter {
  const { topic, partition, message } = payload;
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key?.toString('utf8') ?? null,
    value: message.value?.toString('base64') ?? null,
    reason: refusal.reason,
    issues: refusal.issues.map((i) => ({ ...i })),
    service,
    ts: nowMs,
  };
}

/** Sends refused messages to the dead-letter topic, counts them by reason, and logs why. */
export class DeadLetters {
  private readonly refused: Counter<'topic' | 'reason'>;

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly service: string,
    registry: Registry,
    private readonly logger: Logger,
  ) {
    this.refused = new Counter({
      name: `autoglm_${service}_dead_letters_total`,
      help: `Messages the ${service} step refused to the dead-letter topic, by input topic and reason`,
      labelNames: ['topic', 'reason'],
      registers: [registry],
    });
  }

  /** Resolves once the dead letter is acknowledged, so the offset may be committed. */
  async send(payload: EachMessagePayload, refusal: Refusal): Promise<void> {
    const letter = deadLetterFor(payload, refusal, this.service, Date.now());
    await sendJson(this.producer, this.topic, [
      { key: letter.key ?? `${letter.topic}/${letter.partition}`, value: letter },
    ]);
    this.refused.inc({ topic: payload.topic, reason: refusal.reason });
    this.logger.warn(
      {
        topic: payload.topic,
        offset: payload.message.offset,
        reason: refusal.reason,
        issues: refusal.issues,
      },
      'message refused to dead-letter topic',
    );
  }
}
