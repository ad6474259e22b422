/**
 * How fast ingest takes Prometheus remote-write into Kafka, against how fast sense reads the same
 * samples back, measured in the same run (ingest must never be the loop's bottleneck).
 *
 *   npx tsx bench/ingest-throughput.ts [samples=200000] [entities=1000] [senders=8] [--duration 10m]
 *
 * Encodes the samples as remote-write requests of 2,000 samples (Prometheus's max_samples_per_send:
 * one sample per entity per second of event time, ending now, a series per entity and metric),
 * then `senders` concurrent clients (Prometheus's shards) POST them, snappy-compressed, to an
 * ingest on its own topics; the rate counts samples answered 2xx (in Kafka, acks=all). Then sense
 * reads that metrics topic from the start in a group of its own, timed from the join to the last
 * sample handled. Prints both rates, their ratio, and this process's memory (RSS, heap) at start and
 * end. With `--duration`, sends the requests over and over for that long, printing the rate and the
 * memory every minute (is memory flat?), and leaves sense out.
 * The senders run in this process beside ingest: the ingest figure pays for their CPU too.
 */
// First: kafkajs must load with our read_committed filter (services/common/kafkajs-aborted-filter.ts).
import '../services/common/kafkajs-aborted-filter.js';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { Registry } from 'prom-client';
import snappy from 'snappy';
import { localInfra } from '../infra/infra.js';
import { loadConfig, topicNames, type Config } from '../services/common/config.js';
import { parseDuration } from '../services/common/duration.js';
import { createKafka } from '../services/common/kafka.js';
import { createLogger } from '../services/common/logger.js';
import { deleteTopicsWithPrefix } from '../services/common/topic-tap.js';
import { uniqueName } from '../services/common/unique-name.js';
import { startIngest } from '../services/ingest/main.js';
import { encodeWriteRequest } from '../services/ingest/proto/remote-write.js';
import { startSense } from '../services/sense/main.js';

const args = process.argv.slice(2);
const durationAt = args.indexOf('--duration');
const durationMs = durationAt >= 0 ? parseDuration(args[durationAt + 1] ?? '') : undefined;
if (durationAt >= 0 && durationMs === undefined) throw new Error('--duration takes a duration such as 10m');
const positional = args.filter((a, i) => !a.startsWith('--') && (durationAt < 0 || i !== durationAt + 1));
const samples = Number(positional[0] ?? 200_000);
const entities = Number(positional[1] ?? 1000);
const senders = Number(positional[2] ?? 8);
const PER_REQUEST = 2000;
const profiler = args.includes('--profile') ? new Session() : undefined;
profiler?.connect();
await profiler?.post('Profiler.enable');

const memory = () => {
  const m = process.memoryUsage();
  return `rss ${(m.rss / 2 ** 20).toFixed(0)} MiB, heap ${(m.heapUsed / 2 ** 20).toFixed(0)} MiB`;
};
const endpoints = await localInfra().up();
const id = uniqueName('bench-ingest');
const configOf = (groupPrefix: string): Config =>
  loadConfig(process.env, {
    kafkaBrokers: endpoints.kafkaBrokers,
    temporalAddress: endpoints.temporalAddress,
    topicPrefix: `${id}.autoglm`,
    groupPrefix,
    logLevel: 'warn',
    opsPort: '0',
    ingestPort: '0',
    ingestAuth: 'none',
    ingestRate: '100000',
    ingestBurst: '100000',
  });
const config = configOf(id);
const logger = createLogger('warn');
const kafka = createKafka(config, logger);
const topics = topicNames(config);

// The requests: one sample per entity per second, in event-time order, ending now.
const rounds = Math.ceil(samples / entities);
const t0 = Date.now() - rounds * 1000;
const bodies: Buffer[] = [];
let pending: Array<{
  labels: Array<{ name: string; value: string }>;
  samples: Array<{ value: number; timestamp: number }>;
}> = [];
let inRequest = 0;
let encoded = 0;
const flush = () => {
  if (inRequest === 0) return;
  bodies.push(snappy.compressSync(Buffer.from(encodeWriteRequest({ timeseries: pending }))));
  pending = [];
  inRequest = 0;
};
for (let r = 0; r < rounds && encoded < samples; r++) {
  for (let e = 0; e < entities && encoded < samples; e++, encoded++) {
    pending.push({
      labels: [
        { name: '__name__', value: 'cpu' },
        { name: 'namespace', value: 'bench' },
        { name: 'pod', value: `pod-${e}` },
      ],
      samples: [{ value: 40 + ((r * 7 + e) % 50), timestamp: t0 + r * 1000 }],
    });
    if (++inRequest >= PER_REQUEST) flush();
  }
}
flush();
const bytes = bodies.reduce((n, b) => n + b.length, 0);
console.log(
  `${encoded} samples of ${entities} entities in ${bodies.length} remote-write requests (${(bytes / bodies.length / 1024).toFixed(0)} KiB each, snappy)`,
);

const ingest = await startIngest({ config, logger, registry: new Registry() });
console.log(`memory at start: ${memory()}`);
const url = `http://127.0.0.1:${ingest.port}/api/v1/write`;
const samplesIn = (body: Buffer) =>
  bodies.indexOf(body) === bodies.length - 1 ? encoded - PER_REQUEST * (bodies.length - 1) : PER_REQUEST;
let acked = 0;
let refusedRequests = 0;
/** Sends `body` until it is answered 204 (a 503 is retried after a moment, as Prometheus does). */
async function post(body: Buffer): Promise<void> {
  for (;;) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
      body,
    });
    await res.arrayBuffer();
    if (res.status === 204) return;
    refusedRequests++;
    if (res.status !== 503 && res.status !== 429) throw new Error(`ingest answered ${res.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
const perBody = bodies.map(samplesIn);

async function sendAll(until: () => boolean): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (!until()) {
        const i = next++ % bodies.length;
        if (durationMs === undefined && next > bodies.length) return;
        await post(bodies[i]!);
        acked += perBody[i]!;
      }
    }),
  );
}

await profiler?.post('Profiler.start');
const start = performance.now();
const cpuStart = process.cpuUsage();
if (durationMs !== undefined) {
  const end = Date.now() + durationMs;
  let last = { at: performance.now(), acked: 0 };
  const timer = setInterval(() => {
    const now = performance.now();
    console.log(
      `${((now - start) / 60_000).toFixed(0)} min: ${Math.round((acked - last.acked) / ((now - last.at) / 1000))} samples/s, ${memory()}`,
    );
    last = { at: now, acked };
  }, 60_000);
  await sendAll(() => Date.now() >= end);
  clearInterval(timer);
} else {
  await sendAll(() => false);
}
const ingestMs = performance.now() - start;
if (profiler) {
  const { profile } = await profiler.post('Profiler.stop');
  await writeFile('ingest.cpuprofile', JSON.stringify(profile));
}
const ingestRate = acked / (ingestMs / 1000);
const cpuOf = (u: NodeJS.CpuUsage) => ((u.user + u.system) / acked).toFixed(1);
const ingestCpu = cpuOf(process.cpuUsage(cpuStart));
console.log(
  `ingest: ${acked} samples in ${(ingestMs / 1000).toFixed(1)}s = ${Math.round(ingestRate)} samples/s (${senders} senders, ${refusedRequests} requests answered 503/429 and retried), ${ingestCpu} µs CPU per sample (senders included)`,
);
await ingest.stop();
console.log(`memory at end: ${memory()}`);

if (durationMs === undefined) {
  // sense on the same samples: from its group's join to the last one handled.
  const registry = new Registry();
  const service = await startSense({ config: configOf(`${id}-sense`), logger, registry });
  const joined = performance.now();
  const senseCpuStart = process.cpuUsage();
  const counted = registry.getSingleMetric('autoglm_sense_messages_total');
  for (;;) {
    const values = (await counted?.get())?.values ?? [];
    const n = values.filter((v) => v.labels.topic === topics.metrics).reduce((t, v) => t + v.value, 0);
    if (n >= acked) break;
    if (performance.now() - joined > 600_000) throw new Error(`sense read ${n} of ${acked} in 10 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const senseMs = performance.now() - joined;
  const senseRate = acked / (senseMs / 1000);
  const senseCpu = cpuOf(process.cpuUsage(senseCpuStart));
  await service.stop();
  console.log(
    `sense: ${acked} samples in ${(senseMs / 1000).toFixed(1)}s = ${Math.round(senseRate)} samples/s, ${senseCpu} µs CPU per sample`,
  );
  console.log(`ingest / sense = ${(ingestRate / senseRate).toFixed(2)}× (target ≥ 1.0×)`);
}
await deleteTopicsWithPrefix(kafka, id);
process.exit(0);
