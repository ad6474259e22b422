/**
 * Scale-out throughput: sense and decide each as one and as two processes of their own in one
 * consumer group (`services/<step>/main.ts`, as a Deployment's pods would run), on the same backlog,
 * in the same run, side by side.
 *
 *   npx tsx bench/scale-out.ts [--samples 400000] [--entities 1000] [--observations 40000]
 *                              [--partitions 4] [--rounds 1] [--step sense|decide|both]
 *
 * sense: `samples` metric samples (one per entity per second of event time, ending now) preloaded on
 * the metrics topic; decide: `observations` healthy observations (nothing breaches: no workflow is
 * started, the rules and the classifier run on each) on the observations topic. Every run has a topic
 * prefix and groups of its own and the same backlog loaded there before any run starts. A run spawns
 * its processes and follows the group's committed offsets: the rate is taken between 10% and 90% of
 * the backlog committed (start-up and the group join left out; a rebalance when the second process
 * joins counts, it is part of scaling), with the CPU time the step's processes used over that span
 * (from /proc) per message: two processes doing the same work should not need more; and the whole
 * run from spawn to the last commit (start-up included). `--rounds 2` runs 1, 2, 2, 1 processes (other work on the machine falls on both alike).
 * Exits 1 if a run does not commit its whole backlog (a message lost or not handled).
 *
 *   npx tsx bench/scale-out.ts --step loop [--incidents 20,100] [--processes 2]
 *
 * loop: the whole loop, `processes` processes of each step (same groups and task queues) on one
 * broker and one Temporal, against the fleet simulator, once per count of incidents (CPU saturation
 * and bad deploys on 5 services, count/5 pods each, one injected every 200 ms), the action budget
 * opened wide. Per run, from the fleet's own action log and the verdicts topic: incidents acted on
 * exactly once, lost, acted twice, verdicts published once; time to act p50/p95 from the decision
 * (decide's timestamp) and from the incident's start to the action at the target; and the ratio of
 * each count's p95 to the first count's. Exits 1 if an incident is lost or acted on twice.
 */
// First: kafkajs must load with our read_committed filter (services/common/kafkajs-aborted-filter.ts).
import '../services/common/kafkajs-aborted-filter.js';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Admin } from 'kafkajs';
import { localInfra } from '../infra/infra.js';
import { loadConfig, topicNames, type Config } from '../services/common/config.js';
import type { Observation } from '../services/common/contracts.js';
import { connectProducer, createKafka, ensureTopics, sendJson } from '../services/common/kafka.js';
import { createLogger } from '../services/common/logger.js';
import { deleteTopicsWithPrefix } from '../services/common/topic-tap.js';
import { uniqueName } from '../services/common/unique-name.js';
import { spawnService } from '../test/support/service-process.js';
import { benchLoopScaleOut } from './scale-out-loop.js';

type Step = 'sense' | 'decide';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '400000' },
    entities: { type: 'string', default: '1000' },
    observations: { type: 'string', default: '40000' },
    partitions: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '1' },
    step: { type: 'string', default: 'both' },
    incidents: { type: 'string', default: '20,100' },
    processes: { type: 'string', default: '2' },
  },
});
const problems: string[] = [];
const whole = (name: keyof typeof values, min: number, max: number): number => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min || n > max)
    problems.push(`--${name} ${values[name]}: give a whole number from ${min} to ${max}`);
  return n;
};
const samples = whole('samples', 1000, 5_000_000);
const entities = whole('entities', 1, 100_000);
const observations = whole('observations', 1000, 1_000_000);
const partitions = whole('partitions', 2, 64);
const rounds = whole('rounds', 1, 5);
if (!['sense', 'decide', 'both', 'loop'].includes(String(values.step)))
  problems.push(`--step ${values.step}: give sense, decide, both or loop`);
const counts = String(values.incidents)
  .split(',')
  .map((c) => Number(c.trim()));
if (counts.some((c) => !Number.isInteger(c) || c < 5 || c > 500 || c % 5 !== 0))
  problems.push(`--incidents ${values.incidents}: give multiples of 5 from 5 to 500, comma-separated`);
const processes = whole('processes', 1, 4);
if (problems.length > 0) {
  process.stderr.write(`scale-out: ${problems.join('\n  ')}\n`);
  process.exit(2);
}
if (values.step === 'loop') process.exit(await benchLoopScaleOut({ counts, processes }));
const steps: Step[] = values.step === 'both' ? ['sense', 'decide'] : [values.step as Step];
/** Processes per run: 1, 2 per round, every other round the other way round. */
const plan = Array.from({ length: rounds }, (_, r) => (r % 2 === 0 ? [1, 2] : [2, 1])).flat();

const endpoints = await localInfra().up((line) => process.stderr.write(`infra: ${line}\n`));
const logger = createLogger('warn');
const id = uniqueName('bench-scale');
const say = (line: string) => process.stdout.write(`${line}\n`);
const configOf = (run: string): Config =>
  loadConfig(process.env, {
    kafkaBrokers: endpoints.kafkaBrokers,
    temporalAddress: endpoints.temporalAddress,
    topicPrefix: `${id}-${run}.autoglm`,
    groupPrefix: `${id}-${run}`,
    actTaskQueue: `${id}-${run}-act`,
    verifyTaskQueue: `${id}-${run}-verify`,
    topicPartitions: String(partitions),
    // The backlog's observations are minutes old by the time decide reads them.
    maxDecisionAge: '1h',
    logLevel: 'warn',
    opsPort: '0',
  });
const kafka = createKafka(configOf('x'), logger);

/** A healthy observation: every metric near its baseline, no rule of the starter pack matches. */
function observation(entity: string, end: number, i: number): Observation {
  const features: Record<string, number> = {};
  for (const m of ['cpu', 'mem', 'disk', 'errors', 'latency']) {
    const v = 20 + ((i * 7 + m.length * 13) % 40);
    Object.assign(features, {
      [`${m}.avg`]: v,
      [`${m}.max`]: v + 5,
      [`${m}.p95`]: v + 3,
      [`${m}.last`]: v + 1,
      [`${m}.min`]: v - 5,
      [`${m}.slope`]: 0,
      [`${m}.count`]: 30,
      [`${m}.baseline`]: v,
      [`${m}.deviation`]: (((i * 31 + m.length) % 40) - 20) / 10,
      [`${m}.anomaly`]: 0,
    });
  }
  return { entity, seq: i, window: { start: end - 30_000, end }, features, events: [], ts: end };
}

/** Loads the step's backlog on `config`'s topics; returns how many messages. */
async function load(step: Step, config: Config): Promise<number> {
  const topics = topicNames(config);
  await ensureTopics(kafka, Object.values(topics), config.topicPartitions);
  const producer = await connectProducer(kafka);
  try {
    if (step === 'sense') {
      const perRound = Math.min(entities, samples);
      const t0 = Date.now() - Math.ceil(samples / perRound) * 1000;
      for (let sent = 0, r = 0; sent < samples; r++) {
        const batch = [];
        for (let e = 0; e < perRound && sent < samples; e++, sent++) {
          const entity = `svc-${e}`;
          batch.push({
            key: entity,
            value: { entity, metric: 'cpu', value: 40 + ((r * 7 + e) % 20), ts: t0 + r * 1000 },
          });
        }
        await sendJson(producer, topics.metrics, batch);
      }
      return samples;
    }
    const now = Date.now();
    for (let sent = 0; sent < observations;) {
      const batch = [];
      for (let j = 0; j < 2000 && sent < observations; j++, sent++) {
        const o = observation(`svc-${sent % entities}`, now - 30_000 + (sent % 1000), sent);
        batch.push({ key: o.entity, value: o });
      }
      await sendJson(producer, topics.observations, batch);
    }
    return observations;
  } finally {
    await producer.disconnect();
  }
}

/** Messages of `topic` the group has committed (the backlog starts at offset 0 on every partition). */
async function committed(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return (t?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
}

/** CPU seconds (user + system) a live process has used, from /proc. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

interface RunFigures {
  readonly processes: number;
  /** Messages/s between 10% and 90% of the backlog committed (undefined: committed in one step). */
  readonly steadyRate?: number;
  /** CPU µs of the step's processes per message over the same span (start-up left out). */
  readonly steadyCpuUs?: number;
  /** Seconds from spawn to the whole backlog committed. */
  readonly totalS: number;
}

async function stop(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

async function run(step: Step, config: Config, total: number, processes: number): Promise<RunFigures> {
  const topic = step === 'sense' ? topicNames(config).metrics : topicNames(config).observations;
  const groupId = `${config.groupPrefix}-${step}`;
  const admin = kafka.admin();
  await admin.connect();
  const started = performance.now();
  const children = Array.from({ length: processes }, () => spawnService(step, config));
  try {
    const cpu = () => children.reduce((sum, c) => sum + cpuSeconds(c.pid), 0);
    let at10: { t: number; cpu: number; done: number } | undefined;
    let at90: { t: number; cpu: number; done: number } | undefined;
    let done = 0;
    while (done < total) {
      if (performance.now() - started > 600_000)
        throw new Error(`${step} × ${processes}: ${done} of ${total} committed in 10 minutes`);
      const gone = children.find((c) => c.exitCode !== null || c.signalCode !== null);
      if (gone)
        throw new Error(`${step} × ${processes}: a process exited (${gone.exitCode ?? gone.signalCode})`);
      await sleep(100);
      done = await committed(admin, groupId, topic);
      const now = { t: performance.now(), cpu: cpu(), done };
      if (at10 === undefined && done >= total * 0.1) at10 = now;
      if (at90 === undefined && done >= total * 0.9) at90 = now;
    }
    const end = performance.now();
    const span = at10 && at90 && at90.done > at10.done ? { from: at10, to: at90 } : undefined;
    return {
      processes,
      ...(span
        ? {
            steadyRate: (span.to.done - span.from.done) / ((span.to.t - span.from.t) / 1000),
            steadyCpuUs: ((span.to.cpu - span.from.cpu) * 1e6) / (span.to.done - span.from.done),
          }
        : {}),
      totalS: (end - started) / 1000,
    };
  } finally {
    await stop(children);
    await admin.disconnect();
  }
}

const load1 = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
say(
  `scale-out ${id}: ${steps.join(' and ')}, ${plan.join(', ')} process(es) per run, ${partitions} partitions; ` +
    `sense ${samples.toLocaleString('en')} samples of ${entities} entities, decide ${observations.toLocaleString('en')} observations`,
);
say(`machine: ${os.cpus().length} CPUs, load average ${load1()} (1, 5, 15 min)`);
let ok = true;
try {
  for (const step of steps) {
    const configs = plan.map((_, i) => configOf(`${step}${i}`));
    const loadStart = performance.now();
    let total = 0;
    for (const c of configs) total = await load(step, c);
    say(
      `${step}: loaded ${configs.length} × ${total.toLocaleString('en')} in ${((performance.now() - loadStart) / 1000).toFixed(0)}s`,
    );
    const figures: RunFigures[] = [];
    for (const [i, processes] of plan.entries()) {
      const f = await run(step, configs[i]!, total, processes).catch((err: Error) => {
        ok = false;
        say(`  ${step} × ${processes}: FAILED: ${err.message}`);
        return undefined;
      });
      if (!f) continue;
      figures.push(f);
      say(
        `  ${step} × ${processes}: ` +
          (f.steadyRate === undefined
            ? 'committed in one step (no 10–90% span: give a bigger backlog)'
            : `${Math.round(f.steadyRate).toLocaleString('en')} msg/s and ${f.steadyCpuUs!.toFixed(1)} µs CPU per message (10–90% committed)`) +
          `; all ${total.toLocaleString('en')} committed ${f.totalS.toFixed(1)}s after spawn` +
          ` (${Math.round(total / f.totalS).toLocaleString('en')} msg/s with start-up); load ${load1()}`,
      );
    }
    const median = (n: number, of: (f: RunFigures) => number | undefined) => {
      const xs = figures
        .filter((f) => f.processes === n)
        .map(of)
        .filter((x): x is number => x !== undefined)
        .sort((a, b) => a - b);
      const mid = xs.length / 2;
      return xs.length === 0 ? NaN : xs.length % 2 ? xs[Math.floor(mid)]! : (xs[mid - 1]! + xs[mid]!) / 2;
    };
    const steady = (n: number) => median(n, (f) => f.steadyRate);
    const withStart = (n: number) => median(n, (f) => total / f.totalS);
    say(
      `${step}: 2 processes / 1 process = ${(steady(2) / steady(1)).toFixed(2)} at 10–90% ` +
        `(${Math.round(steady(1)).toLocaleString('en')} → ${Math.round(steady(2)).toLocaleString('en')} msg/s), ` +
        `${(withStart(2) / withStart(1)).toFixed(2)} from spawn to the last commit`,
    );
  }
} finally {
  await deleteTopicsWithPrefix(kafka, id);
}
process.exit(ok ? 0 : 1);
