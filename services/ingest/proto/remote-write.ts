/**
 * Prometheus remote-write 1.0's messages (prompb's WriteRequest, TimeSeries, Label, Sample, with
 * the field numbers of the spec), decoded by hand and encoded by protobufjs (tests, the bench).
 * Fields of later versions (metadata, exemplars, native histograms) are skipped as unknown fields.
 */
import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";
package prometheus;
message WriteRequest {
  repeated TimeSeries timeseries = 1;
  reserved 2;
}
message TimeSeries {
  repeated Label labels = 1;
  repeated Sample samples = 2;
}
message Label {
  string name = 1;
  string value = 2;
}
message Sample {
  double value = 1;
  int64 timestamp = 2;
}
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const WriteRequestType = root.lookupType('prometheus.WriteRequest');

/** protobufjs gives an int64 as a Long (when the long package is there) or a number. */
type Int64 = number | { toNumber(): number };

/** A decoded remote-write request. */
export interface WriteRequest {
  timeseries: Array<{
    labels: Array<{ name: string; value: string }>;
    samples: Array<{ value: number; timestamp: Int64 }>;
  }>;
}

/**
 * Decodes a (snappy-decoded) WriteRequest; throws on a truncated or malformed message (and on a
 * string that is not UTF-8, as protobufjs and Go's proto3 do). Written by hand for the four
 * messages above: protobufjs's generic decoder, its objects and its 64-bit Long per timestamp were
 * ~10% of ingest's CPU. Unknown fields (metadata, exemplars, histograms) are skipped.
 */
export function decodeWriteRequest(body: Uint8Array): WriteRequest {
  const r = new Reader(
    Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
  );
  const timeseries: WriteRequest['timeseries'] = [];
  while (r.pos < r.end) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 2) timeseries.push(readSeries(r, r.nested()));
    else r.skip(tag & 7);
  }
  return { timeseries };
}

function readSeries(r: Reader, end: number): WriteRequest['timeseries'][number] {
  const labels: Array<{ name: string; value: string }> = [];
  const samples: Array<{ value: number; timestamp: number }> = [];
  while (r.pos < end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === 2) labels.push(readLabel(r, r.nested(end)));
    else if (field === 2 && (tag & 7) === 2) samples.push(readSample(r, r.nested(end)));
    else r.skip(tag & 7, end);
  }
  r.expectEnd(end);
  return { labels, samples };
}

function readLabel(r: Reader, end: number): { name: string; value: string } {
  let name = '';
  let value = '';
  while (r.pos < end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === 2) name = r.string(end);
    else if (field === 2 && (tag & 7) === 2) value = r.string(end);
    else r.skip(tag & 7, end);
  }
  r.expectEnd(end);
  return { name, value };
}

function readSample(r: Reader, end: number): { value: number; timestamp: number } {
  let value = 0;
  let timestamp = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    if (field === 1 && (tag & 7) === 1) value = r.double(end);
    else if (field === 2 && (tag & 7) === 0) timestamp = r.int64();
    else r.skip(tag & 7, end);
  }
  r.expectEnd(end);
  return { value, timestamp };
}

/** Longest string remembered: label names and values come again in every request. */
const MAX_INTERNED = 48;
/** Most strings remembered; past it the memory starts over. */
const MAX_STRINGS = 50_000;
/** Short ASCII strings read before, by a hash of their bytes (a hit is checked byte for byte). */
const strings = new Map<number, string>();

/** The ASCII string of `buf[start, end)`, the one read before when its bytes are the same. */
function interned(buf: Buffer, start: number, end: number, hash: number): string {
  const known = strings.get(hash);
  if (known !== undefined && known.length === end - start) {
    let same = true;
    for (let i = start; i < end; i++)
      if (known.charCodeAt(i - start) !== buf[i]) {
        same = false;
        break;
      }
    if (same) return known;
  }
  const read = buf.toString('latin1', start, end);
  if (strings.size >= MAX_STRINGS) strings.clear();
  strings.set(hash, read);
  return read;
}

/** A position in a protobuf message, reading varints, doubles, strings and skipping what it does not know. */
class Reader {
  pos = 0;
  readonly end: number;
  constructor(private readonly buf: Buffer) {
    this.end = buf.length;
  }

  private outOfRange(what: string): never {
    throw new RangeError(`index out of range: ${what} at byte ${this.pos} of ${this.end}`);
  }

  /** A varint's low 32 bits (tags and lengths). */
  uint32(): number {
    const buf = this.buf;
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) this.outOfRange('varint');
      const b = buf[this.pos++]!;
      if (shift < 32) value |= (b & 0x7f) << shift;
      if (b < 0x80) return value >>> 0;
    }
    throw new Error(`invalid varint encoding at byte ${this.pos}`);
  }

  /** A varint int64 as a number (high word signed, as Long.toNumber: exact up to 2^53). */
  int64(): number {
    const buf = this.buf;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.outOfRange('varint');
      const b = buf[this.pos++]!;
      if (i < 4) lo |= (b & 0x7f) << (i * 7);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >>> 4;
      } else hi |= (b & 0x7f) << (i * 7 - 32);
      if (b < 0x80) return (hi | 0) * 4294967296 + (lo >>> 0);
    }
    throw new Error(`invalid varint encoding at byte ${this.pos}`);
  }

  double(end: number): number {
    if (this.pos + 8 > end) this.outOfRange('double');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** The end of a length-delimited field starting here, within `limit`. */
  nested(limit = this.end): number {
    const length = this.uint32();
    const end = this.pos + length;
    if (end > limit) this.outOfRange(`a field of ${length} bytes`);
    return end;
  }

  string(limit: number): string {
    const end = this.nested(limit);
    const buf = this.buf;
    const start = this.pos;
    this.pos = end;
    let hash = end - start;
    for (let i = start; i < end; i++) {
      const b = buf[i]!;
      if (b >= 0x80) {
        if (!isUtf8(buf.subarray(start, end))) throw new Error(`invalid UTF-8 in a string at byte ${start}`);
        return buf.toString('utf8', start, end);
      }
      hash = Math.imul(hash ^ b, 0x01000193);
    }
    return end - start <= MAX_INTERNED ? interned(buf, start, end, hash) : buf.toString('latin1', start, end);
  }

  /** Skips a field of wire type `wireType` (groups included, as protobufjs does). */
  skip(wireType: number, limit = this.end, depth = 0): void {
    switch (wireType) {
      case 0:
        this.int64();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.pos = this.nested(limit);
        return;
      case 5:
        this.pos += 4;
        break;
      case 3:
        if (depth > 100) throw new Error('groups nested too deep');
        for (;;) {
          const tag = this.uint32();
          if ((tag & 7) === 4) return;
          this.skip(tag & 7, limit, depth + 1);
        }
      default:
        throw new Error(`invalid wire type ${wireType} at byte ${this.pos}`);
    }
    if (this.pos > limit) this.outOfRange('a fixed-size field');
  }

  /** A message ends exactly where its length said. */
  expectEnd(end: number): void {
    if (this.pos !== end) this.outOfRange('a message');
  }
}

/** Encodes a WriteRequest (tests and the bench send what Prometheus sends). */
export function encodeWriteRequest(request: {
  timeseries: ReadonlyArray<{
    labels: ReadonlyArray<{ name: string; value: string }>;
    samples: ReadonlyArray<{ value: number; timestamp: number }>;
  }>;
}): Uint8Array {
  return WriteRequestType.encode(WriteRequestType.fromObject(request)).finish();
}

/** An int64 as a number (epoch milliseconds fit a double exactly). */
export function int64(v: Int64 | undefined): number {
  if (v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}
