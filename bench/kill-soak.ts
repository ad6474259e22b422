/**
 * Crash safety under a steady rain of kill -9: the four steps each run as their own process, a
 * random one is killed every few seconds and started again, while a simulated fleet has incidents
 * injected one after the other. The fleet's action log and the verdicts topic are the judges.
 *
 *   npx tsx bench/kill-soak.ts [--incidents 30] [--every 7s] [--inject-every 3s] [--kill-for 5m]
 *                              [--timeout 10m] [--seed <n>] [--logs <folder>] [--keep-topics] [--help]
 *
 * Brings the local infra up; topics, groups and task queues of its own (deleted at the end). The
 * fleet has 5 services of ⌈incidents/5⌉ pods; each incident gets an entity of its own (the starter
 * rules' cooldowns never hold one back), each class on a service the starter pack acts on alone.
 * The action budget is opened wide. Prints incidents, kills per step, lost, acted twice, verdicts
 * published and missing, decisions published stale, and the machine's load during the run (the
 * 1-minute load average every 5 s: min, median, max); exits 1 on any loss, double action or
 * missing verdict.
 */
// First: kafkajs must load with our read_committed filter (see the module).
import '../services/common/kafkajs-aborted-filter.js';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { seededRandom } from '../services/classifier/seeded-random.js';
import { parseDuration } from '../services/common/duration.js';
import { createLogger } from '../services/common/logger.js';
import { formatScorecard } from '../services/fleet/scorecard.js';
import { formatKillFigures, runKillRun } from '../test/support/kill-run.js';
import {
  deleteRunTopics,
  incidentsOnPods,
  loadNow,
  loopRun,
  sampleLoad,
  upInfra,
  type ClassOfService,
} from './loop-harness.js';

/** Per service of the fleet (in the simulator's order), the class injected on its pods. */
const CLASS_OF_SERVICE: ClassOfService = [
  ['checkout', 'dependency_outage'],
  // search is tier 2: the rollback needs no approval.
  ['search', 'bad_deploy'],
  ['payments', 'memory_leak'],
  ['inventory', 'cpu_saturation'],
  ['batch', 'disk_pressure'],
];

const { values } = parseArgs({
  options: {
    incidents: { type: 'string', default: '30' },
    every: { type: 'string', default: '7s' },
    'inject-every': { type: 'string', default: '3s' },
    'kill-for': { type: 'string', default: '5m' },
    timeout: { type: 'string', default: '10m' },
    seed: { type: 'string' },
    logs: { type: 'string' },
    'keep-topics': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    [
      'npx tsx bench/kill-soak.ts [options]: kill -9 a random step of the loop on a timer while incidents are injected',
      '  --incidents <n>      incidents, one entity each (30)',
      '  --every <duration>   a random step killed this often (7s)',
      '  --inject-every <d>   one incident injected this often (3s)',
      '  --kill-for <d>       how long the kills go on (5m)',
      '  --timeout <d>        longest the run may take to settle (10m)',
      '  --seed <n>           the random kills and steps (random; printed)',
      "  --logs <folder>      each step's stderr in <folder>/<step>.log",
      "  --keep-topics        keep the run's topics (to read a loss back: bench/soak-deploys.ts <id>); deleted by default",
      '',
    ].join('\n'),
  );
  process.exit(0);
}
const problems: string[] = [];
const ms = (name: keyof typeof values): number => {
  const v = parseDuration(String(values[name]));
  if (v === undefined) problems.push(`--${name} ${values[name]}: give a duration such as 7s or 5m`);
  return v ?? 0;
};
const incidents = Number(values.incidents);
if (!Number.isInteger(incidents) || incidents < 1 || incidents > 250)
  problems.push(`--incidents ${values.incidents}: give a whole number from 1 to 250`);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isInteger(seed) || seed < 0) problems.push(`--seed ${values.seed}: give a whole number ≥ 0`);
const every = ms('every');
const injectEvery = ms('inject-every');
const killFor = ms('kill-for');
const timeout = ms('timeout');
if (every < 1000) problems.push('--every: at least 1s (a step needs time to start between kills)');
if (problems.length > 0) {
  process.stderr.write(`kill-soak: ${problems.join('\n  ')}\n`);
  process.exit(2);
}

const { injections, fleet } = incidentsOnPods(incidents, CLASS_OF_SERVICE);

// Ctrl-C: exit, so the step processes are killed with this one (their topics stay: the id is printed).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const { id, overrides } = loopRun('soak', await upInfra());
const logger = createLogger('warn');
const say = (line: string) => process.stdout.write(`${line}\n`);
const started = Date.now();
say(
  `kill soak ${id}: ${incidents} incidents (one every ${values['inject-every']}) on 5 services × ${fleet.pods} pods, ` +
    `a random step killed every ${values.every} for up to ${values['kill-for']}, seed ${seed}`,
);
say(`machine: ${os.cpus().length} CPUs, load average ${loadNow()} (1, 5, 15 min)`);
// The load the run met, not only at its ends: a figure of a busy machine is not one of a quiet one.
const loads = sampleLoad();

const result = await runKillRun({
  overrides,
  logger,
  plan: { kind: 'timer', everyMs: every, forMs: killFor },
  injections,
  injectEveryMs: injectEvery,
  fleet,
  timeoutMs: timeout,
  random: seededRandom(seed),
  ...(values.logs ? { logDir: values.logs } : {}),
  progress: (line) => say(`  ${new Date().toISOString().slice(11, 19)} ${line}`),
});
if (values['keep-topics'])
  say(
    `topics kept: ${result.suite.config.topicPrefix}.* (each deploy's windows: npx tsx bench/soak-deploys.ts ${id})`,
  );
else await deleteRunTopics(overrides, logger);

const f = result.figures;
say('');
for (const line of formatScorecard(result.suite.scorecard, 'scorecard')) say(line);
say('');
for (const line of formatKillFigures(f)) say(line);
// Stale decisions (a window older than AUTOGLM_MAX_DECISION_AGE when decided) act on nothing: many
// of them mean the failovers delayed the windows past the limit.
const decisions = result.suite.decisions;
say(`decisions:            ${decisions.length}, published stale ${decisions.filter((d) => d.stale).length}`);
const during = loads.stop();
say(`took ${((Date.now() - started) / 1000).toFixed(0)}s; load average at the end ${loadNow()}`);
say(`load average (1 min) during the run: ${during}`);
const ok =
  f.lost.length === 0 &&
  f.actedTwice.length === 0 &&
  f.verdictsMissing.length === 0 &&
  f.incidents === incidents;
say(ok ? 'PASS' : 'FAIL: an incident lost, acted on twice, or a verdict missing');
process.exit(ok ? 0 : 1);
