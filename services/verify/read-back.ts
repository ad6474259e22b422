import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { decodeMessage, fastObservation, observationSchema, type Observation } from '../common/contracts.js';
import type { Logger } from '../common/logger.js';

/** Limits of one read-back. */
export interface ReadBackLimits {
  /** Most messages read over all partitions before giving up on the rest. */
  readonly maxMessages: number;
  /** Longest a read-back may take. */
  readonly timeoutMs: number;
}

/**
 * Reads the observations of `entity` whose window ended after `sinceTs` back from the topic: from
 * the offsets at that time (offsetsForTimes) up to the ends as they were when it began, bounded by
 * `limits`. A verification that starts on a new worker (after a restart, or a retry after a worker
 * died) gets the evidence since the action this way. Uses a group of its own that commits nothing
 * and is deleted afterwards, so no consumer groups pile up.
 */
export async function readBack(
  kafka: Kafka,
  topic: string,
  entity: string,
  sinceTs: number,
  limits: ReadBackLimits,
  logger: Logger,
): Promise<{ observations: Observation[]; messages: number; complete: boolean }> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `autoglm-verify-readback-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 200 });
  const found: Observation[] = [];
  let messages = 0;
  try {
    const starts = await admin.fetchTopicOffsetsByTimestamp(topic, sinceTs);
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
    const from = new Map(
      starts.map((p) => [p.partition, BigInt(p.offset === '-1' ? (ends.get(p.partition) ?? 0n) : p.offset)]),
    );
    const pending = new Set([...ends].filter(([p, high]) => (from.get(p) ?? high) < high).map(([p]) => p));
    if (pending.size === 0) return { observations: [], messages: 0, complete: true };
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: false });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      for (const [partition, offset] of from) consumer.seek({ topic, partition, offset: offset.toString() });
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        const end = ends.get(batch.partition) ?? 0n;
        for (const message of batch.messages) {
          if (BigInt(message.offset) >= end || !pending.has(batch.partition)) break;
          messages++;
          resolveOffset(message.offset);
          if (message.key?.toString('utf8') !== entity) continue;
          const decoded = decodeMessage(
            observationSchema,
            message.value,
            Date.now(),
            Number.MAX_SAFE_INTEGER,
            fastObservation,
          );
          if (decoded.ok && decoded.value.entity === entity && decoded.value.ts > sinceTs)
            found.push(decoded.value);
        }
        const last = batch.messages.at(-1);
        if (last && BigInt(last.offset) + 1n >= end) pending.delete(batch.partition);
        if (pending.size === 0 || messages >= limits.maxMessages) done();
      },
    });
    const timedOut = await Promise.race([
      finished.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), limits.timeoutMs).unref()),
    ]);
    const complete = !timedOut && pending.size === 0;
    if (!complete)
      logger.warn(
        { entity, messages, partitionsLeft: [...pending] },
        'read-back stopped at its limit; evidence may be partial',
      );
    return { observations: found, messages, complete };
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}
