/**
 * What the guards add on the path from decision to action.
 *
 *   npx tsx bench/guard-latency.ts [runs=20]
 *
 * On the local Temporal, measures from the workflow start to the request arriving at a local HTTP
 * target, alternating two kinds of run on the same act worker's actuator:
 *   - baseline: a workflow that only calls the actuation activity (bench/act-only-workflow.ts);
 *   - guarded: the real remediation (age check, entity guard by signal-with-start, action budget,
 *     age check again, then the same activity), each for a new entity (a new guard workflow).
 * Prints the medians and the 90th percentiles, the added latency and the ratio.
 */
// First: kafkajs must load with our read_committed filter (services/common/kafkajs-aborted-filter.ts).
import '../services/common/kafkajs-aborted-filter.js';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { localInfra } from '../infra/infra.js';
import { createActActivities } from '../services/act/activities.js';
import { startAct } from '../services/act/main.js';
import { actuatorsFromConfig } from '../services/actuators/from-config.js';
import { loadConfig } from '../services/common/config.js';
import type { Decision } from '../services/common/contracts.js';
import { createLogger } from '../services/common/logger.js';
import { connectClient, connectWorker } from '../services/common/temporal.js';
import { decisionIdFor } from '../services/decide/decision-id.js';
import { RemediationStarter } from '../services/decide/workflow-starter.js';
import { isolatedLoopSettings } from '../test/support/fast-loop.js';
import { startActionTarget } from '../test/support/target.js';
import { deleteTopicsWithPrefix } from '../services/common/topic-tap.js';
import { createKafka } from '../services/common/kafka.js';
import { startVerify } from '../services/verify/main.js';

const runs = Number(process.argv[2] ?? 20);
const endpoints = await localInfra().up();
const arrived = new Map<string, number>();
const target = await startActionTarget({
  onAction: (a) => arrived.set(String(a.body.entity), performance.now()),
});
const settings = isolatedLoopSettings('bench-guard');
const config = loadConfig(process.env, {
  ...settings,
  kafkaBrokers: endpoints.kafkaBrokers,
  temporalAddress: endpoints.temporalAddress,
  httpActuatorUrl: target.url,
  // Limits out of the way: this measures the guards' round trips, not a deferral.
  maxActionsPerPeriod: String(10 * runs),
  maxConcurrentPerAction: String(10 * runs),
  maxConcurrentPerRule: String(10 * runs),
});
const logger = createLogger('warn');
const registry = new Registry();
const act = await startAct({ config, logger, registry });
const verify = await startVerify({ config, logger, registry });
const client = await connectClient(config);

const baselineQueue = `${config.actTaskQueue}-baseline`;
const baselineConnection = await connectWorker(config);
const baselineWorker = await Worker.create({
  connection: baselineConnection,
  taskQueue: baselineQueue,
  workflowsPath: fileURLToPath(new URL('./act-only-workflow.ts', import.meta.url)),
  activities: createActActivities({
    actuators: actuatorsFromConfig(config),
    publish: async () => {},
    client,
    actTaskQueue: baselineQueue,
    budgetLimits: {
      maxConcurrentPerAction: 1,
      maxConcurrentPerRule: 1,
      maxActionsPerPeriod: 1,
      periodMs: 1,
      maxDeferred: 0,
    },
    logger,
    registry: new Registry(),
  }),
});
const baselineRunning = baselineWorker.run();

async function until(entity: string, started: number): Promise<number> {
  const deadline = Date.now() + 30_000;
  while (!arrived.has(entity)) {
    if (Date.now() > deadline) throw new Error(`no action for ${entity} within 30s`);
    await sleep(2);
  }
  return arrived.get(entity)! - started;
}

function decisionFor(entity: string): Decision {
  const end = Date.now();
  const window = { start: end - 3000, end };
  return {
    decisionId: decisionIdFor(entity, 'bench-rule', window),
    entity,
    rule: 'bench-rule',
    ruleVersion: 'bench',
    mode: 'enforce',
    action: 'scale_out',
    args: { entity },
    actuator: { type: 'http' },
    cooldown: '1m',
    approval: 'none',
    verify: { conditions: { all: [] }, within: '1s', stableFor: '0s' },
    incident: null,
    facts: {},
    window,
    stale: false,
    ts: end,
  };
}

const starter = new RemediationStarter(client, config);
const baseline: number[] = [];
const guarded: number[] = [];
// One of each first, untimed: worker start-up, bundle and connections warm up.
for (let i = -1; i < runs; i++) {
  const b = `${settings.groupPrefix}-base-${i}`;
  let t = performance.now();
  await client.workflow.start('actOnly', {
    taskQueue: baselineQueue,
    workflowId: `${b}-wf`,
    args: [
      {
        idempotencyKey: b,
        decisionId: b,
        entity: b,
        action: 'scale_out',
        args: {},
        actuator: { type: 'http' },
      },
    ],
  });
  const base = await until(b, t);
  const g = `${settings.groupPrefix}-guarded-${i}`;
  t = performance.now();
  await starter.start(decisionFor(g));
  const guard = await until(g, t);
  if (i >= 0) {
    baseline.push(base);
    guarded.push(guard);
  }
}

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)] ?? NaN;
const row = (name: string, xs: number[]) =>
  `${name.padEnd(44)} median ${pct(xs, 0.5).toFixed(1).padStart(7)} ms   p90 ${pct(xs, 0.9).toFixed(1).padStart(7)} ms`;
console.log(`workflow start -> request at the target, ${runs} runs each, alternating`);
console.log(row('baseline: actuation activity only', baseline));
console.log(row('guarded: age, entity guard, budget, age, act', guarded));
console.log(
  `added by the guards: median ${(pct(guarded, 0.5) - pct(baseline, 0.5)).toFixed(1)} ms; ratio guarded/baseline ${(pct(guarded, 0.5) / pct(baseline, 0.5)).toFixed(2)}x`,
);

baselineWorker.shutdown();
await baselineRunning;
await baselineConnection.close();
await sleep(3000); // let the guarded runs finish verification before their worker stops
await act.stop();
await verify.stop();
for await (const run of client.workflow.list({
  query: `TaskQueue = "${config.actTaskQueue}" AND ExecutionStatus = "Running"`,
})) {
  await client.workflow
    .getHandle(run.workflowId)
    .terminate('bench finished')
    .catch(() => undefined);
}
await client.connection.close();
await deleteTopicsWithPrefix(createKafka(config, logger), config.topicPrefix);
await target.close();
process.exit(0);
