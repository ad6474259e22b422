/**
 * sense's produce requests (its observations and baseline changelog records) written in one pass
 * into one buffer by ingest's encoder (services/ingest/produce-request.ts: byte for byte kafkajs's,
 * checked against it), instead of kafkajs' record by record encoding with a copy per layer and a
 * byte-wise CRC. Only requests that are not transactional and carry nothing but sense's output
 * topics are encoded so; anything the encoder does not take (headers, timestamps, compression)
 * and every other request is left to kafkajs. kafkajs looks its produce request up by version at
 * each send, so wrapping that lookup takes effect whatever loaded kafkajs first.
 */
import { encodeProduceRequestsWhen, type ProduceArgs } from '../ingest/produce-request.js';

/** The topics whose requests are encoded here (every sense of the process adds its own). */
const topics = new Set<string>();

/** Whether a request is sense's own: not transactional, and only to sense's output topics. */
export function isSenseRequest(args: ProduceArgs): boolean {
  if (args.transactionalId !== null && args.transactionalId !== undefined) return false;
  for (const t of args.topicData) if (!topics.has(t.topic)) return false;
  return args.topicData.length > 0;
}

/** Encodes the non-transactional produce requests to `outputs` (and only them) in one pass from now on. */
export function useFastProduceFor(outputs: readonly string[]): void {
  for (const t of outputs) topics.add(t);
  encodeProduceRequestsWhen(isSenseRequest);
}
