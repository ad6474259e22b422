/**
 * How fast the decide service works through a backlog, against a plain kafkajs consumer that runs
 * json-rules-engine once per observation, measured in the same run; and how many workflow starts per
 * second it sustains against the Temporal server's own ceiling.
 *
 *   npx tsx bench/decide-throughput.ts [observations=50000] [starts=1000]
 *
 * Part 1: pre-loads `observations` on topics of its own (most healthy, 0.1% breaching, each breach on
 * an entity of its own), with the starter pack in rules/ plus 50 generated rules, then reads them twice
 * from the start in new consumer groups:
 *   - plain: kafkajs eachMessage, JSON.parse, the same facts, one json-rules-engine run per observation;
 *   - decide: the real service (validation, compiled rules, decisions produced with acks=all, starts,
 *     offsets committed after them).
 * The decisions (entity × rule) of both must be identical.
 * Part 2: `starts` observations, every one breaching on its own entity: decide's workflow starts per
 * second against a plain Temporal client starting the same number of workflows, as many at once as
 * decide may (AUTOGLM_DECIDE_START_CONCURRENCY). Workflows are started on a task queue no worker
 * polls, and terminated at the end.
 */
// First: kafkajs must load with our read_committed filter (services/common/kafkajs-aborted-filter.ts).
import '../services/common/kafkajs-aborted-filter.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine } from 'json-rules-engine';
import { Registry } from 'prom-client';
import { localInfra } from '../infra/infra.js';
import { repoRoot } from '../infra/paths.js';
import { loadConfig, topicNames, type Config } from '../services/common/config.js';
import type { Decision, Observation } from '../services/common/contracts.js';
import { loadContextDir } from '../services/common/context/context-files.js';
import { factsFor } from '../services/common/facts.js';
import {
  connectProducer,
  createKafka,
  ensureTopics,
  runConsumer,
  sendJson,
} from '../services/common/kafka.js';
import { createLogger } from '../services/common/logger.js';
import { connectClient } from '../services/common/temporal.js';
import { startDecide } from '../services/decide/main.js';
import { readRuleFiles, ruleFilesIn } from '../services/decide/rule-file.js';
import { TopicTap, deleteTopicsWithPrefix } from '../services/common/topic-tap.js';
import { uniqueName } from '../services/common/unique-name.js';
import { REMEDIATE_WORKFLOW } from '../workflows/definitions.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const total = Number(args[0] ?? 50_000);
const startsWanted = Number(args[1] ?? 1000);
const endpoints = await localInfra().up();
const logger = createLogger('warn');

/** A rules folder: the starter pack and its context, plus `generated` rules on metrics of their own. */
function benchRulesDir(generated: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-bench-rules-'));
  const source = path.join(repoRoot, 'rules');
  for (const f of ruleFilesIn(source)) fs.copyFileSync(f, path.join(dir, path.basename(f)));
  fs.cpSync(path.join(source, 'context'), path.join(dir, 'context'), { recursive: true });
  const ops = ['greaterThan', 'greaterThanInclusive', 'lessThan', 'lessThanInclusive'];
  for (let i = 0; i < generated; i++) {
    // Each rule on a (metric, statistic) of its own, so no rule shadows another.
    const metric = `gen${i % 10}`;
    const stat = ['avg', 'max', 'p95', 'last', 'min'][Math.floor(i / 10) % 5]!;
    const op = ops[i % ops.length]!;
    // Thresholds healthy observations never cross (values stay in 20..60).
    const value = op.startsWith('greater') ? 900 + i : -900 - i;
    const rule = {
      name: `generated-${i}`,
      priority: 1 + (i % 5),
      conditions: {
        all: [
          { fact: `${metric}.${stat}`, operator: op, value },
          { fact: `${metric}.count`, operator: 'greaterThanInclusive', value: 3 },
          ...(i % 3 === 0 ? [{ fact: 'maintenance', operator: 'equal', value: false }] : []),
        ],
      },
      event: {
        type: 'remediate',
        params: {
          action: 'restart',
          mode: i % 2 === 0 ? 'shadow' : 'enforce',
          verify: {
            conditions: { all: [{ fact: `${metric}.avg`, operator: 'lessThan', value: 100 }] },
            within: '5m',
          },
        },
      },
    };
    fs.writeFileSync(path.join(dir, `generated-${i}.json`), JSON.stringify(rule));
  }
  return dir;
}

function configFor(id: string, rulesDir: string): Config {
  return loadConfig(process.env, {
    kafkaBrokers: endpoints.kafkaBrokers,
    temporalAddress: endpoints.temporalAddress,
    topicPrefix: `${id}.autoglm`,
    groupPrefix: id,
    actTaskQueue: `${id}-act`,
    verifyTaskQueue: `${id}-verify`,
    rulesDir,
    // The backlog is older than the default decision age by the time decide reads it.
    maxDecisionAge: '1h',
    logLevel: 'warn',
    opsPort: '0',
  });
}

/** A healthy observation (every metric in 20..60, near its baseline) or a breaching one (CPU saturated, far above its baseline). */
function observation(entity: string, end: number, i: number, breach: boolean): Observation {
  const features: Record<string, number> = {};
  for (const m of [
    'cpu',
    'mem',
    'disk',
    'error_rate',
    'gen0',
    'gen1',
    'gen2',
    'gen3',
    'gen4',
    'gen5',
    'gen6',
    'gen7',
    'gen8',
    'gen9',
  ]) {
    const v = 20 + ((i * 7 + m.length * 13) % 40);
    features[`${m}.avg`] = m === 'error_rate' ? v / 1000 : v;
    features[`${m}.max`] = v + 5;
    features[`${m}.p95`] = v + 3;
    features[`${m}.last`] = v + 1;
    features[`${m}.min`] = v - 5;
    features[`${m}.slope`] = 0;
    features[`${m}.count`] = 6;
    // The baseline facts sense adds once warm (within ±3 deviations of normal when healthy).
    features[`${m}.baseline`] = v;
    features[`${m}.deviation`] = (((i * 31 + m.length) % 60) - 30) / 10;
    features[`${m}.anomaly`] = 0;
  }
  if (breach) {
    features['cpu.avg'] = 97;
    features['cpu.deviation'] = 9;
    features['cpu.anomaly'] = 1;
  }
  return { entity, seq: i, window: { start: end - 30_000, end }, features, events: [], ts: end };
}

async function load(config: Config, observations: Observation[]): Promise<void> {
  const kafka = createKafka(config, logger);
  await ensureTopics(kafka, Object.values(topicNames(config)), config.topicPartitions);
  const producer = await connectProducer(kafka);
  await sendJson(
    producer,
    topicNames(config).observations,
    observations.map((o) => ({ key: o.entity, value: o })),
  );
  await producer.disconnect();
}

async function waitFor(label: string, done: () => boolean): Promise<void> {
  const start = performance.now();
  while (!done()) {
    if (performance.now() - start > 900_000) throw new Error(`${label}: not done in 15 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const metricSum = async (
  registry: Registry,
  name: string,
  filter: (l: Record<string, unknown>) => boolean = () => true,
) =>
  ((await registry.getSingleMetric(name)?.get())?.values ?? [])
    .filter((v) => filter(v.labels))
    .reduce((s, v) => s + v.value, 0);

/** The decide service on `config`'s backlog: ms from the first observation decided to the last committed. */
async function runDecide(
  config: Config,
  count: number,
  counter: string,
  filter?: (l: Record<string, unknown>) => boolean,
) {
  const registry = new Registry();
  const decide = await startDecide({ config, logger, registry });
  let done = 0;
  let first: number | undefined;
  const poll = setInterval(() => {
    void metricSum(registry, counter, filter).then((n) => {
      if (first === undefined && n > 0) first = performance.now();
      done = n;
    });
  }, 20);
  const started = performance.now();
  await waitFor('decide', () => done >= count);
  clearInterval(poll);
  const ms = performance.now() - (first ?? started);
  await decide.stop();
  return ms;
}

// ---- part 1: decide vs one json-rules-engine run per observation ----
const rulesDir = benchRulesDir(50);
const id1 = uniqueName('bench-decide');
const config1 = configFor(id1, rulesDir);
const now = Date.now();
const backlog: Observation[] = [];
const breachEvery = 1000;
for (let i = 0; i < total; i++) {
  const breach = i % breachEvery === breachEvery - 1;
  backlog.push(
    observation(breach ? `breach-${id1}-${i}` : `svc-${i % 5000}`, now - 30_000 + (i % 1000), i, breach),
  );
}
const loadStart = performance.now();
await load(config1, backlog);
console.log(
  `loaded ${total} observations (${total / breachEvery} breaching) in ${((performance.now() - loadStart) / 1000).toFixed(1)}s`,
);

const { rules } = readRuleFiles(ruleFilesIn(rulesDir));
const context = loadContextDir(path.join(rulesDir, 'context')).context;
const kafka = createKafka(config1, logger);

// Plain: one json-rules-engine run per observation.
const engine = new Engine([], { allowUndefinedFacts: true });
for (const r of rules)
  engine.addRule({
    name: r.name,
    priority: r.priority,
    conditions: r.conditions as never,
    event: { type: 'remediate' },
  });
const plainMatches = new Set<string>();
let plainCount = 0;
let plainFirst: number | undefined;
const plain = await runConsumer({
  kafka,
  groupId: uniqueName(`${id1}-plain`),
  topics: [topicNames(config1).observations],
  fromBeginning: true,
  logger,
  eachMessage: async ({ message }) => {
    plainFirst ??= performance.now();
    const obs = JSON.parse(message.value!.toString('utf8')) as Observation;
    const { results } = await engine.run(factsFor(obs, context.factsFor(obs.entity, obs.window.end)));
    for (const r of results) plainMatches.add(`${obs.entity} ${r.name}`);
    plainCount++;
  },
});
await waitFor('plain', () => plainCount >= total);
const plainMs = performance.now() - plainFirst!;
await plain.stop();

const decisions = await new TopicTap(kafka, topicNames(config1).decisions, logger).start();
const decideMs = await runDecide(config1, total, 'autoglm_decide_observations_total');
await new Promise((resolve) => setTimeout(resolve, 2000));
const decideMatches = new Set(decisions.values<Decision>(() => true).map((d) => `${d.entity} ${d.rule}`));
await decisions.stop();
const same = decideMatches.size === plainMatches.size && [...plainMatches].every((m) => decideMatches.has(m));
const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));
console.log(`rules: ${rules.length} (${rules.length - 50} starter pack + 50 generated)`);
console.log(
  `plain: kafkajs eachMessage + json-rules-engine per observation  ${rate(total, plainMs).toLocaleString('en')} observations/s`,
);
console.log(
  `decide: the service (batches, compiled rules, produce, starts)   ${rate(total, decideMs).toLocaleString('en')} observations/s`,
);
console.log(`ratio decide / plain: ${(plainMs / decideMs).toFixed(1)}`);
console.log(`decisions: plain ${plainMatches.size}, decide ${decideMatches.size}, identical: ${same}`);

// ---- part 2: workflow starts per second vs a plain client ----
const id2 = uniqueName('bench-starts');
const config2 = configFor(id2, rulesDir);
const client = await connectClient(config2);
const sample = observation('sample', now, 0, true);
const concurrency = config2.decideStartConcurrency;
// The plain client: the same number of starts, `concurrency` at a time, with a decision-sized payload.
let next = 0;
const plainStart = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < startsWanted) {
      const i = next++;
      await client.workflow.start(REMEDIATE_WORKFLOW, {
        taskQueue: `${id2}-plain`,
        workflowId: `${id2}-plain-${i}`,
        args: [{ ...sample, entity: `plain-${i}` }, {}],
        memo: { decision: sample },
      });
    }
  }),
);
const plainStartsMs = performance.now() - plainStart;
const burst = Array.from({ length: startsWanted }, (_, i) =>
  observation(`burst-${id2}-${i}`, Date.now(), i, true),
);
await load(config2, burst);
const decideStartsMs = await runDecide(
  config2,
  startsWanted,
  'autoglm_decide_decisions_total',
  (l) => l.result === 'started',
);
console.log(
  `starts: plain client (${concurrency} at a time) ${rate(startsWanted, plainStartsMs).toLocaleString('en')}/s`,
);
console.log(
  `starts: decide (every observation breaching)      ${rate(startsWanted, decideStartsMs).toLocaleString('en')}/s`,
);
console.log(`ratio decide / plain client: ${(plainStartsMs / decideStartsMs).toFixed(2)}`);

// Clean up: the workflows (no worker polls their queues), the topics, the rules folder.
for (const queue of [`${id2}-plain`, `${id2}-act`, `${id1}-act`]) {
  await client.workflowService
    .startBatchOperation({
      namespace: config2.temporalNamespace,
      jobId: uniqueName('bench-clean'),
      reason: 'benchmark finished',
      visibilityQuery: `TaskQueue = "${queue}" AND ExecutionStatus = "Running"`,
      terminationOperation: {},
    })
    .catch((err: Error) => console.warn(`could not terminate the workflows on ${queue}: ${err.message}`));
}
await client.connection.close();
await deleteTopicsWithPrefix(kafka, config1.topicPrefix);
await deleteTopicsWithPrefix(kafka, config2.topicPrefix);
fs.rmSync(rulesDir, { recursive: true, force: true });
process.exit(0);
