/**
 * The classifier and the starter rules on an incident mix through the real loop (sense, decide,
 * act, verify with Kafka and Temporal, in this process), on a fleet whose metric set and event
 * wording the model was not trained on: `--per-class` incidents of each class (5: 25 in all) on
 * entities of their own, `--noisy` healthy-but-noisy entities, the rest of the fleet quiet.
 *
 * Per incident: the class its decision named (right, wrong, or none: no decision, or the model
 * abstained) and what the fleet's ground truth says of the action; also what the classifier named
 * at the incident's last observation before it was fixed (the TypeScript reference of the served
 * model, abstaining as served), decided or not. Healthy entities acted on are counted.
 *
 *   npx tsx bench/classifier-live-mix.ts [--per-class 5] [--noisy 5] [--metric-set stranger|unseen|renamed|full] [--out run.json]
 *
 * Metric sets (services/fleet/metric-set.ts, event-wording.ts): `stranger` (default): no
 * upstream_errors, restarts reported as container_restarts, events worded as another fleet's
 * software words them; `unseen`: no upstream_errors, latency in seconds; `renamed`: errors
 * reported as http_5xx_rate (no ingest mapping brings it back: the model and the rules lose it);
 * `full`: the fleet as the starter rules expect it.
 */
// First: kafkajs must load with our read_committed filter (see the module).
import '../services/common/kafkajs-aborted-filter.js';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runOverrides, runScenarioSuite } from '../cli/scenario-suite.js';
import { repoRoot } from '../infra/paths.js';
import { loadConfig, topicNames } from '../services/common/config.js';
import type { Decision, Observation } from '../services/common/contracts.js';
import { createKafka } from '../services/common/kafka.js';
import { createLogger } from '../services/common/logger.js';
import { deleteTopicsWithPrefix, TopicTap } from '../services/common/topic-tap.js';
import { uniqueName } from '../services/common/unique-name.js';
import { readModelJson } from '../services/classifier/model-files.js';
import { predict } from '../services/classifier/predict.js';
import type { FleetScenarioClass } from '../services/fleet/fleet-types.js';
import { formatScorecard } from '../services/fleet/scorecard.js';

/** Per service of the fleet (the simulator's order), the class injected on its pods (see SUITE_ENTITIES). */
const CLASS_OF_SERVICE: ReadonlyArray<readonly [string, FleetScenarioClass]> = [
  ['checkout', 'dependency_outage'],
  // search is tier 2: a rollback needs no approval there.
  ['search', 'bad_deploy'],
  ['payments', 'memory_leak'],
  ['inventory', 'cpu_saturation'],
  ['batch', 'disk_pressure'],
];

/** The fleet settings of each metric set (AUTOGLM_FLEET_* keys of loadFleetConfig). */
const METRIC_SETS: Readonly<Record<string, Record<string, string>>> = {
  full: {},
  stranger: {
    dropMetrics: 'upstream_errors',
    renameMetrics: 'restarts=container_restarts',
    eventWording: 'other',
  },
  unseen: { dropMetrics: 'upstream_errors', metricScale: 'latency=0.001' },
  renamed: { renameMetrics: 'errors=http_5xx_rate' },
};

const { values } = parseArgs({
  options: {
    'per-class': { type: 'string', default: '5' },
    noisy: { type: 'string', default: '5' },
    'metric-set': { type: 'string', default: 'stranger' },
    timeout: { type: 'string', default: '420' },
    /** A JSON file for the run's decisions, verdicts and incidents (to see why one was missed). */
    out: { type: 'string' },
  },
});
const perClass = Number(values['per-class']);
const noisy = Number(values.noisy);
const setName = values['metric-set']!;
const fleetSettings = METRIC_SETS[setName];
if (!fleetSettings) throw new Error(`--metric-set: one of ${Object.keys(METRIC_SETS).join(', ')}`);
if (!(perClass >= 1) || !(noisy >= 0) || noisy > CLASS_OF_SERVICE.length)
  throw new Error(`--per-class ≥ 1, --noisy from 0 to ${CLASS_OF_SERVICE.length}`);

const injections = [
  ...CLASS_OF_SERVICE.flatMap(([service, cls]) =>
    Array.from({ length: perClass }, (_, i) => ({ class: cls, entity: `${service}/pod-${i + 1}` })),
  ),
  ...CLASS_OF_SERVICE.slice(0, noisy).map(([service]) => ({
    class: 'noisy_healthy' as const,
    entity: `${service}/pod-${perClass + 1}`,
  })),
];

const logger = createLogger('warn');
const id = uniqueName('live-mix');
const overrides = {
  ...runOverrides(id),
  // The action budget's default (20 per 10 minutes) would defer the last 5 of 25 remediations past
  // the decision age (stale): the guard working, not what this bench measures.
  maxActionsPerPeriod: '60',
};
const model = readModelJson(path.join(repoRoot, 'models', 'incident'));
let observations: TopicTap | undefined;
const started = Date.now();
console.log(
  `${injections.length - noisy} incidents (${perClass} per class) and ${noisy} noisy healthy on a fleet of ` +
    `${CLASS_OF_SERVICE.length}×${perClass + 2}; metric set "${setName}" ${JSON.stringify(fleetSettings)}; model ${model.version}`,
);
const result = await runScenarioSuite({
  overrides,
  logger,
  injections,
  fleet: { services: CLASS_OF_SERVICE.length, pods: perClass + 2 },
  fleetSettings,
  awaitVerdicts: true,
  timeoutMs: Number(values.timeout) * 1000,
  progress: (line) => console.log(`  ${line}`),
  during: async (run) => {
    observations = await new TopicTap(
      createKafka(run.config, logger),
      topicNames(run.config).observations,
      logger,
    ).start();
    await new Promise((resolve) => run.signal.addEventListener('abort', resolve, { once: true }));
  },
});
const seen = observations?.values<Observation>() ?? [];
await observations?.stop();

type Named = 'right' | 'wrong' | 'none';
const rows: Array<{
  cls: string;
  entity: string;
  decided: Named;
  named: string;
  model: Named;
  modelNamed: string;
  action: string;
}> = [];
const decisionsOf = (entity: string) => result.decisions.filter((d: Decision) => d.entity === entity);
for (const incident of result.incidents) {
  if (incident.class === 'noisy_healthy') continue;
  const first = decisionsOf(incident.entity)[0];
  const named = first === undefined ? '(no decision)' : (first.incident?.class ?? '(no class)');
  const decided: Named =
    named === incident.class
      ? 'right'
      : first && named !== 'unknown' && !named.startsWith('(')
        ? 'wrong'
        : 'none';
  const until = incident.resolvedBy?.at ?? Number.POSITIVE_INFINITY;
  const last = seen
    .filter(
      (o) => o.entity === incident.entity && o.window.end >= incident.startedAt && o.window.end <= until,
    )
    .at(-1);
  const fact = last ? predict(model, last) : undefined;
  const modelNamed = fact?.class ?? '(no observation)';
  const modelScore: Named =
    modelNamed === incident.class ? 'right' : fact && modelNamed !== 'unknown' ? 'wrong' : 'none';
  const actions = incident.actions.map((a) => `${a.action}:${a.verdict}`).join(',') || '-';
  rows.push({
    cls: incident.class,
    entity: incident.entity,
    decided,
    named,
    model: modelScore,
    modelNamed,
    action: actions,
  });
}
console.log(
  '\nper incident: class, entity, the decision named (score), the model at its last observation (score), actions',
);
for (const r of rows)
  console.log(
    `  ${r.cls.padEnd(18)} ${r.entity.padEnd(16)} ${`${r.named} (${r.decided})`.padEnd(32)} ${`${r.modelNamed} (${r.model})`.padEnd(32)} ${r.action}`,
  );
const count = (k: 'decided' | 'model', v: Named) => rows.filter((r) => r[k] === v).length;
const incidentEntities = new Set(rows.map((r) => r.entity));
const healthyDecided = new Set(
  result.decisions.filter((d) => !incidentEntities.has(d.entity)).map((d) => d.entity),
);
console.log('');
for (const line of formatScorecard(result.scorecard, `metric set ${setName}`)) console.log(line);
const t = result.scorecard.total;
console.log(
  `\nsummary (${setName}): ${rows.length} incidents; decisions named right ${count('decided', 'right')}, wrong ${count('decided', 'wrong')}, none ${count('decided', 'none')}; ` +
    `the model at the last observation: right ${count('model', 'right')}, wrong ${count('model', 'wrong')}, unknown/none ${count('model', 'none')}; ` +
    `actions: right ${t.right}, wrong ${t.wrong}, on healthy entities ${t.falsePositives}, missed ${t.missed}; healthy entities decided: ${healthyDecided.size} ` +
    `(${((Date.now() - started) / 1000).toFixed(0)}s)`,
);
for (const d of result.decisions.filter((d) => !incidentEntities.has(d.entity)))
  console.log(`  decided on an entity with no incident: ${d.entity} by ${d.rule} (${d.mode}, ${d.action})`);
if (values.out) {
  const { decisions, verdicts, incidents, actions } = result;
  fs.writeFileSync(values.out, JSON.stringify({ decisions, verdicts, incidents, actions, rows }, null, 1));
  console.log(`wrote the run's decisions, verdicts and incidents to ${values.out}`);
}
await deleteTopicsWithPrefix(createKafka(loadConfig(process.env, overrides), logger), `${id}.`).catch(
  () => undefined,
);
