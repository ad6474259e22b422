/**
 * A cheaper encoder for the records kafkajs produces, byte for byte the same as its own.
 *
 * kafkajs 2.2.4 (`protocol/recordBatch/record/v0`) encodes each record it sends into a new
 * zero-filled 512-byte buffer (grown and copied again for a bigger value), and each of its
 * variable-length integers through a JavaScript array, a `Buffer.from` and 64-bit `Long` objects:
 * about ten allocations per record. Producing sense's observations (one record every few samples)
 * was the largest single cost of sense after garbage collection. This encoder computes the
 * record's exact size and writes it once into a buffer from Node's pool. Records with headers, a
 * timestamp delta that is not a safe integer, or a key or value other than a Buffer, a string or
 * null go to kafkajs' own encoder, as before.
 *
 * Its partitioner's murmur2 hash of each key goes through 64-bit `Long` objects: replaced by the
 * same hash in 32-bit arithmetic. Its grouping of a send's records by partition copies the partition's array once per record
 * (quadratic in a request's records): replaced too, by a linear one with the same result.
 *
 * kafkajs takes the function with `require` when its produce request is loaded, so it is put in
 * Node's module cache before then: `kafkajs-aborted-filter.ts` (imported first by every entry
 * point) imports this module. Should kafkajs be loaded earlier, it keeps its own encoder: slower,
 * the same bytes.
 */
import { createRequire } from 'node:module';
import { sizeOfVarInt, writeVarInt } from './varint.js';

const require = createRequire(import.meta.url);
const RECORD_PATH = require.resolve('kafkajs/src/protocol/recordBatch/record/v0/index.js');
const ENCODER_PATH = require.resolve('kafkajs/src/protocol/encoder.js');

/** A record as kafkajs' produce request hands it to the record encoder. */
export interface RecordInput {
  readonly offsetDelta?: number;
  readonly timestampDelta?: unknown;
  readonly key?: unknown;
  readonly value?: unknown;
  readonly headers?: Record<string, unknown>;
}

/** kafkajs' Encoder, as far as the record batch reads it: the bytes in `buf` up to `offset`. */
interface EncoderLike {
  buf: Buffer;
  offset: number;
}

type RecordEncoder = (record: RecordInput) => EncoderLike;

const PRODUCE_PATH = require.resolve('kafkajs/src/protocol/requests/produce/v3/request.js');

/** Whether kafkajs' produce request (the only user of the record encoder) was loaded before this module. */
const produceLoadedBefore = require.cache[PRODUCE_PATH] !== undefined;
const EncoderClass = require(ENCODER_PATH) as { prototype: object };
/** kafkajs' own record encoder (its module loads only the Encoder and the header encoder). */
const kafkajsRecord = require(RECORD_PATH) as RecordEncoder;

/** Largest timestamp delta written here: its zig-zag form (2|v|+1) stays an exact double. */
const MAX_DELTA = 2 ** 51;

/** The zig-zag form of a safe integer, as a (non-negative, exact) number. */
const zigZag64 = (value: number) => (value >= 0 ? value * 2 : -value * 2 - 1);

function sizeOfVarLong(value: number): number {
  let z = zigZag64(value);
  let bytes = 1;
  while (z >= 128) {
    bytes++;
    z = Math.floor(z / 128);
  }
  return bytes;
}

function writeVarLong(buf: Buffer, offset: number, value: number): number {
  let z = zigZag64(value);
  while (z >= 128) {
    buf[offset++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  buf[offset++] = z;
  return offset;
}

/** Byte length of a key or value: -1 for null. */
function lengthOf(field: Buffer | string | null): number {
  if (field === null) return -1;
  return typeof field === 'string' ? Buffer.byteLength(field, 'utf8') : field.length;
}

function writeField(buf: Buffer, offset: number, field: Buffer | string | null, length: number): number {
  offset = writeVarInt(buf, offset, length);
  if (field === null) return offset;
  if (typeof field === 'string') return offset + buf.write(field, offset, length, 'utf8');
  field.copy(buf, offset);
  return offset + length;
}

const isField = (v: unknown): v is Buffer | string | null | undefined =>
  v == null || typeof v === 'string' || Buffer.isBuffer(v);

function hasHeaders(headers: Record<string, unknown> | undefined): boolean {
  if (headers === undefined || headers === null) return false;
  for (const _ in headers) return true;
  return false;
}

/** Encodes one record as kafkajs' Record v0 does, into a buffer of its exact size. */
export function fastRecord(record: RecordInput): EncoderLike {
  const { offsetDelta = 0, timestampDelta = 0, key, value, headers } = record;
  if (
    !Number.isInteger(timestampDelta) ||
    Math.abs(timestampDelta as number) > MAX_DELTA ||
    !Number.isInteger(offsetDelta) ||
    offsetDelta < 0 ||
    offsetDelta > 0x3fffffff ||
    !isField(key) ||
    !isField(value) ||
    hasHeaders(headers)
  )
    return kafkajsRecord(record);
  const k = key ?? null;
  const v = value ?? null;
  const keyLength = lengthOf(k);
  const valueLength = lengthOf(v);
  const ts = timestampDelta as number;
  const body =
    1 +
    sizeOfVarLong(ts) +
    sizeOfVarInt(offsetDelta) +
    sizeOfVarInt(keyLength) +
    Math.max(keyLength, 0) +
    sizeOfVarInt(valueLength) +
    Math.max(valueLength, 0) +
    1; // no headers: a varint 0
  const size = sizeOfVarInt(body) + body;
  const buf = Buffer.allocUnsafe(size);
  let offset = writeVarInt(buf, 0, body);
  buf[offset++] = 0; // attributes: none used
  offset = writeVarLong(buf, offset, ts);
  offset = writeVarInt(buf, offset, offsetDelta);
  offset = writeField(buf, offset, k, keyLength);
  offset = writeField(buf, offset, v, valueLength);
  buf[offset++] = 0; // header count 0
  // An Encoder without the constructor's 512-byte buffer: the batch reads `buf` up to `offset`.
  const encoder = Object.create(EncoderClass.prototype) as EncoderLike;
  encoder.buf = buf;
  encoder.offset = offset;
  return encoder;
}

/**
 * Puts fastRecord where kafkajs' produce request will `require` its record encoder; false when that
 * request was loaded before (it holds kafkajs' own encoder: slower, the same bytes).
 */
function install(): boolean {
  const cached = require.cache[RECORD_PATH];
  if (cached) cached.exports = fastRecord;
  return !produceLoadedBefore && cached !== undefined;
}

/** Whether kafkajs will encode the records it produces with fastRecord. */
export const recordEncoderInstalled = install();

const GROUP_PATH = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');

/** A message as kafkajs' producer groups it, and its partitioner. */
interface GroupArgs {
  readonly topic: string;
  readonly partitionMetadata: readonly unknown[];
  readonly messages: readonly object[];
  readonly partitioner: (args: {
    topic: string;
    partitionMetadata: readonly unknown[];
    message: object;
  }) => number;
}

/**
 * kafkajs' grouping of a send's messages by partition, in linear time: its own copies the
 * partition's array for every message (`[...current, message]`), quadratic in a request's records.
 * The same result: each partition's messages in the order given.
 */
export function groupMessagesPerPartition({
  topic,
  partitionMetadata,
  messages,
  partitioner,
}: GroupArgs): Record<number, object[]> {
  const result: Record<number, object[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    const current = result[partition];
    if (current === undefined) result[partition] = [message];
    else current.push(message);
  }
  return result;
}

/** kafkajs' own grouping, for tests that compare the two. */
export const kafkajsGroupMessagesPerPartition = require(GROUP_PATH) as typeof groupMessagesPerPartition;

/** Whether kafkajs' producer will group with ours (false: its sendMessages was loaded before). */
export const groupingInstalled = (() => {
  const loadedBefore = require.cache[require.resolve('kafkajs/src/producer/sendMessages.js')] !== undefined;
  const cached = require.cache[GROUP_PATH];
  if (cached) cached.exports = groupMessagesPerPartition;
  return !loadedBefore && cached !== undefined;
})();

/** kafkajs' own encoder, for tests that compare the bytes. */
export const kafkajsRecordEncoder: RecordEncoder = kafkajsRecord;

const MURMUR2_PATH = require.resolve('kafkajs/src/producer/partitioners/default/murmur2.js');

/**
 * Java's murmur2 of a record key (the hash kafkajs' default partitioner, and Java clients, place
 * keyed records by) in 32-bit integer arithmetic: kafkajs computes it with 64-bit `Long` objects,
 * a dozen allocations per key, for only the low 32 bits. The same result for every key.
 */
export function murmur2(key: unknown): number {
  const data = Buffer.isBuffer(key) ? key : Buffer.from(String(key));
  const length = data.length;
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ length;
  const words = length >>> 2;
  for (let i = 0; i < words; i++) {
    const at = i * 4;
    let k =
      (data[at] as number) |
      ((data[at + 1] as number) << 8) |
      ((data[at + 2] as number) << 16) |
      ((data[at + 3] as number) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const tail = length & ~3;
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= (data[tail + 2] as number) << 16;
    if (rest >= 2) h ^= (data[tail + 1] as number) << 8;
    h ^= data[tail] as number;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** kafkajs' own murmur2, for tests that compare the two. */
export const kafkajsMurmur2 = require(MURMUR2_PATH) as (key: unknown) => number;

/** Whether kafkajs' default partitioner will hash with ours (false: kafkajs was loaded before). */
export const murmur2Installed = (() => {
  const loadedBefore =
    require.cache[require.resolve('kafkajs/src/producer/partitioners/default/index.js')] !== undefined;
  const cached = require.cache[MURMUR2_PATH];
  if (cached) cached.exports = murmur2;
  return !loadedBefore && cached !== undefined;
})();
