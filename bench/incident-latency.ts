/**
 * How long one incident takes through the real loop, from the first bad metric to the verdict.
 *
 *   npx tsx bench/incident-latency.ts [incidents=5]
 *
 * Brings the local infra up, runs sense/decide/act/verify in this process on topics of its own,
 * with a 3s window, observations every 500ms and a rule verified after holding 1s. Prints each
 * stage's median and max, next to a baseline measured in the same run: one Kafka produce →
 * consume round trip on the same broker.
 */
// First: kafkajs must load with our read_committed filter (services/common/kafkajs-aborted-filter.ts).
import '../services/common/kafkajs-aborted-filter.js';
import { Registry } from 'prom-client';
import { localInfra } from '../infra/infra.js';
import { loadConfig, topicNames } from '../services/common/config.js';
import { connectProducer, createKafka, ensureTopics } from '../services/common/kafka.js';
import { createLogger } from '../services/common/logger.js';
import { fastCpuRule, isolatedLoopSettings, writeRuleDir } from '../test/support/fast-loop.js';
import { driveIncident, type IncidentTimeline } from '../test/support/incident.js';
import { produce } from '../test/support/metric-stream.js';
import { startActionTarget } from '../test/support/target.js';
import { deleteTopicsWithPrefix, TopicTap } from '../services/common/topic-tap.js';
import { startLoop } from '../services/loop.js';

const incidents = Number(process.argv[2] ?? 5);
const rulesDir = writeRuleDir([fastCpuRule('bench-cpu-scale-out', '30s')]);

const endpoints = await localInfra().up();
const target = await startActionTarget();
const settings = isolatedLoopSettings('bench');
const config = loadConfig(process.env, {
  ...settings,
  kafkaBrokers: endpoints.kafkaBrokers,
  temporalAddress: endpoints.temporalAddress,
  rulesDir,
  httpActuatorUrl: target.url,
});
const logger = createLogger('warn');
const registry = new Registry();
const topics = topicNames(config);
const loop = await startLoop({ config, logger, registry });
const kafka = createKafka(config, logger);
const producer = await connectProducer(kafka);
const decisions = await new TopicTap(kafka, topics.decisions, logger).start();
const verdicts = await new TopicTap(kafka, topics.verdicts, logger).start();

// Baseline: produce → consume round trip through the same broker.
const pingTopic = `${config.topicPrefix}.ping`;
await ensureTopics(kafka, [pingTopic], 1);
const ping = await new TopicTap(kafka, pingTopic, logger).start();
const rtts: number[] = [];
for (let i = 0; i < 20; i++) {
  const t = performance.now();
  await produce(producer, pingTopic, [{ key: 'p', value: { i } }]);
  await ping.waitFor<{ i: number }>((v) => v.i === i, 10_000);
  rtts.push(performance.now() - t);
}

const timelines: IncidentTimeline[] = [];
for (let i = 0; i < incidents; i++) {
  timelines.push(
    await driveIncident({
      producer,
      topics,
      decisions,
      verdicts,
      entity: `${settings.groupPrefix}-svc-${i}`,
    }),
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const max = (xs: number[]) => Math.max(...xs);
const stage = (name: string, xs: number[]) =>
  `${name.padEnd(34)} median ${median(xs).toFixed(0).padStart(6)} ms   max ${max(xs).toFixed(0).padStart(6)} ms`;
const rtt = median(rtts);
const decision = timelines.map((t) => t.decisionMs);
const actToVerdict = timelines.map((t) => t.verdictMs - (t.actedMs ?? Number.NaN));
console.log(`incident latency, ${incidents} incidents (window 3s, observation every 500ms, stableFor 1s)`);
console.log(stage('baseline: kafka round trip', rtts));
console.log(stage('first bad metric -> decision', decision));
console.log(
  stage(
    'first bad metric -> action',
    timelines.map((t) => t.actedMs ?? Number.NaN),
  ),
);
console.log(stage('action -> verdict (incl. 1s stable)', actToVerdict));
console.log(
  stage(
    'first bad metric -> verdict',
    timelines.map((t) => t.verdictMs),
  ),
);
console.log(
  `outcomes: ${timelines.map((t) => t.outcome).join(', ')}; target calls: ${target.received.length}`,
);
console.log(`ratio decision latency / kafka round trip: ${(median(decision) / rtt).toFixed(1)}x`);

for (const tap of [decisions, verdicts, ping]) await tap.stop();
await producer.disconnect();
await loop.stop();
await deleteTopicsWithPrefix(kafka, config.topicPrefix);
await target.close();
process.exit(timelines.every((t) => t.outcome === 'verified') ? 0 : 1);
