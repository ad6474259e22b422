/**
 * Publishing a batch's observations: each serialized once, checked against the observation byte
 * limit, sent in bounded requests; one the broker can never take is handed back instead of being
 * retried ahead of every later batch.
 */
import type { Producer } from 'kafkajs';
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

/** One observation ready to send: its key (the entity) and its JSON text. */
export interface SerializedRecord {
  readonly key: string;
  readonly value: string;
}

/** Why a record was not published: over the byte limit, or refused by the broker for good. */
export interface Unpublished {
  readonly index: number;
  readonly reason: 'observation_too_large' | 'unpublishable';
  readonly message: string;
}

/**
 * Sends `records` to `topic` in order, in requests of at most MAX_SEND_BYTES, acknowledged by all
 * in-sync replicas. A record over `maxBytes` is not sent; when the broker refuses a request for
 * good (too large, invalid), its records are sent one at a time and those it refuses are not
 * retried. Returns the records not published (by index); throws on errors worth retrying.
 */
export async function publishRecords(
  producer: Producer,
  topic: string,
  records: readonly SerializedRecord[],
  maxBytes: number,
): Promise<Unpublished[]> {
  const unpublished: Unpublished[] = [];
  let chunk: number[] = [];
  let bytes = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    const indexes = chunk;
    chunk = [];
    bytes = 0;
    try {
      await producer.send({ topic, acks: -1, messages: indexes.map((i) => records[i]!) });
    } catch (err) {
      if (!isUnpublishable(err)) throw err;
      if (indexes.length === 1) {
        unpublished.push({
          index: indexes[0]!,
          reason: 'unpublishable',
          message: `the broker refused it: ${(err as Error).message}`,
        });
        return;
      }
      for (const i of indexes) {
        chunk = [i];
        await flush();
      }
    }
  };
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const size = Buffer.byteLength(r.value) + Buffer.byteLength(r.key);
    if (size > maxBytes) {
      unpublished.push({
        index: i,
        reason: 'observation_too_large',
        message: `the observation would be ${size} bytes, over the ${maxBytes} set by AUTOGLM_MAX_OBSERVATION_BYTES`,
      });
      continue;
    }
    if (bytes + size > MAX_SEND_BYTES) await flush();
    chunk.push(i);
    bytes += size;
  }
  await flush();
  return unpublished;
}
