import type { EachMessagePayload, Producer } from 'kafkajs';
import { Counter, Gauge, type Registry } from 'prom-client';
import { decodeMessage, eventSchema, metricSampleSchema, type Refusal } from '../common/contracts.js';
import type { TopicNames } from '../common/config.js';
import type { DeadLetters } from '../common/dead-letters.js';
import { sendJson } from '../common/kafka.js';
import type { Logger } from '../common/logger.js';
import type { EntityWindows } from './windows.js';

/** Kafka edge of the sense step: validated samples and events in, observations out. */
export class SenseHandler {
  private readonly messages: Counter<'topic' | 'result'>;
  private readonly entities: Gauge;

  constructor(
    private readonly deps: {
      windows: EntityWindows;
      producer: Producer;
      topics: TopicNames;
      deadLetters: DeadLetters;
      maxClockSkewMs: number;
      logger: Logger;
      registry: Registry;
    },
  ) {
    this.messages = new Counter({
      name: 'autoglm_sense_messages_total',
      help: 'Input messages by topic and result (observation, buffered, late, event, refused)',
      labelNames: ['topic', 'result'],
      registers: [deps.registry],
    });
    this.entities = new Gauge({
      name: 'autoglm_sense_entities',
      help: 'Entities with a live window',
      registers: [deps.registry],
      collect: () => this.entities.set(deps.windows.size),
    });
  }

  /** Handles one message; resolves once any observation it closed is acknowledged by Kafka. */
  async handle(payload: EachMessagePayload): Promise<void> {
    const { topics, windows, maxClockSkewMs } = this.deps;
    const now = Date.now();
    if (payload.topic === topics.metrics) {
      const decoded = decodeMessage(metricSampleSchema, payload.message.value, now, maxClockSkewMs);
      if (!decoded.ok) return this.refuse(payload, decoded.refusal);
      const outcome = windows.addSample(decoded.value);
      if (outcome.kind === 'observation') {
        const obs = outcome.observation;
        await sendJson(this.deps.producer, topics.observations, [{ key: obs.entity, value: obs }]);
        this.deps.logger.debug({ entity: obs.entity, seq: obs.seq }, 'observation');
      }
      this.messages.inc({ topic: payload.topic, result: outcome.kind });
    } else {
      const decoded = decodeMessage(eventSchema, payload.message.value, now, maxClockSkewMs);
      if (!decoded.ok) return this.refuse(payload, decoded.refusal);
      windows.addEvent(decoded.value);
      this.messages.inc({ topic: payload.topic, result: 'event' });
    }
  }

  private async refuse(payload: EachMessagePayload, refusal: Refusal): Promise<void> {
    await this.deps.deadLetters.send(payload, refusal);
    this.messages.inc({ topic: payload.topic, result: 'refused' });
  }
}
