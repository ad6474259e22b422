/**
 * Kafka's zig-zag varints (32-bit), as kafkajs writes them: the record encoders that write
 * kafkajs's bytes themselves (services/common/kafkajs-record-encoder.ts, ingest's produce
 * requests) size and write them alike.
 */

/** Bytes of a zig-zag varint. */
export function sizeOfVarInt(value: number): number {
  let v = (value << 1) ^ (value >> 31);
  let bytes = 1;
  while ((v & 0xffffff80) !== 0) {
    bytes++;
    v >>>= 7;
  }
  return bytes;
}

/** Writes a zig-zag varint at `offset`; returns the offset after it. */
export function writeVarInt(buf: Buffer, offset: number, value: number): number {
  let v = (value << 1) ^ (value >> 31);
  while ((v & 0xffffff80) !== 0) {
    buf[offset++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[offset++] = v & 0x7f;
  return offset;
}
