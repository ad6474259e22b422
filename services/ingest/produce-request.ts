/**
 * ingest's produce requests encoded in one pass, byte for byte as kafkajs 2.2.4 encodes them.
 *
 * kafkajs builds a produce request record by record: a copy of each message with its offset, an
 * encoder per record, its bytes copied into the batch, the batch's CRC a byte at a time, then the
 * partition's, the topic's and the request's encoders copied again. At ingest's rate (one record
 * per sample) that was most of its CPU and garbage. This computes the request's exact size, writes
 * it once into one buffer and checksums each batch eight bytes a step.
 *
 * Only requests of the transactional ids registered here (ingest's producers) are encoded so, and
 * only when every message is a plain key and value: no headers, no timestamp of its own, no
 * compression. Anything else is left to kafkajs, as before. kafkajs looks its produce request up
 * by version at each send (`protocol/requests/produce`'s `protocol`), so wrapping that lookup takes
 * effect whenever it is installed, whatever loaded kafkajs first.
 */
import { createRequire } from 'node:module';
import { sizeOfVarInt, writeVarInt } from '../common/varint.js';
import { crc32c } from './crc32c.js';

const require = createRequire(import.meta.url);

/** One message as kafkajs groups it for a partition. */
interface ProduceMessage {
  readonly key?: unknown;
  readonly value?: unknown;
  readonly timestamp?: unknown;
  readonly headers?: unknown;
}

/** What kafkajs hands a produce request (Produce v3 to v7 share its body). */
export interface ProduceArgs {
  readonly acks: number;
  readonly timeout: number;
  readonly compression?: number;
  readonly transactionalId?: string | null;
  readonly producerId?: unknown;
  readonly producerEpoch?: number;
  readonly topicData: ReadonlyArray<{
    readonly topic: string;
    readonly partitions: ReadonlyArray<{
      readonly partition: number;
      readonly firstSequence?: number;
      readonly messages: readonly ProduceMessage[];
    }>;
  }>;
}

/** kafkajs's Encoder, as its request framing reads it: the bytes of `buf` up to `offset`. */
interface EncoderLike {
  buf: Buffer;
  offset: number;
}

interface ProduceRequest {
  encode: () => Promise<EncoderLike>;
  [field: string]: unknown;
}

type ProduceVersion = (args: ProduceArgs) => { request: ProduceRequest; response: unknown };

const definition = require('kafkajs/src/protocol/requests/produce/index.js') as {
  protocol: (v: { version: number }) => ProduceVersion;
};
const EncoderClass = require('kafkajs/src/protocol/encoder.js') as { prototype: object };
const Long = require('kafkajs/src/utils/long.js') as {
  fromValue(v: unknown): { getHighBits(): number; getLowBits(): number };
};

/** Transactional ids whose produce requests are encoded here. */
const registered = new Set<string>();
/** Which requests are encoded here: each user of the encoder adds its own test. */
const takers = new Set<(args: ProduceArgs) => boolean>();
let installed = false;

/**
 * Encodes here, from now on, every produce request `takes` accepts (see the module): one wrapper of
 * kafkajs's lookup for every user (ingest's transactional producers, sense's outputs).
 */
export function encodeProduceRequestsWhen(takes: (args: ProduceArgs) => boolean): void {
  takers.add(takes);
  if (installed) return;
  installed = true;
  const original = definition.protocol;
  definition.protocol = ({ version }) => {
    const make = original({ version });
    if (version < 3 || version > 7) return make;
    return (args) => {
      const made = make(args);
      for (const taken of takers) {
        if (!taken(args)) continue;
        const kafkajsEncode = made.request.encode;
        made.request.encode = async () => encodeProduceRequest(args) ?? kafkajsEncode();
        break;
      }
      return made;
    };
  };
}

const isRegistered = (args: ProduceArgs): boolean =>
  !!args.transactionalId && registered.has(args.transactionalId);

/** Encodes the produce requests of `transactionalId` here from now on (see the module). */
export function useFastProduceRequests(transactionalId: string): void {
  registered.add(transactionalId);
  encodeProduceRequestsWhen(isRegistered);
}

/** No longer encodes `transactionalId`'s requests here (its producer is gone). */
export function forgetFastProduceRequests(transactionalId: string): void {
  registered.delete(transactionalId);
}

/** The byte length of a key or value (-1: null), or undefined when kafkajs must encode it. */
function lengthOf(field: unknown): number | undefined {
  if (field === null || field === undefined) return -1;
  if (typeof field === 'string') return Buffer.byteLength(field, 'utf8');
  if (Buffer.isBuffer(field)) return field.length;
  return undefined;
}

function writeField(buf: Buffer, offset: number, field: unknown, length: number): number {
  offset = writeVarInt(buf, offset, length);
  if (length < 0) return offset;
  if (typeof field === 'string') return offset + buf.write(field, offset, length, 'utf8');
  (field as Buffer).copy(buf, offset);
  return offset + length;
}

function plain(m: ProduceMessage): boolean {
  if (m.timestamp !== null && m.timestamp !== undefined) return false;
  const headers = m.headers;
  if (headers !== null && headers !== undefined) {
    if (typeof headers !== 'object') return false;
    for (const _ in headers) return false;
  }
  return true;
}

function writeInt64(buf: Buffer, offset: number, value: unknown): number {
  const long = Long.fromValue(value);
  buf.writeInt32BE(long.getHighBits(), offset);
  buf.writeInt32BE(long.getLowBits(), offset + 4);
  return offset + 8;
}

/** RecordBatch v2 header after the CRC up to the records count (attributes … firstSequence, count). */
const BATCH_BODY_HEADER = 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;
/** A record's fixed bytes: attributes, timestamp delta 0, header count 0. */
const RECORD_FIXED = 3;

/**
 * The produce request's body (Produce v3 to v7) as kafkajs writes it, or undefined when a message
 * is not plain (headers, its own timestamp, a key or value not a string, Buffer or null) or the
 * request is compressed: then kafkajs encodes it.
 */
export function encodeProduceRequest(args: ProduceArgs): EncoderLike | undefined {
  if ((args.compression ?? 0) !== 0) return undefined;
  const transactionalId = args.transactionalId ?? null;
  // Sizes first: two lengths per message (key, value), in message order.
  let count = 0;
  for (const t of args.topicData) for (const p of t.partitions) count += p.messages.length;
  const lengths = new Int32Array(count * 2);
  let size = (transactionalId === null ? 2 : 2 + Buffer.byteLength(transactionalId)) + 2 + 4 + 4;
  let n = 0;
  for (const t of args.topicData) {
    size += 2 + Buffer.byteLength(t.topic) + 4;
    for (const p of t.partitions) {
      let records = 0;
      for (let i = 0; i < p.messages.length; i++) {
        const m = p.messages[i]!;
        if (!plain(m)) return undefined;
        const k = lengthOf(m.key);
        const v = lengthOf(m.value);
        if (k === undefined || v === undefined) return undefined;
        lengths[n++] = k;
        lengths[n++] = v;
        const body =
          RECORD_FIXED +
          sizeOfVarInt(i) +
          sizeOfVarInt(k) +
          Math.max(k, 0) +
          sizeOfVarInt(v) +
          Math.max(v, 0);
        records += sizeOfVarInt(body) + body;
      }
      // partition, batch size, first offset, batch length, leader epoch, magic, CRC, body.
      size += 4 + 4 + 8 + 4 + 4 + 1 + 4 + BATCH_BODY_HEADER + records;
    }
  }

  const buf = Buffer.allocUnsafe(size);
  let o = 0;
  if (transactionalId === null) o = buf.writeInt16BE(-1, o);
  else {
    o = buf.writeInt16BE(Buffer.byteLength(transactionalId), o);
    o += buf.write(transactionalId, o, 'utf8');
  }
  o = buf.writeInt16BE(args.acks, o);
  o = buf.writeInt32BE(args.timeout, o);
  o = buf.writeInt32BE(args.topicData.length, o);
  const attributes = transactionalId ? 16 : 0;
  n = 0;
  for (const t of args.topicData) {
    o = buf.writeInt16BE(Buffer.byteLength(t.topic), o);
    o += buf.write(t.topic, o, 'utf8');
    o = buf.writeInt32BE(t.partitions.length, o);
    for (const p of t.partitions) {
      const now = Date.now(); // kafkajs: the batch's first and max timestamp when no message has one
      o = buf.writeInt32BE(p.partition, o);
      const sizeAt = o;
      o += 4; // the batch's size, known once written
      o = writeInt64(buf, o, 0); // first offset
      const lengthAt = o;
      o += 4;
      o = buf.writeInt32BE(0, o); // partition leader epoch
      buf[o++] = 2; // magic
      const crcAt = o;
      o += 4;
      const bodyAt = o;
      o = buf.writeInt16BE(attributes, o);
      o = buf.writeInt32BE(p.messages.length - 1, o); // last offset delta
      o = writeInt64(buf, o, now);
      o = writeInt64(buf, o, now);
      o = writeInt64(buf, o, args.producerId ?? -1);
      o = buf.writeInt16BE(args.producerEpoch ?? 0, o);
      o = buf.writeInt32BE(p.firstSequence ?? 0, o);
      o = buf.writeInt32BE(p.messages.length, o);
      for (let i = 0; i < p.messages.length; i++) {
        const m = p.messages[i]!;
        const k = lengths[n++]!;
        const v = lengths[n++]!;
        const body =
          RECORD_FIXED +
          sizeOfVarInt(i) +
          sizeOfVarInt(k) +
          Math.max(k, 0) +
          sizeOfVarInt(v) +
          Math.max(v, 0);
        o = writeVarInt(buf, o, body);
        buf[o++] = 0; // attributes
        buf[o++] = 0; // timestamp delta 0
        o = writeVarInt(buf, o, i);
        o = writeField(buf, o, m.key, k);
        o = writeField(buf, o, m.value, v);
        buf[o++] = 0; // no headers
      }
      buf.writeUInt32BE(crc32c(buf, bodyAt, o), crcAt);
      buf.writeInt32BE(o - lengthAt - 4, lengthAt);
      buf.writeInt32BE(o - sizeAt - 4, sizeAt);
    }
  }
  if (o !== size) throw new Error(`produce request: wrote ${o} bytes of ${size}`);
  const encoder = Object.create(EncoderClass.prototype) as EncoderLike;
  encoder.buf = buf;
  encoder.offset = o;
  return encoder;
}
