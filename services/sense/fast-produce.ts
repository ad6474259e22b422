/**
 * sense's produce requests (its observations and baseline changelog records) written in one pass
 * into one buffer by ingest's encoder (services/ingest/produce-request.ts: byte for byte kafkajs's,
 * checked against it), instead of kafkajs' record by record encoding with a copy per layer and a
 * byte-wise CRC. Only requests that are not transactional and carry nothing but sense's output
 * topics are encoded so; anything the encoder does not take (headers, timestamps, compression)
 * and every other request is left to kafkajs. kafkajs looks its produce request up by version at
 * each send, so wrapping that lookup takes effect whatever loaded kafkajs first.
 */
import { createRequire } from 'node:module';
import { encodeProduceRequest, type ProduceArgs } from '../ingest/produce-request.js';

const require = createRequire(import.meta.url);

interface ProduceRequest {
  encode: () => Promise<unknown>;
}
type ProduceVersion = (args: ProduceArgs) => { request: ProduceRequest; response: unknown };
const definition = require('kafkajs/src/protocol/requests/produce/index.js') as {
  protocol: (v: { version: number }) => ProduceVersion;
};

/** The topics whose requests are encoded here (every sense of the process adds its own). */
const topics = new Set<string>();
let installed = false;

/** Whether a request is sense's own: not transactional, and only to sense's output topics. */
export function isSenseRequest(args: ProduceArgs): boolean {
  if (args.transactionalId !== null && args.transactionalId !== undefined) return false;
  for (const t of args.topicData) if (!topics.has(t.topic)) return false;
  return args.topicData.length > 0;
}

/** Encodes the non-transactional produce requests to `outputs` (and only them) in one pass from now on. */
export function useFastProduceFor(outputs: readonly string[]): void {
  for (const t of outputs) topics.add(t);
  if (installed) return;
  installed = true;
  const original = definition.protocol;
  definition.protocol = ({ version }) => {
    const make = original({ version });
    if (version < 3 || version > 7) return make;
    return (args) => {
      const made = make(args);
      if (isSenseRequest(args)) {
        const kafkajsEncode = made.request.encode;
        made.request.encode = async () => encodeProduceRequest(args) ?? kafkajsEncode();
      }
      return made;
    };
  };
}
