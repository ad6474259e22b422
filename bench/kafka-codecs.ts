/**
 * What reading compressed batches costs a consumer: kafkajs's own record batch decoder (what every
 * fetch runs) on batches of metric samples, uncompressed and with each codec registered by
 * services/common/kafka-codecs.ts (decompression plus the records check), in one process, no broker.
 *
 *   npx tsx bench/kafka-codecs.ts [records per batch=2000] [batches=300]
 *
 * Prints, per codec, the compressed size, records decoded per second and uncompressed MB/s
 * (median of 5 rounds), and the same for encoding (what a kafkajs producer would pay).
 */
// First: kafkajs must load with our read_committed filter (services/common/kafkajs-aborted-filter.ts).
import '../services/common/kafkajs-aborted-filter.js';
import { createRequire } from 'node:module';
import kafkajs from 'kafkajs';
import { registerKafkaCodecs } from '../services/common/kafka-codecs.js';

const require = createRequire(import.meta.url);
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown;
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (
  d: unknown,
) => Promise<{ records: unknown[] }>;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (o: object) => Promise<{ buffer: Buffer }>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (o: object) => unknown;

const perBatch = Number(process.argv[2] ?? 2000);
const batches = Number(process.argv[3] ?? 300);
registerKafkaCodecs();
const { CompressionTypes } = kafkajs;
const codecs = { none: CompressionTypes.None, ...CompressionTypes } as Record<string, number>;

const t0 = Date.now();
const values = Array.from({ length: perBatch }, (_, i) =>
  JSON.stringify({
    entity: `checkout/pod-${i % 500}`,
    metric: ['cpu', 'memory', 'latency_p99'][i % 3],
    value: Math.round(Math.random() * 10_000) / 100,
    ts: t0 + i * 10,
  }),
);
const rawBytes = values.reduce((n, v) => n + Buffer.byteLength(v), 0);
const records = values.map((value, i) => Record({ key: `checkout/pod-${i % 500}`, value, offsetDelta: i }));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(
  `${perBatch} samples per batch (${(rawBytes / 1024).toFixed(0)} KiB of values), ${batches} batches per round`,
);
for (const [name, id] of Object.entries(codecs)) {
  if (name !== 'none' && id === CompressionTypes.None) continue;
  const encodeSeconds: number[] = [];
  const decodeSeconds: number[] = [];
  let batch: Buffer = Buffer.alloc(0);
  for (let round = 0; round < 5; round++) {
    let start = performance.now();
    for (let i = 0; i < Math.max(1, batches / 10); i++)
      batch = (
        await RecordBatch({ compression: id, records, lastOffsetDelta: perBatch - 1, firstTimestamp: t0 })
      ).buffer;
    encodeSeconds.push((performance.now() - start) / 1000 / Math.max(1, batches / 10));
    start = performance.now();
    for (let i = 0; i < batches; i++) {
      const decoded = await decodeBatch(new Decoder(batch));
      if (decoded.records.length !== perBatch) throw new Error(`${name}: ${decoded.records.length} records`);
    }
    decodeSeconds.push((performance.now() - start) / 1000 / batches);
  }
  const dec = median(decodeSeconds);
  const enc = median(encodeSeconds);
  console.log(
    `${name.padEnd(6)} ${String(batch.length).padStart(7)} B/batch  decode ${(perBatch / dec / 1000).toFixed(0).padStart(5)}k rec/s ` +
      `${(rawBytes / dec / 1e6).toFixed(0).padStart(4)} MB/s   encode ${(perBatch / enc / 1000).toFixed(0).padStart(5)}k rec/s`,
  );
}
