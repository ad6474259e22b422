import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { verdictSchema, type Verdict } from '../common/contracts.js';
import { runConsumer } from '../common/kafka.js';
import { readPartitions } from '../common/kafka-read.js';
import type { Logger } from '../common/logger.js';

/**
 * Feeds decide the remediations that ended `stale` (on the verdicts topic), so an episode whose one
 * decision never acted decides again (episodes.ts, `staleEnded`). Every decide process reads every
 * verdict (the episode is wherever its observations' partition is, which another process may own
 * now or after a rebalance): a consumer group of its own that commits nothing (Kafka drops it once
 * empty), and on start the verdicts of the last `lookbackMs` read back, for the episodes this process
 * restores from the changelog.
 */
export interface StaleEnds {
  stop(): Promise<void>;
}

/** A verdict message that says a remediation ended stale; undefined for anything else. */
export function staleVerdictOf(message: Pick<KafkaMessage, 'value'>): Verdict | undefined {
  if (!message.value) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(message.value.toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = verdictSchema.safeParse(json);
  return parsed.success && parsed.data.outcome === 'stale' ? parsed.data : undefined;
}

/** Follows the verdicts topic from `lookbackMs` ago on, calling `onStale` for each stale end. */
export async function followStaleEnds(opts: {
  kafka: Kafka;
  topic: string;
  groupPrefix: string;
  /** How far back to read on start (the episodes' idle time: older episodes are over anyway). */
  lookbackMs: number;
  /** Longest the read-back may take. */
  readTimeoutMs: number;
  logger: Logger;
  onStale: (verdict: Verdict) => void;
  onFatal?: (err: Error) => void;
}): Promise<StaleEnds> {
  const { kafka, topic, logger } = opts;
  const seen = (message: Pick<KafkaMessage, 'value'>) => {
    const verdict = staleVerdictOf(message);
    if (verdict) opts.onStale(verdict);
  };
  const groupId = `${opts.groupPrefix}-decide-stale-ends-${randomUUID()}`;
  // First the live consumer (from the end as of its join), then the read-back up to the end as of
  // now: they overlap rather than leave a gap, and a stale end seen twice changes nothing more.
  const live = await runConsumer({
    kafka,
    groupId,
    topics: [topic],
    fromBeginning: false,
    logger,
    eachBatch: async ({ batch, resolveOffset }) => {
      for (const message of batch.messages) seen(message);
      resolveOffset(batch.lastOffset()); // nothing committed: the next start reads back instead
    },
    ...(opts.onFatal ? { onFatal: opts.onFatal } : {}),
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const since = await admin.fetchTopicOffsetsByTimestamp(topic, Date.now() - opts.lookbackMs);
    const from = new Map(
      since.filter((p) => Number(p.offset) >= 0).map((p) => [p.partition, BigInt(p.offset)] as const),
    );
    const read = await readPartitions(
      kafka,
      topic,
      from,
      (_, message) => seen(message),
      { maxMessages: Number.MAX_SAFE_INTEGER, timeoutMs: opts.readTimeoutMs },
      `${opts.groupPrefix}-decide-stale-ends-read`,
    );
    if (!read.complete)
      logger.warn(
        { topic, ...read },
        'verdicts not fully read back: a stale end before the start may be missed',
      );
  } finally {
    await admin.disconnect();
  }
  return {
    async stop() {
      await live.stop();
      const cleanup = kafka.admin();
      await cleanup.connect();
      await cleanup.deleteGroups([groupId]).catch(() => undefined);
      await cleanup.disconnect();
    },
  };
}
