import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { KafkaMessage } from 'kafkajs';
import { repoRoot } from '../../infra/paths.js';
import { ConfigError, loadConfig } from '../../services/common/config.js';
import {
  DEFAULT_MAX_BATCH_BYTES,
  KAFKA_CODECS,
  registerKafkaCodecs,
} from '../../services/common/kafka-codecs.js';
import {
  checkRecords,
  unreadableBatchLetter,
  unreadableBatchOf,
} from '../../services/common/unreadable-batches.js';

// kafkajs's own decoders: what its consumer runs on every fetch response.
const require = createRequire(import.meta.url);
type Decoded = KafkaMessage & { offset: string };
type DecoderClass = new (buffer: Buffer) => unknown;
const Decoder = require('kafkajs/src/protocol/decoder') as DecoderClass;
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (
  d: unknown,
) => Promise<{ records: Decoded[] }>;
const decodeFetchMessages = require('kafkajs/src/protocol/requests/fetch/v4/decodeMessages') as (
  d: unknown,
) => Promise<Decoded[]>;
const Batch = require('kafkajs/src/consumer/batch') as new (
  topic: string,
  fetchedOffset: string,
  data: { partition: number; highWatermark: string; messages: Decoded[] },
) => { messages: Decoded[] };

registerKafkaCodecs();

/**
 * Record batches as a broker served them, each 50 records `{"i":k,"codec":…,"producer":…}` keyed
 * `host-<k mod 3>` at offsets 0-49: librdkafka 2.16.0 (Python confluent-kafka 2.16.1) and the Java
 * client 4.4.0, `compression.type` gzip, snappy, lz4 and zstd, captured from a fetch response.
 */
const FIXTURES = path.join(repoRoot, 'test', 'fixtures', 'kafka-batches');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, `${name}.bin`));
const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const;
const HEADER = 61;

async function decodeBatch(batch: Buffer): Promise<Decoded[]> {
  return (await decodeRecordBatch(new Decoder(batch))).records;
}

/** A fixture batch with another payload, codec id or base offset (the header kept consistent). */
function rebuilt(batch: Buffer, change: { payload?: Buffer; codecId?: number; baseOffset?: bigint }): Buffer {
  const payload = change.payload ?? batch.subarray(HEADER);
  const out = Buffer.concat([batch.subarray(0, HEADER), payload]);
  out.writeInt32BE(payload.length + 49, 8);
  if (change.codecId !== undefined) out.writeInt16BE((out.readInt16BE(21) & ~7) | change.codecId, 21);
  if (change.baseOffset !== undefined) out.writeBigInt64BE(change.baseOffset, 0);
  return out;
}

/** What a consumer is handed for these batches fetched from `fetchedOffset` (kafkajs's Batch). */
async function consumed(batches: Buffer[], fetchedOffset = '0'): Promise<Decoded[]> {
  const all = Buffer.concat(batches);
  const size = Buffer.alloc(4);
  size.writeInt32BE(all.length);
  const messages = await decodeFetchMessages(new Decoder(Buffer.concat([size, all])));
  return new Batch('t', fetchedOffset, { partition: 0, highWatermark: '1000', messages }).messages;
}

const sample = (n: number) =>
  Buffer.from(
    Array.from({ length: n }, (_, i) => `{"entity":"host-${i % 50}","metric":"cpu","value":${i % 97}}`).join(
      '\n',
    ),
  );

describe('Kafka codecs', () => {
  for (const name of CODECS) {
    it(`${name} round-trips empty, small, random and multi-block data`, async () => {
      const codec = KAFKA_CODECS[name];
      for (const data of [Buffer.alloc(0), Buffer.from('x'), randomBytes(70_000), sample(40_000)]) {
        const compressed = await codec.compress(data);
        const back = await codec.decompress(compressed, DEFAULT_MAX_BATCH_BYTES);
        assert.ok(back.equals(data), `${name}: ${data.length} bytes came back as ${back.length}`);
      }
    });
  }

  it('snappy writes the xerial framing Java reads, in 32 KiB blocks, and reads raw blocks too', async () => {
    const data = sample(20_000);
    const framed = await KAFKA_CODECS.snappy.compress(data);
    assert.equal(framed.subarray(1, 7).toString('latin1'), 'SNAPPY');
    assert.equal(framed[0], 0x82);
    let blocks = 0;
    for (let at = 16; at < framed.length; at += 4 + framed.readInt32BE(at)) blocks++;
    assert.equal(blocks, Math.ceil(data.length / 32768));
    // librdkafka's raw snappy: one block, no framing (the librdkafka fixture below is one too).
    const raw = fixture('librdkafka-snappy').subarray(HEADER);
    assert.notEqual(raw[0], 0x82);
    assert.ok((await KAFKA_CODECS.snappy.decompress(raw, DEFAULT_MAX_BATCH_BYTES)).length > 0);
  });

  it('zstd reads a frame without its content size (as streaming producers write) past the first guess', async () => {
    const data = sample(150_000); // ~7 MB; the first guess for its ~30 KB frame is 1 MiB
    const withSize = await KAFKA_CODECS.zstd.compress(data);
    const descriptor = withSize[4]!;
    assert.equal(descriptor & 0x20, 0, 'expected a frame with a window descriptor (not single-segment)');
    const sizeBytes = [0, 2, 4, 8][descriptor >> 6]!;
    assert.ok(sizeBytes > 0, 'expected the frame to declare its size');
    // Drop the content size field: same frame, size unknown.
    const unknownSize = Buffer.concat([
      withSize.subarray(0, 4),
      Buffer.from([descriptor & 0x3f]),
      withSize.subarray(5, 6),
      withSize.subarray(6 + sizeBytes),
    ]);
    const back = await KAFKA_CODECS.zstd.decompress(unknownSize, DEFAULT_MAX_BATCH_BYTES);
    assert.ok(back.equals(data));
    await assert.rejects(KAFKA_CODECS.zstd.decompress(unknownSize, 2 * 1024 * 1024));
  });

  it('refuses to decompress past the byte limit (gzip, zstd, snappy)', async () => {
    const data = sample(10_000);
    for (const name of ['gzip', 'zstd', 'snappy'] as const) {
      const compressed = await KAFKA_CODECS[name].compress(data);
      await assert.rejects(KAFKA_CODECS[name].decompress(compressed, 1000), `${name} must refuse`);
    }
  });
});

describe('batches from other clients', () => {
  for (const producer of ['librdkafka', 'java'])
    for (const name of CODECS) {
      it(`reads ${producer}'s ${name} batch through kafkajs's decoder`, async () => {
        const batch = fixture(`${producer}-${name}`);
        assert.equal(batch.readInt16BE(21) & 7, CODECS.indexOf(name) + 1, 'fixture codec id');
        const records = await decodeBatch(batch);
        assert.equal(records.length, 50);
        records.forEach((r, i) => {
          assert.equal(r.offset, String(i));
          assert.equal(r.key?.toString(), `host-${i % 3}`);
          assert.deepEqual(JSON.parse(r.value!.toString()), { i, codec: name, producer });
          assert.equal(unreadableBatchOf(r), undefined);
        });
      });
    }
});

describe('unreadable batches', () => {
  const lz4 = fixture('librdkafka-lz4');
  const corruptLz4 = (() => {
    const payload = Buffer.from(lz4.subarray(HEADER));
    payload.writeUInt32LE(0xdeadbeef, 0); // no LZ4 frame magic
    return rebuilt(lz4, { payload });
  })();

  it('become one marker at the last offset, with the range and the reason', async () => {
    const messages = await consumed([corruptLz4]);
    assert.equal(messages.length, 1);
    const marker = messages[0]!;
    assert.equal(marker.offset, '49');
    const info = unreadableBatchOf(marker);
    assert.ok(info);
    assert.equal(info.codec, 'lz4');
    assert.equal(info.firstOffset, '0');
    assert.equal(info.lastOffset, '49');
    assert.equal(info.records, 50);
    assert.match(info.reason, /./);
    assert.ok(marker.value!.equals(corruptLz4.subarray(HEADER)), 'the marker carries the payload');
  });

  it('keep every valid batch around them, in order', async () => {
    const gzip = rebuilt(fixture('librdkafka-gzip'), {});
    const bad = rebuilt(corruptLz4, { baseOffset: 50n });
    const zstdBatch = rebuilt(fixture('java-zstd'), { baseOffset: 100n });
    const messages = await consumed([gzip, bad, zstdBatch]);
    assert.deepEqual(
      messages.map((m) => m.offset),
      [
        ...Array.from({ length: 50 }, (_, i) => String(i)),
        '99',
        ...Array.from({ length: 50 }, (_, i) => String(100 + i)),
      ],
    );
    assert.equal(messages.filter((m) => unreadableBatchOf(m)).length, 1);
    assert.equal(unreadableBatchOf(messages[50]!)?.firstOffset, '50');
    // Fetched from inside the bad batch: still the marker, then the next batch.
    const from60 = await consumed([bad, zstdBatch], '60');
    assert.deepEqual(
      from60.slice(0, 2).map((m) => m.offset),
      ['99', '100'],
    );
  });

  it('mark a batch far into the partition (base offset past 2^31) below any fetch position', async () => {
    const base = 5_000_000_000n;
    const messages = await consumed([rebuilt(corruptLz4, { baseOffset: base })], String(base));
    assert.deepEqual(
      messages.map((m) => m.offset),
      [String(base + 49n)],
    );
  });

  it('mark a codec id Kafka does not define', async () => {
    const messages = await consumed([rebuilt(lz4, { codecId: 7 })]);
    assert.equal(messages.length, 1);
    assert.equal(unreadableBatchOf(messages[0]!)?.codec, 'codec 7');
  });

  it('mark a payload that decompresses to something other than the records', async () => {
    const garbage = await KAFKA_CODECS.zstd.compress(randomBytes(2000));
    const messages = await consumed([rebuilt(fixture('librdkafka-zstd'), { payload: garbage })]);
    assert.equal(messages.length, 1);
    assert.match(unreadableBatchOf(messages[0]!)!.reason, /after zstd decompression/);
  });

  it('mark a batch over the byte limit, and read it again once the limit allows', async () => {
    try {
      registerKafkaCodecs({ maxBatchBytes: 100 });
      const over = await consumed([fixture('librdkafka-gzip')]);
      assert.equal(over.length, 1);
      assert.equal(unreadableBatchOf(over[0]!)?.codec, 'gzip');
    } finally {
      registerKafkaCodecs({ maxBatchBytes: DEFAULT_MAX_BATCH_BYTES });
    }
    assert.equal((await consumed([fixture('librdkafka-gzip')])).length, 50);
  });

  it('make a dead letter naming the offset range and reason; other messages make none', async () => {
    const [marker] = await consumed([rebuilt(corruptLz4, { baseOffset: 200n })]);
    const letter = unreadableBatchLetter('metrics', 2, marker!);
    assert.ok(letter);
    assert.equal(letter.source.message.offset, '200');
    assert.equal(letter.refusal.reason, 'unreadable_batch');
    assert.deepEqual(letter.refusal.issues[0], { path: 'offsets', message: '200-249 (50 records)' });
    assert.match(letter.refusal.issues[1]!.message, /^lz4: /);
    const [valid] = await consumed([fixture('librdkafka-lz4')]);
    assert.equal(unreadableBatchLetter('metrics', 2, valid!), undefined);
    // A producer cannot forge one: the same bytes in a plain message are just a message.
    assert.equal(unreadableBatchOf({ value: Buffer.from(marker!.value!) }), undefined);
  });
});

describe('AUTOGLM_KAFKA_MAX_BATCH_BYTES', () => {
  it("defaults to the codecs' default and refuses a limit under one broker batch, naming the variable", () => {
    assert.equal(loadConfig({}).kafkaMaxBatchBytes, DEFAULT_MAX_BATCH_BYTES);
    assert.equal(loadConfig({ AUTOGLM_KAFKA_MAX_BATCH_BYTES: '2097152' }).kafkaMaxBatchBytes, 2_097_152);
    assert.throws(
      () => loadConfig({ AUTOGLM_KAFKA_MAX_BATCH_BYTES: '1000' }),
      (err: unknown) => err instanceof ConfigError && /AUTOGLM_KAFKA_MAX_BATCH_BYTES/.test(err.message),
    );
  });
});

describe('checkRecords', () => {
  const header = { firstOffset: 0n, lastOffsetDelta: 1, records: 2 };
  // attributes, timestamp delta 0, offset delta, key null, value "a", no headers
  const record = (delta: number) => Buffer.from([7 * 2, 0, 0, delta * 2, 1, 2, 0x61, 0]);

  it('accepts records that parse, rising within the batch', () => {
    assert.equal(checkRecords(Buffer.concat([record(0), record(1)]), header), undefined);
  });

  it('names what is wrong: too few, left over, out of order, outside the batch', () => {
    assert.match(checkRecords(record(0), header)!, /record 2 of 2 runs past/);
    assert.match(
      checkRecords(Buffer.concat([record(0), record(1), Buffer.from([0])]), header)!,
      /1 bytes left/,
    );
    assert.match(
      checkRecords(Buffer.concat([record(1), record(0)]), header)!,
      /record 2 of 2 has offset delta 0/,
    );
    assert.match(checkRecords(Buffer.concat([record(0), record(5)]), header)!, /outside the batch/);
    const badLength = Buffer.concat([record(0), record(1)]);
    badLength[0] = 6 * 2;
    assert.match(checkRecords(badLength, header)!, /record 1 of 2 does not parse/);
  });
});
