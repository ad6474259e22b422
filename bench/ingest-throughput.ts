/**
 * How fast ingest takes Prometheus remote-write into Kafka, against how fast sense reads the same
 * samples back, measured in the same run (ingest must never be the loop's bottleneck).
 *
 *   npx tsx bench/ingest-throughput.ts [samples=200000] [entities=1000] [senders=8] [--runs 3] [--duration 10m] [--profile] [--no-warmup]
 *
 * Encodes the samples as remote-write requests of 2,000 samples (Prometheus's max_samples_per_send:
 * one sample per entity per second of event time, ending now, a series per entity and metric),
 * then `senders` concurrent clients (Prometheus's shards) POST them, snappy-compressed, to an
 * ingest on topics of its run; the rate counts samples answered 2xx (in Kafka, acks=all). Then sense
 * reads that metrics topic from the start in a group of its own, timed from the join to the last
 * sample handled. First both are warmed up alike, untimed: an ingest run and a sense run of the
 * same samples on topics of their own (V8 compiles the hot paths of both sides then, not inside a
 * timed run; `--no-warmup` leaves it out). Ingest and sense alternate `--runs` times (the machine's load shifts); prints
 * each run's rates and ratio, the median ratio, and this process's memory (RSS, heap) at the start
 * and end of each ingest run. With `--duration`, one ingest run sends the requests over and over
 * for that long, printing the rate and the memory every minute (is memory flat?), and leaves sense
 * out. `--profile` writes a CPU profile of the first ingest run to `ingest.cpuprofile`.
 * The senders run in a worker thread of this process (ingest's event loop is its own, as beside a
 * real Prometheus): the CPU figures are the whole process's, senders included.
 */
// First: kafkajs must load with our read_committed filter (services/common/kafkajs-aborted-filter.ts).
import '../services/common/kafkajs-aborted-filter.js';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { Worker } from 'node:worker_threads';
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
const positional = args.filter(
  (a, i) => !a.startsWith('--') && !['--duration', '--runs'].includes(args[i - 1] ?? ''),
);
const samples = Number(positional[0] ?? 200_000);
const entities = Number(positional[1] ?? 1000);
const senders = Number(positional[2] ?? 8);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 3;
const warmup = !args.includes('--no-warmup');
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a whole number of runs such as 3');
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
/** Each run writes topics of its own (`<id>-r<run>.autoglm.*`), read by a sense group of its own. */
const configOf = (run: number, groupPrefix: string): Config =>
  loadConfig(process.env, {
    kafkaBrokers: endpoints.kafkaBrokers,
    temporalAddress: endpoints.temporalAddress,
    topicPrefix: `${id}-r${run}.autoglm`,
    groupPrefix,
    logLevel: 'warn',
    opsPort: '0',
    ingestPort: '0',
    ingestAuth: 'none',
    ingestRate: '100000',
    ingestBurst: '100000',
  });
const logger = createLogger('warn');
const kafka = createKafka(configOf(0, id), logger);

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

const perBody = bodies.map((_, i) =>
  i === bodies.length - 1 ? encoded - PER_REQUEST * (bodies.length - 1) : PER_REQUEST,
);

/**
 * The senders: `senders` loops each POSTing the next body until it is answered 204 (a 503 or 429
 * is retried after 100 ms, as Prometheus does), all bodies once or, with `until`, over and over
 * till then. Reports `acked` (samples answered 204) and `refused` (requests retried) as it goes.
 */
const SENDERS_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { url, bodies, perBody, senders } = workerData;
let acked = 0, refused = 0, next = 0;
async function post(body) {
  for (;;) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
      body,
    });
    await res.arrayBuffer();
    if (res.status === 204) return;
    refused++;
    if (res.status !== 503 && res.status !== 429) throw new Error('ingest answered ' + res.status);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
parentPort.postMessage({ ready: true });
// Ready; the clock starts with the message that says go.
// This thread's CPU in ms (Linux: /proc/thread-self/stat's utime + stime, in 10 ms ticks), else undefined.
const threadCpuMs = () => {
  try {
    const f = require('node:fs').readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return undefined;
  }
};
parentPort.once('message', ({ until }) => {
  const cpuStart = threadCpuMs();
  const report = setInterval(() => parentPort.postMessage({ acked, refused }), 100);
  Promise.all(
    Array.from({ length: senders }, async () => {
      while (until === undefined || Date.now() < until) {
        const i = next++ % bodies.length;
        if (until === undefined && next > bodies.length) return;
        await post(bodies[i]);
        acked += perBody[i];
      }
    }),
  ).then(() => {
    clearInterval(report);
    const cpuEnd = threadCpuMs();
    const cpuMs = cpuStart === undefined || cpuEnd === undefined ? undefined : cpuEnd - cpuStart;
    parentPort.postMessage({ acked, refused, cpuMs, done: true });
  });
});
`;

/** The senders in a worker thread, as Prometheus is another process (they ran on ingest's own event loop before); started before the clock. */
async function startSenders(url: string): Promise<{
  /** Sends; resolves with the senders' own CPU in ms (undefined off Linux). */
  send: (
    until: number | undefined,
    progress: (acked: number, refused: number) => void,
  ) => Promise<number | undefined>;
}> {
  const worker = new Worker(SENDERS_SOURCE, { eval: true, workerData: { url, bodies, perBody, senders } });
  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', () => resolve());
  });
  return {
    send: async (until, progress) => {
      const cpuMs = await new Promise<number | undefined>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('message', (m: { acked: number; refused: number; cpuMs?: number; done?: boolean }) => {
          progress(m.acked, m.refused);
          if (m.done) resolve(m.cpuMs);
        });
        worker.postMessage({ until });
      });
      await worker.terminate();
      return cpuMs;
    },
  };
}

const cpuOf = (u: NodeJS.CpuUsage, n: number) => ((u.user + u.system) / n).toFixed(1);

/** One run of ingest: every body once (or over and over for `--duration`); its rate in samples/s. */
async function ingestRun(run: number): Promise<{ rate: number; acked: number; cpu: number | undefined }> {
  const ingest = await startIngest({
    config: configOf(run, `${id}-r${run}`),
    logger,
    registry: new Registry(),
  });
  console.log(`memory at start: ${memory()}`);
  const url = `http://127.0.0.1:${ingest.port}/api/v1/write`;
  let acked = 0;
  let refused = 0;
  const progress = (a: number, r: number) => {
    acked = a;
    refused = r;
  };
  const pool = await startSenders(url);
  if (run === 1) await profiler?.post('Profiler.start');
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const eluStart = performance.eventLoopUtilization();
  let sendersMs: number | undefined;
  if (durationMs !== undefined && run > 0) {
    const end = Date.now() + durationMs;
    let last = { at: performance.now(), acked: 0 };
    const timer = setInterval(() => {
      const now = performance.now();
      console.log(
        `${((now - start) / 60_000).toFixed(0)} min: ${Math.round((acked - last.acked) / ((now - last.at) / 1000))} samples/s, ${memory()}`,
      );
      last = { at: now, acked };
    }, 60_000);
    sendersMs = await pool.send(end, progress);
    clearInterval(timer);
    // The last stretch (the timer's tenth tick falls just after a 10-minute run ends).
    const now = performance.now();
    console.log(
      `${((now - start) / 60_000).toFixed(1)} min (end): ${Math.round((acked - last.acked) / ((now - last.at) / 1000))} samples/s, ${memory()}`,
    );
  } else {
    sendersMs = await pool.send(undefined, progress);
  }
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpuStart);
  const busy = performance.eventLoopUtilization(eluStart).utilization;
  const cpu = cpuOf(used, acked);
  // The process's CPU less the senders' thread: ingest's own (with kafkajs and the HTTP server).
  const own = sendersMs === undefined ? undefined : (used.user + used.system - sendersMs * 1000) / acked;
  if (run === 1 && profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    await writeFile('ingest.cpuprofile', JSON.stringify(profile));
  }
  const rate = acked / (ms / 1000);
  console.log(
    `run ${run} ingest: ${acked} samples in ${(ms / 1000).toFixed(1)}s = ${Math.round(rate)} samples/s (${senders} senders, ${refused} requests answered 503/429 and retried), ${cpu} µs CPU per sample with the senders, ${own === undefined ? '?' : own.toFixed(1)} without; event loop busy ${(busy * 100).toFixed(0)}%`,
  );
  await ingest.stop();
  console.log(`memory at end: ${memory()}`);
  return { rate, acked, cpu: own };
}

/** sense on run `run`'s samples, from its group's join to the last one handled; its rate in samples/s. */
async function senseRun(run: number, acked: number): Promise<{ rate: number; cpu: number }> {
  const registry = new Registry();
  const config = configOf(run, `${id}-r${run}-sense`);
  const metrics = topicNames(config).metrics;
  const service = await startSense({ config, logger, registry });
  const joined = performance.now();
  const cpuStart = process.cpuUsage();
  const eluStart = performance.eventLoopUtilization();
  const counted = registry.getSingleMetric('autoglm_sense_messages_total');
  for (;;) {
    const values = (await counted?.get())?.values ?? [];
    const n = values.filter((v) => v.labels.topic === metrics).reduce((t, v) => t + v.value, 0);
    if (n >= acked) break;
    if (performance.now() - joined > 600_000) throw new Error(`sense read ${n} of ${acked} in 10 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const ms = performance.now() - joined;
  const rate = acked / (ms / 1000);
  const used = process.cpuUsage(cpuStart);
  const busy = performance.eventLoopUtilization(eluStart).utilization;
  await service.stop();
  console.log(
    `run ${run} sense: ${acked} samples in ${(ms / 1000).toFixed(1)}s = ${Math.round(rate)} samples/s, ${cpuOf(used, acked)} µs CPU per sample; event loop busy ${(busy * 100).toFixed(0)}%`,
  );
  return { rate, cpu: (used.user + used.system) / acked };
}

if (warmup) {
  // Both sides once, untimed, on run 0's topics: the JIT's warm-up out of the timed runs, alike for both.
  console.log('warm-up (untimed, ingest and sense alike):');
  const { acked } = await ingestRun(0);
  await senseRun(0, acked);
}
if (durationMs !== undefined) {
  await ingestRun(1);
} else {
  // Ingest then sense, run after run (the machine's load shifts over a run; medians over the runs).
  const ratios: number[] = [];
  const cpus: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const ingest = await ingestRun(run);
    const sense = await senseRun(run, ingest.acked);
    ratios.push(ingest.rate / sense.rate);
    if (ingest.cpu !== undefined) cpus.push(sense.cpu / ingest.cpu);
    console.log(`run ${run}: ingest / sense = ${(ingest.rate / sense.rate).toFixed(2)}×`);
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)]!;
  console.log(
    `ingest / sense = ${median(ratios).toFixed(2)}× median of ${runs} runs (${ratios.map((r) => r.toFixed(2)).join(', ')}; target ≥ 1.0×)`,
  );
  // Load-independent: samples per CPU-second, ingest's own (senders left out) over sense's.
  if (cpus.length > 0)
    console.log(
      `per CPU-second, ingest / sense = ${median(cpus).toFixed(2)}× median (${cpus.map((r) => r.toFixed(2)).join(', ')})`,
    );
}
await deleteTopicsWithPrefix(kafka, id);
process.exit(0);
