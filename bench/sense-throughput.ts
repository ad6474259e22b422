/**
 * How fast the sense step ingests a backlog, against plain kafkajs consumers of the same backlog
 * measured in the same run.
 *
 *   npx tsx bench/sense-throughput.ts [samples=400000] [entities=1000] [runs=5]
 *
 * Pre-loads `samples` metric samples (one per entity per second of event time, ending now) on
 * topics of its own, then reads them `runs` times with each of three readers, each time in a new
 * consumer group from the start, in an order that rotates from run to run (other work on the
 * machine then falls on each reader alike):
 *   - plain: kafkajs `eachMessage` + `JSON.parse` on kafkajs' default fetch settings;
 *   - plain-same-fetch: the same with the fetch settings sense uses (SENSE_FETCH: bytes per
 *     partition, partitions consumed concurrently);
 *   - sense: the real service (validation, windows, baselines, observations produced with acks=all,
 *     offsets committed after them), default 30s window and 5s emit interval.
 * Each time runs from the group join to the last message handled (sense: to the last observation
 * acknowledged); sense starts each run without a baseline changelog, as on a first start. Also
 * prints this process's CPU time per sample over the same span, and the ratios from it: on a
 * machine shared with other work the wall clock varies a lot, the CPU a reader needs much less. Prints every run, the medians and the ratios of sense to each plain consumer.
 * `--sense-only` runs sense alone; `--profile` writes a CPU profile of the sense runs alone (the
 * loading left out) to `sense.cpuprofile`, for Chrome DevTools or speedscope.
 */
// First: kafkajs must load with our read_committed filter (services/common/kafkajs-aborted-filter.ts).
import '../services/common/kafkajs-aborted-filter.js';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { localInfra } from '../infra/infra.js';
import { loadConfig, topicNames, type Config } from '../services/common/config.js';
import { connectProducer, createKafka, ensureTopics, sendJson } from '../services/common/kafka.js';
import { createLogger } from '../services/common/logger.js';
import { deleteTopicsWithPrefix } from '../services/common/topic-tap.js';
import { uniqueName } from '../services/common/unique-name.js';
import { SENSE_FETCH, startSense } from '../services/sense/main.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const samples = Number(args[0] ?? 400_000);
const entities = Number(args[1] ?? 1000);
const runs = Number(args[2] ?? 5);
const senseOnly = process.argv.includes('--sense-only');
const profiler = process.argv.includes('--profile') ? new Session() : undefined;
profiler?.connect();
await profiler?.post('Profiler.enable');
const endpoints = await localInfra().up();
const id = uniqueName('bench-sense');
const configOf = (groupPrefix: string): Config =>
  loadConfig(process.env, {
    kafkaBrokers: endpoints.kafkaBrokers,
    temporalAddress: endpoints.temporalAddress,
    topicPrefix: `${id}.autoglm`,
    groupPrefix,
    logLevel: 'warn',
    opsPort: '0',
  });
const config = configOf(id);
const logger = createLogger('warn');
const kafka = createKafka(config, logger);
const topics = topicNames(config);
await ensureTopics(kafka, Object.values(topics), config.topicPartitions);

// The backlog: in event-time order, one sample per entity per second, ending now.
const producer = await connectProducer(kafka);
const rounds = Math.ceil(samples / entities);
const t0 = Date.now() - rounds * 1000;
let loaded = 0;
const loadStart = performance.now();
for (let r = 0; r < rounds && loaded < samples; r++) {
  const batch = [];
  for (let e = 0; e < entities && loaded < samples; e++, loaded++) {
    const entity = `svc-${e}`;
    batch.push({
      key: entity,
      value: { entity, metric: 'cpu', value: 40 + ((r * 7 + e) % 50), ts: t0 + r * 1000 },
    });
  }
  await sendJson(producer, topics.metrics, batch);
}
await producer.disconnect();
console.log(
  `loaded ${loaded} samples of ${entities} entities on ${config.topicPartitions} partitions in ${((performance.now() - loadStart) / 1000).toFixed(1)}s`,
);

/**
 * Milliseconds from `start` (the reader has joined its group, before its first fetch) to the last
 * message handled: the first fetch counts for every reader alike (with 4 MiB fetches it holds
 * most of a small backlog, so timing from the first message handled would leave it out).
 */
async function timeToDrain(start: Start, count: () => number, label: string): Promise<Measured> {
  while (count() < loaded) {
    if (performance.now() - start.at > 600_000)
      throw new Error(`${label}: only ${count()} of ${loaded} in 10 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const cpu = process.cpuUsage(start.cpu);
  return { ms: performance.now() - start.at, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** When a reader's timing starts: wall clock and this process's CPU time. */
interface Start {
  readonly at: number;
  readonly cpu: NodeJS.CpuUsage;
}
/**
 * Wall time, and this process's CPU time over it: other work on the machine slows the wall clock
 * of a reader, much less the CPU time it needs (the steadier figure on a shared machine).
 */
interface Measured {
  readonly ms: number;
  readonly cpuMs: number;
}
const startNow = (): Start => ({ at: performance.now(), cpu: process.cpuUsage() });

/** A plain kafkajs consumer that parses each message, on kafkajs' defaults or on sense's fetch settings. */
async function plain(client: Kafka, sameFetch: boolean): Promise<Measured> {
  let parsed = 0;
  const consumer = client.consumer({
    groupId: uniqueName(`${id}-plain`),
    ...(sameFetch ? { maxBytesPerPartition: SENSE_FETCH.maxBytesPerPartition } : {}),
  });
  let joinedAt: Start | undefined;
  consumer.on(consumer.events.GROUP_JOIN, () => (joinedAt ??= startNow()));
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.metrics], fromBeginning: true });
  await consumer.run({
    ...(sameFetch ? { partitionsConsumedConcurrently: SENSE_FETCH.partitionsConsumedConcurrently } : {}),
    eachMessage: async ({ message }) => {
      JSON.parse(message.value?.toString('utf8') ?? 'null');
      parsed++;
    },
  });
  while (joinedAt === undefined) await new Promise((resolve) => setTimeout(resolve, 1));
  const measured = await timeToDrain(joinedAt, () => parsed, 'plain consumer');
  await consumer.disconnect();
  return measured;
}

/** The sense service in a group of its own, counted by the samples whose observations are acknowledged. */
async function sense(run: number): Promise<Measured & { observations: number; results: string }> {
  const registry = new Registry();
  // A new sense group reads the baseline changelog back first: start each run without one, as on a
  // first start (startSense creates it again).
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topics.baselines] });
  while ((await admin.listTopics()).includes(topics.baselines))
    await new Promise((resolve) => setTimeout(resolve, 100));
  await admin.disconnect();
  await profiler?.post('Profiler.start');
  const service = await startSense({ config: configOf(`${id}-sense-${run}`), logger, registry });
  const joinedAt = startNow(); // startSense resolves once its consumer joined
  const messages = registry.getSingleMetric('autoglm_sense_messages_total');
  const produced = registry.getSingleMetric('autoglm_sense_observations_total');
  const read = async () => {
    const values = (await messages?.get())?.values ?? [];
    const sum = values
      .filter((v) => v.labels.topic === topics.metrics && v.labels.result !== 'duplicate')
      .reduce((total, v) => total + v.value, 0);
    const closed = values.find((v) => v.labels.result === 'observation')?.value ?? 0;
    const acked = (await produced?.get())?.values[0]?.value ?? 0;
    return { sum: acked >= closed ? sum : Math.min(sum, loaded - 1), acked, values };
  };
  let count = 0;
  let polling = true;
  // Read back to back: the registry's counters are updated once per batch, so this is cheap.
  const poller = (async () => {
    while (polling) {
      count = (await read()).sum;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  const measured = await timeToDrain(joinedAt, () => count, 'sense');
  polling = false;
  await poller;
  const last = await read();
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    await writeFile('sense.cpuprofile', JSON.stringify(profile));
  }
  await service.stop();
  const results = JSON.stringify(Object.fromEntries(last.values.map((v) => [v.labels.result, v.value])));
  return { ...measured, observations: last.acked, results };
}

type Reader = 'plain' | 'plain-same-fetch' | 'sense';
const readers: Reader[] = senseOnly ? ['sense'] : ['plain', 'plain-same-fetch', 'sense'];
const times: Record<Reader, number[]> = { plain: [], 'plain-same-fetch': [], sense: [] };
/** CPU microseconds per sample, per reader and run. */
const cpu: Record<Reader, number[]> = { plain: [], 'plain-same-fetch': [], sense: [] };
const perSample = (m: Measured) => (m.cpuMs * 1000) / loaded;
const rate = (ms: number) => loaded / (ms / 1000);
const k = (r: number) => `${Math.round(r / 1000)}k`;
for (let run = 0; run < runs; run++) {
  // Rotate the order: each reader goes first, second and last in turn.
  const order = readers.map((_, i) => readers[(i + run) % readers.length]!);
  const line: string[] = [];
  for (const reader of order) {
    if (reader === 'sense') {
      const s = await sense(run);
      times.sense.push(s.ms);
      cpu.sense.push(perSample(s));
      line.push(
        `sense ${k(rate(s.ms))}/s ${perSample(s).toFixed(1)} µs CPU (${s.observations} observations)`,
      );
      if (run === 0) console.log(`sense results: ${s.results}`);
    } else {
      const m = await plain(kafka, reader === 'plain-same-fetch');
      times[reader].push(m.ms);
      cpu[reader].push(perSample(m));
      line.push(`${reader} ${k(rate(m.ms))}/s ${perSample(m).toFixed(1)} µs CPU`);
    }
  }
  const ratio = (of: Reader) =>
    times[of].length ? (rate(times.sense.at(-1)!) / rate(times[of].at(-1)!)).toFixed(2) : '-';
  console.log(
    `run ${run + 1}: ${line.join(', ')}; sense/plain ${ratio('plain')}, sense/plain-same-fetch ${ratio('plain-same-fetch')}`,
  );
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const rates = (r: Reader) => times[r].map(rate);
for (const r of readers) {
  const rs = rates(r);
  console.log(
    `${r.padEnd(17)} median ${k(median(rs))} samples/s (${k(Math.min(...rs))}–${k(Math.max(...rs))} over ${rs.length} runs), ${median(cpu[r]).toFixed(1)} µs CPU per sample (${Math.min(...cpu[r]).toFixed(1)}–${Math.max(...cpu[r]).toFixed(1)})`,
  );
}
if (!senseOnly) {
  const range = (xs: number[]) =>
    `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
  for (const of of ['plain', 'plain-same-fetch'] as const) {
    const perRun = times.sense.map((ms, i) => rate(ms) / rate(times[of][i]!));
    // The same ratio from CPU time: sense's throughput if each had the CPU to itself.
    const perRunCpu = cpu.sense.map((us, i) => cpu[of][i]! / us);
    console.log(
      `sense / ${of}: median of the runs' ratios ${range(perRun)}, ratio of the medians ${(median(rates('sense')) / median(rates(of))).toFixed(2)}; by CPU per sample ${range(perRunCpu)}`,
    );
  }
}
await deleteTopicsWithPrefix(kafka, config.topicPrefix);
process.exit(0);
