import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';

/** Limits of one bounded read. */
export interface BoundedReadLimits {
  /** Most messages read over all partitions before giving up on the rest. */
  readonly maxMessages: number;
  /** Longest the read may take. */
  readonly timeoutMs: number;
  /** Ends the read at once, incomplete, when aborted: a service that stops does not wait for it. */
  readonly signal?: AbortSignal;
}

/**
 * Reads `topic`'s partitions from the given offsets up to their ends as they are when the read
 * begins (messages written later are not waited for), calling `onMessage` for each, in offset
 * order per partition. Bounded by `limits`; `complete` is false when a limit stopped it. Uses a
 * consumer group of its own (`<groupPrefix>-<uuid>`) that commits nothing and is deleted
 * afterwards, so no groups pile up. For reading back evidence and restoring changelogs.
 */
export async function readPartitions(
  kafka: Kafka,
  topic: string,
  /** Partition → first offset to read ('earliest': the oldest one kept); partitions not named are not read. */
  from: ReadonlyMap<number, bigint | 'earliest'>,
  onMessage: (partition: number, message: KafkaMessage) => void,
  limits: BoundedReadLimits,
  groupPrefix: string,
): Promise<{ messages: number; complete: boolean; partitionsLeft: number[] }> {
  if (limits.signal?.aborted) return { messages: 0, complete: false, partitionsLeft: [...from.keys()] };
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `${groupPrefix}-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 200 });
  let messages = 0;
  let onAbort: (() => void) | undefined;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const ends = new Map(offsets.map((p) => [p.partition, BigInt(p.high)]));
    const starts = new Map<number, bigint>();
    for (const p of offsets) {
      const given = from.get(p.partition);
      if (given !== undefined) starts.set(p.partition, given === 'earliest' ? BigInt(p.low) : given);
    }
    const pending = new Set(
      [...starts].filter(([p, offset]) => offset < (ends.get(p) ?? 0n)).map(([p]) => p),
    );
    if (pending.size === 0) return { messages: 0, complete: true, partitionsLeft: [] };
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: false });
    /** A partition is read once a batch reached its end (with or without messages to hand out). */
    const reached = (partition: number, lastOffset: string) => {
      if (BigInt(lastOffset) + 1n >= (ends.get(partition) ?? 0n)) pending.delete(partition);
      if (pending.size === 0 || messages >= limits.maxMessages) done();
    };
    // After every batch, handed out or not (one of only control records or aborted records reaches
    // no handler, only this event), at the batch's last offset, not its last message's: a partition
    // that ends with a transaction's commit marker is read to its end.
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      if (e.payload.topic === topic) reached(e.payload.partition, String(e.payload.lastOffset));
    });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      // Partitions not asked for start at their end: nothing is fetched from them.
      for (const [partition, end] of ends) {
        const offset = starts.get(partition) ?? end;
        consumer.seek({ topic, partition, offset: offset.toString() });
      }
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        const end = ends.get(batch.partition) ?? 0n;
        for (const message of batch.messages) {
          if (BigInt(message.offset) >= end || !pending.has(batch.partition)) break;
          messages++;
          resolveOffset(message.offset);
          onMessage(batch.partition, message);
        }
      },
    });
    const timedOut = await Promise.race([
      finished.then(() => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), limits.timeoutMs).unref()),
      new Promise<boolean>((resolve) => {
        onAbort = () => resolve(true);
        if (limits.signal?.aborted) resolve(true);
        limits.signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
    return { messages, complete: !timedOut && pending.size === 0, partitionsLeft: [...pending] };
  } finally {
    if (onAbort) limits.signal?.removeEventListener('abort', onAbort);
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

/**
 * The two strings of a changelog key written as a JSON array (`["entity","metric"]`,
 * `["entity","rule"]`); undefined for any other key, which the caller refuses and counts.
 */
export function parsePairKey(key: Buffer | null): readonly [string, string] | undefined {
  if (key === null) return undefined;
  try {
    const parsed: unknown = JSON.parse(key.toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      typeof parsed[0] === 'string' &&
      typeof parsed[1] === 'string'
    )
      return [parsed[0], parsed[1]];
  } catch {
    // not JSON: refused by the caller
  }
  return undefined;
}
