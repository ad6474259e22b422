import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import '../../services/common/kafkajs-aborted-filter.js';
import {
  fastRecord,
  groupingInstalled,
  groupMessagesPerPartition,
  kafkajsGroupMessagesPerPartition,
  kafkajsMurmur2,
  kafkajsRecordEncoder,
  murmur2,
  murmur2Installed,
  recordEncoderInstalled,
  type RecordInput,
} from '../../services/common/kafkajs-record-encoder.js';
import { seededRandom as random } from '../../services/classifier/seeded-random.js';

const require = createRequire(import.meta.url);
const bytes = (e: { buf: Buffer; offset: number }) => Buffer.from(e.buf.subarray(0, e.offset));

describe('kafkajs record encoder', () => {
  it('writes the same bytes as kafkajs for keys, values and timestamps of every size and sign', () => {
    const rand = random(17);
    const text = (n: number) =>
      Array.from({ length: n }, () => 'aé€😀{"x":1}'[Math.floor(rand() * 9)]).join('');
    const field = (): Buffer | string | null | undefined => {
      const r = rand();
      const n = [0, 1, 63, 64, 127, 128, 511, 512, 700, 16_383, 16_384, 70_000][Math.floor(rand() * 12)]!;
      if (r < 0.1) return null;
      if (r < 0.15) return undefined;
      if (r < 0.55) return text(n);
      return Buffer.from(text(n));
    };
    const deltas = [
      0,
      1,
      -1,
      63,
      64,
      -64,
      -65,
      8191,
      8192,
      2 ** 31,
      -(2 ** 31) - 1,
      1.7e12,
      -1.7e12,
      2 ** 51,
      -(2 ** 51),
    ];
    for (let i = 0; i < 400; i++) {
      const record: RecordInput = {
        offsetDelta: [0, 1, 63, 64, 511, 8191, 8192, 1_000_000][i % 8]!,
        timestampDelta: deltas[i % deltas.length]!,
        key: field(),
        value: field(),
        ...(i % 5 === 0 ? { headers: {} } : {}),
      };
      assert.deepEqual(bytes(fastRecord(record)), bytes(kafkajsRecordEncoder(record)), `record ${i}`);
    }
  });

  it('leaves records with headers or an unusual timestamp to kafkajs, with the same bytes', () => {
    for (const record of [
      { offsetDelta: 3, timestampDelta: 5, key: 'k', value: 'v', headers: { a: 'b', c: ['d', 'e'] } },
      { offsetDelta: 3, timestampDelta: '12', key: 'k', value: 'v' },
      { offsetDelta: 3, timestampDelta: 2 ** 60, key: 'k', value: 'v' },
    ] as RecordInput[])
      assert.deepEqual(bytes(fastRecord(record)), bytes(kafkajsRecordEncoder(record)));
  });

  it('is the encoder kafkajs produce requests use', async () => {
    assert.equal(recordEncoderInstalled, true);
    const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as unknown;
    assert.equal(Record, fastRecord);
    // A produce request encoded by kafkajs decodes back to the records sent.
    const produceV3 = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (o: object) => {
      encode(): Promise<{ buffer: Buffer }>;
    };
    const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => object;
    const RecordBatchDecoder = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (
      d: object,
    ) => Promise<{
      records: Array<{ key: Buffer | null; value: Buffer | null; timestamp: string; offset: string }>;
    }>;
    const messages = [
      { key: 'e1', value: '{"a":1}', timestamp: '1700000000000' },
      { key: null, value: 'x'.repeat(600), timestamp: '1700000000500' },
      { key: Buffer.from('e3'), value: null, timestamp: '1699999999000' },
    ];
    const encoded = await produceV3({
      acks: -1,
      timeout: 1000,
      topicData: [{ topic: 't', partitions: [{ partition: 0, messages }] }],
    }).encode();
    const buffer = encoded.buffer;
    // transactionalId (nullable string), acks, timeout, topics[1]: name, partitions[1]: id, size, batch
    let at = 2 + 2 + 4 + 4;
    at += 2 + 1 + 4 + 4 + 4;
    const batch = buffer.subarray(at);
    const D = Decoder as unknown as new (b: Buffer) => object;
    const decoded = await RecordBatchDecoder(new D(batch));
    assert.deepEqual(
      decoded.records.map((r) => [r.key?.toString() ?? null, r.value?.toString() ?? null, r.timestamp]),
      messages.map((m) => [m.key?.toString() ?? null, m.value, m.timestamp]),
    );
  });
});

describe('kafkajs grouping of messages by partition', () => {
  it('gives the same groups, in the same order, as kafkajs', () => {
    const partitionMetadata = [{ partitionId: 0 }, { partitionId: 1 }, { partitionId: 2 }];
    const messages = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: String(i) }));
    const partitioner = ({ message }: { message: object }) =>
      Number((message as { value: string }).value) % 3;
    const args = { topic: 't', partitionMetadata, messages, partitioner };
    assert.deepEqual(groupMessagesPerPartition(args), kafkajsGroupMessagesPerPartition(args));
    assert.deepEqual(groupMessagesPerPartition({ ...args, partitionMetadata: [] }), {});
    assert.equal(groupingInstalled, true);
    assert.equal(require('kafkajs/src/producer/groupMessagesPerPartition.js'), groupMessagesPerPartition);
  });
});

describe('kafkajs default partitioner hash', () => {
  it('is Java’s murmur2 as kafkajs computes it, for string and Buffer keys of every length', () => {
    const rand = random(5);
    for (let i = 0; i < 5000; i++) {
      const key = Array.from({ length: i % 37 }, () =>
        String.fromCharCode(32 + Math.floor(rand() * 600)),
      ).join('');
      assert.equal(murmur2(key), kafkajsMurmur2(key), JSON.stringify(key));
      assert.equal(murmur2(Buffer.from(key)), kafkajsMurmur2(Buffer.from(key)));
    }
    // Values of Kafka's Java client (Utils.murmur2, its UtilsTest).
    const java: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of java) assert.equal(murmur2(key), hash, key);
    assert.equal(murmur2Installed, true);
    assert.equal(require('kafkajs/src/producer/partitioners/default/murmur2.js'), murmur2);
  });
});
