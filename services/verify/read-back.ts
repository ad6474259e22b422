import type { Kafka } from 'kafkajs';
import { decodeMessage, fastObservation, observationSchema, type Observation } from '../common/contracts.js';
import { readPartitions, type BoundedReadLimits } from '../common/kafka-read.js';
import type { Logger } from '../common/logger.js';

/** Limits of one read-back. */
export type ReadBackLimits = BoundedReadLimits;

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
  let starts: Awaited<ReturnType<typeof admin.fetchTopicOffsetsByTimestamp>>;
  try {
    starts = await admin.fetchTopicOffsetsByTimestamp(topic, sinceTs);
  } finally {
    await admin.disconnect();
  }
  // "-1": nothing at or after that time in the partition; nothing to read there.
  const from = new Map(starts.filter((p) => p.offset !== '-1').map((p) => [p.partition, BigInt(p.offset)]));
  const found: Observation[] = [];
  const read = await readPartitions(
    kafka,
    topic,
    from,
    (_partition, message) => {
      if (message.key?.toString('utf8') !== entity) return;
      const decoded = decodeMessage(
        observationSchema,
        message.value,
        Date.now(),
        Number.MAX_SAFE_INTEGER,
        fastObservation,
      );
      if (decoded.ok && decoded.value.entity === entity && decoded.value.ts > sinceTs)
        found.push(decoded.value);
    },
    limits,
    'autoglm-verify-readback',
  );
  if (!read.complete)
    logger.warn(
      { entity, messages: read.messages, partitionsLeft: read.partitionsLeft },
      'read-back stopped at its limit; evidence may be partial',
    );
  return { observations: found, messages: read.messages, complete: read.complete };
}
