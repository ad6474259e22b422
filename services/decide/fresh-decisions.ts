import type { Kafka, KafkaMessage } from 'kafkajs';
import { readPartitions, type BoundedReadLimits } from '../common/kafka-read.js';
import { jsonValue } from './message-json.js';

/**
 * The enforced decisions published fresh (not stale) within the last `lookbackMs`, by id, with
 * when each was published: what decide asks when a replay re-decides a decision stale, to tell one
 * it published fresh (the crash may have come before its workflow started) from one it never
 * decided before (a backlog's, published for the audit only). Only recent ones count: starting a
 * decision again relies on Temporal still holding its workflow if it had one, and its retention (a
 * day or more) outlasts the lookback (AUTOGLM_EPISODE_IDLE, an hour). At most `capacity` ids.
 */
export class FreshDecisions {
  private readonly at = new Map<string, number>();
  constructor(
    readonly lookbackMs: number,
    private readonly capacity = 50_000,
  ) {}

  add(decisionId: string, publishedAt: number): void {
    this.at.delete(decisionId);
    this.at.set(decisionId, publishedAt);
    if (this.at.size > this.capacity) this.at.delete(this.at.keys().next().value as string);
  }

  has(decisionId: string, now = Date.now()): boolean {
    const at = this.at.get(decisionId);
    return at !== undefined && now - at <= this.lookbackMs;
  }
}

/**
 * The enforced decisions published fresh on the decisions topic since `lookbackMs` ago, every
 * partition, with their publication time (the record's timestamp).
 */
export async function readFreshDecisionIds(
  kafka: Kafka,
  topic: string,
  lookbackMs: number,
  limits: BoundedReadLimits,
  groupPrefix: string,
): Promise<{ decisions: Array<{ id: string; at: number }>; messages: number; complete: boolean }> {
  const admin = kafka.admin();
  await admin.connect();
  let since: Array<{ partition: number; offset: string }>;
  try {
    since = await admin.fetchTopicOffsetsByTimestamp(topic, Date.now() - lookbackMs);
  } finally {
    await admin.disconnect();
  }
  const from = new Map<number, bigint>();
  for (const p of since) if (Number(p.offset) >= 0) from.set(p.partition, BigInt(p.offset));
  const decisions: Array<{ id: string; at: number }> = [];
  const read = await readPartitions(
    kafka,
    topic,
    from,
    (_, message) => {
      const id = freshDecisionId(message);
      if (id !== undefined) decisions.push({ id, at: Number(message.timestamp) });
    },
    limits,
    `${groupPrefix}-decide-fresh`,
  );
  return { decisions, messages: read.messages, complete: read.complete };
}

/** The id of an enforced decision published fresh; undefined for anything else. */
export function freshDecisionId(message: Pick<KafkaMessage, 'value'>): string | undefined {
  const json = jsonValue(message.value);
  if (typeof json !== 'object' || json === null) return undefined;
  const d = json as { decisionId?: unknown; mode?: unknown; stale?: unknown };
  return typeof d.decisionId === 'string' && d.mode === 'enforce' && d.stale !== true
    ? d.decisionId
    : undefined;
}
