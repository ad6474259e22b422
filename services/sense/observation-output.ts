/**
 * Publishing a batch's observations: each serialized once, checked against the observation byte
 * limit, sent in bounded requests; one the broker can never take is handed back instead of being
 * retried ahead of every later batch.
 */
import type { Message, Producer } from 'kafkajs';
import { MAX_SEND_BYTES } from '../common/kafka.js';

/** Broker answers that sending the same record again cannot change (kafkajs error `type`s). */
const UNPUBLISHABLE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD']);

/** Whether `err` (or an error it wraps) says the broker will never accept the record(s) sent. */
export function isUnpublishable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e !== null && typeof e === 'object'; depth++) {
    const { type, cause } = e as { type?: unknown; cause?: unknown };
    if (typeof type === 'string' && UNPUBLISHABLE.has(type)) return true;
    e = cause;
  }
  return false;
}

/**
 * One observation ready to send: its key (the entity) and its JSON, as bytes: encoded once here,
 * where their size is checked, instead of measured here and encoded again by kafkajs (twice for
 * the key: its partitioner hashes the bytes too).
 */
export interface SerializedRecord {
  readonly key: Buffer;
  readonly value: Buffer;
}

/** Why a record was not published: over the byte limit, or refused by the broker for good. */
export interface Unpublished {
  readonly index: number;
  readonly reason: 'observation_too_large' | 'unpublishable';
  readonly message: string;
}

/**
 * Most records of one topic in one produce request: with kafkajs' grouping by partition in linear
 * time (common/kafkajs-record-encoder.ts; its own was quadratic, this was 512), the byte bound
 * (half of MAX_SEND_BYTES, ~900 observations) is what usually ends a request.
 */
export const RECORDS_PER_REQUEST = 2048;

/** Records of another topic that go in the same requests (the baseline changelog's). */
export interface Alongside {
  readonly topic: string;
  readonly messages: readonly Message[];
}

/**
 * Sends `records` to `topic` in order (with `alongside`'s messages in the same requests), in
 * requests of at most RECORDS_PER_REQUEST records per topic and MAX_SEND_BYTES, acknowledged by
 * all in-sync replicas. A record over `maxBytes` is not sent; when the broker refuses a request
 * for good (too large, invalid), its records are sent one at a time and those it refuses are not
 * retried. Returns the records not published (by index); throws on errors worth retrying.
 */
export async function publishRecords(
  producer: Producer,
  topic: string,
  records: readonly SerializedRecord[],
  maxBytes: number,
  alongside?: Alongside,
): Promise<Unpublished[]> {
  const unpublished: Unpublished[] = [];
  const others = alongside?.messages ?? [];
  let next = 0; // the next of `others` to send
  let chunk: number[] = [];
  let bytes = 0;
  const one = async (i: number) => {
    try {
      await producer.send({ topic, acks: -1, messages: [records[i]!] });
    } catch (err) {
      if (!isUnpublishable(err)) throw err;
      const message = `the broker refused it: ${(err as Error).message}`;
      unpublished.push({ index: i, reason: 'unpublishable', message });
    }
  };
  const flush = async () => {
    const indexes = chunk;
    chunk = [];
    bytes = 0;
    const extra = others.slice(next, next + RECORDS_PER_REQUEST);
    next += extra.length;
    const topicMessages = [];
    if (indexes.length > 0) topicMessages.push({ topic, messages: indexes.map((i) => records[i]!) });
    if (extra.length > 0) topicMessages.push({ topic: alongside!.topic, messages: extra });
    if (topicMessages.length === 0) return;
    try {
      await producer.sendBatch({ acks: -1, topicMessages });
    } catch (err) {
      if (!isUnpublishable(err) || indexes.length === 0) throw err;
      if (extra.length > 0) await producer.send({ topic: alongside!.topic, acks: -1, messages: extra });
      for (const i of indexes) await one(i);
    }
  };
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const size = r.value.length + r.key.length;
    if (size > maxBytes) {
      unpublished.push({
        index: i,
        reason: 'observation_too_large',
        message: `the observation would be ${size} bytes, over the ${maxBytes} set by AUTOGLM_MAX_OBSERVATION_BYTES`,
      });
      continue;
    }
    if (bytes + size > MAX_SEND_BYTES / 2 || chunk.length >= RECORDS_PER_REQUEST) await flush();
    chunk.push(i);
    bytes += size;
  }
  do await flush();
  while (next < others.length);
  return unpublished;
}
