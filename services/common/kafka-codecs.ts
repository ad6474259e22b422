/**
 * Every compression codec Kafka defines, registered with kafkajs (which reads only gzip by
 * itself), so that batches from librdkafka, Java and Go producers with any `compression.type` are
 * read, and our producers may compress too. A batch no codec can read is handed to the consumer as
 * one marker message (see unreadable-batches.ts) instead of failing the fetch.
 *
 * Formats as Kafka frames them: gzip is a gzip member; snappy is xerial-framed by Java producers
 * (magic header, then length-prefixed raw blocks) and raw from librdkafka, both read, xerial
 * written; lz4 is the LZ4 frame format; zstd is a zstd frame, often without its content size.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import zstd from '@bokuweb/zstd-wasm';
import kafkajs from 'kafkajs';
import lz4 from 'lz4-napi';
import snappy from 'snappy';
import { batchHeaderBefore, checkRecords, markUnreadable } from './unreadable-batches.js';

// Named imports miss these two: kafkajs's CommonJS exports them as `Compression.Codecs` members.
const { CompressionCodecs, CompressionTypes } = kafkajs;

/** Default for the most bytes one batch may decompress to (a decompression bomb stops there; AUTOGLM_KAFKA_MAX_BATCH_BYTES). */
export const DEFAULT_MAX_BATCH_BYTES = 256 * 1024 * 1024;

/** One codec's bytes in, bytes out; `maxBytes` bounds what decompressing may produce. */
export interface KafkaCodec {
  compress(data: Buffer): Promise<Buffer>;
  decompress(data: Buffer, maxBytes: number): Promise<Buffer>;
}

const gzip = promisify(zlib.gzip);
const unzip = promisify(zlib.unzip);

const gzipCodec: KafkaCodec = {
  compress: (data) => gzip(data),
  // unzip reads gzip and zlib streams alike, as kafkajs's own codec did.
  decompress: (data, maxBytes) => unzip(data, { maxOutputLength: maxBytes }),
};

/** The xerial snappy-java stream header: magic, version 1, compatible with 1. */
const XERIAL_HEADER = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
const XERIAL_MAGIC_BYTES = 8;
/** Uncompressed bytes per xerial block, as snappy-java writes them. */
const XERIAL_BLOCK = 32 * 1024;

function snappyBlock(block: Buffer, maxBytes: number): Buffer {
  // A raw snappy block starts with its uncompressed length (a varint): refuse before allocating.
  let length = 0;
  for (let i = 0, shift = 0; i < 5 && i < block.length; i++, shift += 7) {
    length += (block[i]! & 0x7f) * 2 ** shift;
    if (block[i]! < 0x80) break;
  }
  if (length > maxBytes)
    throw new Error(`snappy block of ${length} bytes is over the ${maxBytes} byte limit`);
  return snappy.uncompressSync(block, { asBuffer: true }) as Buffer;
}

const snappyCodec: KafkaCodec = {
  async compress(data) {
    const parts: Buffer[] = [XERIAL_HEADER];
    for (let at = 0; at < data.length; at += XERIAL_BLOCK) {
      const block = snappy.compressSync(data.subarray(at, at + XERIAL_BLOCK));
      const length = Buffer.alloc(4);
      length.writeInt32BE(block.length);
      parts.push(length, block);
    }
    return Buffer.concat(parts);
  },
  async decompress(data, maxBytes) {
    if (!data.subarray(0, XERIAL_MAGIC_BYTES).equals(XERIAL_HEADER.subarray(0, XERIAL_MAGIC_BYTES)))
      return snappyBlock(data, maxBytes);
    const parts: Buffer[] = [];
    let total = 0;
    for (let at = XERIAL_HEADER.length; at < data.length;) {
      if (at + 4 > data.length) throw new Error('xerial snappy stream ends inside a block length');
      const length = data.readInt32BE(at);
      if (length < 0 || at + 4 + length > data.length)
        throw new Error(`xerial snappy block of ${length} bytes runs past the stream`);
      const part = snappyBlock(data.subarray(at + 4, at + 4 + length), maxBytes - total);
      total += part.length;
      parts.push(part);
      at += 4 + length;
    }
    return Buffer.concat(parts, total);
  },
};

const lz4Codec: KafkaCodec = {
  // Independent 64 KiB blocks without checksums: what Java's KafkaLZ4BlockInputStream reads too.
  compress: (data) => lz4.compressFrame(data),
  // An LZ4 block expands at most ~255 times, so a batch the fetch limit admits stays bounded.
  decompress: (data) => lz4.decompressFrame(data),
};

/** The zstd module, loaded once: a second `init` would swap its memory under calls in flight. */
let zstdReady: Promise<void> | undefined;
const ZSTD_DST_TOO_SMALL = /code -70$/;

const zstdCodec: KafkaCodec = {
  async compress(data) {
    await (zstdReady ??= zstd.init());
    const out = zstd.compress(data, 3);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  },
  async decompress(data, maxBytes) {
    await (zstdReady ??= zstd.init());
    // Frames written by streaming producers (Java, librdkafka) carry no content size: guess,
    // and grow while the output does not fit, up to the limit.
    const known = zstdContentSize(data);
    if (known !== undefined && known > maxBytes)
      throw new Error(`zstd frame of ${known} bytes is over the ${maxBytes} byte limit`);
    let size = known ?? Math.min(maxBytes, Math.max(1024 * 1024, data.length * 32));
    for (;;) {
      try {
        const out = zstd.decompress(data, { defaultHeapSize: size });
        return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
      } catch (err) {
        if (known !== undefined || size >= maxBytes || !ZSTD_DST_TOO_SMALL.test(String(err))) throw err;
        size = Math.min(maxBytes, size * 4);
      }
    }
  },
};

/** The frame content size a zstd frame header declares, or undefined when it has none. */
function zstdContentSize(data: Buffer): number | undefined {
  if (data.length < 6 || data.readUInt32LE(0) !== 0xfd2fb528) return undefined;
  const descriptor = data[4]!;
  const sizeFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const dictIdBytes = [0, 1, 2, 4][descriptor & 3]!;
  const at = 5 + (singleSegment ? 0 : 1) + dictIdBytes;
  const sizeBytes = sizeFlag === 0 ? singleSegment : [1, 2, 4, 8][sizeFlag]!;
  if (sizeBytes === 0 || at + sizeBytes > data.length) return undefined;
  if (sizeBytes === 1) return data[at]!;
  if (sizeBytes === 2) return data.readUInt16LE(at) + 256;
  if (sizeBytes === 4) return data.readUInt32LE(at);
  return Number(data.readBigUInt64LE(at));
}

/** The codecs by name: what `compression.type` calls them. */
export const KAFKA_CODECS = { gzip: gzipCodec, snappy: snappyCodec, lz4: lz4Codec, zstd: zstdCodec } as const;

const CODEC_IDS: ReadonlyArray<[number, keyof typeof KAFKA_CODECS]> = [
  [CompressionTypes.GZIP, 'gzip'],
  [CompressionTypes.Snappy, 'snappy'],
  [CompressionTypes.LZ4, 'lz4'],
  [CompressionTypes.ZSTD, 'zstd'],
];
/** Codec ids the attribute bits can hold that Kafka does not define. */
const UNDEFINED_IDS = [5, 6, 7];

let maxBatchBytes = DEFAULT_MAX_BATCH_BYTES;
let registered = false;

/** How kafkajs calls a codec: compress gets its Encoder, decompress a batch's records. */
interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(records: Buffer): Promise<Buffer>;
}

async function readRecords(id: number, name: string, codec: KafkaCodec | undefined, data: Buffer) {
  const header = batchHeaderBefore(data, id);
  let records: Buffer;
  try {
    if (!codec) throw new Error(`compression codec id ${id} is not one Kafka defines`);
    records = await codec.decompress(data, maxBatchBytes);
  } catch (err) {
    if (!header) throw err;
    return markUnreadable(header, name, err instanceof Error ? err.message : String(err), data);
  }
  if (!header) return records;
  const problem = checkRecords(records, header);
  return problem ? markUnreadable(header, name, `after ${name} decompression: ${problem}`, data) : records;
}

function kafkajsCodec(id: number, name: string, codec?: KafkaCodec): () => KafkajsCodec {
  const wrapped: KafkajsCodec = {
    compress: async (encoder) => {
      if (!codec) throw new Error(`cannot compress with codec id ${id}: Kafka defines none`);
      return codec.compress(encoder.buffer);
    },
    decompress: (records) => readRecords(id, name, codec, records),
  };
  return () => wrapped;
}

/**
 * Registers every Kafka codec with kafkajs (once per process; later calls only update the
 * limit). `maxBatchBytes` bounds what one batch may decompress to; a batch over it is unreadable.
 */
export function registerKafkaCodecs(opts: { maxBatchBytes?: number } = {}): void {
  if (opts.maxBatchBytes !== undefined) maxBatchBytes = opts.maxBatchBytes;
  if (registered) return;
  registered = true;
  const codecs = CompressionCodecs as unknown as Record<number, () => KafkajsCodec>;
  for (const [id, name] of CODEC_IDS) codecs[id] = kafkajsCodec(id, name, KAFKA_CODECS[name]);
  for (const id of UNDEFINED_IDS) codecs[id] = kafkajsCodec(id, `codec ${id}`);
}
