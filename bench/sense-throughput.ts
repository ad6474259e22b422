/**
 * How fast the sense step ingests a backlog, against a plain kafkajs consumer of the same backlog
 * measured in the same run.
 *
 *   npx tsx bench/sense-throughput.ts [samples=200000] [entities=1000]
 *
 * Pre-loads `samples` metric samples (one per entity per second of event time, ending now) on
 * topics of its own, then reads them twice, each time in a new consumer group from the start:
 *   - baseline: kafkajs `eachMessage` + `JSON.parse`, nothing else;
 *   - sense: the real service (validation, windows, observations produced with acks=all, offsets
 *     committed after them), with the default 30s window and 5s emit interval.
 * Prints both rates (samples/s) and their ratio.
 */
import { Registry } from 'prom-client';
import { localInfra } from '../infra/infra.js';
import { loadConfig, topicNames } from '../services/common/config.js';
import {
  connectProducer,
  createKafka,
  ensureTopics,
  runConsumer,
  sendJson,
} from '../services/common/kafka.js';
import { createLogger } from '../services/common/logger.js';
import { uniqueName } from '../services/common/unique-name.js';
import { deleteTopicsWithPrefix } from '../services/common/topic-tap.js';
import { startSense } from '../services/sense/main.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const samples = Number(args[0] ?? 200_000);
const entities = Number(args[1] ?? 1000);
/** `--sense-only` skips the baseline (for a CPU profile of the service alone). */
const senseOnly = process.argv.includes('--sense-only');
const endpoints = await localInfra().up();
const id = uniqueName('bench-sense');
const config = loadConfig(process.env, {
  kafkaBrokers: endpoints.kafkaBrokers,
  temporalAddress: endpoints.temporalAddress,
  topicPrefix: `${id}.autoglm`,
  groupPrefix: id,
  logLevel: 'warn',
  opsPort: '0',
});
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
  `loaded ${loaded} samples of ${entities} entities in ${((performance.now() - loadStart) / 1000).toFixed(1)}s`,
);

/**
 * Milliseconds from the first message handled to the last: start-up and the group join are left
 * out of both measurements.
 */
async function timeToDrain(count: () => number, label: string): Promise<number> {
  const start = performance.now();
  let first: number | undefined;
  while (count() < loaded) {
    if (first === undefined && count() > 0) first = performance.now();
    if (performance.now() - start > 600_000)
      throw new Error(`${label}: only ${count()} of ${loaded} in 10 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return performance.now() - (first ?? start);
}

// Baseline: a plain consumer that parses each message.
async function baseline(maxBytesPerPartition?: number): Promise<number> {
  let parsed = 0;
  const plain = await runConsumer({
    kafka,
    groupId: uniqueName(`${id}-plain`),
    topics: [topics.metrics],
    fromBeginning: true,
    logger,
    ...(maxBytesPerPartition ? { maxBytesPerPartition } : {}),
    eachMessage: async ({ message }) => {
      JSON.parse(message.value?.toString('utf8') ?? 'null');
      parsed++;
    },
  });
  const ms = await timeToDrain(() => parsed, 'plain consumer');
  await plain.stop();
  return ms;
}
const baselineMs = senseOnly ? Number.NaN : await baseline();
// The same plain consumer with the fetch size the sense service uses (4 MiB per partition).
const baselineBigMs = senseOnly ? Number.NaN : await baseline(4 * 1024 * 1024);

// The sense service, counted by the messages it has handled.
const registry = new Registry();
const sense = await startSense({ config, logger, registry });
/** Samples handled, counted only once every observation they closed is acknowledged by Kafka. */
const handled = async () => {
  const values = (await registry.getSingleMetric('autoglm_sense_messages_total')?.get())?.values ?? [];
  const sum = values
    .filter((v) => v.labels.topic === topics.metrics && v.labels.result !== 'duplicate')
    .reduce((total, v) => total + v.value, 0);
  const closed = values.find((v) => v.labels.result === 'observation')?.value ?? 0;
  const produced =
    (await registry.getSingleMetric('autoglm_sense_observations_total')?.get())?.values[0]?.value ?? 0;
  return produced >= closed ? sum : Math.min(sum, loaded - 1);
};
let senseCount = 0;
// Every 50ms: reading the registry is not free, and the bench must not slow what it measures.
const poll = setInterval(() => {
  void handled().then((n) => (senseCount = n));
}, 50);
const senseMs = await timeToDrain(() => senseCount, 'sense');
clearInterval(poll);
const observations = (await registry.getSingleMetric('autoglm_sense_observations_total')?.get())?.values[0]
  ?.value;
const results = Object.fromEntries(
  ((await registry.getSingleMetric('autoglm_sense_messages_total')?.get())?.values ?? []).map((v) => [
    v.labels.result,
    v.value,
  ]),
);
await sense.stop();

const rate = (ms: number) => Math.round(loaded / (ms / 1000));
console.log(
  `baseline: kafkajs eachMessage + JSON.parse   ${rate(baselineMs).toLocaleString('en')} samples/s`,
);
console.log(
  `  the same with 4 MiB fetches per partition ${rate(baselineBigMs).toLocaleString('en')} samples/s`,
);
console.log(
  `sense: validate, window, produce, commit      ${rate(senseMs).toLocaleString('en')} samples/s (${observations} observations)`,
);
console.log(`sense results: ${JSON.stringify(results)}`);
console.log(`ratio sense / baseline with 4 MiB fetches: ${(rate(senseMs) / rate(baselineBigMs)).toFixed(2)}`);
console.log(`ratio sense / baseline: ${(rate(senseMs) / rate(baselineMs)).toFixed(2)}`);
await deleteTopicsWithPrefix(kafka, config.topicPrefix);
process.exit(0);
