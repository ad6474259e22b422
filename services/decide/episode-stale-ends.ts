import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { verdictSchema, type Verdict } from '../common/contracts.js';
import { runConsumer } from '../common/kafka.js';
import type { Logger } from '../common/logger.js';
import { jsonValue } from './message-json.js';

/**
 * Feeds decide the remediations that ended `stale`, or were absorbed because their input predates a
 * fix of the entity (on the verdicts topic), so an episode whose one decision never acted decides
 * again on fresh input (episodes.ts, `staleEnded`). Every decide process reads every
 * verdict (the episode is wherever its observations' partition is, which another process may own
 * now or after a rebalance): a consumer group of its own that commits nothing (Kafka drops it once
 * empty, and it is deleted on stop), which starts `lookbackMs` back, for the episodes this process
 * restores from the changelog.
 */
export interface StaleEnds {
  stop(): Promise<void>;
}

/**
 * A verdict message that says a remediation ended stale, or was absorbed because its input ended
 * before another remediation of the entity acted and ended (`evidence.inputBeforeAct`: decided on
 * the entity as it was before that fix, so the episode decides again on fresh input, as after a
 * stale end); undefined for anything else.
 */
export function staleVerdictOf(message: Pick<KafkaMessage, 'value'>): Verdict | undefined {
  const parsed = verdictSchema.safeParse(jsonValue(message.value));
  if (!parsed.success) return undefined;
  const { outcome, evidence } = parsed.data;
  return outcome === 'stale' || (outcome === 'absorbed' && evidence.inputBeforeAct !== undefined)
    ? parsed.data
    : undefined;
}

/** Follows the verdicts topic from `lookbackMs` ago on, calling `onStale` for each stale end. */
export async function followStaleEnds(opts: {
  kafka: Kafka;
  topic: string;
  groupPrefix: string;
  /** How far back to read on start (the episodes' idle time: older episodes are over anyway). */
  lookbackMs: number;
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
  // Joined (alone in its group: every partition is its own): go back `lookbackMs`, for the
  // episodes restored from the changelog. Read again from there if it had begun: a stale end
  // seen twice changes nothing more.
  const admin = kafka.admin();
  await admin.connect();
  try {
    const since = await admin.fetchTopicOffsetsByTimestamp(topic, Date.now() - opts.lookbackMs);
    for (const p of since)
      if (Number(p.offset) >= 0) live.consumer.seek({ topic, partition: p.partition, offset: p.offset });
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
