import type http from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { uncompressSnappyBlock } from './snappy-block.js';
import { IngestRefusal } from './source.js';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

/** The stream format's first chunk (`sNaPpY`): remote-write wants the block format instead. */
const SNAPPY_STREAM_MAGIC = Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]);

/**
 * Reads a request's body, refusing (413) one over `maxBytes` as sent: by its Content-Length before
 * reading, else as soon as the bytes read pass it.
 */
export async function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes)
    throw tooLarge(declared, maxBytes, 'AUTOGLM_INGEST_MAX_BODY_BYTES');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge(size, maxBytes, 'AUTOGLM_INGEST_MAX_BODY_BYTES', 'at least ');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Undoes the Content-Encoding (none, gzip, deflate, or snappy's block format as Prometheus
 * remote-write sends it), refusing (413) a body that decodes to more than `maxDecoded` bytes
 * without decoding past it, and (400) one that does not decode, naming the format.
 */
export async function decodeBody(
  body: Buffer,
  encoding: string | undefined,
  maxDecoded: number,
): Promise<Buffer> {
  const enc = (encoding ?? 'identity').trim().toLowerCase();
  if (enc === 'identity' || enc === '') return body;
  if (enc === 'gzip' || enc === 'x-gzip' || enc === 'deflate') {
    try {
      return await (enc === 'deflate' ? inflate : gunzip)(body, { maxOutputLength: maxDecoded });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
        throw tooLarge(
          maxDecoded + 1,
          maxDecoded,
          'AUTOGLM_INGEST_MAX_DECODED_BYTES',
          'more than ',
          'decoded ',
        );
      throw new IngestRefusal(
        400,
        `bad_${enc.replace('x-', '')}`,
        `the body is not valid ${enc}: ${(err as Error).message}`,
      );
    }
  }
  if (enc === 'snappy') {
    if (body.subarray(0, SNAPPY_STREAM_MAGIC.length).equals(SNAPPY_STREAM_MAGIC)) {
      throw new IngestRefusal(
        400,
        'bad_snappy',
        'the body is snappy in the framed (stream) format; remote-write sends the block format (snappy.Encode, not snappy.NewWriter)',
      );
    }
    const length = snappyLength(body);
    if (length === undefined)
      throw new IngestRefusal(
        400,
        'bad_snappy',
        'the body is not snappy block format: its length header is missing or broken',
      );
    if (length > maxDecoded)
      throw tooLarge(length, maxDecoded, 'AUTOGLM_INGEST_MAX_DECODED_BYTES', '', 'decoded ');
    try {
      return uncompressSnappyBlock(body, maxDecoded);
    } catch (err) {
      throw new IngestRefusal(
        400,
        'bad_snappy',
        `the body is not snappy block format: ${(err as Error).message}`,
      );
    }
  }
  throw new IngestRefusal(
    415,
    'unsupported_encoding',
    `Content-Encoding "${enc.slice(0, 40)}" is not supported: send identity, gzip, deflate or snappy`,
  );
}

/** The uncompressed length a snappy block starts with (a little-endian base-128 varint), if well formed. */
export function snappyLength(buf: Buffer): number | undefined {
  let value = 0;
  for (let i = 0; i < 5 && i < buf.length; i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return value;
  }
  return undefined;
}

function tooLarge(size: number, limit: number, knob: string, qualifier = '', what = ''): IngestRefusal {
  return new IngestRefusal(
    413,
    'too_large',
    `the ${what}body is ${qualifier}${size} bytes; the limit is ${limit} (${knob}): send smaller batches`,
  );
}
