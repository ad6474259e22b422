/**
 * Record batches that no codec can read (a corrupt payload, an unknown codec, records that do not
 * parse after decompression), turned into one marker message so that consumers dead-letter the
 * batch by its offset range and move past it instead of crashing on it at every restart.
 *
 * kafkajs hands a codec only the compressed bytes of a batch, but they are a view into the fetch
 * response, where the batch header sits just before them (Kafka's record batch v2 layout, magic 2).
 * The header gives the batch's offsets and record count; kafkajs then decodes exactly that many
 * records from what the codec returns. For an unreadable batch the codec returns synthetic records:
 * `count - 1` fillers whose offset lies before any fetch position (kafkajs drops messages below the
 * fetched offset) and one marker at the batch's last offset, whose value is a copy of the
 * compressed payload. The consumer's position then moves past the whole batch, and nothing of the
 * batches before or after it is touched.
 */
import type { KafkaMessage } from 'kafkajs';
import type { Refusal } from './contracts.js';
import type { RefusedSource } from './dead-letters.js';

/** A record batch no codec could read, as its marker message carries it. */
export interface UnreadableBatch {
  /** The codec named by the batch attributes (`lz4`, or `codec 7` for an id Kafka does not define). */
  readonly codec: string;
  readonly firstOffset: string;
  readonly lastOffset: string;
  /** Records the batch header says it holds. */
  readonly records: number;
  /** Why it could not be read. */
  readonly reason: string;
}

/** The fields of a record batch header (v2) that locate its records. */
export interface BatchHeader {
  readonly firstOffset: bigint;
  readonly lastOffsetDelta: number;
  readonly records: number;
}

/** Bytes of a v2 batch header from its base offset up to its first record. */
const HEADER_BYTES = 61;
/** Bytes the batch length field counts that come before the records (epoch to record count). */
const LENGTH_BEFORE_RECORDS = 49;
const MAGIC_V2 = 2;
/** More synthetic records than this are not made (a header claiming so many is itself suspect). */
const MAX_MARKED_RECORDS = 5_000_000;

/**
 * The header of the v2 record batch whose (compressed) records are `records`, read from the bytes
 * just before them in the same fetch response; undefined when `records` is not such a view (a
 * legacy message set, a buffer of its own) or the header does not describe exactly these bytes.
 */
export function batchHeaderBefore(records: Buffer, codecId: number): BatchHeader | undefined {
  if (records.byteOffset < HEADER_BYTES) return undefined;
  const header = Buffer.from(records.buffer, records.byteOffset - HEADER_BYTES, HEADER_BYTES);
  const batchLength = header.readInt32BE(8);
  const magic = header.readInt8(16);
  const attributes = header.readInt16BE(21);
  const lastOffsetDelta = header.readInt32BE(23);
  const count = header.readInt32BE(57);
  const consistent =
    magic === MAGIC_V2 &&
    (attributes & 0x07) === codecId &&
    batchLength === records.length + LENGTH_BEFORE_RECORDS &&
    lastOffsetDelta >= 0 &&
    count >= 1 &&
    count <= lastOffsetDelta + 1 &&
    count <= MAX_MARKED_RECORDS;
  if (!consistent) return undefined;
  return { firstOffset: header.readBigInt64BE(0), lastOffsetDelta, records: count };
}

/** Reads Kafka's zigzag varints within [pos, end), answering undefined past the end. */
class VarintReader {
  constructor(
    private readonly buf: Buffer,
    public pos: number,
    public end: number,
  ) {}

  /** A signed varint of at most 5 bytes. */
  int(): number | undefined {
    let raw = 0;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) return undefined;
      const b = this.buf[this.pos++]!;
      raw |= (b & 0x7f) << (7 * i);
      if (b < 0x80) return (raw >>> 1) ^ -(raw & 1);
    }
    return undefined;
  }

  /** Skips a signed varlong of at most 10 bytes. */
  skipLong(): boolean {
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) return false;
      if (this.buf[this.pos++]! < 0x80) return true;
    }
    return false;
  }

  /** Skips a length-prefixed field (-1: null); false when the length is bad or runs past the end. */
  skipBytes(): boolean {
    const length = this.int();
    if (length === undefined || length < -1 || this.pos + Math.max(length, 0) > this.end) return false;
    this.pos += Math.max(length, 0);
    return true;
  }
}

/**
 * Checks that decompressed records parse as the header's `records` records (every length within
 * bounds, nothing left over) with offset deltas rising inside the batch; returns what is wrong,
 * or undefined. kafkajs itself would throw mid-fetch on such bytes, or place a record outside its
 * batch's offsets and so skip valid records after it.
 */
export function checkRecords(data: Buffer, header: BatchHeader): string | undefined {
  const r = new VarintReader(data, 0, data.length);
  let previousDelta = -1;
  for (let i = 0; i < header.records; i++) {
    const where = `record ${i + 1} of ${header.records}`;
    const length = r.int();
    if (length === undefined || length < 0 || r.pos + length > data.length)
      return `${where} runs past the ${data.length} decompressed bytes`;
    const end = r.pos + length;
    r.end = end;
    const attributesRead = r.pos++ < end;
    const delta = attributesRead && r.skipLong() ? r.int() : undefined;
    let ok = delta !== undefined && r.skipBytes() && r.skipBytes();
    const headers = ok ? r.int() : undefined;
    if (headers === undefined || headers < -1 || headers > (end - r.pos) / 2) ok = false;
    for (let h = 0; ok && h < (headers ?? 0); h++) ok = r.skipBytes() && r.skipBytes();
    if (!ok || r.pos !== end) return `${where} does not parse`;
    if (delta! <= previousDelta || delta! > header.lastOffsetDelta)
      return `${where} has offset delta ${delta} outside the batch (after ${previousDelta}, at most ${header.lastOffsetDelta})`;
    previousDelta = delta!;
    r.end = data.length;
  }
  if (r.pos !== data.length) return `${data.length - r.pos} bytes left after the last record`;
  return undefined;
}

function varint(n: number): number[] {
  let v = ((n << 1) ^ (n >> 31)) >>> 0;
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

/** One record (v2) with no key and no headers: attributes, timestamp delta 0, offset delta, value. */
function recordBytes(offsetDelta: number, value: Buffer | null): Buffer {
  const head = [0, 0, ...varint(offsetDelta), ...varint(-1), ...varint(value ? value.length : -1)];
  const bodyLength = head.length + (value?.length ?? 0) + 1;
  const prefix = varint(bodyLength);
  const out = Buffer.alloc(prefix.length + bodyLength);
  out.set(prefix, 0);
  out.set(head, prefix.length);
  if (value) value.copy(out, prefix.length + head.length);
  out[out.length - 1] = 0; // no headers
  return out;
}

/** Markers made by `markUnreadable`, found again by the memory behind a message's value. */
const markers = new WeakMap<ArrayBufferLike, UnreadableBatch>();

/**
 * The records kafkajs is handed for an unreadable batch: fillers it drops (their offset is below
 * any fetch position), then one marker at the batch's last offset carrying `payload` (a copy), so
 * the consumer sees one message for the batch and its position moves past the whole batch.
 */
export function markUnreadable(header: BatchHeader, codec: string, reason: string, payload: Buffer): Buffer {
  // Offset -1 when the batch starts below 2^31 - 1, else 2^31 below it: under the fetch position either way.
  const fillerDelta = header.firstOffset < 2n ** 31n - 1n ? -Number(header.firstOffset) - 1 : -(2 ** 31);
  const filler = recordBytes(fillerDelta, null);
  const marker = recordBytes(header.lastOffsetDelta, Buffer.from(payload));
  const fillers = header.records - 1;
  const out = Buffer.alloc(filler.length * fillers + marker.length);
  for (let i = 0; i < fillers; i++) filler.copy(out, i * filler.length);
  marker.copy(out, fillers * filler.length);
  markers.set(out.buffer, {
    codec,
    firstOffset: header.firstOffset.toString(),
    lastOffset: (header.firstOffset + BigInt(header.lastOffsetDelta)).toString(),
    records: header.records,
    reason,
  });
  return out;
}

/** The unreadable batch a message stands for, when it is such a marker (no producer can forge one). */
export function unreadableBatchOf(message: Pick<KafkaMessage, 'value'>): UnreadableBatch | undefined {
  return message.value ? markers.get(message.value.buffer) : undefined;
}

/**
 * The dead letter for a marker message: the batch's first offset, its compressed payload, and
 * the offset range and reason as issues. Undefined for any other message.
 */
export function unreadableBatchLetter(
  topic: string,
  partition: number,
  message: Pick<KafkaMessage, 'offset' | 'value'>,
): { source: RefusedSource; refusal: Refusal } | undefined {
  const batch = unreadableBatchOf(message);
  if (!batch) return undefined;
  return {
    source: { topic, partition, message: { offset: batch.firstOffset, key: null, value: message.value } },
    refusal: {
      reason: 'unreadable_batch',
      issues: [
        { path: 'offsets', message: `${batch.firstOffset}-${batch.lastOffset} (${batch.records} records)` },
        { path: 'batch', message: `${batch.codec}: ${batch.reason}` },
      ],
    },
  };
}
